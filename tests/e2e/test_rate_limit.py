"""Rate limits per API key per minute (SPEC 2): headers, plan limits and
exactness across workers and hosts.

The limiter uses fixed windows of unix_time // 60; every test that counts
first makes sure enough of the current window is left (ensure_window)."""
import threading
import time

import pytest

from conftest import assert_error, assert_ok, ensure_window, http_request


def rl(resp):
    h = resp.headers
    return (int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]),
            int(h["x-ratelimit-reset"]))


def window_reset():
    return (int(time.time()) // 60 + 1) * 60


def test_headers_on_every_authenticated_response(make_tenant):
    t = make_tenant("starter")
    k = t.key()
    ro = t.key(scopes=["contacts:read"])
    ensure_window(15)
    reset = window_reset()
    seq = [
        (lambda: k("GET", "/contacts"), 200),
        (lambda: k("POST", "/contacts", {"phone": "+4915112345678"}), 201),
        (lambda: k("POST", "/contacts", {"phone": "nope"}), 422),
        (lambda: k("GET", "/contacts/987654321"), 404),
        (lambda: k("POST", "/contacts", b"{bad json"), 400),
        (lambda: k("GET", "/contacts?per_page=0"), 422),
        (lambda: k("POST", "/contacts", {"phone": "+4915112345678"}), 422),
        (lambda: k("GET", "/account/me"), 200),
        (lambda: k("GET", "/api-keys"), 200),
        (lambda: k("DELETE", "/api-keys/987654321"), 404),
    ]
    for i, (call, status) in enumerate(seq):
        r = call()
        assert r.status == status, r
        assert rl(r) == (100, 99 - i, reset), (i, r)
    # A scope refusal is an authenticated answer too; the key has its own
    # counter.
    r = ro("POST", "/contacts", {"phone": "+4915100000001"})
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    assert rl(r) == (100, 99, reset)
    r = ro("GET", "/contacts")
    assert rl(r) == (100, 98, reset)


@pytest.mark.parametrize("plan,limit,expect", [
    ("starter", None, 100), ("professional", None, 500),
    ("enterprise", None, 2000), ("starter", 60, 60),
    ("professional", 3, 3), ("enterprise", 100000, 100000),
])
def test_plan_limits(make_tenant, plan, limit, expect):
    ensure_window(5)
    k = make_tenant(plan, limit).key()
    r = k("GET", "/contacts")
    assert_ok(r)
    lim, rem, reset = rl(r)
    assert lim == expect
    assert rem == expect - 1
    assert reset == window_reset()


def test_limit_reached_sequential(make_tenant):
    t = make_tenant("starter", 5)
    k1, k2 = t.key(), t.key()
    ensure_window(15)
    for i in range(5):
        r = k1("GET", "/contacts")
        assert_ok(r)
        assert rl(r)[:2] == (5, 4 - i)
    for _ in range(3):
        r = k1("GET", "/contacts")
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        lim, rem, reset = rl(r)
        assert (lim, rem) == (5, 0)
        ra = int(r.headers["retry-after"])
        assert 1 <= ra <= 60
        assert abs((time.time() + ra) - reset) <= 2
    # Refused requests do nothing, whatever they carry.
    r = k1("POST", "/contacts", {"phone": "+4915112345678"})
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    # Each key has its own counter.
    r = k2("GET", "/contacts")
    assert assert_ok(r) == []
    assert rl(r)[:2] == (5, 4)


def fire(calls, threads=20):
    """Runs the callables from `threads` threads released at once."""
    results = [None] * len(calls)
    barrier = threading.Barrier(threads)

    def worker(idx):
        barrier.wait()
        for i in range(idx, len(calls), threads):
            results[i] = calls[i]()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return results


def check_exact(results, limit):
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
    assert len({rl(r)[2] for r in results}) == 1


def test_exact_under_concurrency(make_tenant):
    k = make_tenant("starter", 60).key()
    ensure_window(15)
    results = fire([lambda: k("GET", "/contacts")] * 100)
    check_exact(results, 60)


def test_exact_across_two_hosts(stack, make_tenant):
    """A second FastCGI master and nginx share the database: the limit
    holds over both."""
    fcgi2 = stack.start_fcgi(workers=4)
    nginx2 = stack.start_nginx(fcgi2.sock)
    try:
        t = make_tenant("starter", 60)
        k = t.key()
        k2 = t.key()
        ensure_window(20)
        # Both hosts serve.
        assert_ok(k2("GET", "/account/me", port=nginx2.port))
        assert_ok(k2("GET", "/account/me", port=stack.port))
        calls = []
        for i in range(100):
            port = stack.port if i % 2 else nginx2.port
            calls.append(lambda port=port: k("GET", "/contacts", port=port))
        results = fire(calls)
        check_exact(results, 60)
        # Both hosts admitted some requests.
        ports = {calls[i].__defaults__[0] for i, r in enumerate(results)
                 if r.status == 200}
        assert ports == {stack.port, nginx2.port}
        # The other key of the tenant is untouched.
        r = k2("GET", "/contacts", port=nginx2.port)
        assert_ok(r)
        assert rl(r)[1] == 57
    finally:
        stack.stop_nginx(nginx2)
        assert fcgi2.stop() == 0


def test_unauthenticated_answers_carry_no_counter(stack, make_tenant):
    """401s are not counted against any key."""
    t = make_tenant("starter", 10)
    k = t.key()
    ensure_window(10)
    for _ in range(15):
        r = http_request(stack.port, "GET", "/api/v1/contacts",
                         key="wz_live_" + "A" * 40)
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = k("GET", "/contacts")
    assert_ok(r)
    assert rl(r)[:2] == (10, 9)
