"""wazera-fcgi's command line and what a FastCGI server other than nginx
may send it: option errors (exit status and the exact message), --listen
forms (a path, HOST:PORT, neither), --user, --socket-mode, and requests
without CONTENT_LENGTH, REQUEST_URI or REQUEST_METHOD, spoken in raw
FastCGI records to the socket."""
import json
import os
import pwd
import socket
import stat
import struct
import subprocess

import pytest

import openapi_check

from conftest import (Proc, assert_error, cli_checked, free_port, read_log,
                      wait_for)

USAGE = ("usage: wazera-fcgi [--config FILE] [--listen PATH|HOST:PORT] "
         "[--workers N] [--user USER]\n"
         "                   [--socket-mode OCTAL]\n")


def run_fcgi(stack, *args, config=True):
    argv = [stack.fcgi_bin]
    if config:
        argv += ["--config", stack.config]
    p = subprocess.run(argv + list(args), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    return cli_checked(p)


def fatal_line(p):
    """The one log line of a fatal start-up error, without its time stamp
    and pid: 'fatal: MESSAGE'."""
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    ts, who, rest = lines[0].split(" ", 2)
    assert who.startswith("wazera-fcgi["), p.stderr
    return rest


# -- option errors -----------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--bogus"], ["-x"], ["extra-operand"], ["--workers"],
    ["--listen", "/tmp/x.sock", "operand"],
])
def test_usage_errors_exit_2(stack, args):
    p = run_fcgi(stack, *args)
    assert p.returncode == 2, p
    assert p.stdout == ""
    assert p.stderr.endswith(USAGE), p.stderr


def test_help_prints_usage_and_exits_0(stack):
    p = run_fcgi(stack, "--help", config=False)
    assert p.returncode == 0, p
    assert p.stdout == USAGE
    assert p.stderr == ""


@pytest.mark.parametrize("value", ["0", "257", "-1", "four", "4x", "",
                                   "99999999999999999999"])
def test_bad_workers(stack, value):
    p = run_fcgi(stack, "--workers", value, "--listen",
                 os.path.join(stack.work, "never.sock"))
    assert p.returncode == 1, p
    assert fatal_line(p) == "fatal: --workers must be 1 to 256"
    assert not os.path.exists(os.path.join(stack.work, "never.sock"))


@pytest.mark.parametrize("value", ["1000", "0800", "-1", "rw", "", "0x1ff"])
def test_bad_socket_mode(stack, value):
    p = run_fcgi(stack, "--socket-mode", value, "--listen",
                 os.path.join(stack.work, "never.sock"))
    assert p.returncode == 1, p
    assert fatal_line(p) == "fatal: --socket-mode must be an octal mode, " \
        "0 to 777"


@pytest.mark.parametrize("addr", ["fcgi.sock", "localhost", "9000"])
def test_listen_neither_path_nor_host_port(stack, addr):
    p = run_fcgi(stack, "--listen", addr)
    assert p.returncode == 1, p
    assert fatal_line(p) == \
        "fatal: --listen takes a socket path or HOST:PORT"


def test_listen_where_it_cannot(stack):
    """Our own one-line fatal message and exit status 1 (libfcgi's
    FCGX_OpenSocket printed 'bind/listen: ...' and exited with errno)."""
    missing = os.path.join(stack.work, "no-such-dir", "fcgi.sock")
    p = run_fcgi(stack, "--listen", missing)
    assert p.returncode == 1, p
    assert fatal_line(p) == "fatal: cannot listen on %s: No such file " \
        "or directory" % missing
    long_path = os.path.join(stack.work, "x" * 120 + ".sock")
    p = run_fcgi(stack, "--listen", long_path)
    assert p.returncode == 1, p
    assert fatal_line(p) == "fatal: cannot listen on %s: the path is " \
        "longer than 107 bytes" % long_path
    assert not os.path.exists(long_path)
    # A port another process holds.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        addr = "127.0.0.1:%d" % s.getsockname()[1]
        p = run_fcgi(stack, "--listen", addr)
        assert p.returncode == 1, p
        assert fatal_line(p) == "fatal: cannot listen on %s: Address " \
            "already in use" % addr
    finally:
        s.close()
    # Not a port number; a host that is no address.
    for addr in ("127.0.0.1:http", "no-such-host.invalid:9000"):
        p = run_fcgi(stack, "--listen", addr)
        assert p.returncode == 1, p
        assert fatal_line(p).startswith("fatal: cannot listen on %s: "
                                        % addr), p.stderr


