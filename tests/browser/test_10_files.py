"""The dashboard's files as the web server serves them (design D/E): each
at most 100 KiB on disk (the one hard size rule), each answered with the
Content-Security-Policy and the other headers of design D and its type,
/dashboard redirected to /dashboard/ (index.html), and no inline code in
the HTML (the CSP would refuse it: no <script> without src, no on...=
or style= attributes)."""
import os
from html.parser import HTMLParser

import pytest

from conftest import (DASHBOARD, FILE_LIMIT, HEADERS, dashboard_files,
                      fetch)

TYPES = {".html": "text/html", ".js": "text/javascript",
         ".mjs": "text/javascript", ".css": "text/css",
         ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/",
         ".woff2": "font/woff2"}
PAGES = ("index.html", "login.html", "inbox.html", "contacts.html",
         "campaigns.html", "webhooks.html", "keys.html", "app.js", "app.css")


def test_every_page_of_the_design_exists():
    files = dashboard_files()
    missing = [p for p in PAGES if p not in files]
    assert not missing, "dashboard/ lacks %s (has %s)" % (missing,
                                                          sorted(files))


def test_every_file_within_100_kib():
    files = dashboard_files()
    assert files, "no files in %s" % DASHBOARD
    over = {f: n for f, n in files.items() if n > FILE_LIMIT}
    assert not over, "over %d bytes: %s" % (FILE_LIMIT, over)


def test_served_with_the_design_headers(world):
    for rel in dashboard_files():
        r = fetch("%s/dashboard/%s" % (world.base, rel))
        assert r.status == 200, (rel, r)
        for name, want in HEADERS.items():
            assert r.headers.get(name) == want, (rel, name, r.headers)
        ext = os.path.splitext(rel)[1]
        if ext in TYPES:
            assert r.headers.get("content-type", "").startswith(
                TYPES[ext]), (rel, r.headers)
        with open(os.path.join(DASHBOARD, rel), "rb") as f:
            assert r.raw == f.read(), rel


def test_dashboard_root_serves_index(world):
    r = fetch(world.base + "/dashboard")
    assert r.status == 301, r
    assert r.headers["location"].endswith("/dashboard/"), r
    r = fetch(world.base + "/dashboard/")
    assert r.status == 200 and r.headers["content-type"].startswith(
        "text/html"), r
    with open(os.path.join(DASHBOARD, "index.html"), "rb") as f:
        assert r.raw == f.read()
    assert r.headers.get("content-security-policy") == \
        HEADERS["content-security-policy"], r.headers


def test_api_still_answers_beside_it(world):
    r = fetch(world.base + "/api/v1/health")
    assert r.status == 200 and r.body["success"] is True, r
    r = fetch(world.base + "/dashboard/no-such-page.html")
    assert r.status == 404, r


class InlineCode(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {k.lower(): v for k, v in attrs}
        for k in names:
            if k.startswith("on") or k == "style":
                self.found.append("<%s %s=...>" % (tag, k))
        if tag == "script":
            if "src" not in names:
                self.found.append("<script> without src")
        if tag == "a" and (names.get("href") or "").lower().startswith(
                "javascript:"):
            self.found.append("javascript: link")


@pytest.mark.parametrize("page", [p for p in PAGES if p.endswith(".html")])
def test_no_inline_code(page):
    path = os.path.join(DASHBOARD, page)
    if not os.path.exists(path):
        pytest.fail("dashboard/%s is missing" % page)
    p = InlineCode()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    assert not p.found, "%s: %s (the CSP refuses inline code)" % (page,
                                                                  p.found)
