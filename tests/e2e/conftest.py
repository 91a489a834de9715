"""End-to-end test stack for Wazera.

One session-scoped stack: a private MariaDB, the schema migrated, a
pre-forked wazera-fcgi (4 workers) on a unix socket and nginx in front of it
on a free loopback port.  Tests talk HTTP to nginx and create their own
tenants and API keys through wazera-admin, so they are independent of each
other and of their order.

Run (from the repository root; tests/run does the same with its build):
  WAZERA_BUILD=/path/to/build /usr/bin/python3 -m pytest -q tests/e2e

Environment:
  WAZERA_BUILD   directory holding wazera-fcgi and wazera-admin (required
                 unless the binaries were built in the source tree)
  WAZERA_E2E_KEEP=1  keep the work directory after the run (for debugging)
  WAZERA_E2E_WORK  where the work directory is made (default /var/tmp)

Needs: mariadb-server, nginx, spawn-fcgi, python3-pytest (stdlib only);
nodejs for the sandbox Graph API (the spooler tests).
The work directory is /var/tmp/wazera-e2e-XXXXXX (mode 0755, so Apache's
user reaches it from any checkout); it is kept when a sanitizer report was
found.

Sanitizer reports: the logs of every server the suite starts are scanned
after each test (what they gained during it), after each module and at the
end of the session; a report fails the test it appeared in (an error in
its teardown, naming the log). wazera-admin's stderr is scanned on every
call.

Skips: with CI=true a skipped test fails, unless expected-skips.txt lists
it with the reason it may skip.
"""
import fnmatch
import hashlib
import hmac
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

import openapi_check

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SPAWN_FCGI = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"
NODE = shutil.which("node") or shutil.which("nodejs") or "/usr/bin/node"
SANDBOX_JS = os.path.join(REPO, "tests", "sandbox", "graph-sandbox.js")
WORK_BASE = os.environ.get("WAZERA_E2E_WORK", "/var/tmp")
DB_USER = "wazera"
DB_PASS = "e2e-pw-" + uuid.uuid4().hex[:12]
JSON_CT = "application/json; charset=utf-8"
SANITIZER_MARKS = ("AddressSanitizer", "runtime error:",
                   "LeakSanitizer", "UndefinedBehaviorSanitizer")
_MARKS_B = tuple(m.encode() for m in SANITIZER_MARKS)


def has_sanitizer_mark(text):
    return any(m in text for m in SANITIZER_MARKS)


def _build_dir():
    d = os.environ.get("WAZERA_BUILD")
    if not d:
        if os.path.exists(os.path.join(REPO, "wazera-fcgi")):
            d = REPO
        else:
            pytest.exit("set WAZERA_BUILD to the directory holding "
                        "wazera-fcgi and wazera-admin", returncode=4)
    d = os.path.abspath(d)
    for b in ("wazera-fcgi", "wazera-admin"):
        if not os.access(os.path.join(d, b), os.X_OK):
            pytest.exit("%s not found in WAZERA_BUILD=%s" % (b, d),
                        returncode=4)
    return d


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=20.0, what="condition", interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s" % what)


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _unix_open(path):
    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(0.5)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# --------------------------------------------------------------------------
# Secrets the run made or used (API keys, access tokens, app secrets,
# webhook secrets, passwords), noted as they pass through the helpers here,
# so that test_zz_secrets_in_logs.py can look for every one of them in every
# log of the run. Short ones (tests' own "s3cret"-style values) are left
# out: they would match ordinary words.
SECRETS = set()
SECRET_MIN = 12
_SECRET_FIELDS = {"secret", "old_secret", "access_token", "app_secret",
                  "password", "token", "key", "verify_token"}


def note_secret(value):
    if isinstance(value, str) and len(value) >= SECRET_MIN:
        SECRETS.add(value)


def note_secrets(obj):
    """Every string under a secret-named field of a JSON value. "key" only
    when it is an API key (wz_...) or a signing secret (whsec_...): error
    details and idempotency keys use the name too."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and k in _SECRET_FIELDS and \
                    (k != "key" or v.startswith(("wz_", "whsec_"))):
                note_secret(v)
            else:
                note_secrets(v)
    elif isinstance(obj, list):
        for v in obj:
            note_secrets(v)
    elif isinstance(obj, (str, bytes)) and obj[:1] in ("{", b"{"):
        try:
            note_secrets(json.loads(obj))
        except (ValueError, UnicodeDecodeError):
            pass


# HTTP


class Resp:
    """An HTTP answer: unpacks as (status, headers, body).

    headers is a dict with lower-case names; body is the parsed JSON when it
    parses, else the raw bytes."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.body = raw
        note_secrets(self.body)

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    @property
    def data(self):
        return self.body["data"]

    def __repr__(self):
        return "<Resp %d %r %r>" % (self.status, self.headers,
                                    self.raw[:2000])


def http_request(port, method, path, body=None, key=None, headers=None,
                 auth="bearer", timeout=30, wazera=True, source=None):
    """Sends one request to 127.0.0.1:port; never raises on HTTP errors.

    body: dict/list (sent as JSON), str or bytes (sent as is), or None.
    key: an API key, sent as 'Authorization: Bearer' (auth="bearer") or
    'X-API-Key' (auth="x-api-key"). Every answer of Wazera's web server
    is checked against docs/openapi.yaml (openapi_check: a mismatch
    raises AssertionError); wazera=False for the servers that are not
    Wazera's (the sandbox Graph API, webhook receivers). source: the
    loopback address to send from (None: 127.0.0.1); a header given as
    None is not sent. The answer's Set-Cookie lines, in order, are in
    resp.cookies."""
    hdrs = {"Connection": "close"}
    note_secrets(body)
    if isinstance(body, (dict, list)):
        payload = json.dumps(body).encode()
    elif isinstance(body, str):
        payload = body.encode()
    else:
        payload = body
    if payload is not None:
        hdrs["Content-Type"] = "application/json"
    if key is not None:
        if auth == "bearer":
            hdrs["Authorization"] = "Bearer " + key
        else:
            hdrs["X-API-Key"] = key
    if headers:
        hdrs.update(headers)
    hdrs = {k: v for k, v in hdrs.items() if v is not None}
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout,
        source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=payload, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        cookies = r.msg.get_all("Set-Cookie") or []
    finally:
        conn.close()
    if wazera:
        openapi_check.check_response(method, path, r.status, h, raw)
    resp = Resp(r.status, h, raw)
    resp.cookies = cookies
    return resp


def api_path(path):
    return path if path.startswith("/api/") else "/api/v1" + path


def assert_json(resp):
    assert resp.headers.get("content-type") == JSON_CT, resp
    assert not isinstance(resp.body, bytes), resp


def assert_error(resp, status, code, details=None):
    """The error envelope, exactly: status, code, a message, details."""
    assert resp.status == status, resp
    assert_json(resp)
    b = resp.body
    assert b.get("success") is False, resp
    assert set(b.keys()) >= {"success", "error"}, resp
    assert "data" not in b, resp
    err = b["error"]
    assert set(err.keys()) == {"code", "message", "details"}, resp
    assert err["code"] == code, resp
    assert isinstance(err["message"], str) and err["message"], resp
    assert isinstance(err["details"], dict), resp
    if details is not None:
        assert err["details"] == details, resp
    return err


