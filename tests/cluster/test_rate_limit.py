"""The rate limit of one API key held across the three FastCGI servers
(one nginx upstream, round robin): in no fixed one-minute window (the
answer's X-RateLimit-Reset names it) more 200s than the limit, each 200 of
a window with its own X-RateLimit-Remaining (one counter, counted once per
request, whichever node's server answered), refusals as 429 with
Retry-After. The load: 4 x the limit (WAZERA_CLUSTER_RATE_LIMIT, default
300) GETs from several threads, so that whatever minute boundary falls in
it one window goes over the limit. Each node's database served a share of
the counter's updates (Com_update and Com_insert of its clients): the load was spread."""
from conftest import Api, Load, Tenant, env_int, figure

LIMIT = env_int("WAZERA_CLUSTER_RATE_LIMIT", 300)
WORKERS = env_int("WAZERA_CLUSTER_THREADS", 8)


def counters(c):
    names = ("Com_update", "Com_insert", "wsrep_local_cert_failures",
             "wsrep_local_bf_aborts")
    return {n: {v: int(c.status_var(v, n) or 0) for v in names}
            for n in (1, 2, 3)}


def test_rate_limit_held_across_three_fcgi_servers(cluster):
    t = Tenant(cluster, 0, rate_limit=LIMIT)
    # One request first: the key is known to every worker's cache after
    # its first use, and the counter's row exists.
    warm = Api(cluster.port, t.key)
    a = warm.call("GET", "/account/me")
    warm.close()
    assert a.status == 200, a
    assert a.headers["x-ratelimit-limit"] == str(LIMIT), a.headers
    before = counters(cluster)
    load = Load(cluster, t.key, WORKERS)
    n = 4 * LIMIT

    def job(i):
        return i, lambda api: api.call("GET", "/account/me")
    load.run([job(i) for i in range(n)])
    after = counters(cluster)
    answers = [load.results[i] for i in range(n)] + [a]
    assert not load.failures, load.failures[:10]

    windows = {}
    odd = []
    for r in answers:
        if r.status not in (200, 429):
            odd.append(r)
            if r.status == 503:
                assert r.retry_after is not None, r.headers
            continue
        assert r.headers.get("x-ratelimit-limit") == str(LIMIT), r.headers
        w = windows.setdefault(int(r.headers["x-ratelimit-reset"]),
                               {"ok": 0, "refused": 0, "remaining": []})
        if r.status == 200:
            w["ok"] += 1
            w["remaining"].append(int(r.headers["x-ratelimit-remaining"]))
        else:
            assert r.retry_after is not None, r.headers
            assert 0 <= int(r.retry_after) <= 60, r.headers
            w["refused"] += 1
    deltas = {n_: {k: after[n_][k] - before[n_][k] for k in after[n_]}
              for n_ in (1, 2, 3)}
    figure("rate_limit", limit=LIMIT, requests=len(answers),
           windows={k: (v["ok"], v["refused"]) for k, v in windows.items()},
           other_statuses=sorted({r.status for r in odd}),
           per_node_deltas=deltas)
    over = {k: v["ok"] for k, v in windows.items() if v["ok"] > LIMIT}
    assert not over, "windows with more 200s than the limit %d: %r" % (
        LIMIT, over)
    for k, v in windows.items():
        dup = len(v["remaining"]) - len(set(v["remaining"]))
        assert dup == 0, ("window %d: %d 200s with a Remaining another "
                          "200 had (counted apart)" % (k, dup))
    # The limit was reached: some window refused requests, after exactly
    # LIMIT successes in it.
    full = [k for k, v in windows.items() if v["refused"]]
    assert full, windows
    assert any(windows[k]["ok"] == LIMIT for k in full), windows
    # Spread: every node's database got at least a sixth of the counter
    # updates (round robin gives each about a third).
    for n_ in (1, 2, 3):
        assert deltas[n_]["Com_update"] + deltas[n_]["Com_insert"] >= \
            n // 6, deltas
    # Every request answered 200 or 429, or rarely 503 with Retry-After:
    # a write conflict on the hot counter row (certification, 1213) is
    # the server's to retry (4 times in the server, 16 in db_run, with
    # growing random waits), and only one that lost every time answers
    # 503 (a burst of 16 clients on one key through three nodes on two
    # cores: 0 in most runs, 1 of 1,201 in some). Never another answer.
    bad = [r for r in odd if r.status != 503]
    assert not bad, "answers other than 200, 429 and 503: %d of %d, " \
        "e.g. %r" % (len(bad), len(answers), bad[:3])
    assert len(odd) <= len(answers) // 100, (
        "503s: %d of %d, e.g. %r" % (len(odd), len(answers), odd[:3]))
