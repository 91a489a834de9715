"""Rate limits per API key per minute (SPEC 2): headers, plan limits and
exactness across workers and hosts.

The limiter counts in fixed windows of UNIX_TIMESTAMP() DIV 60 on the
database's clock. Every test that counts makes its tenants and keys first
(however long wazera-admin takes), then sends its requests between two
readings of the database's window (in_one_window): a run that straddled a
window's end is discarded and run again with fresh keys, so no count is
ever split between two windows."""
import time

import pytest

from conftest import assert_error, assert_ok, http_request, run_calls


def rl(resp):
    h = resp.headers
    return (int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]),
            int(h["x-ratelimit-reset"]))


def db_window(stack):
    return int(stack.sql_root("SELECT UNIX_TIMESTAMP() DIV 60")[0][0])


def in_one_window(stack, prepare, run, attempts=3):
    """prepare() makes what a run needs (tenants, keys); run(prepared)
    sends the requests. Returns (reset, prepared, what run returned) of
    the first run that began and ended in one window of the database's
    clock; reset is that window's end, as X-RateLimit-Reset gives it."""
    for _ in range(attempts):
        prepared = prepare()
        w = db_window(stack)
        out = run(prepared)
        if db_window(stack) == w:
            return (w + 1) * 60, prepared, out
    raise AssertionError("no run within one rate-limit window in %d tries"
                         % attempts)


def test_headers_on_every_authenticated_response(stack, make_tenant):
    seq = [
        (lambda k: k("GET", "/contacts"), 200),
        (lambda k: k("POST", "/contacts", {"phone": "+4915112345678"}), 201),
        (lambda k: k("POST", "/contacts", {"phone": "nope"}), 422),
        (lambda k: k("GET", "/contacts/987654321"), 404),
        (lambda k: k("POST", "/contacts", b"{bad json"), 400),
        (lambda k: k("GET", "/contacts?per_page=0"), 422),
        (lambda k: k("POST", "/contacts", {"phone": "+4915112345678"}), 422),
        (lambda k: k("GET", "/account/me"), 200),
        (lambda k: k("GET", "/api-keys"), 200),
        (lambda k: k("DELETE", "/api-keys/987654321"), 404),
    ]

    def prepare():
        t = make_tenant("starter")
        return t.key(), t.key(scopes=["contacts:read"])

    def run(keys):
        k, ro = keys
        answers = [call(k) for call, _ in seq]
        # A scope refusal is an authenticated answer too; the key has its
        # own counter.
        answers.append(ro("POST", "/contacts", {"phone": "+4915100000001"}))
        answers.append(ro("GET", "/contacts"))
        return answers

    reset, _, answers = in_one_window(stack, prepare, run)
    assert len(answers) == len(seq) + 2
    for i, ((_, status), r) in enumerate(zip(seq, answers)):
        assert r.status == status, (i, r)
        assert rl(r) == (100, 99 - i, reset), (i, r)
    assert_error(answers[-2], 403, "INSUFFICIENT_PERMISSIONS")
    assert rl(answers[-2]) == (100, 99, reset)
    assert_ok(answers[-1])
    assert rl(answers[-1]) == (100, 98, reset)


@pytest.mark.parametrize("plan,limit,expect", [
    ("starter", None, 100), ("professional", None, 500),
    ("enterprise", None, 2000), ("starter", 60, 60),
    ("professional", 3, 3), ("enterprise", 100000, 100000),
])
def test_plan_limits(stack, make_tenant, plan, limit, expect):
    reset, _, r = in_one_window(stack,
                                lambda: make_tenant(plan, limit).key(),
                                lambda k: k("GET", "/contacts"))
    assert_ok(r)
    assert rl(r) == (expect, expect - 1, reset)


