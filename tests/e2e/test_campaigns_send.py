"""Campaign messages in the spooler's send queue (SPEC 7), end to end:
campaign messages made directly in the database as the expansion queues
them (a campaigns row in phase 'sending', its recipients and counters,
messages with campaign_id in lane 1: the content of a template send, as
POST /messages/send stores it, with the campaign's placeholders unfilled),
sent by the real spooler to the sandbox Graph API, whose records give the
exact payload per recipient and the arrival order.

Covered: placeholders and fallbacks filled per recipient; a recipient who
opted out after the snapshot (131050), whose contact was deleted (131026)
or lacks a value without fallback (131008) fails without a request;
131049 fails one recipient, never retried; a PAUSED template (132015)
stops the campaign (failed, error, the rest queued and parked, no further
requests); a cancel mid-run parks the rest; a conversational send goes out
ahead of a 5,000-message backlog; the stats (campaign_counters sums) and
recipient statuses after Meta's statuses, total == sum at every poll."""
import json
import signal
import time

import pytest

from conftest import (TEMPLATE, assert_no_sanitizer, assert_ok, events_of,
                      new_sender, queue_many, read_log, ref_id, send, sql,
                      trace_path, trace_starts, wait_for)

COMPONENTS = [
    {"type": "body", "parameters": [
        {"type": "text", "parameter_name": "first_name",
         "text": "{{contact.name|there}}"},
        {"type": "text", "parameter_name": "discount",
         "text": "{{contact.custom_fields.discount|10%}} for "
                 "{{ contact.phone }}"}]}]


# --------------------------------------------------------------------------
# Helpers


def q(stack, query):
    """SQL as root in the session database, UTF-8 on the wire."""
    return sql(stack, "SET NAMES utf8mb4; " + query)


def lit(s):
    """A SQL string literal (the tests' own values: quotes doubled,
    backslashes escaped)."""
    return "'" + s.replace("\\", "\\\\").replace("'", "''") + "'"


def make_campaign(stack, key, contact_ids, template="spring_sale",
                  language="en", components=None):
    """A running campaign of key's tenant on key's account, in phase
    'sending' (expanded), with one recipient, one open conversation and one
    queued lane-1 message per contact (in contact id order), and its
    counters (total = queued = n). Returns (campaign id, {contact id:
    message id})."""
    tenant = key.tenant.id
    acct = key.account["id"]
    comps = COMPONENTS if components is None else components
    content = json.dumps({"name": template, "language": {"code": language},
                          "components": comps})
    n = len(contact_ids)
    lo, hi = min(contact_ids), max(contact_ids)
    # A contiguous run (bulk_contacts) by its range: an IN list of
    # thousands would not fit on the client's command line.
    if hi - lo + 1 == n:
        in_ids = "BETWEEN %d AND %d" % (lo, hi)
    else:
        in_ids = "IN (%s)" % ",".join(str(c) for c in contact_ids)
    rows = q(stack,
             "INSERT INTO segments (tenant_id, name, tags, match_all, "
             "created_at, updated_at) VALUES (%d, 'all', '[]', 0, "
             "UTC_TIMESTAMP(), UTC_TIMESTAMP()); "
             "INSERT INTO campaigns (tenant_id, name, whatsapp_account_id, "
             "segment_id, template_name, template_language, "
             "template_components, status, scheduled_at, started_at, phase, "
             "snapshot_cursor, queue_cursor, created_at, updated_at) VALUES "
             "(%d, 'test', %d, LAST_INSERT_ID(), %s, %s, %s, 'running', "
             "UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), 'sending', %d, %d, "
             "UTC_TIMESTAMP(), UTC_TIMESTAMP()); "
             "SET @c = LAST_INSERT_ID(); "
             "INSERT IGNORE INTO conversations (tenant_id, contact_id, "
             "whatsapp_account_id, status, last_message_at, created_at, "
             "updated_at) SELECT %d, id, %d, 'open', UTC_TIMESTAMP(), "
             "UTC_TIMESTAMP(), UTC_TIMESTAMP() FROM contacts WHERE "
             "tenant_id = %d AND id %s; "
             "INSERT INTO messages (tenant_id, conversation_id, contact_id, "
             "whatsapp_account_id, direction, type, to_phone, content, status, "
             "next_attempt_at, accepted_at, created_at, updated_at, "
             "campaign_id, lane) SELECT c.tenant_id, v.id, c.id, %d, "
             "'outbound', 'template', c.phone, %s, 'queued', "
             "UTC_TIMESTAMP(3), UTC_TIMESTAMP(3), UTC_TIMESTAMP(), "
             "UTC_TIMESTAMP(), @c, 1 FROM contacts c JOIN conversations v ON "
             "v.contact_id = c.id AND v.whatsapp_account_id = %d AND "
             "v.open_marker = 1 WHERE c.tenant_id = %d AND c.id %s "
             "ORDER BY c.id; "
             "INSERT INTO campaign_recipients (campaign_id, contact_id, phone, "
             "message_id, status, updated_at) SELECT @c, contact_id, "
             "to_phone, id, 'queued', UTC_TIMESTAMP() FROM messages WHERE "
             "campaign_id = @c; "
             "INSERT INTO campaign_counters (campaign_id, shard, total, "
             "queued) VALUES (@c, 0, %d, %d); "
             "SELECT @c;" %
             (tenant, tenant, acct, lit(template), lit(language),
              lit(json.dumps(comps)), max(contact_ids), max(contact_ids),
              tenant, acct, tenant, in_ids, acct, lit(content), acct, tenant,
              in_ids, n, n))
    cid = int(rows[-1][0])
    msgs = {int(c): int(m) for c, m in q(
        stack, "SELECT contact_id, id FROM messages WHERE campaign_id = %d"
        % cid)}
    assert sorted(msgs) == sorted(contact_ids)
    return cid, msgs


