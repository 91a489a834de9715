"""One database node killed with kill -9 in the middle of a run and brought
back (deploy/local/cluster kill-db 2, restart-db 2).

The run (a module fixture): a tenant's WAZERA_CLUSTER_OUTAGE_WEBHOOKS
contacts (default 500, each a contact.created delivery), a campaign to
them and WAZERA_CLUSTER_OUTAGE_MESSAGES sends (default 2,500) through the
API from several threads. Once a quarter of the sends are created, node 2
is killed; the API keeps being used through the outage (node 2's FastCGI
server and spooler fail over to node 3), then node 2 rejoins. Each test
reads one outcome:
- the API answered every request during the outage with a 2xx or a 503
  with Retry-After (retried by the client with the same Idempotency-Key),
  never another error;
- node 2 rejoined by IST (its log says so) and holds what the others do;
- nothing was lost or sent twice at the sandbox; every event reached the
  receiver (a delivery whose result a dying node took along is delivered
  again, at least once by design: with the same webhook-id).
"""
import calendar
import os
import re
import time

import pytest

from conftest import (Receiver, Tenant, Workload, check_deliveries,
                      check_sends, env_int, figure, wait_for)

N_MESSAGES = env_int("WAZERA_CLUSTER_OUTAGE_MESSAGES", 2500)
N_WEBHOOKS = env_int("WAZERA_CLUSTER_OUTAGE_WEBHOOKS", 500)
OUTAGE_CALLS = env_int("WAZERA_CLUSTER_OUTAGE_CALLS", 300)
WORKERS = env_int("WAZERA_CLUSTER_THREADS", 8)
NODE = 2


@pytest.fixture(scope="module")
def outage(cluster):
    t = Tenant(cluster, 6, rate_limit=1000000000)
    rcv = Receiver()
    w = Workload(cluster, t, rcv, N_WEBHOOKS, N_MESSAGES, campaigns=1,
                 workers=WORKERS)
    log = cluster.db_log(NODE)
    out = {"w": w, "rcv": rcv}
    try:
        w.start()
        # Mid-run: the contacts made, a quarter of the sends created.
        wait_for(lambda: w.load.done >= N_WEBHOOKS + N_MESSAGES // 4 or
                 not w.thread.is_alive(), timeout=600, interval=0.1,
                 what="a quarter of the sends created")
        assert w.thread.is_alive(), "the load ended before the kill: %r" % (
            w.error or w.load.failures[:5])
        sent0 = cluster.sandbox("GET", "stats")["message_requests"]
        out["t_kill"] = time.time()
        cluster.kill_db(NODE)
        # The outage lasts until the API answered OUTAGE_CALLS requests
        # made after the kill (or the load ended).
        wait_for(lambda: sum(a.t0 >= out["t_kill"] for a in
                             list(w.load.answers)) >= OUTAGE_CALLS or
                 not w.thread.is_alive(), timeout=300, interval=0.1,
                 what="%d API answers during the outage" % OUTAGE_CALLS)
        out["sent_during_outage"] = \
            cluster.sandbox("GET", "stats")["message_requests"] - sent0
        out["log_offset"] = os.path.getsize(log)
        t_restart = time.time()
        cluster.restart_db(NODE)
        out["t_back"] = time.time()
        out["restart_s"] = out["t_back"] - t_restart
        with open(log, errors="replace") as f:
            f.seek(out["log_offset"])
            out["log"] = f.read()
        w.join()
        w.wait_settled()
        yield out
        # Every delivery checked was as docs/openapi.yaml says.
        rcv.checks.assert_clean()
    finally:
        if NODE in cluster.down_nodes:
            cluster.restart_db(NODE)
        rcv.close()


def test_api_answers_during_node_outage(outage):
    w = outage["w"]
    t0, t1 = outage["t_kill"], outage["t_back"]
    during = [a for a in list(w.load.answers) if a.t1 >= t0 and a.t0 <= t1]
    by_status = {}
    for a in during:
        by_status[a.status] = by_status.get(a.status, 0) + 1
    bad = [a for a in during if not (200 <= a.status < 300 or
                                     (a.status == 503 and
                                      a.retry_after is not None))]
    figure("node_kill", outage_seconds=round(t1 - t0, 1),
           restart_seconds=round(outage["restart_s"], 1),
           answers_during_outage=by_status,
           sandbox_sends_during_outage=outage["sent_during_outage"])
    assert len(during) >= 1
    assert not bad, "%d answers during the outage neither 2xx nor 503 with " \
        "Retry-After, e.g. %r" % (len(bad), bad[:10])
    # And no call of the run failed for good (every 503 was retried to a
    # 2xx with its Idempotency-Key).
    assert not w.load.failures, w.load.failures[:10]


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \S+ info: "
                      r"request id=\S+ tenant=\S+ (\S+) (\S+) (\d{3}) ")


def test_killed_nodes_fcgi_answers_through_the_others(outage, cluster):
    """Node 2's FastCGI server (its own node first in its hosts) kept
    answering 2xx during the outage: its workers went on to the next
    node (its log's request lines, whole seconds, after the kill's
    second)."""
    t0, t1 = int(outage["t_kill"]) + 1, int(outage["t_back"])
    counts = {}
    with open(os.path.join(cluster.node_dir(NODE), "fcgi.log"),
              errors="replace") as f:
        for line in f:
            m = LOG_LINE.match(line)
            if not m:
                continue
            t = calendar.timegm(time.strptime(m.group(1),
                                              "%Y-%m-%dT%H:%M:%SZ"))
            if t0 <= t <= t1:
                st = int(m.group(4))
                counts[st] = counts.get(st, 0) + 1
    figure("node_kill", node2_fcgi_answers_during_outage=counts)
    assert sum(n for st, n in counts.items() if 200 <= st < 300), counts


def test_node_rejoins_by_ist(outage, cluster):
    log = outage["log"]
    m = re.search(r"Receiving IST: *(\d+) writesets", log)
    figure("node_kill", ist_writesets=int(m.group(1)) if m else None)
    assert re.search(r"IST received", log), \
        "node %d's log after the restart shows no IST:\n%s" % (NODE,
                                                                log[-6000:])
    assert cluster.status_var("wsrep_local_state_comment", NODE) == "Synced"
    assert cluster.status_var("wsrep_cluster_size", NODE) == "3"
    # It holds what the others hold.
    q = ("SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0) FROM "
         "messages WHERE tenant_id = %d" % outage["w"].t.id)
    assert cluster.sql(q, node=NODE) == cluster.sql(q, node=1)


def test_node_kill_loses_and_doubles_nothing(outage):
    w = outage["w"]
    check_sends(w, "node_kill")
    check_deliveries(w, "node_kill", rcv=outage["rcv"],
                     allowed_repeats=None)
