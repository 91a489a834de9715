"""The dashboard's static files as the shipped web server configs serve
them at /dashboard/ (SPEC 10, design E): nginx (deploy/nginx/wazera.conf),
Apache with mod_proxy_fcgi (deploy/apache/wazera-proxy-fcgi.conf and the
package's debian/apache2/wazera.conf), Apache with mod_fcgid
(deploy/apache/wazera-fcgid.conf) and shared hosting's .htaccess
(deploy/apache/dashboard-htaccess.example), each with only its paths
changed. Every answer carries the security headers with their exact
values, each file its type, /dashboard redirects to /dashboard/, nothing
outside the directory (nor a dot file in it) is served, and the API works
beside it.

The servers serve a small fixture directory of their own (an index.html,
a module, a stylesheet, an SVG and a dot file); the session's nginx serves
the checkout's dashboard/ itself. Static checks over dashboard/: every
file is of a type make install installs, no third-party host, nothing the
Content-Security-Policy forbids (inline scripts, on...= and style=
attributes, eval), at most 100 KiB."""
import os
import re
import shutil
import urllib.parse

import pytest

from conftest import (REPO, assert_ok, free_port, http_request,
                      shipped_nginx_site)

DASH = os.path.join(REPO, "dashboard")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY = {"content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer"}
# The type each installed extension is served with (both servers).
TYPES = {"html": "text/html", "css": "text/css", "js": "text/javascript",
         "svg": "image/svg+xml", "png": "image/png",
         "ico": "image/vnd.microsoft.icon", "json": "application/json",
         "webmanifest": "application/manifest+json"}
SECRET = "dashboard-fixture-secret-7f3a"

FIXTURE = {
    "index.html": "<!doctype html>\n<html lang=\"en\"><head>"
                  "<meta charset=\"utf-8\"><title>Wazera</title>"
                  "<link rel=\"stylesheet\" href=\"app.css\">"
                  "<script type=\"module\" src=\"app.js\"></script>"
                  "</head><body>fixture index</body></html>\n",
    "app.js": "export const fixture = 'app module';\n",
    "app.css": "body { margin: 0; }\n",
    "logo.svg": "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                "viewBox=\"0 0 1 1\"/>\n",
    ".keep": SECRET + "\n",
}


def make_fixture(parent):
    """parent/dashboard (the fixture files) and parent/secret.txt beside
    it, readable by Apache's user."""
    d = os.path.join(parent, "dashboard")
    os.makedirs(d)
    for p in (parent, d):
        os.chmod(p, 0o755)
    for name, text in FIXTURE.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(d, name), 0o644)
    with open(os.path.join(parent, "secret.txt"), "w") as f:
        f.write(SECRET + "\n")
    os.chmod(os.path.join(parent, "secret.txt"), 0o644)
    return d


def get(port, path, method="GET", headers=None):
    return http_request(port, method, path, headers=headers, wazera=False)


def base_type(resp):
    return resp.headers.get("content-type", "").split(";")[0].strip()


def assert_security(resp):
    for name, value in SECURITY.items():
        assert resp.headers.get(name) == value, (name, resp)


def assert_served(port, path, ext, body):
    r = get(port, path)
    assert r.status == 200, r
    assert base_type(r) == TYPES[ext], r
    if ext in ("html", "css", "js", "svg"):
        ct = r.headers["content-type"].replace(" ", "").lower()
        assert ct == TYPES[ext] + ";charset=utf-8", r
    assert r.raw == body, r
    assert_security(r)
    assert r.headers.get("cache-control") == "no-cache", r
    etag = r.headers.get("etag")
    assert etag, r
    # Revalidation: the same file answers 304, with the headers still.
    r = get(port, path, headers={"If-None-Match": etag})
    assert r.status == 304 and r.raw == b"", r
    assert_security(r)
    return r


def assert_redirect(port):
    r = get(port, "/dashboard")
    assert r.status == 301, r
    loc = urllib.parse.urlsplit(r.headers["location"])
    assert loc.path == "/dashboard/" and not loc.query, r
    assert loc.netloc in ("", "127.0.0.1:%d" % port), r


def assert_not_served(port, path):
    r = get(port, path)
    assert r.status in (400, 403, 404), (path, r)
    assert SECRET.encode() not in r.raw, (path, r)


