"""Last: each page loaded cold (empty HTTP cache) and warm, its first
render (navigation start to body[data-ready="1"]) and bytes recorded
(.build/browser/timings.json; printed at the end of the run, not
asserted); then what every page of the session said and asked for: no
Content Security Policy violation in any console, no uncaught script
error, and no request to anything but 127.0.0.1."""
import urllib.parse

from conftest import BROWSERS, PAGES, TIMINGS, write_report

SIGNED_IN = [p for p in PAGES if p != "login"]


def test_page_timings(admin_in, agent, world):
    b = admin_in
    not_ready = []
    for page in SIGNED_IN:
        for cold in (True, False):
            try:
                b.open(page + ".html", cold=cold, measure=True, timeout=30)
            except AssertionError as e:
                not_ready.append("%s: %s" % (page, str(e)[:200]))
                break
    # The login page, signed out (the agent signed out already).
    agent.driver.delete_all_cookies()
    for cold in (True, False):
        try:
            agent.open("login.html", cold=cold, measure=True, timeout=30)
        except AssertionError as e:
            not_ready.append("login: %s" % str(e)[:200])
            break
    write_report()
    assert not not_ready, not_ready
    for page in PAGES:
        st = TIMINGS[page]["cold"]
        hosts = {h for h in st["hosts"]}
        assert hosts == {"127.0.0.1:%d" % world.port}, (page, hosts)
        assert st["doc_bytes"] > 0, (page, st)


def _all_console():
    for b in BROWSERS:
        b.drain()
    return [(b.name,) + m for b in BROWSERS for m in b.console]


def test_zz_console_has_no_csp_violation():
    msgs = _all_console()
    assert BROWSERS, "no browser ran"
    bad = [m for m in msgs if "Content Security Policy" in (m[3] or "")]
    assert not bad, "\n".join(map(str, bad))


def test_zz_console_has_no_uncaught_error():
    bad = [m for m in _all_console()
           if "Uncaught" in (m[3] or "") or "SyntaxError" in (m[3] or "")]
    assert not bad, "\n".join(map(str, bad))


def test_zz_requests_stay_on_loopback(world):
    for b in BROWSERS:
        b.drain()
    urls = [u for b in BROWSERS for u in b.requests]
    assert len(urls) > 20, urls      # the log saw the session's requests
    bad = []
    for u in urls:
        p = urllib.parse.urlsplit(u)
        if p.scheme in ("data", "blob", "about"):
            continue
        if p.scheme not in ("http", "https") or p.hostname != "127.0.0.1":
            bad.append(u)
    assert not bad, bad
