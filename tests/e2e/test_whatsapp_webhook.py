"""Meta's webhooks: the subscription check, signatures over the raw body
(per account app secret, else the configured default), and statuses
applied to outbound messages: never backwards, failures with Meta's error,
a message left 'sending' resolved by its biz_opaque_callback_data, events
written, unknown phone numbers acknowledged and ignored."""
import hashlib
import hmac
import json

import pytest

from conftest import WEBHOOK_DEFAULT_SECRET as DEFAULT_SECRET
from conftest import WEBHOOK_VERIFY as VERIFY
from conftest import (assert_error, assert_ok, events, http_request,
                      inbound_payload, msg, post)

# The `hook` fixture (a server with a verify token and a default app
# secret) is conftest's.


def post_ok(port, body, secret):
    """A signed POST that must be taken (200)."""
    r = post(port, body, secret)
    assert r.status == 200, r
    return r


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
    post_ok(hook, status_payload(sent.phone, [st(sent.wamid, "read")]),
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
    post_ok(hook, status_payload(sent.phone, [st(sent.wamid, "delivered")]),
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
    post_ok(hook, status_payload(sent.phone, [st(
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


# --------------------------------------------------------------------------
# Inbound messages


@pytest.fixture
def acct(stack, make_tenant):
    t = make_tenant()
    k = t.key()
    phone = stack.unique("8802")
    k.secret = "in-secret-" + phone
    k.account = stack.admin_json(
        "account", "create", "--tenant", t.id, "--phone-number-id", phone,
        "--waba-id", "1", "--display-phone", "+15550783881",
        "--access-token", "tok", "--app-secret", k.secret)
    k.phone = phone
    return k


def stored(stack, key, wamid):
    """The key's tenant's message with this wamid (exactly one)."""
    rows = stack.sql_root("SELECT id FROM messages WHERE tenant_id = %d AND "
                          "wamid = '%s'" % (key.tenant.id, wamid),
                          database="wazera")
    assert len(rows) == 1, rows
    return assert_ok(key("GET", "/messages/%s" % rows[0][0]))


def test_inbound_text_creates_contact_conversation_message(stack, hook, acct):
    body = inbound_payload(acct.phone, [msg(
        "wamid.in1" + acct.phone, "16505551234", "text",
        {"body": "Does it come in another color?"})],
        {"16505551234": "Sheena Nelson"})
    r = post(hook, body, acct.secret)
    assert r.status == 200, r
    m = stored(stack, acct, "wamid.in1" + acct.phone)
    assert m["direction"] == "inbound" and m["status"] == "received"
    assert m["type"] == "text"
    assert m["content"] == {"body": "Does it come in another color?"}
    c = assert_ok(acct("GET", "/contacts/%d" % m["contact_id"]))
    assert c["phone"] == "+16505551234" and c["name"] == "Sheena Nelson"
    ev = events(stack, acct.tenant.id)
    types = [t for t, _ in ev]
    assert types == ["contact.created", "conversation.created",
                     "message.received"]
    # Each event's data is the resource as the API shows it.
    assert ev[0][1] == c
    conv = assert_ok(acct("GET", "/conversations/%d" % m["conversation_id"]))
    del conv["messages"]
    assert ev[1][1] == conv
    assert ev[2][1] == m
    # Meta delivers duplicates: the same wamid again changes nothing.
    assert post(hook, body, acct.secret).status == 200
    assert [t for t, _ in events(stack, acct.tenant.id)] == types
    n = stack.sql_root("SELECT COUNT(*) FROM messages WHERE tenant_id = %d"
                       % acct.tenant.id, database="wazera")
    assert n == [["1"]]
    # The contact is searchable by phone.
    found = assert_ok(acct("GET", "/contacts?search=6505551"))
    assert [x["id"] for x in found] == [c["id"]]


@pytest.mark.parametrize("type_,obj,extra,content", [
    ("image", {"id": "m1", "mime_type": "image/jpeg", "sha256": "abc",
               "caption": "look"}, {},
     {"id": "m1", "mime_type": "image/jpeg", "sha256": "abc",
      "caption": "look"}),
    ("document", {"id": "m2", "mime_type": "application/pdf", "sha256": "d",
                  "filename": "a.pdf"}, {},
     {"id": "m2", "mime_type": "application/pdf", "sha256": "d",
      "filename": "a.pdf"}),
    ("audio", {"id": "m3", "mime_type": "audio/ogg"}, {},
     {"id": "m3", "mime_type": "audio/ogg"}),
    ("location", {"latitude": 1.5, "longitude": 2.5, "name": "X"}, {},
     {"latitude": 1.5, "longitude": 2.5, "name": "X"}),
    ("contacts", [{"name": {"formatted_name": "J"}}], {},
     {"contacts": [{"name": {"formatted_name": "J"}}]}),
    ("interactive", {"type": "button_reply",
                     "button_reply": {"id": "yes", "title": "Yes"}},
     {"context": {"from": "15550783881", "id": "wamid.orig"}},
     {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"},
      "context": {"from": "15550783881", "id": "wamid.orig"}}),
    ("interactive", {"type": "list_reply", "list_reply": {
        "id": "x", "title": "X", "description": "d"}}, {},
     {"type": "list_reply", "list_reply": {"id": "x", "title": "X",
                                           "description": "d"}}),
    ("button", {"payload": "STOP", "text": "Stop promotions"}, {},
     {"payload": "STOP", "text": "Stop promotions"}),
    ("reaction", {"message_id": "wamid.o", "emoji": "\U0001F600"}, {},
     {"message_id": "wamid.o", "emoji": "\U0001F600"}),
    ("unsupported", None, {"errors": [{"code": 131051, "title": "Message "
                                       "type unknown"}]},
     {"errors": [{"code": 131051, "title": "Message type unknown"}]}),
])
def test_inbound_types(stack, hook, acct, type_, obj, extra, content):
    wamid = "wamid.%s.%s" % (type_, stack.unique("t"))
    r = post(hook, inbound_payload(acct.phone, [msg(
        wamid, "4915100000001", type_, obj, **extra)]), acct.secret)
    assert r.status == 200, r
    m = stored(stack, acct, wamid)
    assert m["type"] == type_ and m["content"] == content


def test_inbound_batch_with_statuses_in_one_post(stack, hook, acct):
    body = inbound_payload(acct.phone, [
        msg("wamid.b1" + acct.phone, "4915100000011", "text", {"body": "a"}),
        msg("wamid.b2" + acct.phone, "4915100000012", "text", {"body": "b"})])
    body["entry"][0]["changes"][0]["value"]["statuses"] = [
        st("wamid.unknown", "read")]
    body["entry"].append(inbound_payload(acct.phone, [
        msg("wamid.b3" + acct.phone, "4915100000011", "text",
            {"body": "c"})])["entry"][0])
    r = post(hook, body, acct.secret)
    assert r.status == 200 and r.body["data"]["messages"] == 3, r
    a = stored(stack, acct, "wamid.b1" + acct.phone)
    c = stored(stack, acct, "wamid.b3" + acct.phone)
    assert a["conversation_id"] == c["conversation_id"]


def test_closed_conversation_gets_a_new_one(stack, hook, acct):
    post_ok(hook, inbound_payload(acct.phone, [msg(
        "wamid.c1" + acct.phone, "4915100000021", "text", {"body": "1"})]),
        acct.secret)
    first = stored(stack, acct, "wamid.c1" + acct.phone)
    stack.sql_root("UPDATE conversations SET status = 'closed' WHERE id = %d"
                   % first["conversation_id"], database="wazera")
    post_ok(hook, inbound_payload(acct.phone, [msg(
        "wamid.c2" + acct.phone, "4915100000021", "text", {"body": "2"})]),
        acct.secret)
    second = stored(stack, acct, "wamid.c2" + acct.phone)
    assert second["conversation_id"] != first["conversation_id"]
    assert second["contact_id"] == first["contact_id"]


def test_opt_out_keywords(stack, hook, acct):
    def say(i, text):
        post_ok(hook, inbound_payload(acct.phone, [msg(
            "wamid.o%d%s" % (i, acct.phone), "4915100000031", "text",
            {"body": text})]), acct.secret)
        rows = stack.sql_root("SELECT opted_out FROM contacts WHERE "
                              "tenant_id = %d AND phone = '+4915100000031'" %
                              acct.tenant.id, database="wazera")
        return rows[0][0] == "1"

    assert say(1, "hello") is False
    assert say(2, "  Stop ") is True
    assert say(3, "stop it") is True      # not alone: no change
    assert say(4, "START") is False
    assert say(5, "unsubscribe") is True
    updates = [d for t, d in events(stack, acct.tenant.id)
               if t == "contact.updated"]
    assert [u["opted_out"] for u in updates] == [True, False, True]


def test_profile_name_names_a_nameless_contact(stack, hook, acct):
    """A contact made by a send (no name) takes the customer's profile name
    from their first message, with contact.updated and findable by it in a
    search; a name an agent gave is kept."""
    assert_ok(acct("POST", "/messages/send", {
        "to": "+4915100000051", "whatsapp_account_id": acct.account["id"],
        "type": "template", "content": {"name": "hello_world"}}), 201)
    named = acct.create_contact(phone="+4915100000052", name="Agent's name")
    post_ok(hook, inbound_payload(acct.phone, [
        msg("wamid.pn1" + acct.phone, "4915100000051", "text", {"body": "a"}),
        msg("wamid.pn2" + acct.phone, "4915100000052", "text", {"body": "b"}),
    ], {"4915100000051": "Zoltan Quimby", "4915100000052": "Someone"}),
         acct.secret)
    found = assert_ok(acct("GET", "/contacts?search=Quimby"))
    assert [(c["phone"], c["name"]) for c in found] == [
        ("+4915100000051", "Zoltan Quimby")]
    assert assert_ok(acct("GET", "/contacts/%d" % named["id"]))["name"] == \
        "Agent's name"
    updates = [d for t, d in events(stack, acct.tenant.id)
               if t == "contact.updated"]
    assert [(u["phone"], u["name"]) for u in updates] == [
        ("+4915100000051", "Zoltan Quimby")]
    # Once named, a different profile name changes nothing.
    post_ok(hook, inbound_payload(acct.phone, [msg(
        "wamid.pn3" + acct.phone, "4915100000051", "text", {"body": "c"})],
        {"4915100000051": "Z. Q."}), acct.secret)
    assert len([t for t, _ in events(stack, acct.tenant.id)
                if t == "contact.updated"]) == 1


def test_inbound_unknown_number_ignored(stack, hook, acct):
    r = post(hook, inbound_payload("999000222", [msg(
        "wamid.u1" + acct.phone, "4915100000041", "text", {"body": "x"})]),
        DEFAULT_SECRET)
    assert r.status == 200
    assert r.body["data"] == {"messages": 0, "statuses": 0}, r
    # Stored in no tenant at all (the wamid is this test's own).
    assert stack.sql_root("SELECT COUNT(*) FROM messages WHERE wamid = "
                          "'wamid.u1%s'" % acct.phone,
                          database="wazera") == [["0"]]


def test_racing_first_messages_and_redeliveries(stack, hook, acct):
    """A new customer's first messages arriving in parallel POSTs make one
    contact and one conversation, none refused; a message Meta delivers
    several times at once (here STOP, from a named contact) is stored once,
    with one message.received and one contact.updated."""
    from conftest import run_parallel

    def go(body):
        return post(hook, body, acct.secret).status

    firsts = [inbound_payload(acct.phone, [msg(
        "wamid.race%d%s" % (i, acct.phone), "4915100000061", "text",
        {"body": "hi %d" % i})], {"4915100000061": "Racer"})
        for i in range(8)]
    assert run_parallel(go, firsts) == [200] * 8
    rows = stack.sql_root(
        "SELECT COUNT(DISTINCT contact_id), COUNT(DISTINCT conversation_id), "
        "COUNT(*) FROM messages WHERE tenant_id = %d" % acct.tenant.id,
        database="wazera")
    assert rows == [["1", "1", "8"]]

    stop = inbound_payload(acct.phone, [msg(
        "wamid.stop" + acct.phone, "4915100000061", "text",
        {"body": "STOP"})], {"4915100000061": "Racer"})
    assert run_parallel(go, [stop] * 6) == [200] * 6
    types = [t for t, _ in events(stack, acct.tenant.id)]
    assert types.count("contact.created") == 1
    assert types.count("conversation.created") == 1
    assert types.count("message.received") == 9
    assert types.count("contact.updated") == 1
    c = stack.sql_root("SELECT opted_out FROM contacts WHERE tenant_id = %d"
                       % acct.tenant.id, database="wazera")
    assert c == [["1"]]


def test_user_known_only_by_bsuid_is_acknowledged(stack, hook, acct):
    """From 2026 Meta may leave the phone number out for users with a
    username (from_user_id only): no contact can be found or made by
    phone, so the message is acknowledged (Meta must not retry it), logged
    and not stored; the others in the same payload are."""
    body = inbound_payload(acct.phone, [
        {"from_user_id": "US.13491208655302741918", "id":
         "wamid.bsuid" + acct.phone, "timestamp": "1749416383",
         "type": "text", "text": {"body": "hi"}},
        msg("wamid.bsok" + acct.phone, "4915100000071", "text",
            {"body": "hello"})])
    r = post(hook, body, acct.secret)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 1, "statuses": 0}
    rows = stack.sql_root("SELECT wamid FROM messages WHERE tenant_id = %d"
                          % acct.tenant.id, database="wazera")
    assert rows == [["wamid.bsok" + acct.phone]]


def test_unknown_status_and_long_error_are_taken(stack, hook, sent):
    """A status Wazera does not know is left out (not a 500 that Meta
    would redeliver for a week); a failure's very long title is cut to fit
    and the rest of the payload is applied."""
    r = post(hook, status_payload(sent.phone, [
        st(sent.wamid, "deleted"),
        st(sent.wamid, "failed", errors=[{"code": 131026,
                                          "title": "x" * 400}])]),
        sent.secret)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 0, "statuses": 1}
    got = message(sent)
    assert got["status"] == "failed"
    assert got["error"]["code"] == 131026
    assert got["error"]["title"] == "x" * 255


def test_another_tenants_account_and_messages_are_out_of_reach(
        stack, hook, sent, make_tenant):
    """Tenant isolation on Meta's route: a payload naming one account's
    phone number must be signed with that account's secret (another
    account's is a 401, nothing stored), and a status arriving for one
    account never touches another account's message, not even through
    wz:<id> in biz_opaque_callback_data."""
    other = make_tenant()
    phone = stack.unique("8803")
    secret = "other-secret-" + phone
    stack.admin_json("account", "create", "--tenant", other.id,
                     "--phone-number-id", phone, "--waba-id", "1",
                     "--display-phone", "+15550783882", "--access-token",
                     "tok", "--app-secret", secret)
    # Signed with the other tenant's secret, for this tenant's number.
    body = status_payload(sent.phone, [st(sent.wamid, "read")])
    assert_error(post(hook, body, secret), 401, "AUTHENTICATION_ERROR")
    assert message(sent)["status"] == "sent"
    # Statuses from the other tenant's number (rightly signed) for this
    # tenant's message, by wamid and by callback id: nothing applies.
    stack.sql_root("UPDATE messages SET status = 'sending', wamid = NULL "
                   "WHERE id = %d" % sent.msg["id"], database="wazera")
    r = post_ok(hook, status_payload(phone, [
        st(sent.wamid, "read"),
        st("wamid.Steal" + phone, "delivered",
           biz_opaque_callback_data="wz:%d" % sent.msg["id"])]), secret)
    assert r.body["data"] == {"messages": 0, "statuses": 2}
    m = message(sent)
    assert m["status"] == "sending" and m["wamid"] is None


# --------------------------------------------------------------------------
# Payloads naming several accounts


def new_account(stack, make_tenant, prefix):
    """A tenant, a key, and a WhatsApp account with its own app secret."""
    k = make_tenant().key()
    k.phone = stack.unique(prefix)
    k.secret = "secret-" + k.phone
    k.account = stack.admin_json(
        "account", "create", "--tenant", k.tenant.id, "--phone-number-id",
        k.phone, "--waba-id", "1", "--display-phone", "+15550783881",
        "--access-token", "tok", "--app-secret", k.secret)
    return k


def tenant_rows(stack, tenant_id):
    """Everything a webhook can write for a tenant, to compare."""
    q = {"contacts": "SELECT id, phone, name, opted_out FROM contacts",
         "messages": "SELECT id, direction, status, wamid, error_code "
                     "FROM messages",
         "conversations": "SELECT id, status FROM conversations",
         "events": "SELECT id, type FROM events"}
    return {k: stack.sql_root("%s WHERE tenant_id = %d ORDER BY id" %
                              (v, tenant_id), database="wazera")
            for k, v in q.items()}


@pytest.mark.parametrize("b_first", [False, True],
                         ids=["a_then_b", "b_then_a"])
def test_payload_signed_for_one_tenant_never_writes_into_another(
        stack, hook, make_tenant, b_first):
    """A payload signed with tenant A's app secret whose other entry names
    tenant B's number: A's change is applied, B's is not -- no contact, no
    inbound message, no opt-out, B's queued message not failed through
    wz:<id> -- whichever entry comes first. A secret that signs for
    neither is a 401 and nothing is stored."""
    a = new_account(stack, make_tenant, "8804")
    b = new_account(stack, make_tenant, "8805")
    b_contact = b.create_contact(phone="+4915100000081", name="B's customer")
    queued = assert_ok(b("POST", "/messages/send", {
        "to": "+4915100000082", "whatsapp_account_id": b.account["id"],
        "type": "template", "content": {"name": "hello_world"}}), 201)
    assert queued["status"] == "queued" and queued["wamid"] is None
    a_entry = inbound_payload(a.phone, [msg(
        "wamid.xa" + a.phone, "4915100000083", "text", {"body": "hi A"})],
        {"4915100000083": "Anna"})["entry"][0]
    b_entry = inbound_payload(b.phone, [
        msg("wamid.xb1" + b.phone, "4915100000084", "text", {"body": "hi"}),
        msg("wamid.xb2" + b.phone, "4915100000081", "text",
            {"body": "STOP"})], {"4915100000084": "Intruder"})["entry"][0]
    b_entry["changes"][0]["value"]["statuses"] = [st(
        "wamid.xb3" + b.phone, "failed",
        biz_opaque_callback_data="wz:%d" % queued["id"],
        errors=[{"code": 131026, "title": "Undeliverable"}])]
    body = {"object": "whatsapp_business_account",
            "entry": [b_entry, a_entry] if b_first else [a_entry, b_entry]}
    a_before = tenant_rows(stack, a.tenant.id)
    b_before = tenant_rows(stack, b.tenant.id)

    for secret in (DEFAULT_SECRET, "nobody's-secret"):
        assert_error(post(hook, body, secret), 401, "AUTHENTICATION_ERROR")
    assert tenant_rows(stack, a.tenant.id) == a_before
    assert tenant_rows(stack, b.tenant.id) == b_before

    r = post(hook, body, a.secret)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 1, "statuses": 0}, r
    m = stored(stack, a, "wamid.xa" + a.phone)
    assert m["content"] == {"body": "hi A"}
    c = assert_ok(a("GET", "/contacts/%d" % m["contact_id"]))
    assert c["phone"] == "+4915100000083" and c["name"] == "Anna"
    assert tenant_rows(stack, b.tenant.id) == b_before
    assert assert_ok(b("GET", "/contacts/%d" % b_contact["id"]))[
        "opted_out"] is False
    got = assert_ok(b("GET", "/messages/%d" % queued["id"]))
    assert got["status"] == "queued" and got["wamid"] is None

    # The same bytes signed with B's secret: now B's part applies (so it
    # was a real change above) and A's is left alone.
    a_after = tenant_rows(stack, a.tenant.id)
    r = post(hook, body, b.secret)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 2, "statuses": 1}, r
    assert tenant_rows(stack, a.tenant.id) == a_after
    assert assert_ok(b("GET", "/contacts/%d" % b_contact["id"]))[
        "opted_out"] is True
    assert assert_ok(b("GET", "/messages/%d" % queued["id"]))[
        "status"] == "failed"


def test_account_without_own_secret_is_signed_for_by_the_default(
        stack, hook, make_tenant):
    """An account without its own app secret is verified by the configured
    default; in a payload that also names an account with its own secret,
    each signature applies only its own account's change."""
    a = new_account(stack, make_tenant, "8806")
    c = make_tenant().key()
    c.phone = stack.unique("8807")
    stack.admin_json("account", "create", "--tenant", c.tenant.id,
                     "--phone-number-id", c.phone, "--waba-id", "1",
                     "--display-phone", "+15550783881", "--access-token",
                     "tok")
    body = {"object": "whatsapp_business_account", "entry": [
        inbound_payload(p, [msg("wamid.d" + p, "4915100000091", "text",
                                {"body": "x"})])["entry"][0]
        for p in (a.phone, c.phone)]}
    r = post(hook, body, DEFAULT_SECRET)
    assert r.status == 200 and r.body["data"]["messages"] == 1, r
    stored(stack, c, "wamid.d" + c.phone)
    assert tenant_rows(stack, a.tenant.id)["messages"] == []
    r = post(hook, body, a.secret)
    assert r.status == 200 and r.body["data"]["messages"] == 1, r
    stored(stack, a, "wamid.d" + a.phone)


def test_account_secret_that_cannot_be_opened_verifies_nothing(
        stack, hook, make_tenant):
    """An account with its own app secret that cannot be opened (a sealed
    value damaged, a master key replaced) is not verified by the default
    secret instead: the default's holders cannot write as that account."""
    a = new_account(stack, make_tenant, "8808")
    stack.sql_root("UPDATE whatsapp_accounts SET app_secret_enc = "
                   "REPEAT('x', 60) WHERE id = %d" % a.account["id"],
                   database="wazera")
    body = inbound_payload(a.phone, [msg("wamid.n" + a.phone,
                                         "4915100000093", "text",
                                         {"body": "x"})])
    for secret in (DEFAULT_SECRET, a.secret):
        r = post(hook, body, secret)
        assert r.status == 401, r
    assert tenant_rows(stack, a.tenant.id)["messages"] == []
