"""Apache in front of Wazera, in both shipped forms (deploy/apache):
mod_proxy_fcgi to the standalone pre-forked server, and mod_fcgid starting
wazera-fcgi itself (fd 0). Each runs the shipped config file with only its
paths changed, and the API must behave as it does behind nginx: the
Authorization header reaches the application, bodies and query strings
pass, errors keep their envelope."""
import os
import shutil
import signal
import subprocess

import pytest

from conftest import (REPO, Proc, assert_error, assert_ok, free_port,
                      _port_open, wait_for)

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
    mods = ["mpm_event", "authz_core", "setenvif", "alias"] + extra_modules
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
        exercise(make_key(), apache.port)
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
    apache = start_apache(stack, site, ["fcgid"])
    try:
        exercise(make_key(), apache.port)
    finally:
        stop_apache(apache)
