"""Process and database failures (SPEC 1, 2)."""
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from conftest import (DB_USER, RootSession, assert_error, assert_json,
                      assert_ok, cli_checked, http_request, lock_waits,
                      read_log, run_parallel, wait_for)


def burst(key, n, port=None, threads=8, method="GET", path="/contacts"):
    """n requests from `threads` threads; returns the n answers (an
    exception in any thread is raised here)."""
    out = run_parallel(lambda _: key(method, path, port=port), range(n),
                       workers=threads)
    assert len(out) == n
    return out


def dead(pid):
    """True once pid has exited (gone, or a zombie not yet reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def kill9(pids):
    """SIGKILLs the pids and waits until they are dead: a worker killed in
    the instant it accepts a connection takes that one request with it,
    which no server can avoid, so requests are sent only afterwards."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(dead(p) for p in pids), timeout=10,
             what="killed workers to die")


def live_children(proc):
    return [p for p in proc.children() if not dead(p)]


def test_killed_worker_is_replaced(stack, key):
    fcgi = stack.start_fcgi(workers=4)
    nginx = stack.start_nginx(fcgi.sock)
    try:
        before = fcgi.children()
        assert len(before) == 4
        assert all(r.status == 200 for r in burst(key, 16, nginx.port))
        victim = before[1]
        kill9([victim])
        # Requests keep succeeding at once, on the other workers.
        for _ in range(10):
            assert_ok(key("GET", "/contacts", port=nginx.port))
        c = assert_ok(key("POST", "/contacts", {"phone": "+4915112345678"},
                          port=nginx.port), 201)
        # The master forks a replacement.
        wait_for(lambda: len(live_children(fcgi)) == 4 and
                 victim not in fcgi.children(), timeout=10,
                 what="a replacement worker")
        # Kill them all: the master brings four back and they serve.
        old = live_children(fcgi)
        kill9(old)
        wait_for(lambda: len(live_children(fcgi)) == 4 and
                 not set(old) & set(fcgi.children()), timeout=15,
                 what="four new workers")
        rs = burst(key, 20, nginx.port)
        assert [r.status for r in rs] == [200] * 20
        assert assert_ok(key("GET", "/contacts/%d" % c["id"],
                             port=nginx.port)) == c
        assert fcgi.popen.poll() is None
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0


def wazera_connections(stack):
    rows = stack.sql_root(
        "SELECT id FROM information_schema.processlist WHERE user = '%s' "
        "AND command <> 'Killed'" % DB_USER)
    return [int(r[0]) for r in rows]


def test_killed_db_connections_reconnect(stack, key):
    c = key.create_contact(phone="+4915112345678", name="Before")
    # Make sure every worker of the main stack holds a connection.
    assert all(r.status == 200 for r in burst(key, 24))
    ids = wazera_connections(stack)
    assert len(ids) >= 4, ids
    def kill_all():
        killed = 0
        for cid in wazera_connections(stack):
            try:
                stack.sql_root("KILL CONNECTION %d" % cid)
                killed += 1
            except Exception:
                pass  # already gone
        return killed

    for round_ in range(2):
        assert kill_all() >= 4     # every worker's connection went
        # Every next request, reads and writes, succeeds.
        for i in range(6):
            assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == c
        r = key("POST", "/contacts", {"phone": "+49151000000%02d" % round_})
        assert_ok(r, 201)
        rs = burst(key, 16)
        assert [x.status for x in rs] == [200] * 16, rs
    # And writes right after a kill, before any read on that connection.
    assert kill_all() >= 4
    rs = [key("PATCH", "/contacts/%d" % c["id"], {"name": "After %d" % i})
          for i in range(6)]
    assert [r.status for r in rs] == [200] * 6, rs
    assert assert_ok(key("GET", "/contacts/%d" % c["id"]))["name"] == "After 5"


def test_database_unreachable_503(stack, key):
    conf = stack.write_config("nodb.conf",
                              db_socket=os.path.join(stack.work,
                                                     "no-such-dir",
                                                     "mysql.sock"))
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    try:
        for method, path, body in (("GET", "/contacts", None),
                                   ("POST", "/contacts",
                                    {"phone": "+4915112345678"}),
                                   ("GET", "/account/me", None),
                                   ("GET", "/contacts/1", None)):
            r = key(method, path, body, port=nginx.port)
            err = assert_error(r, 503, "SERVICE_UNAVAILABLE")
            text = r.raw.decode()
            for leak in ("mysql", "MariaDB", "socket", "no-such-dir",
                         "Can't connect", "errno", "/"):
                assert leak not in err["message"], r
                assert leak not in str(err["details"]), r
            assert "no-such-dir" not in text and "mysql.sock" not in text
            assert r.headers.get("retry-after") == "5"
        # Meta's webhook: 503 (Meta retries), not a 401 for a signature
        # that could not be checked.
        r = http_request(nginx.port, "POST", "/api/v1/whatsapp/webhook",
                         json.dumps({"object": "whatsapp_business_account",
                                     "entry": [{"changes": [{"value": {
                                         "metadata": {"phone_number_id":
                                                      "1065"}}}]}]}).encode(),
                         headers={"X-Hub-Signature-256": "sha256=" +
                                  "0" * 64})
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
        # The unaffected stack is still fine.
        assert_ok(key("GET", "/contacts"))
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0