def test_unknown_user(stack):
    sock = os.path.join(stack.work, stack.unique("nouser-") + ".sock")
    p = run_fcgi(stack, "--listen", sock, "--user", "no-such-user-wz")
    assert p.returncode == 1, p
    assert fatal_line(p) == "fatal: unknown user no-such-user-wz"


def test_missing_config_file(stack):
    path = os.path.join(stack.work, "no-such.conf")
    p = run_fcgi(stack, "--config", path, "--listen",
                 os.path.join(stack.work, "never.sock"), config=False)
    assert p.returncode == 1, p
    msg = fatal_line(p)
    assert msg.startswith("fatal: config: "), msg
    assert path in msg, msg
    assert not os.path.exists(os.path.join(stack.work, "never.sock"))


# -- --user and --socket-mode --------------------------------------------------

def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid"):
                ids[k] = [int(x) for x in v.split()]
    return ids


def test_user_and_socket_mode(stack):
    if os.geteuid() != 0:
        pytest.skip("--user needs root")
    nobody = pwd.getpwnam("nobody")
    d = os.path.join(stack.work, stack.unique("userdir-"))
    os.mkdir(d)
    # The directory of the socket is the user's (as /run/wazera is), so
    # the master, no longer root, can remove the socket when it stops.
    os.chown(d, nobody.pw_uid, nobody.pw_gid)
    sock = os.path.join(d, "fcgi.sock")
    fcgi = stack.start_fcgi(sock=sock, workers=2,
                            extra_args=["--user", "nobody",
                                        "--socket-mode", "0600"])
    try:
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        for pid in [fcgi.pid] + fcgi.children():
            ids = proc_ids(pid)
            # real, effective, saved and file system ids: all nobody's
            assert ids["Uid"] == [nobody.pw_uid] * 4, (pid, ids)
            assert ids["Gid"] == [nobody.pw_gid] * 4, (pid, ids)
        with open("/proc/%d/status" % fcgi.children()[0]) as f:
            groups = [l for l in f if l.startswith("Groups:")][0]
        assert groups.split()[1:] == [str(nobody.pw_gid)], groups
        # A worker answers (as nobody; root may still talk to the 0600
        # socket).
        r = fcgi_request(sock, {"REQUEST_METHOD": "GET",
                                "REQUEST_URI": "/api/v1/contacts"})
        assert r.status == 401, r
    finally:
        assert fcgi.stop() == 0
    assert not os.path.exists(sock)


def test_default_socket_mode_is_0660(stack):
    fcgi = stack.start_fcgi(workers=1)
    try:
        assert stat.S_IMODE(os.stat(fcgi.sock).st_mode) == 0o660
    finally:
        assert fcgi.stop() == 0


# -- raw FastCGI ---------------------------------------------------------------

FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = \
    1, 3, 4, 5, 6, 7


def _record(typ, content, req_id=1):
    return struct.pack(">BBHHBx", 1, typ, req_id, len(content), 0) + content


def _nv_len(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I",
                                                             n | 0x80000000)


def _records(typ, data, size=65535):
    out = b""
    for i in range(0, len(data), size):
        out += _record(typ, data[i:i + size])
    return out + _record(typ, b"")


class FcgiResp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.body = json.loads(body.decode())
        except ValueError:
            self.body = body

    def __repr__(self):
        return "<FcgiResp %d %r %r>" % (self.status, self.headers,
                                        self.raw[:500])