def assert_ok(resp, status=200):
    assert resp.status == status, resp
    assert_json(resp)
    assert resp.body.get("success") is True, resp
    assert "data" in resp.body, resp
    return resp.body["data"]


# --------------------------------------------------------------------------
# Processes


class Proc:
    """A process we started, stopped by its pid only."""

    def __init__(self, popen, log, name):
        self.popen = popen
        self.log = log
        self.name = name

    @property
    def pid(self):
        return self.popen.pid

    def children(self):
        path = "/proc/%d/task/%d/children" % (self.pid, self.pid)
        try:
            with open(path) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        return self.popen.returncode


def shipped_nginx_site(d, port, fcgi_sock, read_timeout=None,
                       dashboard=None):
    """deploy/nginx/wazera.conf as shipped, with only what a user changes
    on install: the listen address, the FastCGI socket, the paths of its
    includes (wazera-errors.conf copied to d/snippets/, as the file's
    header says), the dashboard's directory (dashboard, default the
    checkout's dashboard/, for /usr/share/wazera/dashboard/) and, when
    given, fastcgi_read_timeout. Each of these must be in the file exactly
    once: a changed shipped config fails here rather than leaving the
    suite on a config of its own."""
    os.makedirs(os.path.join(d, "snippets"), exist_ok=True)
    shutil.copy(os.path.join(REPO, "deploy/nginx/wazera-errors.conf"),
                os.path.join(d, "snippets"))
    with open(os.path.join(REPO, "deploy/nginx/wazera.conf")) as f:
        site = f.read()
    subs = [("listen 80;", "listen 127.0.0.1:%d;" % port),
            ("unix:/run/wazera/fcgi.sock", "unix:" + fcgi_sock),
            ("include snippets/wazera-errors.conf;",
             "include %s;" % os.path.join(d, "snippets",
                                          "wazera-errors.conf")),
            ("include fastcgi_params;", "include /etc/nginx/fastcgi_params;"),
            ("alias /usr/share/wazera/dashboard/;",
             "alias %s/;" % os.path.abspath(
                 dashboard or os.path.join(REPO, "dashboard")).rstrip("/"))]
    if read_timeout is not None:
        subs.append(("fastcgi_read_timeout 60s;",
                     "fastcgi_read_timeout %s;" % read_timeout))
    for old, new in subs:
        assert site.count(old) == 1, \
            "deploy/nginx/wazera.conf: %r is not there exactly once" % old
        site = site.replace(old, new)
    return site


