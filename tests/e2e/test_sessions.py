"""Dashboard sessions (issue 14, design B and C; SPEC 10): login, the
cookie and what is stored of it, /auth/me, logout, expiry, the login's
Origin check, keys winning over cookies, the per-user rate limit and
Idempotency-Key with a session."""
import base64
import hashlib
import json
import uuid

import pytest

from conftest import assert_error, assert_ok, run_calls, sql
from session_util import (B64URL43, COOKIE, NEEDS_SESSION, throttle_subject,
                          SESSION_EXPIRED, USER_KEYS,
                          assert_login_failed, assert_session_expired,
                          create_user, csrf_candidates, id_hash_candidates,
                          in_one_window, login, loopback_source, request,
                          rl, session_cookie, session_rows,
                          set_session_times, table_rows)
from test_fcgi_cli import fcgi_request


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def admin(stack, tenant):
    return create_user(stack, tenant, role="admin")


@pytest.fixture
def agent(stack, tenant):
    return create_user(stack, tenant, role="agent")


def garbage_cookies():
    return ["A" * 43, "x", "", "%" * 43, "A" * 42, "A" * 44,
            "A" * 42 + "!", "\u00e9" * 43]


# -- login --------------------------------------------------------------------

def test_login_success(stack, tenant, admin):
    r = login(stack, admin.email, admin.password)
    data = assert_ok(r)
    assert set(r.body) == {"success", "data"}, r
    assert set(data) == {"user", "csrf_token"}, data
    assert data["user"] == {"id": admin.id, "name": admin.name,
                            "email": admin.email, "role": "admin",
                            "tenant_id": tenant.id}
    assert set(data["user"]) == USER_KEYS
    # Plain http: no Secure; exactly Path=/; HttpOnly; SameSite=Strict.
    cookie = session_cookie(r, secure=False)
    assert B64URL43.match(cookie)
    assert "max-age" not in r.cookies[0].lower()
    assert "expires" not in r.cookies[0].lower()
    assert B64URL43.match(data["csrf_token"])
    assert data["csrf_token"] != cookie
    # Only a hash of the id is stored: one row for the user, its id_hash
    # the BLAKE2b-256 of the id, and the id (in any form) in no column.
    rows = session_rows(stack, admin.id)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["id_hash"] in id_hash_candidates(cookie), row
    assert int(row["tenant_id"]) == tenant.id
    raw_hex = base64.urlsafe_b64decode(cookie + "=").hex()
    for values in table_rows(stack, "sessions"):
        for v in values:
            assert cookie not in v and data["csrf_token"] not in v, values
            assert raw_hex not in v.lower(), values
    # Seven days from creation, last seen now.
    (span, fresh), = sql(stack, "SELECT TIMESTAMPDIFF(SECOND, created_at, "
                         "expires_at), TIMESTAMPDIFF(SECOND, last_seen_at, "
                         "UTC_TIMESTAMP()) FROM sessions WHERE "
                         "LOWER(HEX(id_hash)) = '%s'" % row["id_hash"])
    assert int(span) == 7 * 86400, span
    assert -5 <= int(fresh) <= 60, fresh
    # Two logins: two sessions, two ids, two tokens.
    r2 = login(stack, admin.email, admin.password)
    assert session_cookie(r2) != cookie
    assert assert_ok(r2)["csrf_token"] != data["csrf_token"]
    assert len(session_rows(stack, admin.id)) == 2
    # The CSRF token is derived from the session id (design C), not
    # stored.
    assert data["csrf_token"] in csrf_candidates(cookie), \
        "csrf_token is not BLAKE2b-256('wazera csrf v1', key=session id)"


