"""Meta's webhook cut by a database restart (SPEC 1, 2): a signed POST
whose messages are stored in one transaction, and MariaDB killed (or shut
down) in the middle of it. The POST is answered 503 in the envelope, so
Meta delivers it again; the database holds none of that POST's rows (or,
had it committed, all of them: never a part); and the redelivery stores
every message exactly once.

The cut is made certain, not timed: another session holds a row lock on
the contact of the batch's middle message, so the webhook's transaction
waits there with the messages before it written and uncommitted (seen by
a READ UNCOMMITTED read) when the server goes. Each test has a MariaDB,
wazera-fcgi and nginx of its own (the session's database stays up)."""
import subprocess
import threading

import pytest

from conftest import (assert_error, events, inbound_payload, innodb_trx_sql,
                      make_account, msg, post, read_log, wait_for)

N = 40              # messages in the POST
LOCKED_AT = 20      # the one whose contact another session holds
LOCKED_PHONE = "+4915199990000"


def tenant_counts(ps, tenant_id):
    """The tenant's messages, contacts, conversations, events."""
    q = " ".join("(SELECT COUNT(*) FROM %s WHERE tenant_id = %d)," %
                 (t, tenant_id) for t in ("messages", "contacts",
                                          "conversations", "events"))
    return [int(x) for x in ps.sql("SELECT " + q.rstrip(","))[0]]


def stored_wamids(ps, tenant_id):
    """wamid -> how many of the tenant's messages carry it."""
    rows = ps.sql("SELECT wamid, COUNT(*) FROM messages WHERE tenant_id = "
                  "%d AND direction = 'inbound' GROUP BY wamid" % tenant_id)
    return {w: int(n) for w, n in rows}


def event_types(ps, tenant_id):
    out = {}
    for t, _ in events(ps.stack, tenant_id, sock=ps.sock):
        out[t] = out.get(t, 0) + 1
    return out


@pytest.mark.parametrize("how", ["kill", "shutdown"])
def test_webhook_transaction_cut_by_database_restart(private_stack, how):
    # No statement time limit to race: the webhook's transaction waits on
    # the held lock until the server goes, however slow this machine is.
    ps = private_stack("hookcut-" + how, workers=2,
                       database={"statement_timeout": 0})
    stack = ps.stack
    key = ps.tenant_key()
    tenant = key.tenant
    secret = stack.unique("cut-secret-")
    phone_id = make_account(stack, tenant, app_secret=secret)[
        "phone_number_id"]
    locked = key.create_contact(phone=LOCKED_PHONE, name="Locked")
    frm = ["49151%08d" % i for i in range(N)]
    frm[LOCKED_AT] = LOCKED_PHONE[1:]
    wamids = ["wamid.cut-%s-%02d" % (phone_id, i) for i in range(N)]
    payload = inbound_payload(phone_id, [
        msg(w, f, "text", {"body": "message %d" % i})
        for i, (w, f) in enumerate(zip(wamids, frm))])
    before = tenant_counts(ps, tenant.id)
    assert before[:3] == [0, 1, 0], before
    events_before = event_types(ps, tenant.id)
    workers = sorted(ps.fcgi.children())

    holder = subprocess.Popen(
        ["mariadb", "--no-defaults", "-uroot", "-S", ps.sock, "-D", "wazera",
         "-e", "BEGIN; SELECT id FROM contacts WHERE id = %d FOR UPDATE; "
         "SELECT SLEEP(600);" % locked["id"]],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    answer = []
    poster = threading.Thread(
        target=lambda: answer.append(post(ps.port, payload, secret)))
    try:
        wait_for(lambda: ps.sql(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE "
            "info = 'SELECT SLEEP(600)'") == [["1"]] or
            holder.poll() is not None, what="the contact's row lock")
        assert holder.poll() is None, "the lock holder exited"
        poster.start()

        def waiting():
            # The webhook's transaction waits for the lock, with the
            # messages before the locked contact's written, uncommitted.
            rows = innodb_trx_sql(ps.sql,
                "SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; "
                "SELECT (SELECT COUNT(*) FROM information_schema.innodb_trx "
                "WHERE trx_state = 'LOCK WAIT'), (SELECT COUNT(*) FROM "
                "messages WHERE tenant_id = %d)" % tenant.id)
            return rows == [["1", str(LOCKED_AT)]]
        wait_for(lambda: waiting() or answer, timeout=60,
                 what="the webhook's transaction at the locked contact")
        assert not answer, answer      # not answered before the cut
        if how == "kill":
            ps.kill_db()                # SIGKILL: InnoDB recovers on start
        else:
            ps.stop_db()                # SIGTERM: a clean shutdown
        # Answered while the database is down.
        poster.join(60)
        assert not poster.is_alive()
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(30)
        poster.join(60)
        ps.start_db()

    r = answer[0]
    stored = stored_wamids(ps, tenant.id)
    # All of the POST or none of it, never a part.
    assert stored in ({}, {w: 1 for w in wamids}), stored
    if how == "kill":
        # Killed with the transaction open: the answer says try again
        # (Meta redelivers anything but a 200) and recovery undid it all.
        err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert r.headers.get("retry-after") == "5", r
        assert "unavailable" in err["message"], r
        rid = r.headers.get("x-request-id")
        assert rid and "request %s: database unavailable" % rid in \
            read_log(ps.fcgi.log, 10 ** 7), read_log(ps.fcgi.log)
        assert stored == {}
    elif r.status == 200:
        assert r.body["data"]["messages"] == N, r
        assert stored == {w: 1 for w in wamids}, stored
    else:
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
    if stored == {}:
        # Nothing of it anywhere: no contact, conversation or event.
        assert tenant_counts(ps, tenant.id) == before
        assert event_types(ps, tenant.id) == events_before
        assert key("GET", "/contacts").body["meta"]["total"] == 1

    # Meta redelivers the same payload: every message stored once.
    for attempt in range(2):
        r = post(ps.port, payload, secret)
        assert r.status == 200, r
        assert stored_wamids(ps, tenant.id) == {w: 1 for w in wamids}
        # N - 1 new contacts beside the locked one, a conversation each.
        assert tenant_counts(ps, tenant.id)[:3] == [N, N, N]
        ev = event_types(ps, tenant.id)
        assert ev.get("message.received") == N, ev
        assert ev.get("conversation.created") == N, ev
        assert ev.get("contact.created") == \
            events_before.get("contact.created", 0) + N - 1, ev
        assert key("GET", "/contacts").body["meta"]["total"] == N
    # The same workers served throughout.
    assert ps.fcgi.popen.poll() is None
    assert sorted(ps.fcgi.children()) == workers
