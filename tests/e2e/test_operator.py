"""The operator's view (issue 13): GET /api/v1/health, wazera-admin status
(table and --json), the request log lines, the [log] file with its
rotation, and the spooler's one summary line per run."""
import contextlib
import json
import os
import re
import time

import pytest

from conftest import (REPO, TEMPLATE, assert_error, assert_ok, http_request,
                      new_sender, read_log, send, sql, wait_for)

SCHEMA = sorted(f[:-4] for f in os.listdir(os.path.join(REPO, "sql",
                                                       "schema"))
                if f[:1].isdigit() and f.endswith(".sql"))[-1]
REQ_LINE = re.compile(r"^\S+Z wazera-fcgi\[\d+\] info: request id=(\w+) "
                      r"tenant=(\d+|-) ([A-Z?]+) (\S+) (\d{3}) "
                      r"(\d+\.\d)ms$", re.M)


def request_lines(path):
    return {m.group(1): m.groups()[1:] for m in
            REQ_LINE.finditer(read_log(path, tail=10 ** 9))}


@contextlib.contextmanager
def side_stack(stack, name, db_name=None, db_socket=None, extra=""):
    """A FastCGI server and nginx of their own, on a config of their own
    (another database, a socket where no server is, [log] settings):
    yields nginx's port and the server's Proc; stops both after."""
    conf = stack.write_config(stack.unique(name) + ".conf",
                              db_socket=db_socket,
                              db_name=db_name or "wazera")
    if extra:
        with open(conf, "a") as f:
            f.write(extra)
    fcgi = stack.start_fcgi(config=conf, workers=1)
    nginx = stack.start_nginx(fcgi.sock)
    try:
        yield nginx.port, fcgi
    finally:
        stack.stop_nginx(nginx)
        fcgi.stop()


# ---- GET /api/v1/health ---------------------------------------------------

def test_health_ok_public_not_limited(stack, make_key):
    r = stack.request("GET", "/health")
    d = assert_ok(r)
    assert d == {"status": "ok", "database": "ok",
                 "schema": {"current": SCHEMA, "expected": SCHEMA}}, r
    # Public: no key needed, a bad one ignored, and never rate limited.
    assert not any(h.startswith("x-ratelimit") for h in r.headers), r
    key = make_key(plan="starter", rate_limit=2)
    for _ in range(4):
        r = stack.request("GET", "/health", key=key.key)
        assert r.status == 200, r
        assert "x-ratelimit-limit" not in r.headers, r
    r = stack.request("GET", "/health", key="wz_live_" + "x" * 40)
    assert r.status == 200, r
    assert r.headers.get("x-request-id"), r


def test_health_other_methods_405(stack):
    for m in ("POST", "PUT", "DELETE"):
        r = stack.request(m, "/health", {})
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers.get("allow") == "GET", r


def test_health_schema_behind_503(stack):
    db = stack.unique("wz_health_")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL ON %s.* TO "
                   "'wazera'@'localhost';" % (db, db))
    try:
        with side_stack(stack, "health-old", db_name=db) as (port, _):
            # Never migrated: the database answers, the schema is missing.
            r = http_request(port, "GET", "/api/v1/health")
            err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
            assert err["details"] == {"database": "ok", "schema": {
                "current": None, "expected": SCHEMA}}, r
            assert r.headers.get("retry-after") == "5", r
            assert "migrate" in err["message"], r
            # An older schema: still 503, naming what it has.
            stack.sql_root("CREATE TABLE schema_migrations (version "
                           "VARCHAR(255) PRIMARY KEY, applied_at DATETIME, "
                           "checksum CHAR(64)); INSERT INTO "
                           "schema_migrations VALUES ('001_baseline', "
                           "NOW(), NULL)", database=db)
            r = http_request(port, "GET", "/api/v1/health")
            err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
            assert err["details"]["schema"]["current"] == "001_baseline", r
            # Newer than this build (a rolling upgrade migrated first):
            # fine.
            stack.sql_root("INSERT INTO schema_migrations VALUES "
                           "('999_later', NOW(), NULL)", database=db)
            d = assert_ok(http_request(port, "GET", "/api/v1/health"))
            assert d["schema"] == {"current": "999_later",
                                   "expected": SCHEMA}
    finally:
        stack.sql_root("DROP DATABASE %s" % db)