def test_login_over_https_sets_secure(stack, tenant, admin):
    """HTTPS=on (the FastCGI param a web server sets for TLS requests):
    the cookie gets Secure. Straight to the FastCGI socket, since the
    test's nginx speaks plain http."""
    body = json.dumps({"email": admin.email,
                       "password": admin.password}).encode()
    base = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/api/v1/auth/login",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": loopback_source(), "SERVER_PORT": "443"}
    r = fcgi_request(stack.fcgi_sock, dict(base, HTTPS="on"), body)
    assert r.status == 200, r
    assert r.body["data"]["user"]["id"] == admin.id
    name, _, rest = r.headers["set-cookie"].partition("=")
    assert name == COOKIE
    value, *attrs = [p.strip() for p in rest.split(";")]
    assert B64URL43.match(value)
    assert sorted(attrs) == sorted(["Path=/", "HttpOnly", "SameSite=Strict",
                                    "Secure"]), r.headers["set-cookie"]
    # HTTPS absent or off: no Secure.
    for params in (base, dict(base, HTTPS="off")):
        r = fcgi_request(stack.fcgi_sock, params, body)
        assert r.status == 200, r
        attrs = [p.strip() for p in r.headers["set-cookie"].split(";")[1:]]
        assert sorted(attrs) == sorted(["Path=/", "HttpOnly",
                                        "SameSite=Strict"]), r.headers


def test_wrong_password_and_unknown_email_are_the_same(stack, tenant, admin):
    nopw = create_user(stack, tenant, role="admin", password=None)
    answers = [login(stack, admin.email, admin.password + "x"),
               login(stack, admin.email, admin.password.upper()),
               login(stack, "nobody-%s@example.com" % uuid.uuid4().hex,
                     admin.password),
               login(stack, nopw.email, admin.password),
               login(stack, nopw.email, "x")]
    for r in answers:
        assert_login_failed(r)
        assert not r.cookies, r.cookies
        assert "x-ratelimit-limit" not in r.headers
    assert all(r.raw == answers[0].raw for r in answers), \
        [r.raw for r in answers]
    assert session_rows(stack, admin.id) == []
    assert session_rows(stack, nopw.id) == []


def test_email_is_case_insensitive(stack, tenant):
    u = create_user(stack, tenant, role="agent",
                    email="Mixed.Case-%s@Example.COM" % uuid.uuid4().hex)
    for e in (u.email, u.email.lower(), u.email.upper()):
        d = assert_ok(login(stack, e, u.password))
        assert d["user"]["id"] == u.id
        assert d["user"]["email"] == u.email     # as stored
    # The password is not.
    assert_login_failed(login(stack, u.email, u.password.upper()))


@pytest.mark.parametrize("body,fields", [
    ({}, {"email", "password"}),
    ({"email": "a@example.com"}, {"password"}),
    ({"password": "0123456789"}, {"email"}),
    ({"email": 5, "password": "0123456789"}, {"email"}),
    ({"email": "a@example.com", "password": 1234567890}, {"password"}),
    ({"email": None, "password": None}, {"email", "password"}),
    ({"email": ["a@example.com"], "password": {"x": 1}},
     {"email", "password"}),
    ({"email": True, "password": False}, {"email", "password"}),
])
def test_login_validation(stack, admin, body, fields):
    r = login(stack, None, None, body=body)
    err = assert_error(r, 422, "VALIDATION_ERROR")
    assert set(err["details"]) == fields, err
    for f in fields:
        msgs = err["details"][f]
        assert isinstance(msgs, list) and msgs and all(
            isinstance(m, str) and m for m in msgs), err
    assert not r.cookies


def test_login_bad_json(stack):
    for raw in (b"{bad", b"[1,2]", b"\"str\""):
        r = login(stack, None, None, body=raw)
        assert r.status in (400, 422), r
        assert not r.cookies


# -- /auth/me -----------------------------------------------------------------

