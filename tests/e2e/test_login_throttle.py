"""Login throttling (issue 14, design B; SPEC 10): more than 10 failures
for one email (case-insensitive) or 50 from one client address (IPv6 by
its /64) within 15 minutes answer 429 RATE_LIMIT_EXCEEDED with
Retry-After (seconds to that window's end). An attempt counts before the
password is checked and is uncounted when it succeeds.

Each test logs in from a loopback address of its own (session_util), so
no test's failures throttle another's; the IPv6 cases go straight to the
FastCGI socket with a REMOTE_ADDR of the test's choice."""
import hashlib
import json
import uuid

import pytest

from conftest import assert_error, assert_ok, run_calls, sql
from session_util import (assert_login_failed, create_user, login,
                          loopback_source, session_rows, throttle_subject)
from test_fcgi_cli import fcgi_request

WINDOW = 15 * 60


def fresh_email():
    return "nobody-%s@example.com" % uuid.uuid4().hex


def assert_throttled(r):
    assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
    ra = r.headers.get("retry-after")
    assert ra is not None and ra.isdigit(), r
    assert 1 <= int(ra) <= WINDOW, r
    assert not getattr(r, "cookies", None), r
    return int(ra)


def subject(stack, kind, value):
    return throttle_subject(stack, kind, value)


def throttle_row(stack, kind, value):
    """(failures, seconds to window_end) of a subject, or None."""
    rows = sql(stack, "SELECT failures, TIMESTAMPDIFF(SECOND, "
               "UTC_TIMESTAMP(), window_end) FROM login_throttle WHERE "
               "subject = UNHEX('%s')" % subject(stack, kind, value))
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def shift_window(stack, kind, value, seconds):
    """Moves a subject's window_end `seconds` into the past (a window's
    end simulated); asserts the row was there."""
    assert throttle_row(stack, kind, value) is not None, (kind, value)
    sql(stack, "UPDATE login_throttle SET window_end = window_end - "
        "INTERVAL %d SECOND WHERE subject = UNHEX('%s')" %
        (seconds, subject(stack, kind, value)))


def end_window(stack, kind, value):
    shift_window(stack, kind, value, WINDOW + 1)


@pytest.fixture
def user(stack, make_tenant):
    return create_user(stack, make_tenant(), role="admin")


def test_eleventh_failure_for_an_email_is_429(stack, user):
    src = loopback_source()
    # Ten failures (mixed letter case: one email), each 401 ...
    for i in range(10):
        e = user.email.upper() if i % 2 else user.email
        assert_login_failed(login(stack, e, "wrong-password-%d" % i,
                                  source=src))
    # ... then 429, with the right password too, and from other addresses
    # (the email's count).
    ra = assert_throttled(login(stack, user.email, "wrong-password-x",
                                source=src))
    assert_throttled(login(stack, user.email, user.password, source=src))
    assert_throttled(login(stack, user.email.upper(), user.password,
                           source=loopback_source()))
    assert session_rows(stack, user.id) == []
    assert ra <= WINDOW
    # Another email from the same address is not throttled.
    other = create_user(stack, user.tenant, role="agent")
    assert_ok(login(stack, other.email, other.password, source=src))
    # The counts: 10 failures plus the refused attempts for the email.
    failures, left = throttle_row(stack, "email", user.email)
    assert failures >= 11 and 0 < left <= WINDOW, (failures, left)
    # The window's end lets the email in again.
    end_window(stack, "email", user.email)
    assert_ok(login(stack, user.email, user.password, source=src))


def test_unknown_email_is_throttled_alike(stack):
    src = loopback_source()
    e = fresh_email()
    for _ in range(10):
        assert_login_failed(login(stack, e, "some-password", source=src))
    assert_throttled(login(stack, e, "some-password", source=src))