def test_health_database_away_503(stack):
    gone = os.path.join(stack.work, "no-such-mysqld.sock")
    with side_stack(stack, "health-down", db_socket=gone) as (port, _):
        r = http_request(port, "GET", "/api/v1/health")
        err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert err["details"] == {"database": "unavailable"}, r
        assert r.headers.get("retry-after") == "5", r
        # The socket's path is not given away.
        assert "no-such" not in r.raw.decode(), r


# ---- request log lines ----------------------------------------------------

def test_request_lines(stack, make_key):
    key = make_key()
    c = key.create_contact(phone="+4915199900001")
    secret_q = "q" * 20
    r1 = key("GET", "/contacts/%d?search=%s" % (c["id"], secret_q))
    assert r1.status == 200, r1
    r2 = stack.request("GET", "/no/such/route")
    r3 = stack.request("GET", "/contacts")                  # no key: 401
    r4 = key("DELETE", "/contacts/%d" % c["id"])
    ids = {r.headers["x-request-id"]: r for r in (r1, r2, r3, r4)}
    log = stack.fcgi.log
    wait_for(lambda: set(ids) <= set(request_lines(log)),
             what="the four request lines")
    lines = request_lines(log)
    tid = str(key.tenant.id)
    assert lines[r1.headers["x-request-id"]][:4] == \
        (tid, "GET", "/contacts/{id}", "200")
    assert lines[r2.headers["x-request-id"]][:4] == ("-", "GET", "-", "404")
    assert lines[r3.headers["x-request-id"]][:4] == \
        ("-", "GET", "/contacts", "401")
    assert lines[r4.headers["x-request-id"]][:4] == \
        (tid, "DELETE", "/contacts/{id}", "200")
    text = read_log(log, tail=10 ** 9)
    # Route patterns only: neither the query nor the id in the path.
    assert secret_q not in text
    assert "/contacts/%d" % c["id"] not in text
    assert key.key not in text and key.key[:12] not in text


def test_log_file_rotation_and_switch_off(stack, make_key):
    key = make_key()
    path = os.path.join(stack.work, stack.unique("api-") + ".log")
    stack.logs.append(path)
    with side_stack(stack, "logfile", extra=(
            "[log]\nfile = %s\n" % path)) as (port, fcgi):
        r = http_request(port, "GET", "/api/v1/account/me", key=key.key)
        assert r.status == 200, r
        rid = r.headers["x-request-id"]
        wait_for(lambda: rid in request_lines(path), what="line in file")
        # Lines go to the file, not to standard error.
        assert rid not in read_log(fcgi.log, tail=10 ** 9)
        assert "listening on" in read_log(path, tail=10 ** 9)
        # logrotate moves the file away; the next line after the once-a-
        # second look goes to a new file by the old name. The sleep: the
        # server looks at most once a second, by its clock.
        os.rename(path, path + ".1")
        stack.logs.append(path + ".1")
        time.sleep(1.1)
        r = http_request(port, "GET", "/api/v1/account/me", key=key.key)
        rid2 = r.headers["x-request-id"]
        wait_for(lambda: os.path.exists(path) and
                 rid2 in request_lines(path), what="line in the new file")
        assert rid2 not in request_lines(path + ".1")
        assert rid in request_lines(path + ".1")
    # requests = false: no request lines, the rest still logged.
    path2 = os.path.join(stack.work, stack.unique("api-") + ".log")
    stack.logs.append(path2)
    with side_stack(stack, "logoff", extra=(
            "[log]\nfile = %s\nrequests = false\n" % path2)) as (port, _):
        r = http_request(port, "GET", "/api/v1/account/me", key=key.key)
        assert r.status == 200, r
    text = read_log(path2, tail=10 ** 9)
    assert "listening on" in text and "stopped" in text, text
    assert " request id=" not in text, text


