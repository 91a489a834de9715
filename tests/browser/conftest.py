"""Browser tests of the dashboard (issue 14): Debian's Chromium, driven by
chromedriver through python3-selenium, against the e2e suite's stack (a
private MariaDB, wazera-fcgi, and nginx on loopback running the shipped
deploy/nginx/wazera.conf, which serves the checkout's dashboard/ at
/dashboard/: tests/e2e/conftest.py's `stack` fixture, reused here), the
sandbox Graph API, a wazera-spooler --loop and a webhook receiver on
127.0.0.1. One tenant with an admin and an agent (passwords), each with a
browser of its own (session-scoped fixtures `admin` and `agent`).

Run (from the repository root; tests/run does the same with its build):
  WAZERA_BUILD=$PWD/.build/dev /usr/bin/python3 -m pytest -q \\
      -p no:cacheprovider tests/browser

Out: .build/browser/screenshots/NAME.png (every page), and
.build/browser/timings.json (each page's first render, from navigation
start to body[data-ready="1"], cold and warm; the bytes it transferred;
each dashboard file's size), printed as a table at the end of the run.
Only the 100 KiB per-file limit is asserted; times are reported.

Every console message of every page is collected (a Content Security
Policy violation fails test_zz_console), and every request the pages made
(Chrome's performance log: all of them, also those refused) must stay on
127.0.0.1.

Needs: chromium, chromium-driver, python3-selenium (tests/run's packages)
and everything the e2e suite needs. With CI=true a skip is a failure."""
import base64
import importlib.util
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
E2E = os.path.join(REPO, "tests", "e2e")
DASHBOARD = os.path.join(REPO, "dashboard")
OUT = os.path.join(REPO, ".build", "browser")
SHOTS = os.path.join(OUT, "screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FILE_LIMIT = 100 * 1024          # design D: every dashboard file <= 100 KiB

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"content-security-policy": CSP,
           "x-content-type-options": "nosniff",
           "referrer-policy": "no-referrer",
           "x-frame-options": "DENY"}
PAGES = ("login", "inbox", "contacts", "campaigns", "webhooks", "keys")

CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run",
               "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--window-size=1280,900")