def bulk_contacts(stack, key, n, prefix):
    """n contacts of key's tenant made by SQL (phone prefix + 7 digits,
    name "C<i>"), in id order."""
    q(stack, "SET SESSION max_recursive_iterations = 1000000; "
      "INSERT INTO contacts (tenant_id, name, phone, email, tags, "
      "custom_fields, opted_out, created_at, updated_at) "
      "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
      "WHERE i < %d) SELECT %d, CONCAT('C', i), CONCAT('%s', "
      "LPAD(i, 7, '0')), NULL, '[]', '{}', 0, UTC_TIMESTAMP(), "
      "UTC_TIMESTAMP() FROM s" % (n, key.tenant.id, prefix))
    return [int(i) for (i,) in q(
        stack, "SELECT id FROM contacts WHERE tenant_id = %d AND phone LIKE "
        "'%s%%' ORDER BY id" % (key.tenant.id, prefix))]


def stats(stack, cid):
    (row,) = q(stack, "SELECT COALESCE(SUM(total), 0), "
               "COALESCE(SUM(queued), 0), COALESCE(SUM(sent), 0), "
               "COALESCE(SUM(delivered), 0), COALESCE(SUM(`read`), 0), "
               "COALESCE(SUM(failed), 0) FROM campaign_counters WHERE "
               "campaign_id = %d" % cid)
    s = dict(zip(("total", "queued", "sent", "delivered", "read", "failed"),
                 (int(v) for v in row)))
    assert s["total"] == sum(s[k] for k in ("queued", "sent", "delivered",
                                            "read", "failed")), s
    return s


def recipients(stack, cid):
    """{contact id: (status, error_code or None, error_title, message
    status, message error_code, lane)}"""
    rows = q(stack, "SELECT r.contact_id, r.status, r.error_code, "
             "HEX(r.error_title), m.status, m.error_code, m.lane FROM "
             "campaign_recipients r JOIN messages m ON m.id = r.message_id "
             "WHERE r.campaign_id = %d" % cid)
    out = {}
    for c, st, code, title, mst, mcode, lane in rows:
        out[int(c)] = (st, None if code == "NULL" else int(code),
                       None if title == "NULL" else
                       bytes.fromhex(title).decode(), mst,
                       None if mcode == "NULL" else int(mcode), int(lane))
    return out


