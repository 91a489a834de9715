"""Campaigns expanded by wazera-spooler (SPEC 7, the issue 12 design,
"Expansion"): a campaign starts at its scheduled_at and not before; its
audience is snapshotted and its messages queued in batches, each contact
exactly once, with two spoolers at once, across a kill -9 mid-snapshot and
mid-queueing, and when a spooler that lost its lease wakes up; the
messages are what the API's template send stores; new conversations get
their conversation.created events (and webhook deliveries); completion
emits campaign.completed once (events, and delivered to a receiver); a
cancel parks the rest and sends stop; the stats add up at every poll; an
empty segment completes with total 0.

Campaigns and segments are rows here, as the API's routes store them
(those routes are another branch's); audiences are seeded with SQL
(campaign_util.py). Test-only environment variables of the spooler
(app/spooler/queue_campaign.c) shrink the batches and stop the process
(SIGSTOP) after its N-th batch, so a test can look at a campaign midway
and kill it there."""
import collections
import json
import os
import signal
import time

import pytest

from campaign_util import (UUID4, Receiver, balanced, campaign, cancel,
                           env_spooler, expire_lease, finish, log_lines,
                           make_campaign, make_segment, pause_account,
                           seed_contacts, sends, spooler_conf, stats,
                           stopped)
from conftest import (assert_ok, events_of, new_sender, read_log, sql,
                      wait_for)


@pytest.fixture
def campaigns(stack):
    """Collects the test's campaign ids; at the end they are finished
    (done, messages parked) so no later test's spooler takes them."""
    made = []
    yield made
    finish(stack, made)


def digits(p):
    return "".join(c for c in p if c.isdigit())


def assert_each_once(sandbox, phone_id, phones):
    got = collections.Counter(digits(p) for p in sends(sandbox, phone_id))
    want = collections.Counter(digits(p) for p in phones)
    dup = {p: n for p, n in got.items() if n > 1}
    assert not dup, "sent more than once: %r" % list(dup.items())[:5]
    assert got == want, (len(got), len(want))


def assert_messages_once(stack, cid, contact_ids):
    rows = sql(stack, "SELECT contact_id, COUNT(*) FROM messages WHERE "
               "campaign_id = %d GROUP BY contact_id" % cid)
    assert sorted(int(c) for c, _ in rows) == sorted(contact_ids)
    assert {n for _, n in rows} == {"1"}
    # Each recipient but those failed without one has its message.
    assert sql(stack, "SELECT COUNT(*) FROM campaign_recipients r LEFT JOIN "
               "messages m ON m.id = r.message_id AND m.contact_id = "
               "r.contact_id AND m.campaign_id = r.campaign_id WHERE "
               "r.campaign_id = %d AND m.id IS NULL AND NOT (r.status = "
               "'failed' AND r.message_id IS NULL)" % cid) == [["0"]]


def run_drain(stack, conf, monkeypatch=None, env=None, timeout=120):
    proc = env_spooler(stack, monkeypatch, conf, "drain", env,
                       max_seconds=timeout) if env else \
        stack.start_spooler(conf, "drain", max_seconds=timeout)
    proc.popen.wait(timeout + 45)
    assert proc.popen.returncode == 0, read_log(proc.log)
    return proc


def completed_once(stack, key, cid):
    evs = [e for e in events_of(stack, key.tenant.id, "campaign.completed")
           if e["id"] == cid]
    assert len(evs) == 1, evs
    return evs[0]


# --------------------------------------------------------------------------