def test_retry_after_is_the_windows_end(stack, user):
    """Retry-After counts down to the end of the window the failures
    opened: moved 10 minutes into the past, at most 5 minutes are left."""
    src = loopback_source()
    for _ in range(10):
        assert_login_failed(login(stack, user.email, "wrong-pw-123",
                                  source=src))
    first = assert_throttled(login(stack, user.email, "wrong-pw-123",
                                   source=src))
    assert first > WINDOW - 120, first
    shift_window(stack, "email", user.email, 600)
    later = assert_throttled(login(stack, user.email, "wrong-pw-123",
                                   source=src))
    assert later <= WINDOW - 600 + 1, (first, later)


def test_parallel_guesses_for_one_email(stack, user):
    """50 wrong guesses at once: each counts before its check, so exactly
    10 are checked (401) and 40 refused (429)."""
    src = loopback_source()
    results = run_calls([lambda i=i: login(stack, user.email,
                                           "guess-%02d-password" % i,
                                           source=src)
                         for i in range(50)], workers=50)
    n401 = sum(r.status == 401 for r in results)
    n429 = sum(r.status == 429 for r in results)
    print("parallel guesses: %d x 401, %d x 429, others %r" % (
        n401, n429, [r.status for r in results
                     if r.status not in (401, 429)]))
    assert (n401, n429) == (10, 40), (n401, n429)
    for r in results:
        if r.status == 401:
            assert_login_failed(r)
        else:
            assert_throttled(r)
    assert_throttled(login(stack, user.email, user.password, source=src))


def test_fifty_failures_from_one_address(stack, user):
    src = loopback_source()
    emails = [fresh_email() for _ in range(50)]
    # Forwarding headers a client makes up change nothing: the address is
    # REMOTE_ADDR.
    for i, e in enumerate(emails):
        assert_login_failed(login(stack, e, "wrong-password", source=src,
                                  headers={"X-Forwarded-For":
                                           "198.51.100.%d" % i,
                                           "X-Real-IP": "203.0.113.%d" % i}))
    # The 51st attempt from that address: 429, whatever the email, even a
    # right password.
    assert_throttled(login(stack, fresh_email(), "wrong-password",
                           source=src))
    assert_throttled(login(stack, user.email, user.password, source=src))
    # From another address the user logs in (its email has no failures).
    assert_ok(login(stack, user.email, user.password,
                    source=loopback_source()))
    assert throttle_row(stack, "addr", src)[0] >= 51
    end_window(stack, "addr", src)
    assert_ok(login(stack, user.email, user.password, source=src))


def test_success_does_not_count(stack, user):
    src = loopback_source()
    for _ in range(9):
        assert_login_failed(login(stack, user.email, "wrong-password",
                                  source=src))
    # Successes in between are uncounted: still 9 failures after them.
    for _ in range(5):
        assert_ok(login(stack, user.email, user.password, source=src))
    assert_login_failed(login(stack, user.email, "wrong-password",
                              source=src))          # the 10th failure
    assert_throttled(login(stack, user.email, user.password, source=src))
    # The successes left no count: 9 + 1 failures and the refused 11th
    # attempt (counted before it was refused).
    assert throttle_row(stack, "email", user.email)[0] == 11


def test_many_successes_from_one_address(stack, make_tenant):
    """Logins that succeed never throttle an address: 60 of them."""
    src = loopback_source()
    u = create_user(stack, make_tenant(), role="agent")
    for _ in range(60):
        assert_ok(login(stack, u.email, u.password, source=src))


def test_validation_errors_are_no_failures(stack, user):
    src = loopback_source()
    for _ in range(12):
        r = login(stack, None, None, source=src,
                  body={"email": user.email, "password": 12})
        assert_error(r, 422, "VALIDATION_ERROR")
    assert_ok(login(stack, user.email, user.password, source=src))


# -- client addresses straight through FastCGI (IPv6) -------------------------