def message_error(stack, mid):
    (row,) = q(stack, "SELECT error_code, HEX(error_title), "
               "HEX(error_message) FROM messages WHERE id = %d" % mid)
    return (int(row[0]), bytes.fromhex(row[1]).decode(),
            bytes.fromhex(row[2]).decode())


def campaign_row(stack, cid):
    (row,) = q(stack, "SELECT status, phase, error_code, HEX(error_title), "
               "finished_at IS NOT NULL FROM campaigns WHERE id = %d" % cid)
    return {"status": row[0], "phase": row[1],
            "error_code": None if row[2] == "NULL" else int(row[2]),
            "error_title": None if row[3] == "NULL" else
            bytes.fromhex(row[3]).decode(), "finished": row[4] == "1"}


@pytest.fixture(scope="module")
def conf(stack, graph_sandbox):
    return stack.write_spooler_config("campaign-send.conf",
                                      graph_sandbox.base)


@pytest.fixture
def sb(sandbox):
    """The reset sandbox; config this module changes is put back."""
    yield sandbox
    sandbox.config(strict_templates=False, auto_status="none",
                   webhook_url=None)


def drain(stack, conf, **kw):
    proc = stack.run_spooler(conf, "drain", max_seconds=60, **kw)
    return read_log(proc.log, tail=10 ** 6)


def contact(key, phone, **fields):
    return key.create_contact(phone=phone, **fields)["id"]


# --------------------------------------------------------------------------
# Tests


def test_payload_per_recipient(stack, conf, sb):
    """Each recipient's Graph payload: the campaign's template with its
    text parameters filled from the contact as it is at sending time,
    fallbacks where a value is missing; sent, and counted as sent."""
    k = new_sender(stack)
    a = contact(k, "+4915200000001", name="Ana", email="ana@example.com",
                custom_fields={"discount": "25%", "n": 3})
    b = contact(k, "+4915200000002")
    c = contact(k, "+4915200000003", name="Zoë", custom_fields={"x": 1})
    cid, msgs = make_campaign(stack, k, [a, b, c])
    # Changed after queueing: the send uses the contact as it is now.
    assert_ok(k("PATCH", "/contacts/%d" % c, {"name": "Zoë Q"}))
    drain(stack, conf)
    recs = sb.requests(phone_number_id=k.phone)
    assert len(recs) == 3
    bodies = {ref_id(r): r["body"] for r in recs}

    def want(mid, to, first, discount):
        return {"messaging_product": "whatsapp",
                "recipient_type": "individual", "to": to, "type": "template",
                "template": {"name": "spring_sale",
                             "language": {"code": "en"},
                             "components": [{"type": "body", "parameters": [
                                 {"type": "text",
                                  "parameter_name": "first_name",
                                  "text": first},
                                 {"type": "text",
                                  "parameter_name": "discount",
                                  "text": discount}]}]},
                "biz_opaque_callback_data": "wz:%d" % mid}
    assert bodies[msgs[a]] == want(msgs[a], "+4915200000001", "Ana",
                                   "25% for +4915200000001")
    assert bodies[msgs[b]] == want(msgs[b], "+4915200000002", "there",
                                   "10% for +4915200000002")
    assert bodies[msgs[c]] == want(msgs[c], "+4915200000003", "Zoë Q",
                                   "10% for +4915200000003")
    r = recipients(stack, cid)
    assert {x[0] for x in r.values()} == {"sent"}
    assert stats(stack, cid) == {"total": 3, "queued": 0, "sent": 3,
                                 "delivered": 0, "read": 0, "failed": 0}
    # Ordinary messages, with their events.
    sent = {e["id"] for e in events_of(stack, k.tenant.id, "message.sent")}
    assert set(msgs.values()) <= sent