class Stack:
    def __init__(self, build, work):
        self.build = build
        self.work = work
        self.fcgi_bin = os.path.join(build, "wazera-fcgi")
        self.admin_bin = os.path.join(build, "wazera-admin")
        self.spooler_bin = os.path.join(build, "wazera-spooler")
        self.dbdir = os.path.join(work, "db")
        self.db_sock = os.path.join(self.dbdir, "mysql.sock")
        self.master_key = os.path.join(work, "master.key")
        self.procs = []
        self.logs = []
        self.log_offsets = {}   # log -> bytes already scanned (scan_logs)
        self.reports_seen = False
        self.counter = 0
        self.config = None
        self.fcgi = None
        self.nginx = None
        self.port = None
        self.fcgi_sock = None

    # -- naming
    def unique(self, prefix):
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    # -- database
    def mariadb(self, *args):
        subprocess.run([os.path.join(REPO, "deploy/local/mariadb")] +
                       list(args), check=True, stdout=subprocess.DEVNULL)

    def sql_root(self, sql, database=None, sock=None):
        """Runs SQL as root (on the server at sock, by default the
        session's); returns rows as lists of strings."""
        cmd = ["mariadb", "--no-defaults", "-uroot", "-S",
               sock or self.db_sock, "-N", "-B"]
        if database:
            cmd += ["-D", database]
        p = subprocess.run(cmd + ["-e", sql], check=True,
                           capture_output=True, text=True)
        return [line.split("\t") for line in p.stdout.splitlines()]

    def write_config(self, name, db_socket=None, db_name="wazera"):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write("sql_dir = %s\n" % os.path.join(REPO, "sql"))
            f.write("master_key_file = %s\n" % self.master_key)
            f.write("[database]\n")
            f.write("socket = %s\n" % (db_socket or self.db_sock))
            f.write("user = %s\npassword = %s\nname = %s\n" %
                    (DB_USER, DB_PASS, db_name))
        return path

    # -- admin
    def admin(self, *args, config=None, check=True):
        """Runs wazera-admin; a sanitizer report on its stderr fails the
        test whatever the exit status (error paths too); with check, so
        does a non-zero exit."""
        args = [str(a) for a in args]
        for flag, value in zip(args, args[1:]):
            if flag in ("--access-token", "--app-secret"):
                note_secret(value)
        p = subprocess.run([self.admin_bin, "--config",
                            config or self.config] + args,
                           capture_output=True, text=True, timeout=60)
        for line in p.stdout.splitlines():
            try:
                note_secrets(json.loads(line))
            except ValueError:
                pass
        if has_sanitizer_mark(p.stderr):
            raise AssertionError("sanitizer report from wazera-admin %s "
                                 "(exit %d):\n%s" %
                                 (" ".join(map(str, args)), p.returncode,
                                  p.stderr[-6000:]))
        if check and p.returncode != 0:
            raise AssertionError("wazera-admin %s failed (%d): %s" %
                                 (" ".join(map(str, args)), p.returncode,
                                  p.stderr))
        return p

    def admin_json(self, *args, config=None):
        p = self.admin(*args, config=config)
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        assert len(lines) == 1, p.stdout
        return json.loads(lines[0])

    def create_tenant(self, plan="enterprise", rate_limit=None, name=None,
                      config=None):
        args = ["tenant", "create", "--name", name or self.unique("tenant-"),
                "--plan", plan]
        if rate_limit is not None:
            args += ["--rate-limit", rate_limit]
        t = self.admin_json(*args, config=config)
        assert isinstance(t["id"], int)
        return Tenant(self, t, config)

    # -- servers
    def logfile(self, name):
        path = os.path.join(self.work, name)
        self.logs.append(path)
        return path

    def start_fcgi(self, config=None, sock=None, workers=4, wait=True,
                   extra_args=(), env=None):
        sock = sock or os.path.join(self.work, self.unique("fcgi-") + ".sock")
        log = self.logfile(os.path.basename(sock) + ".log")
        env = dict(os.environ, **(env or {}))
        with open(log, "ab") as lf:
            p = subprocess.Popen([self.fcgi_bin, "--config",
                                  config or self.config, "--listen", sock,
                                  "--workers", str(workers)] +
                                 list(extra_args),
                                 stdin=subprocess.DEVNULL,
                                 stdout=lf, stderr=lf, env=env,
                                 start_new_session=True)
        proc = Proc(p, log, "wazera-fcgi")
        proc.sock = sock
        self.procs.append(proc)
        if wait:
            wait_for(lambda: _unix_open(sock) or p.poll() is not None,
                     what="wazera-fcgi socket %s" % sock)
            assert p.poll() is None, open(log).read()
            wait_for(lambda: len(proc.children()) == workers,
                     what="%d fcgi workers" % workers)
        return proc

    def start_spawn_fcgi(self, config=None):
        sock = os.path.join(self.work, self.unique("spawn-") + ".sock")
        log = self.logfile(os.path.basename(sock) + ".log")
        with open(log, "ab") as lf:
            p = subprocess.Popen([SPAWN_FCGI, "-n", "-s", sock, "-M", "0666",
                                  "--", self.fcgi_bin, "--config",
                                  config or self.config],
                                 stdin=subprocess.DEVNULL, stdout=lf,
                                 stderr=lf, start_new_session=True)
        proc = Proc(p, log, "spawn-fcgi")
        proc.sock = sock
        self.procs.append(proc)
        wait_for(lambda: _unix_open(sock) or p.poll() is not None,
                 what="spawn-fcgi socket")
        assert p.poll() is None, open(log).read()
        return proc

    def start_nginx(self, fcgi_sock, site=None, d=None, port=None,
                    read_timeout=None):
        """nginx on a free loopback port in front of fcgi_sock, running
        the shipped deploy/nginx/wazera.conf (and its include of
        snippets/wazera-errors.conf) with only its paths, port and,
        when given, fastcgi_read_timeout changed, as a user installs it.
        site, a server block of its own (then d and port are the ones it
        uses), replaces the shipped one."""
        if d is None:
            d = os.path.join(self.work, self.unique("nginx-"))
            os.makedirs(d)
        port = port or free_port()
        conf = os.path.join(d, "nginx.conf")
        temps = "".join("  %s_temp_path %s/%s;\n" % (t, d, t) for t in
                        ("client_body", "fastcgi", "proxy", "uwsgi", "scgi"))
        if site is None:
            site = shipped_nginx_site(d, port, fcgi_sock, read_timeout)
        with open(conf, "w") as f:
            if os.geteuid() == 0:
                f.write("user root;\n")
            f.write("daemon off;\nworker_processes 1;\n")
            f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\n" % (d, d))
            f.write("events { worker_connections 1024; }\n")
            f.write("http {\n  access_log off;\n" + temps)
            f.write(site + "\n}\n")
        log = os.path.join(d, "stderr.log")
        # Scanned too: nginx logs what a FastCGI server writes to its
        # stderr stream.
        self.logs += [log, os.path.join(d, "error.log")]
        with open(log, "ab") as lf:
            p = subprocess.Popen([NGINX, "-c", conf, "-p", d, "-e",
                                  os.path.join(d, "error.log")],
                                 stdin=subprocess.DEVNULL, stdout=lf,
                                 stderr=lf, start_new_session=True)
        proc = Proc(p, log, "nginx")
        proc.port = port
        proc.conf = conf
        self.procs.append(proc)
        wait_for(lambda: _port_open(port) or p.poll() is not None,
                 what="nginx on port %d" % port)
        assert p.poll() is None, open(log).read()
        return proc

    def stop_nginx(self, proc):
        if proc.popen.poll() is None:
            d = os.path.dirname(proc.conf)
            subprocess.run([NGINX, "-c", proc.conf, "-p", d, "-e",
                            os.path.join(d, "error.log"), "-s", "quit"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.stop(signal.SIGTERM)

    def stop_all(self):
        for proc in reversed(self.procs):
            if proc.name == "nginx":
                self.stop_nginx(proc)
            else:
                proc.stop(signal.SIGTERM)

    # -- the spooler and the sandbox Graph API
    def write_spooler_config(self, name, graph_api_base, db_socket=None,
                             **spooler):
        """A config for wazera-spooler: the stack's database (or the
        server at db_socket) and master key, graph_api_base, and
        [spooler] keys (max_seconds, resend_grace_seconds, ...) from the
        keyword arguments."""
        path = self.write_config(name, db_socket=db_socket)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write("graph_api_base = %s\n" % graph_api_base)
            f.write(text)
            if spooler:
                f.write("[spooler]\n")
                for k, v in sorted(spooler.items()):
                    f.write("%s = %s\n" % (k, v))
        return path

    def start_spooler(self, config, mode="drain", max_seconds=None,
                      holder=None, lock_file=None, max_inflight=None,
                      extra_args=()):
        """Starts wazera-spooler --MODE with a private --lock-file (none
        with lock_file=False); its stderr goes to a log in the stack's
        list, so sanitizer reports fail the session. Returns the Proc
        (proc.log is the log's path)."""
        if not os.access(self.spooler_bin, os.X_OK):
            pytest.fail("wazera-spooler not found in %s" % self.build)
        name = self.unique("spooler-")
        args = [self.spooler_bin, "--config", config, "--" + mode]
        if lock_file is not False:
            args += ["--lock-file", lock_file or
                     os.path.join(self.work, name + ".lock")]
        if max_seconds is not None:
            args += ["--max-seconds", str(max_seconds)]
        if holder is not None:
            args += ["--holder", holder]
        if max_inflight is not None:
            args += ["--max-inflight", str(max_inflight)]
        if "--journal" not in extra_args:
            # One journal directory per config (database), as by default,
            # but inside the work directory.
            args += ["--journal", os.path.join(
                self.work, "journal-" + os.path.basename(config))]
        args += list(extra_args)
        log = self.logfile(name + ".log")
        with open(log, "ab") as lf:
            p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=lf,
                                 stderr=lf, start_new_session=True)
        proc = Proc(p, log, "wazera-spooler")
        self.procs.append(proc)
        return proc

    def run_spooler(self, config, mode="drain", max_seconds=30, timeout=None,
                    **kw):
        """Runs wazera-spooler to its end (--drain by default, bounded by
        --max-seconds); asserts exit 0 and a log free of sanitizer
        reports. Returns the Proc."""
        proc = self.start_spooler(config, mode, max_seconds, **kw)
        try:
            proc.popen.wait(timeout or (max_seconds or 30) + 45)
        except subprocess.TimeoutExpired:
            proc.stop(signal.SIGKILL)
            raise AssertionError("wazera-spooler did not finish: %s" %
                                 read_log(proc.log))
        assert proc.popen.returncode == 0, read_log(proc.log)
        assert_no_sanitizer(proc.log)
        return proc

    def start_sandbox(self, *args):
        """Starts tests/sandbox/graph-sandbox.js on a free loopback port
        and waits for its ready line. Returns a Sandbox."""
        if not os.access(NODE, os.X_OK):
            pytest.skip("node is not installed (the sandbox Graph API)")
        name = self.unique("sandbox-")
        log = os.path.join(self.work, name + ".log")
        with open(log, "ab") as lf:
            p = subprocess.Popen([NODE, SANDBOX_JS, "--listen",
                                  "127.0.0.1:0"] + [str(a) for a in args],
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=lf,
                                 start_new_session=True)
        proc = Proc(p, log, "graph-sandbox")
        self.procs.append(proc)
        line = b""
        deadline = time.time() + 20
        while not line.endswith(b"\n") and time.time() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                c = os.read(p.stdout.fileno(), 256)
                if not c:
                    break
                line += c
        prefix = b"graph-sandbox listening on 127.0.0.1:"
        if not line.startswith(prefix):
            proc.stop()
            raise AssertionError("graph-sandbox did not start: %r %s" %
                                 (line, read_log(log)))
        port = int(line[len(prefix):].split()[0])
        return Sandbox(proc, port)

    def scan_logs(self):
        """Sanitizer reports in what the logs of self.logs (every server
        the suite starts adds its own) gained since the last scan: a list
        of (log, excerpt from the first mark on). Called after each test
        and module (the autouse fixtures below) and at the end of the
        session, so that a report is charged to the test that caused
        it."""
        bad = []
        for log in dict.fromkeys(self.logs):
            start = self.log_offsets.get(log, 0)
            try:
                with open(log, "rb") as f:
                    size = f.seek(0, os.SEEK_END)
                    if size < start:
                        start = 0       # truncated, or a new file
                    # A little of what was scanned before: a mark cut in
                    # two by the last scan is still found.
                    back = min(start, 64)
                    f.seek(start - back)
                    data = f.read(size - start + back)
            except OSError:
                continue
            self.log_offsets[log] = start - back + len(data)
            hits = [data.find(m, max(0, back - len(m) + 1))
                    for m in _MARKS_B]
            hits = [h for h in hits if h >= 0]
            if hits:
                at = min(hits)
                excerpt = data[max(min(back, at), at - 2000):at + 8000]
                bad.append((log, excerpt.decode("utf-8", "replace")))
        return bad

    # -- HTTP against the main stack (or another port)
    def request(self, method, path, body=None, key=None, headers=None,
                auth="bearer", port=None):
        return http_request(port or self.port, method, api_path(path), body,
                            key, headers, auth)


class Tenant:
    def __init__(self, stack, obj, config=None):
        self.stack = stack
        self.id = obj["id"]
        self.obj = obj
        self.config = config

    def key(self, scopes=None, name=None, expires_at=None):
        args = ["apikey", "create", "--tenant", self.id]
        if name is not None:
            args += ["--name", name]
        if scopes:
            args += ["--scopes", ",".join(scopes)]
        if expires_at is not None:
            args += ["--expires-at", expires_at]
        k = self.stack.admin_json(*args, config=self.config)
        return Key(self.stack, self, k)


class Key:
    def __init__(self, stack, tenant, obj):
        self.stack = stack
        self.tenant = tenant
        self.id = obj["id"]
        self.key = obj["key"]
        self.obj = obj
        self.port = None

    def __call__(self, method, path, body=None, headers=None, auth="bearer",
                 port=None):
        return self.stack.request(method, path, body, self.key, headers, auth,
                                  port or self.port)

    def create_contact(self, **fields):
        r = self("POST", "/contacts", fields)
        return assert_ok(r, 201)

    def revoke(self):
        self.stack.admin("apikey", "revoke", "--id", self.id,
                         config=self.tenant.config)

    def customer_writes(self, frm, text="Hello", account=None, secret=None,
                        port=None, name="Customer"):
        """A customer at `frm` writes `text` to the key's WhatsApp account
        (self.account, signed with self.app_secret unless given): a
        Meta-shaped, signed inbound webhook through nginx, which opens the
        24-hour service window for non-template replies. `name` is the
        WhatsApp profile name (it names a contact without one); None sends
        no profile."""
        account = account or self.account
        secret = secret or self.app_secret
        wa_id = "".join(c for c in frm if c.isdigit())
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": account.get("waba_id", "1"), "changes": [{
                "field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881",
                                 "phone_number_id":
                                     account["phone_number_id"]},
                    "contacts": [] if name is None else [
                        {"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": [{"from": wa_id, "id": "wamid.T" +
                                  uuid.uuid4().hex,
                                  "timestamp": str(int(time.time())),
                                  "type": "text",
                                  "text": {"body": text}}]}}]}]}).encode()
        sig = "sha256=" + hmac.new(secret.encode(), body,
                                   hashlib.sha256).hexdigest()
        r = http_request(port or self.port or self.stack.port, "POST",
                         "/api/v1/whatsapp/webhook", body,
                         headers={"X-Hub-Signature-256": sig})
        assert r.status == 200, r
        return r


