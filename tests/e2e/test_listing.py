"""GET /contacts: pagination, ordering, search and tag filter (SPEC 2, 3).

Results are compared exactly with an expectation computed in Python over a
few dozen contacts."""
import unicodedata
import urllib.parse

import pytest

from conftest import assert_error, assert_ok, run_parallel

LIST_KEYS = {"success", "data", "meta"}

# (name, phone, email, tags).  Names exercise ASCII case, LIKE wildcards
# taken literally, non-ASCII letters (2-, 3- and 4-byte UTF-8).
PEOPLE = [
    ("Alice Anderson", "+4915100000001", "alice@example.com", ["vip", "de"]),
    ("ALICE BROWN", "+4915100000002", "a.brown@example.org", ["de"]),
    ("bob alison", "+14155550103", "bob@Example.net", ["us", "vip"]),
    ("Carol", "+14155550104", None, ["us"]),
    ("100% Juice", "+14155550105", "juice@shop.example", ["shop"]),
    ("100 Juice", "+14155550106", "juice2@shop.example", ["shop"]),
    ("under_score", "+14155550107", "us@under.example", ["x_y"]),
    ("underXscore", "+14155550108", "ux@under.example", ["xzy"]),
    ("Percent%Man", "+14155550109", None, []),
    ("back\\slash", "+14155550110", None, []),
    ("Zoë Müller", "+4930123456", "zoe@mueller.example", ["de", "ümlaut"]),
    ("Łukasz Żółć", "+48221234567", "lukasz@example.pl", ["pl"]),
    ("北京客户 王", "+861012345678", None, ["cn", "客户"]),
    ("Party 🎉 Planner", "+4420794609", "party@example.co.uk", ["🎉"]),
    ("Ωmega Σigma", "+302101234567", None, ["gr"]),
    (None, "+4915100000016", "noname@example.com", ["vip"]),
    (None, "+4915100000017", None, []),
    ("Dave", "+4915100000018", "DAVE@EXAMPLE.COM", ["VIP"]),
    ("Eve", "+4915100000019", "eve@example.com", ["Vip"]),
    ("Frank O'Neil", "+353861234567", "frank@example.ie", ["ie", "vip"]),
    ("Grace 'Hopper'", "+15550001111", None, ["us"]),
    ("Heidi", "+4915100000022", "heidi@alpen.example", ["de"]),
    ("Ivan", "+79161234567", "ivan@example.ru", []),
    ("Judy", "+4915100000024", None, ["vip", "de", "us"]),
    ("Ken Alistair", "+4915100000025", "ken@example.com", []),
    ("Mallory", "+4915100000026", "mal@evil.example", ["blocked"]),
    ("Niaj", "+4915100000027", None, []),
    ("Olivia", "+4915100000028", "olivia@example.com", ["de"]),
    ("Peggy", "+4915100000029", None, ["us"]),
    ("Rupert 30%", "+4915100000030", None, []),
    ("Sybil", "+4915100000031", "sybil@example.com", ["vip"]),
    ("Trent_", "+4915100000032", None, []),
]


def _strip_accents(s):
    return "".join(ch for ch in unicodedata.normalize("NFD", s)
                   if not unicodedata.combining(ch))


def _expected(contacts, term=None, tag=None, fold=False):
    def norm(s):
        s = s.lower()
        return _strip_accents(s) if fold else s
    out = []
    for c in contacts:                       # contacts are newest first
        if term is not None:
            t = norm(term)
            if not any(f is not None and t in norm(f)
                       for f in (c["name"], c["phone"], c["email"])):
                continue
        if tag is not None and tag not in c["tags"]:
            continue
        out.append(c)
    return out


def expected(contacts, term=None, tag=None):
    plain = _expected(contacts, term, tag)
    # The data is chosen so that case folding alone decides; an accent-
    # insensitive collation must give the same answer.
    assert plain == _expected(contacts, term, tag, fold=True), \
        "ambiguous test term %r" % term
    return plain


def qs(**params):
    return "?" + urllib.parse.urlencode(
        {k: v for k, v in params.items() if v is not None},
        quote_via=urllib.parse.quote)


def get_list(key, **params):
    r = key("GET", "/contacts" + qs(**params))
    data = assert_ok(r)
    assert set(r.body.keys()) == LIST_KEYS, r
    meta = r.body["meta"]
    assert set(meta.keys()) == {"current_page", "per_page", "total",
                                "last_page"}, r
    return data, meta


