"""The two-way inbox end to end, with every part real: a customer writes in
through the sandbox Graph API (signed like Meta, to the webhook route
through nginx), the agent finds the conversation, replies inside the
24-hour window, wazera-spooler sends the reply to the sandbox, and the
sandbox's status webhooks move it to read. The sandbox enforces Meta's
window too (131047), so a reply Wazera lets through must be one Meta would
take."""
import json

import pytest

from conftest import assert_error, assert_ok, wait_for


@pytest.fixture(scope="module")
def meta(stack):
    """A sandbox Graph API of this module's own: it enforces the window and
    posts sent/delivered/read for every accepted send to Wazera's webhook
    route."""
    sb = stack.start_sandbox(
        "--enforce-window", "--auto-status", "read", "--webhook-url",
        "http://127.0.0.1:%d/api/v1/whatsapp/webhook" % stack.port)
    conf = stack.write_spooler_config("inbox-spooler.conf", sb.base)
    # Whatever other modules left queued goes out first.
    stack.run_spooler(conf, max_seconds=60)
    sb.reset()
    sb.conf = conf
    yield sb
    sb.proc.stop()


@pytest.fixture
def agent(stack, make_tenant, meta):
    t = make_tenant()
    k = t.key()
    k.phone_id = stack.unique("3301")
    k.app_secret = "inbox-secret-" + k.phone_id
    k.account = stack.admin_json(
        "account", "create", "--tenant", t.id, "--phone-number-id",
        k.phone_id, "--waba-id", "102290129340398", "--display-phone",
        "+15550783881", "--access-token", "tok-" + k.phone_id,
        "--app-secret", k.app_secret)
    meta.config(app_secrets={k.phone_id: k.app_secret})
    return k


def customer(meta, agent, frm, text, name="Sheena"):
    out = meta.ctl("POST", "webhook", {
        "phone_number_id": agent.phone_id, "profile_name": name,
        "messages": [{"from": frm, "type": "text", "text": text}]})
    assert out["status"] == 200, out
    return json.loads(out["payload"])


def reply(agent, to, body):
    return agent("POST", "/messages/send", {
        "to": to, "whatsapp_account_id": agent.account["id"],
        "type": "text", "content": {"body": body}})


def event_types(stack, tenant_id):
    rows = stack.sql_root("SELECT type FROM events WHERE tenant_id = %d "
                          "ORDER BY id" % tenant_id, database="wazera")
    return [t for (t,) in rows]


def test_customer_writes_in_and_the_agent_replies(stack, meta, agent):
    # Nobody wrote yet: only a template may go out.
    assert_error(reply(agent, "+16505551234", "Hi!"), 422,
                 "OUTSIDE_SERVICE_WINDOW")

    payload = customer(meta, agent, "16505551234",
                       "Does it come in another color?")
    wamid_in = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]

    # The agent's inbox: one open conversation with Sheena.
    convs = assert_ok(agent("GET", "/conversations?status=open"))
    assert len(convs) == 1
    conv = convs[0]
    assert conv["contact"]["name"] == "Sheena"
    assert conv["contact"]["phone"] == "+16505551234"
    full = assert_ok(agent("GET", "/conversations/%d" % conv["id"]))
    assert [(m["direction"], m["type"], m["content"], m["wamid"])
            for m in full["messages"]] == [
        ("inbound", "text", {"body": "Does it come in another color?"},
         wamid_in)]

    # The reply, inside the window, lands in the same conversation.
    m = assert_ok(reply(agent, "+16505551234", "Yes: red and blue."), 201)
    assert m["conversation_id"] == conv["id"]
    stack.run_spooler(meta.conf)
    recs = meta.requests(agent.phone_id)
    assert len(recs) == 1 and recs[0]["status"] == 200, recs
    assert recs[0]["body"]["to"] == "+16505551234"
    assert recs[0]["body"]["text"] == {"body": "Yes: red and blue.",
                                       "preview_url": False}

    # Meta's status webhooks move it on to read.
    wait_for(lambda: assert_ok(agent("GET", "/messages/%d" % m["id"]))[
        "status"] == "read", what="the reply read")
    full = assert_ok(agent("GET", "/conversations/%d" % conv["id"]))
    assert [(x["direction"], x["status"]) for x in full["messages"]] == [
        ("inbound", "received"), ("outbound", "read")]
    assert full["messages"][1]["wamid"] == recs[0]["wamid"]
    # In this order because the sandbox posts sent, delivered and read one
    # after another, each after the previous answer; a "sent" arriving
    # before the spooler recorded Meta's answer still finds the message by
    # the wz:<id> in biz_opaque_callback_data.
    ev = event_types(stack, agent.tenant.id)
    assert ev[:3] == ["contact.created", "conversation.created",
                      "message.received"], ev
    assert ev[3:] == ["message.sent", "message.delivered", "message.read"], ev


def test_a_window_meta_does_not_know_fails_there(stack, meta, agent):
    """Wazera's window was opened by a webhook the sandbox never sent (so
    Meta's side has none): the send fails at Meta with 131047, stored
    permanently with Meta's error."""
    agent.customer_writes("+16505559876")
    m = assert_ok(reply(agent, "+16505559876", "Hello?"), 201)
    stack.run_spooler(meta.conf)
    recs = meta.requests(agent.phone_id)
    assert [r["error_code"] for r in recs] == [131047], recs
    got = assert_ok(agent("GET", "/messages/%d" % m["id"]))
    assert got["status"] == "failed"
    assert got["error"]["code"] == 131047


def test_an_old_conversation_needs_a_template(stack, meta, agent):
    """A day after the customer's last message only a template goes out;
    when they write again, free text does."""
    customer(meta, agent, "16505550001", "Thanks!")
    stack.sql_root("UPDATE contacts SET last_inbound_at = UTC_TIMESTAMP() - "
                   "INTERVAL 25 HOUR WHERE tenant_id = %d" % agent.tenant.id,
                   database="wazera")
    assert_error(reply(agent, "+16505550001", "Anything else?"), 422,
                 "OUTSIDE_SERVICE_WINDOW")
    t = assert_ok(agent("POST", "/messages/send", {
        "to": "+16505550001", "whatsapp_account_id": agent.account["id"],
        "type": "template", "content": {"name": "hello_world",
                                        "language": "en_US"}}), 201)
    customer(meta, agent, "16505550001", "One more question")
    m = assert_ok(reply(agent, "+16505550001", "Sure, go ahead."), 201)
    stack.run_spooler(meta.conf)
    recs = meta.requests(agent.phone_id)
    assert sorted(r["status"] for r in recs) == [200, 200], recs
    for mid in (t["id"], m["id"]):
        wait_for(lambda: assert_ok(agent("GET", "/messages/%d" % mid))[
            "status"] == "read", what="message %d read" % mid)