def check_serving(port, key, post_refused=True):
    """The fixture through the server on port: the pages, their types and
    headers, the redirect, nothing outside, and the API beside it.
    post_refused: a POST to a file is refused (Apache's static files
    take one unless the config says otherwise)."""
    fx = {n: t.encode() for n, t in FIXTURE.items()}
    r = assert_served(port, "/dashboard/", "html", fx["index.html"])
    assert_served(port, "/dashboard/index.html", "html", fx["index.html"])
    assert_served(port, "/dashboard/app.js", "js", fx["app.js"])
    assert_served(port, "/dashboard/app.css", "css", fx["app.css"])
    assert_served(port, "/dashboard/logo.svg", "svg", fx["logo.svg"])
    r = get(port, "/dashboard/app.js", method="HEAD")
    assert r.status == 200 and base_type(r) == "text/javascript", r
    assert_security(r)
    assert_redirect(port)
    for path in ("/dashboard/.keep", "/dashboard/../secret.txt",
                 "/dashboard/%2e%2e/secret.txt", "/dashboard/..%2fsecret.txt",
                 "/dashboard/%2E%2E%2Fsecret.txt", "/secret.txt",
                 "/dashboard/nothing.html", "/dashboardx/index.html",
                 "/dashboard/.keep/"):
        assert_not_served(port, path)
    # Files are only read.
    if post_refused:
        r = get(port, "/dashboard/index.html", method="POST")
        assert r.status in (403, 405), r
    # The API beside it, unchanged.
    assert_ok(key("GET", "/contacts", port=port))
    r = http_request(port, "GET", "/api/v1/health")
    assert r.status == 200 and r.body["data"]["status"] == "ok", r
    assert "content-security-policy" not in r.headers, r


# ---- nginx -----------------------------------------------------------------


def test_nginx_serves_the_dashboard(stack, make_key):
    """deploy/nginx/wazera.conf as shipped, its alias pointed at the
    fixture (shipped_nginx_site, exactly once like its other lines)."""
    parent = os.path.join(stack.work, stack.unique("dash-"))
    os.makedirs(parent)
    fixture = make_fixture(parent)
    d = os.path.join(stack.work, stack.unique("nginx-dash-"))
    port = free_port()
    site = shipped_nginx_site(d, port, stack.fcgi_sock, dashboard=fixture)
    assert "alias %s/;" % fixture in site
    assert "alias /usr/share/wazera" not in site
    ng = stack.start_nginx(stack.fcgi_sock, site=site, d=d, port=port)
    try:
        check_serving(port, make_key())
        # Outside /api/ and /dashboard/: still the envelope's 404.
        r = http_request(port, "GET", "/")
        assert r.status == 404 and r.body["success"] is False, r
    finally:
        stack.stop_nginx(ng)


def installable_files():
    """dashboard/'s files make install installs (by DASHBOARD_TYPES)."""
    types = dashboard_types()
    if not os.path.isdir(DASH):
        return []
    return sorted(n for n in os.listdir(DASH)
                  if os.path.isfile(os.path.join(DASH, n)) and
                  not n.startswith(".") and n.rsplit(".", 1)[-1] in types)


def test_session_nginx_serves_the_checkout_dashboard(stack):
    """The session's nginx (the shipped conf, the checkout's dashboard/):
    every file make install would install, with its type and the
    headers; a dot file in it is not served."""
    for name in installable_files():
        with open(os.path.join(DASH, name), "rb") as f:
            body = f.read()
        assert_served(stack.port, "/dashboard/" + name,
                      name.rsplit(".", 1)[-1], body)
    if os.path.exists(os.path.join(DASH, "index.html")):
        with open(os.path.join(DASH, "index.html"), "rb") as f:
            assert_served(stack.port, "/dashboard/", "html", f.read())
    assert_redirect(stack.port)
    assert_not_served(stack.port, "/dashboard/.keep")
    assert_not_served(stack.port, "/dashboard/../README.md")


# ---- Apache ----------------------------------------------------------------


def _apache():
    try:
        import test_apache
    except Exception:   # noqa: BLE001 -- no Apache helpers, no Apache tests
        return None
    if not os.path.exists(test_apache.APACHE) or not os.path.exists(
            os.path.join(test_apache.MODULES, "mod_fcgid.so")):
        return None
    return test_apache


apache = pytest.mark.skipif(_apache() is None,
                            reason="apache2 and libapache2-mod-fcgid are "
                            "not installed")


def render_dashboard_paths(text, fixture):
    """The shipped Apache conf with /usr/share/wazera/dashboard pointed
    at the fixture: in its Alias and its <Directory>, nowhere else."""
    for old, new in (
            ("Alias /dashboard/ /usr/share/wazera/dashboard/\n",
             "Alias /dashboard/ %s/\n" % fixture),
            ("<Directory /usr/share/wazera/dashboard>\n",
             "<Directory %s>\n" % fixture)):
        assert text.count(old) == 1, "%r is not there exactly once" % old
        text = text.replace(old, new)
    return text


@apache
@pytest.mark.parametrize("conf", ["deploy/apache/wazera-proxy-fcgi.conf",
                                  "debian/apache2/wazera.conf"])
