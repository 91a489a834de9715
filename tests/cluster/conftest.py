"""Fault tests on a three-node Galera cluster (issue 15, item 5).

One cluster for the whole run (deploy/local/cluster up, a session
fixture): three mariadbd with galera-4, a pre-forked wazera-fcgi and a
wazera-spooler --loop per node, one nginx in front of the three FastCGI
servers, the sandbox Graph API. It lives in /var/tmp/wazera-cluster-XXXX
(mode 0755: user mysql enters it) and is torn down at the end, also when a
test failed or the run was interrupted (SIGINT: tests/run's timeout).

Run (from the repository root; tests/run does the same with its build):
  WAZERA_BUILD=$PWD/.build/dev /usr/bin/python3 -m pytest -q \
      -p no:cacheprovider tests/cluster

Environment:
  WAZERA_BUILD            the build holding wazera-fcgi, wazera-spooler,
                          wazera-admin (required)
  WAZERA_GALERA_BASE      the cluster's SQL ports are BASE+1..3 (default
                          34060: far from deploy/local's and e2e's)
  WAZERA_CLUSTER_PORT     nginx (default 34180); the sandbox on PORT+1
  WAZERA_CLUSTER_KEEP=1   keep the cluster's directory (and leave the
                          cluster running) after the run, for debugging
  WAZERA_CLUSTER_REUSE=DIR  use (up: start what is not running) and keep
                          the cluster in DIR (one a KEEP run left)
  WAZERA_CLUSTER_MESSAGES / _WEBHOOKS / ...: the sizes (test_*.py say which)

The tests talk to nginx over HTTP and read the database through the app's
user on a live node with wsrep_sync_wait = 1 (read after every write the
cluster committed). Helpers of the e2e suite (tests/e2e/conftest.py:
wait_for, http_request, ...) are imported, not copied.

Figures (rates, duplicates, repeats) are printed at the end of the run
and written to .build/cluster/figures.json; the cluster's logs are copied
to .build/cluster/logs/ before it is removed."""
import hashlib
import hmac
import http.client
import importlib.util
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
E2E = os.path.join(REPO, "tests", "e2e")
CLUSTER = os.path.join(REPO, "deploy", "local", "cluster")

# The e2e suite's helpers: its conftest loaded under another name (this
# file is "conftest" here), its modules (openapi_check, openapi_events)
# from its directory.
if E2E not in sys.path:
    sys.path.insert(0, E2E)