def fcgi_request(addr, params, body=b""):
    """One request to a FastCGI socket (a path, or (host, port)) in raw
    records: the params exactly as given (no CONTENT_LENGTH unless
    there), the body on stdin in records of 64 KiB at most. Returns a
    FcgiResp parsed from the CGI response on stdout."""
    pairs = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        pairs += _nv_len(len(k)) + _nv_len(len(v)) + k + v
    msg = _record(FCGI_BEGIN, struct.pack(">HB5x", 1, 0)) + \
        _records(FCGI_PARAMS, pairs) + _records(FCGI_STDIN, body)
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX)
    else:
        s = socket.socket()
    s.settimeout(60)
    out = b""
    try:
        s.connect(addr)
        s.sendall(msg)
        buf = b""
        ended = False
        while not ended:
            c = s.recv(65536)
            if not c:
                break
            buf += c
            while len(buf) >= 8:
                _, typ, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content = buf[8:8 + clen]
                buf = buf[8 + clen + plen:]
                if typ == FCGI_STDOUT:
                    out += content
                elif typ == FCGI_END:
                    ended = True
        assert ended, out
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    status = int(headers["status"].split()[0])
    # The application's answer, as the web server would pass it on.
    target = params.get("REQUEST_URI") or (params.get("SCRIPT_NAME", "") +
                                           params.get("PATH_INFO", ""))
    openapi_check.check_response(params.get("REQUEST_METHOD", "GET"),
                                 target, status, headers, body)
    return FcgiResp(status, headers, body)


@pytest.fixture(scope="module")
def tcp_fcgi(stack):
    """A wazera-fcgi of 1 worker listening on 127.0.0.1:PORT."""
    port = free_port()
    log = stack.logfile(stack.unique("tcp-fcgi-") + ".log")
    with open(log, "ab") as lf:
        p = subprocess.Popen([stack.fcgi_bin, "--config", stack.config,
                              "--listen", "127.0.0.1:%d" % port,
                              "--workers", "1"], stdin=subprocess.DEVNULL,
                             stdout=lf, stderr=lf, start_new_session=True)
    proc = Proc(p, log, "wazera-fcgi")
    stack.procs.append(proc)
    wait_for(lambda: len(proc.children()) == 1 or p.poll() is not None,
             what="the TCP wazera-fcgi's worker")
    assert p.poll() is None, open(log).read()

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False
    wait_for(listening, what="127.0.0.1:%d" % port)

    def logged():
        with open(log) as f:
            return "listening on 127.0.0.1:%d with 1 workers" % port \
                in f.read()
    wait_for(logged, what="the TCP wazera-fcgi's start in its log")
    yield ("127.0.0.1", port)
    assert proc.stop() == 0


def auth(key):
    return {"HTTP_AUTHORIZATION": "Bearer " + key.key}


def test_tcp_listen_serves(tcp_fcgi, key):
    c = key.create_contact(phone="+4915112340001")
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET",
                                    REQUEST_URI="/api/v1/contacts/%d"
                                    % c["id"]))
    assert r.status == 200, r
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert len(r.headers["x-request-id"]) == 16
    assert r.body == {"success": True, "data": c}


def test_uri_from_script_name_and_path_info(tcp_fcgi, key):
    """No REQUEST_URI (plain CGI servers): SCRIPT_NAME + PATH_INFO."""
    c = key.create_contact(phone="+4915112340002")
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET",
                                    SCRIPT_NAME="/api/v1",
                                    PATH_INFO="/contacts/%d" % c["id"]))
    assert r.status == 200, r
    assert r.body["data"] == c
    # Only PATH_INFO; an empty REQUEST_URI counts as none.
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET",
                                    REQUEST_URI="",
                                    PATH_INFO="/api/v1/contacts/%d"
                                    % c["id"]))
    assert r.status == 200, r
    assert r.body["data"] == c
    # Neither: the path is empty, which is no route.
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET"))
    assert_error(r, 404, "RESOURCE_NOT_FOUND")


def test_no_request_method_is_get(tcp_fcgi, key):
    c = key.create_contact(phone="+4915112340003")
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_URI=
                                    "/api/v1/contacts/%d" % c["id"]))
    assert r.status == 200, r
    assert r.body["data"] == c