def test_recipient_failures_without_request(stack, conf, sb):
    """Opted out after the snapshot -> 131050, contact deleted -> 131026,
    a placeholder without value or fallback -> 131008: failed without a
    request, through the normal result path (message.failed, stats)."""
    k = new_sender(stack)
    ok = contact(k, "+4915300000001", name="Ok", email="ok@example.com")
    out = contact(k, "+4915300000002", name="Out", email="o@example.com")
    gone = contact(k, "+4915300000003", name="Gone", email="g@example.com")
    nomail = contact(k, "+4915300000004", name="No mail")
    comps = [{"type": "body", "parameters": [
        {"type": "text", "text": "{{contact.name}}"},
        {"type": "text", "text": "Write to {{contact.email}}"}]}]
    cid, msgs = make_campaign(stack, k, [ok, out, gone, nomail],
                              components=comps)
    assert_ok(k("PATCH", "/contacts/%d" % out, {"opted_out": True}))
    assert_ok(k("DELETE", "/contacts/%d" % gone))
    drain(stack, conf)
    recs = sb.requests(phone_number_id=k.phone)
    assert [ref_id(r) for r in recs] == [msgs[ok]]
    assert recs[0]["body"]["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ok"},
        {"type": "text", "text": "Write to ok@example.com"}]
    r = recipients(stack, cid)
    assert r[ok][0] == "sent"
    assert r[out][:3] == ("failed", 131050, "Contact opted out")
    assert r[gone][:3] == ("failed", 131026, "Contact deleted")
    assert r[nomail][:3] == ("failed", 131008,
                             "Required parameter is missing")
    assert message_error(stack, msgs[nomail]) == (
        131008, "Required parameter is missing",
        "The contact has no value for {{contact.email}} and it has no "
        "fallback.")
    assert message_error(stack, msgs[out])[0] == 131050
    for c in (out, gone, nomail):
        assert r[c][3:5] == ("failed", r[c][1])
    failed = {e["id"]: e for e in events_of(stack, k.tenant.id,
                                            "message.failed")}
    assert set(failed) == {msgs[out], msgs[gone], msgs[nomail]}
    assert failed[msgs[gone]]["error"]["code"] == 131026
    assert stats(stack, cid) == {"total": 4, "queued": 0, "sent": 1,
                                 "delivered": 0, "read": 0, "failed": 3}


def test_131049_fails_the_recipient_only(stack, conf, sb):
    """Meta's per-user marketing limit (131049, scripted for one
    recipient): that recipient fails after one request, never retried;
    the others are sent and the campaign goes on."""
    k = new_sender(stack)
    ids = [contact(k, "+491540000000%d" % i, name="N%d" % i)
           for i in range(1, 5)]
    cid, msgs = make_campaign(stack, k, ids)
    sb.script({"match": {"to": "+4915400000002"},
               "action": {"error_code": 131049}})
    drain(stack, conf)
    recs = sb.requests(phone_number_id=k.phone)
    per = {}
    for rec in recs:
        per.setdefault(ref_id(rec), []).append(rec)
    assert sorted(per) == sorted(msgs.values())
    assert all(len(v) == 1 for v in per.values())     # no retry
    assert per[msgs[ids[1]]][0]["error_code"] == 131049
    r = recipients(stack, cid)
    assert r[ids[1]][:2] == ("failed", 131049)
    assert {r[c][0] for c in ids if c != ids[1]} == {"sent"}
    (att,) = q(stack, "SELECT attempts FROM messages WHERE id = %d" %
               msgs[ids[1]])
    assert att == ["1"]
    assert campaign_row(stack, cid)["status"] == "running"
    assert stats(stack, cid)["failed"] == 1


def test_paused_template_stops_the_campaign(stack, conf, sb):
    """A PAUSED template (winter_promo: 132015 with strict templates): the
    message that got it fails, the campaign fails with that error and is
    parking, the remaining recipients stay queued and their messages are
    parked (lane 2), and no request follows. At 1 msg/s the first answer
    is written before the next claim."""
    sb.config(strict_templates=True)
    k = new_sender(stack, mps=1)
    ids = bulk_contacts(stack, k, 8, "+4915500")
    cid, msgs = make_campaign(stack, k, ids, template="winter_promo",
                              language="en_US", components=[])
    log = drain(stack, conf)
    recs = sb.requests(phone_number_id=k.phone)
    assert recs and all(r["error_code"] == 132015 for r in recs)
    c = campaign_row(stack, cid)
    assert c["status"] == "failed" and c["phase"] == "parking", c
    assert c["error_code"] == 132015 and c["finished"]
    assert c["error_title"], c
    r = recipients(stack, cid)
    failed = {x for x, v in r.items() if v[0] == "failed"}
    asked = {ref_id(rec) for rec in recs}
    assert failed == {x for x, m in msgs.items() if m in asked}
    assert all(r[x][1] == 132015 for x in failed)
    rest = set(ids) - failed
    assert len(rest) >= len(ids) - 2
    for x in rest:
        assert r[x][0] == "queued" and r[x][3] == "queued", r[x]
        assert r[x][5] == 2     # parked: never claimed again
    assert stats(stack, cid) == {"total": 8, "queued": len(rest), "sent": 0,
                                 "delivered": 0, "read": 0,
                                 "failed": len(failed)}
    assert "campaign %d: failed (stopped) after error 132015" % cid in log
    # Nothing more is sent for it.
    drain(stack, conf)
    assert len(sb.requests(phone_number_id=k.phone)) == len(recs)
    # The account is not paused by a template's error.
    assert q(stack, "SELECT paused_until IS NULL FROM whatsapp_accounts "
             "WHERE id = %d" % k.account["id"]) == [["1"]]


