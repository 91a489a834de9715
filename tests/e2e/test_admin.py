"""wazera-admin: migrations are idempotent and record what they applied;
a schema file edited after it was applied is reported, not skipped in
silence, and a routine file is applied again whenever it changes.
`account create` reads its secrets from files or standard input."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import DB_USER, REPO, assert_ok, cli_checked


def sql_files(sqldir, sub):
    return sorted(x for x in os.listdir(os.path.join(sqldir, sub))
                  if x.endswith(".sql"))


def migration_db(stack):
    """A new, empty database and a config whose sql_dir is a copy of the
    tree's sql/ (which the test may edit): (db, conf, sqldir)."""
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
    return db, conf, sqldir


def recorded(stack, db):
    """(schema_migrations, schema_routines) as {name: checksum}."""
    return tuple({n: c for n, c in stack.sql_root(
        "SELECT %s, checksum FROM %s" % (col, table), database=db)}
        for col, table in (("version", "schema_migrations"),
                           ("file", "schema_routines")))


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_migrate_twice_and_detect_edits(stack):
    db, conf, sqldir = migration_db(stack)
    schema, routines = sql_files(sqldir, "schema"), sql_files(sqldir,
                                                              "routines")
    assert schema and routines

    p = stack.admin("migrate", config=conf)
    assert "%d migration(s) applied, %d routine file(s) applied, schema " \
        "up to date" % (len(schema), len(routines)) in p.stderr, p.stderr
    for x in schema:
        assert "applied schema/%s\n" % x in p.stderr
    for x in routines:
        assert "applied routines/%s\n" % x in p.stderr
    # Schema files in order, then the routine files.
    order = [line.split()[-1] for line in p.stderr.splitlines()
             if " applied schema/" in line or " applied routines/" in line]
    assert order == ["schema/" + x for x in schema] + \
        ["routines/" + x for x in routines], order
    mig, rout = recorded(stack, db)
    assert mig == {x[:-4]: sha256_file(os.path.join(sqldir, "schema", x))
                   for x in schema}
    assert rout == {x: sha256_file(os.path.join(sqldir, "routines", x))
                    for x in routines}

    p = stack.admin("migrate", config=conf)
    assert "0 migration(s) applied, 0 routine file(s) applied, schema up " \
        "to date" in p.stderr, p.stderr

    with open(os.path.join(sqldir, "schema", schema[0]), "a") as f:
        f.write("\n-- edited after it was applied\n")
    p = stack.admin("migrate", config=conf, check=False)
    assert (p.returncode, p.stdout) == (1, ""), (p.stdout, p.stderr)
    assert "schema/%s changed after it was applied" % schema[0] in p.stderr
    assert recorded(stack, db) == (mig, rout)


def test_an_edited_routine_file_is_applied_again(stack):
    """A routine file is re-applied whenever its text changes (and only
    then); the new text is what the database runs afterwards."""
    db, conf, sqldir = migration_db(stack)
    stack.admin("migrate", config=conf)
    name = sql_files(sqldir, "routines")[0]
    path = os.path.join(sqldir, "routines", name)
    with open(path, "a") as f:
        f.write("\nCREATE OR REPLACE FUNCTION wz_migrate_probe() RETURNS "
                "INT DETERMINISTIC RETURN 7;\n")
    p = stack.admin("migrate", config=conf)
    assert "applied again (changed) routines/%s\n" % name in p.stderr
    assert "0 migration(s) applied, 1 routine file(s) applied" in p.stderr
    assert stack.sql_root("SELECT wz_migrate_probe()", database=db) == \
        [["7"]]
    assert recorded(stack, db)[1][name] == sha256_file(path)
    with open(path, "a") as f:
        f.write("CREATE OR REPLACE FUNCTION wz_migrate_probe() RETURNS "
                "INT DETERMINISTIC RETURN 8;\n")
    stack.admin("migrate", config=conf)
    assert stack.sql_root("SELECT wz_migrate_probe()", database=db) == \
        [["8"]]
    p = stack.admin("migrate", config=conf)
    assert "0 routine file(s) applied" in p.stderr