def test_apache_proxy_fcgi_serves_the_dashboard(stack, make_key, conf):
    ta = _apache()
    parent = os.path.join(stack.work, stack.unique("dash-"))
    os.makedirs(parent)
    fixture = make_fixture(parent)
    fcgi = stack.start_fcgi(workers=2, extra_args=["--socket-mode", "0666"])
    with open(os.path.join(REPO, conf)) as f:
        text = f.read()
    site = ("TypesConfig /etc/mime.types\n" +
            render_dashboard_paths(text, fixture)
            .replace("/run/wazera/fcgi.sock", fcgi.sock))
    ap = ta.start_apache(stack, site, ["proxy", "proxy_fcgi", "mime", "dir"])
    try:
        check_serving(ap.port, make_key())
    finally:
        ta.stop_apache(ap)
        fcgi.stop()


@apache
def test_apache_fcgid_serves_the_dashboard(stack, make_key):
    ta = _apache()
    parent = os.path.join(stack.work, stack.unique("dash-"))
    os.makedirs(parent)
    fixture = make_fixture(parent)
    cgi = os.path.join(stack.work, stack.unique("cgi-"))
    os.makedirs(cgi)
    os.chmod(cgi, 0o755)
    shutil.copy(stack.fcgi_bin, os.path.join(cgi, "wazera.fcgi"))
    os.chmod(stack.config, 0o644)
    with open(os.path.join(REPO, "deploy/apache/wazera-fcgid.conf")) as f:
        text = f.read()
    site = ("TypesConfig /etc/mime.types\n" +
            render_dashboard_paths(text, fixture)
            .replace("/etc/wazera/wazera.conf", stack.config)
            .replace("/usr/local/lib/wazera/cgi", cgi))
    site += "FcgidIPCDir %s/fcgid\n" % cgi
    site += "FcgidProcessTableFile %s/fcgid_shm\n" % cgi
    ap = ta.start_apache(stack, site, ["fcgid", "rewrite", "mime", "dir"])
    try:
        check_serving(ap.port, make_key())
    finally:
        ta.stop_apache(ap)


@apache
def test_htaccess_serves_the_dashboard(stack, make_key):
    """Shared hosting: the dashboard's files in docroot/dashboard with
    deploy/apache/dashboard-htaccess.example as its .htaccess, beside
    docroot/api with htaccess.example and wazera.fcgi."""
    ta = _apache()
    docroot = os.path.join(stack.work, stack.unique("docroot-"))
    os.makedirs(docroot)
    fixture = make_fixture(docroot)
    # The file outside is in the docroot itself here: served as
    # /secret.txt by this site, so only the ways through the dashboard
    # are checked for it.
    os.remove(os.path.join(docroot, "secret.txt"))
    shutil.copy(os.path.join(REPO, "deploy/apache/dashboard-htaccess.example"),
                os.path.join(fixture, ".htaccess"))
    api = os.path.join(docroot, "api")
    os.makedirs(api)
    os.chmod(api, 0o755)
    shutil.copy(stack.fcgi_bin, os.path.join(api, "wazera.fcgi"))
    shutil.copy(os.path.join(REPO, "deploy/apache/htaccess.example"),
                os.path.join(api, ".htaccess"))
    for f in (os.path.join(fixture, ".htaccess"),
              os.path.join(api, ".htaccess")):
        os.chmod(f, 0o644)
    os.chmod(stack.config, 0o644)
    site = ("TypesConfig /etc/mime.types\n"
            "FcgidInitialEnv WAZERA_CONFIG %s\n" % stack.config +
            "FcgidIPCDir %s/fcgid\n" % docroot +
            "FcgidProcessTableFile %s/fcgid_shm\n" % docroot +
            "FcgidMaxRequestLen 4194304\n"
            "DocumentRoot %s\n" % docroot +
            "<Directory %s>\n  AllowOverride All\n"
            "  Require all granted\n</Directory>\n" % docroot)
    ap = ta.start_apache(stack, site, ["fcgid", "rewrite", "mime", "dir"])
    try:
        # AllowOverride FileInfo Indexes: no <Limit> in the .htaccess.
        check_serving(ap.port, make_key(), post_refused=False)
        assert_not_served(ap.port, "/dashboard/.htaccess")
    finally:
        ta.stop_apache(ap)


# ---- static checks over dashboard/ -----------------------------------------


def dashboard_types():
    with open(os.path.join(REPO, "Makefile.am")) as f:
        m = re.search(r"^DASHBOARD_TYPES = (.+)$", f.read(), re.M)
    assert m, "Makefile.am: no DASHBOARD_TYPES line"
    return m.group(1).split()


def dashboard_files():
    out = []
    if os.path.isdir(DASH):
        for dirpath, _, names in os.walk(DASH):
            for n in names:
                out.append(os.path.relpath(os.path.join(dirpath, n), DASH))
    return sorted(out)


