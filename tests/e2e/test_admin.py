"""wazera-admin: migrations are idempotent and record what they applied;
a migration file edited after it was applied is reported, not skipped in
silence. `account create` reads its secrets from files or standard
input."""
import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import DB_USER, REPO, assert_ok


def test_migrate_twice_and_detect_edits(stack):
    db = stack.unique("migr")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL PRIVILEGES ON %s.* TO "
                   "'%s'@'localhost'" % (db, db, DB_USER))
    sqldir = os.path.join(stack.work, db + "-sql")
    shutil.copytree(os.path.join(REPO, "sql"), sqldir)
    conf = stack.write_config(db + ".conf", db_name=db)
    with open(conf) as f:
        text = f.read().replace(os.path.join(REPO, "sql"), sqldir)
    with open(conf, "w") as f:
        f.write(text)

    p = stack.admin("migrate", config=conf)
    n = len([x for x in os.listdir(sqldir) if x.endswith(".sql")])
    assert "%d migration(s) applied" % n in p.stderr
    rows = stack.sql_root("SELECT version, LENGTH(checksum) FROM "
                          "schema_migrations ORDER BY version", database=db)
    assert len(rows) == n and all(r[1] == "64" for r in rows)

    p = stack.admin("migrate", config=conf)
    assert "0 migration(s) applied, schema up to date" in p.stderr

    first = sorted(x for x in os.listdir(sqldir) if x.endswith(".sql"))[0]
    with open(os.path.join(sqldir, first), "a") as f:
        f.write("\n-- edited after it was applied\n")
    p = stack.admin("migrate", config=conf, check=False)
    assert p.returncode != 0
    assert "%s changed after it was applied" % first in p.stderr


def test_migrate_009_keeps_each_numbers_open_window(stack):
    """An upgrade to the window per WhatsApp number: the windows open at
    the time are carried over per number from the customers' inbound
    messages, so no window open at Meta closes; a window the customer
    opened with one number only is not carried to the other."""
    db = stack.unique("migr")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL PRIVILEGES ON %s.* TO "
                   "'%s'@'localhost'" % (db, db, DB_USER))
    sqldir = os.path.join(stack.work, db + "-sql")
    os.makedirs(sqldir)
    files = sorted(x for x in os.listdir(os.path.join(REPO, "sql"))
                   if x.endswith(".sql"))
    for x in files:
        if x < "009":
            shutil.copy(os.path.join(REPO, "sql", x), sqldir)
    conf = stack.write_config(db + ".conf", db_name=db)
    with open(conf) as f:
        text = f.read().replace(os.path.join(REPO, "sql"), sqldir)
    with open(conf, "w") as f:
        f.write(text)
    stack.admin("migrate", config=conf)

    # Before: one tenant, two numbers; inbound messages stored by the
    # procedure of the old schema (which kept one window per contact).
    tenant = stack.admin_json("tenant", "create", "--name", db, "--plan",
                              "starter", config=conf)["id"]
    acc = [stack.admin_json(
        "account", "create", "--tenant", tenant, "--phone-number-id",
        stack.unique("9009"), "--waba-id", "1", "--display-phone",
        "+15550000009", "--access-token", "t", config=conf)["id"]
        for _ in range(2)]

    def inbound(account, phone, ago):
        stack.sql_root(
            "CALL wz_inbound_message(%d, %d, '%s', 'C', 'wamid.%s', 'text', "
            "'{\"body\":\"hi\"}', UTC_TIMESTAMP() - INTERVAL %s, '[]', 0, "
            "UUID(), UUID(), UUID(), UUID(), UTC_TIMESTAMP(), '{}', '{}', "
            "'{}')" % (tenant, account, phone, stack.unique("m9"), ago),
            database=db)

    inbound(acc[0], "+4915100090001", "30 HOUR")   # A: closed on 1 ...
    inbound(acc[0], "+4915100090001", "2 HOUR")    # ... reopened on 1,
    inbound(acc[1], "+4915100090001", "30 HOUR")   # closed on 2
    inbound(acc[1], "+4915100090002", "1 HOUR")    # B: open on 2 only
    inbound(acc[0], "+4915100090003", "3 HOUR")    # C: wrote, then deleted
    stack.sql_root("DELETE FROM contacts WHERE phone = '+4915100090003'",
                   database=db)

    for x in files:
        if x >= "009":
            shutil.copy(os.path.join(REPO, "sql", x), sqldir)
    stack.admin("migrate", config=conf)

    rows = stack.sql_root(
        "SELECT c.phone, w.whatsapp_account_id, "
        "w.last_inbound_at > UTC_TIMESTAMP() - INTERVAL 24 HOUR "
        "FROM contact_windows w JOIN contacts c ON c.id = w.contact_id "
        "ORDER BY c.phone, w.whatsapp_account_id", database=db)
    assert rows == [["+4915100090001", str(acc[0]), "1"],
                    ["+4915100090002", str(acc[1]), "1"]], rows
    assert stack.sql_root(
        "SELECT COUNT(*) FROM information_schema.columns WHERE "
        "table_schema = '%s' AND table_name = 'contacts' AND "
        "column_name = 'last_inbound_at'" % db) == [["0"]]

    # After: the new procedure opens the window with the number written to.
    inbound(acc[1], "+4915100090001", "1 MINUTE")
    rows = stack.sql_root(
        "SELECT w.whatsapp_account_id FROM contact_windows w JOIN contacts c "
        "ON c.id = w.contact_id WHERE c.phone = '+4915100090001' AND "
        "w.last_inbound_at > UTC_TIMESTAMP() - INTERVAL 24 HOUR "
        "ORDER BY 1", database=db)
    assert rows == [[str(acc[0])], [str(acc[1])]], rows


