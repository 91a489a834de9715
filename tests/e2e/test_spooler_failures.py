"""wazera-spooler's failure paths, end to end (real MariaDB, the real
spooler, the sandbox Graph API): MariaDB stopped mid-run (a private server,
so the session's own is never at risk), an account paused on Meta's 190
and 368, the ambiguous timeout with a short spooler.graph_timeout_seconds,
a lease lost to another spooler while its requests are in flight, and
--loop mode until SIGTERM.

No wall-clock assertions: every wait is for a condition (rows, sandbox
records, log lines), and its timeout only guards against a hang."""
import json
import os
import re
import signal
import uuid
from collections import Counter

import pytest

from conftest import (TEMPLATE, assert_no_sanitizer, assert_ok,
                      blind_resends, events_of, new_sender, past_grace,
                      queue_many, read_log, ref_id, run_until, send, sql,
                      statuses, trace_path, trace_starts, wait_for)


@pytest.fixture(scope="module")
def base_conf(stack, graph_sandbox):
    """The spooler's config (graph_api_base at the sandbox, defaults
    otherwise). Messages other modules left queued are sent first, so
    that no spooler here spends its time on them."""
    conf = stack.write_spooler_config("spooler-failures.conf",
                                      graph_sandbox.base)
    stack.run_spooler(conf, max_seconds=60)
    graph_sandbox.reset()
    return conf


def log_of(proc):
    return read_log(proc.log, 10 ** 7)


def stopped(proc, sig=signal.SIGTERM):
    """Stops a spooler (SIGKILL only if it hangs); asserts exit 0 and a
    log without sanitizer reports."""
    rc = proc.stop(sig, timeout=60)
    assert rc == 0, log_of(proc)
    assert_no_sanitizer(proc.log)
    return proc


def lease_holder(stack, account_id):
    return sql(stack, "SELECT lease_holder FROM whatsapp_accounts WHERE "
               "id = %d" % account_id)[0][0]


def wamids(stack, ids):
    rows = sql(stack, "SELECT id, wamid FROM messages WHERE id IN (%s)" %
               ",".join(str(i) for i in ids))
    return {int(i): w for i, w in rows}


def kill_stopped(proc):
    """Kills a spooler the test stopped (SIGSTOP), if it still runs."""
    if proc.popen.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.stop(signal.SIGKILL)


def in_flight(sandbox, phone, n):
    """n requests of the phone at the sandbox, none answered yet."""
    recs = sandbox.requests(phone)
    return len(recs) == n and all(r["status"] is None for r in recs)


# --------------------------------------------------------------------------
# 1. MariaDB stopped mid-run (a private server)


