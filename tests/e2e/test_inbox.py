"""The two-way inbox end to end, with every part real: a customer writes in
through the sandbox Graph API (signed like Meta, to the webhook route
through nginx), the agent finds the conversation, replies inside the
24-hour window, wazera-spooler sends the reply to the sandbox, and the
sandbox's status webhooks move it to read. The sandbox enforces Meta's
window too (131047), so a reply Wazera lets through must be one Meta would
take."""
import json

import pytest

from conftest import assert_error, assert_ok, http_request, wait_for


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
    stack.sql_root("UPDATE contact_windows w JOIN contacts c ON c.id = "
                   "w.contact_id SET w.last_inbound_at = UTC_TIMESTAMP() - "
                   "INTERVAL 25 HOUR WHERE c.tenant_id = %d" % agent.tenant.id,
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


def graph_send(meta, phone_id, to, type_="text"):
    """A send straight to the sandbox Graph API (as Meta), not through
    Wazera: returns (HTTP status, Graph error code or None)."""
    body = {"messaging_product": "whatsapp", "to": to, "type": type_}
    if type_ == "text":
        body["text"] = {"body": "Straight to Meta"}
    else:
        body["template"] = {"name": "hello_world",
                            "language": {"code": "en_US"}}
    r = http_request(meta.port, "POST", "/v25.0/%s/messages" % phone_id,
                     body, headers={"Authorization": "Bearer tok-" +
                                    phone_id}, wazera=False)
    err = r.body.get("error") if isinstance(r.body, dict) else None
    return r.status, err and err.get("code")


def test_the_window_is_per_number_here_and_at_meta(stack, meta, agent):
    """The customer wrote to the agent's number, not to the tenant's second
    one. Meta (the sandbox, asked directly) refuses free text from the
    second number with 131047, and Wazera refuses it up front (422, nothing
    stored) instead of queueing a send bound to fail; once the customer
    writes to the second number, a reply from it goes out and is read."""
    phone2 = stack.unique("3302")
    secret2 = "inbox-secret-" + phone2
    second = stack.admin_json(
        "account", "create", "--tenant", agent.tenant.id,
        "--phone-number-id", phone2, "--waba-id", "102290129340398",
        "--display-phone", "+15550783882", "--access-token", "tok-" + phone2,
        "--app-secret", secret2)
    meta.config(app_secrets={phone2: secret2})
    customer(meta, agent, "16505550077", "Hi, is the shop open?")

    assert graph_send(meta, agent.phone_id, "+16505550077") == (200, None)
    assert graph_send(meta, phone2, "+16505550077") == (400, 131047)
    assert graph_send(meta, phone2, "+16505550077", "template") == (200, None)

    def from_second(body):
        return agent("POST", "/messages/send", {
            "to": "+16505550077", "whatsapp_account_id": second["id"],
            "type": "text", "content": {"body": body}})

    n = stack.sql_root("SELECT COUNT(*) FROM messages WHERE tenant_id = %d"
                       % agent.tenant.id, database="wazera")
    assert_error(from_second("Yes, until six."), 422,
                 "OUTSIDE_SERVICE_WINDOW")
    assert stack.sql_root("SELECT COUNT(*) FROM messages WHERE tenant_id = "
                          "%d" % agent.tenant.id, database="wazera") == n
    assert_ok(reply(agent, "+16505550077", "Yes, until six."), 201)

    out = meta.ctl("POST", "webhook", {
        "phone_number_id": phone2, "profile_name": "Sheena",
        "messages": [{"from": "16505550077", "type": "text",
                      "text": "And on Sunday?"}]})
    assert out["status"] == 200, out
    assert graph_send(meta, phone2, "+16505550077") == (200, None)
    m = assert_ok(from_second("Closed on Sundays."), 201)
    stack.run_spooler(meta.conf)
    recs = [r for r in meta.requests(phone2) if r["body"].get("type") ==
            "text" and r["body"]["text"]["body"] == "Closed on Sundays."]
    assert [r["status"] for r in recs] == [200], recs
    wait_for(lambda: assert_ok(agent("GET", "/messages/%d" % m["id"]))[
        "status"] == "read", what="the reply from the second number read")