def test_cancel_mid_run_parks_the_rest(stack, conf, sb):
    """A campaign cancelled while its messages are being sent (the API's
    update, done here in SQL): the next claim parks its messages instead
    of sending them; the sends stop (at most the claim in progress and
    the requests in flight follow: one message per claim at 20 msg/s)."""
    k = new_sender(stack, mps=20)
    ids = bulk_contacts(stack, k, 200, "+4915600")
    cid, msgs = make_campaign(stack, k, ids)
    proc = stack.start_spooler(conf, "drain", max_seconds=60)
    try:
        wait_for(lambda: len(sb.requests(phone_number_id=k.phone)) >= 10,
                 timeout=30, what="10 campaign sends")
        q(stack, "UPDATE campaigns SET status = 'cancelled', "
          "finished_at = UTC_TIMESTAMP(3), phase = 'parking' WHERE id = %d"
          % cid)
        at_cancel = len(sb.requests(phone_number_id=k.phone))
        proc.popen.wait(90)
    finally:
        if proc.popen.poll() is None:
            proc.stop(signal.SIGKILL)
    assert proc.popen.returncode == 0, read_log(proc.log)
    assert_no_sanitizer(proc.log)
    recs = sb.requests(phone_number_id=k.phone)
    assert len(recs) - at_cancel <= 3, (len(recs), at_cancel)
    r = recipients(stack, cid)
    sent = {x for x, v in r.items() if v[0] == "sent"}
    assert {ref_id(rec) for rec in recs} == {msgs[x] for x in sent}
    rest = set(ids) - sent
    assert len(rest) >= 150
    assert all(r[x][0] == "queued" and r[x][3] == "queued" and r[x][5] == 2
               for x in rest)
    assert stats(stack, cid) == {"total": 200, "queued": len(rest),
                                 "sent": len(sent), "delivered": 0,
                                 "read": 0, "failed": 0}
    assert "parked" in read_log(proc.log, tail=10 ** 6)


def test_conversational_send_overtakes_the_backlog(stack, conf, sb):
    """5,000 campaign messages wait on the account (100 msg/s); a reply
    POSTed through the API reaches the sandbox in the next claim, ahead of
    the backlog (sandbox arrival order), while most of the campaign is
    still queued. The claim reads messages_claim in order (EXPLAIN: no
    filesort)."""
    k = new_sender(stack, mps=100)
    ids = bulk_contacts(stack, k, 5000, "+4915700")
    cid, msgs = make_campaign(stack, k, ids)
    for lane in (0, 1):     # SPOOL_CLAIM's and CSEND_CLAIM's plans
        plan = q(stack, "EXPLAIN SELECT id FROM messages WHERE "
                 "whatsapp_account_id = %d AND status = 'queued' AND "
                 "lane = %d AND next_attempt_at <= NOW(3) ORDER BY "
                 "next_attempt_at, id LIMIT 50 FOR UPDATE SKIP LOCKED" %
                 (k.account["id"], lane))
        assert len(plan) == 1 and plan[0][5] == "messages_claim", plan
        assert "filesort" not in plan[0][-1], plan
    proc = stack.start_spooler(conf, "once", max_seconds=120)
    try:
        wait_for(lambda: len(sb.requests(phone_number_id=k.phone)) >= 50,
                 timeout=30, what="50 campaign sends")
        reply = send(k, to="+4915799999999", type="template",
                     content={"name": "hello_world",
                              "language": {"code": "en_US"}})
        wait_for(lambda: q(stack, "SELECT status FROM messages WHERE id = %d"
                           % reply["id"]) == [["sent"]],
                 timeout=30, what="the reply sent")
    finally:
        rc = proc.stop(signal.SIGTERM)
    assert rc == 0, read_log(proc.log)
    assert_no_sanitizer(proc.log)
    recs = sb.requests(phone_number_id=k.phone)
    order = [ref_id(r) for r in recs]
    assert order.count(reply["id"]) == 1
    before = order.index(reply["id"])
    assert before < 1000, before
    queued = stats(stack, cid)["queued"]
    assert queued >= 4000, queued
    assert set(order) - {reply["id"]} <= set(msgs.values())


