"""wazera-spooler end to end: messages accepted by the API (through nginx)
go from MariaDB through the real spooler to the sandbox Graph API
(tests/sandbox/graph-sandbox.js), and the tests read what the sandbox
recorded: the exact Graph payload of every message type, idempotent sends,
retries after throttling and 5xx, permanent failures, the per-account rate
with two spoolers, no duplicates with spoolers racing, recovery after a
spooler is killed mid-batch, and a cron-started spooler picking up work
accepted while it runs (its accept-to-Graph latency is measured by
bench/spooler: no timed assertions here).

Rates and retry gaps are checked on the spooler's own record of its
request starts (--trace: CLOCK_MONOTONIC, as its rate counts them), not on
the sandbox's arrival clock, which a loaded machine stretches and squeezes.

Every test has its own tenant and account (its own phone_number_id), so
the sandbox's records are filtered by phone number; the sandbox is reset
before each test. Spoolers run with a private --lock-file and log into the
stack's log list, so sanitizer reports fail the session; each run's log is
also checked right after it ends."""
import os
import re
import signal
import socket
import uuid
from collections import Counter, defaultdict

import pytest

import conftest
from conftest import (TEMPLATE, assert_no_sanitizer, assert_ok,
                      blind_resends, events_of, new_sender, past_grace,
                      queue_many, read_log, ref_id, run_until, send, sql,
                      statuses, trace_path, trace_starts, wait_for)


# --------------------------------------------------------------------------
# Helpers


def account_statuses(stack, account_id):
    rows = sql(stack, "SELECT id, status, wamid FROM messages WHERE "
               "whatsapp_account_id = %d" % account_id)
    return {int(i): (s, None if w == "NULL" else w) for i, s, w in rows}


def by_message(records, status=None):
    out = defaultdict(list)
    for r in records:
        if status is None or r["status"] == status:
            out[ref_id(r)].append(r)
    return out


def max_in_window(times_us, window_us):
    """The most starts within any half-open window [t, t + window_us)."""
    ts = sorted(times_us)
    best, j = 0, 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= window_us:
            j += 1
        best = max(best, i - j + 1)
    return best


def db_quiet(stack, user=conftest.DB_USER):
    """No statement of `user` running at the server (what a killed
    client had sent has finished: committed or rolled back)."""
    return stack.sql_root(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
        "USER = '%s' AND COMMAND NOT IN ('Sleep', 'Daemon')" % user) == \
        [["0"]]


def lease_free(stack, account_id):
    """The account's lease is released or has run out."""
    return sql(stack, "SELECT COUNT(*) FROM whatsapp_accounts WHERE id = %d "
               "AND lease_holder IS NOT NULL AND lease_until >= NOW(3)" %
               account_id) == [["0"]]


def lease_lines(proc):
    return [l for l in read_log(proc.log, 10 ** 7).splitlines()
            if "lease taken" in l]


@pytest.fixture(scope="module")
def spool_conf(stack, graph_sandbox):
    """The spooler's config (graph_api_base at the sandbox). Any message
    other test modules left queued is sent first, so it cannot slow down or
    disturb these tests."""
    conf = stack.write_spooler_config("spooler.conf", graph_sandbox.base)
    stack.run_spooler(conf, max_seconds=60)
    graph_sandbox.reset()
    return conf


@pytest.fixture(scope="module")
def grace_conf(stack, graph_sandbox):
    """A config with a short resend grace (recovery after a crash)."""
    return stack.write_spooler_config("spooler-grace.conf",
                                      graph_sandbox.base,
                                      resend_grace_seconds=2)


# --------------------------------------------------------------------------
# 1. Every type's exact Graph payload

