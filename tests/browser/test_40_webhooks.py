"""Webhooks (SPEC 6 and 10, design D): the admin points a webhook at a
receiver on 127.0.0.1, sees its generated secret once, sends a test ping
from its row and watches the delivery log reach "succeeded" (the session's
spooler --loop delivers it); the receiver got it signed with that
secret, and the attempts show the receiver's 200."""
import hashlib
import hmac
import json

from conftest import wait_for


def test_webhook_test_ping_in_delivery_log(admin_in, world):
    b = admin_in
    rec = world.receiver
    b.open("webhooks.html")
    b.one("form#webhook-form")
    b.fill("input#webhook-url", rec.url)
    b.click("input[name=event][value='message.received']")
    b.click("input[name=event][value='conversation.created']")
    b.click("button#webhook-create")
    secret = b.wait(lambda d: b.text("code#webhook-secret-new").strip(), 30,
                    "the new webhook's secret")
    assert secret.startswith("whsec_"), secret

    r = world.key("GET", "/webhooks")
    assert r.status == 200, r
    hooks = [h for h in r.body["data"] if h["url"] == rec.url]
    assert len(hooks) == 1, r.body
    wid = hooks[0]["id"]
    assert sorted(hooks[0]["events"]) == ["conversation.created",
                                          "message.received"], hooks
    row = "table#webhook-list tbody tr[data-id='%d']" % wid
    b.one(row)
    for action in ("test", "deliveries", "edit", "toggle", "delete"):
        b.one(row + " button[data-action=%s]" % action)

    b.click(row + " button[data-action=test]")
    b.click(row + " button[data-action=deliveries]")
    b.one("#deliveries")
    b.one("table#delivery-list")
    done = ("table#delivery-list tbody tr[data-event='webhook.test']"
            "[data-status='succeeded']")

    def succeeded():
        if b.find(done):
            return True
        b.click("button#deliveries-refresh")
        return False
    wait_for(succeeded, timeout=60, interval=1.0,
             what="the test ping's delivery 'succeeded' in the log")

    # The receiver got it, signed with the secret the page showed.
    got = rec.events("webhook.test")
    assert len(got) == 1, rec.posts
    headers, body = got[0]
    want = "sha256=" + hmac.new(secret.encode(), body,
                                hashlib.sha256).hexdigest()
    assert headers["x-wazera-signature"] == want, headers
    ev = json.loads(body)
    assert ev["event"] == "webhook.test" and ev["data"]["id"] == wid, ev

    # Its attempts: one, answered 200.
    did = int(b.one(done).get_attribute("data-id"))
    b.click(done + " button[data-action=attempts]")
    att = b.one("#attempts")
    b.wait(lambda d: "200" in att.text, 30, "the attempt's status 200")
    b.one(done + " button[data-action=redeliver]")
    b.shot("webhooks")
    # Read through the API, the log says the same.
    r = world.key("GET", "/webhooks/%d/deliveries" % wid)
    assert [(d["id"], d["event"], d["status"]) for d in r.body["data"]] == [
        (did, "webhook.test", "succeeded")], r.body


def test_webhook_toggle_and_delete(admin_in, world):
    """Disable and enable from the row, then delete (two buttons)."""
    b = admin_in
    url = world.receiver.url + "/other"
    r = world.key("POST", "/webhooks", {"url": url,
                                        "events": ["contact.created"]})
    assert r.status == 201, r
    wid = r.body["data"]["id"]
    b.open("webhooks.html")
    row = "table#webhook-list tbody tr[data-id='%d']" % wid

    def status():
        return world.key("GET", "/webhooks/%d" % wid).body["data"]["status"]
    b.click(row + " button[data-action=toggle]")
    b.wait(lambda d: status() == "disabled", 30, "the webhook disabled")
    b.wait(lambda d: "disabled" in b.text(row).lower(), 30,
           "the row saying disabled")
    b.click(row + " button[data-action=toggle]")
    b.wait(lambda d: status() == "active", 30, "the webhook enabled again")
    b.click(row + " button[data-action=delete]")
    assert world.key("GET", "/webhooks/%d" % wid).status == 200
    b.click(row + " button[data-action=confirm-delete]")
    b.wait(lambda d: world.key("GET", "/webhooks/%d" % wid).status == 404,
           30, "the webhook deleted")
    b.wait(lambda d: not b.find(row), 30, "its row gone")