def test_me(stack, tenant, admin):
    s = admin.login()
    for _ in range(4):          # whichever worker answers
        r = s.me()
        d = assert_ok(r)
        assert d == assert_ok(s.login), (d, s.login.body)
        assert d["csrf_token"] == s.csrf
        assert not r.cookies, r.cookies      # no new cookie on use
    # No cookie, an unknown one, a malformed one: 401.
    assert_error(request(stack.port, "GET", "/auth/me"), 401,
                 "AUTHENTICATION_ERROR")
    for g in garbage_cookies():
        r = request(stack.port, "GET", "/auth/me",
                    headers={"Cookie": "%s=%s" % (COOKIE, g)})
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    # The cookie among others in the header is found.
    r = request(stack.port, "GET", "/auth/me", headers={
        "Cookie": "a=b; %s=%s; theme=dark" % (COOKIE, s.cookie)})
    assert assert_ok(r)["user"]["id"] == admin.id
    # The csrf token as a cookie is no session.
    r = request(stack.port, "GET", "/auth/me",
                headers={"Cookie": "%s=%s" % (COOKIE, s.csrf)})
    assert_error(r, 401, "AUTHENTICATION_ERROR")


def test_me_with_an_api_key_is_403(stack, tenant, admin):
    k = tenant.key()
    s = admin.login()
    messages = []
    for headers in ({"Authorization": "Bearer " + k.key},
                    {"X-API-Key": k.key},
                    {"Authorization": "Bearer " + k.key,
                     "Cookie": "%s=%s" % (COOKIE, s.cookie)}):
        r = request(stack.port, "GET", "/auth/me", headers=headers)
        messages.append(assert_error(r, 403,
                                     "INSUFFICIENT_PERMISSIONS")["message"])
    # Logout with a key (and the cookie): judged by the key, so not a
    # logout; the session lives on.
    r = request(stack.port, "POST", "/auth/logout", headers={
        "Authorization": "Bearer " + k.key,
        "Cookie": "%s=%s" % (COOKIE, s.cookie), "X-CSRF-Token": s.csrf})
    assert_error(r, 403, "INSUFFICIENT_PERMISSIONS")
    assert_ok(s.me())
    # Design B's words.
    assert messages == [NEEDS_SESSION] * 3, messages


# -- logout -------------------------------------------------------------------

def test_logout(stack, tenant, admin):
    s, other = admin.login(), admin.login()
    # Without the token, with an empty, a wrong one, another session's:
    # 403 and the session lives on.
    for csrf in (False, "", "A" * 43, other.csrf, s.csrf[:-1],
                 s.csrf + "A", s.cookie):
        r = s("POST", "/auth/logout", csrf=csrf)
        assert_error(r, 403, "CSRF_TOKEN_INVALID")
        assert not r.cookies
    assert len(session_rows(stack, admin.id)) == 2
    assert_ok(s.me())
    # With it: 200, the clearing cookie, the row gone.
    r = s.logout()
    assert assert_ok(r) == {"logged_out": True}
    assert r.cookies == ["%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
                         % COOKIE], r.cookies
    rows = session_rows(stack, admin.id)
    assert len(rows) == 1 and rows[0]["id_hash"] in \
        id_hash_candidates(other.cookie)
    # The old cookie: 401 everywhere, on every worker.
    for _ in range(4):
        assert_session_expired(s.me())
        assert_session_expired(s("GET", "/contacts"))
        assert_session_expired(s("POST", "/contacts",
                                 {"phone": "+4915112345678"}))
        assert_session_expired(s.logout())
    assert sql(stack, "SELECT COUNT(*) FROM contacts WHERE tenant_id = %d"
               % tenant.id) == [["0"]]
    # The user's other session is untouched.
    assert assert_ok(other.me())["user"]["id"] == admin.id


def test_expired_session_message(stack, tenant, admin):
    """Design C's words for an invalid, expired or logged-out cookie."""
    s = admin.login()
    assert_ok(s.logout())
    for r in (s.me(), request(stack.port, "GET", "/contacts", headers={
            "Cookie": "%s=%s" % (COOKIE, "Q" * 43)})):
        err = assert_error(r, 401, "AUTHENTICATION_ERROR", details={})
        assert err["message"] == SESSION_EXPIRED, err


