"""An agent (SPEC 10: no account:read, no webhooks, no key management):
a page opened signed out sends the browser to the login page and back
after signing in; the navigation has no keys link and keys.html says it is
not for them (#forbidden, no list); signing out ends the session on the
server too."""

from conftest import Keys, fetch


def test_signed_out_page_goes_to_login_and_back(agent, world):
    b = agent
    b.driver.delete_all_cookies()
    b.open("contacts.html", ready=False)
    b.wait(lambda d: "/dashboard/login.html" in d.current_url, 30,
           "contacts.html to send a signed-out browser to login.html")
    assert "next=" in b.here().query and "contacts" in b.here().query, \
        b.driver.current_url
    b.one("form#login-form")
    b.fill("input#email", world.agent_email)
    b.fill("input#password", world.agent_password)
    b.click("button#login-submit")
    b.wait(lambda d: d.current_url.endswith("/dashboard/contacts.html"), 30,
           "back on contacts.html after signing in")
    b.wait_ready()


def test_agent_has_no_keys_page(agent, world):
    b = agent
    b.ensure_signed_in(world.agent_email, world.agent_password)
    b.open("inbox.html")
    who = b.text("#whoami")
    assert "Ben Agent" in who and "agent" in who.lower(), who
    for page in ("inbox", "contacts", "campaigns"):
        b.one("nav#nav a[data-nav=%s]" % page)
    assert not b.find("a[data-nav=keys]"), "the agent is offered keys"

    b.open("keys.html", ready=False)
    f = b.one("#forbidden")
    b.wait(lambda d: len(f.text.split()) >= 3, 30, "#forbidden's sentence")
    assert not any(e.is_displayed() for e in b.find("table#key-list")), \
        "the agent sees the key list"
    assert not any(e.is_displayed() for e in b.find("form#key-form")), \
        "the agent sees the key form"
    assert "INSUFFICIENT_PERMISSIONS" not in b.driver.page_source
    b.shot("keys-agent")
    # The API agrees.
    r = b.api("GET", "/api-keys")
    assert r.status == 403 and r.body["error"]["code"] == \
        "INSUFFICIENT_PERMISSIONS", r
    # Webhooks need webhooks:manage, which agents lack: the page says so
    # in words.
    b.open("webhooks.html", ready=False)
    b.wait(lambda d: any(e.is_displayed() and len(e.text.split()) >= 3
                         for e in b.find("#forbidden, #error")), 30,
           "webhooks.html telling the agent in words")
    body = b.driver.find_element("tag name", "body").text
    assert "INSUFFICIENT_PERMISSIONS" not in body and "403" not in body, body


def test_ended_session_leads_to_login(agent, world):
    """The server ends the session (a password change, the idle limit):
    the next request of the page answers 401 and the browser goes to the
    login page, to come back to where it was."""
    b = agent
    b.ensure_signed_in(world.agent_email, world.agent_password)
    b.open("contacts.html")
    world.stack.sql_root("DELETE FROM sessions WHERE user_id = %d" %
                         world.agent_user["id"], database="wazera")
    b.fill("input#contact-search", "someone" + Keys.ENTER)
    b.wait(lambda d: "/dashboard/login.html" in d.current_url, 30,
           "login.html after the session ended")
    assert "next=contacts.html" in b.here().query, b.driver.current_url
    b.fill("input#email", world.agent_email)
    b.fill("input#password", world.agent_password + Keys.ENTER)
    b.wait(lambda d: d.current_url.endswith("/dashboard/contacts.html"), 30,
           "back on contacts.html")
    b.wait_ready()


def test_sign_out_ends_the_session(agent, world):
    b = agent
    b.ensure_signed_in(world.agent_email, world.agent_password)
    b.open("inbox.html")
    old = b.cookie()["value"]
    b.click("button#signout")
    b.wait(lambda d: "/dashboard/login.html" in d.current_url, 30,
           "login.html after signing out")
    b.wait(lambda d: b.cookie() is None, 10, "the cookie cleared")
    r = fetch(world.base + "/api/v1/auth/me",
              headers={"Cookie": "wz_session=" + old})
    assert r.status == 401 and r.body["error"]["code"] == \
        "AUTHENTICATION_ERROR", r
    assert b.driver.execute_script(
        "return sessionStorage.getItem('wz_csrf')") in (None, ""), \
        "the CSRF token kept after signing out"