def test_internal_error_does_not_leak(stack):
    """A 500 (here: a table missing in a second database) says nothing of
    the cause and names a request id that is in the server log."""
    db = "wazera_broken"
    stack.mariadb("start", stack.dbdir, db, DB_USER, _db_pass())
    conf = stack.write_config("broken.conf", db_name=db)
    stack.admin("migrate", config=conf)
    t = stack.create_tenant(config=conf)
    k = t.key()
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    k.port = nginx.port
    try:
        assert_ok(k("GET", "/contacts"))
        stack.sql_root("DROP TABLE events", database=db)
        r = k("POST", "/contacts", {"phone": "+4915112345678"})
        err = assert_error(r, 500, "INTERNAL_ERROR")
        assert set(err["details"]) == {"request_id"}
        rid = err["details"]["request_id"]
        assert rid and rid == r.headers.get("x-request-id")
        text = r.raw.decode()
        for leak in ("events", "exist", "Table", "wazera", "SQL", "1146",
                     "wz_contact_create", "CALL"):
            assert leak not in text, r
        with open(fcgi.log) as f:
            assert rid in f.read()
        # Nothing half-done was left behind.
        assert k("GET", "/contacts").body["meta"]["total"] == 0
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0


def _db_pass():
    import conftest
    return conftest.DB_PASS


def test_spawn_fcgi_fd0_mode(stack, key):
    proc = stack.start_spawn_fcgi()
    nginx = stack.start_nginx(proc.sock)
    try:
        c = assert_ok(key("POST", "/contacts", {"phone": "+4915112345678"},
                          port=nginx.port), 201)
        for _ in range(5):
            assert assert_ok(key("GET", "/contacts/%d" % c["id"],
                                 port=nginx.port)) == c
        # Same database as the main stack.
        assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == c
        assert_error(key("GET", "/contacts/987654", port=nginx.port), 404,
                     "RESOURCE_NOT_FOUND")
    finally:
        stack.stop_nginx(nginx)
        assert proc.stop(signal.SIGTERM) == 0


def test_sigterm_exits_cleanly(stack, key):
    fcgi = stack.start_fcgi(workers=3)
    nginx = stack.start_nginx(fcgi.sock)
    try:
        assert all(r.status == 200 for r in burst(key, 9, nginx.port))
        workers = fcgi.children()
        assert len(workers) == 3
    finally:
        stack.stop_nginx(nginx)
    os.kill(fcgi.pid, signal.SIGTERM)
    fcgi.popen.wait(20)
    assert fcgi.popen.returncode == 0
    assert not os.path.exists(fcgi.sock)
    for pid in workers:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z"


def assert_whole(r):
    """An answer that arrived whole: JSON in the envelope, exactly as long
    as its Content-Length (http_request's read raises on a body cut
    short)."""
    assert_json(r)
    assert set(r.body) >= {"success"}, r
    if "content-length" in r.headers:
        assert int(r.headers["content-length"]) == len(r.raw), r