def check_query(key, contacts, term=None, tag=None):
    """Compares the full result and two small pages (which need a count)."""
    want = expected(contacts, term, tag)
    data, meta = get_list(key, search=term, tag=tag, per_page=100)
    assert [c["id"] for c in data] == [c["id"] for c in want], \
        (term, tag, [c["name"] for c in data], [c["name"] for c in want])
    assert data == want
    assert meta == {"current_page": 1, "per_page": 100, "total": len(want),
                    "last_page": 1}
    per = 3
    last = max(1, -(-len(want) // per))
    for page in (1, 2, last + 1):
        data, meta = get_list(key, search=term, tag=tag, per_page=per,
                              page=page)
        assert data == want[(page - 1) * per:page * per], (term, tag, page)
        assert meta == {"current_page": page, "per_page": per,
                        "total": len(want), "last_page": last}, \
            (term, tag, page)


@pytest.fixture(scope="module")
def people(stack):
    """A tenant with the PEOPLE contacts; returns (key, contacts newest
    first)."""
    key = stack.create_tenant("enterprise").key()
    made = []
    for name, phone, email, tags in PEOPLE:
        body = {"phone": phone, "tags": tags}
        if name is not None:
            body["name"] = name
        if email is not None:
            body["email"] = email
        made.append(key.create_contact(**body))
    # A failed create and a deleted contact must not disturb the counts.
    r = key("POST", "/contacts", {"phone": PEOPLE[0][1], "name": "dup"})
    assert r.status == 422
    extra = key.create_contact(phone="+4915199999999", name="Alice Temp",
                               tags=["vip"])
    r = key("DELETE", "/contacts/%d" % extra["id"])
    assert r.status == 200
    return key, list(reversed(made))


# -- pagination -------------------------------------------------------------

def test_empty_tenant(key):
    data, meta = get_list(key)
    assert data == []
    assert meta == {"current_page": 1, "per_page": 25, "total": 0,
                    "last_page": 1}
    data, meta = get_list(key, page=3, per_page=10)
    assert data == []
    assert meta == {"current_page": 3, "per_page": 10, "total": 0,
                    "last_page": 1}


def test_pagination_newest_first(people):
    key, contacts = people
    n = len(contacts)
    ids = [c["id"] for c in contacts]
    assert ids == sorted(ids, reverse=True)
    data, meta = get_list(key)
    assert meta == {"current_page": 1, "per_page": 25, "total": n,
                    "last_page": -(-n // 25)}
    assert data == contacts[:25]
    data, meta = get_list(key, page=2)
    assert data == contacts[25:50]
    assert meta["current_page"] == 2 and meta["total"] == n
    seen = []
    for page in range(1, -(-n // 7) + 1):
        data, meta = get_list(key, page=page, per_page=7)
        assert meta == {"current_page": page, "per_page": 7, "total": n,
                        "last_page": -(-n // 7)}
        seen += data
    assert seen == contacts
    data, meta = get_list(key, page=99, per_page=7)
    assert data == [] and meta["total"] == n
    data, meta = get_list(key, per_page=1)
    assert data == contacts[:1] and meta["last_page"] == n
    data, meta = get_list(key, per_page=100)
    assert data == contacts and meta["last_page"] == 1


@pytest.mark.parametrize("params,field", [
    ({"per_page": "0"}, "per_page"),
    ({"per_page": "101"}, "per_page"),
    ({"per_page": "abc"}, "per_page"),
    ({"per_page": "-5"}, "per_page"),
    ({"per_page": "2.5"}, "per_page"),
    ({"per_page": ""}, "per_page"),
    ({"page": "0"}, "page"),
    ({"page": "-1"}, "page"),
    ({"page": "x"}, "page"),
    ({"page": "1e3"}, "page"),
])
def test_paging_params_invalid(key, params, field):
    r = key("GET", "/contacts" + qs(**params))
    err = assert_error(r, 422, "VALIDATION_ERROR")
    assert list(err["details"].keys()) == [field]
    assert len(err["details"][field]) == 1


def test_paging_both_invalid(key):
    err = assert_error(key("GET", "/contacts?page=0&per_page=500"), 422,
                       "VALIDATION_ERROR")
    assert set(err["details"].keys()) == {"page", "per_page"}


# -- search -----------------------------------------------------------------

SEARCH_TERMS = [
    # one character
    "a", "A", "9", "%", "_", "'", "北", "🎉", "\\", "@", ".",
    # two characters
    "al", "AL", "% ", "_s", "0%", "+1", "王", "ni",
    # three and more
    "ali", "ALI", "alice", "Anderson", "alis", "100%", "100% j", "r_s",
    "r_", "_sc", "rXs", "%Man", "30%", "t_", "+4915100", "1555", "555000",
    "@example.com", "EXAMPLE.COM", "example", "müller", "MÜLLER", "zoë",
    "ŻÓŁĆ", "łukasz", "北京客", "北京客户 王", "客户", "🎉 P", "y 🎉",
    "Ωmega", "ωMEGA", "σig", "o'n", "'hopper'", "k\\s", "back\\",
    "alpen.ex", "nomatchatall", "zzz", "%%%", "___", "a%", "e_",
]


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_search(people, term):
    key, contacts = people
    check_query(key, contacts, term=term)


def test_search_has_matches(people):
    """Guards the test data: most terms must match something."""
    key, contacts = people
    empty = [t for t in SEARCH_TERMS if not expected(contacts, t)]
    assert set(empty) == {"nomatchatall", "zzz", "%%%", "___", "a%", "e_"}, empty


@pytest.mark.parametrize("tag", ["vip", "de", "us", "VIP", "Vip", "x_y",
                                 "x%", "ümlaut", "客户", "🎉", "none",
                                 "blocked"])
def test_tag_filter(people, tag):
    key, contacts = people
    check_query(key, contacts, tag=tag)


@pytest.mark.parametrize("term,tag", [
    ("a", "vip"), ("ali", "vip"), ("alice", "de"), ("example", "vip"),
    ("+49", "de"), ("%", "shop"), ("_", "x_y"), ("müller", "de"),
    ("zzz", "vip"), ("al", "us"), ("客户", "cn"),
])
def test_search_and_tag(people, term, tag):
    key, contacts = people
    check_query(key, contacts, term=term, tag=tag)


def test_tag_filter_exact_about_spaces(key):
    """Tags compare exactly: a trailing space makes another tag."""
    plain = key.create_contact(phone="+4915111111111", tags=["vip"])
    spaced = key.create_contact(phone="+4915122222222", tags=["vip "])
    both = key.create_contact(phone="+4915133333333", tags=["vip", "vip "])
    assert both["tags"] == ["vip", "vip "]
    data, meta = get_list(key, tag="vip")
    assert [c["id"] for c in data] == [both["id"], plain["id"]]
    assert meta["total"] == 2
    data, meta = get_list(key, tag="vip ")
    assert [c["id"] for c in data] == [both["id"], spaced["id"]]
    assert meta["total"] == 2
    data, meta = get_list(key, tag="vip", per_page=1, page=2)
    assert [c["id"] for c in data] == [plain["id"]] and meta["total"] == 2


def test_search_follows_updates_and_deletes(key):
    a = key.create_contact(phone="+4915111111111", name="Original Name",
                           email="orig@example.com", tags=["old"])
    b = key.create_contact(phone="+4915122222222", name="Other Person")
    data, _ = get_list(key, search="original")
    assert [c["id"] for c in data] == [a["id"]]
    key("PATCH", "/contacts/%d" % a["id"], {"name": "Renamed Person",
                                            "tags": ["new"]})
    assert get_list(key, search="original")[0] == []
    assert get_list(key, search="Orig")[0][0]["id"] == a["id"]  # email
    data, _ = get_list(key, search="person")
    assert [c["id"] for c in data] == [b["id"], a["id"]]
    assert get_list(key, tag="old")[0] == []
    assert [c["id"] for c in get_list(key, tag="new")[0]] == [a["id"]]
    key("DELETE", "/contacts/%d" % b["id"])
    data, meta = get_list(key, search="person", per_page=1, page=1)
    assert [c["id"] for c in data] == [a["id"]] and meta["total"] == 1
    data, meta = get_list(key, search="pers", per_page=1, page=2)
    assert data == [] and meta["total"] == 1


def test_search_and_tag_too_long(key):
    r = key("GET", "/contacts" + qs(search="x" * 256))
    assert_error(r, 422, "VALIDATION_ERROR",
                 {"search": ["The search field must not be greater than 255 "
                             "characters."]})
    r = key("GET", "/contacts" + qs(tag="t" * 65))
    assert_error(r, 422, "VALIDATION_ERROR",
                 {"tag": ["The tag field must not be greater than 64 "
                          "characters."]})
    # At the limits: fine.
    assert get_list(key, search="x" * 255)[0] == []
    assert get_list(key, tag="t" * 64)[0] == []


def test_empty_search_and_tag_mean_no_filter(key):
    a = key.create_contact(phone="+4915111111111", tags=["t"])
    data, meta = get_list(key, search="", tag="")
    assert [c["id"] for c in data] == [a["id"]] and meta["total"] == 1


def test_total_over_counter_shards(stack, make_tenant):
    """The tenant's contact total is kept in shards, one per database
    connection (each FastCGI worker writes its own): creates and deletes
    spread over the workers (a shard may end below zero), and the sum
    still equals the rows."""
    k = make_tenant().key()

    def create(i):
        return assert_ok(k("POST", "/contacts",
                           {"phone": "+4917300%05d" % i}), 201)["id"]

    ids = run_parallel(create, range(120), workers=8)
    assert len(set(ids)) == 120
    deleted = run_parallel(lambda i: k("DELETE", "/contacts/%d" % i),
                           ids[::2], workers=8)
    assert len(deleted) == 60
    for r in deleted:
        assert assert_ok(r)["deleted"] is True, r
    rows = stack.sql_root(
        "SELECT COUNT(*), (SELECT COUNT(*) FROM tenant_counters WHERE "
        "tenant_id = %d) FROM contacts WHERE tenant_id = %d" %
        (k.tenant.id, k.tenant.id), database="wazera")[0]
    assert rows[0] == "60"
    assert int(rows[1]) > 1, "one shard only: the workers shared it"
    data, meta = get_list(k, per_page=1)
    assert meta["total"] == 60 and meta["last_page"] == 60
