"""Apache in front of Wazera, in both shipped forms (deploy/apache):
mod_proxy_fcgi to the standalone pre-forked server, and mod_fcgid starting
wazera-fcgi itself (fd 0). Each runs the shipped config file with only its
paths changed, and the API must behave as it does behind nginx: the
Authorization header reaches the application, bodies and query strings
pass, errors keep their envelope -- also those Apache makes itself (the
shipped ErrorDocuments): a bad path, a body over the limit, the FastCGI
server down."""
import os
import shutil
import signal
import subprocess

import pytest

from conftest import (JSON_CT, REPO, Proc, assert_error, assert_ok,
                      http_request, chunked_request,
                      assert_web_error, free_port, _port_open,
                      raw_request, wait_for, web_server_errors)

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"

pytestmark = pytest.mark.skipif(
    not os.path.exists(APACHE) or
    not os.path.exists(os.path.join(MODULES, "mod_fcgid.so")),
    reason="apache2 and libapache2-mod-fcgid are not installed")


def start_apache(stack, site_text, extra_modules):
    d = os.path.join(stack.work, stack.unique("apache-"))
    os.makedirs(d)
    os.chmod(d, 0o755)
    port = free_port()
    mods = ["mpm_event", "authz_core", "setenvif", "alias",
            "headers"] + extra_modules
    conf = os.path.join(d, "httpd.conf")
    with open(os.path.join(d, "site.conf"), "w") as f:
        f.write(site_text)
    with open(conf, "w") as f:
        f.write("ServerRoot %s\nServerName localhost\n" % d)
        f.write("PidFile %s/httpd.pid\nListen 127.0.0.1:%d\n" % (d, port))
        if os.geteuid() == 0:
            f.write("User www-data\nGroup www-data\n")
        f.write("ErrorLog %s/error.log\nLogLevel warn\n" % d)
        f.write("Mutex file:%s\nDefaultRuntimeDir %s\n" % (d, d))
        for m in mods:
            f.write("LoadModule %s_module %s/mod_%s.so\n" % (m, MODULES, m))
        f.write("Include %s/site.conf\n" % d)
    log = os.path.join(d, "error.log")
    stack.logs.append(log)
    with open(os.path.join(d, "stdout.log"), "ab") as lf:
        p = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"],
                             stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                             start_new_session=True)
    proc = Proc(p, log, "apache")
    proc.port = port
    proc.dir = d
    stack.procs.append(proc)
    wait_for(lambda: _port_open(port) or p.poll() is not None,
             what="apache on port %d" % port)
    assert p.poll() is None, open(os.path.join(d, "stdout.log")).read()
    return proc


def stop_apache(proc):
    proc.stop(signal.SIGTERM, timeout=20)


def exercise(key, port):
    """The same conversation through whichever server listens on port."""
    created = assert_ok(key("POST", "/contacts", {
        "name": "Apache Contact", "phone": "+49 30 1234 5678",
        "tags": ["via-apache"]}, port=port), 201)
    assert created["phone"] == "+493012345678"
    got = assert_ok(key("GET", "/contacts/%d" % created["id"], port=port))
    assert got == created
    lst = key("GET", "/contacts?search=apache%20cont&tag=via-apache",
              port=port)
    assert [c["id"] for c in assert_ok(lst)] == [created["id"]]
    assert lst.headers["x-ratelimit-limit"]
    upd = assert_ok(key("PATCH", "/contacts/%d" % created["id"],
                        {"email": "a@example.com"}, port=port))
    assert upd["email"] == "a@example.com"
    assert_ok(key("GET", "/contacts", headers={}, auth="x-api-key",
                  port=port))
    assert_error(key("POST", "/contacts", {"name": "x"}, port=port), 422,
                 "VALIDATION_ERROR")
    assert_error(key("PUT", "/contacts", {}, port=port), 405,
                 "METHOD_NOT_ALLOWED")
    r = key.stack.request("GET", "/contacts", port=port)
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    assert_ok(key("DELETE", "/contacts/%d" % created["id"], port=port))


def test_apache_mod_proxy_fcgi(stack, make_key):
    fcgi = stack.start_fcgi(workers=2, extra_args=["--socket-mode", "0666"])
    with open(os.path.join(REPO, "deploy/apache/wazera-proxy-fcgi.conf")) as f:
        site = f.read().replace("/run/wazera/fcgi.sock", fcgi.sock)
    apache = start_apache(stack, site, ["proxy", "proxy_fcgi"])
    try:
        key = make_key()
        exercise(key, apache.port)
        web_server_errors(apache.port, key, path_nul_status=404,
                          over_limit_by="either")
        # The FastCGI server down: Apache's 503, in the envelope.
        fcgi.stop()
        r = key("GET", "/contacts", port=apache.port)
        assert_web_error(r, 503, "SERVICE_UNAVAILABLE", retry_after="5")
    finally:
        stop_apache(apache)
        fcgi.stop()


