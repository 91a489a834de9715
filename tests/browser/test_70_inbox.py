"""The inbox (SPEC 5 and 10, design D): a customer writes (Meta's signed
webhook to /api/v1/whatsapp/webhook, as the e2e tests post it); the
admin sees the conversation, opens it, types a reply and sends it; the
reply shows in the conversation and the spooler takes it to the sandbox
Graph API. Then the same page at 375 px: one column, nothing wider than
the screen."""
import time
import uuid

import pytest

from conftest import Keys, Select, e2e, wait_for

CUSTOMER = "+14155550177"
STATE = {}


def customer_writes(world, text):
    wa_id = CUSTOMER.lstrip("+")
    payload = e2e.inbound_payload(world.phone_id, [e2e.msg(
        "wamid.B" + uuid.uuid4().hex, wa_id, "text", {"body": text},
        timestamp=str(int(time.time())))], {wa_id: "Clara Customer"})
    r = e2e.post(world.stack.port, payload, secret=world.app_secret)
    assert r.status == 200, r


def conversation_of(world, phone):
    r = world.key("GET", "/conversations?status=open&per_page=100")
    assert r.status == 200, r
    found = [c for c in r.body["data"] if c["contact"]["phone"] == phone]
    return found[0] if found else None


def test_answer_a_customer(admin_in, world):
    b = admin_in
    customer_writes(world, "Hi! Is the sourdough ready?")
    wait_for(lambda: conversation_of(world, CUSTOMER), timeout=30,
             what="the conversation")
    conv = conversation_of(world, CUSTOMER)
    b.open("inbox.html")
    status = b.one("select#conv-status")
    assert {o.get_attribute("value") for o in status.find_elements(
        "css selector", "option")} >= {"open", "pending", "closed", "all"}
    item = "ul#conv-list li[data-id='%d']" % conv["id"]
    b.wait(lambda d: "Clara Customer" in b.text(item), 30,
           "the conversation listed with the customer's name")
    b.click(item)
    b.one("#conv")
    inbound = "ol#conv-messages li[data-direction=inbound]"
    b.wait(lambda d: any("sourdough" in e.text for e in b.find(inbound)),
           30, "the customer's message shown")
    b.one("form#reply-form")
    b.one("button#conv-close")
    b.one("select#conv-assign")

    reply = "Yes, fresh out of the oven at 9. " + uuid.uuid4().hex[:4]
    b.fill("textarea#reply-text", reply)
    b.click("button#reply-send")
    outbound = "ol#conv-messages li[data-direction=outbound]"
    b.wait(lambda d: any(reply in e.text for e in b.find(outbound)), 30,
           "the reply shown in the conversation")
    assert b.one("textarea#reply-text").get_attribute("value") == ""

    def at_sandbox():
        return [r for r in world.sandbox.requests(
            phone_number_id=world.phone_id, to=CUSTOMER)
            if r["method"] == "POST" and
            (r["body"].get("text") or {}).get("body") == reply]
    wait_for(at_sandbox, timeout=30, what="the reply at the Graph API")
    assert len(at_sandbox()) == 1
    msgs = world.key("GET", "/conversations/%d" % conv["id"]).body[
        "data"]["messages"]
    assert [m["direction"] for m in msgs] == ["inbound", "outbound"], msgs
    assert msgs[1]["content"]["body"] == reply, msgs
    STATE["conv"] = conv
    b.shot("inbox")


def test_customer_text_shown_as_text(admin_in, world):
    """What a customer writes (and their profile name) is shown as text,
    never made into markup."""
    b = admin_in
    wa_id = "14155550166"
    evil = '<img src=x id=wz-evil onerror="window.__wzXss=1">hello'
    name = "<b id=wz-bold>Mallory</b>"
    payload = e2e.inbound_payload(world.phone_id, [e2e.msg(
        "wamid.X" + uuid.uuid4().hex, wa_id, "text", {"body": evil},
        timestamp=str(int(time.time())))], {wa_id: name})
    assert e2e.post(world.stack.port, payload,
                    secret=world.app_secret).status == 200
    wait_for(lambda: conversation_of(world, "+" + wa_id), timeout=30,
             what="Mallory's conversation")
    conv = conversation_of(world, "+" + wa_id)
    b.open("inbox.html")
    item = "ul#conv-list li[data-id='%d']" % conv["id"]
    b.wait(lambda d: name in b.text(item), 30, "the name shown as text")
    b.click(item)
    b.wait(lambda d: any(evil in e.text for e in b.find(
        "ol#conv-messages li[data-direction=inbound]")), 30,
        "the message shown as text")
    assert not b.find("#wz-evil, #wz-bold")
    assert b.driver.execute_script("return window.__wzXss") is None