# --------------------------------------------------------------------------
# account create: secrets from a file or standard input (SPEC 1), so they
# stay out of `ps` and shell history.


def account_args(tenant, phone):
    return ["account", "create", "--tenant", tenant.id, "--phone-number-id",
            phone, "--waba-id", "102290129340398", "--display-phone",
            "+15550783881"]


def admin_stdin(stack, args, stdin):
    return subprocess.run([stack.admin_bin, "--config", stack.config] +
                          [str(a) for a in args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def secret_file(stack, text):
    path = os.path.join(stack.work, stack.unique("secret-"))
    with open(path, "w", newline="") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def test_account_secrets_from_file_and_stdin(stack, graph_sandbox):
    """The token from standard input and the app secret from a file (CRLF,
    a second line ignored) are stored as given: Meta's webhook signed with
    that secret is taken, and the spooler sends with that token."""
    graph_sandbox.reset()
    t = stack.create_tenant()
    k = t.key()
    phone = stack.unique("8801")
    token = "tok-" + uuid.uuid4().hex
    secret = "as-" + uuid.uuid4().hex
    p = admin_stdin(stack, account_args(t, phone) + [
        "--access-token-file", "-", "--app-secret-file",
        secret_file(stack, secret + "\r\nsecond line\n")], token + "\n")
    assert p.returncode == 0, p.stderr
    k.account = json.loads(p.stdout)
    assert k.account["phone_number_id"] == phone
    assert token not in p.stdout + p.stderr
    assert secret not in p.stdout + p.stderr

    # The stored app secret verifies Meta's signature (a wrong one is 401).
    k.app_secret = secret
    k.customer_writes("+4917655501001", "hi")
    k.app_secret = secret + "\r"
    with pytest.raises(AssertionError):
        k.customer_writes("+4917655501002", "hi")

    # The stored token is the one the Graph API gets.
    assert_ok(k("POST", "/messages/send", {
        "to": "+4917655501001", "whatsapp_account_id": k.account["id"],
        "type": "text", "content": {"body": "hello"}}), 201)
    conf = stack.write_spooler_config("admin-spooler.conf",
                                      graph_sandbox.base)
    stack.run_spooler(conf)
    recs = graph_sandbox.requests(phone)
    assert len(recs) == 1, recs
    assert recs[0]["authorization"] == "Bearer " + token
    graph_sandbox.reset()


def test_account_token_from_file_secret_from_stdin(stack):
    t = stack.create_tenant()
    phone = stack.unique("8802")
    p = admin_stdin(stack, account_args(t, phone) + [
        "--access-token-file", secret_file(stack, "tok-file"),
        "--app-secret-file", "-"], "sec-stdin")   # no newline at the end
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["phone_number_id"] == phone
    rows = stack.sql_root("SELECT LENGTH(access_token_enc), "
                          "LENGTH(app_secret_enc) FROM whatsapp_accounts "
                          "WHERE phone_number_id = '%s'" % phone,
                          database="wazera")
    # Sealed: 40 bytes of nonce and MAC around the plain text.
    assert rows == [[str(len("tok-file") + 40), str(len("sec-stdin") + 40)]]


@pytest.mark.parametrize("case", [
    "no-token", "empty-file", "newline-only", "empty-stdin", "crlf-only",
    "both-stdin", "token-and-file", "secret-and-file", "missing-file",
    "empty-secret-file", "too-long"])
def test_account_secret_errors(stack, case):
    t = stack.create_tenant()
    phone = stack.unique("8803")
    args = account_args(t, phone)
    stdin = ""
    want = "access-token"
    if case == "no-token":
        args += ["--app-secret-file", secret_file(stack, "s\n")]
    elif case == "empty-file":
        args += ["--access-token-file", secret_file(stack, "")]
    elif case == "newline-only":
        args += ["--access-token-file", secret_file(stack, "\nsecond\n")]
    elif case == "empty-stdin":
        args += ["--access-token-file", "-"]
    elif case == "crlf-only":
        args += ["--access-token-file", "-"]
        stdin = "\r\n"
    elif case == "both-stdin":
        args += ["--access-token-file", "-", "--app-secret-file", "-"]
        stdin = "tok\nsec\n"
        want = "standard input"
    elif case == "token-and-file":
        args += ["--access-token", "tok", "--access-token-file",
                 secret_file(stack, "tok\n")]
    elif case == "secret-and-file":
        args += ["--access-token", "tok", "--app-secret", "s",
                 "--app-secret-file", secret_file(stack, "s\n")]
        want = "app-secret"
    elif case == "missing-file":
        args += ["--access-token-file", os.path.join(stack.work, "nope")]
    elif case == "empty-secret-file":
        args += ["--access-token", "tok", "--app-secret-file",
                 secret_file(stack, "\n")]
        want = "app-secret-file"
    elif case == "too-long":
        args += ["--access-token-file", secret_file(stack, "t" * 2049)]
    p = admin_stdin(stack, args, stdin)
    assert p.returncode != 0 and not p.stdout, (p.stdout, p.stderr)
    assert want in p.stderr and "unknown option" not in p.stderr, p.stderr
    rows = stack.sql_root("SELECT COUNT(*) FROM whatsapp_accounts WHERE "
                          "phone_number_id = '%s'" % phone, database="wazera")
    assert rows == [["0"]]