def test_scheduled_not_before_its_time(stack, sandbox, campaigns):
    key = new_sender(stack, mps=0)
    ids, phones = seed_contacts(stack, key.tenant.id, 20)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg, in_seconds=3)
    campaigns.append(cid)
    conf = spooler_conf(stack, sandbox)

    # Before its time: a --drain run finds nothing to do.
    stack.run_spooler(conf)
    c = campaign(stack, cid)
    assert c["status"] == "scheduled" and c["phase"] == "snapshot", c
    assert c["started_at"] == "" and c["holder"] == "", c
    assert sql(stack, "SELECT COUNT(*) FROM campaign_recipients WHERE "
               "campaign_id = %d" % cid) == [["0"]]
    assert sends(sandbox, key.phone) == []

    # Its time (the database's clock, which the spooler reads) comes.
    wait_for(lambda: sql(stack, "SELECT scheduled_at <= NOW(3) FROM "
                         "campaigns WHERE id = %d" % cid) == [["1"]],
             timeout=10, what="scheduled_at passed")
    proc = stack.run_spooler(conf)
    c = campaign(stack, cid)
    assert c["status"] == "completed" and c["phase"] == "done", c
    assert c["started_at"] >= sql(stack, "SELECT scheduled_at FROM campaigns "
                                  "WHERE id = %d" % cid)[0][0]
    assert_each_once(sandbox, key.phone, phones.values())
    assert stats(stack, cid) == {"total": 20, "queued": 0, "sent": 20,
                                 "delivered": 0, "read": 0, "failed": 0}
    ev = completed_once(stack, key, cid)
    assert ev["status"] == "completed" and ev["stats"]["sent"] == 20, ev
    assert log_lines(proc.log, r"campaign %d: started" % cid)
    assert log_lines(proc.log, r"campaign %d: completed" % cid)


