"""wazera-admin's users for the dashboard (issue 14, design A; SPEC 10):
`user create --role admin|agent --password-stdin`, `user password --id`,
one login email across tenants, and GET /users with the role."""
import json

import pytest

from conftest import assert_ok, sql
from session_util import (admin_stdin, assert_login_failed,
                          assert_session_expired, create_user,
                          create_user_proc, login, new_password,
                          session_rows)


def users_with_email(stack, email):
    return int(sql(stack, "SELECT COUNT(*) FROM users WHERE email = '%s'"
                   % email)[0][0])


def refused(p, stack=None, email=None):
    """exit != 0 with a message on stderr, nothing on stdout, and (email
    given) no user with that email."""
    assert p.returncode != 0, (p.stdout, p.stderr)
    assert p.stderr.strip(), "no message on stderr"
    assert p.stdout.strip() == "", p.stdout
    if email is not None:
        assert users_with_email(stack, email) == 0, email


@pytest.mark.parametrize("role", ["admin", "agent"])
def test_create_with_role_and_password(stack, make_tenant, role):
    t = make_tenant()
    pw = new_password()
    p, name, email = create_user_proc(stack, t, role=role, password=pw)
    assert p.returncode == 0, p.stderr
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, p.stdout
    obj = json.loads(lines[0])
    assert obj == {"id": obj["id"], "tenant_id": t.id, "name": name,
                   "email": email, "role": role}, obj
    assert isinstance(obj["id"], int)
    assert pw not in p.stdout and pw not in p.stderr
    # Stored: the role, an Argon2id hash (never the password), the login
    # email.
    (row,) = sql(stack, "SELECT role, password_hash, login_email FROM users "
                 "WHERE id = %d" % obj["id"])
    assert row[0] == role
    assert row[1].startswith("$argon2id$"), row[1]
    assert pw not in row[1]
    assert row[2].lower() == email.lower()
    # The password logs in as that user.
    r = login(stack, email, pw)
    d = assert_ok(r)
    assert d["user"] == {"id": obj["id"], "name": name, "email": email,
                         "role": role, "tenant_id": t.id}


def test_default_role_is_agent(stack, make_tenant):
    t = make_tenant()
    u = create_user(stack, t, role=None)
    assert u.role == "agent"
    assert sql(stack, "SELECT role FROM users WHERE id = %d" % u.id) == \
        [["agent"]]
    assert assert_ok(login(stack, u.email, u.password))["user"]["role"] == \
        "agent"
    # Without --password-stdin: a user without a password, who cannot log
    # in (the same answer as a wrong password).
    nopw = create_user(stack, t, role="admin", password=None)
    assert sql(stack, "SELECT password_hash IS NULL, login_email IS NULL "
               "FROM users WHERE id = %d" % nopw.id) == [["1", "1"]]
    assert_login_failed(login(stack, nopw.email, "whatever-it-is"))


@pytest.mark.parametrize("role", ["owner", "Admin", "", "admin,agent"])
def test_bad_role_refused(stack, make_tenant, role):
    t = make_tenant()
    p, _, email = create_user_proc(stack, t, role=role,
                                   password=new_password())
    refused(p, stack, email)


BAD_PASSWORDS = [
    (b"", "empty stdin"),
    (b"\n", "an empty first line"),
    (b"123456789\n", "9 characters"),
    (b"123456789", "9 characters, no newline"),
    ("äöüäöüäöü\n".encode(), "9 characters in 18 bytes"),
    (b"\n0123456789abc\n", "the first line is empty"),
    (b"\xff\xfe" + b"a" * 12 + b"\n", "invalid UTF-8"),
    (b"abcdefghij\xc3\n", "a truncated UTF-8 sequence"),
    (b"a" * 1025 + b"\n", "over 1024 bytes"),
]


@pytest.mark.parametrize("stdin,why", BAD_PASSWORDS,
                         ids=[w for _, w in BAD_PASSWORDS])
def test_bad_password_refused(stack, make_tenant, stdin, why):
    t = make_tenant()
    p, _, email = create_user_proc(stack, t, role="admin", stdin=stdin)
    refused(p, stack, email)


GOOD_PASSWORDS = [
    (b"0123456789\n", "0123456789", "exactly 10"),
    (b"0123456789", "0123456789", "no newline at the end"),
    ("äöüäöüäöüä\n".encode(), "äöüäöüäöüä", "10 characters in 20 bytes"),
    (b"first-line-pw\nsecond line\n", "first-line-pw", "two lines"),
    (b"a" * 1024 + b"\n", "a" * 1024, "exactly 1024 bytes"),
    (b" spaces kept \n", " spaces kept ", "spaces"),
]


@pytest.mark.parametrize("stdin,password,why", GOOD_PASSWORDS,
                         ids=[w for _, _, w in GOOD_PASSWORDS])