def test_limit_reached_sequential(stack, make_tenant):
    def prepare():
        t = make_tenant("starter", 5)
        return t.key(), t.key()

    def run(keys):
        k1, k2 = keys
        admitted = [k1("GET", "/contacts") for _ in range(5)]
        refused = []
        for _ in range(3):
            before = time.time()
            r = k1("GET", "/contacts")
            refused.append((before, r, time.time()))
        # Refused requests do nothing, whatever they carry.
        post = k1("POST", "/contacts", {"phone": "+4915112345678"})
        # Each key has its own counter.
        other = k2("GET", "/contacts")
        return admitted, refused, post, other

    reset, (k1, _), (admitted, refused, post, other) = in_one_window(
        stack, prepare, run)
    assert len(admitted) == 5 and len(refused) == 3
    for i, r in enumerate(admitted):
        assert_ok(r)
        assert rl(r) == (5, 4 - i, reset)
    for before, r, after in refused:
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        assert rl(r) == (5, 0, reset)
        # Retry-After: the seconds from the answer to the window's end
        # (the answer was made between `before` and `after`).
        ra = int(r.headers["retry-after"])
        assert 1 <= ra <= 60
        assert int(reset - after) - 1 <= ra <= int(reset - before) + 1, \
            (before, after, ra, reset)
    assert_error(post, 429, "RATE_LIMIT_EXCEEDED")
    assert assert_ok(other) == []
    assert rl(other) == (5, 4, reset)
    assert stack.sql_root("SELECT COUNT(*) FROM contacts WHERE tenant_id = "
                          "%d" % k1.tenant.id, database="wazera") == [["0"]]


def check_exact(results, limit, reset):
    ok = [r for r in results if r.status != 429]
    refused = [r for r in results if r.status == 429]
    assert all(r.status == 200 for r in ok), [r for r in ok if r.status != 200]
    assert len(ok) == limit, (len(ok), len(refused))
    assert len(refused) == len(results) - limit
    # Every admitted request saw its own count: remaining limit-1 .. 0.
    assert sorted(rl(r)[1] for r in ok) == list(range(limit))
    for r in refused:
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        assert rl(r)[:2] == (limit, 0)
        assert 1 <= int(r.headers["retry-after"]) <= 60
    assert {rl(r)[2] for r in results} == {reset}


def counter_row(stack, key):
    """The key's counter in the database: (window, hits)."""
    rows = stack.sql_root("SELECT rl_window, hits FROM rate_counters WHERE "
                          "key_id = %d" % key.id, database="wazera")
    assert len(rows) == 1, rows
    return int(rows[0][0]), int(rows[0][1])


def test_exact_under_concurrency(stack, make_tenant):
    def run(k):
        return run_calls([lambda: k("GET", "/contacts")] * 100, workers=20)

    reset, k, results = in_one_window(
        stack, lambda: make_tenant("starter", 60).key(), run)
    assert len(results) == 100
    check_exact(results, 60, reset)
    # Refused requests are counted too (the limiter counts, then refuses).
    assert counter_row(stack, k) == (reset // 60 - 1, 100)


def test_exact_across_two_hosts(stack, make_tenant):
    """A second FastCGI master and nginx share the database: the limit
    holds over both."""
    fcgi2 = stack.start_fcgi(workers=4)
    nginx2 = stack.start_nginx(fcgi2.sock)
    try:
        def prepare():
            t = make_tenant("starter", 60)
            return t.key(), t.key()

        ports = [stack.port if i % 2 else nginx2.port for i in range(100)]

        def run(keys):
            k, k2 = keys
            # Both hosts serve.
            first = [k2("GET", "/account/me", port=nginx2.port),
                     k2("GET", "/account/me", port=stack.port)]
            results = run_calls([lambda port=port: k("GET", "/contacts",
                                                     port=port)
                                 for port in ports], workers=20)
            # The other key of the tenant is untouched.
            return first, results, k2("GET", "/contacts", port=nginx2.port)

        reset, _, (first, results, other) = in_one_window(stack, prepare,
                                                          run)
        for r in first:
            assert_ok(r)
        assert len(results) == 100
        check_exact(results, 60, reset)
        # Both hosts admitted some requests.
        assert {port for port, r in zip(ports, results)
                if r.status == 200} == {stack.port, nginx2.port}
        assert_ok(other)
        assert rl(other) == (60, 57, reset)
    finally:
        stack.stop_nginx(nginx2)
        assert fcgi2.stop() == 0


def test_unauthenticated_answers_carry_no_counter(stack, make_tenant):
    """401s are not counted against any key."""
    def run(k):
        bad = [http_request(stack.port, "GET", "/api/v1/contacts",
                            key="wz_live_" + "A" * 40) for _ in range(15)]
        return bad, k("GET", "/contacts")

    reset, _, (bad, r) = in_one_window(
        stack, lambda: make_tenant("starter", 10).key(), run)
    assert len(bad) == 15
    for b in bad:
        assert_error(b, 401, "AUTHENTICATION_ERROR")
        assert "x-ratelimit-remaining" not in b.headers, b
    assert_ok(r)
    assert rl(r) == (10, 9, reset)
