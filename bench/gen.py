#!/usr/bin/env python3
"""Bench data: N contact bodies for POST /api/v1/contacts, and search terms.

    bench/gen.py OUTDIR [N]

Writes OUTDIR/contacts.jsonl (one JSON body a line, unique phones) and
OUTDIR/terms.tsv (TERM<TAB>ROWS: name fragments of 4-6 characters that match
some tens of the N contacts, by the API's rule: a case-insensitive substring
of name, phone or email). Deterministic: the same N gives the same files.

Names are drawn from the lists below with Zipf-like weights, as real names
are: a few very common, a long tail of rare ones. The rare ones give search
terms with tens of matches, the common ones give the many-match rows a real
list has.
"""
import json
import random
import sys
from collections import Counter

FIRST = """
James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy
Matthew Lisa Anthony Betty Mark Margaret Donald Sandra Steven Ashley Paul
Kimberly Andrew Emily Joshua Donna Kenneth Michelle Kevin Dorothy Brian Carol
George Amanda Edward Melissa Ronald Deborah Timothy Stephanie Jason Rebecca
Jeffrey Sharon Ryan Laura Jacob Cynthia Gary Kathleen Nicholas Amy Eric
Shirley Jonathan Angela Stephen Helen Larry Anna Justin Brenda Scott Pamela
Brandon Nicole Benjamin Emma Samuel Samantha Gregory Katherine Frank Christine
Alexander Debra Raymond Rachel Patrick Catherine Jack Carolyn Dennis Janet
Jerry Ruth Tyler Maria Aaron Heather Jose Diane Adam Virginia Henry Julie
Nathan Joyce Douglas Victoria Zachary Olivia Peter Kelly Kyle Christina Walter
Lauren Ethan Joan Jeremy Evelyn Harold Judith Keith Megan Christian Cheryl
Roger Andrea Noah Hannah Gerald Martha Carl Jacqueline Terry Frances Sean
Gloria Austin Ann Arthur Teresa Lawrence Kathryn Jesse Sara Dylan Janice
Bryan Jean Joe Alice Jordan Madison Billy Doris Bruce Abigail Albert Julia
Willie Judy Gabriel Grace Logan Denise Alan Amber Juan Marilyn Wayne Beverly
Roy Danielle Ralph Theresa Randy Sophia Eugene Marie Vincent Diana Russell
Brittany Elijah Natalie Louis Isabella Bobby Charlotte Philip Rose Johnny
Alexis Priya Arjun Mei Hiroshi Yuki Chen Wei Fatima Omar Amara Kwame Ingrid
Lars Sven Astrid Matteo Giulia Lucia Mateo Camila Valentina Santiago Ximena
Anouk Bram Zofia Kasia Piotr Olga Dmitri Aiko Kenji Leilani Thandiwe Sipho
Aurelio Beatriz Caetano Dagny Eamon Fionnuala Gudrun Halvard Ismene Jarrah
Katarzyna Lorcan Mirela Niamh Oisin Perpetua Quillon Rosalind Solveig Tarquin
""".split()

