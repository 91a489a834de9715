"""A spooler killed with kill -9 mid-batch on each node, one after the
other, and started again (deploy/local/cluster kill-spooler N,
start-spooler N: the same journal directory).

The run (a module fixture): a tenant with six accounts (mps
WAZERA_CLUSTER_KILL_MPS, default 20, so the queue lasts) and three
webhooks on contact.created (three receivers answering after 2 s, so
deliveries stay in flight); each node's spooler is given two of the
accounts and one webhook (their lease rows name it, as its own lease
would), so each has sends and deliveries in flight when it dies. The
sandbox answers after 300 ms. WAZERA_CLUSTER_KILL_WEBHOOKS contacts
(default 400) and WAZERA_CLUSTER_KILL_MESSAGES sends (default 1,800)
through the API. Spooler N is killed once it has both in flight.

- Messages: none sent twice at the sandbox, none lost, none failed (those
  whose request was out are resolved by the sandbox's status webhooks,
  those claimed but not sent are recovered and sent once).
- Deliveries: each event reaches its webhook's receiver; a delivery
  received more than once was in flight at a kill, and every repeat has
  the same webhook-id (at least once, docs/decisions.md); the number of
  repeats is reported beside the deliveries in flight.
"""
import os
import re
import signal
import time

import pytest

from conftest import (Receiver, Tenant, Workload, assert_no_creation_failures,
                      assert_ok,
                      check_deliveries, check_sends, env_int, figure,
                      wait_for)

N_MESSAGES = env_int("WAZERA_CLUSTER_KILL_MESSAGES", 1800)
N_WEBHOOKS = env_int("WAZERA_CLUSTER_KILL_WEBHOOKS", 400)
MPS = env_int("WAZERA_CLUSTER_KILL_MPS", 20)
# Each receiver answers after DELAY s: with the spooler's 32 requests per
# host, a webhook's deliveries take N_WEBHOOKS / 32 * DELAY s, long
# enough for the three kills one after the other.
DELAY = 2.0
WORKERS = env_int("WAZERA_CLUSTER_THREADS", 8)
START = re.compile(r"start: \w+, holder (\S+?),")


def holder(cluster, n):
    """The holder name of node n's running spooler (its log's last start
    line)."""
    with open(cluster.spooler_log(n), errors="replace") as f:
        found = START.findall(f.read())
    assert found, "no start line in %s" % cluster.spooler_log(n)
    h = found[-1]
    assert ":%d:" % cluster.spooler_pid(n) in h, (h, cluster.spooler_pid(n))
    return h


def in_flight(cluster, t, h, webhooks):
    msgs = {int(i) for (i,) in cluster.sql(
        "SELECT id FROM messages WHERE tenant_id = %d AND status = "
        "'sending' AND sending_holder = '%s'" % (t.id, h))}
    dels = {str(i) for (i,) in cluster.sql(
        "SELECT id FROM webhook_deliveries WHERE webhook_id IN (%s) AND "
        "status = 'pending' AND sending_holder = '%s'" % (
            ",".join(map(str, webhooks)), h))}
    return msgs, dels


