"""Meta's webhooks: the subscription check, signatures over the raw body
(per account app secret, else the configured default), and statuses
applied to outbound messages: never backwards, failures with Meta's error,
a message left 'sending' resolved by its biz_opaque_callback_data, events
written, unknown phone numbers acknowledged and ignored."""
import hashlib
import hmac
import json
import os

import pytest

from conftest import assert_error, assert_ok, http_request

VERIFY = "verify-tok-123"
DEFAULT_SECRET = "default-app-secret"


@pytest.fixture(scope="module")
def hook(stack):
    """A server whose config has a verify token and a default app secret."""
    conf = stack.write_config("webhook.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write("verify_token = %s\napp_secret = %s\n" % (VERIFY,
                                                          DEFAULT_SECRET))
        f.write(text)
    fcgi = stack.start_fcgi(config=conf, workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    yield nginx.port
    stack.stop_nginx(nginx)
    fcgi.stop()


def post(port, body, secret=None, signature=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
            secret.encode(), raw, hashlib.sha256).hexdigest()
    return http_request(port, "POST", "/api/v1/whatsapp/webhook", raw,
                        headers=headers)


def status_payload(phone_id, statuses):
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": phone_id},
            "statuses": statuses}}]}]}


def st(wamid, status, **kw):
    d = {"id": wamid, "status": status, "timestamp": "1750030073",
         "recipient_id": "4915112345678"}
    d.update(kw)
    return d


@pytest.fixture
def sent(stack, make_tenant):
    """A tenant with an account (its own app secret) and one message that
    Meta accepted (status sent, a wamid)."""
    t = make_tenant()
    k = t.key()
    phone = stack.unique("8801")
    k.secret = "acct-secret-" + phone
    k.account = stack.admin_json(
        "account", "create", "--tenant", t.id, "--phone-number-id", phone,
        "--waba-id", "1", "--display-phone", "+15550783881",
        "--access-token", "tok", "--app-secret", k.secret)
    k.phone = phone
    m = assert_ok(k("POST", "/messages/send", {
        "to": "+4915112345678", "whatsapp_account_id": k.account["id"],
        "type": "template", "content": {"name": "hello_world"}}), 201)
    k.wamid = "wamid.HBgL" + phone
    stack.sql_root("UPDATE messages SET status = 'sent', wamid = '%s' "
                   "WHERE id = %d" % (k.wamid, m["id"]), database="wazera")
    k.msg = m
    return k


def message(key):
    return assert_ok(key("GET", "/messages/%d" % key.msg["id"]))


def events(stack, tenant_id):
    rows = stack.sql_root("SELECT type, HEX(data) FROM events WHERE "
                          "tenant_id = %d ORDER BY id" % tenant_id,
                          database="wazera")
    return [(t, json.loads(bytes.fromhex(d))) for t, d in rows]


def test_subscription_check(hook):
    q = "hub.mode=subscribe&hub.verify_token=%s&hub.challenge=1158201444"
    r = http_request(hook, "GET", "/api/v1/whatsapp/webhook?" + q % VERIFY)
    assert r.status == 200 and r.raw == b"1158201444"
    assert r.headers["content-type"].startswith("text/plain")
    r = http_request(hook, "GET", "/api/v1/whatsapp/webhook?" + q % "wrong")
    assert r.status == 403
    r = http_request(hook, "GET", "/api/v1/whatsapp/webhook?hub.challenge=1")
    assert r.status == 403


def test_statuses_move_forward_only(stack, hook, sent):
    r = post(hook, status_payload(sent.phone, [st(sent.wamid, "delivered")]),
             sent.secret)
    assert r.status == 200, r
    assert message(sent)["status"] == "delivered"
    post(hook, status_payload(sent.phone, [st(sent.wamid, "read")]),
         sent.secret)
    assert message(sent)["status"] == "read"
    # Late and out of order: nothing moves back, nothing is recorded.
    for s in ("delivered", "sent", "failed"):
        r = post(hook, status_payload(sent.phone, [st(sent.wamid, s)]),
                 sent.secret)
        assert r.status == 200
    m = message(sent)
    assert m["status"] == "read" and m["error"] is None
    types = [t for t, _ in events(stack, sent.tenant.id)]
    assert types.count("message.delivered") == 1
    assert types.count("message.read") == 1
    assert "message.failed" not in types
    ev = [d for t, d in events(stack, sent.tenant.id) if t == "message.read"]
    assert ev[0]["id"] == sent.msg["id"] and ev[0]["status"] == "read"


def test_batch_and_duplicates_in_one_post(stack, hook, sent):
    body = status_payload(sent.phone, [st(sent.wamid, "read"),
                                       st(sent.wamid, "delivered"),
                                       st(sent.wamid, "read")])
    r = post(hook, body, sent.secret)
    assert r.status == 200
    assert message(sent)["status"] == "read"
    types = [t for t, _ in events(stack, sent.tenant.id)]
    assert types.count("message.read") == 1
    assert "message.delivered" not in types