def test_every_dashboard_file_is_installed_and_typed():
    """make install installs dashboard/'s files by type (Makefile.am's
    DASHBOARD_TYPES, top level only): a file it would leave out fails
    here. Each of those types has its MIME type in the shipped nginx
    and Apache configs."""
    types = dashboard_types()
    assert set(types) == set(TYPES), (types, sorted(TYPES))
    for rel in dashboard_files():
        if rel == ".keep":
            continue
        assert "/" not in rel, \
            "dashboard/%s: in a subdirectory, which make install skips" % rel
        assert not rel.startswith("."), "dashboard/%s: a dot file" % rel
        assert rel.rsplit(".", 1)[-1] in types, \
            "dashboard/%s: not a type make install installs (%s)" % (
                rel, " ".join(types))
    with open(os.path.join(REPO, "deploy/nginx/wazera.conf")) as f:
        nginx = f.read()
    block = re.search(r"location /dashboard/ \{.*?types \{(.*?)\}", nginx,
                      re.S).group(1)
    served = {}
    for line in block.strip().splitlines():
        words = line.strip().rstrip(";").split()
        for ext in words[1:]:
            served[ext] = words[0]
    for conf in ("deploy/apache/wazera-proxy-fcgi.conf",
                 "deploy/apache/wazera-fcgid.conf",
                 "deploy/apache/dashboard-htaccess.example",
                 "debian/apache2/wazera.conf"):
        with open(os.path.join(REPO, conf)) as f:
            text = f.read()
        for ext in types:
            assert re.search(r"AddType %s( \.\w+)* \.%s\b" %
                             (re.escape(TYPES[ext]), ext), text), (conf, ext)
    for ext in types:
        assert served.get(ext) == TYPES[ext], ("nginx", ext, served)


# Hosts a page may name without loading anything from them: XML namespaces
# and the documentation domains (RFC 2606) of placeholders.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink",
              "http://www.w3.org/1999/xhtml"}
DOC_HOSTS = re.compile(r"(^|\.)example\.(com|org|net)$")


def text_files():
    for rel in dashboard_files():
        if rel.rsplit(".", 1)[-1] in ("png", "ico"):
            continue
        with open(os.path.join(DASH, rel), encoding="utf-8") as f:
            yield rel, f.read()


def test_dashboard_names_no_third_party_host():
    for rel, text in text_files():
        for url in re.findall(r"https?://[^\s\"'`<>()]*", text):
            if url in NAMESPACES:
                continue
            host = urllib.parse.urlsplit(url).hostname or ""
            assert DOC_HOSTS.search(host), \
                "dashboard/%s names %s: no third-party host" % (rel, url)
        assert not re.search(r"""(src|href|action)\s*=\s*["']//""", text), \
            "dashboard/%s: a protocol-relative URL" % rel
        assert not re.search(r"@import\s", text), \
            "dashboard/%s: @import" % rel


def test_dashboard_is_csp_clean():
    """Nothing the Content-Security-Policy would block: no inline script
    or style element, no on...= or style= attribute (in HTML, or in HTML a
    module writes), no javascript: URL, no eval or new Function."""
    for rel, text in text_files():
        ext = rel.rsplit(".", 1)[-1]
        if ext == "html":
            for m in re.finditer(r"<script\b([^>]*)>(.*?)</script\s*>",
                                 text, re.S | re.I):
                assert re.search(r"\bsrc\s*=", m.group(1)), \
                    "dashboard/%s: a <script> without src" % rel
                assert not m.group(2).strip(), \
                    "dashboard/%s: an inline script body" % rel
            assert not re.search(r"<style\b", text, re.I), \
                "dashboard/%s: a <style> element" % rel
        if ext in ("html", "js", "svg"):
            tag = r"<[a-zA-Z][\w-]*\s[^<>]*?"
            assert not re.search(tag + r"\son[a-z]+\s*=", text), \
                "dashboard/%s: an on...= attribute" % rel
            assert not re.search(tag + r"\sstyle\s*=", text), \
                "dashboard/%s: a style= attribute" % rel
            assert "javascript:" not in text.lower(), \
                "dashboard/%s: a javascript: URL" % rel
        if ext == "js":
            assert not re.search(r"(?<![\w.])eval\s*\(", text), \
                "dashboard/%s: eval" % rel
            assert not re.search(r"\bnew\s+Function\b", text), \
                "dashboard/%s: new Function" % rel
            assert not re.search(
                r"""setAttribute\(\s*["'](style|on[a-z]+)["']""", text), \
                "dashboard/%s: a style or on... attribute set" % rel
            assert not re.search(
                r"""set(Timeout|Interval)\(\s*["'`]""", text), \
                "dashboard/%s: code in a string" % rel


def test_dashboard_files_are_small():
    for rel in dashboard_files():
        size = os.path.getsize(os.path.join(DASH, rel))
        assert size <= 100 * 1024, "dashboard/%s: %d bytes" % (rel, size)