def test_logout_without_session(stack):
    r = request(stack.port, "POST", "/auth/logout",
                headers={"X-CSRF-Token": "A" * 43})
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = request(stack.port, "POST", "/auth/logout", headers={
        "Cookie": "%s=%s" % (COOKIE, "B" * 43), "X-CSRF-Token": "A" * 43})
    assert_error(r, 401, "AUTHENTICATION_ERROR")


# -- expiry -------------------------------------------------------------------

def test_idle_expiry(stack, tenant, admin):
    s_old, s_young = admin.login(), admin.login()
    # 12 h idle (and a minute): over. 11 h 58 min: still on, and the use
    # moves last_seen_at to now.
    set_session_times(stack, s_old.cookie, last_seen_at="UTC_TIMESTAMP() - "
                      "INTERVAL 12 HOUR - INTERVAL 1 MINUTE")
    set_session_times(stack, s_young.cookie, last_seen_at="UTC_TIMESTAMP() "
                      "- INTERVAL 11 HOUR - INTERVAL 58 MINUTE")
    for _ in range(4):
        assert_session_expired(s_old.me())
        assert_session_expired(s_old("GET", "/contacts"))
    assert_ok(s_young.me())
    (idle,), = sql(stack, "SELECT TIMESTAMPDIFF(SECOND, last_seen_at, "
                   "UTC_TIMESTAMP()) FROM sessions WHERE LOWER(HEX(id_hash))"
                   " IN (%s)" % ",".join("'%s'" % h for h in
                                         id_hash_candidates(s_young.cookie)))
    assert int(idle) < 120, "last_seen_at was not refreshed: %s s" % idle
    for _ in range(4):
        assert_ok(s_young("GET", "/contacts"))


def idle_seconds(stack, cookie):
    (idle,), = sql(stack, "SELECT TIMESTAMPDIFF(SECOND, last_seen_at, "
                   "UTC_TIMESTAMP()) FROM sessions WHERE LOWER(HEX(id_hash))"
                   " IN (%s)" % ",".join("'%s'" % h for h in
                                         id_hash_candidates(cookie)))
    return int(idle)


def test_last_seen_refreshed_at_most_once_a_minute(stack, tenant, admin):
    s = admin.login()
    set_session_times(stack, s.cookie,
                      last_seen_at="UTC_TIMESTAMP() - INTERVAL 20 SECOND")
    for _ in range(4):
        assert_ok(s.me())
    # Not written again within the minute (at least 20 s old still).
    assert idle_seconds(stack, s.cookie) >= 20
    set_session_times(stack, s.cookie,
                      last_seen_at="UTC_TIMESTAMP() - INTERVAL 5 MINUTE")
    assert_ok(s("GET", "/contacts"))
    assert idle_seconds(stack, s.cookie) < 60


def test_absolute_expiry(stack, tenant, admin):
    s_over, s_near = admin.login(), admin.login()
    # Used a moment ago, but past its 7 days.
    set_session_times(stack, s_over.cookie,
                      expires_at="UTC_TIMESTAMP() - INTERVAL 1 SECOND",
                      created_at="UTC_TIMESTAMP() - INTERVAL 7 DAY - "
                      "INTERVAL 1 SECOND")
    set_session_times(stack, s_near.cookie,
                      expires_at="UTC_TIMESTAMP() + INTERVAL 2 MINUTE",
                      created_at="UTC_TIMESTAMP() - INTERVAL 7 DAY + "
                      "INTERVAL 2 MINUTE")
    for _ in range(4):
        assert_session_expired(s_over.me())
        assert_session_expired(s_over("POST", "/contacts",
                                      {"phone": "+4915112345678"}))
        assert_ok(s_near.me())
    # Use does not extend the 7 days.
    (left,), = sql(stack, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                   "expires_at) FROM sessions WHERE LOWER(HEX(id_hash)) IN "
                   "(%s)" % ",".join("'%s'" % h for h in
                                     id_hash_candidates(s_near.cookie)))
    assert int(left) <= 120, left
    assert sql(stack, "SELECT COUNT(*) FROM contacts WHERE tenant_id = %d"
               % tenant.id) == [["0"]]