def test_apache_mod_fcgid(stack, make_key):
    cgi = os.path.join(stack.work, stack.unique("cgi-"))
    os.makedirs(cgi)
    os.chmod(cgi, 0o755)
    shutil.copy(stack.fcgi_bin, os.path.join(cgi, "wazera.fcgi"))
    os.chmod(stack.config, 0o644)
    with open(os.path.join(REPO, "deploy/apache/wazera-fcgid.conf")) as f:
        site = (f.read()
                .replace("/etc/wazera/wazera.conf", stack.config)
                .replace("/usr/local/lib/wazera/cgi", cgi))
    apache = None
    site += "FcgidIPCDir %s/fcgid\n" % cgi
    site += "FcgidProcessTableFile %s/fcgid_shm\n" % cgi
    apache = start_apache(stack, site, ["fcgid", "rewrite"])
    try:
        key = make_key()
        exercise(key, apache.port)
        # Over 4 MiB: the RewriteRule's 413 by Content-Length; chunked,
        # mod_fcgid's 500 (FcgidMaxRequestLen), both in the envelope.
        web_server_errors(apache.port, key, path_nul_status=404,
                          chunked_over_limit=(500, "INTERNAL_ERROR"))
    finally:
        stop_apache(apache)


def test_apache_mod_fcgid_app_down(stack, make_key):
    """mod_fcgid cannot run the application (here: its config is missing,
    so wazera-fcgi exits at once): Apache's own 500, in the envelope."""
    cgi = os.path.join(stack.work, stack.unique("cgi-"))
    os.makedirs(cgi)
    os.chmod(cgi, 0o755)
    shutil.copy(stack.fcgi_bin, os.path.join(cgi, "wazera.fcgi"))
    with open(os.path.join(REPO, "deploy/apache/wazera-fcgid.conf")) as f:
        site = (f.read()
                .replace("/etc/wazera/wazera.conf",
                         os.path.join(cgi, "missing.conf"))
                .replace("/usr/local/lib/wazera/cgi", cgi))
    site += "FcgidIPCDir %s/fcgid\n" % cgi
    site += "FcgidProcessTableFile %s/fcgid_shm\n" % cgi
    apache = start_apache(stack, site, ["fcgid", "rewrite"])
    try:
        # mod_fcgid answers 500 when the program dies before answering.
        r = make_key()("GET", "/contacts", port=apache.port)
        assert_web_error(r, 500, "INTERNAL_ERROR")
    finally:
        stop_apache(apache)


def test_apache_htaccess(stack, make_key):
    """Shared hosting: deploy/apache/htaccess.example as the .htaccess of
    the directory serving /api, beside wazera.fcgi (AllowOverride All). The
    API works as behind nginx, a body far over the limit is Apache's 413 in
    the envelope, and the application's errors pass through."""
    docroot = os.path.join(stack.work, stack.unique("docroot-"))
    api = os.path.join(docroot, "api")
    os.makedirs(api)
    for d in (docroot, api):
        os.chmod(d, 0o755)
    shutil.copy(stack.fcgi_bin, os.path.join(api, "wazera.fcgi"))
    shutil.copy(os.path.join(REPO, "deploy/apache/htaccess.example"),
                os.path.join(api, ".htaccess"))
    os.chmod(os.path.join(api, ".htaccess"), 0o644)
    os.chmod(stack.config, 0o644)
    # A file an operator left beside the program is never served.
    with open(os.path.join(api, "wazera.conf"), "w") as f:
        f.write("password = hunter2\n")
    os.chmod(os.path.join(api, "wazera.conf"), 0o644)
    site = ("TypesConfig /etc/mime.types\n"
            "FcgidInitialEnv WAZERA_CONFIG %s\n" % stack.config +
            "FcgidIPCDir %s/fcgid\n" % docroot +
            "FcgidProcessTableFile %s/fcgid_shm\n" % docroot +
            "FcgidMaxRequestLen 4194304\n"
            "DocumentRoot %s\n" % docroot +
            "<Directory %s>\n  AllowOverride All\n"
            "  Require all granted\n</Directory>\n" % docroot)
    apache = start_apache(stack, site, ["fcgid", "rewrite", "mime"])
    try:
        key = make_key()
        exercise(key, apache.port)
        big = 5 * 1024 * 1024
        r = raw_request(apache.port, b"POST /api/v1/contacts HTTP/1.1\r\n"
                        b"Host: a\r\nAuthorization: Bearer " +
                        key.key.encode() + b"\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % big, body_len=big)
        assert_web_error(r, 413, "PAYLOAD_TOO_LARGE")
        # Chunked (no Content-Length for the rule): mod_fcgid's 500 at
        # FcgidMaxRequestLen, in the envelope.
        r = chunked_request(apache.port, b"POST /api/v1/contacts HTTP/1.1"
                            b"\r\nHost: a\r\nAuthorization: Bearer " +
                            key.key.encode() + b"\r\nTransfer-Encoding: "
                            b"chunked\r\nConnection: close\r\n\r\n",
                            big)
        assert_web_error(r, 500, "INTERNAL_ERROR")
        r = key("POST", "/contacts", b" " * (2 * 1024 * 1024),
                port=apache.port)
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert r.headers.get("x-request-id"), r
        for path in ("/api/wazera.conf", "/api/.htaccess"):
            r = http_request(apache.port, "GET", path)
            assert r.status in (403, 404), r
            assert b"hunter2" not in r.raw and b"Rewrite" not in r.raw, r
            assert r.headers["content-type"] == JSON_CT, r
            assert r.body["success"] is False, r
    finally:
        stop_apache(apache)