_spec = importlib.util.spec_from_file_location(
    "e2e_conftest", os.path.join(E2E, "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

from openapi_events import EventChecks  # noqa: E402

wait_for = e2e.wait_for
http_request = e2e.http_request
assert_ok = e2e.assert_ok
read_log = e2e.read_log
has_sanitizer_mark = e2e.has_sanitizer_mark
run_parallel = e2e.run_parallel
TEMPLATE = e2e.TEMPLATE

FIGURES = {}            # test name -> {figure: value}, printed at the end
FIGURES_PATH = os.path.join(REPO, ".build", "cluster", "figures.json")


def figure(test, **kw):
    FIGURES.setdefault(test, {}).update(kw)


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


# --------------------------------------------------------------------------
# The cluster


def read_env_file(path):
    """DIR/env (sh syntax: NAME=VALUE, the value possibly quoted) as a
    dict."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            name, eq, value = line.partition("=")
            if not eq or not name.replace("_", "").isalnum():
                continue
            words = shlex.split(value) if value else [""]
            out[name] = words[0] if words else ""
    return out


class Cluster:
    """deploy/local/cluster's parts, as DIR/env describes them."""

    def __init__(self, d, env):
        self.dir = d
        self.cmd_env = env
        self.down_nodes = set()
        self.counter = 0
        self.lock = threading.Lock()

    def load_env(self):
        v = read_env_file(os.path.join(self.dir, "env"))
        self.vars = v
        self.url = v["WAZERA_URL"]
        self.port = urlparse(self.url).port
        self.sandbox_port = urlparse(v["WAZERA_SANDBOX_URL"]).port
        self.db_ports = [int(p) for p in v["WAZERA_DB_PORTS"].split()]
        self.db_name = v["WAZERA_DB_NAME"]
        self.db_user = v["WAZERA_DB_USER"]
        self.db_password = v["WAZERA_DB_PASSWORD"]
        self.confs = [v["WAZERA_CONF_%d" % n] for n in (1, 2, 3)]
        self.admin_bin = v["WAZERA_ADMIN"]
        self.app_secret = v["WAZERA_APP_SECRET"]
        e2e.note_secret(self.db_password)
        e2e.note_secret(self.app_secret)

    def unique(self, prefix):
        with self.lock:
            self.counter += 1
            return "%s%d%04d" % (prefix, os.getpid() % 10000, self.counter)

    # -- deploy/local/cluster
    def ctl(self, *args, timeout=300, check=True):
        """deploy/local/cluster ARGS... DIR; its output in DIR/ctl.log."""
        cmd = [CLUSTER] + [str(a) for a in args] + [self.dir]
        t0 = time.time()
        p = subprocess.run(cmd, env=self.cmd_env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        with open(os.path.join(self.dir, "ctl.log"), "a") as f:
            f.write("$ %s  (exit %d, %.1f s)\n%s%s" % (
                " ".join(cmd), p.returncode, time.time() - t0, p.stdout,
                p.stderr))
        if check and p.returncode != 0:
            raise AssertionError("deploy/local/cluster %s failed (exit %d):\n"
                                 "%s%s" % (" ".join(map(str, args)),
                                           p.returncode, p.stdout[-3000:],
                                           p.stderr[-3000:]))
        return p

    def kill_db(self, n):
        self.down_nodes.add(n)
        self.ctl("kill-db", n)

    def restart_db(self, n):
        self.ctl("restart-db", n, timeout=600)
        self.down_nodes.discard(n)

    # -- the database, through the app's user on a live node
    def live_node(self):
        for n in (1, 2, 3):
            if n not in self.down_nodes:
                return n
        raise AssertionError("no database node is up")

    def sql(self, query, node=None, sync=True):
        """Rows (lists of strings) of query, run on node (default: the
        first live one) with wsrep_sync_wait = 1: the node has applied
        everything the cluster committed before the read."""
        n = node or self.live_node()
        pre = "SET SESSION wsrep_sync_wait = 1; " if sync else ""
        env = dict(os.environ, MYSQL_PWD=self.db_password)
        p = subprocess.run(
            ["mariadb", "--no-defaults", "-h127.0.0.1",
             "-P%d" % self.db_ports[n - 1], "-u" + self.db_user, "-N", "-B",
             "-e", pre + query, self.db_name],
            env=env, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise AssertionError("SQL on node %d failed: %s\n%s" %
                                 (n, query, p.stderr))
        return [line.split("\t") for line in p.stdout.splitlines()]

    def status_var(self, name, node):
        rows = self.sql("SHOW GLOBAL STATUS LIKE '%s'" % name, node=node,
                        sync=False)
        return rows[0][1] if rows else None

    # -- wazera-admin
    def admin_json(self, *args):
        args = [str(a) for a in args]
        for flag, value in zip(args, args[1:]):
            if flag in ("--access-token", "--app-secret"):
                e2e.note_secret(value)
        p = subprocess.run([self.admin_bin, "--config", self.confs[0]] +
                           args, capture_output=True, text=True, timeout=120,
                           env=self.cmd_env, stdin=subprocess.DEVNULL)
        if has_sanitizer_mark(p.stderr):
            raise AssertionError("sanitizer report from wazera-admin %s:\n%s"
                                 % (" ".join(args), p.stderr[-6000:]))
        if p.returncode != 0:
            raise AssertionError("wazera-admin %s failed (%d): %s" %
                                 (" ".join(args), p.returncode, p.stderr))
        lines = [line for line in p.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, p.stdout
        obj = json.loads(lines[0])
        e2e.note_secrets(obj)
        return obj

    # -- the sandbox Graph API
    def sandbox(self, method, path, body=None):
        r = http_request(self.sandbox_port, method, "/_sandbox/" + path, body,
                         wazera=False, timeout=120)
        assert r.status == 200, r
        return r.body

    def arrivals(self, phone_number_id, since=0):
        """The sandbox's message requests of one phone number id after
        seq `since`: [(ref, http status, t ms)]."""
        out = []
        while True:
            b = self.sandbox("GET", "arrivals?phone_number_id=%s&since=%d&"
                             "fields=ref,status" % (phone_number_id, since))
            out.extend(zip(b["ref"], b["status"], b["t"]))
            if b["count"] == 0 or b["next"] <= since:
                return out
            since = b["next"]
            if b["count"] < 100000:
                return out

    def last_seq(self):
        return self.sandbox("GET", "stats")["records"]["last_seq"] or 0

    # -- the parts' files
    def node_dir(self, n):
        return os.path.join(self.dir, "node%d" % n)

    def spooler_pid(self, n):
        with open(os.path.join(self.node_dir(n), "spooler.pid")) as f:
            return int(f.read().split()[0])

    def spooler_log(self, n):
        return os.path.join(self.node_dir(n), "spooler.log")

    def db_log(self, n):
        """The error log of mariadbd node n (deploy/local/galera's
        nN/mariadb.err, wherever the cluster put the galera dir)."""
        for root, dirs, files in os.walk(self.dir):
            if os.path.basename(root) in ("n%d" % n, "db%d" % n) and \
                    "mariadb.err" in files:
                return os.path.join(root, "mariadb.err")
        raise AssertionError("no mariadb.err of node %d under %s" %
                             (n, self.dir))

    def server_logs(self):
        """The logs sanitizer reports would appear in."""
        out = []
        for n in (1, 2, 3):
            for name in ("fcgi.log", "spooler.log"):
                p = os.path.join(self.node_dir(n), name)
                if os.path.exists(p):
                    out.append(p)
        return out


LOGS_DIR = os.path.join(REPO, ".build", "cluster", "logs")


def save_logs(d):
    """The cluster's logs (servers, nodes, sandbox, nginx, the script's
    commands) copied to .build/cluster/logs, so they outlive DIR."""
    shutil.rmtree(LOGS_DIR, ignore_errors=True)
    for root, dirs, files in os.walk(d):
        dirs[:] = [x for x in dirs if x not in ("data", "journal", "tmp")]
        for f in files:
            if f.endswith((".log", ".err")):
                src = os.path.join(root, f)
                dst = os.path.join(LOGS_DIR, os.path.relpath(src, d))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                try:
                    shutil.copyfile(src, dst)
                except OSError:
                    pass


@pytest.fixture(scope="session")
def cluster(request):
    build = os.environ.get("WAZERA_BUILD")
    if not build:
        pytest.exit("set WAZERA_BUILD to the build holding wazera-fcgi, "
                    "wazera-spooler and wazera-admin", returncode=4)
    build = os.path.abspath(build)
    for b in ("wazera-fcgi", "wazera-spooler", "wazera-admin"):
        if not os.access(os.path.join(build, b), os.X_OK):
            pytest.exit("%s not found in WAZERA_BUILD=%s" % (b, build),
                        returncode=4)
    if not os.access(CLUSTER, os.X_OK):
        pytest.exit("deploy/local/cluster is missing", returncode=4)
    reuse = os.environ.get("WAZERA_CLUSTER_REUSE")
    if reuse:
        d = os.path.abspath(reuse)
    else:
        d = tempfile.mkdtemp(prefix="wazera-cluster-", dir="/var/tmp")
        os.chmod(d, 0o755)
    env = dict(os.environ)
    env.update({
        "WAZERA_BUILD": build,
        "WAZERA_GALERA_BASE": os.environ.get("WAZERA_GALERA_BASE", "34060"),
        "WAZERA_CLUSTER_PORT": os.environ.get("WAZERA_CLUSTER_PORT",
                                              "34180"),
        # Webhook receivers are on loopback; a message whose spooler died
        # mid-send is recovered after 20 s (not 600), above the Graph
        # timeout (10 s) so a slow answer is never resent while on its way.
        "WAZERA_CLUSTER_CONF_EXTRA": "\n".join([
            "[webhooks]", "allow_private_targets = true",
            "[spooler]", "resend_grace_seconds = 20",
            "graph_timeout_seconds = 10", ""]),
    })
    c = Cluster(d, env)
    failed = True
    try:
        c.ctl("up", timeout=900)
        c.load_env()
        # Status webhooks as Meta posts them under load: many statuses in
        # one payload (not 2 POSTs through the API per message).
        c.sandbox("POST", "config", {"status_batch_ms": 100})
        failed = False
        yield c
    finally:
        keep = os.environ.get("WAZERA_CLUSTER_KEEP") == "1" or bool(reuse)
        if not keep:
            c.ctl("down", timeout=300, check=False)
        reports = [p for p in c.server_logs()
                   if has_sanitizer_mark(read_log(p, tail=10 ** 9))]
        _write_figures()
        save_logs(d)
        if not keep and not reports and not failed:
            shutil.rmtree(d, ignore_errors=True)
        elif reports or failed:
            sys.stderr.write("cluster directory kept: %s\n" % d)
        if failed or reports or request.session.testsfailed:
            sys.stderr.write("the cluster's logs: %s\n" % LOGS_DIR)
    assert not reports, "sanitizer reports in %s" % reports


_scan_offsets = {}


@pytest.fixture(autouse=True)
def _sanitizer_per_test(request):
    """A sanitizer report that appears in a server's log during a test
    fails that test (an error in its teardown naming the log)."""
    if "cluster" not in request.fixturenames:
        yield
        return
    c = request.getfixturevalue("cluster")
    for p in c.server_logs():
        _scan_offsets.setdefault(p, 0)
    yield
    found = []
    for p in c.server_logs():
        try:
            with open(p, "rb") as f:
                f.seek(_scan_offsets.get(p, 0))
                data = f.read()
                _scan_offsets[p] = f.tell()
        except OSError:
            continue
        text = data.decode("utf-8", "replace")
        if has_sanitizer_mark(text):
            found.append("%s:\n%s" % (p, text[-4000:]))
    assert not found, "sanitizer report during the test: %s" % found


def _write_figures():
    if not FIGURES:
        return
    os.makedirs(os.path.dirname(FIGURES_PATH), exist_ok=True)
    with open(FIGURES_PATH, "w") as f:
        json.dump(FIGURES, f, indent=1, sort_keys=True)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section("cluster figures")
    for test in sorted(FIGURES):
        for k, v in sorted(FIGURES[test].items()):
            tr.write_line("%s: %s = %s" % (test, k, v))


# --------------------------------------------------------------------------
# A tenant with several WhatsApp accounts (all three spoolers get lanes)


class Tenant:
    def __init__(self, c, n_accounts, rate_limit, mps=0):
        self.c = c
        t = c.admin_json("tenant", "create", "--name", c.unique("cluster-"),
                         "--plan", "enterprise", "--rate-limit", rate_limit)
        self.id = int(t["id"])
        k = c.admin_json("apikey", "create", "--tenant", self.id)
        self.key = k["key"]
        self.accounts = []
        tokens = []
        for i in range(n_accounts):
            token = "tok-" + uuid.uuid4().hex
            a = c.admin_json(
                "account", "create", "--tenant", self.id,
                "--phone-number-id", c.unique("7702"),
                "--waba-id", "102290129340398",
                "--display-phone", "+1 555 080 %04d" % (c.counter % 10000),
                "--access-token", token, "--app-secret", c.app_secret,
                "--mps", mps)
            self.accounts.append(a)
            tokens.append(token)
        # The sandbox accepts these tokens too (the demo's stays).
        c.sandbox("POST", "config", {"add_tokens": tokens})

    def request(self, method, path, body=None, headers=None):
        return http_request(self.c.port, method, e2e.api_path(path), body,
                            self.key, headers)

    def phone_ids(self):
        return [a["phone_number_id"] for a in self.accounts]


# --------------------------------------------------------------------------
# HTTP load: keep-alive clients in threads, every answer recorded


class Answer:
    __slots__ = ("t0", "t1", "method", "path", "status", "retry_after",
                 "headers", "body", "error")

    def __init__(self, t0, t1, method, path, status, headers, raw, error):
        self.t0 = t0
        self.t1 = t1
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.retry_after = headers.get("retry-after") if headers else None
        self.error = error
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = raw

    def __repr__(self):
        return "<%s %s: %s %s%s>" % (
            self.method, self.path, self.status,
            self.error or "", "" if self.status in (200, 201)
            else " " + repr(self.body)[:300])


class Api:
    """One keep-alive connection to nginx (one per thread)."""

    def __init__(self, port, key, timeout=60):
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, method, path, body=None, headers=None):
        hdrs = {"Authorization": "Bearer " + self.key}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        path = e2e.api_path(path)
        for attempt in (1, 2):
            fresh = self.conn is None
            t0 = time.time()
            try:
                if fresh:
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=self.timeout)
                self.conn.request(method, path, body=payload, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                h = {k.lower(): v for k, v in r.getheaders()}
                if h.get("connection", "").lower() == "close":
                    self.close()
                return Answer(t0, time.time(), method, path, r.status, h,
                              raw, None)
            except (http.client.HTTPException, OSError) as e:
                self.close()
                # A keep-alive connection the server had closed: sent
                # again on a new one (POSTs carry an Idempotency-Key).
                if fresh or attempt == 2:
                    return Answer(t0, time.time(), method, path, 0, {}, b"",
                                  "%s: %s" % (type(e).__name__, e))
        raise AssertionError("unreachable")


class Load:
    """Runs jobs (callables taking an Api) from `workers` threads, each with
    its own keep-alive connection; records every answer (self.answers)
    and the jobs that did not succeed (self.failures)."""

    def __init__(self, c, key, workers=8):
        self.c = c
        self.key = key
        self.workers = workers
        self.answers = []
        self.failures = []
        self.results = {}
        self.lock = threading.Lock()
        self.done = 0

    def post(self, api, name, path, body, max_tries=60):
        """POSTs until a 2xx; a 503 with Retry-After is retried after it
        (the server's instruction; the same Idempotency-Key, so a request
        whose first outcome was unknown is replayed, not run twice). Any
        other answer ends the job as a failure."""
        idem = {"Idempotency-Key": "cl-%s" % uuid.uuid4().hex}
        for _ in range(max_tries):
            a = api.call("POST", path, body, idem)
            with self.lock:
                self.answers.append(a)
            if 200 <= a.status < 300:
                return a
            if a.status == 503 and a.retry_after is not None:
                # Honour Retry-After (at most 3 s here: the tests wait for
                # conditions, this only paces the retries).
                time.sleep(min(3.0, max(0.2, float(a.retry_after))))
                continue
            with self.lock:
                self.failures.append((name, a))
            return None
        with self.lock:
            self.failures.append((name, "503 %d times" % max_tries))
        return None

    def _run(self, q):
        api = Api(self.c.port, self.key)
        try:
            while True:
                job = q.get()
                if job is None:
                    return
                name, fn = job
                try:
                    r = fn(api)
                    with self.lock:
                        self.results[name] = r
                except BaseException as e:  # noqa: B902 -- reported below
                    with self.lock:
                        self.failures.append((name, repr(e)))
                finally:
                    with self.lock:
                        self.done += 1
        finally:
            api.close()

    def run(self, jobs, timeout=900):
        """Runs the jobs (name, fn) from the threads; returns when all
        are done."""
        q = queue.Queue()
        for j in jobs:
            q.put(j)
        for _ in range(self.workers):
            q.put(None)
        threads = [threading.Thread(target=self._run, args=(q,), daemon=True)
                   for _ in range(self.workers)]
        for t in threads:
            t.start()
        deadline = time.time() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        stuck = sum(t.is_alive() for t in threads)
        assert not stuck, "%d load threads still running" % stuck
        return self


# --------------------------------------------------------------------------
# A webhook receiver counting deliveries by webhook-id


class Receiver:
    """http.server on 127.0.0.1 (a thread per request). Every POST is
    recorded as (webhook-id, event id, event, signature ok, t); `delay`
    (seconds) holds each answer, so deliveries stay in flight a while.
    The first `checked` bodies are held to docs/openapi.yaml."""

    def __init__(self, secret=None, delay=0.0, checked=50):
        self.secret = secret
        self.delay = delay
        self.hits = []
        self.lock = threading.Lock()
        self.active = 0
        self.checks = EventChecks()
        self.checked = checked
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                h = {k.lower(): v for k, v in self.headers.items()}
                try:
                    ev = json.loads(body)
                    eid, event = ev.get("id"), ev.get("event")
                except ValueError:
                    eid = event = None
                sig_ok = rec.secret is None or h.get(
                    "x-wazera-signature") == "sha256=" + hmac.new(
                        rec.secret.encode(), body,
                        hashlib.sha256).hexdigest()
                with rec.lock:
                    check = len(rec.hits) < rec.checked
                    rec.hits.append((h.get("webhook-id"), eid, event,
                                     sig_ok, time.time(),
                                     h.get("x-wazera-delivery")))
                    rec.active += 1
                if check:
                    rec.checks.check(body, self.headers)
                try:
                    if rec.delay:
                        time.sleep(rec.delay)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with rec.lock:
                        rec.active -= 1

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                # A spooler killed mid-request resets its connection:
                # expected here, not worth a traceback.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return list(self.hits)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def tally(self):
        """{webhook-id: [event ids...]} and the bad signatures' count."""
        by_id = {}
        bad = 0
        for wid, eid, _ev, ok, _t, _xd in self.snapshot():
            by_id.setdefault(wid, []).append(eid)
            bad += not ok
        return by_id, bad


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
    for r in made:
        r.checks.assert_clean()


# --------------------------------------------------------------------------
# A workload: contacts (each one a contact.created delivery), campaigns to
# them, API sends to them, and the checks of what arrived


class Workload:
    """On tenant t: `contacts` contacts (tag), a webhook on contact.created
    to the receiver (one delivery per contact), `campaigns` campaigns to
    all of them (one per account, the first ones) and `api_messages`
    template sends through POST /messages/send on the other accounts."""

    def __init__(self, c, t, rcv, contacts, api_messages, campaigns=0,
                 workers=8):
        assert campaigns < len(t.accounts)
        self.c = c
        self.t = t
        self.rcv = rcv
        self.n_contacts = contacts
        self.n_api = api_messages
        self.n_campaigns = campaigns
        self.workers = workers
        self.tag = "t%d" % t.id
        self.seq0 = c.last_seq()
        w = assert_ok(t.request("POST", "/webhooks", {
            "url": rcv.url, "events": ["contact.created"]}), 201)
        self.webhook_id = w["id"]
        rcv.secret = w["secret"]
        self.load = Load(c, t.key, workers)
        self.phones = ["+4917%d%06d" % (t.id % 1000, i)
                       for i in range(contacts)]
        self.campaign_ids = []
        self.t_start = self.t_created = None

    def _contact_job(self, i):
        def job(api):
            return self.load.post(api, ("contact", i), "/contacts", {
                "name": "Load %d" % i, "phone": self.phones[i],
                "tags": [self.tag]})
        return ("contact", i), job

    def _message_job(self, i):
        accts = self.t.accounts[self.n_campaigns:]
        n = self.n_contacts
        acct = accts[(i // n + i) % len(accts)]

        def job(api):
            return self.load.post(api, ("message", i), "/messages/send", {
                "to": self.phones[i % n], "whatsapp_account_id": acct["id"],
                "type": "template", "content": TEMPLATE})
        return ("message", i), job

    def run(self):
        """Creates everything through the API (blocking; several threads).
        Contacts first (campaigns and sends go to them), then the
        campaigns, then the sends."""
        self.t_start = time.time()
        self.load.run([self._contact_job(i) for i in range(self.n_contacts)])
        if self.n_campaigns:
            api = Api(self.c.port, self.t.key)
            seg = self.load.post(api, "segment", "/segments", {
                "name": self.tag, "filter": {"tags": [self.tag],
                                             "match": "any"}})
            assert seg is not None, self.load.failures
            for k in range(self.n_campaigns):
                a = self.load.post(api, ("campaign", k), "/campaigns", {
                    "name": "%s-%d" % (self.tag, k),
                    "whatsapp_account_id": self.t.accounts[k]["id"],
                    "segment_id": seg.body["data"]["id"],
                    "template_name": "hello_world",
                    "template_language": "en_US"})
                assert a is not None, self.load.failures
                self.campaign_ids.append(a.body["data"]["id"])
            api.close()
        self.load.run([self._message_job(i) for i in range(self.n_api)])
        self.t_created = time.time()
        return self

    def start(self):
        """run() in a thread of its own: self.thread; an exception it
        raised is self.error."""
        self.error = None

        def body():
            try:
                self.run()
            except BaseException as e:  # noqa: B902 -- the test reads it
                self.error = e
        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        return self

    def join(self, timeout=900):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the workload's creation hangs"
        if self.error is not None:
            raise self.error

    def created(self, kind):
        """The ids the API answered 2xx with for the jobs of one kind
        ("contact", "message")."""
        return {a.body["data"]["id"] for name, a in
                list(self.load.results.items())
                if isinstance(name, tuple) and name[0] == kind and
                a is not None}

    @property
    def expected_messages(self):
        """Messages at least: the sends the API accepted and each
        campaign's recipients (the contacts it accepted)."""
        return len(self.created("message")) + \
            self.n_campaigns * len(self.created("contact"))

    # -- progress, from the database
    def message_states(self):
        return {s: int(n) for s, n in self.c.sql(
            "SELECT status, COUNT(*) FROM messages WHERE tenant_id = %d "
            "AND direction = 'outbound' GROUP BY status" % self.t.id)}

    def delivery_states(self):
        return {s: int(n) for s, n in self.c.sql(
            "SELECT status, COUNT(*) FROM webhook_deliveries WHERE "
            "webhook_id = %d GROUP BY status" % self.webhook_id)}

    def campaigns_done(self):
        if not self.campaign_ids:
            return True
        rows = self.c.sql("SELECT status FROM campaigns WHERE id IN (%s)" %
                          ",".join(map(str, self.campaign_ids)))
        return all(s in ("completed",) for (s,) in rows)

    def settled(self, final=("sent", "delivered")):
        """Every message in a final state (or failed: the checks say
        which), every delivery done, every campaign completed."""
        m = self.message_states()
        d = self.delivery_states()
        total = sum(m.values())
        return (total >= self.expected_messages and
                sum(m.get(s, 0) for s in final + ("failed",)) == total and
                d.get("pending", 0) == 0 and
                sum(d.values()) >= len(self.created("contact")) and
                self.campaigns_done())

    def wait_settled(self, timeout=900):
        wait_for(self.settled, timeout=timeout, interval=1.0,
                 what="every message sent and every delivery made "
                 "(messages %r, deliveries %r)" % (
                     self.message_states(), self.delivery_states()))

    # -- what arrived
    def message_ids(self):
        return {int(i) for (i,) in self.c.sql(
            "SELECT id FROM messages WHERE tenant_id = %d AND direction = "
            "'outbound'" % self.t.id)}

    def sends(self):
        """The sandbox's message requests for the tenant's accounts since
        the workload began: {message id: [http status, ...]}, the refs
        that are not wz:<id>, and the arrival times."""
        by_id = {}
        odd = []
        times = []
        for pid in self.t.phone_ids():
            for ref, status, t in self.c.arrivals(pid, self.seq0):
                times.append(t)
                if isinstance(ref, str) and ref.startswith("wz:"):
                    by_id.setdefault(int(ref[3:]), []).append(status)
                else:
                    odd.append((ref, status))
        return by_id, odd, sorted(times)

    def event_uuids(self):
        return {u for (u,) in self.c.sql(
            "SELECT uuid FROM events WHERE tenant_id = %d AND type = "
            "'contact.created'" % self.t.id)}

    def delivery_ids(self):
        return {str(i) for (i,) in self.c.sql(
            "SELECT id FROM webhook_deliveries WHERE webhook_id = %d" %
            self.webhook_id)}


# --------------------------------------------------------------------------
# Checks shared by the tests


def assert_no_creation_failures(w):
    assert not w.load.failures, "%d API calls did not succeed, e.g. %r" % (
        len(w.load.failures), w.load.failures[:10])


def check_sends(w, test):
    """Every message of the workload sent exactly once, 200 from the
    sandbox, none failed in the database. Records the figures."""
    ids = w.message_ids()
    by_id, odd, times = w.sends()
    states = w.message_states()
    dups = {i: s for i, s in by_id.items() if len(s) > 1}
    lost = sorted(ids - set(by_id))
    strangers = sorted(set(by_id) - ids)
    not_ok = {i: s for i, s in by_id.items() if any(x != 200 for x in s)}
    blind = int(w.c.sql("SELECT COUNT(*) FROM messages WHERE tenant_id = %d "
                        "AND blind_resends > 0" % w.t.id)[0][0])
    span = (times[-1] - times[0]) / 1000.0 if len(times) > 1 else 0
    figure(test, messages=len(ids), sandbox_requests=len(times),
           duplicate_sends=sum(len(s) - 1 for s in dups.values()),
           lost_sends=len(lost), blind_resends=blind,
           send_rate_msg_per_s=round(len(times) / span, 1) if span else None,
           message_states=states)
    accepted = w.created("message")
    assert accepted <= ids, "sends the API accepted (201) missing from the " \
        "database: %r" % sorted(accepted - ids)[:20]
    assert len(ids) >= w.expected_messages, (len(ids), w.expected_messages)
    assert not dups, "%d messages sent more than once, e.g. %r" % (
        len(dups), sorted(dups.items())[:10])
    assert not lost, "%d messages never reached the sandbox, e.g. %r" % (
        len(lost), lost[:20])
    assert not strangers and not odd, (strangers[:10], odd[:10])
    assert not not_ok, sorted(not_ok.items())[:10]
    assert states.get("failed", 0) == 0, (
        states, w.c.sql("SELECT id, error_code, error_title FROM messages "
                        "WHERE tenant_id = %d AND status = 'failed' LIMIT 10"
                        % w.t.id))


def check_deliveries(w, test, rcv=None, allowed_repeats=frozenset()):
    # allowed_repeats None: any delivery may repeat (at least once), as
    # long as each repeat carries its own webhook-id and event id.
    """Every contact.created event reached the receiver (each event id
    under one webhook-id, that delivery's); webhook-ids seen more than
    once only among allowed_repeats (deliveries in flight at a spooler's
    death), each repeat with the same event id. Records the figures."""
    rcv = rcv or w.rcv
    uuids = w.event_uuids()
    deliveries = w.delivery_ids()
    by_wid, bad_sigs = rcv.tally()
    by_event = {}
    for wid, eids in by_wid.items():
        for e in eids:
            by_event.setdefault(e, set()).add(wid)
    repeats = {wid: len(e) - 1 for wid, e in by_wid.items() if len(e) > 1}
    hits = rcv.snapshot()
    span = hits[-1][4] - hits[0][4] if len(hits) > 1 else 0
    states = w.delivery_states()
    figure(test, events=len(uuids), deliveries_received=len(hits),
           webhook_repeats=sum(repeats.values()),
           repeated_webhook_ids=len(repeats),
           delivery_rate_per_s=round(len(hits) / span, 1) if span else None,
           delivery_states=states)
    made = w.created("contact")
    assert len(uuids) >= len(made), (len(uuids), len(made))
    assert bad_sigs == 0, "%d deliveries with a bad signature" % bad_sigs
    assert set(states) == {"succeeded"} and \
        states["succeeded"] == len(uuids), (states, len(uuids))
    assert set(by_event) == uuids, (
        "events never received: %r; received but not the tenant's: %r" % (
            sorted(uuids - set(by_event))[:10],
            sorted(set(by_event) - uuids)[:10]))
    assert set(by_wid) == deliveries, sorted(set(by_wid) ^ deliveries)[:10]
    # One delivery per event, the same webhook-id on every repeat.
    two = {e: w_ for e, w_ in by_event.items() if len(w_) > 1}
    assert not two, "events under several webhook-ids: %r" % (
        sorted(two.items())[:10],)
    mixed = {wid: e for wid, e in by_wid.items() if len(set(e)) > 1}
    assert not mixed, sorted(mixed.items())[:10]
    if allowed_repeats is None:
        return repeats
    unexpected = sorted(set(repeats) - set(allowed_repeats))
    assert not unexpected, (
        "%d deliveries received more than once that were not in flight at "
        "a spooler's death, e.g. %r" % (
            len(unexpected), [(x, repeats[x]) for x in unexpected[:10]]))
    return repeats
