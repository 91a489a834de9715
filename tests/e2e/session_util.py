"""Helpers for the dashboard session tests (issue 14; design A-C of
/work/notes/issue14-design.md, SPEC 10): users with a role and a password
made through `wazera-admin user create --password-stdin`, logins, and a
session client that sends the wz_session cookie and X-CSRF-Token.

Every request here goes through request(), which is conftest's
http_request (each answer checked against docs/openapi.yaml) plus two
things the session tests need: every Set-Cookie line of the answer
(resp.cookies) and a source address of the test's choice. Login failures
are throttled per client address (50 in 15 minutes), and the whole suite
talks to nginx from 127.0.0.1: so logins here come from a loopback
address of their own (127.x.y.z, any of which reaches 127.0.0.1 on
Linux), never from 127.0.0.1, and the failures these tests make cannot
throttle anyone else's logins."""
import base64
import hashlib
import json
import random
import re
import subprocess
import uuid

from conftest import (api_path, assert_error, assert_ok, http_request,
                      has_sanitizer_mark, note_secret, sql)

COOKIE = "wz_session"
B64URL43 = re.compile(r"^[A-Za-z0-9_-]{43}$")
ALL_SCOPES = ["messages:send", "messages:read", "contacts:read",
              "contacts:write", "webhooks:manage", "account:read",
              "conversations:read", "conversations:write", "campaigns:read",
              "campaigns:write"]
AGENT_SCOPES = {"contacts:read", "contacts:write", "conversations:read",
                "conversations:write", "messages:send", "messages:read",
                "campaigns:read"}
LOGIN_FAILED = "The email or password is incorrect."
SESSION_EXPIRED = "Your session has expired or is not valid; sign in again."
NEEDS_SESSION = "This route needs a dashboard session, not an API key."
USER_KEYS = {"id", "name", "email", "role", "tenant_id"}

_rng = random.SystemRandom()
_used_sources = set()


def loopback_source():
    """A loopback address no other call of this process used (never
    127.0.0.1): a client address of its own for the login throttle."""
    while True:
        a = "127.%d.%d.%d" % (_rng.randrange(1, 255), _rng.randrange(0, 256),
                              _rng.randrange(2, 255))
        if a not in _used_sources:
            _used_sources.add(a)
            return a


def request(port, method, path, body=None, headers=None, source=None,
            timeout=60):
    """One request to nginx at 127.0.0.1:port below /api/v1, from `source`
    (an address on the loopback; None: 127.0.0.1), as conftest's
    http_request sends it (resp.cookies: the Set-Cookie lines)."""
    return http_request(port, method, api_path(path), body, headers=headers,
                        timeout=timeout, source=source)


# --------------------------------------------------------------------------
# wazera-admin with a password on standard input


def admin_stdin(stack, args, stdin, config=None):
    """Runs wazera-admin ARGS with the bytes `stdin` on its standard
    input; a sanitizer report on its stderr fails the test. Returns the
    CompletedProcess (stdout and stderr as text)."""
    args = [str(a) for a in args]
    p = subprocess.run([stack.admin_bin, "--config", config or stack.config]
                       + args, input=stdin, capture_output=True, timeout=120)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if has_sanitizer_mark(p.stderr):
        err = p.stderr if len(p.stderr) <= 6000 else \
            p.stderr[:2000] + "\n[...]\n" + p.stderr[-4000:]
        raise AssertionError("sanitizer report from wazera-admin %s (exit "
                             "%d):\n%s" % (" ".join(args), p.returncode,
                                           err))
    return p


def new_password():
    pw = "pw-" + uuid.uuid4().hex
    note_secret(pw)
    return pw


class User:
    """A user of a tenant made by wazera-admin: id, email, role, password
    (None: none set), obj (what `user create` printed)."""

    def __init__(self, stack, tenant, obj, password):
        self.stack = stack
        self.tenant = tenant
        self.obj = obj
        self.id = obj["id"]
        self.email = obj["email"]
        self.name = obj["name"]
        self.role = obj["role"]
        self.password = password

    def login(self, port=None, source=None, email=None, password=None):
        """A session of this user (asserts the login succeeds)."""
        r = login(self.stack, email or self.email,
                  password or self.password, port=port, source=source)
        return Session.from_login(self.stack, self, r, port=port)

    def set_password(self, password, check=True):
        p = admin_stdin(self.stack, ["user", "password", "--id", self.id],
                        password.encode() + b"\n",
                        config=self.tenant.config)
        if check:
            assert p.returncode == 0, p.stderr
            assert json.loads(p.stdout) == {"id": self.id,
                                            "password_set": True}, p.stdout
            self.password = password
        return p