# A template with every kind of component: passed through as it is.
ORDER_UPDATE = {
    "name": "order_update", "language": {"code": "en_US"},
    "components": [
        {"type": "header", "parameters": [
            {"type": "image",
             "image": {"link": "https://example.com/h.jpg"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Jessica"},
            {"type": "text", "parameter_name": "order_number",
             "text": "SKBUP2"},
            {"type": "currency", "currency": {
                "fallback_value": "$100.99", "code": "USD",
                "amount_1000": 100990}}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0",
         "parameters": [{"type": "payload", "payload": "STOP"}]},
        {"type": "button", "sub_type": "url", "index": "1",
         "parameters": [{"type": "text", "text": "track/123"}]}]}

CASES = [
    ("text", "text",
     {"body": "See https://example.com/offer", "preview_url": True},
     {"body": "See https://example.com/offer", "preview_url": True}),
    ("text-plain", "text", {"body": "Hello \u00fc \U0001F600"},
     {"body": "Hello \u00fc \U0001F600", "preview_url": False}),
    ("template-en", "template", {"name": "hello_world", "language": "en"},
     {"name": "hello_world", "language": {"code": "en"}, "components": []}),
    ("template-en_US", "template", ORDER_UPDATE, ORDER_UPDATE),
    ("image-link", "image",
     {"link": "https://example.com/a.jpg", "caption": "Receipt"},
     {"link": "https://example.com/a.jpg", "caption": "Receipt"}),
    ("image-id", "image", {"id": "1037543291543636"},
     {"id": "1037543291543636"}),
    ("video", "video",
     {"link": "https://example.com/v.mp4", "caption": "Demo"},
     {"link": "https://example.com/v.mp4", "caption": "Demo"}),
    ("audio", "audio", {"id": "4490709327384033"},
     {"id": "4490709327384033"}),
    ("document", "document",
     {"link": "https://example.com/inv.pdf", "caption": "Invoice",
      "filename": "invoice.pdf"},
     {"link": "https://example.com/inv.pdf", "caption": "Invoice",
      "filename": "invoice.pdf"}),
    ("sticker", "sticker", {"id": "798882015472548"},
     {"id": "798882015472548"}),
    ("location", "location",
     {"latitude": 37.758056, "longitude": -122.425332, "name": "META HQ",
      "address": "1 Hacker Way, Menlo Park, CA 94025"},
     {"latitude": 37.758056, "longitude": -122.425332, "name": "META HQ",
      "address": "1 Hacker Way, Menlo Park, CA 94025"}),
    ("interactive-button", "interactive",
     {"type": "button", "header": {"type": "text", "text": "Order"},
      "body": {"text": "Pick one"}, "footer": {"text": "Thanks"},
      "action": {"buttons": [
          {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
          {"type": "reply", "reply": {"id": "no", "title": "No"}}]}},
     {"type": "button", "header": {"type": "text", "text": "Order"},
      "body": {"text": "Pick one"}, "footer": {"text": "Thanks"},
      "action": {"buttons": [
          {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
          {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}),
    ("interactive-list", "interactive",
     {"type": "list", "body": {"text": "Choose shipping"},
      "action": {"button": "Options", "sections": [
          {"title": "Fast", "rows": [{"id": "express", "title": "Express",
                                      "description": "Next day"}]}]}},
     {"type": "list", "body": {"text": "Choose shipping"},
      "action": {"button": "Options", "sections": [
          {"title": "Fast", "rows": [{"id": "express", "title": "Express",
                                      "description": "Next day"}]}]}}),
]


@pytest.fixture(scope="module")
def typed_sends(stack, spool_conf, graph_sandbox):
    """One message of each case, queued through the API and sent by one
    --drain run. Returns (sender, {case: (message, [records])})."""
    graph_sandbox.reset()
    k = new_sender(stack)
    msgs = {}
    for i, (name, type_, content, _) in enumerate(CASES):
        if type_ != "template":
            k.customer_writes("+49 151 2000 %04d" % i)
        msgs[name] = send(k, to="+49 151 2000 %04d" % i, type=type_,
                          content=content)
        assert msgs[name]["status"] == "queued"
    proc = stack.run_spooler(spool_conf)
    recs = by_message(graph_sandbox.requests(k.phone))
    out = {name: (m, recs.get(m["id"], [])) for name, m in msgs.items()}
    out["_log"] = proc.log
    return k, out


@pytest.mark.parametrize("name,type_,content,graph_obj", CASES,
                         ids=[c[0] for c in CASES])
def test_graph_payload(typed_sends, name, type_, content, graph_obj):
    k, sends = typed_sends
    m, recs = sends[name]
    assert len(recs) == 1, (recs, read_log(sends["_log"]))
    rec = recs[0]
    assert rec["method"] == "POST"
    assert rec["path"] == "/v25.0/%s/messages" % k.phone
    assert rec["phone_number_id"] == k.phone
    assert rec["authorization"] == "Bearer " + k.token
    assert rec["content_type"].split(";")[0].strip() == "application/json"
    to = "+49 151 2000 %04d" % [c[0] for c in CASES].index(name)
    contact = assert_ok(k("GET", "/contacts/%d" % m["contact_id"]))
    assert rec["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": contact["phone"],
        "type": type_,
        type_: graph_obj,
        "biz_opaque_callback_data": "wz:%d" % m["id"],
    }, rec
    assert "".join(c for c in to if c.isdigit()) == \
        "".join(c for c in rec["body"]["to"] if c.isdigit())
    assert rec["status"] == 200 and rec["error_code"] is None, rec
    assert rec["wamid"].startswith("wamid.")

    got = assert_ok(k("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "sent", got
    assert got["wamid"] == rec["wamid"]
    assert got["error"] is None
    assert got["content"] == m["content"]
    st = assert_ok(k("GET", "/messages/%d/status" % m["id"]))
    assert st == {"id": m["id"], "status": "sent", "wamid": rec["wamid"],
                  "error": None, "updated_at": got["updated_at"]}
    ev = [d for d in events_of(k.stack, k.tenant.id, "message.sent")
          if d["id"] == m["id"]]
    assert len(ev) == 1, ev
    assert ev[0] == got


# --------------------------------------------------------------------------
# 2. Idempotent sends


def test_idempotent_send_goes_out_once(stack, spool_conf, sandbox):
    k = new_sender(stack)
    k.customer_writes("+4915133334444")
    body = {"to": "+4915133334444", "whatsapp_account_id": k.account["id"],
            "type": "text", "content": {"body": "exactly once"}}
    h = {"Idempotency-Key": "spool-once-" + uuid.uuid4().hex}
    r1 = k("POST", "/messages/send", body, headers=h)
    r2 = k("POST", "/messages/send", body, headers=h)
    m = assert_ok(r1, 201)
    assert assert_ok(r2, 201)["id"] == m["id"]
    assert sql(stack, "SELECT COUNT(*) FROM messages WHERE "
               "whatsapp_account_id = %d AND direction = 'outbound'" %
               k.account["id"]) == [["1"]]
    stack.run_spooler(spool_conf)
    # The same key once more after the send: the stored answer, no new
    # message, no new request.
    assert assert_ok(k("POST", "/messages/send", body, headers=h),
                     201)["id"] == m["id"]
    stack.run_spooler(spool_conf)
    recs = sandbox.requests(k.phone)
    assert [ref_id(r) for r in recs] == [m["id"]], recs
    assert recs[0]["status"] == 200
    got = assert_ok(k("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "sent" and got["wamid"] == recs[0]["wamid"]


# --------------------------------------------------------------------------
# 3. Retry, then success

@pytest.mark.parametrize("action", [
    {"error_code": 130429},
    {"http_status": 500, "body": "oops"},
], ids=["130429", "http500"])
def test_retry_then_sent(stack, spool_conf, sandbox, action):
    k = new_sender(stack)
    to = "+4915155550001"
    sandbox.script({"match": {"phone_number_id": k.phone, "to": to},
                    "times": 2, "action": action})
    m = send(k, to=to, type="template", content=TEMPLATE)
    other = send(k, to="+4915155550002", type="template", content=TEMPLATE)

    def sent():
        return statuses(stack, [m["id"]])[m["id"]] == "sent"
    trace = trace_path(stack, "retry")
    proc = run_until(stack, spool_conf, sent, "the retried message sent",
                     extra_args=("--trace", trace))

    recs = sandbox.requests(k.phone, to=to)
    assert [ref_id(r) for r in recs] == [m["id"]] * 3, recs
    want = 500 if "http_status" in action else 400
    assert [r["status"] for r in recs] == [want, want, 200], recs
    if "error_code" in action:
        assert [r["error_code"] for r in recs[:2]] == [130429, 130429]
    # Exponential backoff: the delays the spooler chose (its log, to 0.1 s)
    # are about 1 s, then about 2 s (+-20 % jitter), and its own record of
    # the starts (--trace) shows each retry started no earlier than that
    # after the attempt before. Margin 0.25 s: 0.05 for the log's rounding,
    # 0.2 because a start's recorded time is taken just before its claim
    # query, whose database clock decides that the message is due (a
    # slow query on a loaded machine moves the record earlier by its
    # length). No backoff at all would show gaps of a poll, 0.2 s.
    log = read_log(proc.log, 10 ** 7)
    delays = [float(x) for x in re.findall(
        r"message %d: attempt \d+: .*; retry in ([0-9.]+) s" % m["id"], log)]
    assert len(delays) == 2, log
    assert 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4, delays
    starts = [x for x in trace_starts(trace) if x["message"] == m["id"]]
    assert [x["attempt"] for x in starts] == [1, 2, 3], starts
    gaps = [(starts[i + 1]["t_us"] - starts[i]["t_us"]) / 1e6
            for i in range(2)]
    assert gaps[0] >= delays[0] - 0.25 and gaps[1] >= delays[1] - 0.25, \
        (gaps, delays)
    assert sql(stack, "SELECT attempts, status, error_code FROM messages "
               "WHERE id = %d" % m["id"]) == [["3", "sent", "NULL"]]
    got = assert_ok(k("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "sent" and got["error"] is None, got
    assert got["wamid"] == recs[2]["wamid"]
    # Other recipients were not held up by the retries: the other message
    # started before the first retry (the spooler's order of starts).
    orecs = sandbox.requests(k.phone, to="+4915155550002")
    assert [(ref_id(r), r["status"]) for r in orecs] == [(other["id"], 200)]
    ostart = [x for x in trace_starts(trace) if x["message"] == other["id"]]
    assert len(ostart) == 1 and ostart[0]["t_us"] < starts[1]["t_us"], \
        (ostart, starts)
    assert "message %d: attempt 1:" % m["id"] in log, log
    assert "message %d: attempt 2:" % m["id"] in log, log


# --------------------------------------------------------------------------
# 4. Permanent failure


def test_permanent_failure(stack, spool_conf, sandbox):
    k = new_sender(stack)
    to = "+4915166660001"
    sandbox.script({"match": {"phone_number_id": k.phone, "to": to},
                    "action": {"error_code": 131026}})
    m = send(k, to=to, type="template", content=TEMPLATE)
    stack.run_spooler(spool_conf)
    error = {"code": 131026, "title": "Message undeliverable",
             "message": "Message could not be delivered to the recipient."}
    got = assert_ok(k("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "failed", got
    assert got["error"] == error, got
    assert got["wamid"] is None
    st = assert_ok(k("GET", "/messages/%d/status" % m["id"]))
    assert st == {"id": m["id"], "status": "failed", "wamid": None,
                  "error": error, "updated_at": got["updated_at"]}
    ev = [d for d in events_of(stack, k.tenant.id, "message.failed")
          if d["id"] == m["id"]]
    assert ev == [got], ev
    assert not [d for d in events_of(stack, k.tenant.id, "message.sent")
                if d["id"] == m["id"]]
    # No retry: one request, one attempt, and a later run sends nothing.
    stack.run_spooler(spool_conf)
    recs = sandbox.requests(k.phone)
    assert len(recs) == 1, recs
    assert ref_id(recs[0]) == m["id"] and recs[0]["error_code"] == 131026
    assert sql(stack, "SELECT attempts FROM messages WHERE id = %d" %
               m["id"]) == [["1"]]


# --------------------------------------------------------------------------
# 5. The account's rate holds with two spoolers


def test_rate_limit_with_two_spoolers(stack, spool_conf, sandbox):
    """mps 20 with two spoolers racing for the account: never more than 20
    request starts in any window of a second, by the spoolers' own record
    of their starts (--trace, one file for both, CLOCK_MONOTONIC: one clock
    for the host). The window checked is the one rate.c keeps, a second
    plus its 20 ms guard (RATE_WINDOW_US), which holds every 1 s window to
    20 as well; the sandbox's arrival times are not used, as a loaded
    machine can bunch arrivals of starts that were spaced right."""
    k = new_sender(stack, mps=20)
    ids = queue_many(k, 60)
    trace = trace_path(stack, "rate")
    procs = [stack.start_spooler(spool_conf, "drain", max_seconds=40,
                                 holder="e2e-rate-%s-%d" %
                                 (x, k.account["id"]),
                                 extra_args=("--trace", trace))
             for x in ("a", "b")]
    for p in procs:
        p.popen.wait(60)
        assert p.popen.returncode == 0, read_log(p.log)
        assert_no_sanitizer(p.log)
    recs = sandbox.requests(k.phone)
    st = sandbox.phone_stats(k.phone)
    assert st["message_requests"] == 60 and st["ok"] == 60, st
    starts = trace_starts(trace)
    assert sorted(x["message"] for x in starts) == sorted(ids), starts
    assert {x["account"] for x in starts} == {k.account["id"]}
    times = [x["t_us"] for x in starts]
    assert max_in_window(times, 1020000) <= 20, sorted(times)
    # Hence 60 at 20 per window: the 41st start is two windows after the
    # first (the same record, so no clock but the spoolers' own).
    assert sorted(times)[40] - sorted(times)[0] >= 2 * 1020000, sorted(times)
    print("sandbox arrivals (informative): max %d in a 1 s window" %
          st["max_per_second"])
    counts = Counter(ref_id(r) for r in recs)
    assert set(counts) == set(ids) and set(counts.values()) == {1}, counts
    assert set(statuses(stack, ids).values()) == {"sent"}
    # Both released their leases at exit.
    assert sql(stack, "SELECT lease_holder FROM whatsapp_accounts WHERE "
               "id = %d" % k.account["id"]) == [["NULL"]]


# --------------------------------------------------------------------------
# 6. No message twice with spoolers racing over several accounts


def test_no_duplicates_with_racing_spoolers(stack, spool_conf, sandbox):
    t = stack.create_tenant()
    senders = [new_sender(stack, mps=0, tenant=t) for _ in range(3)]
    ids = {}
    for k in senders:
        ids[k.phone] = queue_many(k, 100, to_fmt="+49171%07d")
    procs = [stack.start_spooler(spool_conf, "drain", max_seconds=40,
                                 holder="e2e-race-%s-%d" % (x, t.id))
             for x in ("a", "b")]
    for p in procs:
        p.popen.wait(60)
        assert p.popen.returncode == 0, read_log(p.log)
        assert_no_sanitizer(p.log)
    split = [lease_lines(p) for p in procs]
    for k in senders:
        recs = sandbox.requests(k.phone)
        counts = Counter(ref_id(r) for r in recs)
        dup = {i: c for i, c in counts.items() if c != 1}
        assert not dup, (k.phone, dup, split)
        assert set(counts) == set(ids[k.phone]), split
        assert all(r["status"] == 200 for r in recs)
        assert set(statuses(stack, ids[k.phone]).values()) == {"sent"}
    all_recs = [r for k in senders for r in sandbox.requests(k.phone)]
    assert len({r["wamid"] for r in all_recs}) == 300
    assert sandbox.stats()["message_requests"] == 300
    print("accounts leased per spooler: %s" % [len(x) for x in split])


# --------------------------------------------------------------------------
# 7. kill -9 mid-batch, then recovery after the resend grace


def test_kill_mid_batch_then_recovery(stack, grace_conf, spool_conf,
                                      sandbox):
    k = new_sender(stack, mps=100)
    n = 300
    ids = queue_many(k, n, to_fmt="+49172%07d")
    sandbox.config(latency_ms=400)
    a = stack.start_spooler(grace_conf, "drain", max_seconds=60,
                            holder="e2e-crash-a-%d" % k.account["id"])

    # Kill once some are recorded sent and more are in flight at the
    # sandbox (no answer yet: status null). The rate sends in bursts of
    # up to 100 a second, each in flight for 400 ms.
    def mid_batch():
        recs = sandbox.requests(k.phone)
        if not any(r["status"] is None for r in recs) or \
                not any(r["status"] == 200 for r in recs):
            return False
        return sql(stack, "SELECT COUNT(*) FROM messages WHERE "
                   "whatsapp_account_id = %d AND status = 'sent'" %
                   k.account["id"]) != [["0"]]
    wait_for(mid_batch, timeout=20, what="messages sent and in flight",
             interval=0.02)
    os.kill(a.pid, signal.SIGKILL)
    a.popen.wait(10)
    # What the dead spooler had sent the server is finished (committed or
    # rolled back) before the rows are read.
    wait_for(lambda: db_quiet(stack), timeout=20,
             what="the dead spooler's statements to end")
    at_kill = account_statuses(stack, k.account["id"])
    sent_at_kill = {i for i, (s, _) in at_kill.items() if s == "sent"}
    sending_at_kill = {i for i, (s, _) in at_kill.items() if s == "sending"}
    queued_at_kill = {i for i, (s, _) in at_kill.items() if s == "queued"}
    assert sent_at_kill and sending_at_kill and queued_at_kill, \
        Counter(s for s, _ in at_kill.values())
    assert len(sent_at_kill) + len(sending_at_kill) + \
        len(queued_at_kill) == n

    # A new spooler (another holder, as a fresh cron run would be), once
    # the dead one's lease ran out (15 s) and the grace (2 s) passed: it
    # queues the 'sending' ones again and sends everything. A further run
    # only if one is needed (each waits for the same conditions first).
    acct = k.account["id"]
    runs = []
    for _ in range(4):
        wait_for(lambda: lease_free(stack, acct) and
                 past_grace(stack, acct, 2), timeout=30,
                 what="the dead spooler's lease gone, the grace passed")
        runs.append(stack.run_spooler(
            grace_conf, max_seconds=40,
            holder="e2e-crash-b-%d-%d" % (acct, len(runs))))
        final = account_statuses(stack, acct)
        if all(s == "sent" for s, _ in final.values()):
            break
    left = Counter(s for s, _ in final.values())
    assert left == {"sent": n}, (left, [read_log(p.log) for p in runs])

    accepted = by_message(sandbox.requests(k.phone), status=200)
    counts = {i: len(accepted.get(i, [])) for i in ids}
    never = [i for i, c in counts.items() if c == 0]
    assert not never, never
    twice = {i for i, c in counts.items() if c > 1}
    assert twice <= sending_at_kill, (twice - sending_at_kill)
    assert all(counts[i] == 1 for i in sent_at_kill)
    assert all(counts[i] == 1 for i in queued_at_kill)
    assert max(counts.values()) <= 2, counts
    dups = sum(c - 1 for c in counts.values())
    assert dups <= len(sending_at_kill), (dups, len(sending_at_kill))
    # What was recorded as sent before the crash kept its wamid.
    for i in sent_at_kill:
        assert final[i][1] == at_kill[i][1] == accepted[i][0]["wamid"]
    for i in ids:
        assert final[i][1] in [r["wamid"] for r in accepted[i]], i
    log = "".join(read_log(p.log, 10 ** 7) for p in runs)
    assert "recovered" in log, log
    print("at kill: %d sent, %d sending, %d queued; %d sent twice; %d "
          "spooler run(s) after" % (len(sent_at_kill), len(sending_at_kill),
                                   len(queued_at_kill), dups, len(runs)))


# --------------------------------------------------------------------------
# 8. A cron-started spooler picks up work accepted while it runs (its
#    accept-to-Graph latency: bench/spooler)


def test_cron_once_picks_up_new_work(stack, spool_conf, sandbox):
    """A --once spooler sends a message accepted while it runs, and then
    another accepted after its first send (so certainly after it was
    polling), without a restart; it ends by itself when its budget is
    spent, exit 0. How fast is bench/spooler's business: the waits here
    are generous hang guards only."""
    k = new_sender(stack)
    proc = stack.start_spooler(spool_conf, "once", max_seconds=5,
                               holder="e2e-cron-%d" % k.account["id"])
    try:
        wait_for(lambda: "start: once" in read_log(proc.log),
                 what="the spooler's start line")
        first = send(k, to="+4915180000001", type="template",
                     content=TEMPLATE)
        wait_for(lambda: statuses(stack, [first["id"]])[first["id"]] ==
                 "sent" or proc.popen.poll() is not None, timeout=30,
                 what="the first message sent")
        assert proc.popen.poll() is None, read_log(proc.log)
        second = send(k, to="+4915180000002", type="template",
                      content=TEMPLATE)
        # --once ends by itself once its budget is spent: the wait is a
        # hang guard (budget, plus the in-flight wait of
        # graph_timeout_seconds + 1, plus slack), not a speed check.
        proc.popen.wait(5 + 31 + 30)
    finally:
        rc = proc.stop(signal.SIGKILL)
    log = read_log(proc.log, 10 ** 7)
    assert rc == 0, log
    assert_no_sanitizer(proc.log)
    assert "stopping (time budget spent)" in log, log
    # Sent by this run, exactly once each, in order of acceptance.
    recs = sandbox.requests(k.phone)
    assert [ref_id(r) for r in recs] == [first["id"], second["id"]], \
        (recs, log)
    assert all(r["status"] == 200 for r in recs)
    assert statuses(stack, [first["id"], second["id"]]) == \
        {first["id"]: "sent", second["id"]: "sent"}
    assert "done: 2 sent, 0 failed" in log, log


# --------------------------------------------------------------------------
# 9. Several spoolers on one host: no implicit host lock


def holder_of(proc):
    """The holder name a spooler logged at its start."""
    m = re.search(r"start: \w+, holder (\S+),", read_log(proc.log, 10 ** 7))
    assert m, read_log(proc.log)
    return m.group(1)


def test_default_holder_has_a_random_suffix(stack, spool_conf, sandbox):
    """Two containers can share host:pid: the default holder adds 16
    random hex digits (--holder still overrides)."""
    procs = [stack.run_spooler(spool_conf, lock_file=False)
             for _ in range(2)]
    names = [holder_of(p) for p in procs]
    for p, name in zip(procs, names):
        assert re.fullmatch(r"%s:%d:[0-9a-f]{16}" %
                            (re.escape(socket.gethostname()[:90]), p.pid),
                            name), name
    assert names[0].rsplit(":", 1)[1] != names[1].rsplit(":", 1)[1]
    named = stack.run_spooler(spool_conf, holder="e2e-named-holder")
    assert holder_of(named) == "e2e-named-holder"


def test_spoolers_share_a_host(stack, spool_conf, sandbox):
    """Beside a --loop on the same host and config, without --lock-file:
    a --drain exits as soon as nothing it may take is due, although the
    loop still drives an account with due messages; a --once works its
    whole budget and sends what is queued meanwhile; every message goes
    out exactly once."""
    k = new_sender(stack, mps=0)
    busy = new_sender(stack, mps=2)
    loop = stack.start_spooler(spool_conf, "loop", lock_file=False)
    try:
        wait_for(lambda: "start: loop" in read_log(loop.log),
                 what="the loop's start line")
        first = queue_many(k, 3, to_fmt="+49173%07d")
        wait_for(lambda: set(statuses(stack, first).values()) == {"sent"},
                 timeout=30, what="the loop sending")

        # The loop drives busy's account: 40 messages at 2 a second.
        slow = queue_many(busy, 40, to_fmt="+49174%07d")
        loop_holder = holder_of(loop)
        wait_for(lambda: sql(stack, "SELECT lease_holder FROM "
                             "whatsapp_accounts WHERE id = %d" %
                             busy.account["id"]) == [[loop_holder]],
                 timeout=30, what="the loop's lease on the busy account")
        drain = stack.run_spooler(spool_conf, "drain", lock_file=False,
                                  timeout=30)
        # It did not wait for the loop's account to be drained.
        assert "queued" in statuses(stack, slow).values(), \
            read_log(drain.log)
        assert "lease taken" not in read_log(drain.log, 10 ** 7)

        # With the loop stopped in its tracks (still running, as far as
        # any host lock could tell), a --once does the work. The loop lets
        # go of k's account once it is idle (2 s after its last send):
        # stopped while it still held that lease, the --once could not
        # take the account within its budget.
        wait_for(lambda: sql(stack, "SELECT lease_holder IS NULL FROM "
                             "whatsapp_accounts WHERE id = %d" %
                             k.account["id"]) == [["1"]],
                 timeout=30, what="the loop releasing the idle account")
        os.kill(loop.pid, signal.SIGSTOP)
        try:
            second = queue_many(k, 3, to_fmt="+49176%07d")
            once = stack.run_spooler(spool_conf, "once", max_seconds=4,
                                     lock_file=False, timeout=40)
        finally:
            os.kill(loop.pid, signal.SIGCONT)
        # It worked its whole budget: it says so (no wall clock needed).
        log = read_log(once.log, 10 ** 7)
        assert "stopping (time budget spent)" in log, log
        assert set(statuses(stack, second).values()) == {"sent"}, log

        # The loop carries on.
        third = queue_many(k, 3, to_fmt="+49177%07d")
        wait_for(lambda: set(statuses(stack, third + slow).values()) ==
                 {"sent"}, timeout=60, what="the loop sending the rest")
    finally:
        os.kill(loop.pid, signal.SIGCONT)
        rc = loop.stop(signal.SIGTERM)
    assert rc == 0, read_log(loop.log)
    assert_no_sanitizer(loop.log)
    assert len({holder_of(p) for p in (loop, drain, once)}) == 3
    for key, ids in ((k, first + second + third), (busy, slow)):
        counts = Counter(ref_id(r) for r in sandbox.requests(key.phone))
        assert counts == {i: 1 for i in ids}, counts


# --------------------------------------------------------------------------
# 10. Never more than one blind resend


def test_kill9_in_flight_resends_once_then_fails(stack, grace_conf,
                                                  sandbox):
    """kill -9 with every request in flight (the sandbox answers after
    4 s): once the dead spooler's lease is gone and the grace passed,
    recovery queues them again, once; killed again in flight, they are
    not sent a third time but fail as ambiguous."""
    k = new_sender(stack, mps=0)
    n = 12
    ids = queue_many(k, n, to_fmt="+49178%07d")
    sandbox.config(latency_ms=4000)
    acct = k.account["id"]

    def killed_in_flight(name, want):
        p = stack.start_spooler(grace_conf, "once", max_seconds=120,
                                holder="e2e-k9%s-%d" % (name, acct))
        wait_for(lambda: len(sandbox.requests(k.phone)) >= want or
                 p.popen.poll() is not None, timeout=60,
                 what="%d requests at the sandbox" % want, interval=0.05)
        os.kill(p.pid, signal.SIGKILL)
        p.popen.wait(10)
        assert len(sandbox.requests(k.phone)) == want, read_log(p.log)
        assert_no_sanitizer(p.log)
        return p

    a = killed_in_flight("a", n)
    assert set(statuses(stack, ids).values()) == {"sending"}
    b = killed_in_flight("b", 2 * n)
    assert "queued again" in read_log(b.log, 10 ** 7), read_log(b.log)
    assert set(statuses(stack, ids).values()) == {"sending"}

    # A third spooler, with prompt answers: the messages are resolved
    # without a third request.
    sandbox.config(latency_ms=0)

    def settled():
        return set(statuses(stack, ids).values()) <= {"sent", "failed"}
    c = run_until(stack, grace_conf, settled, "the messages settled",
                  timeout=60, holder="e2e-k9c-%d" % acct)
    counts = Counter(ref_id(r) for r in sandbox.requests(k.phone))
    assert counts == {i: 2 for i in ids}, (counts, read_log(c.log))
    assert set(statuses(stack, ids).values()) == {"failed"}
    assert set(blind_resends(stack, ids).values()) == {1}
    for i in ids:
        got = assert_ok(k("GET", "/messages/%d" % i))
        assert got["error"]["title"] == ("Ambiguous: the send may have "
                                         "reached Meta; not resent"), got
        assert "blind resend" in got["error"]["message"], got
    failed = {d["id"] for d in events_of(stack, k.tenant.id,
                                         "message.failed")}
    assert failed >= set(ids)
    del a


def test_database_away_when_meta_answers(stack, private_stack, sandbox):
    """MariaDB stops after the requests left and before Meta's answers
    come: the --once run's budget ends and it cannot record them, so it
    exits with them in its journal. Once the database is back, the next
    spooler on the host writes them: every message sent exactly once,
    with the wamid Meta gave. (On a MariaDB, wazera-fcgi and nginx of its
    own: the session's database stays up for every other test.)"""
    ps = private_stack("dbaway")
    conf = stack.write_spooler_config(
        os.path.basename(ps.dir) + "-spooler.conf", sandbox.base,
        db_socket=ps.sock, resend_grace_seconds=2)
    k = ps.tenant_key()
    token = "tok-" + uuid.uuid4().hex
    k.account = conftest.make_account(stack, k.tenant, mps=0, token=token,
                                      app_secret="as-" + token)
    k.phone = k.account["phone_number_id"]

    def statuses_of(ids):
        rows = ps.sql("SELECT id, status FROM messages WHERE id IN (%s)" %
                      ",".join(str(i) for i in ids))
        return {int(i): st for i, st in rows}

    n = 10
    ids = queue_many(k, n, to_fmt="+49179%07d")
    sandbox.config(latency_ms=8000)
    a = stack.start_spooler(conf, "once", max_seconds=2,
                            holder="e2e-dbaway-a-%d" % k.account["id"])
    try:
        wait_for(lambda: len(sandbox.requests(k.phone)) == n or
                 a.popen.poll() is not None, timeout=30,
                 what="the requests at the sandbox", interval=0.05)
        assert len(sandbox.requests(k.phone)) == n, read_log(a.log)
        ps.stop_db()
        try:
            wait_for(lambda: all(r["status"] == 200 for r in
                                 sandbox.requests(k.phone)), timeout=30,
                     what="Meta's answers")
            a.popen.wait(60)
        finally:
            ps.start_db()
    finally:
        a.stop(signal.SIGKILL)
    assert a.popen.returncode == 0, read_log(a.log)
    assert_no_sanitizer(a.log)
    at_restart = statuses_of(ids)
    assert "sending" in at_restart.values(), (at_restart, read_log(a.log))
    sandbox.config(latency_ms=0)
    acct = k.account["id"]

    def past_grace_here():
        # No message of the account 'sending' for less than the 2 s grace
        # by the private database's clock, which recovery uses.
        return ps.sql("SELECT COUNT(*) FROM messages WHERE "
                      "whatsapp_account_id = %d AND status = 'sending' AND "
                      "sending_since >= NOW(3) - INTERVAL 2 SECOND" %
                      acct) == [["0"]]
    runs = []
    for _ in range(4):
        # Past the resend grace: a run that failed to take over the
        # journal could resend them, and the counts below would show it.
        wait_for(past_grace_here, timeout=30, what="the resend grace passed")
        runs.append(stack.run_spooler(
            conf, max_seconds=30,
            holder="e2e-dbaway-b-%d-%d" % (acct, len(runs))))
        final = statuses_of(ids)
        if set(final.values()) == {"sent"}:
            break
    recs = sandbox.requests(k.phone)
    counts = Counter(ref_id(r) for r in recs)
    assert counts == {i: 1 for i in ids}, \
        (counts, [read_log(p.log) for p in [a] + runs])
    assert set(final.values()) == {"sent"}, final
    wamids = {ref_id(r): r["wamid"] for r in recs}
    rows = ps.sql("SELECT id, wamid FROM messages WHERE "
                  "whatsapp_account_id = %d" % k.account["id"])
    assert {int(i): w for i, w in rows} == wamids
    assert "taken over" in read_log(runs[0].log, 10 ** 7), \
        read_log(runs[0].log)