def test_database_stopped_mid_run(stack, private_stack, sandbox):
    """A --loop spooler with 4 requests in flight (at most 4 at a time) and
    16 messages queued when its MariaDB stops: Meta's answers to the 4
    come while the database is away and are kept in the journal; nothing
    more is sent meanwhile. With the database back, the 4 are recorded
    with the wamids Meta gave and the 16 go out: every message once. (On
    a MariaDB, wazera-fcgi and nginx of its own: the session's database
    stays up for every other test.)"""
    ps = private_stack("dbstop")
    spool_conf = stack.write_spooler_config(
        os.path.basename(ps.dir) + "-spooler.conf", sandbox.base,
        db_socket=ps.sock)
    with open(spool_conf) as f:
        assert "socket = %s\n" % ps.sock in f.read()
    k = ps.tenant_key()
    phone = stack.unique("7702")
    k.account = stack.admin_json(
        "account", "create", "--tenant", k.tenant.id, "--phone-number-id",
        phone, "--waba-id", "102290129340398", "--display-phone",
        "+1 555 079 0001", "--access-token", "tok-" + uuid.uuid4().hex,
        "--app-secret", "as-" + uuid.uuid4().hex, "--mps", 0,
        config=ps.config)
    n = 20
    ids = [send(k, to="+49184%07d" % i, type="template",
                content=TEMPLATE)["id"] for i in range(n)]
    # The first 4 answers come after 10 s: the database is down by then
    # (checked: the journal holds them while it is away).
    sandbox.script({"match": {"phone_number_id": phone},
                    "action": {"latency_ms": 10000}, "times": 4})
    holder = "e2e-dbstop-%d" % k.account["id"]
    journal_dir = os.path.join(stack.work, stack.unique("journal-dbstop-"))
    journal = os.path.join(journal_dir, holder + ".journal")
    proc = stack.start_spooler(spool_conf, "loop", holder=holder,
                               max_inflight=4,
                               extra_args=("--journal", journal_dir))
    try:
        wait_for(lambda: in_flight(sandbox, phone, 4), timeout=30,
                 what="4 requests in flight", interval=0.02)
        first = {ref_id(r) for r in sandbox.requests(phone)}
        assert ps.sql("SELECT COUNT(*) FROM messages WHERE "
                      "status = 'sending'") == [["4"]]
        ps.stop_db()
        try:
            # Meta's answers, then the spooler holding them for the
            # database: the journal has a "sent" line for each.
            wait_for(lambda: all(r["status"] == 200 for r in
                                 sandbox.requests(phone)), timeout=30,
                     what="Meta's answers to the 4")

            def journaled():
                try:
                    with open(journal) as f:
                        lines = [json.loads(l) for l in f if l.strip()]
                except FileNotFoundError:
                    return set()
                return {r["id"] for r in lines if r["k"] == "sent"}
            wait_for(lambda: journaled() == first, timeout=30,
                     what="the 4 results in the journal")
            wait_for(lambda: "database unavailable" in log_of(proc),
                     what="the spooler noticing the outage")
            assert proc.popen.poll() is None, log_of(proc)
            # Nothing else went out while the database was away.
            assert len(sandbox.requests(phone)) == 4
        finally:
            ps.start_db()

        def all_sent():
            rows = ps.sql("SELECT status, COUNT(*) FROM messages "
                          "GROUP BY status")
            return rows == [["sent", str(n)]]
        wait_for(all_sent, timeout=60, what="every message sent")
        assert "database available again" in log_of(proc), log_of(proc)
    finally:
        stopped(proc)
    recs = sandbox.requests(phone)
    counts = Counter(ref_id(r) for r in recs)
    assert counts == {i: 1 for i in ids}, (counts, log_of(proc))
    assert all(r["status"] == 200 for r in recs)
    got = {int(i): w for i, w in ps.sql(
        "SELECT id, wamid FROM messages WHERE whatsapp_account_id = %d"
        % k.account["id"])}
    assert got == {ref_id(r): r["wamid"] for r in recs}
    # One message.sent each; the journal is emptied (nothing owed).
    assert ps.sql("SELECT COUNT(*), COUNT(DISTINCT JSON_VALUE("
                  "data, '$.id')) FROM events WHERE type = "
                  "'message.sent'") == [[str(n), str(n)]]
    assert not os.path.exists(journal) or os.path.getsize(journal) == 0
    assert "done: %d sent, 0 failed" % n in log_of(proc), log_of(proc)


# --------------------------------------------------------------------------
# 2. Account paused on Meta's 190 and 368


@pytest.mark.parametrize("code,http_status,pause_s", [
    (190, 401, 300), (368, 400, 3600)], ids=["190", "368"])