def create_user_proc(stack, tenant, role=None, password=None, name=None,
                     email=None, stdin=None):
    """Runs `user create` (with --password-stdin when a password or raw
    stdin bytes are given). Returns (CompletedProcess, name, email)."""
    name = name or stack.unique("User ")
    email = email or "%s@example.com" % stack.unique("user-%s-" %
                                                     uuid.uuid4().hex[:8])
    args = ["user", "create", "--tenant", tenant.id, "--name", name,
            "--email", email]
    if role is not None:
        args += ["--role", role]
    if password is not None and stdin is None:
        note_secret(password)
        stdin = password.encode() + b"\n"
    if stdin is not None:
        args.append("--password-stdin")
    p = admin_stdin(stack, args, stdin if stdin is not None else b"",
                    config=tenant.config)
    return p, name, email


def create_user(stack, tenant, role="agent", password=True, name=None,
                email=None):
    """A user of tenant with the role (None: no --role) and a password
    (True: a fresh one; None/False: none). Asserts the JSON line."""
    if password is True:
        password = new_password()
    p, name, email = create_user_proc(stack, tenant, role, password or None,
                                      name, email)
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, p.stdout
    obj = json.loads(lines[0])
    assert set(obj) == {"id", "tenant_id", "name", "email", "role"}, obj
    assert obj["tenant_id"] == tenant.id and obj["name"] == name, obj
    assert obj["role"] == (role or "agent"), obj
    if password:
        assert password not in p.stdout and password not in p.stderr
    return User(stack, tenant, obj, password or None)


# --------------------------------------------------------------------------
# Logins and sessions


def login(stack, email, password, port=None, source=None, headers=None,
          body=None):
    """POST /auth/login from a loopback address of its own (unless
    source is given). body replaces the {"email","password"} object."""
    if body is None:
        body = {"email": email, "password": password}
    return request(port or stack.port, "POST", "/auth/login", body,
                   headers=headers, source=source or loopback_source())


def parse_cookie(line):
    """'name=value; A; B=c' -> (name, value, [attributes as given])."""
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    return name, value, parts[1:]


def session_cookie(resp, secure=False):
    """The session id a successful login set, its Set-Cookie held to the
    contract: exactly one, wz_session=<43 base64url chars>; Path=/;
    HttpOnly; SameSite=Strict (and Secure over HTTPS), no Max-Age or
    Expires."""
    lines = [c for c in resp.cookies if c.split("=", 1)[0].strip() == COOKIE]
    assert len(lines) == 1, resp.cookies
    name, value, attrs = parse_cookie(lines[0])
    assert name == COOKIE
    assert B64URL43.match(value), lines[0]
    want = ["Path=/", "HttpOnly", "SameSite=Strict"] + (
        ["Secure"] if secure else [])
    assert sorted(attrs) == sorted(want), lines[0]
    note_secret(value)
    return value


def csrf_candidates(cookie):
    """What the CSRF token may be by the design's words (BLAKE2b-256 of
    "wazera csrf v1" keyed with the session id, base64url without padding):
    the key being the id as the cookie carries it, or its 32 bytes."""
    raw = base64.urlsafe_b64decode(cookie + "=")
    out = []
    for k in (cookie.encode(), raw):
        d = hashlib.blake2b(b"wazera csrf v1", key=k, digest_size=32).digest()
        out.append(base64.urlsafe_b64encode(d).rstrip(b"=").decode())
    return out


def id_hash_candidates(cookie):
    """BLAKE2b-256 of the session id (of its text or of its 32 bytes), as
    lower-case hex: what sessions.id_hash may hold."""
    raw = base64.urlsafe_b64decode(cookie + "=")
    return {hashlib.blake2b(v, digest_size=32).hexdigest()
            for v in (cookie.encode(), raw)}


class Session:
    """A logged-in dashboard session: cookie (the session id), csrf,
    user, login (the login's Resp). Calling it sends a request with the
    cookie and, on anything but GET/HEAD, the X-CSRF-Token (csrf=False:
    none; csrf="...": that one)."""

    def __init__(self, stack, user, cookie, csrf, port=None, login=None):
        self.stack = stack
        self.user = user
        self.cookie = cookie
        self.csrf = csrf
        self.port = port
        self.login = login
        note_secret(cookie)
        note_secret(csrf)

    @classmethod
    def from_login(cls, stack, user, r, port=None):
        data = assert_ok(r)
        assert set(data) == {"user", "csrf_token"}, data
        assert B64URL43.match(data["csrf_token"]), data
        cookie = session_cookie(r)
        return cls(stack, user, cookie, data["csrf_token"], port, r)

    def headers(self, method, csrf=True, extra=None):
        h = {"Cookie": "%s=%s" % (COOKIE, self.cookie)}
        if csrf is True:
            if method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = self.csrf
        elif csrf:
            h["X-CSRF-Token"] = csrf
        if extra:
            h.update(extra)
        return h

    def __call__(self, method, path, body=None, headers=None, csrf=True,
                 port=None):
        return request(port or self.port or self.stack.port, method, path,
                       body, headers=self.headers(method, csrf, headers))

    def me(self):
        return self("GET", "/auth/me")

    def logout(self):
        return self("POST", "/auth/logout")

    def create_contact(self, **fields):
        return assert_ok(self("POST", "/contacts", fields), 201)