def test_role_change_acts_at_once(stack, tenant, admin):
    """Sessions are not cached in workers: a role changed in the database
    applies to the next request (design C)."""
    s = admin.login()
    for _ in range(4):
        assert_ok(s("GET", "/webhooks"))
    sql(stack, "UPDATE users SET role = 'agent' WHERE id = %d" % admin.id)
    for _ in range(4):
        err = assert_error(s("GET", "/webhooks"), 403,
                           "INSUFFICIENT_PERMISSIONS")
        assert err["message"] == \
            "Your role (agent) lacks the webhooks:manage scope.", err
    assert assert_ok(s.me())["user"]["role"] == "agent"


# -- the login's Origin check -------------------------------------------------

def test_login_origin_check(stack, tenant, admin):
    host = "127.0.0.1:%d" % stack.port
    for origin in ("http://evil.example", "https://evil.example",
                   "http://127.0.0.1.evil.example:%d" % stack.port,
                   "http://localhost:%d" % stack.port):
        r = login(stack, admin.email, admin.password,
                  headers={"Origin": origin})
        assert_error(r, 403, "CSRF_TOKEN_INVALID")
        assert not r.cookies
    assert session_rows(stack, admin.id) == []
    # The same host, or no Origin: fine.
    for headers in ({"Origin": "http://" + host}, {}):
        d = assert_ok(login(stack, admin.email, admin.password,
                            headers=headers))
        assert d["user"]["id"] == admin.id
    assert len(session_rows(stack, admin.id)) == 2
    # A host the client names itself, matched by Origin.
    d = assert_ok(login(stack, admin.email, admin.password, headers={
        "Host": "dash.example", "Origin": "https://dash.example"}))
    assert d["user"]["id"] == admin.id


def test_login_sec_fetch_site(stack, tenant, admin):
    """Browsers that send Sec-Fetch-Site say where the sign-in comes from
    (the implementation's reading of design B's login CSRF check): another
    site (cross-site, same-site) is refused, the page's own origin or a
    typed-in request passes."""
    for site in ("cross-site", "same-site"):
        r = login(stack, admin.email, admin.password,
                  headers={"Sec-Fetch-Site": site})
        assert_error(r, 403, "CSRF_TOKEN_INVALID")
        assert not r.cookies
        r = login(stack, admin.email, admin.password, headers={
            "Sec-Fetch-Site": site, "Origin": "http://127.0.0.1:%d" %
            stack.port})
        assert_error(r, 403, "CSRF_TOKEN_INVALID")
    assert session_rows(stack, admin.id) == []
    for site in ("same-origin", "none"):
        d = assert_ok(login(stack, admin.email, admin.password, headers={
            "Sec-Fetch-Site": site, "Origin": "http://127.0.0.1:%d" %
            stack.port}))
        assert d["user"]["id"] == admin.id


def test_login_origin_refusals_do_not_count(stack, tenant, admin):
    """A refused Origin is not a failed password: 12 of them leave the
    email unthrottled."""
    src = loopback_source()
    for _ in range(12):
        assert_error(login(stack, admin.email, "wrong-password-x",
                           source=src,
                           headers={"Origin": "http://evil.example"}),
                     403, "CSRF_TOKEN_INVALID")
    assert_ok(login(stack, admin.email, admin.password, source=src))


# -- a key wins over a cookie -------------------------------------------------