def test_account_paused_then_resumed(stack, base_conf, sandbox, code,
                                     http_status, pause_s):
    """Meta answers `code` for one account: its messages go back to the
    queue without counting the attempt and the account is paused on its
    row (app/spooler/policy.c: 300 s for 190, 3600 s for 368). No spooler
    sends to it during the pause, not the one that paused it and not a
    fresh one (the next cron run), not even a message accepted during the
    pause, while another account's messages keep going. The operator then
    ends the pause (the token fixed: paused_until set NULL) and the
    running spooler sends them, once each, without a restart."""
    t = stack.create_tenant()
    p = new_sender(stack, mps=0, tenant=t)
    q = new_sender(stack, mps=0, tenant=t)
    acct = p.account["id"]
    sandbox.script({"match": {"phone_number_id": p.phone},
                    "action": {"error_code": code,
                               "http_status": http_status}})
    pids = queue_many(p, 3, to_fmt="+49185%07d")
    qids = queue_many(q, 3, to_fmt="+49186%07d")
    trace = trace_path(stack, "pause")
    holder = "e2e-pause-%d" % acct
    loop = stack.start_spooler(base_conf, "loop", holder=holder,
                               extra_args=("--trace", trace))
    try:
        pause_line = "account %d: paused for %d s after error %d" % (
            acct, pause_s, code)
        wait_for(lambda: pause_line in log_of(loop), timeout=30,
                 what="the pause in the log")

        def paused_in_db():
            return sql(stack, "SELECT COUNT(*) FROM messages WHERE "
                       "whatsapp_account_id = %d AND status = 'queued' AND "
                       "attempts = 0 AND error_code = %d" % (acct, code)) \
                == [["3"]] and \
                sql(stack, "SELECT COUNT(*) FROM whatsapp_accounts WHERE "
                    "id = %d AND paused_until > NOW(3) + INTERVAL %d SECOND"
                    % (acct, pause_s - 120)) == [["1"]]
        wait_for(paused_in_db, timeout=30,
                 what="the messages requeued and the account paused")
        wait_for(lambda: set(statuses(stack, qids).values()) == {"sent"},
                 timeout=30, what="the other account's messages sent")

        # During the pause: a new message to each account. The other
        # account's goes out; the paused one's waits, although it is due.
        p_new = send(p, to="+4918599999999", type="template",
                     content=TEMPLATE)["id"]
        q_new = send(q, to="+4918699999999", type="template",
                     content=TEMPLATE)["id"]
        wait_for(lambda: statuses(stack, [q_new])[q_new] == "sent",
                 timeout=30, what="the other account's new message sent")
        # The next cron run, a spooler of its own, leaves it too.
        cron = stack.run_spooler(base_conf, holder=holder + "-cron")
        assert "account %d:" % acct not in log_of(cron), log_of(cron)
        precs = sandbox.requests(p.phone)
        assert sorted(ref_id(r) for r in precs) == sorted(pids), precs
        assert all(r["error_code"] == code and r["status"] == http_status
                   for r in precs), precs
        assert statuses(stack, pids + [p_new]) == \
            {i: "queued" for i in pids + [p_new]}

        # The operator's resume (docs/decisions.md): the running spooler
        # takes the account again, with no restart.
        sandbox.script(replace=True)
        sql(stack, "UPDATE whatsapp_accounts SET paused_until = NULL "
            "WHERE id = %d" % acct)
        every = pids + [p_new]
        wait_for(lambda: set(statuses(stack, every).values()) == {"sent"},
                 timeout=60, what="the paused account's messages sent")
    finally:
        stopped(loop)
    ok = [r for r in sandbox.requests(p.phone) if r["status"] == 200]
    assert sorted(ref_id(r) for r in ok) == sorted(every), ok
    # By the spooler's own record: the paused account's first attempts,
    # then one start each after the resume; the paused attempt did not
    # count (one attempt each).
    pstarts = [x for x in trace_starts(trace) if x["account"] == acct]
    assert sorted((x["message"], x["attempt"]) for x in pstarts) == \
        sorted([(i, 1) for i in pids] * 2 + [(p_new, 1)]), pstarts
    assert sql(stack, "SELECT DISTINCT attempts FROM messages WHERE id IN "
               "(%s)" % ",".join(map(str, every))) == [["1"]]
    assert log_of(loop).count("paused for") == 1, log_of(loop)
    qok = Counter(ref_id(r) for r in sandbox.requests(q.phone))
    assert qok == {i: 1 for i in qids + [q_new]}, qok


# --------------------------------------------------------------------------
# 3. The ambiguous timeout, with a short spooler.graph_timeout_seconds


