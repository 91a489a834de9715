#!/usr/bin/env python3
"""bench/spooler's helpers (Python 3 standard library only).

  spooler.py pace URL KEY ACCOUNT RATE SECONDS PHONE
      POSTs template messages (one-time codes) to URL/api/v1/messages/send at RATE a second for
      SECONDS, on schedule (four threads, each with its own keep-alive
      connection, each request at its planned time), recipients +49151 and
      eight digits from PHONE on. Prints one line:
        WZ posted=N created=N failed=N retried_503=N behind_max_ms=X seconds=S
      A 503 is tried again, twice at most.

  spooler.py sends SANDBOX_URL PHONE_NUMBER_ID [ACCEPTED_TSV [ARRIVALS]]
      What the sandbox Graph API received for one phone number id: the
      message requests' arrival times and the sandbox's own
      max_per_second (a sliding 1000 ms window). With ACCEPTED_TSV (lines
      "message id <TAB> accepted_at in ms since the epoch", from the
      database), also each message's latency: arrival at the sandbox minus
      accepted_at. ARRIVALS: a file to write the arrival times to, in
      seconds after the first, one a line. Prints one line of key=value
      figures.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
import urllib.request

from benchstats import densest_second


def pace(url, key, account, rate, seconds, phone):
    u = urllib.parse.urlsplit(url)
    total = int(rate * seconds)
    nthreads = 4
    counts = {"created": 0, "failed": 0, "retried": 0, "behind": 0.0}
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2

    def worker(j):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        created = failed = retried = 0
        behind = 0.0
        for k in range(j, total, nthreads):
            at = t0 + k / rate
            now = time.monotonic()
            if now < at:
                time.sleep(at - now)
            else:
                behind = max(behind, now - at)
            body = json.dumps({
                "to": "+49151%08d" % (phone + k),
                "whatsapp_account_id": account,
                "type": "template",
                "content": {"name": "verification_code",
                            "language": "en_US", "components": [
                                {"type": "body", "parameters": [
                                    {"type": "text",
                                     "text": "%06d" % k}]}]},
            })
            # A 503 is tried again, as a client would; accepted_at is the
            # attempt that succeeded.
            for attempt in range(3):
                status = 0
                try:
                    conn.request("POST", "/api/v1/messages/send", body, {
                        "Authorization": "Bearer " + key,
                        "Content-Type": "application/json",
                    })
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                if status != 503:
                    break
                retried += 1
            if status == 201:
                created += 1
            else:
                failed += 1
        conn.close()
        with lock:
            counts["created"] += created
            counts["failed"] += failed
            counts["retried"] += retried
            counts["behind"] = max(counts["behind"], behind)

    threads = [threading.Thread(target=worker, args=(j,)) for j in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("WZ posted=%d created=%d failed=%d retried_503=%d behind_max_ms=%.1f seconds=%.2f" % (
        total, counts["created"], counts["failed"], counts["retried"], counts["behind"] * 1000,
        time.monotonic() - t0))


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1,
                   int(-(-p * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def sends(sandbox, pnid, accepted_tsv=None, arrivals=None):
    recs, since = [], 0
    while True:
        page = get_json("%s/_sandbox/requests?phone_number_id=%s&since=%d&limit=50000"
                        % (sandbox, urllib.parse.quote(pnid), since))
        recs += page["requests"]
        if not page["requests"] or page["next"] == since:
            break
        since = page["next"]
    recs = [r for r in recs if r["method"] == "POST" and r["path"].endswith("/messages")]
    stats = get_json(sandbox + "/_sandbox/stats")
    per = stats.get("phone_numbers", {}).get(pnid, {})
    out = {"requests": len(recs),
           "ok": sum(1 for r in recs if r.get("status") == 200),
           "max_per_second": per.get("max_per_second", 0),
           "max_per_calendar_second": per.get("max_per_calendar_second", 0)}
    ids = []
    for r in recs:
        ref = (r.get("body") or {}).get("biz_opaque_callback_data", "")
        if isinstance(ref, str) and ref.startswith("wz:"):
            ids.append(int(ref[3:]))
    out["distinct"] = len(set(ids))
    out["resent"] = len(ids) - len(set(ids))
    if recs:
        ts = sorted(r["t"] for r in recs)
        if arrivals:
            with open(arrivals, "w") as f:
                for t in ts:
                    f.write("%.3f\n" % ((t - ts[0]) / 1000.0))
        span = (ts[-1] - ts[0]) / 1000.0
        out["first_ms"] = "%.1f" % ts[0]
        out["span_s"] = "%.3f" % span
        out["sustained"] = "%.0f" % (len(recs) / span if span > 0 else 0)
        # Where the densest 1000 ms window starts, from the first arrival
        # (the sandbox gives only its count).
        _, at = densest_second(ts)
        out["densest_at_s"] = "%.3f" % (at / 1000.0)
    if accepted_tsv:
        accepted = {}
        with open(accepted_tsv) as f:
            for line in f:
                mid, ms = line.split()
                accepted[int(mid)] = float(ms)
        first_seen = {}
        for r in recs:
            ref = (r.get("body") or {}).get("biz_opaque_callback_data", "")
            if isinstance(ref, str) and ref.startswith("wz:"):
                mid = int(ref[3:])
                if mid not in first_seen or r["t"] < first_seen[mid]:
                    first_seen[mid] = r["t"]
        lat = sorted(first_seen[m] - accepted[m] for m in first_seen if m in accepted)
        out["latency_n"] = len(lat)
        out["unsent"] = len(set(accepted) - set(first_seen))
        if lat:
            out["p50_ms"] = "%.1f" % percentile(lat, 50)
            out["p99_ms"] = "%.1f" % percentile(lat, 99)
            out["max_ms"] = "%.1f" % lat[-1]
            out["min_ms"] = "%.1f" % lat[0]
            out["within_1s"] = "%.2f" % (100.0 * sum(1 for x in lat if x < 1000) / len(lat))
    print("WZ " + " ".join("%s=%s" % kv for kv in out.items()))


def main(argv):
    if len(argv) >= 2 and argv[1] == "pace" and len(argv) == 8:
        pace(argv[2], argv[3], int(argv[4]), float(argv[5]), float(argv[6]), int(argv[7]))
    elif len(argv) >= 2 and argv[1] == "sends" and len(argv) in (4, 5, 6):
        sends(argv[2], argv[3], argv[4] if len(argv) >= 5 and argv[4] else None,
              argv[5] if len(argv) == 6 else None)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
