#!/usr/bin/env python3
"""bench/campaign's helpers (Python 3 standard library only).

  campaign.py inbound URL SECRET PHONE_NUMBER_ID PHONES
      each phone of the file PHONES (one a line, E.164) writes in: a signed
      Meta webhook (cloud-api.md section 4, X-Hub-Signature-256 with the
      account's app secret) with one inbound text, POSTed to
      URL/api/v1/whatsapp/webhook; opens each one's 24-hour window.
      Prints "WZ posted=N ok=N".

  campaign.py replies URL KEY ACCOUNT PHONES INTERVAL_S OUT
      a text reply to each phone of PHONES through POST /api/v1/messages/send,
      one every INTERVAL_S seconds (on schedule, one keep-alive connection);
      writes the created message ids to OUT, one a line. Prints
      "WZ posted=N created=N failed=N behind_max_ms=X".

  campaign.py probe URL KEY RATE CAMPAIGN_ID MINID MAXID STOPFILE MAX_S OUT
      the API's latency as a client sees it: two threads, each with its own
      keep-alive connection, one GETs /api/v1/campaigns/CAMPAIGN_ID, the
      other /api/v1/contacts/{random id in MINID..MAXID}, each RATE times a
      second on schedule (a late request goes at once, not in a burst),
      until STOPFILE exists or MAX_S seconds have passed. Each campaign
      answer's stats are checked: total == queued + sent + delivered +
      read + failed. Writes {"campaign": [ms...], "contact": [ms...],
      "non200": N, "stats_broken": N, "stats_seen": N} to OUT.

  campaign.py latency OUT
      p50/p99/max of a probe's OUT: one line per route.

  campaign.py sends SANDBOX PHONE_NUMBER_ID REPLY_IDS ACCEPTED_TSV OUT
      what the sandbox received for the account (GET /_sandbox/arrivals
      with each request's ref, wz:<message id>): requests, distinct
      messages, resent, the sustained rate (requests / (last arrival -
      first)), the most arrivals in any sliding 1000 ms window and when it
      starts, the busiest clock second; per second counts to OUT; and for
      the replies (REPLY_IDS), arrival minus accepted_at (ACCEPTED_TSV:
      "id<TAB>accepted_at ms" from the database): p50, p99, max.
      Prints one "WZ k=v ..." line.
"""
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

from benchstats import densest_second
import urllib.request


def conn_of(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def phones_of(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip()]


def inbound(url, secret, pnid, phones_file):
    conn = conn_of(url)
    ok = 0
    phones = phones_of(phones_file)
    ts = int(time.time())
    for i, phone in enumerate(phones):
        wa_id = phone.lstrip("+")
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881",
                             "phone_number_id": pnid},
                "contacts": [{"profile": {"name": "Customer %s" % wa_id[-6:]},
                              "wa_id": wa_id}],
                "messages": [{"from": wa_id,
                              "id": "wamid.BENCHCAMPAIGN%s%04d" % (wa_id, i),
                              "timestamp": str(ts), "type": "text",
                              "text": {"body": "Is the spring sale on?"}}]}}]}]},
            separators=(",", ":")).encode()
        sig = "sha256=" + hmac.new(secret.encode(), body,
                                   hashlib.sha256).hexdigest()
        conn.request("POST", "/api/v1/whatsapp/webhook", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sig})
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            ok += 1
        else:
            sys.stderr.write("inbound for %s: HTTP %d\n" % (phone, r.status))
    print("WZ posted=%d ok=%d" % (len(phones), ok))
    return 0 if ok == len(phones) else 1