def test_graph_timeout_is_ambiguous(stack, graph_sandbox, base_conf,
                                    sandbox):
    """spooler.graph_timeout_seconds = 1 and answers that take 8 s: the
    request times out after it was written, so the message may have
    reached Meta; it stays 'sending', gets its one blind resend after the
    resend grace (2 s), times out again and fails as ambiguous. Meta (the
    sandbox) saw it exactly twice. With the default timeout (30 s) the 8 s
    answer would have been taken: the outcome shows the key at work."""
    conf = stack.write_spooler_config("spooler-timeout.conf",
                                      graph_sandbox.base,
                                      graph_timeout_seconds=1,
                                      resend_grace_seconds=2)
    k = new_sender(stack, mps=0)
    sandbox.script({"match": {"phone_number_id": k.phone},
                    "action": {"latency_ms": 8000}})
    m = send(k, type="template", content=TEMPLATE)

    def failed():
        return statuses(stack, [m["id"]])[m["id"]] == "failed"
    proc = run_until(stack, conf, failed, "the message failed as ambiguous",
                     timeout=90, holder="e2e-timeout-%d" % k.account["id"])
    log = log_of(proc)
    assert "resend grace 2 s" in log and "is not above" not in log, log
    left = re.findall(r"message %d: no answer to a request that may have "
                      r"reached Meta \(([^)]*)\)" % m["id"], log)
    assert len(left) == 2 and all("timed out" in x.lower() for x in left), \
        log
    assert "recovered 1 message(s) left 'sending'" in log, log
    assert "message %d: failed: still no answer after its blind resend" % \
        m["id"] in log, log
    recs = sandbox.requests(k.phone)
    assert [ref_id(r) for r in recs] == [m["id"]] * 2, recs
    got = assert_ok(k("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "failed" and got["wamid"] is None, got
    assert got["error"]["code"] == 131000, got
    assert got["error"]["title"] == ("Ambiguous: the send may have reached "
                                     "Meta; not resent"), got
    assert blind_resends(stack, [m["id"]]) == {m["id"]: 1}
    assert [d["id"] for d in events_of(stack, k.tenant.id, "message.failed")
            if d["id"] == m["id"]] == [m["id"]]

    # A grace not above the timeout: the spooler says so at start.
    warn = stack.write_spooler_config("spooler-timeout-warn.conf",
                                      graph_sandbox.base,
                                      graph_timeout_seconds=5,
                                      resend_grace_seconds=2)
    w = stack.run_spooler(warn)
    assert ("spooler.resend_grace_seconds (2) is not above "
            "spooler.graph_timeout_seconds (5): a slow answer may be sent "
            "twice") in log_of(w), log_of(w)


# --------------------------------------------------------------------------
# 4. A lease lost to another spooler with requests in flight


def lease_scene(stack, conf, sandbox, tag):
    """Spooler A (--loop) with 4 requests in flight (answered after 3 s),
    stopped (SIGSTOP) and its lease run out: set to the past in the
    database, as 15 s without a renewal would leave it. Returns (key, ids,
    A)."""
    k = new_sender(stack, mps=0)
    acct = k.account["id"]
    sandbox.script({"match": {"phone_number_id": k.phone},
                    "action": {"latency_ms": 3000}, "times": 4})
    ids = queue_many(k, 4, to_fmt="+49187%07d")
    a = stack.start_spooler(conf, "loop", holder="e2e-%s-a-%d" % (tag, acct))
    wait_for(lambda: in_flight(sandbox, k.phone, 4), timeout=30,
             what="A's 4 requests in flight", interval=0.02)
    wait_for(lambda: set(statuses(stack, ids).values()) == {"sending"},
             what="A's claims")
    os.kill(a.pid, signal.SIGSTOP)
    sql(stack, "UPDATE whatsapp_accounts SET lease_until = NOW(3) - "
        "INTERVAL 1 SECOND WHERE id = %d AND lease_holder = 'e2e-%s-a-%d'"
        % (acct, tag, acct))
    return k, ids, a


def start_b(stack, conf, sandbox, k, tag):
    """Spooler B (--loop), kept busy on the account by a message whose
    answer takes 20 s, so that it holds the lease while A comes back.
    Returns (B, that message's id)."""
    acct = k.account["id"]
    slow_to = "+4918800000001"
    sandbox.script({"match": {"phone_number_id": k.phone, "to": slow_to},
                    "action": {"latency_ms": 20000}})
    slow = send(k, to=slow_to, type="template", content=TEMPLATE)["id"]
    b_holder = "e2e-%s-b-%d" % (tag, acct)
    b = stack.start_spooler(conf, "loop", holder=b_holder)
    wait_for(lambda: lease_holder(stack, acct) == b_holder and
             any(ref_id(r) == slow for r in sandbox.requests(k.phone)),
             timeout=30, what="B holding the lease, its slow request out")
    return b, slow


def a_comes_back(stack, sandbox, k, a, ids):
    """A's answers are at the sandbox (sent while it was stopped); A goes
    on, finds its lease lost, and is stopped with SIGTERM (exit 0, having
    written what it owed)."""
    first = sandbox.requests(k.phone)[:4]
    assert sorted(ref_id(r) for r in first) == sorted(ids)
    wait_for(lambda: all(r["status"] == 200 for r in
                         sandbox.requests(k.phone)[:4]), timeout=30,
             what="Meta's answers to A")
    os.kill(a.pid, signal.SIGCONT)
    wait_for(lambda: "account %d: lease lost to another spooler" %
             k.account["id"] in log_of(a), timeout=30,
             what="A finding its lease lost")
    stopped(a)
    assert "done: 4 sent" in log_of(a), log_of(a)


def test_lease_lost_answers_within_grace(stack, graph_sandbox, base_conf,
                                         sandbox):
    """A's lease goes to B while A's 4 requests are in flight; A's answers
    come back within the resend grace (60 s): A records them (Meta
    accepted them) although its lease is lost, B leaves the claims alone,
    and nothing is sent twice."""
    conf = stack.write_spooler_config("spooler-lease60.conf",
                                      graph_sandbox.base,
                                      resend_grace_seconds=60,
                                      graph_timeout_seconds=50)
    k, ids, a = lease_scene(stack, conf, sandbox, "lease60")
    try:
        b, slow = start_b(stack, conf, sandbox, k, "lease60")
        try:
            a_comes_back(stack, sandbox, k, a, ids)
            assert set(statuses(stack, ids).values()) == {"sent"}
            wait_for(lambda: statuses(stack, [slow])[slow] == "sent",
                     timeout=60, what="B's slow message sent")
        finally:
            stopped(b)
    finally:
        kill_stopped(a)
    assert "recovered" not in log_of(b), log_of(b)
    recs = sandbox.requests(k.phone)
    counts = Counter(ref_id(r) for r in recs)
    assert counts == {i: 1 for i in ids + [slow]}, counts
    assert wamids(stack, ids) == {ref_id(r): r["wamid"] for r in recs
                                  if ref_id(r) in ids}
    sent_ev = Counter(d["id"] for d in events_of(stack, k.tenant.id,
                                                 "message.sent"))
    assert sent_ev == {i: 1 for i in ids + [slow]}, sent_ev
    assert set(blind_resends(stack, ids).values()) == {0}


def test_lease_lost_recovered_by_another(stack, graph_sandbox, base_conf,
                                         sandbox):
    """A's lease goes to B while A's 4 requests are in flight, and stays
    gone past the resend grace (2 s): B's recovery gives each its one
    blind resend (the limit docs/decisions.md states: Meta got it twice)
    and records B's wamids. A, back with Meta's answers to its own
    requests, does not overwrite them: the messages stay sent with B's
    wamids, with one message.sent each and no further request."""
    conf = stack.write_spooler_config("spooler-lease2.conf",
                                      graph_sandbox.base,
                                      resend_grace_seconds=2,
                                      graph_timeout_seconds=50)
    k, ids, a = lease_scene(stack, conf, sandbox, "lease2")
    try:
        wait_for(lambda: past_grace(stack, k.account["id"], 2), timeout=30,
                 what="the resend grace passed")
        b, slow = start_b(stack, conf, sandbox, k, "lease2")
        try:
            wait_for(lambda: set(statuses(stack, ids).values()) == {"sent"},
                     timeout=30, what="B's resends recorded")
            by_b = wamids(stack, ids)
            a_comes_back(stack, sandbox, k, a, ids)
            assert wamids(stack, ids) == by_b
            wait_for(lambda: statuses(stack, [slow])[slow] == "sent",
                     timeout=60, what="B's slow message sent")
        finally:
            stopped(b)
    finally:
        kill_stopped(a)
    assert "recovered 4 message(s)" in log_of(b), log_of(b)
    recs = sandbox.requests(k.phone)
    counts = Counter(ref_id(r) for r in recs)
    want = {i: 2 for i in ids}
    want[slow] = 1
    assert counts == want, counts
    assert all(r["status"] == 200 for r in recs)
    # B's wamids (the second request of each) are the ones kept.
    second = {}
    for r in recs:
        if ref_id(r) in ids:
            second[ref_id(r)] = r["wamid"]
    assert by_b == second
    sent_ev = Counter(d["id"] for d in events_of(stack, k.tenant.id,
                                                 "message.sent"))
    assert sent_ev == {i: 1 for i in ids + [slow]}, sent_ev
    assert set(blind_resends(stack, ids).values()) == {1}


# --------------------------------------------------------------------------
# 5. --loop mode


def test_loop_mode(stack, base_conf, sandbox):
    """--loop sends what is accepted at any time, without a restart; on
    SIGTERM it starts nothing new, finishes the requests in flight, records
    them, releases its lease and exits 0."""
    k = new_sender(stack, mps=0)
    acct = k.account["id"]
    holder = "e2e-loop-%d" % acct
    loop = stack.start_spooler(base_conf, "loop", holder=holder)
    try:
        wait_for(lambda: "start: loop" in log_of(loop),
                 what="the loop's start line")
        first = queue_many(k, 3, to_fmt="+49189%07d")
        wait_for(lambda: set(statuses(stack, first).values()) == {"sent"},
                 timeout=30, what="the first batch sent")
        # Later work, picked up by the same process: wait for the lease to
        # be released (the account idle), so this is new work, not more of
        # the first claim.
        wait_for(lambda: lease_holder(stack, acct) == "NULL", timeout=30,
                 what="the idle account released")
        second = queue_many(k, 3, to_fmt="+49190%07d")
        wait_for(lambda: set(statuses(stack, second).values()) == {"sent"},
                 timeout=30, what="the second batch sent")
        # A third batch in flight (answers after 3 s) when SIGTERM comes.
        sandbox.config(latency_ms=3000)
        third = queue_many(k, 3, to_fmt="+49191%07d")
        def third_in_flight():
            recs = sandbox.requests(k.phone)
            return len(recs) == 9 and all(r["status"] is None
                                          for r in recs[6:])
        wait_for(third_in_flight, timeout=30,
                 what="the third batch in flight", interval=0.02)
        assert loop.popen.poll() is None, log_of(loop)
        os.kill(loop.pid, signal.SIGTERM)
        # The hang guard: STOP_WAIT_S (10 s) plus slack.
        loop.popen.wait(40)
    finally:
        stopped(loop)
    log = log_of(loop)
    assert "stopping (signal): 3 request(s) in flight" in log, log
    assert "giving up" not in log, log
    assert "done: 9 sent, 0 failed" in log, log
    assert set(statuses(stack, first + second + third).values()) == {"sent"}
    counts = Counter(ref_id(r) for r in sandbox.requests(k.phone))
    assert counts == {i: 1 for i in first + second + third}, counts
    assert lease_holder(stack, acct) == "NULL"
    # Taken again for the later work (the idle account was released).
    assert log.count("account %d: lease taken" % acct) >= 2, log


# --------------------------------------------------------------------------
# 6. A pause's record written late (a journal adopted long after)


def test_late_pause_record_does_not_pause_again(stack, base_conf, sandbox):
    """A pause is journaled with its end, not its length: a record adopted
    after its end (the host was down; the operator has resumed the
    account meanwhile) changes nothing, while one still running pauses
    the account until its end, not from the time it is written."""
    t = stack.create_tenant()
    p = new_sender(stack, mps=0, tenant=t)
    q = new_sender(stack, mps=0, tenant=t)
    now = int(sql(stack, "SELECT UNIX_TIMESTAMP()")[0][0])
    jdir = os.path.join(stack.work, stack.unique("journal-latepause-"))
    os.makedirs(jdir)
    with open(os.path.join(jdir, "gone-host_1_aa.journal"), "w") as f:
        f.write(json.dumps({"k": "pause", "id": p.account["id"],
                            "delay": now - 60, "holder": "gone"}) + "\n")
        f.write(json.dumps({"k": "pause", "id": q.account["id"],
                            "delay": now + 300, "holder": "gone"}) + "\n")
    pids = queue_many(p, 2, to_fmt="+49187%07d")
    qids = queue_many(q, 2, to_fmt="+49188%07d")
    proc = stack.run_spooler(base_conf, extra_args=("--journal", jdir))
    assert "2 result(s) of a spooler that is gone taken over" in \
        log_of(proc), \
        log_of(proc)
    rows = sql(stack, "SELECT id, COALESCE(UNIX_TIMESTAMP(paused_until), "
               "0) FROM whatsapp_accounts WHERE id IN (%d, %d)" %
               (p.account["id"], q.account["id"]))
    until = {int(i): float(u) for i, u in rows}
    assert until[p.account["id"]] == 0, until
    assert until[q.account["id"]] == now + 300, until
    assert set(statuses(stack, pids).values()) == {"sent"}
    assert set(statuses(stack, qids).values()) == {"queued"}
    assert sandbox.requests(q.phone) == []