def read_log(path, tail=6000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-tail:]
    except OSError:
        return ""


def assert_no_sanitizer(path):
    text = read_log(path, tail=10 ** 9)
    assert not has_sanitizer_mark(text), \
        "sanitizer report in %s:\n%s" % (path, text[-6000:])


class Sandbox:
    """The sandbox Graph API (tests/sandbox/graph-sandbox.js) and its
    /_sandbox control API."""

    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self.base = "http://127.0.0.1:%d/v25.0" % port

    def ctl(self, method, path, body=None):
        r = http_request(self.port, method, "/_sandbox/" + path, body,
                         wazera=False)
        assert r.status == 200, r
        return r.body

    def reset(self):
        """Clears records, script rules, stats; sets latency back to 0."""
        self.ctl("POST", "reset")
        self.ctl("POST", "config", {"latency_ms": 0})

    def config(self, **kw):
        return self.ctl("POST", "config", kw)

    def script(self, *rules, replace=False):
        return self.ctl("POST", "script", {"rules": list(rules),
                                           "replace": replace})

    def requests(self, phone_number_id=None, to=None, since=0):
        q = "requests?since=%d" % since
        if phone_number_id is not None:
            q += "&phone_number_id=%s" % phone_number_id
        if to is not None:
            q += "&to=%s" % "".join(c for c in to if c.isdigit())
        return self.ctl("GET", q)["requests"]

    def stats(self):
        return self.ctl("GET", "stats")

    def phone_stats(self, phone_number_id):
        return self.stats()["phone_numbers"].get(str(phone_number_id))


# --------------------------------------------------------------------------
# Spooler test helpers (shared by test_spooler.py and
# test_spooler_failures.py): a sender (a tenant's key with an account),
# messages queued through the API, the session database's rows, the
# sandbox's records and a spooler's --trace.

TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}


def sql(stack, query):
    return stack.sql_root(query, database="wazera")


def statuses(stack, ids):
    rows = sql(stack, "SELECT id, status FROM messages WHERE id IN (%s)" %
               ",".join(str(i) for i in ids))
    return {int(i): s for i, s in rows}


def blind_resends(stack, ids):
    rows = sql(stack, "SELECT id, blind_resends FROM messages WHERE id IN "
               "(%s)" % ",".join(str(i) for i in ids))
    return {int(i): int(n) for i, n in rows}


def events_of(stack, tenant_id, type_):
    # HEX: the mariadb client's default character set would turn 4-byte
    # UTF-8 into '?'.
    rows = sql(stack, "SELECT HEX(data) FROM events WHERE tenant_id = %d "
               "AND type = '%s' ORDER BY id" % (tenant_id, type_))
    return [json.loads(bytes.fromhex(d).decode("utf-8")) for (d,) in rows]


def past_grace(stack, account_id, grace_s):
    """No message of the account 'sending' for less than grace_s seconds
    (by the database's clock, which recovery uses)."""
    return sql(stack, "SELECT COUNT(*) FROM messages WHERE "
               "whatsapp_account_id = %d AND status = 'sending' AND "
               "sending_since >= NOW(3) - INTERVAL %d SECOND" %
               (account_id, grace_s)) == [["0"]]