def test_log_file_unwritable_falls_back_to_stderr(stack):
    conf = stack.write_config(stack.unique("logbad") + ".conf")
    with open(conf, "a") as f:
        f.write("[log]\nfile = /nonexistent-dir/wazera.log\n")
    fcgi = stack.start_fcgi(config=conf, workers=1)
    try:
        wait_for(lambda: "listening on" in read_log(fcgi.log),
                 what="the listening line on stderr")
        text = read_log(fcgi.log)
        assert "log file /nonexistent-dir/wazera.log: No such file or " \
            "directory; logging to standard error" in text, text
    finally:
        fcgi.stop()


# ---- the spooler's summary line ---------------------------------------------

def test_spooler_one_done_line(stack):
    sandbox = stack.start_sandbox()
    try:
        key = new_sender(stack)
        ids = [send(key, to="+49151777%05d" % i, type="template",
                    content=TEMPLATE)["id"] for i in range(2)]
        path = os.path.join(stack.work, stack.unique("spool-") + ".log")
        stack.logs.append(path)
        conf = stack.write_spooler_config(stack.unique("spool-file") +
                                          ".conf", sandbox.base)
        with open(conf, "a") as f:
            f.write("[log]\nfile = %s\n" % path)
        proc = stack.run_spooler(conf, "drain")
        text = read_log(path, tail=10 ** 9)
        done = [l for l in text.splitlines() if " info: done: " in l]
        assert len(done) == 1, text
        line = done[0]
        assert re.search(r"done: \d+ sent, \d+ failed, .*; \d+ webhook "
                         r"deliveries succeeded, .*; \d+ campaigns started, "
                         r".*; drain run of \d+\.\d s, 0 result\(s\) left "
                         r"in the journal$", line), line
        assert "start: drain" in text
        assert " info: " not in read_log(proc.log, tail=10 ** 9)
        assert sorted(int(i) for (i,) in sql(
            stack, "SELECT id FROM messages WHERE status = 'sent' AND id IN "
            "(%s)" % ",".join(map(str, ids)))) == sorted(ids)
    finally:
        sandbox.proc.stop()


# ---- wazera-admin status ----------------------------------------------------