# The e2e suite's conftest, under a name of its own (this file is
# "conftest" too): its stack, helpers and per-test sanitizer scans.
sys.path.append(E2E)
_spec = importlib.util.spec_from_file_location(
    "wazera_e2e_conftest", os.path.join(E2E, "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
sys.modules["wazera_e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# Fixtures reused as they are (a sanitizer report in a server's log during
# a test fails that test, as in the e2e suite).
stack = e2e.stack
_sanitizer_per_test = e2e._sanitizer_per_test
_sanitizer_per_module = e2e._sanitizer_per_module
wait_for = e2e.wait_for

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        ElementClickInterceptedException, ElementNotInteractableException,
        StaleElementReferenceException, TimeoutException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    HAVE_SELENIUM = True
except ImportError:       # reported by the browser fixtures (a skip)
    HAVE_SELENIUM = False
    Keys = Select = None  # (the tests import them from here)


# --------------------------------------------------------------------------
# CI: a skipped browser test fails (there is no list of expected skips).

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and os.environ.get("CI", "").lower() == "true":
        why = rep.longrepr[2] if isinstance(rep.longrepr, tuple) \
            else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = ("%s was skipped (%s) in CI (CI=true), where a skip "
                        "counts as a failure: install what tests/run's "
                        "packages list names." % (item.nodeid, why))


# --------------------------------------------------------------------------
# HTTP without a browser (urllib, as curl would): the dashboard's files and
# the API with a key or a session cookie.

class Answer:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.body = None

    def __repr__(self):
        return "<Answer %d %r %r>" % (self.status, self.headers,
                                      self.raw[:1000])


def fetch(url, method="GET", body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            return Answer(r.status, {k.lower(): v for k, v in
                                     r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, {k.lower(): v for k, v in e.headers.items()},
                      e.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):
        return None


# --------------------------------------------------------------------------
# A webhook receiver on 127.0.0.1 (answers 200, records every POST)

class Receiver:
    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.posts.append(({k.lower(): v for k, v in
                                       self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def events(self, event):
        with self.lock:
            return [(h, b) for h, b in self.posts
                    if h.get("x-wazera-event") == event]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------
# The world the dashboard shows: one tenant with an admin and an agent
# (passwords), a WhatsApp account on the sandbox, a spooler --loop, the
# dashboard's nginx and a receiver.

class World:
    pass


def create_user(stack, tenant, name, email, role, password):
    """wazera-admin user create ... --password-stdin (the password on its
    first line); the printed user."""
    e2e.note_secret(password)
    p = subprocess.run([stack.admin_bin, "--config", stack.config, "user",
                        "create", "--tenant", str(tenant.id), "--name", name,
                        "--email", email, "--role", role,
                        "--password-stdin"], input=password + "\n",
                       capture_output=True, text=True, timeout=60)
    assert not e2e.has_sanitizer_mark(p.stderr), p.stderr
    assert p.returncode == 0, "user create: %s" % p.stderr
    user = json.loads(p.stdout)
    assert user["role"] == role and user["email"] == email, user
    assert password not in p.stdout, p.stdout
    return user


@pytest.fixture(scope="session")
def world(stack):
    w = World()
    w.stack = stack
    w.tenant = stack.create_tenant(name="Browser Bakery")
    w.key = w.tenant.key(name="tests")      # the test's own view of the API
    suffix = uuid.uuid4().hex[:8]
    w.admin_email = "ada.%s@bakery.example" % suffix
    w.admin_password = "admin-pw-" + uuid.uuid4().hex
    w.agent_email = "ben.%s@bakery.example" % suffix
    w.agent_password = "agent-pw-" + uuid.uuid4().hex
    w.admin_user = create_user(stack, w.tenant, "Ada Admin", w.admin_email,
                               "admin", w.admin_password)
    w.agent_user = create_user(stack, w.tenant, "Ben Agent", w.agent_email,
                               "agent", w.agent_password)

    token = "tok-" + uuid.uuid4().hex
    w.app_secret = "as-" + token
    w.sandbox = stack.start_sandbox(
        "--token", token, "--app-secret", w.app_secret, "--webhook-url",
        "http://127.0.0.1:%d/api/v1/whatsapp/webhook" % stack.port)
    w.phone_id = stack.unique("1065409")
    w.account = stack.admin_json(
        "account", "create", "--tenant", w.tenant.id, "--phone-number-id",
        w.phone_id, "--waba-id", "102290129340398", "--display-phone",
        "+1 555 078 3881", "--access-token", token, "--app-secret",
        w.app_secret)
    w.key.account = w.account
    w.key.app_secret = w.app_secret

    conf = stack.write_spooler_config(stack.unique("browser-spool-") +
                                      ".conf", w.sandbox.base)
    with open(conf, "a") as f:
        f.write("[webhooks]\nallow_private_targets = true\n")
    w.spooler_conf = conf
    w.spooler = stack.start_spooler(conf, mode="loop")
    w.receiver = Receiver()

    # The stack's nginx runs the shipped deploy/nginx/wazera.conf, which
    # serves the checkout's dashboard/ at /dashboard/ (its alias the one
    # line changed, as on install).
    with open(stack.nginx.conf) as f:
        assert "location /dashboard/" in f.read(), \
            "deploy/nginx/wazera.conf does not serve /dashboard/"
    w.port = stack.port
    w.base = "http://127.0.0.1:%d" % stack.port
    try:
        yield w
    finally:
        w.receiver.close()
        rc = w.spooler.stop()
        w.sandbox.proc.stop()
        assert rc == 0, e2e.read_log(w.spooler.log)


# --------------------------------------------------------------------------
# Browsers

# Installed before any page script runs (CDP, so the page's CSP does not
# apply to it): notes performance.now() -- milliseconds since navigation
# start -- the moment body gets data-ready="1".
READY_PROBE = r"""
(function () {
  if (window.top !== window) return;
  function mark() {
    if (window.__wzReadyAt === undefined && document.body &&
        document.body.dataset.ready === '1')
      window.__wzReadyAt = performance.now();
  }
  new MutationObserver(mark).observe(document, {subtree: true,
      attributes: true, attributeFilter: ['data-ready'], childList: true});
  document.addEventListener('DOMContentLoaded', mark);
})();
"""

PAGE_STATS = r"""
const nav = performance.getEntriesByType('navigation')[0] || {};
const res = performance.getEntriesByType('resource');
const out = {ready_ms: window.__wzReadyAt === undefined ? null :
             window.__wzReadyAt, url: location.href,
             doc_bytes: nav.transferSize || 0, static_bytes: 0,
             api_bytes: 0, requests: 1, hosts: [location.host],
             dom_content_loaded_ms: nav.domContentLoadedEventEnd || null,
             load_ms: nav.loadEventEnd || null};
for (const r of res) {
  const u = new URL(r.name);
  out.hosts.push(u.host);
  out.requests++;
  if (u.pathname.startsWith('/api/')) out.api_bytes += r.transferSize;
  else out.static_bytes += r.transferSize;
}
return out;
"""


class Browser:
    """One Chromium (headless) with chromedriver, and what its pages
    said: console messages and the URL of every request (performance
    log), collected as the tests go."""

    def __init__(self, name, base, record):
        self.name = name
        self.base = base
        self.record = record        # the session's timings (page -> dict)
        self.console = []           # (page url, level, message)
        self.requests = []          # every URL a page asked for
        self.sign_in_failed = None
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in CHROME_ARGS:
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs",
                            {"browser": "ALL", "performance": "ALL"})
        opts.add_experimental_option("perfLoggingPrefs",
                                     {"enableNetwork": True,
                                      "enablePage": False})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                       options=opts)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": READY_PROBE})

    def quit(self):
        try:
            self.drain()
        finally:
            self.driver.quit()

    # -- what the pages said
    def drain(self):
        d = self.driver
        try:
            url = d.current_url
        except Exception:   # noqa: BLE001 -- a closed window: no url
            url = "?"
        for e in d.get_log("browser"):
            self.console.append((url, e.get("level"), e.get("message")))
        for e in d.get_log("performance"):
            try:
                m = json.loads(e["message"])["message"]
            except (ValueError, KeyError):
                continue
            if m.get("method") == "Network.requestWillBeSent":
                self.requests.append(m["params"]["request"]["url"])

    # -- navigation
    def url(self, page):
        return "%s/dashboard/%s" % (self.base, page)

    def open(self, page, cold=False, ready=True, timeout=30, measure=False):
        """Loads dashboard/PAGE (e.g. "inbox.html"); cold: with an empty
        HTTP cache. Waits for body[data-ready="1"] unless ready=False.
        measure: records the load's timing and bytes (TIMINGS) as the
        page's cold or warm figures."""
        if cold:
            self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        self.drain()
        self.driver.get(self.url(page))
        if ready:
            self.wait_ready(timeout)
            if measure:
                self.note_timing(page.split(".")[0].split("?")[0],
                                 "cold" if cold else "warm")
        return self

    def ready(self):
        return self.driver.execute_script(
            "return !!document.body && document.body.dataset.ready === '1'")

    def wait_ready(self, timeout=30):
        self.wait(lambda d: self.ready(), timeout,
                  'body[data-ready="1"] on %s' % self.driver.current_url)

    def note_timing(self, name, kind):
        st = self.driver.execute_script(PAGE_STATS)
        if st.get("ready_ms") is None:   # the probe missed it: now is late
            st["ready_ms"] = self.driver.execute_script(
                "return performance.now()")
            st["probe"] = False
        self.record.setdefault(name, {})[kind] = st
        return st

    def here(self):
        return urllib.parse.urlparse(self.driver.current_url)

    # -- waiting and finding
    def wait(self, cond, timeout=30, what="condition", ignore=()):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(
                                     StaleElementReferenceException,) +
                                 tuple(ignore)).until(cond)
        except TimeoutException:
            self.drain()
            raise AssertionError(
                "%s: timed out after %d s waiting for %s (page %s)\n"
                "console: %s" % (self.name, timeout, what,
                                 self.driver.current_url,
                                 self.console[-10:])) from None

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=30, visible=True):
        """The element css names once it exists (and is displayed)."""
        def get(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if not visible or el.is_displayed():
                    return el
            return False
        return self.wait(get, timeout, css +
                         (" (displayed)" if visible else ""))

    def gone(self, css, timeout=30):
        self.wait(lambda d: not any(e.is_displayed() for e in
                                    d.find_elements(By.CSS_SELECTOR, css)),
                  timeout, "%s to be hidden or gone" % css)

    def text(self, css):
        return self.one(css).text

    def fill(self, css, value, clear=True):
        """Clears the (displayed) field and types value (keys into any
        element with clear=False); found afresh if the page re-rendered it
        meanwhile."""
        def go(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if el.is_displayed():
                    if clear:
                        el.clear()
                    el.send_keys(value)
                    return el
            return False
        return self.wait(go, 30, "%s to type into" % css,
                         ignore=(ElementNotInteractableException,))

    def click(self, css):
        """Clicks the displayed, enabled element css names, found afresh
        on each try: a list the page re-renders (polling) replaces it."""
        def go(d):
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if el.is_displayed() and el.is_enabled():
                    el.click()
                    return el
            return False
        return self.wait(go, 30, "%s to click" % css,
                         ignore=(ElementClickInterceptedException,
                                 ElementNotInteractableException))

    def shot(self, name, full=True):
        """.build/browser/screenshots/NAME.png: the whole page (beyond the
        window, as tall as its content) unless full=False (the window)."""
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name + ".png")
        if not full:
            assert self.driver.save_screenshot(path), path
            return path
        m = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = m.get("cssContentSize") or m["contentSize"]
        view = m.get("cssLayoutViewport") or m["layoutViewport"]
        png = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "scale": 1,
                     "width": view["clientWidth"],
                     "height": min(size["height"], 8000)}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))
        return path

    def cookie(self, name="wz_session"):
        return self.driver.get_cookie(name)

    # -- signing in
    def sign_in(self, email, password, next_page=None):
        """The login form, as a person fills it: waits for the page it
        leads to."""
        self.open("login.html" + ("?next=" + next_page if next_page
                                  else ""), ready=False)
        self.one("form#login-form")
        self.fill("input#email", email)
        self.fill("input#password", password + Keys.ENTER)
        self.wait(lambda d: "login.html" not in d.current_url, 30,
                  "leaving login.html after signing in")
        self.wait_ready()

    def ensure_signed_in(self, email, password):
        """Signs in through the form unless the browser holds a session
        cookie the server takes; after one failed attempt the next tests fail at once
        (instead of each waiting for the form to time out)."""
        c = self.cookie()
        if c is not None and fetch(self.base + "/api/v1/auth/me", headers={
                "Cookie": "wz_session=" + c["value"]}).status == 200:
            return
        if self.sign_in_failed:
            raise AssertionError("%s: signing in failed earlier: %s" %
                                 (self.name, self.sign_in_failed))
        try:
            self.sign_in(email, password)
        except AssertionError as e:
            self.sign_in_failed = str(e)[:500]
            raise

    def api(self, method, path, body=None):
        """The API with this browser's session cookie (and its CSRF token
        from /auth/me for non-GET), outside the page."""
        c = self.cookie()
        hdrs = {"Cookie": "wz_session=%s" % c["value"]} if c else {}
        if method not in ("GET", "HEAD"):
            me = fetch(self.base + "/api/v1/auth/me", headers=hdrs)
            if me.status == 200:
                hdrs["X-CSRF-Token"] = me.body["data"]["csrf_token"]
        return fetch(self.base + "/api/v1" + path, method, body, hdrs)


BROWSERS = []       # every Browser of the session (for the final checks)
TIMINGS = {}        # page -> {"cold": stats, "warm": stats}


def _start_browser(world, name):
    if not HAVE_SELENIUM:
        pytest.skip("python3-selenium is not installed")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip("%s is not installed (chromium, chromium-driver)"
                        % path)
    b = Browser(name, world.base, TIMINGS)
    BROWSERS.append(b)
    return b


@pytest.fixture(scope="session")
def admin(world):
    """The admin's browser (not signed in yet: test_admin_signs_in does it;
    admin_in signs in when needed)."""
    b = _start_browser(world, "admin")
    yield b
    b.quit()


@pytest.fixture
def admin_in(admin, world):
    admin.ensure_signed_in(world.admin_email, world.admin_password)
    yield admin
    admin.drain()


@pytest.fixture(scope="session")
def agent(world):
    """The agent's browser, its own cookie jar."""
    b = _start_browser(world, "agent")
    yield b
    b.quit()


# --------------------------------------------------------------------------
# The report: timings, bytes and file sizes (.build/browser/timings.json)

def dashboard_files():
    """dashboard/'s files (not dot files: never served) -> size."""
    out = {}
    if os.path.isdir(DASHBOARD):
        for root, _, names in os.walk(DASHBOARD):
            for n in names:
                if n.startswith("."):
                    continue
                p = os.path.join(root, n)
                out[os.path.relpath(p, DASHBOARD)] = os.path.getsize(p)
    return dict(sorted(out.items()))


def write_report():
    os.makedirs(OUT, exist_ok=True)
    report = {"pages": TIMINGS, "files": dashboard_files(),
              "file_limit": FILE_LIMIT,
              "screenshots": sorted(os.listdir(SHOTS))
              if os.path.isdir(SHOTS) else []}
    with open(os.path.join(OUT, "timings.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return report


def report_lines(report):
    lines = ["dashboard pages: first render (navigation start to "
             "body[data-ready=\"1\"]) and bytes transferred (cold: empty "
             "cache; warm: revalidated)",
             "  %-10s %9s %9s %10s %10s %9s %5s %9s" % (
                 "page", "cold ms", "warm ms", "html B", "static B",
                 "api B", "reqs", "warm B")]
    for page in PAGES:
        rec = report["pages"].get(page)
        if not rec:
            lines.append("  %-10s (not measured)" % page)
            continue
        c, w = rec.get("cold"), rec.get("warm")

        def ms(x):
            return "%9.0f" % x["ready_ms"] if x and x.get("ready_ms") \
                is not None else "%9s" % "-"
        src = c or w
        warm = "%9d" % sum(w.get(k, 0) for k in ("doc_bytes", "static_bytes",
                                                 "api_bytes")) if w else \
            "%9s" % "-"
        lines.append("  %-10s %s %s %10d %10d %9d %5d %s" % (
            page, ms(c), ms(w), src.get("doc_bytes", 0),
            src.get("static_bytes", 0), src.get("api_bytes", 0),
            src.get("requests", 0), warm))
    files = report["files"]
    lines.append("dashboard files on disk (limit %d bytes each): %s" % (
        FILE_LIMIT, ", ".join("%s %d" % kv for kv in files.items())
        or "none"))
    lines.append("total %d bytes in %d files; screenshots: %s" % (
        sum(files.values()), len(files), os.path.relpath(SHOTS, REPO)))
    return lines


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS and not BROWSERS:
        return
    for line in report_lines(write_report()):
        terminalreporter.write_line(line)