def new_sender(stack, mps=None, tenant=None):
    """A key of a fresh tenant (or of `tenant`) with a fresh account on it:
    key.account (with the access token as key.token, its app secret as
    key.app_secret) and key.phone."""
    t = tenant or stack.create_tenant()
    k = t.key()
    phone = stack.unique("7701")
    token = "tok-" + uuid.uuid4().hex
    args = ["account", "create", "--tenant", t.id, "--phone-number-id", phone,
            "--waba-id", "102290129340398", "--display-phone",
            "+1 555 079 %04d" % (stack.counter % 10000),
            "--access-token", token, "--app-secret", "as-" + token]
    if mps is not None:
        args += ["--mps", mps]
    k.account = stack.admin_json(*args)
    assert k.account["phone_number_id"] == phone
    k.phone = phone
    k.token = token
    k.app_secret = "as-" + token
    return k


def send(key, headers=None, **body):
    body.setdefault("to", "+4915112345678")
    body.setdefault("whatsapp_account_id", key.account["id"])
    return assert_ok(key("POST", "/messages/send", body, headers=headers),
                     201)


def queue_many(key, n, to_fmt="+49170%07d", content=None):
    """Queues n template messages to n new numbers through the API; returns
    their ids. One at a time: parallel first sends of one tenant to new
    numbers can fail with 503 after repeated deadlocks (reported
    separately; not what these tests are about)."""
    ids = [send(key, to=to_fmt % i, type="template",
                content=content or TEMPLATE)["id"] for i in range(n)]
    assert len(set(ids)) == n
    return ids


def ref_id(rec):
    """The message id in a record's biz_opaque_callback_data ("wz:<id>")."""
    b = rec.get("body")
    ref = b.get("biz_opaque_callback_data") if isinstance(b, dict) else None
    assert isinstance(ref, str) and ref.startswith("wz:"), rec
    return int(ref[3:])


def trace_path(stack, name):
    """A fresh --trace file path in the work directory."""
    return os.path.join(stack.work, stack.unique("trace-%s-" % name) + ".txt")