def test_admin_status(stack):
    key = new_sender(stack)
    acct = key.account["id"]
    # Work nobody sends (no spooler runs for this account): three due
    # messages; a webhook disabled and one failing; the account paused and
    # under a lease held by a named holder.
    ids = [send(key, to="+49151888%05d" % i, type="template",
                content=TEMPLATE)["id"] for i in range(3)]
    sql(stack, "UPDATE messages SET next_attempt_at = NOW(3) - INTERVAL 30 "
        "SECOND WHERE id = %d" % ids[0])
    hooks = [assert_ok(key("POST", "/webhooks", {
        "url": "https://hooks%d.example.com/T0/B0/s3cr3tpath?token=abcdef"
               % i,
        "events": ["message.sent"]}), 201) for i in range(2)]
    assert_ok(key("PATCH", "/webhooks/%d" % hooks[0]["id"],
                  {"status": "disabled"}))
    sql(stack, "UPDATE webhook_state SET failing_since = NOW(3) - INTERVAL "
        "1 HOUR WHERE webhook_id = %d" % hooks[1]["id"])
    sql(stack, "UPDATE whatsapp_accounts SET paused_until = NOW(3) + "
        "INTERVAL 1 HOUR, lease_holder = 'status-test:1:ab', lease_until = "
        "NOW(3) + INTERVAL 1 MINUTE WHERE id = %d" % acct)
    try:
        p = stack.admin("status", "--json")
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        assert len(lines) == 1, p.stdout
        st = json.loads(lines[0])
        assert st["schema"] == {"current": SCHEMA, "expected": SCHEMA,
                                "available": SCHEMA, "up_to_date": True}
        m = st["queues"]["messages"]
        assert set(m) == {"due", "later", "parked", "sending",
                          "oldest_due_at", "oldest_due_age_seconds"}, m
        assert m["due"] >= 3, m
        assert m["oldest_due_age_seconds"] >= 30, m
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                        m["oldest_due_at"]), m
        assert set(st["queues"]["webhook_deliveries"]) == {
            "due", "later", "in_flight", "oldest_due_at",
            "oldest_due_age_seconds"}
        assert set(st["queues"]["campaigns"]) == {
            "due", "later", "stopping", "oldest_due_at",
            "oldest_due_age_seconds"}
        assert {"kind": "account", "id": acct, "holder": "status-test:1:ab",
                "until": st["leases"][[l["id"] for l in st["leases"]
                                       if l["kind"] == "account"]
                                      .index(acct)]["until"]} in st["leases"]
        by_id = {w["id"]: w for w in st["webhooks"]}
        w0, w1 = by_id[hooks[0]["id"]], by_id[hooks[1]["id"]]
        assert w0["status"] == "disabled" and w0["tenant_id"] == key.tenant.id
        assert w0["url"] == "https://hooks0.example.com", w0   # host only
        assert w1["status"] == "active" and w1["failing_since"], w1
        paused = [a for a in st["paused_accounts"] if a["id"] == acct]
        assert len(paused) == 1 and paused[0]["tenant_id"] == key.tenant.id
        assert "abcdef" not in p.stdout and "s3cr3tpath" not in p.stdout

        # The table says the same for a person.
        t = stack.admin("status").stdout
        assert t.startswith("schema: %s (this build expects %s" %
                            (SCHEMA, SCHEMA)), t
        assert re.search(r"^  messages\s+\d+\s+\d+\s+\d+ parked, \d+ "
                         r"sending\s+\S+Z \(\d+ s ago\)$", t, re.M), t
        assert re.search(r"^  account\s+%d\s+held by status-test:1:ab "
                         r"until " % acct, t, re.M), t
        assert "webhook %d (tenant %d) https://hooks0.example.com: disabled" % (
            hooks[0]["id"], key.tenant.id) in t, t
        assert re.search(r"webhook %d \(tenant %d\) https://hooks1.example.com: "
                         r"failing since \S+Z" % (hooks[1]["id"],
                                                  key.tenant.id), t), t
        assert re.search(r"^  account %d \(tenant %d, \+1555079\d+\) "
                         r"until " % (acct, key.tenant.id), t, re.M), t
    finally:
        sql(stack, "UPDATE whatsapp_accounts SET paused_until = NULL, "
            "lease_holder = NULL, lease_until = NULL WHERE id = %d" % acct)
        sql(stack, "UPDATE messages SET status = 'failed' WHERE id IN (%s)"
            % ",".join(map(str, ids)))


def test_admin_status_unmigrated_and_unreachable(stack):
    db = stack.unique("wz_status_")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL ON %s.* TO 'wazera'@'localhost';"
                   % (db, db))
    try:
        conf = stack.write_config(stack.unique("st") + ".conf", db_name=db)
        st = json.loads(stack.admin("status", "--json", config=conf).stdout)
        assert st == {"schema": {"current": None, "expected": SCHEMA,
                                 "available": SCHEMA, "up_to_date": False}}
        assert "not migrated" in stack.admin("status", config=conf).stdout
    finally:
        stack.sql_root("DROP DATABASE %s" % db)
    conf = stack.write_config(stack.unique("st") + ".conf",
                              db_socket=os.path.join(stack.work, "none.sock"))
    p = stack.admin("status", config=conf, check=False)
    assert p.returncode == 1, p
    assert "cannot connect to the database" in p.stderr, p.stderr
    p = stack.admin("status", "--bogus", check=False)
    assert p.returncode == 1 and "unknown option --bogus" in p.stderr, p


def test_admin_help_anywhere(stack):
    """--help after a command (a new admin's first guess) prints the usage
    on standard output and exits 0, even before a config exists."""
    for args in (["account", "create", "--help"], ["--help"],
                 ["status", "--help"]):
        p = stack.admin(*args, config="/nonexistent/wazera.conf")
        assert p.stdout.startswith("usage: wazera-admin"), p
        assert "account create --tenant ID" in p.stdout, p
        assert "status [--json]" in p.stdout, p
    p = stack.admin(config="/nonexistent/wazera.conf", check=False)
    assert p.returncode == 2 and p.stderr.startswith("usage:"), p