def test_stats_follow_statuses(stack, conf, sb):
    """Meta's statuses move the recipients and the stats: the sandbox
    posts sent and delivered (auto-status) as signed webhooks to Wazera,
    then a read for two of them; total == the sum at every poll."""
    k = new_sender(stack)
    sb.config(webhook_url="http://127.0.0.1:%d/api/v1/whatsapp/webhook" %
              stack.port, app_secrets={k.phone: k.app_secret},
              auto_status="delivered")
    ids = [contact(k, "+491580000000%d" % i, name="S%d" % i)
           for i in range(1, 6)]
    cid, msgs = make_campaign(stack, k, ids)
    proc = stack.start_spooler(conf, "drain", max_seconds=60)
    seen = []
    try:
        def all_delivered():
            seen.append(stats(stack, cid))     # asserts total == sum
            return seen[-1]["delivered"] == 5
        wait_for(all_delivered, timeout=30, what="5 delivered")
        proc.popen.wait(60)
    finally:
        if proc.popen.poll() is None:
            proc.stop(signal.SIGKILL)
    assert proc.popen.returncode == 0, read_log(proc.log)
    recs = {ref_id(r): r for r in sb.requests(phone_number_id=k.phone)}
    for c in ids[:2]:
        assert sb.ctl("POST", "webhook", {"statuses": [
            {"id": recs[msgs[c]]["wamid"], "status": "read"}]})[
            "status"] == 200
    assert stats(stack, cid) == {"total": 5, "queued": 0, "sent": 0,
                                 "delivered": 3, "read": 2, "failed": 0}
    r = recipients(stack, cid)
    assert [r[c][0] for c in ids] == ["read", "read", "delivered",
                                      "delivered", "delivered"]
    assert all(r[c][0] == r[c][3] for c in ids)
    assert len(seen) >= 1


def max_in_window(times_us, window_us):
    """The most starts within any half-open window [t, t + window_us)."""
    ts = sorted(times_us)
    best, j = 0, 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= window_us:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_one_rate_for_campaign_and_conversational(stack, conf, sb):
    """Campaign and conversational sends of an account share its mps (20):
    never more than 20 starts in any window of the rate (the spooler's own
    --trace, CLOCK_MONOTONIC: a second plus rate.c's 50 ms guard), and the
    conversational ones, queued after the campaign's backlog, all start
    before any campaign message."""
    k = new_sender(stack, mps=20)
    ids = bulk_contacts(stack, k, 60, "+4915900")
    cid, msgs = make_campaign(stack, k, ids)
    conv = queue_many(k, 20, to_fmt="+49159%07d")
    trace = trace_path(stack, "campaign-rate")
    drain(stack, conf, extra_args=("--trace", trace))
    starts = trace_starts(trace)
    assert sorted(x["message"] for x in starts) == sorted(
        conv + list(msgs.values())), starts
    times = [x["t_us"] for x in starts]
    assert max_in_window(times, 1020000) <= 20, sorted(times)
    order = [x["message"] for x in sorted(starts, key=lambda x: x["t_us"])]
    assert set(order[:20]) == set(conv), order
    assert stats(stack, cid)["sent"] == 60