def test_sigterm_while_busy_finishes_requests(stack, make_key):
    """Requests in flight when SIGTERM arrives are answered in full. Both
    workers are inside a request (each waits for a row lock a root session
    holds) when SIGTERM is sent, and the lock is let go only once the
    master has passed SIGTERM on to them; requests queued behind them get
    nginx's 502 in the envelope once the socket is gone. No answer is cut
    short and no connection is reset."""
    key = make_key(rate_limit=1000000000)
    cs = [key.create_contact(phone="+49151000077%02d" % i, name="Before")
          for i in range(2)]
    # No statement time limit: the held requests wait as long as the lock
    # is held, however long that is.
    conf = stack.write_config(stack.unique("nolimit-") + ".conf")
    with open(conf, "a") as f:
        f.write("statement_timeout = 0\n")
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    workers = fcgi.children()
    pool = ThreadPoolExecutor(6)
    try:
        with RootSession(stack) as holder:
            holder.run("BEGIN")
            assert holder.run("SELECT id FROM contacts WHERE id IN (%d, %d) "
                              "FOR UPDATE" % (cs[0]["id"], cs[1]["id"])) \
                == sorted([[str(c["id"])] for c in cs])
            held = [pool.submit(key, "PATCH", "/contacts/%d" % c["id"],
                                {"name": "After"}, port=nginx.port)
                    for c in cs]
            wait_for(lambda: len(lock_waits(stack)) == 2,
                     what="both workers waiting for the lock")
            queued = [pool.submit(key, "GET", "/contacts/%d" % cs[0]["id"],
                                  port=nginx.port) for _ in range(4)]
            os.kill(fcgi.pid, signal.SIGTERM)
            wait_for(lambda: "draining 2 workers" in read_log(fcgi.log),
                     what="the master passing SIGTERM on to both workers")
            # Both requests are still inside their workers.
            assert len(lock_waits(stack)) == 2
            assert not any(f.done() for f in held)
            assert all(not dead(p) for p in workers)
            holder.run("COMMIT")
        answers = [f.result(120) for f in held]
        late = [f.result(120) for f in queued]
        assert fcgi.popen.wait(30) == 0
    finally:
        pool.shutdown(wait=True)
        stack.stop_nginx(nginx)
        fcgi.stop()
    assert not os.path.exists(fcgi.sock)
    assert len(answers) == 2 and len(late) == 4
    for c, r in zip(cs, answers):
        assert_whole(r)
        got = assert_ok(r)
        assert (got["id"], got["name"]) == (c["id"], "After"), r
    for r in late:
        assert_whole(r)
        assert_error(r, 502, "SERVICE_UNAVAILABLE")
        assert r.headers.get("retry-after") == "5", r
    for c in cs:
        assert assert_ok(key("GET", "/contacts/%d" % c["id"]))["name"] == \
            "After"


def test_database_restart(private_stack):
    """While MariaDB is down: 503 in the envelope; once it is back, the
    same workers serve again without a restart. On a MariaDB, wazera-fcgi
    and nginx of its own: the session's database stays up for every other
    test, whatever happens here."""
    ps = private_stack("restart", workers=4)
    key = ps.tenant_key()
    c = key.create_contact(phone="+4915112345678")
    # Every worker holds a connection, which the restart breaks.
    assert all(r.status == 200 for r in burst(key, 12))
    workers = sorted(ps.fcgi.children())
    assert len(workers) == 4
    ps.stop_db()
    try:
        for _ in range(4):
            r = key("GET", "/contacts/%d" % c["id"])
            assert_error(r, 503, "SERVICE_UNAVAILABLE")
            assert r.headers.get("retry-after") == "5"
        r = key("POST", "/contacts", {"phone": "+4915100000001"})
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
    finally:
        ps.start_db()
    rs = burst(key, 16, path="/contacts/%d" % c["id"])
    assert [r.status for r in rs] == [200] * 16, rs
    assert [r.body["data"] for r in rs] == [c] * 16
    # The POST refused during the outage created nothing: the same phone
    # is new now.
    assert_ok(key("POST", "/contacts", {"phone": "+4915100000001"}), 201)
    assert key("GET", "/contacts").body["meta"]["total"] == 2
    assert sorted(ps.fcgi.children()) == workers


def test_killed_master_takes_workers_along(stack, key):
    """Workers die with their master, so a new master can take over the
    socket path at once."""
    fcgi = stack.start_fcgi(workers=3)
    workers = live_children(fcgi)
    assert len(workers) == 3
    os.kill(fcgi.pid, signal.SIGKILL)
    fcgi.popen.wait(10)
    wait_for(lambda: all(dead(p) for p in workers), timeout=10,
             what="orphaned workers to exit")
    again = stack.start_fcgi(sock=fcgi.sock, workers=2)
    nginx = stack.start_nginx(again.sock)
    try:
        rs = burst(key, 8, nginx.port)
        assert [r.status for r in rs] == [200] * 8
    finally:
        stack.stop_nginx(nginx)
        assert again.stop() == 0


def test_config_errors_stop_the_program(stack):
    import subprocess
    bad = os.path.join(stack.work, "bad.conf")
    for text, line in (("sql_dir = /x\nbogus = 1\n", 2),
                       ("[database]\nname = w\nconnect_timeout = -5\n", 3)):
        with open(bad, "w") as f:
            f.write(text)
        sock = os.path.join(stack.work, "bad.sock")
        p = cli_checked(subprocess.run(
            [stack.fcgi_bin, "--config", bad, "--listen", sock],
            capture_output=True, text=True, timeout=30))
        assert p.returncode == 1, p.stderr
        assert "line %d" % line in p.stderr, p.stderr
        assert not os.path.exists(sock)