def trace_starts(path):
    """The request starts a spooler's --trace recorded: a list of dicts
    (t_us: CLOCK_MONOTONIC microseconds, account, message, attempt,
    holder), in file order."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        t, what, acct, msg, attempt, holder = line.split(" ")
        assert what == "start", line
        sec, usec = t.split(".")
        out.append({"t_us": int(sec) * 10 ** 6 + int(usec),
                    "account": int(acct), "message": int(msg),
                    "attempt": int(attempt), "holder": holder})
    return out


def run_until(stack, conf, pred, what, timeout=20, **kw):
    """Runs a --once spooler until pred() holds, then stops it (SIGTERM)
    and checks it exits 0 with a clean log."""
    proc = stack.start_spooler(conf, "once", max_seconds=timeout + 10, **kw)
    try:
        wait_for(lambda: pred() or proc.popen.poll() is not None,
                 timeout=timeout, what=what, interval=0.1)
        assert pred(), "spooler exited early: %s" % read_log(proc.log)
    finally:
        rc = proc.stop(signal.SIGTERM)
    assert rc == 0, read_log(proc.log)
    assert_no_sanitizer(proc.log)
    return proc


# --------------------------------------------------------------------------
# Fixtures


_active_stack = None     # the session's Stack, once a test started it


@pytest.fixture(scope="session")
def stack():
    global _active_stack
    build = _build_dir()
    # Outside the checkout, mode 0755: Apache's user (www-data when run as
    # root) must reach the sockets, the fcgid wrapper and its config even
    # when the checkout is in a directory only root may enter (/root, a
    # mktemp -d). /var/tmp: on disk, unlike a tmpfs /tmp.
    work = tempfile.mkdtemp(prefix="wazera-e2e-", dir=WORK_BASE)
    os.chmod(work, 0o755)
    s = Stack(build, work)
    started_db = False
    try:
        s.mariadb("start", s.dbdir, "wazera", DB_USER, DB_PASS)
        started_db = True
        s.config = s.write_config("wazera.conf")
        s.admin("init")
        s.admin("migrate")
        s.fcgi = s.start_fcgi(sock=os.path.join(work, "fcgi.sock"))
        s.fcgi_sock = s.fcgi.sock
        s.nginx = s.start_nginx(s.fcgi_sock)
        s.port = s.nginx.port
        _active_stack = s
        yield s
    finally:
        _active_stack = None
        s.stop_all()
        if started_db:
            s.mariadb("stop", s.dbdir)
    # What came after the last test's scan: the servers' exit (leaks).
    _fail_on_reports(s, "at the end of the session (the servers' exit)")
    if os.environ.get("WAZERA_E2E_KEEP") != "1" and not s.reports_seen:
        shutil.rmtree(work, ignore_errors=True)


def _fail_on_reports(s, when):
    bad = s.scan_logs()
    if bad:
        s.reports_seen = True   # the work dir, and the logs, are kept
        msg = "\n\n".join("== %s ==\n%s" % b for b in bad)
        pytest.fail("sanitizer reports in server logs %s (work dir %s, "
                    "kept):\n%s" % (when, s.work, msg), pytrace=False)


@pytest.fixture(autouse=True)
def _sanitizer_per_test():
    """After each test (and its function-scoped fixtures, which stopped
    their servers): a sanitizer report that the servers' logs gained
    during it fails this test, in its teardown. Starts nothing: a test
    that does not use the stack is not made to start it."""
    yield
    if _active_stack is not None:
        _fail_on_reports(_active_stack, "during this test")


@pytest.fixture(scope="module", autouse=True)
def _sanitizer_per_module():
    """The same after a module's own fixtures stopped their servers
    (charged to the module's last test)."""
    yield
    if _active_stack is not None:
        _fail_on_reports(_active_stack, "when this module's fixtures "
                         "stopped their servers")


@pytest.fixture
def make_tenant(stack):
    """Factory: make_tenant(plan="enterprise", rate_limit=None) -> Tenant."""
    return stack.create_tenant


@pytest.fixture
def make_key(stack):
    """Factory: a fresh tenant and one key for it.

    make_key(scopes=None, plan="enterprise", rate_limit=None) -> Key"""
    def make(scopes=None, plan="enterprise", rate_limit=None):
        return stack.create_tenant(plan, rate_limit).key(scopes)
    return make


@pytest.fixture
def key(make_key):
    """An unrestricted key of a fresh enterprise tenant."""
    return make_key()


@pytest.fixture(scope="session")
def graph_sandbox(stack):
    """One sandbox Graph API for the session (stopped with the stack)."""
    sb = stack.start_sandbox()
    yield sb
    sb.proc.stop()


@pytest.fixture
def sandbox(graph_sandbox):
    """The session's sandbox, reset (records, scripts, stats, latency)."""
    graph_sandbox.reset()
    yield graph_sandbox
    graph_sandbox.reset()


# --------------------------------------------------------------------------
# Errors the web server makes itself (deploy/nginx/wazera-errors.conf, the
# ErrorDocuments of deploy/apache): the same envelope as the application's.


def read_answer(s, request=b""):
    """The HTTP answer on socket s as a Resp (status 0 and no headers
    when the server closed without a valid HTTP answer), checked against
    docs/openapi.yaml for the request whose bytes begin with request."""
    r = http.client.HTTPResponse(s)
    try:
        r.begin()
    except (http.client.HTTPException, OSError):
        return Resp(0, {}, b"")
    raw = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    method, target = openapi_check.request_line(request)
    openapi_check.check_response(method or "GET", target, r.status, h, raw)
    return Resp(r.status, h, raw)


def raw_request(port, data, body_len=0, timeout=30):
    """Sends the bytes data as they are (a request the http client would
    refuse to write), then body_len zero bytes as far as the server takes
    them; returns the answer as a Resp (status 0 and no headers when the
    server closed without a valid HTTP answer)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        try:
            chunk = b"\0" * 65536
            left = body_len
            while left > 0:
                s.sendall(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
        except OSError:
            pass    # the server answered before the body was all sent
        return read_answer(s, data)
    finally:
        s.close()


def chunked_request(port, head, total, timeout=30):
    """Sends the request head (ending in a blank line, with
    'Transfer-Encoding: chunked') and then a body of total bytes in 64 KiB
    chunks, as far as the server takes it; returns the answer as
    raw_request does."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        try:
            chunk = b" " * 65536
            left = total
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(b"%x\r\n" % n + chunk[:n] + b"\r\n")
                left -= n
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass    # the server answered before the body was all sent
        return read_answer(s, head)
    finally:
        s.close()


def assert_web_error(resp, status, code, retry_after=None):
    """An error the web server answered itself: the envelope, the JSON
    type, and no X-Request-Id (the application sets one on everything)."""
    err = assert_error(resp, status, code, details={})
    assert "x-request-id" not in resp.headers, resp
    if retry_after is not None:
        assert resp.headers.get("retry-after") == retry_after, resp
    return err


def web_server_errors(port, key, path_nul_status=400, over_limit_by="server",
                      chunked_over_limit=(413, "PAYLOAD_TOO_LARGE")):
    """The errors every shipped web server config answers in JSON: a NUL
    byte and a bad escape in the path, a malformed request line, a body
    far over the limit (with a Content-Length, and chunked), a path
    outside the API; and the application's own errors (413 for a body
    over 1 MiB, also chunked, 404 for an unknown route) passed through
    unchanged. path_nul_status: nginx answers %00 with 400, Apache with
    404 (its rule for %00 and %2F). over_limit_by: who refuses a body
    over the web server's limit, "server" (its own answer: no
    X-Request-Id) or "either" (mod_proxy_fcgi passes the request on while
    it reads the body, so the application may refuse it first).
    chunked_over_limit: the status and code of such a body sent chunked
    (mod_fcgid can only answer 500)."""
    nul_code = {400: "BAD_REQUEST", 404: "RESOURCE_NOT_FOUND"}
    for path in ("/api/v1/contacts/%00", "/api/v1/contacts/a%00b"):
        assert_web_error(http_request(port, "GET", path, key=key.key),
                         path_nul_status, nul_code[path_nul_status])
    for path in ("/api/v1/contacts/%zz", "/api/v1/%G1/contacts",
                 "/api/v1/contacts/%"):
        assert_web_error(http_request(port, "GET", path, key=key.key), 400,
                         "BAD_REQUEST")
    for line in (b"GARBAGE\r\n\r\n",
                 b"GET /api/v1/contacts HTTP/1.1\r\nHost: a\r\n"
                 b"Bad Header: x\r\n\r\n"):
        assert_web_error(raw_request(port, line), 400, "BAD_REQUEST")
    # Over the web server's limit (4 MiB): refused before the application
    # (but see over_limit_by), in the envelope either way.
    assert over_limit_by in ("server", "either"), over_limit_by
    big = 5 * 1024 * 1024
    head = (b"POST /api/v1/contacts HTTP/1.1\r\nHost: a\r\n"
            b"Authorization: Bearer " + key.key.encode() +
            b"\r\nContent-Type: application/json\r\nConnection: close\r\n")
    r = raw_request(port, head + b"Content-Length: %d\r\n\r\n" % big,
                    body_len=big)
    if over_limit_by == "server":
        assert_web_error(r, 413, "PAYLOAD_TOO_LARGE")
    else:
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    r = chunked_request(port, head + b"Transfer-Encoding: chunked\r\n\r\n",
                        big)
    if over_limit_by == "server":
        assert_web_error(r, *chunked_over_limit)
    else:
        assert_error(r, *chunked_over_limit)
    # Chunked and over the application's 1 MiB only: its own answer.
    r = chunked_request(port, head + b"Transfer-Encoding: chunked\r\n\r\n",
                        2 * 1024 * 1024)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert r.headers.get("x-request-id"), r
    assert_web_error(http_request(port, "GET", "/not-the-api"), 404,
                     "RESOURCE_NOT_FOUND")
    # The application's own answers are not replaced.
    r = key("POST", "/contacts", b" " * (2 * 1024 * 1024), port=port)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert r.headers.get("x-request-id"), r
    r = key("GET", "/nope", port=port)
    err = assert_error(r, 404, "RESOURCE_NOT_FOUND")
    assert r.headers.get("x-request-id") and "nope" not in err["code"], r


# --------------------------------------------------------------------------
# A database of one test's own: for tests that stop, kill or restart
# MariaDB, so that the session's server stays up for every other test (a
# failure there must not fail all the later ones).


def pid_dead(pid):
    """True once pid has exited (gone, or a zombie not yet reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class PrivateStack:
    """A private MariaDB (deploy/local/mariadb in a directory of the work
    dir), migrated, and a wazera-fcgi and nginx of its own over it.
    Tenants on it: stack.create_tenant(config=ps.config); their keys talk
    to ps.port (key.port = ps.port). database: further keys of the
    config's [database] section (statement_timeout=60, ...)."""

    def __init__(self, stack, name="private", workers=2, database=None):
        self.stack = stack
        self.dir = os.path.join(stack.work, stack.unique(name + "-db-"))
        self.sock = os.path.join(self.dir, "mysql.sock")
        self.fcgi = self.nginx = self.port = None
        try:
            self.start_db()
            self.config = stack.write_config(
                os.path.basename(self.dir) + ".conf", db_socket=self.sock)
            with open(self.config, "a") as f:     # [database] ends it
                for k, v in sorted((database or {}).items()):
                    f.write("%s = %s\n" % (k, v))
            stack.admin("migrate", config=self.config)
            self.fcgi = stack.start_fcgi(config=self.config,
                                         workers=workers)
            self.nginx = stack.start_nginx(self.fcgi.sock)
            self.port = self.nginx.port
        except BaseException:
            self.close()
            raise

    def start_db(self):
        """Starts the server (again); InnoDB recovers what a kill left."""
        self.stack.mariadb("start", self.dir, "wazera", DB_USER, DB_PASS)

    def stop_db(self):
        """A clean shutdown (SIGTERM), waited for."""
        self.stack.mariadb("stop", self.dir)

    def db_pid(self):
        with open(os.path.join(self.dir, "mariadb.pid")) as f:
            return int(f.read().split()[0])

    def kill_db(self, sig=signal.SIGKILL):
        """Sends sig to the server (ours: the pid in its own directory)
        and waits until it is gone."""
        pid = self.db_pid()
        os.kill(pid, sig)
        wait_for(lambda: pid_dead(pid), timeout=60,
                 what="mariadbd %d to exit" % pid)
        if sig == signal.SIGKILL:
            # Its pid file is left behind, and until init reaps the
            # zombie (slow on some machines) "kill -0" still finds it:
            # deploy/local/mariadb start would take it for running.
            os.unlink(os.path.join(self.dir, "mariadb.pid"))

    def sql(self, sql):
        """SQL as root in this server's wazera database."""
        return self.stack.sql_root(sql, database="wazera", sock=self.sock)

    def tenant_key(self, scopes=None, **tenant):
        """A fresh tenant on this database and a key for it, which talks
        to this stack's nginx."""
        k = self.stack.create_tenant(config=self.config, **tenant).key(scopes)
        k.port = self.port
        return k

    def close(self):
        """Stops nginx, wazera-fcgi and the database (each stopped even
        when an earlier one fails)."""
        try:
            if self.nginx is not None:
                self.stack.stop_nginx(self.nginx)
        finally:
            try:
                if self.fcgi is not None:
                    self.fcgi.stop()
            finally:
                self.stack.mariadb("stop", self.dir)


@pytest.fixture
def private_stack(stack):
    """Factory: private_stack(name="private", workers=2, database=None)
    -> PrivateStack, stopped (servers and database) at the end of the
    test."""
    made = []

    def make(name="private", workers=2, database=None):
        made.append(PrivateStack(stack, name, workers, database))
        return made[-1]
    yield make
    for ps in reversed(made):
        ps.close()


# --------------------------------------------------------------------------
# WhatsApp accounts and Meta's webhook payloads (shared by the messaging,
# webhook and conversation tests)

WEBHOOK_VERIFY = "verify-tok-123"
WEBHOOK_DEFAULT_SECRET = "default-app-secret"
MESSAGE_KEYS = {"id", "conversation_id", "contact_id", "whatsapp_account_id",
                "direction", "type", "content", "status", "wamid", "error",
                "created_at", "updated_at"}


def make_account(stack, tenant, phone_id=None, mps=None, token="tok-1",
                 app_secret=None):
    """A WhatsApp account of tenant (wazera-admin account create)."""
    args = ["account", "create", "--tenant", tenant.id,
            "--phone-number-id", phone_id or stack.unique("1065403"),
            "--waba-id", "102290129340398", "--display-phone",
            "+1 555 078 %04d" % (stack.counter % 10000),
            "--access-token", token]
    if mps is not None:
        args += ["--mps", mps]
    if app_secret:
        args += ["--app-secret", app_secret]
    return stack.admin_json(*args, config=tenant.config)


def events(stack, tenant_id, sock=None):
    """The tenant's events, oldest first: [(type, data)]."""
    rows = stack.sql_root("SELECT type, HEX(data) FROM events WHERE "
                          "tenant_id = %d ORDER BY id" % tenant_id,
                          database="wazera", sock=sock)
    return [(t, json.loads(bytes.fromhex(d))) for t, d in rows]


def inbound_payload(phone_id, messages, profiles=None):
    """Meta's webhook payload with messages to phone_id; profiles: wa_id
    -> profile name."""
    contacts = [{"profile": {"name": n}, "wa_id": w}
                for w, n in (profiles or {}).items()]
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": phone_id},
            "contacts": contacts, "messages": messages}}]}]}