def test_key_wins_over_cookie(stack, tenant, agent):
    s = agent.login()
    other = stack.create_tenant()
    k_other = other.key()
    c_other = k_other.create_contact(phone="+4915100000009")
    mine = s.create_contact(phone="+4915100000001")
    # The agent lacks webhooks:manage; an unrestricted key of the same
    # tenant with the agent's cookie: judged by the key.
    assert_error(s("GET", "/webhooks"), 403, "INSUFFICIENT_PERMISSIONS")
    k = tenant.key()
    r = s("GET", "/webhooks", headers={"Authorization": "Bearer " + k.key})
    assert assert_ok(r) == []
    r = s("GET", "/webhooks", headers={"X-API-Key": k.key})
    assert assert_ok(r) == []
    # Another tenant's key with this cookie: that tenant's data.
    r = s("GET", "/contacts", headers={"Authorization": "Bearer " +
                                       k_other.key})
    assert [c["id"] for c in assert_ok(r)] == [c_other["id"]]
    # A scoped key: its scopes, not the role's.
    ro = tenant.key(scopes=["account:read"])
    assert_error(s("GET", "/contacts", headers={
        "Authorization": "Bearer " + ro.key}), 403,
        "INSUFFICIENT_PERMISSIONS")
    # A revoked key with a valid cookie: 401 KEY_REVOKED; an unknown key:
    # 401 AUTHENTICATION_ERROR.
    dead = tenant.key()
    dead.revoke()
    for _ in range(3):
        assert_error(s("GET", "/contacts", headers={
            "Authorization": "Bearer " + dead.key}), 401, "KEY_REVOKED")
        assert_error(s("GET", "/contacts", headers={
            "Authorization": "Bearer wz_live_" + "Q" * 40}), 401,
            "AUTHENTICATION_ERROR")
    # POST with a key and the cookie: no CSRF token needed.
    r = s("POST", "/contacts", {"phone": "+4915100000002"}, csrf=False,
          headers={"Authorization": "Bearer " + k.key})
    c2 = assert_ok(r, 201)
    assert {c["id"] for c in assert_ok(k("GET", "/contacts"))} == {
        mine["id"], c2["id"]}
    # The session itself still works.
    assert_ok(s.me())


# -- rate limit per user ------------------------------------------------------

def test_rate_limit_per_user(stack, make_tenant):
    def prepare():
        t = make_tenant("starter")
        u1 = create_user(stack, t, role="agent")
        u2 = create_user(stack, t, role="agent")
        return t, u1.login(), u1.login(), u2.login(), t.key()

    def run(p):
        _, s1, s2, s3, k = p
        admitted = []
        for i in range(100):
            admitted.append((s1 if i % 2 else s2)("GET", "/contacts"))
        over = [s1("GET", "/contacts"), s2("GET", "/contacts"),
                s2("POST", "/contacts", {"phone": "+4915112345678"})]
        other_user = s3("GET", "/contacts")
        key = k("GET", "/contacts")
        return admitted, over, other_user, key

    reset, p, (admitted, over, other_user, key) = in_one_window(
        stack, prepare, run)
    t = p[0]
    assert len(admitted) == 100
    for i, r in enumerate(admitted):
        assert_ok(r)
        assert rl(r) == (100, 99 - i, reset), (i, r)
    for r in over:
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        assert rl(r) == (100, 0, reset), r
        ra = r.headers.get("retry-after")
        assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 60, r
    # Another user of the tenant and a key of it: counters of their own.
    assert_ok(other_user)
    assert rl(other_user) == (100, 99, reset)
    assert_ok(key)
    assert rl(key) == (100, 99, reset)
    assert sql(stack, "SELECT COUNT(*) FROM contacts WHERE tenant_id = %d"
               % t.id) == [["0"]]


def test_rate_limit_per_user_concurrent(stack, make_tenant):
    """Two sessions of one user in parallel: exactly the limit admitted."""
    def prepare():
        t = make_tenant("starter", 30)
        u = create_user(stack, t, role="admin")
        return u.login(), u.login()

    def run(p):
        s1, s2 = p
        return run_calls([(lambda s=(s1 if i % 2 else s2):
                           s("GET", "/contacts")) for i in range(60)],
                         workers=12)

    reset, _, results = in_one_window(stack, prepare, run)
    ok = [r for r in results if r.status == 200]
    refused = [r for r in results if r.status == 429]
    assert len(ok) == 30 and len(refused) == 30, (len(ok), len(refused))
    assert sorted(rl(r)[1] for r in ok) == list(range(30))
    for r in refused:
        assert_error(r, 429, "RATE_LIMIT_EXCEEDED")
        assert rl(r)[:2] == (30, 0)