def session_rows(stack, user_id):
    """The user's sessions rows: dicts of HEX(id_hash), user_id,
    tenant_id and the three times."""
    rows = sql(stack, "SELECT LOWER(HEX(id_hash)), user_id, tenant_id, "
               "created_at, last_seen_at, expires_at FROM sessions WHERE "
               "user_id = %d ORDER BY created_at" % user_id)
    keys = ("id_hash", "user_id", "tenant_id", "created_at", "last_seen_at",
            "expires_at")
    return [dict(zip(keys, r)) for r in rows]


def expire_idle(stack, cookie_or_user, seconds):
    """Moves last_seen_at `seconds` into the past (the database's UTC
    clock) for the user's sessions (an int) or one session (a cookie)."""
    sql(stack, "UPDATE sessions SET last_seen_at = UTC_TIMESTAMP() - "
        "INTERVAL %d SECOND WHERE %s" % (seconds, _where(cookie_or_user)))


def _where(cookie_or_user):
    if isinstance(cookie_or_user, int):
        return "user_id = %d" % cookie_or_user
    hashes = id_hash_candidates(cookie_or_user)
    return "LOWER(HEX(id_hash)) IN (%s)" % ",".join("'%s'" % h
                                                    for h in hashes)


def set_session_times(stack, cookie, **exprs):
    """UPDATE sessions SET col = <SQL expression> for one session."""
    sets = ", ".join("%s = %s" % kv for kv in sorted(exprs.items()))
    sql(stack, "UPDATE sessions SET %s WHERE %s" % (sets, _where(cookie)))


def assert_session_expired(resp):
    """401 AUTHENTICATION_ERROR for an invalid, expired or ended session.
    Its exact message (design C) is held in test_sessions.py's
    test_expired_session_message only, so that a wording difference fails
    one test, not every test that ends a session."""
    err = assert_error(resp, 401, "AUTHENTICATION_ERROR", details={})
    assert "session" in err["message"], resp
    return err


def assert_login_failed(resp):
    err = assert_error(resp, 401, "AUTHENTICATION_ERROR", details={})
    assert err["message"] == LOGIN_FAILED, resp
    return err


# --------------------------------------------------------------------------
# Rate-limit windows (as test_rate_limit.py counts them)


from test_rate_limit import db_window, in_one_window, rl  # noqa: E402,F401


# --------------------------------------------------------------------------
# Rows as text (binary columns as hex, which the mariadb client's text
# output could not carry)

_BINARY = {"binary", "varbinary", "blob", "tinyblob", "mediumblob",
           "longblob"}
_columns = {}


def table_rows(stack, table, where="1"):
    """Every column of table's rows matching where, ordered by the first
    column; binary ones as upper-case hex."""
    cols = _columns.get(table)
    if cols is None:
        cols = [("HEX(`%s`)" if t.lower() in _BINARY else "`%s`") % c
                for c, t in sql(stack, "SELECT COLUMN_NAME, DATA_TYPE FROM "
                                "information_schema.COLUMNS WHERE "
                                "TABLE_SCHEMA = 'wazera' AND TABLE_NAME = "
                                "'%s' ORDER BY ORDINAL_POSITION" % table)]
        assert cols, "no table %s" % table
        _columns[table] = cols
    return sql(stack, "SELECT %s FROM %s WHERE %s ORDER BY 1" % (
        ", ".join(cols), table, where))


def throttle_subject(stack, kind, value):
    """login_throttle.subject as hex: BLAKE2b-256 of the kind, a NUL and
    the value (app/fcgi/session.c's subject_hash). An email's value is its
    WEIGHT_STRING under utf8mb4_general_ci with trailing spaces trimmed
    (SQL_LOGIN_LOOKUP), so every spelling the users' key takes for it, known
    or not, is one subject; an address's is its text."""
    if kind == "email":
        lit = value.replace("\\", "\\\\").replace("'", "''")
        rows = sql(stack, "SELECT HEX(WEIGHT_STRING(TRIM(TRAILING ' ' FROM "
                   "CONVERT('%s' USING utf8mb4)) COLLATE "
                   "utf8mb4_general_ci))" % lit)
        raw = bytes.fromhex(rows[0][0])
    else:
        raw = str(value).encode()
    return hashlib.blake2b(kind.encode() + b"\0" + raw,
                           digest_size=32).hexdigest().upper()