def replies(url, key, account, phones_file, interval, out):
    conn = conn_of(url)
    phones = phones_of(phones_file)
    ids, failed, behind = [], 0, 0.0
    t0 = time.monotonic()
    for i, phone in enumerate(phones):
        at = t0 + i * interval
        now = time.monotonic()
        if now < at:
            time.sleep(at - now)
        else:
            behind = max(behind, now - at)
        body = json.dumps({"to": phone, "whatsapp_account_id": account,
                           "type": "text",
                           "content": {"body": "Yes: 20%% off until Sunday (%d)." % i}})
        status, data = 0, b""
        try:
            conn.request("POST", "/api/v1/messages/send", body, {
                "Authorization": "Bearer " + key,
                "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = conn_of(url)
            data = str(e).encode()
        if status == 201:
            ids.append(json.loads(data)["data"]["id"])
        else:
            failed += 1
            sys.stderr.write("reply to %s: HTTP %d %s\n" % (phone, status, data[:300]))
    with open(out, "w") as f:
        for i in ids:
            f.write("%d\n" % i)
    print("WZ posted=%d created=%d failed=%d behind_max_ms=%.1f" % (
        len(phones), len(ids), failed, behind * 1000))


def probe(url, key, rate, campaign, minid, maxid, stopfile, max_s, out):
    res = {"campaign": [], "contact": [], "non200": 0, "stats_broken": 0,
           "stats_seen": 0, "statuses": {}}
    lock = threading.Lock()
    t_end = time.monotonic() + max_s
    rnd = random.Random(12)

    def worker(route):
        conn = conn_of(url)
        lat = []
        t0 = time.monotonic()
        k = 0
        while time.monotonic() < t_end and not os.path.exists(stopfile):
            at = t0 + k / rate
            k += 1
            now = time.monotonic()
            if now < at:
                time.sleep(at - now)
            elif now - at > 1.0:
                # Far behind (the machine is busy): start the schedule
                # again rather than firing a burst.
                t0, k = now, 1
            if route == "campaign":
                path = "/api/v1/campaigns/%d" % campaign
            else:
                path = "/api/v1/contacts/%d" % rnd.randint(minid, maxid)
            t = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Authorization": "Bearer " + key})
                r = conn.getresponse()
                data = r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = conn_of(url)
                status, data = 0, b""
            ms = (time.perf_counter() - t) * 1000
            with lock:
                if status != 200:
                    res["non200"] += 1
                    continue
                lat.append(ms)
                if route == "campaign":
                    d = json.loads(data)["data"]
                    s = d["stats"]
                    res["stats_seen"] += 1
                    res["statuses"][d["status"]] = res["statuses"].get(d["status"], 0) + 1
                    if s["total"] != s["queued"] + s["sent"] + s["delivered"] + \
                            s["read"] + s["failed"]:
                        res["stats_broken"] += 1
        with lock:
            res[route] = lat

    ts = [threading.Thread(target=worker, args=(r,)) for r in ("campaign", "contact")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with open(out, "w") as f:
        json.dump(res, f)


def percentile(xs, p):
    """Nearest-rank percentile of an ascending list."""
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def latency(out):
    res = json.load(open(out))
    for route in ("campaign", "contact"):
        xs = sorted(res[route])
        print("WZ route=%s n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f non200=%d "
              "stats_broken=%d stats_seen=%d" % (
                  route, len(xs), percentile(xs, 50), percentile(xs, 99),
                  xs[-1] if xs else float("nan"), res["non200"],
                  res["stats_broken"], res["stats_seen"]))


def get_json(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.load(r)


def sends(sandbox, pnid, reply_ids_file, accepted_tsv, out):
    a = get_json("%s/_sandbox/arrivals?phone_number_id=%s&fields=ref,status"
                 % (sandbox, urllib.parse.quote(pnid)))
    st = get_json(sandbox + "/_sandbox/stats")
    per = st.get("phone_numbers", {}).get(pnid, {})
    ts = a["t"]
    o = {"requests": a["count"],
         "ok": sum(1 for s in a["status"] if s == 200),
         "sandbox_max_per_second": per.get("max_per_second", 0)}
    first_of = {}
    for t, ref in zip(ts, a["ref"]):
        if isinstance(ref, str) and ref.startswith("wz:"):
            mid = int(ref[3:])
            if mid not in first_of or t < first_of[mid]:
                first_of[mid] = t
    refs = [r for r in a["ref"] if isinstance(r, str) and r.startswith("wz:")]
    o["distinct"] = len(set(refs))
    o["resent"] = len(refs) - len(set(refs))
    if ts:
        ts = sorted(ts)
        span = (ts[-1] - ts[0]) / 1000.0
        o["first_ms"] = "%.1f" % ts[0]
        o["last_ms"] = "%.1f" % ts[-1]
        o["span_s"] = "%.3f" % span
        o["sustained"] = "%.0f" % (len(ts) / span if span > 0 else 0)
        best, at = densest_second(ts)
        o["max_1s"] = best
        o["max_1s_at_s"] = "%.3f" % (at / 1000.0)
        per_sec = {}
        for t in ts:
            s = int((t - ts[0]) // 1000)
            per_sec[s] = per_sec.get(s, 0) + 1
        o["best_clock_second"] = max(per_sec.values())
        # The longest wait between two sends (a stall), and when.
        gap, gat = 0.0, 0.0
        for x, y in zip(ts, ts[1:]):
            if y - x > gap:
                gap, gat = y - x, x - ts[0]
        o["longest_gap_ms"] = "%.0f" % gap
        o["longest_gap_at_s"] = "%.1f" % (gat / 1000.0)
        # The steady part: whole seconds after the first and before the
        # last (the ramp-up and the tail left out).
        inner = [per_sec.get(s, 0) for s in range(1, max(per_sec))]
        if inner:
            o["steady_min_1s"] = min(inner)
            o["steady_median_1s"] = sorted(inner)[len(inner) // 2]
        with open(out, "w") as f:
            for s in range(0, max(per_sec) + 1):
                f.write("%d %d\n" % (s, per_sec.get(s, 0)))
    with open(reply_ids_file) as f:
        rids = [int(x) for x in f if x.strip()]
    acc = {}
    with open(accepted_tsv) as f:
        for line in f:
            if line.strip():
                mid, ms = line.split()
                acc[int(mid)] = float(ms)
    lat = sorted(first_of[m] - acc[m] for m in rids if m in first_of and m in acc)
    o["replies"] = len(rids)
    o["replies_arrived"] = len(lat)
    if lat:
        o["reply_p50_ms"] = "%.1f" % percentile(lat, 50)
        o["reply_p99_ms"] = "%.1f" % percentile(lat, 99)
        o["reply_max_ms"] = "%.1f" % lat[-1]
        o["reply_min_ms"] = "%.1f" % lat[0]
    print("WZ " + " ".join("%s=%s" % kv for kv in o.items()))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "inbound" and len(argv) == 6:
        return inbound(*argv[2:6])
    if cmd == "replies" and len(argv) == 8:
        replies(argv[2], argv[3], int(argv[4]), argv[5], float(argv[6]), argv[7])
    elif cmd == "probe" and len(argv) == 11:
        probe(argv[2], argv[3], float(argv[4]), int(argv[5]), int(argv[6]),
              int(argv[7]), argv[8], float(argv[9]), argv[10])
    elif cmd == "latency" and len(argv) == 3:
        latency(argv[2])
    elif cmd == "sends" and len(argv) == 7:
        sends(*argv[2:7])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