def test_a_routine_file_that_fails_is_applied_by_the_next_run(stack):
    db, conf, sqldir = migration_db(stack)
    stack.admin("migrate", config=conf)
    before = recorded(stack, db)
    name = sql_files(sqldir, "routines")[-1]
    path = os.path.join(sqldir, "routines", name)
    with open(path) as f:
        good = f.read()
    with open(path, "w") as f:
        f.write(good + "\nCREATE OR REPLACE FUNCTION wz_migrate_probe() "
                "RETURNS INT RETURN;\n")
    p = stack.admin("migrate", config=conf, check=False)
    assert (p.returncode, p.stdout) == (1, ""), p.stderr
    assert "wazera-admin: routines/%s: " % name in p.stderr, p.stderr
    assert "syntax" in p.stderr, p.stderr
    assert recorded(stack, db) == before      # not recorded
    with open(path, "w") as f:
        f.write(good)
    p = stack.admin("migrate", config=conf)
    # Back to the text recorded: nothing to do.
    assert "0 routine file(s) applied" in p.stderr
    with open(path, "w") as f:
        f.write(good + "\n-- fixed\n")
    p = stack.admin("migrate", config=conf)
    assert "applied again (changed) routines/%s" % name in p.stderr


def test_concurrent_migrates_apply_each_file_once(stack):
    """Runs started together wait for each other's lock: every file is
    applied by exactly one of them, and both succeed."""
    db, conf, sqldir = migration_db(stack)
    cmd = [os.path.join(stack.build, "wazera-admin"), "--config", conf,
           "migrate"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    lines = [line for _, err in outs for line in err.splitlines()
             if " applied schema/" in line or " applied routines/" in line]
    files = ["schema/" + x for x in sql_files(sqldir, "schema")] + \
        ["routines/" + x for x in sql_files(sqldir, "routines")]
    assert sorted(line.split()[-1] for line in lines) == sorted(files), outs
    mig, rout = recorded(stack, db)
    assert len(mig) == len(sql_files(sqldir, "schema"))
    assert len(rout) == len(sql_files(sqldir, "routines"))


LEGACY = ["001_core", "002_messaging", "003_statuses", "004_conversations",
          "005_inbound", "006_inbound", "007_counter_shards", "008_spooler",
          "009_window_per_number", "010_hardening", "011_account_pause"]


@pytest.mark.parametrize("upto", [len(LEGACY), 8])
def test_a_database_of_the_numbered_files(stack, upto):
    """Before the baseline the schema was eleven numbered files. A database
    they migrated to their end holds the baseline: it is recorded, not
    run, and the routine files are applied; one part of the way is refused
    with the way out, and nothing is changed."""
    db, conf, sqldir = migration_db(stack)
    # Such a database holds the baseline's tables, none of a later schema
    # file, and the routines of its day (not these, which need the later
    # tables): migrated here with the baseline alone, then given the whole
    # sql/ again.
    later = sql_files(sqldir, "schema")[1:]
    aside = sqldir + "-aside"
    shutil.move(os.path.join(sqldir, "routines"), aside)
    os.mkdir(os.path.join(sqldir, "routines"))
    for name in later:
        shutil.move(os.path.join(sqldir, "schema", name), aside)
    stack.admin("migrate", config=conf)
    os.rmdir(os.path.join(sqldir, "routines"))
    for name in later:
        shutil.move(os.path.join(aside, name), os.path.join(sqldir, "schema"))
    shutil.move(aside, os.path.join(sqldir, "routines"))
    # What such a database records: the eleven versions, no baseline, no
    # routine files.
    stack.sql_root(
        "DELETE FROM schema_migrations; DELETE FROM schema_routines; "
        "INSERT INTO schema_migrations (version, applied_at, checksum) "
        "VALUES %s" % ", ".join("('%s', UTC_TIMESTAMP(), NULL)" % v
                                for v in LEGACY[:upto]), database=db)
    p = stack.admin("migrate", config=conf, check=False)
    mig, rout = recorded(stack, db)
    if upto == len(LEGACY):
        assert p.returncode == 0, p.stderr
        assert "recorded (the numbered files of an earlier Wazera made " \
            "it) schema/001_baseline.sql" in p.stderr, p.stderr
        # Then the schema files after the baseline, and every routine.
        assert "%d migration(s) applied, %d routine file(s) applied" % (
            len(later), len(sql_files(sqldir, "routines"))) in p.stderr, \
            p.stderr
        assert mig["001_baseline"] == sha256_file(
            os.path.join(sqldir, "schema", "001_baseline.sql"))
        assert set(mig) == set(LEGACY) | {"001_baseline"} | {
            n[:-len(".sql")] for n in later}
        assert len(rout) == len(sql_files(sqldir, "routines"))
    else:
        assert (p.returncode, p.stdout) == (1, ""), p.stderr
        assert "not to their end (011_account_pause)" in p.stderr, p.stderr
        assert set(mig) == set(LEGACY[:upto]) and rout == {}


def account_args(tenant, phone):
    return ["account", "create", "--tenant", tenant.id, "--phone-number-id",
            phone, "--waba-id", "102290129340398", "--display-phone",
            "+15550783881"]


def admin_stdin(stack, args, stdin):
    return cli_checked(subprocess.run(
        [stack.admin_bin, "--config", stack.config] + [str(a) for a in args],
        input=stdin, capture_output=True, text=True, timeout=60))


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


TOKEN_MAX, SECRET_MAX = 2048, 512   # app/admin/main.c


@pytest.mark.parametrize("case", [
    "no-token", "empty-file", "newline-only", "empty-stdin", "crlf-only",
    "both-stdin", "token-and-file", "secret-and-file", "missing-file",
    "empty-secret-file", "too-long", "directory", "empty-token"])
def test_account_secret_errors(stack, case):
    t = stack.create_tenant()
    phone = stack.unique("8803")
    args = account_args(t, phone)
    stdin = ""

    def bad_file(opt, path, why, max_=TOKEN_MAX):
        return "--%s %s: %s (at most %d characters)" % (opt, path, why, max_)

    if case == "no-token":
        args += ["--app-secret-file", secret_file(stack, "s\n")]
        want = "--access-token-file (or --access-token) is required"
    elif case in ("empty-file", "newline-only"):
        f = secret_file(stack, "" if case == "empty-file" else "\nsecond\n")
        args += ["--access-token-file", f]
        want = bad_file("access-token-file", f, "the first line is empty")
    elif case in ("empty-stdin", "crlf-only"):
        args += ["--access-token-file", "-"]
        stdin = "" if case == "empty-stdin" else "\r\n"
        want = bad_file("access-token-file", "-", "the first line is empty")
    elif case == "both-stdin":
        args += ["--access-token-file", "-", "--app-secret-file", "-"]
        stdin = "tok\nsec\n"
        want = ("only one of --access-token-file and --app-secret-file can "
                "be - (standard input)")
    elif case == "token-and-file":
        args += ["--access-token", "tok", "--access-token-file",
                 secret_file(stack, "tok\n")]
        want = "give --access-token or --access-token-file, not both"
    elif case == "secret-and-file":
        args += ["--access-token", "tok", "--app-secret", "s",
                 "--app-secret-file", secret_file(stack, "s\n")]
        want = "give --app-secret or --app-secret-file, not both"
    elif case == "missing-file":
        f = os.path.join(stack.work, "nope")
        args += ["--access-token-file", f]
        want = "--access-token-file %s: No such file or directory" % f
    elif case == "empty-secret-file":
        f = secret_file(stack, "\n")
        args += ["--access-token", "tok", "--app-secret-file", f]
        want = bad_file("app-secret-file", f, "the first line is empty",
                        SECRET_MAX)
    elif case == "too-long":
        f = secret_file(stack, "t" * (TOKEN_MAX + 1))
        args += ["--access-token-file", f]
        want = bad_file("access-token-file", f, "the first line is too long")
    elif case == "directory":     # opens, but cannot be read
        args += ["--access-token-file", stack.work]
        want = bad_file("access-token-file", stack.work, "Is a directory")
    elif case == "empty-token":
        args += ["--access-token", ""]
        want = "--access-token must be 1 to %d characters" % TOKEN_MAX
    p = admin_stdin(stack, args, stdin)
    assert_admin_error(p, want)
    rows = stack.sql_root("SELECT COUNT(*) FROM whatsapp_accounts WHERE "
                          "phone_number_id = '%s'" % phone, database="wazera")
    assert rows == [["0"]]


# --------------------------------------------------------------------------
# Every refusal of wazera-admin: exit status 1 (2 for usage), nothing on
# standard output, the message naming the problem as the last line of
# standard error, and nothing written.


def assert_admin_error(p, message, status=1, prefix=False):
    """message None: the usage text (status 2). prefix: the message's
    start (the rest is the client library's)."""
    assert (p.returncode, p.stdout) == (status, ""), (p.returncode,
                                                      p.stdout, p.stderr)
    lines = p.stderr.rstrip("\n").splitlines()
    assert lines, p.stderr
    if message is None:
        assert status == 2
        assert lines[0] == "usage: wazera-admin [--config FILE] COMMAND", \
            p.stderr
    elif prefix:
        assert lines[-1].startswith("wazera-admin: " + message), p.stderr
    else:
        assert lines[-1] == "wazera-admin: " + message, p.stderr


@pytest.fixture(scope="module")
def cli(stack):
    """A tenant of its own and configs that go wrong in one way each."""
    class Cli:
        pass
    c = Cli()
    c.tenant = stack.create_tenant()
    c.dir = os.path.join(stack.work, stack.unique("cli-"))
    os.makedirs(c.dir)
    c.missing_conf = os.path.join(c.dir, "no-such.conf")
    c.bogus_conf = os.path.join(c.dir, "bogus.conf")
    with open(c.bogus_conf, "w") as f:
        f.write("sql_dir = /x\nbogus = 1\n")
    c.nodb_conf = stack.write_config(
        os.path.join(c.dir, "nodb.conf"),
        db_socket=os.path.join(c.dir, "no-such-dir", "mysql.sock"))
    c.nokey_conf = stack.write_config(os.path.join(c.dir, "nokey.conf"))
    with open(c.nokey_conf) as f:
        text = f.read().replace(stack.master_key,
                                os.path.join(c.dir, "no.key"))
    with open(c.nokey_conf, "w") as f:
        f.write(text)
    return c


ACCOUNT = ["--phone-number-id", "{phone}", "--waba-id", "1",
           "--display-phone", "+15550783881", "--access-token", "tok"]
NOT_UTF8 = "caf\udce9"     # the byte 0xe9 alone on the command line

# (id, config, arguments, message; None: usage, exit status 2)
CLI_ERRORS = [
    ("no-command", None, [], None),
    ("unknown-command", None, ["frobnicate"], None),
    ("noun-alone", None, ["tenant"], None),
    ("unknown-verb", None, ["tenant", "delete"], None),
    ("verb-for-a-noun-alone", None, ["migrate", "now"], None),
    ("config-missing", "missing", ["migrate"],
     "config: {dir}/no-such.conf: No such file or directory"),
    ("config-unknown-key", "bogus", ["migrate"],
     "config: {dir}/bogus.conf: line 2: unknown key bogus"),
    ("database-unreachable", "nodb",
     ["tenant", "create", "--name", "{name}", "--plan", "starter"],
     "cannot connect to the database: "),
    ("master-key-missing", "nokey",
     ["account", "create", "--tenant", "{tenant}"] + ACCOUNT,
     "{dir}/no.key: No such file or directory (run wazera-admin init)"),
    ("command-alone-with-option", None, ["purge", "--now"], None),
    ("unknown-option", None, ["tenant", "create", "--name", "{name}",
                              "--plan", "starter", "--colour", "blue"],
     "unknown option --colour"),
    ("positional", None, ["tenant", "create", "extra"],
     "unexpected argument extra"),
    ("option-without-value", None,
     ["tenant", "create", "--plan", "starter", "--name"],
     "--name needs a value"),
    ("tenant-no-name", None, ["tenant", "create", "--plan", "starter"],
     "--name is required"),
    ("tenant-empty-name", None,
     ["tenant", "create", "--name", "", "--plan", "starter"],
     "--name is required"),
    ("tenant-long-name", None,
     ["tenant", "create", "--name", "n" * 256, "--plan", "starter"],
     "--name must be at most 255 characters of UTF-8"),
    ("tenant-name-not-utf8", None,
     ["tenant", "create", "--name", NOT_UTF8, "--plan", "starter"],
     "--name must be at most 255 characters of UTF-8"),
    ("tenant-no-plan", None, ["tenant", "create", "--name", "{name}"],
     "--plan is required (starter, professional or enterprise)"),
    ("tenant-bad-plan", None,
     ["tenant", "create", "--name", "{name}", "--plan", "gold"],
     "--plan must be starter, professional or enterprise"),
    ("tenant-plan-case", None,
     ["tenant", "create", "--name", "{name}", "--plan", "Starter"],
     "--plan must be starter, professional or enterprise"),
    ("tenant-rate-limit-zero", None, ["tenant", "create", "--name", "{name}",
                                      "--plan", "starter", "--rate-limit",
                                      "0"],
     "--rate-limit must be a positive integer"),
    ("tenant-rate-limit-text", None, ["tenant", "create", "--name", "{name}",
                                      "--plan", "starter", "--rate-limit",
                                      "12x"],
     "--rate-limit must be a positive integer"),
    ("tenant-rate-limit-huge", None, ["tenant", "create", "--name", "{name}",
                                      "--plan", "starter", "--rate-limit",
                                      "4000000001"],
     "--rate-limit is too large"),
    ("apikey-no-tenant", None, ["apikey", "create"], "--tenant is required"),
    ("apikey-tenant-text", None, ["apikey", "create", "--tenant", "abc"],
     "--tenant must be a positive integer"),
    ("apikey-tenant-zero", None, ["apikey", "create", "--tenant", "0"],
     "--tenant must be a positive integer"),
    ("apikey-unknown-tenant", None,
     ["apikey", "create", "--tenant", "999999999"],
     "no tenant with id 999999999"),
    ("apikey-bad-scope", None, ["apikey", "create", "--tenant", "{tenant}",
                                "--scopes", "contacts:read,bogus"],
     "unknown scope 'bogus'"),
    ("apikey-no-scope", None, ["apikey", "create", "--tenant", "{tenant}",
                               "--scopes", " , "],
     "--scopes must name at least one scope (leave it out for a key "
     "without restrictions)"),
    ("apikey-bad-expiry", None, ["apikey", "create", "--tenant", "{tenant}",
                                 "--expires-at", "tomorrow"],
     "--expires-at must be an RFC 3339 time"),
    ("apikey-impossible-date", None,
     ["apikey", "create", "--tenant", "{tenant}", "--expires-at",
      "2099-02-30T00:00:00Z"],
     "--expires-at must be an RFC 3339 time"),
    ("apikey-long-name", None, ["apikey", "create", "--tenant", "{tenant}",
                                "--name", "n" * 256],
     "--name must be at most 255 characters of UTF-8"),
    ("revoke-no-id", None, ["apikey", "revoke"], "--id is required"),
    ("revoke-id-text", None, ["apikey", "revoke", "--id", "x"],
     "--id must be a positive integer"),
    ("revoke-unknown-key", None, ["apikey", "revoke", "--id", "999999999"],
     "no API key with id 999999999"),
    ("account-no-tenant", None, ["account", "create"] + ACCOUNT,
     "--tenant is required"),
    ("account-unknown-tenant", None,
     ["account", "create", "--tenant", "999999999"] + ACCOUNT,
     "no tenant with id 999999999"),
    ("account-no-phone-number-id", None,
     ["account", "create", "--tenant", "{tenant}"] + ACCOUNT[2:],
     "--phone-number-id is required: Meta's phone number id (letters, "
     "digits, _ and -, at most 64)"),
    ("account-bad-phone-number-id", None,
     ["account", "create", "--tenant", "{tenant}", "--phone-number-id",
      "a b"] + ACCOUNT[2:],
     "--phone-number-id is required: Meta's phone number id (letters, "
     "digits, _ and -, at most 64)"),
    ("account-no-waba-id", None,
     ["account", "create", "--tenant", "{tenant}"] + ACCOUNT[:2] +
     ACCOUNT[4:],
     "--waba-id is required: the WhatsApp Business Account id"),
    ("account-bad-display-phone", None,
     ["account", "create", "--tenant", "{tenant}"] + ACCOUNT[:5] +
     ["12"] + ACCOUNT[6:],
     "--display-phone is required, in E.164 (+ and 8-15 digits)"),
    ("account-mps-negative", None,
     ["account", "create", "--tenant", "{tenant}", "--mps", "-1"] + ACCOUNT,
     "--mps must be an integer from 0 (no limit) to 100000"),
    ("account-mps-huge", None,
     ["account", "create", "--tenant", "{tenant}", "--mps", "100001"] +
     ACCOUNT,
     "--mps must be an integer from 0 (no limit) to 100000"),
    ("account-mps-text", None,
     ["account", "create", "--tenant", "{tenant}", "--mps", "fast"] +
     ACCOUNT,
     "--mps must be an integer from 0 (no limit) to 100000"),
    ("user-no-tenant", None, ["user", "create", "--name", "U", "--email",
                              "u@example.com"], "--tenant is required"),
    ("user-unknown-tenant", None,
     ["user", "create", "--tenant", "999999999", "--name", "U", "--email",
      "u@example.com"], "no tenant with id 999999999"),
    ("user-no-name", None, ["user", "create", "--tenant", "{tenant}",
                            "--email", "u@example.com"],
     "--name is required (at most 255 characters of UTF-8)"),
    ("user-bad-email", None, ["user", "create", "--tenant", "{tenant}",
                              "--name", "U", "--email", "not-an-email"],
     "--email is required and must be a valid address"),
]


def footprint(stack, cli, name, phone):
    """What a refused command must not have written."""
    return stack.sql_root(
        "SELECT (SELECT COUNT(*) FROM tenants WHERE name = '%s'), "
        "(SELECT COUNT(*) FROM api_keys WHERE tenant_id = %d), "
        "(SELECT COUNT(*) FROM whatsapp_accounts WHERE phone_number_id = "
        "'%s'), (SELECT COUNT(*) FROM users WHERE tenant_id = %d)" %
        (name, cli.tenant.id, phone, cli.tenant.id), database="wazera")


@pytest.mark.parametrize("config,args,message",
                         [c[1:] for c in CLI_ERRORS],
                         ids=[c[0] for c in CLI_ERRORS])
def test_cli_refuses(stack, cli, config, args, message):
    name, phone = stack.unique("cli-tenant-"), stack.unique("8804")
    subst = {"tenant": cli.tenant.id, "name": name, "phone": phone,
             "dir": cli.dir}
    args = [a.format(**subst) for a in args]
    conf = {None: stack.config, "missing": cli.missing_conf,
            "bogus": cli.bogus_conf, "nodb": cli.nodb_conf,
            "nokey": cli.nokey_conf}[config]
    before = footprint(stack, cli, name, phone)
    assert before == [["0", "0", "0", "0"]]
    p = stack.admin(*args, config=conf, check=False)
    if message is None:
        assert_admin_error(p, None, status=2)
    else:       # (the database's refusal goes on in the library's words)
        assert_admin_error(p, message.format(**subst),
                           prefix=config == "nodb")
    assert footprint(stack, cli, name, phone) == before


def test_cli_refuses_duplicates(stack):
    """A phone number id registered already, a user's email taken in the
    tenant: refused by name, and the first stays as it was."""
    t = stack.create_tenant()
    phone = stack.unique("8805")
    args = ["account", "create", "--tenant", t.id, "--phone-number-id", phone,
            "--waba-id", "1", "--display-phone", "+15550783881",
            "--access-token", "tok"]
    first = stack.admin_json(*args)
    other = stack.create_tenant()
    p = stack.admin(*(args[:3] + [other.id] + args[4:]), check=False)
    assert_admin_error(p, "phone number id %s is already registered" % phone)
    assert stack.sql_root("SELECT id, tenant_id FROM whatsapp_accounts "
                          "WHERE phone_number_id = '%s'" % phone,
                          database="wazera") == [[str(first["id"]),
                                                  str(t.id)]]
    stack.admin_json("user", "create", "--tenant", t.id, "--name", "U",
                     "--email", "u@example.com")
    p = stack.admin("user", "create", "--tenant", t.id, "--name", "V",
                    "--email", "u@example.com", check=False)
    assert_admin_error(p, "a user with email u@example.com exists in tenant "
                       "%d" % t.id)
    assert stack.sql_root("SELECT name FROM users WHERE tenant_id = %d" %
                          t.id, database="wazera") == [["U"]]
    # The same email in another tenant is another user.
    assert stack.admin_json("user", "create", "--tenant", other.id, "--name",
                            "W", "--email", "u@example.com")["tenant_id"] == \
        other.id


def test_every_statement_fits_a_freshly_migrated_schema(stack):
    """`wazera-admin check` prepares every statement of lib/sql.c against
    the database and checks its parameter and column counts against its
    contract; a schema the binaries do not fit is named statement by
    statement."""
    db, conf, sqldir = migration_db(stack)
    stack.admin("migrate", config=conf)
    p = stack.admin("check", config=conf)
    assert p.stdout == ""
    assert re.search(r"wazera-admin: all (\d+) statements fit the "
                     r"database\n$", p.stderr), p.stderr

    stack.sql_root("ALTER TABLE users CHANGE email mail VARCHAR(255) NOT "
                   "NULL", database=db)
    p = stack.admin("check", config=conf, check=False)
    assert (p.returncode, p.stdout) == (1, ""), p.stderr
    named = set(re.findall(r"^wazera-admin: ([A-Z_]+): ", p.stderr, re.M))
    assert named == {"USER_CREATE", "USER_LIST", "USER_READ",
                     "USER_SET_PASSWORD", "LOGIN_LOOKUP",
                     "SESSION_LOOKUP"}, p.stderr
    assert "Unknown column" in p.stderr, p.stderr
    assert "6 of " in p.stderr and "statement(s) do not fit" in p.stderr


def test_migrate_fits_the_rate_counters_to_the_server(stack):
    """One server (wsrep off) keeps the counters in MEMORY; counters left
    InnoDB (a node taken out of a Galera cluster) are swapped back for
    empty MEMORY tables by the next migrate, which says so; a migrate with
    nothing to fit says nothing about them (sql/routines/counters.sql)."""
    db, conf, _ = migration_db(stack)
    stack.admin("migrate", config=conf)

    def engines():
        return dict(stack.sql_root(
            "SELECT table_name, engine FROM information_schema.tables "
            "WHERE table_schema = '%s' AND table_name IN "
            "('rate_counters', 'user_rate_counters')" % db))

    assert engines() == {"rate_counters": "MEMORY",
                         "user_rate_counters": "MEMORY"}
    assert stack.sql_root("SELECT @@GLOBAL.wsrep_on") == [["0"]]
    stack.sql_root("ALTER TABLE rate_counters ENGINE = InnoDB; "
                   "INSERT INTO rate_counters VALUES (1, 1, 5); "
                   "ALTER TABLE user_rate_counters ENGINE = InnoDB",
                   database=db)
    p = stack.admin("migrate", config=conf)
    assert ("wazera-admin: converted the rate counters to the engine this "
            "server needs (InnoDB with wsrep on, else MEMORY): "
            "routines/counters.sql") in p.stderr, p.stderr
    assert engines() == {"rate_counters": "MEMORY",
                         "user_rate_counters": "MEMORY"}
    assert stack.sql_root("SELECT COUNT(*) FROM rate_counters",
                          database=db) == [["0"]]
    # No table left behind by the swap.
    assert stack.sql_root(
        "SELECT table_name FROM information_schema.tables WHERE "
        "table_schema = '%s' AND table_name LIKE '%%rate_counters_%%'"
        % db) == []
    p = stack.admin("migrate", config=conf)
    assert "converted" not in p.stderr, p.stderr