def msg(wamid, frm, type_, obj=None, **extra):
    """One inbound message of a payload."""
    m = {"from": frm, "id": wamid, "timestamp": "1749416383", "type": type_}
    if obj is not None:
        m[type_] = obj
    m.update(extra)
    return m


def post(port, body, secret=None, signature=None):
    """POSTs body (a dict, or the raw bytes) to the webhook, signed with
    secret (X-Hub-Signature-256 over the raw bytes) or with the given
    signature header, else unsigned."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
            secret.encode(), raw, hashlib.sha256).hexdigest()
    return http_request(port, "POST", "/api/v1/whatsapp/webhook", raw,
                        headers=headers)


@pytest.fixture(scope="module")
def hook(stack):
    """The port of a server whose config has a verify token and a default
    app secret (WEBHOOK_VERIFY, WEBHOOK_DEFAULT_SECRET); one per module."""
    conf = stack.write_config(stack.unique("webhook-") + ".conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write("verify_token = %s\napp_secret = %s\n" %
                (WEBHOOK_VERIFY, WEBHOOK_DEFAULT_SECRET))
        f.write(text)
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    yield nginx.port
    stack.stop_nginx(nginx)
    fcgi.stop()


# --------------------------------------------------------------------------
# CI: a skip is a failure unless expected (expected-skips.txt)

EXPECTED_SKIPS = os.path.join(HERE, "expected-skips.txt")


def in_ci():
    return os.environ.get("CI", "").lower() == "true"


def _read_expected_skips():
    """[(pattern, reason)] of expected-skips.txt: one line each, a test id
    as test_FILE.py::test_NAME (fnmatch patterns allowed) and after it the
    reason it may skip; '#' starts a comment line."""
    out = []
    try:
        f = open(EXPECTED_SKIPS)
    except FileNotFoundError:
        return out
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2 or "::" not in parts[0]:
                raise pytest.UsageError(
                    "%s:%d: want 'test_FILE.py::test_NAME reason', got %r"
                    % (EXPECTED_SKIPS, n, line))
            out.append((parts[0], parts[1]))
    return out


def pytest_configure(config):
    config.wz_expected_skips = _read_expected_skips()


def _test_id(item):
    return "%s::%s" % (os.path.relpath(str(item.path), HERE), item.name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CI=true, a skip (or xfail) of a test that expected-skips.txt
    does not list is made a failure, so that the JUnit XML tests/run
    counts (and the summary) says what did not run."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.skipped or not in_ci():
        return
    tid = _test_id(item)
    if any(fnmatch.fnmatchcase(tid, pat)
           for pat, _ in item.config.wz_expected_skips):
        return
    if hasattr(rep, "wasxfail"):
        why = "xfail: %s" % rep.wasxfail
        del rep.wasxfail
    elif isinstance(rep.longrepr, tuple):
        why = rep.longrepr[2]
    else:
        why = str(rep.longrepr)
    rep.outcome = "failed"
    rep.longrepr = (
        "%s was skipped (%s) in CI (CI=true), where a skip counts as a "
        "failure. Install what it needs (tests/run's packages list), or, "
        "if it may legitimately skip on CI machines, add a line '%s "
        "<reason>' to tests/e2e/expected-skips.txt." % (tid, why, tid))


# --------------------------------------------------------------------------
# Conditions, not durations (issue 9): calls run in parallel whose every
# exception and answer is accounted for, a root session of the database held
# open (a lock that stays taken until the test lets go of it), and an API
# key's expiry moved on the database's clock.

import threading  # noqa: E402 (this section's own)


def run_parallel(fn, args_list, workers=None, timeout=180):
    """Calls fn(arg) for each arg of args_list from `workers` threads (one
    per call by default) released together; returns the results in the
    order of args_list, one for every call. An exception in any call is
    raised here (the first by position, noting how many calls failed), and
    a call still running after `timeout` seconds fails the test: a thread's
    failure can never leave the test passing."""
    args_list = list(args_list)
    n = len(args_list)
    workers = min(workers or n, n) or 1
    missing = object()
    results = [missing] * n
    errors = {}
    barrier = threading.Barrier(workers)

    def run(w):
        try:
            barrier.wait(60)
        except threading.BrokenBarrierError as e:
            errors[w] = e
            return
        for i in range(w, n, workers):
            try:
                results[i] = fn(args_list[i])
            except BaseException as e:   # noqa: B902 -- re-raised below
                errors[i] = e

    threads = [threading.Thread(target=run, args=(w,), daemon=True)
               for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.time() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.time()))
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        raise AssertionError("%d of %d threads still running after %d s"
                             % (stuck, workers, timeout))
    if errors:
        first = errors[min(errors)]
        first.add_note("run_parallel: %d of %d calls raised; this is call "
                       "#%d" % (len(errors), n, min(errors)))
        raise first
    assert len(results) == n and all(r is not missing for r in results), \
        "run_parallel: %d of %d calls gave no answer" % (
            sum(r is missing for r in results), n)
    return results


def run_calls(calls, workers=None, timeout=180):
    """run_parallel for a list of callables taking no arguments."""
    return run_parallel(lambda c: c(), calls, workers, timeout)


class RootSession:
    """A session of the stack's MariaDB as root that stays open (a mariadb
    client reading statements from a pipe): what it locks stays locked
    until the test commits, unlocks or closes it. Use as a context
    manager."""

    def __init__(self, stack, database="wazera"):
        self.stack = stack
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "-uroot", "-S", stack.db_sock,
             "-D", database, "-N", "-B", "--unbuffered"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, bufsize=0)
        self.buf = b""
        self.marks = 0
        self.id = int(self.run("SELECT CONNECTION_ID()")[0][0])

    def send(self, sql):
        """Sends statements without waiting for them (one may block)."""
        self.p.stdin.write(sql.rstrip().rstrip(";").encode() + b";\n")
        self.p.stdin.flush()

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.time()
            r, _, _ = select.select([self.p.stdout], [], [], max(0, left))
            if not r:
                raise AssertionError("root session: no answer in time")
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                self.p.wait(10)
                raise AssertionError("root session ended: %s" %
                                     self.p.stderr.read().decode())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def run(self, sql, timeout=60):
        """Runs statements and waits until they are done; returns the rows
        they printed (lists of strings)."""
        self.marks += 1
        mark = "-- done %d --" % self.marks
        self.send(sql)
        self.send("SELECT '%s'" % mark)
        rows = []
        deadline = time.time() + timeout
        while True:
            line = self._line(deadline)
            if line == mark:
                return rows
            rows.append(line.split("\t"))

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self.p.stdout.close()
        self.p.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# InnoDB answers information_schema.innodb_trx (and innodb_locks,
# innodb_lock_waits) from a snapshot it takes again only when the previous
# read is more than 100 ms old (trx0i_s.cc, CACHE_MIN_IDLE_TIME): a loop
# that reads it faster than that sees one snapshot for as long as it polls
# (a transaction shown RUNNING for 30 s while it waited for a lock). Every
# read of those tables goes through innodb_trx_sql, which keeps them apart.
_INNODB_TRX_GAP = 0.15
_innodb_trx_last = [0.0]


def innodb_trx_sql(run, query):
    """run(query) (a stack's or a private stack's sql) at least
    _INNODB_TRX_GAP after the previous read of InnoDB's transaction
    tables by this process, so that it reads a fresh snapshot."""
    wait = _innodb_trx_last[0] + _INNODB_TRX_GAP - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    try:
        return run(query)
    finally:
        _innodb_trx_last[0] = time.monotonic()


def lock_waits(stack, user=DB_USER):
    """Transactions of `user` waiting for a lock now (their queries)."""
    return innodb_trx_sql(stack.sql_root,
        "SELECT t.trx_query FROM information_schema.innodb_trx t JOIN "
        "information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
        "WHERE t.trx_state = 'LOCK WAIT' AND p.user = '%s'" % user)


# A worker caches a key's expiry as whole seconds on its own monotonic
# clock (app/fcgi/auth.c): it may judge it up to a second either side of
# the database's clock.
EXPIRY_SLACK = 2.0


def expire_key_in(stack, key_id, seconds):
    """Sets the key's expiry `seconds` ahead of the database's clock, now:
    after wazera-admin made the key, so its run time does not count."""
    stack.sql_root("UPDATE api_keys SET expires_at = UTC_TIMESTAMP() + "
                   "INTERVAL %d SECOND WHERE id = %d" % (seconds, key_id),
                   database="wazera")


def key_seconds_left(stack, key_id):
    """Seconds until the key expires on the database's clock (negative
    once it has)."""
    rows = stack.sql_root("SELECT TIMESTAMPDIFF(MICROSECOND, "
                          "UTC_TIMESTAMP(6), expires_at) FROM api_keys "
                          "WHERE id = %d" % key_id, database="wazera")
    return int(rows[0][0]) / 1e6


def key_expiring_soon(stack, tenant, first_use, leads=(4, 8, 16, 32)):
    """A key of tenant that expires a few seconds from now on the
    database's clock, and what first_use(key) returned while the key was
    clearly still valid: the key is made, then its expiry set (so however
    long wazera-admin takes does not count), then first_use runs; unless
    the database's clock, read after it, is still EXPIRY_SLACK clear of the
    expiry, the round is discarded and run again with a fresh key and more
    time. Returns (key, result)."""
    for lead in leads:
        k = tenant.key(expires_at="2099-12-31T23:59:59Z")
        expire_key_in(stack, k.id, lead)
        out = first_use(k)
        if key_seconds_left(stack, k.id) > EXPIRY_SLACK:
            return k, out
    raise AssertionError("first use of a key took longer than %d s" % lead)


def wait_key_expired(stack, key):
    """Waits until the database's clock is EXPIRY_SLACK past the key's
    expiry."""
    wait_for(lambda: key_seconds_left(stack, key.id) < -EXPIRY_SLACK,
             timeout=60, interval=0.2, what="key %d to expire" % key.id)


def cli_checked(p):
    """A finished subprocess.run(capture_output=True, text=True) of one of
    our programs: fails on a sanitizer report in its stderr, and drops a
    coverage build's complaints about stale counts (after a rebuild),
    which are not the program's. Returns p."""
    for m in SANITIZER_MARKS:
        assert m not in p.stderr, p.stderr
    p.stderr = "".join(l for l in p.stderr.splitlines(True)
                       if not l.startswith(("libgcov profiling error",
                                            "profiling:")))
    return p


# A wazera-fcgi (and nginx) whose statements may run for 1 second: a
# statement held longer answers 503 (test_hardening, test_idempotency_edges).
@pytest.fixture
def limited_server(stack):
    """The port of an nginx in front of it."""
    conf = stack.write_config(stack.unique("limited-") + ".conf")
    with open(conf, "a") as f:
        f.write("statement_timeout = 1\n")
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    yield nginx.port
    stack.stop_nginx(nginx)
    fcgi.stop()