LAST = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin
Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker
Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson
Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner
Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook
Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos
Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza
Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster
Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson
Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander
Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera
Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens
Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon
Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner
Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt
Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant
Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart
Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley
Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena
Richards Contreras Willis Carpenter Lawrence Sandoval Guerrero George Chapman
Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson
Santiago Maldonado Morrison Franklin Carlson Austin Dominguez Carr Lawson
Jacobs Obrien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey
Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy
Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park Yang
Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta
Brewer May Holland Juarez Newman Pearson Curtis Cortez Douglas Schneider
Joseph Barrett Navarro Figueroa Keller Avila Wade Molina Stanley Hopkins
Campos Barnett Bates Chambers Caldwell Beck Lambert Miranda Byrd Craig Ayala
Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes
Shelton Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran
Parks Steele Vaughn Becker Holt Deleon Barker Terry Hale Leon Hail Benson
Haynes Horton Miles Lyons Pham Graves Bush Thornton Wolfe Warner Cabrera
McKinney Mann Zimmerman Dawson Lara Fletcher Page McCarthy Love Robles Cervantes
Solis Erickson Reeves Chang Klein Salinas Fuentes Baldwin Daniel Simon Velasquez
Hardy Higgins Aguirre Lin Cummings Chandler Sharp Barber Bowen Ochoa Dennis
Robbins Liu Ramsey Francis Griffith Paul Blair Oconnor Cardenas Pacheco Cross
Calderon Quinn Moss Swanson Chan Rivas Khan Rodgers Serrano Fitzgerald Rosales
Stevenson Christensen Manning Gill Curry McLaughlin Harmon McGee Gross Doyle
Garner Newton Burgess Reese Walton Blake Trujillo Adkins Brady Goodman Roman
Webster Goodwin Fischer Huang Potter Delacruz Montoya Todd Wu Hines Mullins
Castaneda Malone Cannon Tate Mack Sherman Hubbard Hodges Zhang Guerra Wolf
Valencia Saunders Franco Rowe Gallagher Farmer Hammond Hampton Townsend Ingram
Wise Gallegos Clarke Barton Schroeder Maxwell Waters Logan Camacho Strickland
Norman Person Colon Parsons Frank Harrington Glover Osborne Buchanan Casey
Floyd Patton Ibarra Ball Tyler Suarez Bowers Orozco Salas Cobb Gibbs Andrade
Bauer Conner Moody Escobar McGuire Lloyd Mueller Hartman French Kramer McBride
Pope Lindsey Velazquez Norton McCormick Sparks Flynn Yates Hogan Marsh Macias
Villanueva Zamora Pratt Stokes Owen Ballard Lang Brock Villarreal Charles Drake
Barrera Cain Patrick Pineda Burnett Mercado Santana Shepherd Bautista Ali
Shaffer Lamb Trevino McKenzie Hess Beil Olsen Cochran Morton Nash Wilkins
Petersen Briggs Shah Roth Nicholson Holloway Lozano Rangel Flowers Hoover
Short Arias Mora Valenzuela Bryan Meyers Weiss Underwood Bass Greer Summers
Houston Carson Morrow Clayton Whitaker Decker Yoder Collier Zuniga Carey Wilcox
Melendez Poole Roberson Larsen Conley Davenport Copeland Massey Lam Huff Rocha
Cameron Jefferson Hood Monroe Anthony Pittman Huynh Randall Singleton Kirk
Combs Mathis Christian Skinner Bradford Richard Galvan Wall Boone Kirby Wilkinson
Bridges Bruce Atkinson Velez Meza Roy Vincent York Hodge Villa Abbott Allison
Tapia Gates Chase Sosa Sweeney Farrell Wyatt Dalton Horn Barron Phelps Yu
Dickerson Heath Foley Atkins Mathews Bonilla Acevedo Benitez Zavala Hensley
Glenn Cisneros Harrell Shields Rubio Huber Choi Kowalczyk Nowakowski Wisniewska
Lindqvist Sandberg Bergstrom Haugland Kristiansen Okonkwo Adeyemi Mensah
Oyelaran Nakamura Takahashi Watanabe Yamamoto Kobayashi Tanaka Sato Suzuki
Ivanova Petrov Sokolov Kuznetsov Popescu Dumitrescu Novak Horvat Kovacs
Szabo Nagy Papadopoulos Georgiou Yilmaz Demir Kaya Sahin Castellanos Quispe
Mamani Achterberg Vandermeer Dijkstra Janssens Peeters Lefebvre Moreau Fournier
Girard Bonnet Dupont Lambertini Ferrari Esposito Bianchi Romano Colombo Ricci
Marino Greco Bruno Gallo Conti Mancini Costa Giordano Rizzo Lombardi Moretti
Abernathy Blackwood Carrington Delacroix Everhart Fairweather Galbraith
Hollingsworth Ingleby Jessop Kettering Llewellyn Mortimer Northcott Oakenfold
Pemberton Quigley Rutherford Stanhope Thistlewood Umberton Vanstone Whitmore
Yardley Zelinski Arbuthnot Birchall Cresswell Drummond Etheridge Fenwick
""".split()

PHONE_BASE = 447900000000  # +44 7900 000000: UK mobile shape, 12 digits
TAGS = ["customer", "lead", "vip", "newsletter", "trial", "wholesale", "churned"]
CITIES = ["London", "Leeds", "Lagos", "Lisbon", "Lima", "Lyon", "Lusaka",
          "Madrid", "Mumbai", "Manila", "Milan", "Montreal", "Nairobi", "Oslo"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]


def zipf_weights(n):
    return [1.0 / (r + 1) for r in range(n)]


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    rnd = random.Random(20260315)
    firsts = rnd.choices(FIRST, zipf_weights(len(FIRST)), k=n)
    lasts = rnd.choices(LAST, zipf_weights(len(LAST)), k=n)
    fields = []  # lowercased name, email: what a letters-only term can hit
    with open(f"{out}/contacts.jsonl", "w") as f:
        for i in range(n):
            first, last = firsts[i], lasts[i]
            name = f"{first} {last}"
            email = f"{first}.{last}{i % 97}@{rnd.choice(DOMAINS)}".lower()
            body = {"phone": f"+{PHONE_BASE + i}", "name": name, "email": email}
            k = rnd.choice((0, 0, 1, 1, 2))
            if k:
                body["tags"] = rnd.sample(TAGS, k)
            if i % 3 == 0:
                body["custom_fields"] = {"city": rnd.choice(CITIES),
                                         "orders": rnd.randint(0, 40)}
            f.write(json.dumps(body, separators=(",", ":")) + "\n")
            fields.append((name.lower(), email))

    # Candidate terms: what a user types, the start of a name of 4-6
    # letters. Count the rows each matches exactly, keep those with tens.
    cands = {w.lower()[:k] for w in FIRST + LAST for k in (4, 5, 6) if len(w) > k}
    counts = Counter()
    for name, email in fields:
        hay = name + "\n" + email
        subs = {hay[a:a + k] for k in (4, 5, 6) for a in range(len(hay) - k + 1)}
        counts.update(subs & cands)
    terms = sorted(t for t in cands if 20 <= counts[t] <= 90)
    if len(terms) < 10:
        sys.exit("gen.py: too few search terms; adjust the name lists")
    with open(f"{out}/terms.tsv", "w") as f:
        for t in terms:
            f.write(f"{t}\t{counts[t]}\n")
    print(f"{n} contacts, {len(terms)} search terms "
          f"({min(counts[t] for t in terms)}-{max(counts[t] for t in terms)} rows each)")


if __name__ == "__main__":
    main()