def test_password_is_the_first_line(stack, make_tenant, stdin, password,
                                    why):
    t = make_tenant()
    p, _, email = create_user_proc(stack, t, role="agent", stdin=stdin)
    assert p.returncode == 0, p.stderr
    assert_ok(login(stack, email, password))
    # The newline is not part of it, nor the lines after the first (a
    # password over 1024 bytes is a 422 at login: not tried).
    if len((password + "\n").encode()) <= 1024:
        assert_login_failed(login(stack, email, password + "\n"))
    if b"second" in stdin:
        assert_login_failed(login(stack, email, stdin.decode().rstrip("\n")))


def test_password_change(stack, make_tenant):
    t = make_tenant()
    u = create_user(stack, t, role="admin")
    other = create_user(stack, t, role="admin")
    old = u.password
    s1, s2 = u.login(), u.login()
    s_other = other.login()
    assert len(session_rows(stack, u.id)) == 2
    for s in (s1, s2):
        assert_ok(s.me())
    new = new_password()
    p = u.set_password(new)
    assert new not in p.stdout and new not in p.stderr
    # Old password fails, the new one works.
    assert_login_failed(login(stack, u.email, old))
    s3 = u.login()
    # The user's sessions from before ended at once (every worker), the
    # new one and another user's are fine.
    for _ in range(4):
        assert_session_expired(s1.me())
        assert_session_expired(s2("GET", "/contacts"))
        assert_ok(s3.me())
        assert_ok(s_other.me())
    assert len(session_rows(stack, u.id)) == 1
    assert len(session_rows(stack, other.id)) == 1


def test_password_set_for_a_user_without_one(stack, make_tenant):
    t = make_tenant()
    u = create_user(stack, t, role="agent", password=None)
    assert_login_failed(login(stack, u.email, "not-set-yet-pw"))
    u.set_password(new_password())
    assert assert_ok(login(stack, u.email, u.password))["user"]["id"] == u.id


@pytest.mark.parametrize("stdin", [b"", b"short\n", b"\xff" * 12 + b"\n",
                                   b"b" * 1025 + b"\n"],
                         ids=["empty", "short", "not-utf8", "1025-bytes"])
def test_password_change_refused_keeps_the_old(stack, make_tenant, stdin):
    t = make_tenant()
    u = create_user(stack, t, role="agent")
    s = u.login()
    p = admin_stdin(stack, ["user", "password", "--id", u.id], stdin)
    refused(p)
    assert_ok(login(stack, u.email, u.password))
    assert_ok(s.me())


def test_password_unknown_or_bad_id(stack):
    for args in (["--id", "987654321"], ["--id", "abc"], ["--id", "0"],
                 ["--id", "-1"], []):
        p = admin_stdin(stack, ["user", "password"] + args,
                        b"a-good-password\n")
        refused(p)


def test_one_login_email_across_tenants(stack, make_tenant):
    a, b = make_tenant(), make_tenant()
    ua = create_user(stack, a, role="admin")
    # Another tenant's user with that email and a password: refused,
    # nothing created there (also in another letter case).
    for email in (ua.email, ua.email.upper()):
        p, _, _ = create_user_proc(stack, b, role="admin",
                                   password=new_password(), email=email)
        refused(p)
        assert sql(stack, "SELECT COUNT(*) FROM users WHERE tenant_id = %d"
                   % b.id) == [["0"]]
    # Without a password it is another user (SPEC 1) ...
    ub = create_user(stack, b, role="admin", password=None,
                     email=ua.email)
    assert ub.id != ua.id
    # ... who cannot be given one while A's user has it.
    p = ub.set_password(new_password(), check=False)
    refused(p)
    assert sql(stack, "SELECT password_hash IS NULL FROM users WHERE id = "
               "%d" % ub.id) == [["1"]]
    # The email logs in to A's user only.
    d = assert_ok(login(stack, ua.email.upper(), ua.password))
    assert d["user"]["id"] == ua.id and d["user"]["tenant_id"] == a.id


def test_users_list_has_role(stack, make_tenant):
    t = make_tenant()
    k = t.key()
    adm = create_user(stack, t, role="admin")
    agt = create_user(stack, t, role="agent", password=None)
    dflt = create_user(stack, t, role=None)
    r = k("GET", "/users")
    items = assert_ok(r)
    by = {u["id"]: u for u in items}
    assert set(by) == {adm.id, agt.id, dflt.id}
    for u, role in ((adm, "admin"), (agt, "agent"), (dflt, "agent")):
        item = by[u.id]
        assert set(item) == {"id", "name", "email", "role", "created_at"}, \
            item
        assert item["role"] == role and item["email"] == u.email
    assert "password" not in r.raw.decode() and "$argon2" not in \
        r.raw.decode()
    # The same list through an admin session.
    s = adm.login()
    assert assert_ok(s("GET", "/users")) == items