# -- Idempotency-Key ----------------------------------------------------------

def test_idempotency_key_with_a_session(stack, tenant, admin):
    s = admin.login()
    k = str(uuid.uuid4())
    body = {"phone": "+4915112345678", "name": "Once"}
    r1 = s("POST", "/contacts", body, headers={"Idempotency-Key": k})
    c = assert_ok(r1, 201)
    for _ in range(3):
        r = s("POST", "/contacts", body, headers={"Idempotency-Key": k})
        assert r.status == 201 and r.raw == r1.raw, r
    # Another session of another user of the tenant, and a key of it:
    # idempotency is per tenant.
    s2 = create_user(stack, tenant, role="agent").login()
    r = s2("POST", "/contacts", body, headers={"Idempotency-Key": k})
    assert r.status == 201 and r.raw == r1.raw, r
    r = tenant.key()("POST", "/contacts", body,
                     headers={"Idempotency-Key": k})
    assert r.status == 201 and r.raw == r1.raw, r
    # A different body: 409.
    assert_error(s("POST", "/contacts", {"phone": "+4915100000001"},
                   headers={"Idempotency-Key": k}), 409, "CONFLICT")
    # A replay still needs the CSRF token.
    assert_error(s("POST", "/contacts", body, csrf=False,
                   headers={"Idempotency-Key": k}), 403,
                 "CSRF_TOKEN_INVALID")
    assert [x["id"] for x in assert_ok(s("GET", "/contacts"))] == [c["id"]]


# -- housekeeping -------------------------------------------------------------

def test_spooler_deletes_ended_sessions_and_throttle_windows(stack, tenant,
                                                             admin):
    """Design C: the spooler's housekeeping deletes expired sessions and
    throttle rows whose window ended; live ones stay."""
    live, idle, old = admin.login(), admin.login(), admin.login()
    set_session_times(stack, idle.cookie, last_seen_at="UTC_TIMESTAMP() - "
                      "INTERVAL 12 HOUR - INTERVAL 1 MINUTE")
    set_session_times(stack, old.cookie,
                      expires_at="UTC_TIMESTAMP() - INTERVAL 1 MINUTE")
    # Throttle rows: one failure for each of two emails, one of them with
    # its window ended.
    src = loopback_source()
    ended, current = ("gone-%s@example.com" % uuid.uuid4().hex,
                      "kept-%s@example.com" % uuid.uuid4().hex)
    for e in (ended, current):
        assert_login_failed(login(stack, e, "wrong-password", source=src))

    def subj(e):
        return throttle_subject(stack, "email", e)
    sql(stack, "UPDATE login_throttle SET window_end = UTC_TIMESTAMP() - "
        "INTERVAL 1 SECOND WHERE subject = UNHEX('%s')" % subj(ended))

    def throttle(e):
        return sql(stack, "SELECT COUNT(*) FROM login_throttle WHERE "
                   "subject = UNHEX('%s')" % subj(e))[0][0]
    assert (throttle(ended), throttle(current)) == ("1", "1")
    conf = stack.write_spooler_config(stack.unique("sess-hk-") + ".conf",
                                      "http://127.0.0.1:9/v25.0")
    stack.run_spooler(conf, mode="drain", max_seconds=20)
    rows = {r["id_hash"] for r in session_rows(stack, admin.id)}
    assert len(rows) == 1 and rows <= id_hash_candidates(live.cookie), rows
    assert (throttle(ended), throttle(current)) == ("0", "1")
    assert_ok(live.me())