@pytest.fixture(scope="module")
def kills(cluster):
    t = Tenant(cluster, 6, rate_limit=1000000000, mps=MPS)
    rcvs = [Receiver(delay=DELAY) for _ in range(3)]
    out = {"t": t, "rcvs": rcvs, "kills": []}
    cluster.sandbox("POST", "config", {"latency_ms": 300})
    try:
        # The first receiver's webhook is the workload's; two more on the
        # same events.
        w = Workload(cluster, t, rcvs[0], N_WEBHOOKS, N_MESSAGES,
                     workers=WORKERS)
        hooks = [w.webhook_id]
        for r in rcvs[1:]:
            h = assert_ok(t.request("POST", "/webhooks", {
                "url": r.url, "events": ["contact.created"]}), 201)
            r.secret = h["secret"]
            hooks.append(h["id"])
        out["w"], out["hooks"] = w, hooks
        # Each node's spooler drives two accounts and one webhook.
        holders = {n: holder(cluster, n) for n in (1, 2, 3)}
        for i, a in enumerate(t.accounts):
            cluster.sql("UPDATE whatsapp_accounts SET lease_holder = '%s', "
                        "lease_until = NOW(3) + INTERVAL 300 SECOND WHERE "
                        "id = %d" % (holders[i // 2 + 1], a["id"]))
        for i, wid in enumerate(hooks):
            cluster.sql("UPDATE webhook_state SET lease_holder = '%s', "
                        "lease_until = NOW(3) + INTERVAL 300 SECOND WHERE "
                        "webhook_id = %d" % (holders[i + 1], wid))
        w.start()
        for n in (1, 2, 3):
            h = holders[n]
            state = {}

            def busy():
                state["m"], state["d"] = in_flight(cluster, t, h, hooks)
                return state["m"] and state["d"]
            wait_for(busy, timeout=120, interval=0.2,
                     what="spooler %d with sends and deliveries in flight "
                     "(%r)" % (n, state))
            # kill -9 at once (the script's kill-spooler does the same
            # from a shell a moment later; here the moment is the one the
            # snapshot just saw), then the script's own bookkeeping.
            os.kill(cluster.spooler_pid(n), signal.SIGKILL)
            t_kill = time.time()
            cluster.ctl("kill-spooler", n)
            # What it had claimed and not finished: seen just before its
            # death, and what still names it after (claims between the
            # two; results it journaled but never wrote count too: an
            # upper bound of what was in flight).
            m, d = in_flight(cluster, t, h, hooks)
            out["kills"].append({"node": n, "holder": h,
                                 "messages_before": state["m"],
                                 "messages": state["m"] | m,
                                 "deliveries_before": state["d"],
                                 "deliveries": state["d"] | d,
                                 "t": t_kill})
            cluster.ctl("start-spooler", n)
        w.join()
        w.wait_settled()

        def hooks_done():
            return cluster.sql(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id "
                "IN (%s) AND status = 'pending'" %
                ",".join(map(str, hooks))) == [["0"]]
        # Deliveries in flight at a kill are due again when their claim
        # expires (a minute after it).
        wait_for(hooks_done, timeout=300, interval=1.0,
                 what="every webhook's deliveries done")
        yield out
        # Every delivery checked was as docs/openapi.yaml says.
        for r in rcvs:
            r.checks.assert_clean()
    finally:
        cluster.sandbox("POST", "config", {"latency_ms": 0})
        for r in rcvs:
            r.close()


def test_spooler_kills_send_nothing_twice(kills, cluster):
    w = kills["w"]
    figure("spooler_kill", sends_in_flight_at_kills=[
        len(k["messages_before"]) for k in kills["kills"]])
    check_sends(w, "spooler_kill")
    # The restarted spoolers run.
    for n in (1, 2, 3):
        holder(cluster, n)
    assert_no_creation_failures(w)


def test_spooler_kills_webhook_repeats_bounded(kills):
    w = kills["w"]
    in_flight = set().union(*(k["deliveries"] for k in kills["kills"]))
    figure("spooler_kill", deliveries_in_flight_at_kills=[
        len(k["deliveries"]) for k in kills["kills"]])
    # Each kill had deliveries in flight (what the test is about).
    assert all(k["deliveries_before"] for k in kills["kills"])
    repeats = {}
    for wid, r in zip(kills["hooks"], kills["rcvs"]):
        w.webhook_id = wid
        w.rcv = r
        repeats.update(check_deliveries(w, "spooler_kill_webhook_%d" % wid,
                                        allowed_repeats=in_flight))
    total = sum(repeats.values())
    figure("spooler_kill", webhook_repeats=total,
           deliveries_in_flight=len(in_flight))
    assert total <= len(in_flight), (total, len(in_flight))