def test_reply_outside_the_window_takes_a_template(admin_in, world):
    """A conversation the business began (a template; the customer never
    wrote): the page offers a template instead of text (#window-closed),
    and the template reaches the Graph API."""
    b = admin_in
    phone = "+14155550188"
    r = world.key("POST", "/messages/send", {
        "to": phone, "whatsapp_account_id": world.account["id"],
        "type": "template",
        "content": {"name": "hello_world", "language": "en_US"}})
    assert r.status == 201, r
    cid = r.body["data"]["conversation_id"]
    # A text is refused by the API: the page must not offer it.
    r = world.key("POST", "/messages/send", {
        "to": phone, "whatsapp_account_id": world.account["id"],
        "type": "text", "content": {"body": "hello?"}})
    assert r.status == 422 and r.body["error"]["code"] == \
        "OUTSIDE_SERVICE_WINDOW", r
    b.open("inbox.html")
    b.click("ul#conv-list li[data-id='%d']" % cid)
    closed = b.one("#window-closed")
    words = closed.text
    assert "24" in words and "OUTSIDE_SERVICE_WINDOW" not in words, words
    b.fill("input#reply-template-name", "sourdough_ready")
    b.fill("input#reply-template-language", "en_US")
    b.click("button#reply-send")

    def at_sandbox():
        return [x for x in world.sandbox.requests(
            phone_number_id=world.phone_id, to=phone)
            if x["method"] == "POST" and
            (x["body"].get("template") or {}).get("name") ==
            "sourdough_ready"]
    wait_for(at_sandbox, timeout=30, what="the template at the Graph API")
    assert at_sandbox()[0]["body"]["template"]["language"] == \
        {"code": "en_US"}
    msgs = world.key("GET", "/conversations/%d" % cid).body["data"][
        "messages"]
    assert [m["type"] for m in msgs] == ["template", "template"], msgs
    b.wait(lambda d: len(b.find("ol#conv-messages li[data-direction="
                                "outbound]")) == 2, 30,
           "both templates shown in the conversation")
    b.shot("inbox-window-closed")

    # Assign it to the agent, then close it.
    Select(b.one("select#conv-assign")).select_by_value(
        str(world.agent_user["id"]))

    def conv():
        return world.key("GET", "/conversations/%d" % cid).body["data"]
    b.wait(lambda d: conv()["assigned_to"] == world.agent_user["id"], 30,
           "the conversation assigned to the agent")
    b.click("button#conv-close")
    b.wait(lambda d: conv()["status"] == "closed", 30,
           "the conversation closed")


def test_inbox_at_phone_width(admin_in, world):
    if "conv" not in STATE:
        pytest.fail("needs test_answer_a_customer's conversation")
    b = admin_in
    d = b.driver
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 375, "height": 812, "deviceScaleFactor": 2,
        "mobile": True})
    try:
        b.open("inbox.html")
        item = "ul#conv-list li[data-id='%d']" % STATE["conv"]["id"]
        b.fill(item, Keys.ENTER, clear=False)    # Enter opens it too
        b.wait(lambda d: any("sourdough" in e.text for e in b.find(
            "ol#conv-messages li[data-direction=inbound]")), 30,
            "the conversation opened with Enter")
        width, scroll = d.execute_script(
            "return [window.innerWidth, "
            "document.documentElement.scrollWidth]")
        assert width == 375, "the page's layout is %d px wide at a 375 px " \
            "screen (no <meta name=viewport>?)" % width
        assert scroll <= 375, "the page scrolls sideways: %d px wide" % scroll
        for css in ("textarea#reply-text", "button#reply-send",
                    "nav#nav"):
            r = d.execute_script(
                "const r = document.querySelector(arguments[0])"
                ".getBoundingClientRect(); return [r.left, r.right];", css)
            assert r[0] >= 0 and r[1] <= 375 + 0.5, (css, r)
        d.execute_script("document.querySelector('#conv').scrollIntoView()")
        b.shot("inbox-375", full=False)
    finally:
        d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
