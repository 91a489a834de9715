#!/usr/bin/env python3
"""bench/webhooks.py: the pacer and the arithmetic of bench/webhooks.

  webhooks.py pace URL KEY RATE SECONDS OUT
      creates RATE contacts a second for SECONDS through the API (each a
      contact.created event), one request at a time on one connection,
      and writes {phone: start time in ms} to OUT
  webhooks.py latency SENT STATS
      event-to-delivery latency: each contact's arrival at the receiver
      (STATS, its /_stats) minus its request's start; prints
      "n=N lost=L p50_ms=X p99_ms=Y max_ms=Z"
  webhooks.py rate STATS
      prints "count=N distinct=D span_s=S rate=R max_1s=M"
"""
import http.client
import json
import sys
import time
import urllib.parse


def pace(url, key, rate, seconds, out):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    sent = {}
    n = int(rate) * int(seconds)
    start = time.time()
    for i in range(n):
        due = start + i / float(rate)
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        phone = "+1555%07d" % (int(start) % 1000 * 10000 + i)
        body = json.dumps({"phone": phone, "name": "Bench %d" % i})
        t = time.time() * 1000
        conn.request("POST", "/api/v1/contacts", body=body, headers={
            "Authorization": "Bearer " + key,
            "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            sys.exit("POST /contacts answered %d" % r.status)
        sent[phone] = t
    with open(out, "w") as f:
        json.dump(sent, f)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def latency(sent_file, stats_file):
    sent = json.load(open(sent_file))
    got = json.load(open(stats_file))["phones"]
    lat = [got[p] - t for p, t in sent.items() if p in got]
    lost = len(sent) - len(lat)
    if not lat:
        print("n=0 lost=%d p50_ms=- p99_ms=- max_ms=-" % lost)
        return
    print("n=%d lost=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" % (
        len(lat), lost, pct(lat, 50), pct(lat, 99), max(lat)))


def rate(stats_file):
    s = json.load(open(stats_file))
    span = (s["last_ms"] - s["first_ms"]) / 1000.0
    r = s["count"] / span if span > 0 else 0
    m = max(s["per_second"].values()) if s["per_second"] else 0
    print("count=%d distinct=%d span_s=%.2f rate=%.0f max_1s=%d" % (
        s["count"], s["distinct"], span, r, m))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "pace":
        pace(*sys.argv[2:7])
    elif cmd == "latency":
        latency(*sys.argv[2:4])
    elif cmd == "rate":
        rate(sys.argv[2])
    else:
        sys.exit(__doc__)
