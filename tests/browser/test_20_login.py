"""Signing in (SPEC 10, design B/D): the admin's browser, signed out, gets
the login page; a wrong password shows the person a sentence (never an
error code) and sets no cookie; the right one sets the session cookie
(HttpOnly, SameSite=Strict, for the browser session only) and leads to the
inbox, where the navigation names the user and offers every page."""
import re

from conftest import Keys, fetch

CODE = re.compile(r"\b[A-Z]{3,}(?:_[A-Z]+)+\b")


def test_login_page(admin):
    admin.driver.delete_all_cookies()
    admin.open("login.html", ready=False)
    admin.one("form#login-form")
    for css in ("input#email", "input#password", "button#login-submit"):
        admin.one(css)
    assert admin.one("input#password").get_attribute("type") == "password"
    admin.gone("#login-error")
    admin.shot("login")


def test_wrong_password_shows_words_not_codes(admin, world):
    admin.driver.delete_all_cookies()
    admin.open("login.html", ready=False)
    admin.fill("input#email", world.admin_email)
    admin.fill("input#password", "not-the-password-at-all")
    admin.click("button#login-submit")
    err = admin.one("#login-error")
    admin.wait(lambda d: err.text.strip(), 30, "#login-error text")
    text = err.text.strip()
    assert err.get_attribute("role") == "alert", err.get_attribute("role")
    assert len(re.findall(r"[^\W\d_]{2,}", text)) >= 3, text
    assert not CODE.search(text), "an error code shown: %r" % text
    assert "401" not in text, text
    assert admin.cookie() is None
    assert "login.html" in admin.driver.current_url
    # The password field is there to try again.
    admin.one("input#password")


def test_admin_signs_in(admin, world):
    admin.driver.delete_all_cookies()
    admin.sign_in(world.admin_email, world.admin_password)
    assert admin.here().path.endswith("/dashboard/inbox.html"), \
        admin.driver.current_url
    c = admin.cookie()
    assert c is not None, admin.driver.get_cookies()
    assert c["httpOnly"] is True and c.get("sameSite") == "Strict", c
    assert c["path"] == "/" and "expiry" not in c, c
    assert len(c["value"]) == 43, c
    # The page cannot read it.
    assert "wz_session" not in admin.driver.execute_script(
        "return document.cookie")
    who = admin.text("#whoami")
    assert "Ada Admin" in who and "admin" in who.lower(), who
    for page in ("inbox", "contacts", "campaigns", "webhooks", "keys"):
        a = admin.one("nav#nav a[data-nav=%s]" % page)
        assert a.get_attribute("href").endswith("/dashboard/%s.html" % page)
    admin.one("button#signout")
    admin.one("main#main")
    err = admin.one("#error", visible=False)
    assert err.get_attribute("role") == "alert" and not err.is_displayed()
    assert admin.one("#notice", visible=False).get_attribute("role") == \
        "status"
    # The session works for the API as the design says.
    r = admin.api("GET", "/auth/me")
    assert r.status == 200, r
    assert r.body["data"]["user"]["email"] == world.admin_email, r
    assert r.body["data"]["user"]["role"] == "admin", r
    csrf = admin.driver.execute_script(
        "return sessionStorage.getItem('wz_csrf')")
    assert csrf == r.body["data"]["csrf_token"], (csrf, r.body)


def test_index_leads_signed_in_admin_to_inbox(admin_in):
    """index.html, /dashboard/ and /dashboard (the URL people type) lead a
    signed-in browser to the inbox."""
    for url in (admin_in.url("index.html"), admin_in.base + "/dashboard/",
                admin_in.base + "/dashboard"):
        admin_in.driver.get("about:blank")
        admin_in.driver.get(url)
        admin_in.wait(lambda d: d.current_url.endswith(
            "/dashboard/inbox.html"), 30, "%s to go to inbox.html" % url)
        admin_in.wait_ready()


def test_index_leads_signed_out_browser_to_login(agent):
    agent.driver.delete_all_cookies()
    agent.driver.get(agent.base + "/dashboard/")
    agent.wait(lambda d: d.current_url.endswith("/dashboard/login.html"), 30,
               "/dashboard/ to go to login.html")
    agent.one("form#login-form")


def test_session_cookie_not_accepted_from_elsewhere(admin_in, world):
    """A non-GET with the session but without the CSRF token is refused
    (what another site's form would send)."""
    c = admin_in.cookie()
    r = fetch(world.base + "/api/v1/contacts", "POST",
              {"phone": "+14155550999"},
              {"Cookie": "wz_session=" + c["value"]})
    assert r.status == 403 and r.body["error"]["code"] == \
        "CSRF_TOKEN_INVALID", r


def test_focus_is_visible(admin_in):
    """Keyboard use: a focused button and link look different from
    unfocused ones (an outline or a shadow)."""
    b = admin_in
    b.open("contacts.html")
    look = ("const s = getComputedStyle(arguments[0]);"
            "return [s.outlineStyle, s.outlineWidth, s.boxShadow];")
    for css in ("button#contact-save", "nav#nav a[data-nav=inbox]"):
        el = b.one(css)
        b.driver.execute_script("document.activeElement.blur()")
        before = b.driver.execute_script(look, el)
        # Keyboard focus (Tab) from the element before it.
        # (The first focusable element: Tab from the page itself.)
        b.driver.execute_script(
            "const all = [...document.querySelectorAll("
            "'a[href], button, input, select, textarea')].filter("
            "e => e.offsetParent !== null && e.tabIndex >= 0);"
            "const i = all.indexOf(arguments[0]);"
            "if (i > 0) all[i - 1].focus(); else document.body.focus();", el)
        b.driver.switch_to.active_element.send_keys(Keys.TAB)
        assert b.driver.switch_to.active_element == el, css
        after = b.driver.execute_script(look, el)
        assert after != before and (after[0] != "none" or
                                    after[2] != "none"), (css, before, after)


def test_throttled_sign_in_says_when(agent, world):
    """More than 10 failures for one email: 429 with Retry-After, which the
    page turns into words with the number of seconds."""
    b = agent
    b.driver.delete_all_cookies()
    email = "nobody.%d@bakery.example" % world.port
    for _ in range(10):
        r = fetch(world.base + "/api/v1/auth/login", "POST",
                  {"email": email, "password": "wrong-password-1"})
        assert r.status == 401, r
    r = fetch(world.base + "/api/v1/auth/login", "POST",
              {"email": email, "password": "wrong-password-1"})
    assert r.status == 429 and int(r.headers["retry-after"]) > 0, r
    b.open("login.html", ready=False)
    b.fill("input#email", email)
    b.fill("input#password", "wrong-password-2" + Keys.ENTER)
    err = b.one("#login-error")
    b.wait(lambda d: re.search(r"\d+ seconds?", err.text), 30,
           "#login-error naming the seconds to wait")
    assert not CODE.search(err.text) and "429" not in err.text, err.text