def test_failed_after_sent_keeps_meta_error(stack, hook, sent):
    err = {"code": 131049, "title": "This message was not delivered to "
           "maintain healthy ecosystem engagement.", "message": "x",
           "error_data": {"details": "In order to maintain a healthy "
                          "ecosystem engagement, the message failed."}}
    r = post(hook, status_payload(sent.phone, [st(sent.wamid, "failed",
                                                   errors=[err])]),
             sent.secret)
    assert r.status == 200
    m = message(sent)
    assert m["status"] == "failed"
    assert m["error"] == {"code": 131049, "title": err["title"],
                          "message": err["error_data"]["details"]}
    post(hook, status_payload(sent.phone, [st(sent.wamid, "delivered")]),
         sent.secret)
    assert message(sent)["status"] == "failed"
    assert [t for t, _ in events(stack, sent.tenant.id)].count(
        "message.failed") == 1


def test_sending_message_resolved_by_callback_data(stack, hook, sent):
    """A crash left the message 'sending' without a wamid: a status that
    carries wz:<id> resolves it and stores Meta's wamid."""
    stack.sql_root("UPDATE messages SET status = 'sending', wamid = NULL, "
                   "sending_since = NOW(3) WHERE id = %d" % sent.msg["id"],
                   database="wazera")
    r = post(hook, status_payload(sent.phone, [st(
        "wamid.Resolved" + sent.phone, "sent",
        biz_opaque_callback_data="wz:%d" % sent.msg["id"])]), sent.secret)
    assert r.status == 200
    m = message(sent)
    assert m["status"] == "sent" and m["wamid"] == "wamid.Resolved" + sent.phone
    row = stack.sql_root("SELECT sending_since IS NULL FROM messages WHERE "
                         "id = %d" % sent.msg["id"], database="wazera")
    assert row == [["1"]]
    # Someone else's callback data, or another account's message id,
    # resolves nothing.
    stack.sql_root("UPDATE messages SET status = 'sending', wamid = NULL "
                   "WHERE id = %d" % sent.msg["id"], database="wazera")
    post(hook, status_payload(sent.phone, [st(
        "wamid.Other", "delivered", biz_opaque_callback_data="order-77")]),
        sent.secret)
    assert message(sent)["status"] == "sending"


def test_signatures(stack, hook, sent):
    body = status_payload(sent.phone, [st(sent.wamid, "delivered")])
    assert_error(post(hook, body), 401, "AUTHENTICATION_ERROR")
    assert_error(post(hook, body, signature="sha256=" + "0" * 64), 401,
                 "AUTHENTICATION_ERROR")
    assert_error(post(hook, body, signature="md5=abc"), 401,
                 "AUTHENTICATION_ERROR")
    # The account has its own secret: the default one does not do.
    assert_error(post(hook, body, DEFAULT_SECRET), 401,
                 "AUTHENTICATION_ERROR")
    # The signature covers the exact bytes: re-serialised JSON fails.
    raw = json.dumps(body, indent=1).encode()
    sig = "sha256=" + hmac.new(sent.secret.encode(), json.dumps(
        body).encode(), hashlib.sha256).hexdigest()
    assert_error(post(hook, raw, signature=sig), 401, "AUTHENTICATION_ERROR")
    assert message(sent)["status"] == "sent"
    # Upper-case hex is the same signature.
    sig = "sha256=" + hmac.new(sent.secret.encode(), raw,
                               hashlib.sha256).hexdigest().upper()
    assert post(hook, raw, signature=sig).status == 200
    assert message(sent)["status"] == "delivered"


def test_unknown_phone_number_acknowledged(stack, hook, sent):
    body = status_payload("999000111", [st(sent.wamid, "read")])
    r = post(hook, body, DEFAULT_SECRET)
    assert r.status == 200
    assert message(sent)["status"] == "sent"
    r = post(hook, {"object": "page", "entry": []}, DEFAULT_SECRET)
    assert r.status == 200


def test_sizes_and_bad_bodies(hook, sent):
    # Meta's batches reach 3 MiB: 2 MiB of statuses is accepted.
    pad = [st("wamid.none%06d" % i, "delivered") for i in range(16000)]
    body = json.dumps(status_payload(sent.phone, pad)).encode()
    assert 1 << 20 < len(body) < 3 << 20
    r = post(hook, body, sent.secret)
    assert r.status == 200, r
    big = b"{" + b" " * (3 << 20) + b"}"
    assert_error(post(hook, big, sent.secret), 413, "PAYLOAD_TOO_LARGE")
    assert_error(post(hook, b"{nope", sent.secret), 400, "BAD_REQUEST")


def test_sandbox_signed_webhook(stack, hook, sent, sandbox):
    """The sandbox signs like Meta; its webhooks are accepted."""
    out = sandbox.ctl("POST", "webhook", {
        "url": "http://127.0.0.1:%d/api/v1/whatsapp/webhook" % hook,
        "app_secret": sent.secret, "phone_number_id": sent.phone,
        "statuses": [{"id": sent.wamid, "status": "read",
                      "recipient_id": "4915112345678"}]})
    assert out["status"] == 200, out
    assert message(sent)["status"] == "read"
