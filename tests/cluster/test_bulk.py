"""20,000 messages and 5,000 webhook deliveries through the three spoolers
of the three nodes, nothing failing: every message reaches the sandbox
exactly once (its wz:<id>), every contact.created event reaches the
receiver exactly once (one webhook-id each).

The load: WAZERA_CLUSTER_WEBHOOKS contacts (default 5,000; each one a
contact.created delivery) created through POST /contacts from several
threads, WAZERA_CLUSTER_CAMPAIGNS campaigns (default 4) to all of them on
as many accounts (POST /segments, POST /campaigns), and the rest of
WAZERA_CLUSTER_MESSAGES (default 20,000: none by default) through POST
/messages/send from the threads on the other accounts (six accounts, no
mps limit: every spooler can get lanes). Campaigns carry the messages:
on the 2-core machine the API made 40 to 140 calls a second with the
ASan build (depending on what else ran), so 25,000 single calls would
not fit the step's 8 minutes (measured: 3 campaigns + 5,000 sends took
the step from 5 to 6.5 minutes at 52 calls/s). WAZERA_CLUSTER_CAMPAIGNS=3
(or 0) sends the rest through the API. The node and spooler kill tests
send through POST /messages/send. The
tenant's custom limit is high enough for all of it. The node and
spooler kill tests send through POST /messages/send."""
import re
import time

from conftest import (Tenant, Workload, assert_no_creation_failures,
                      check_deliveries, check_sends, env_int, figure)

N_MESSAGES = env_int("WAZERA_CLUSTER_MESSAGES", 20000)
N_WEBHOOKS = env_int("WAZERA_CLUSTER_WEBHOOKS", 5000)
N_CAMPAIGNS = env_int("WAZERA_CLUSTER_CAMPAIGNS", 4)
WORKERS = env_int("WAZERA_CLUSTER_THREADS", 8)

LEASE = re.compile(r"\b(account|campaign|webhook) (\d+): lease taken")
_bulk = {}


def leases_by_node(c, lanes):
    """{node: sorted lanes ("account 12", ...) of `lanes` its spooler took
    a lease on}, from the spoolers' logs."""
    out = {}
    for n in (1, 2, 3):
        with open(c.spooler_log(n), errors="replace") as f:
            found = {"%s %s" % m.groups() for m in LEASE.finditer(f.read())}
        out[n] = sorted(found & lanes)
    return out


def test_bulk_messages_and_webhooks_exactly_once(cluster, receiver):
    api_messages = N_MESSAGES - N_CAMPAIGNS * N_WEBHOOKS
    assert api_messages >= 0, "WAZERA_CLUSTER_MESSAGES below the campaigns'"
    t = Tenant(cluster, 6, rate_limit=1000000000)
    w = Workload(cluster, t, receiver(), N_WEBHOOKS, api_messages,
                 N_CAMPAIGNS, workers=WORKERS)
    _bulk["w"] = w
    w.run()
    created_s = w.t_created - w.t_start
    calls = len(w.load.answers)
    figure("bulk", api_calls=calls, api_seconds=round(created_s, 1),
           api_calls_per_s=round(calls / created_s, 1))
    w.wait_settled()
    figure("bulk", total_seconds=round(time.time() - w.t_start, 1))
    check_sends(w, "bulk")
    check_deliveries(w, "bulk")
    # Last, so that the sends and deliveries of what was created are
    # checked whatever happened: every API call of the load succeeded.
    assert_no_creation_failures(w)


def test_bulk_work_spread_over_three_spoolers(cluster):
    """Each node's spooler drove some of the bulk's lanes (its accounts,
    campaigns, webhook)."""
    w = _bulk.get("w")
    assert w is not None, "the bulk test did not run"
    lanes = {"account %d" % a["id"] for a in w.t.accounts}
    lanes |= {"campaign %d" % i for i in w.campaign_ids}
    lanes.add("webhook %d" % w.webhook_id)
    by_node = leases_by_node(cluster, lanes)
    figure("bulk", lanes_leased_by_node=by_node)
    assert all(by_node[n] for n in (1, 2, 3)), by_node