def test_empty_segment_completes_with_total_zero(stack, sandbox, campaigns):
    key = new_sender(stack, mps=0)
    seed_contacts(stack, key.tenant.id, 5, tags=("regular",))
    # Opted-out contacts are never in the audience.
    seed_contacts(stack, key.tenant.id, 5, tags=("vip",), prefix="7%03d" %
                  (int(key.tenant.id) % 1000), opted_out=True)
    seg = make_segment(stack, key.tenant.id, ["vip", "nobody"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    stack.run_spooler(spooler_conf(stack, sandbox))
    c = campaign(stack, cid)
    assert (c["status"], c["phase"]) == ("completed", "done"), c
    assert c["started_at"] and c["finished_at"], c
    assert stats(stack, cid)["total"] == 0
    assert sql(stack, "SELECT COUNT(*) FROM messages WHERE campaign_id = %d"
               % cid) == [["0"]]
    ev = completed_once(stack, key, cid)
    assert ev["stats"] == {"total": 0, "queued": 0, "sent": 0,
                           "delivered": 0, "read": 0, "failed": 0}
    assert sends(sandbox, key.phone) == []


def test_messages_as_the_api_stores_them(stack, sandbox, campaigns):
    """A campaign's message is the row POST /messages/send stores for a
    template (plus campaign_id and lane 1); new conversations get their
    conversation.created events (uuid rule, shape) and deliveries for the
    subscribed webhook; an existing open conversation is reused; a segment
    of "all" tags; campaign.completed reaches the receiver once."""
    key = new_sender(stack, mps=0)
    t = key.tenant.id
    both, phones = seed_contacts(stack, t, 6, tags=("vip", "de"))
    seed_contacts(stack, t, 4, tags=("vip",), prefix="8%03d" % (t % 1000))
    # One contact already has an open conversation on the account: the
    # API's send made it (and its message to compare with).
    comps = [{"type": "body", "parameters": [
        {"type": "text", "text": "{{contact.name|there}}"}]}]
    api = assert_ok(key("POST", "/messages/send", {
        "to": phones[both[0]], "whatsapp_account_id": key.account["id"],
        "type": "template", "content": {
            "name": "spring_sale", "language": {"code": "en"},
            "components": comps}}), 201)
    rcv = Receiver()
    try:
        hook = assert_ok(key("POST", "/webhooks", {
            "url": rcv.url, "events": ["conversation.created",
                                       "campaign.completed"]}), 201)
        seg = make_segment(stack, t, ["vip", "de"], match_all=True)
        cid = make_campaign(stack, key, seg, template="spring_sale",
                            language="en", components=comps)
        campaigns.append(cid)
        pause_account(stack, key.account["id"])
        stack.run_spooler(spooler_conf(stack, sandbox,
                                       allow_private_targets="true"))
        cols = ("tenant_id, conversation_id, whatsapp_account_id, "
                "direction, type, to_phone, content, status, attempts, "
                "accepted_at = next_attempt_at, "
                "created_at = DATE_FORMAT(accepted_at, '%Y-%m-%d %H:%i:%s'),"
                " created_at = updated_at, wamid IS NULL, error_code IS NULL")
        (ref,) = sql(stack, "SELECT %s FROM messages WHERE id = %d" %
                     (cols, api["id"]))
        rows = sql(stack, "SELECT contact_id, %s, campaign_id, lane FROM "
                   "messages WHERE campaign_id = %d ORDER BY contact_id" %
                   (cols, cid))
        assert [int(r[0]) for r in rows] == both
        for r in rows:
            assert r[-2:] == [str(cid), "1"], r
            got = r[1:-2]
            # All but the conversation and the phone as the API's row.
            assert got[0] == ref[0] and got[2:5] == ref[2:5], (got, ref)
            assert got[6:] == ref[6:], (got, ref)
            assert got[5] == phones[int(r[0])]
        # The contact with an open conversation: the same one.
        assert rows[0][2] == ref[1]
        (n_conv,), = sql(stack, "SELECT COUNT(*) FROM conversations WHERE "
                         "whatsapp_account_id = %d AND open_marker = 1" %
                         key.account["id"])
        assert int(n_conv) == 6
        # conversation.created for the 5 the campaign opened (+1 the
        # API's), each with the conversation as it shows now.
        evs = events_of(stack, t, "conversation.created")
        assert len(evs) == 6
        opened = {int(i): json.loads(bytes.fromhex(j).decode()) for i, j in
                  sql(stack, "SELECT v.id, HEX(v.json) FROM conversations o "
                      "JOIN conversation_shapes v ON v.id = o.id WHERE "
                      "o.opened_by_batch = %d" % cid)}
        assert len(opened) == 5
        assert sorted(e["contact"]["id"] for e in evs
                      if e["id"] in opened) == both[1:]
        for e in evs:
            if e["id"] in opened:
                assert e == opened[e["id"]]
        uuids = [u for (u,) in sql(stack, "SELECT uuid FROM events WHERE "
                                   "tenant_id = %d" % t)]
        assert all(UUID4.match(u) for u in uuids), uuids
        (nd,), = sql(stack, "SELECT COUNT(*) FROM webhook_deliveries d JOIN "
                     "events e ON e.id = d.event_id WHERE d.webhook_id = %d "
                     "AND e.type = 'conversation.created'" % hook["id"])
        assert int(nd) == 5     # the API's came before the webhook
        # conversation_counters add up to the open conversations.
        assert sql(stack, "SELECT SUM(n) FROM conversation_counters WHERE "
                   "tenant_id = %d AND status = 'open'" % t) == [["6"]]
        assert sql(stack, "SELECT SUM(contacts) FROM tenant_counters WHERE "
                   "tenant_id = %d" % t) == [["10"]]

        # Sends: the account unpaused; the campaign completes.
        pause_account(stack, key.account["id"], False)
        stack.run_spooler(spooler_conf(stack, sandbox,
                                       allow_private_targets="true"))
        assert campaign(stack, cid)["status"] == "completed"
        got = collections.Counter(digits(p) for p in sends(sandbox,
                                                            key.phone))
        assert got == collections.Counter(
            digits(phones[c]) for c in both + both[:1]), got
        completed_once(stack, key, cid)
        wait_for(lambda: rcv.events("campaign.completed"), timeout=20,
                 what="campaign.completed delivered")
        got = rcv.events("campaign.completed")
        assert len(got) == 1 and got[0]["data"]["id"] == cid, got
        assert got[0]["data"]["stats"]["total"] == 6
    finally:
        rcv.close()


def test_two_spoolers_at_once(stack, sandbox, campaigns, monkeypatch):
    key = new_sender(stack, mps=0)
    ids, phones = seed_contacts(stack, key.tenant.id, 3000)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    conf = spooler_conf(stack, sandbox)
    env = {"WAZERA_TEST_CAMPAIGN_BATCH": 150}
    a = env_spooler(stack, monkeypatch, conf, "drain", env, max_seconds=120)
    b = env_spooler(stack, monkeypatch, conf, "drain", env, max_seconds=120)
    for p in (a, b):
        p.popen.wait(165)
        assert p.popen.returncode == 0, read_log(p.log)
    # Both spoolers' exit is no proof of the end: one may have left
    # before the other completed; run until done.
    if campaign(stack, cid)["phase"] != "done":
        stack.run_spooler(conf)
    assert campaign(stack, cid)["status"] == "completed"
    assert_messages_once(stack, cid, ids)
    assert_each_once(sandbox, key.phone, phones.values())
    assert stats(stack, cid) == {"total": 3000, "queued": 0, "sent": 3000,
                                 "delivered": 0, "read": 0, "failed": 0}
    completed_once(stack, key, cid)
    assert len(events_of(stack, key.tenant.id, "conversation.created")) == \
        3000


@pytest.mark.parametrize("pause_after,phase", [(3, "snapshot"),
                                               (14, "queue")])
def test_kill9_midway_another_finishes(stack, sandbox, campaigns,
                                       monkeypatch, pause_after, phase):
    """A spooler stopped after its N-th batch (mid-snapshot, or in the
    queueing after it) is killed with SIGKILL; contacts are deleted
    meanwhile; another spooler finishes: every contact exactly once,
    the deleted ones failed (131026), one campaign.completed."""
    key = new_sender(stack, mps=0)
    ids, phones = seed_contacts(stack, key.tenant.id, 3000)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    pause_account(stack, key.account["id"])   # expansion only, first
    conf = spooler_conf(stack, sandbox)
    a = env_spooler(stack, monkeypatch, conf, "drain", {
        "WAZERA_TEST_CAMPAIGN_SNAPSHOT_BATCH": 1000,
        "WAZERA_TEST_CAMPAIGN_BATCH": 100,
        "WAZERA_TEST_CAMPAIGN_PAUSE": pause_after}, max_seconds=120)
    try:
        wait_for(lambda: stopped(a.pid) or a.popen.poll() is not None,
                 timeout=60, what="the spooler stopped after its batches")
        assert stopped(a.pid), read_log(a.log)
        c = campaign(stack, cid)
        assert c["phase"] == phase and c["status"] == "running", c
        st = stats(stack, cid)
        assert 0 < st["total"] and balanced(st), st
        if phase == "snapshot":
            assert st["total"] < 3000 and c["snapshot_cursor"] < ids[-1], c
        else:
            assert st["total"] == 3000 and 0 < c["queue_cursor"] < ids[-1]
        queued = int(sql(stack, "SELECT COUNT(*) FROM messages WHERE "
                         "campaign_id = %d" % cid)[0][0])
        assert 0 < queued < 3000
        os.kill(a.pid, signal.SIGKILL)
        a.popen.wait(10)
    finally:
        if a.popen.poll() is None:
            os.kill(a.pid, signal.SIGKILL)
            a.popen.wait(10)
    # Two contacts snapshotted, not queued yet, are deleted (the API).
    gone = ids[1500:1502]
    for g in gone:
        r = key("DELETE", "/contacts/%d" % g)
        assert r.status in (200, 204), r
    expire_lease(stack, cid)
    pause_account(stack, key.account["id"], False)
    b = run_drain(stack, conf)
    c = campaign(stack, cid)
    assert (c["status"], c["phase"]) == ("completed", "done"), c
    live = [i for i in ids if i not in gone]
    assert_messages_once(stack, cid, live)
    assert_each_once(sandbox, key.phone, [phones[i] for i in live])
    assert stats(stack, cid) == {"total": 3000, "queued": 0, "sent": 2998,
                                 "delivered": 0, "read": 0, "failed": 2}
    rows = sql(stack, "SELECT contact_id, status, error_code, error_title "
               "FROM campaign_recipients WHERE campaign_id = %d AND status "
               "= 'failed' ORDER BY contact_id" % cid)
    assert rows == [[str(g), "failed", "131026", "Contact deleted"]
                    for g in gone]
    completed_once(stack, key, cid)
    assert log_lines(b.log, r"campaign %d: completed" % cid)


def test_stale_spooler_wakes_after_its_lease_was_taken(stack, sandbox,
                                                        campaigns,
                                                        monkeypatch):
    """A spooler stopped mid-expansion whose lease ran out and was taken
    by another: when it runs again its next batch finds the lease gone
    and does nothing."""
    key = new_sender(stack, mps=0)
    ids, phones = seed_contacts(stack, key.tenant.id, 2000)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    pause_account(stack, key.account["id"])
    conf = spooler_conf(stack, sandbox)
    a = env_spooler(stack, monkeypatch, conf, "drain", {
        "WAZERA_TEST_CAMPAIGN_BATCH": 100,
        "WAZERA_TEST_CAMPAIGN_PAUSE": 5}, max_seconds=120)
    try:
        wait_for(lambda: stopped(a.pid) or a.popen.poll() is not None,
                 timeout=60, what="the spooler stopped")
        assert stopped(a.pid), read_log(a.log)
        expire_lease(stack, cid)
        b = env_spooler(stack, monkeypatch, conf, "drain", {
            "WAZERA_TEST_CAMPAIGN_BATCH": 100}, max_seconds=120)
        wait_for(lambda: campaign(stack, cid)["holder"] not in
                 ("", a_holder(a)) or campaign(stack, cid)["phase"] ==
                 "sending", timeout=30, what="b took the campaign")
        os.kill(a.pid, signal.SIGCONT)
        b.popen.wait(150)
        assert b.popen.returncode == 0, read_log(b.log)
        a.popen.wait(150)
        assert a.popen.returncode == 0, read_log(a.log)
    finally:
        for p in (a,):
            if p.popen.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                p.stop(signal.SIGKILL)
    assert log_lines(a.log, r"campaign %d: lease lost" % cid), read_log(a.log)
    if campaign(stack, cid)["phase"] != "sending":
        run_drain(stack, conf)
    assert campaign(stack, cid)["phase"] == "sending"
    assert_messages_once(stack, cid, ids)
    st = stats(stack, cid)
    assert st["total"] == 2000 and st["queued"] == 2000, st


def a_holder(proc):
    lines = log_lines(proc.log, r"start: .* holder ")
    return lines[0].split(" holder ")[1].split(",")[0]


def test_cancel_mid_run_parks_and_sends_stop(stack, sandbox, campaigns):
    key = new_sender(stack, mps=40)
    ids, phones = seed_contacts(stack, key.tenant.id, 1500)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    conf = spooler_conf(stack, sandbox)
    proc = stack.start_spooler(conf, "loop")
    try:
        wait_for(lambda: len(sends(sandbox, key.phone)) >= 40, timeout=60,
                 what="sends under way")
        cancel(stack, cid)
        wait_for(lambda: campaign(stack, cid)["phase"] == "done",
                 timeout=30, what="parked")
        # Requests in flight at the cancel finish; then nothing more.
        wait_for(lambda: sql(stack, "SELECT COUNT(*) FROM messages WHERE "
                             "campaign_id = %d AND status = 'sending'" %
                             cid) == [["0"]], timeout=30,
                 what="in-flight sends answered")
        n1 = len(sends(sandbox, key.phone))
        # The spooler keeps running for two more seconds (10 polls): a
        # claim of a campaign message would show within one. A sleep, as
        # the condition is that nothing happens.
        time.sleep(2)
        n2 = len(sends(sandbox, key.phone))
        assert n2 == n1 and n1 < 1500, (n1, n2)
    finally:
        rc = proc.stop(signal.SIGTERM, timeout=30)
    assert rc == 0, read_log(proc.log)
    c = campaign(stack, cid)
    assert c["status"] == "cancelled", c
    st = stats(stack, cid)
    assert balanced(st) and st["total"] == 1500, st
    assert st["sent"] == n1 and st["queued"] == 1500 - n1, (st, n1)
    # The unsent: recipients queued; their messages queued in lane 2.
    assert sql(stack, "SELECT m.lane, m.status, COUNT(*) FROM messages m "
               "JOIN campaign_recipients r ON r.message_id = m.id WHERE "
               "r.campaign_id = %d AND r.status = 'queued' GROUP BY m.lane, "
               "m.status" % cid) == [["2", "queued", str(1500 - n1)]]
    assert log_lines(proc.log, r"campaign %d: parked" % cid)
    assert not [e for e in events_of(stack, key.tenant.id,
                                     "campaign.completed") if e["id"] == cid]


def test_stats_add_up_at_every_poll(stack, sandbox, campaigns, monkeypatch):
    key = new_sender(stack, mps=300)
    ids, phones = seed_contacts(stack, key.tenant.id, 1200)
    seg = make_segment(stack, key.tenant.id, ["vip"])
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    conf = spooler_conf(stack, sandbox)
    proc = env_spooler(stack, monkeypatch, conf, "drain",
                       {"WAZERA_TEST_CAMPAIGN_BATCH": 50}, max_seconds=120)
    seen = []
    while proc.popen.poll() is None:
        st = stats(stack, cid)
        assert balanced(st), st
        seen.append(st)
    assert proc.popen.returncode == 0, read_log(proc.log)
    st = stats(stack, cid)
    assert balanced(st) and st["total"] == 1200 and st["sent"] == 1200, st
    # The polls saw the run midway: a growing total, and sends under way.
    assert any(0 < s["total"] < 1200 for s in seen) or \
        any(0 < s["sent"] < 1200 for s in seen), seen[:3]
    assert campaign(stack, cid)["status"] == "completed"


@pytest.mark.parametrize("tags,match_all", [(["a", "b"], False),
                                            (["a", "b"], True),
                                            ([], False),
                                            (["b"], False)])
def test_audience_in_small_batches(stack, sandbox, campaigns, monkeypatch,
                                   tags, match_all):
    """The snapshot in batches of 7 takes exactly the segment's audience,
    each contact once, in contact id order: any or all of the tags
    (bounded ranges of each tag), or everyone; never an opted-out one."""
    key = new_sender(stack, mps=0)
    t = key.tenant.id
    p = "%03d" % (t % 1000)
    only_a, _ = seed_contacts(stack, t, 23, tags=("a",), prefix="1" + p)
    only_b, _ = seed_contacts(stack, t, 5, tags=("b",), prefix="2" + p)
    both, _ = seed_contacts(stack, t, 11, tags=("a", "b"), prefix="3" + p)
    none, _ = seed_contacts(stack, t, 4, tags=(), prefix="4" + p)
    out, _ = seed_contacts(stack, t, 6, tags=("a", "b"), prefix="5" + p,
                           opted_out=True)
    # More of "b" after the others in id order.
    more_b, _ = seed_contacts(stack, t, 3, tags=("b",), prefix="6" + p)
    seg = make_segment(stack, t, tags, match_all)
    cid = make_campaign(stack, key, seg)
    campaigns.append(cid)
    pause_account(stack, key.account["id"])
    proc = run_drain(stack, spooler_conf(stack, sandbox), monkeypatch,
                     {"WAZERA_TEST_CAMPAIGN_BATCH": 7})
    if not tags:
        want = only_a + only_b + both + none + more_b
    elif match_all:
        want = both
    elif tags == ["b"]:
        want = only_b + both + more_b
    else:
        want = only_a + only_b + both + more_b
    got = [int(c) for (c,) in sql(stack, "SELECT contact_id FROM "
                                  "campaign_recipients WHERE campaign_id = "
                                  "%d ORDER BY contact_id" % cid)]
    assert got == sorted(want)
    assert not set(got) & set(out)
    st = stats(stack, cid)
    assert st["total"] == st["queued"] == len(want), st
    assert campaign(stack, cid)["phase"] == "sending"
    assert_messages_once(stack, cid, want)
    assert log_lines(proc.log, r"campaign %d: queueing done: %d messages" %
                     (cid, len(want)))