def fcgi_login(stack, email, password, addr):
    body = json.dumps({"email": email, "password": password}).encode()
    return fcgi_request(stack.fcgi_sock, {
        "REQUEST_METHOD": "POST", "REQUEST_URI": "/api/v1/auth/login",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": addr}, body)


def test_ipv6_counts_by_its_64(stack, user):
    net = "2001:db8:%x:%x" % (uuid.uuid4().int & 0xffff,
                              uuid.uuid4().int & 0xffff)
    for i in range(50):
        r = fcgi_login(stack, fresh_email(), "wrong-password",
                       "%s:%x:%x::%x" % (net, i, i * 7 + 1, i + 1))
        assert r.status == 401, r
    # Another address of the /64: throttled; one of another /64: not.
    r = fcgi_login(stack, user.email, user.password, net + "::dead:beef")
    assert r.status == 429, r
    assert r.headers.get("retry-after", "").isdigit(), r
    assert 1 <= int(r.headers["retry-after"]) <= WINDOW
    other = "2001:db8:%x:%x::1" % (uuid.uuid4().int & 0xffff,
                                   uuid.uuid4().int & 0xffff)
    r = fcgi_login(stack, user.email, user.password, other)
    assert r.status == 200, r


def test_every_spelling_that_signs_in_shares_the_throttle(stack, user):
    """Spellings the sign-in takes for this user's email (the column's
    utf8mb4_general_ci collation folds accents as well as case: usér@ and
    ÜSER@ sign in as user@) are one email for the throttle too; else each
    is a fresh budget of 10 guesses at the same password. (wazera-admin
    takes ASCII emails only, so only the sign-in sees such spellings.)"""
    variants = [user.email.replace("user", v, 1)
                for v in ("usér", "ÜSER", "üser", "ùsér")]
    for v in variants[:1]:
        assert assert_ok(login(stack, v, user.password))["user"]["id"] == \
            user.id
    for _ in range(10):
        assert_login_failed(login(stack, user.email, "wrong-password",
                                  source=loopback_source()))
    assert_throttled(login(stack, user.email, user.password,
                           source=loopback_source()))
    for v in variants:
        assert_throttled(login(stack, v, "wrong-password",
                               source=loopback_source()))
        assert_throttled(login(stack, v, user.password,
                               source=loopback_source()))


def test_unknown_email_spellings_share_the_throttle_too(stack, user):
    """The counts tell nothing of who has an account: an email no user
    has is counted as the users' key compares it, exactly as a known one,
    so after 10 failures a variant spelling (case, accents, a trailing
    space) is 429 for both (were it counted by its text, a known email's
    variant would be 429 and an unknown one's 401: an oracle)."""
    ghost = fresh_email()
    for email in (user.email, ghost):
        for _ in range(10):
            assert_login_failed(login(stack, email, "wrong-password",
                                      source=loopback_source()))
        for v in (email.upper(), email + " "):
            assert_throttled(login(stack, v, "wrong-password",
                                   source=loopback_source()))


def test_ipv4_mapped_address_is_its_ipv4(stack, user):
    """A dual-stack listener ([::]:80 ipv6only=off) gives IPv4 clients as
    ::ffff:a.b.c.d: counted as the IPv4 address, not by the /64 that
    every IPv4 client would share (::)."""
    o = uuid.uuid4().int
    v4 = "10.%d.%d.%d" % ((o >> 8) & 0xff, (o >> 16) & 0xff, (o & 0xfe) + 1)
    for i in range(50):
        r = fcgi_login(stack, fresh_email(), "wrong-password",
                       "::ffff:" + v4 if i % 2 else v4)
        assert r.status == 401, r
    assert fcgi_login(stack, user.email, user.password, v4).status == 429
    other = "::ffff:10.%d.%d.%d" % ((o >> 8) & 0xff, (o >> 16) & 0xff,
                                    ((o & 0xfe) + 2) % 254 + 1)
    assert fcgi_login(stack, user.email, user.password, other).status == 200