def test_body_without_content_length(tcp_fcgi, key):
    """A body with no CONTENT_LENGTH (a chunked request some servers pass
    on as is) is read to its end: larger than the first 16 KiB buffer
    and than a FastCGI record."""
    name = "n" * 200
    body = json.dumps({"phone": "+4915112340004", "name": name,
                       "custom_fields": {"a": "a" * 40000,
                                         "b": "b" * 40000}}).encode()
    assert len(body) > 65535
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="POST",
                                    REQUEST_URI="/api/v1/contacts",
                                    CONTENT_TYPE="application/json"), body)
    assert r.status == 201, r
    assert r.body["data"]["custom_fields"] == {"a": "a" * 40000,
                                               "b": "b" * 40000}
    got = key("GET", "/contacts/%d" % r.body["data"]["id"])
    assert got.body["data"] == r.body["data"]
    # Empty: no fields.
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="POST",
                                    REQUEST_URI="/api/v1/contacts"))
    assert_error(r, 422, "VALIDATION_ERROR",
                 {"phone": ["The phone field is required."]})
    # A GET's stdin is not read.
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET",
                                    REQUEST_URI="/api/v1/contacts"),
                     b"ignored")
    assert r.status == 200, r


def test_body_without_content_length_over_the_limit(tcp_fcgi, key):
    big = json.dumps({"phone": "+4915112340005"}).encode() + \
        b" " * (3 * 1024 * 1024 + 10)
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="POST",
                                    REQUEST_URI="/api/v1/contacts"), big)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # Of API size (over 1 MiB, under the webhook's 3 MiB): also 413.
    mid = json.dumps({"phone": "+4915112340005"}).encode() + \
        b" " * (1024 * 1024 + 10)
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="POST",
                                    REQUEST_URI="/api/v1/contacts"), mid)
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    assert key("GET", "/contacts").body["meta"]["total"] == 0
    # The worker is fine after it.
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="GET",
                                    REQUEST_URI="/api/v1/contacts"))
    assert r.status == 200, r


@pytest.mark.parametrize("cl", ["0", "-5", "junk"])
def test_content_length_not_positive_is_no_body(tcp_fcgi, key, cl):
    r = fcgi_request(tcp_fcgi, dict(auth(key), REQUEST_METHOD="POST",
                                    REQUEST_URI="/api/v1/contacts",
                                    CONTENT_LENGTH=cl),
                     b'{"phone": "+4915112340006"}')
    # The body is not read: no fields.
    assert_error(r, 422, "VALIDATION_ERROR",
                 {"phone": ["The phone field is required."]})
    assert key("GET", "/contacts").body["meta"]["total"] == 0


@pytest.mark.parametrize("form,family,host", [
    ("localhost:%d", socket.AF_INET, "127.0.0.1"),
    ("[::1]:%d", socket.AF_INET6, "::1")], ids=["name", "ipv6"])
def test_listen_host_families(stack, form, family, host):
    """A host name listens on IPv4, as libfcgi did (nginx's
    fastcgi_pass 127.0.0.1:PORT reaches it even where the resolver puts
    ::1 first for localhost); an IPv6 address in brackets on IPv6."""
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    port = free_port()
    log = stack.logfile(stack.unique("family-fcgi-") + ".log")
    with open(log, "ab") as lf:
        p = subprocess.Popen([stack.fcgi_bin, "--config", stack.config,
                              "--listen", form % port, "--workers", "1"],
                             stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                             start_new_session=True)
    proc = Proc(p, log, "wazera-fcgi")
    stack.procs.append(proc)
    try:
        def reachable():
            assert p.poll() is None, read_log(log)
            try:
                s = socket.socket(family)
                s.settimeout(0.5)
                s.connect((host, port))
                s.close()
                return True
            except OSError:
                return False
        wait_for(reachable, what="wazera-fcgi on %s" % (form % port))
    finally:
        assert proc.stop() == 0, read_log(log)
