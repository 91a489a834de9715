"""The messaging API without the spooler: WhatsApp accounts, POST
/messages/send for every type with its validation, the aliases, the
contact and conversation found or created with their events, GET
/messages/{id} and /status, scopes, tenant isolation, idempotency."""
import json
import threading

import pytest

from conftest import assert_error, assert_ok


def make_account(stack, tenant, phone_id=None, mps=None, token="tok-1",
                 app_secret=None):
    args = ["account", "create", "--tenant", tenant.id,
            "--phone-number-id", phone_id or stack.unique("1065403"),
            "--waba-id", "102290129340398", "--display-phone",
            "+1 555 078 %04d" % (stack.counter % 10000),
            "--access-token", token]
    if mps is not None:
        args += ["--mps", mps]
    if app_secret:
        args += ["--app-secret", app_secret]
    return stack.admin_json(*args, config=tenant.config)


@pytest.fixture
def sender(stack, make_tenant):
    t = make_tenant()
    k = t.key()
    k.account = make_account(stack, t)
    return k


def send(key, **body):
    body.setdefault("to", "+4915112345678")
    body.setdefault("whatsapp_account_id", key.account["id"])
    return key("POST", "/messages/send", body)


def events(stack, tenant_id):
    rows = stack.sql_root("SELECT type, data FROM events WHERE tenant_id = %d "
                          "ORDER BY id" % tenant_id, database="wazera")
    return [(t, json.loads(d)) for t, d in rows]


MESSAGE_KEYS = {"id", "conversation_id", "contact_id", "whatsapp_account_id",
                "direction", "type", "content", "status", "wamid", "error",
                "created_at", "updated_at"}


def test_account_create_and_read(stack, make_tenant):
    t = make_tenant()
    acc = make_account(stack, t, mps=1000, app_secret="s3cret")
    assert acc["mps"] == 1000 and acc["display_phone"].startswith("+1555")
    k = t.key(scopes=["account:read"])
    lst = k("GET", "/whatsapp-accounts")
    assert [a["id"] for a in assert_ok(lst)] == [acc["id"]]
    got = assert_ok(k("GET", "/whatsapp-accounts/%d" % acc["id"]))
    assert set(got) == {"id", "display_phone", "phone_number_id", "waba_id",
                        "mps", "created_at"}
    assert "tok-1" not in lst.raw.decode() and "s3cret" not in lst.raw.decode()
    # Secrets are sealed at rest.
    raw = stack.sql_root("SELECT HEX(access_token_enc), HEX(app_secret_enc) "
                         "FROM whatsapp_accounts WHERE id = %d" % acc["id"],
                         database="wazera")[0]
    assert "746F6B2D31" not in raw[0].upper() and len(raw[0]) > 40
    assert raw[1] and "7333637265" not in raw[1].upper()


def test_account_create_errors(stack, make_tenant):
    t = make_tenant()
    p = stack.admin("account", "create", "--tenant", t.id, "--phone-number-id",
                    "123", "--waba-id", "9", "--display-phone", "nope",
                    "--access-token", "x", check=False)
    assert p.returncode != 0 and "display-phone" in p.stderr and not p.stdout
    p = stack.admin("account", "create", "--tenant", 999999,
                    "--phone-number-id", "123", "--waba-id", "9",
                    "--display-phone", "+15550001111", "--access-token", "x",
                    check=False)
    assert p.returncode != 0 and "tenant" in p.stderr
    make_account(stack, t, phone_id="dup-77")
    p = stack.admin("account", "create", "--tenant", t.id, "--phone-number-id",
                    "dup-77", "--waba-id", "9", "--display-phone",
                    "+15550001111", "--access-token", "x", check=False)
    assert p.returncode != 0 and "already" in p.stderr


def test_accounts_tenant_isolation(stack, make_tenant):
    a, b = make_tenant(), make_tenant()
    acc = make_account(stack, a)
    kb = b.key()
    assert_error(kb("GET", "/whatsapp-accounts/%d" % acc["id"]), 404,
                 "RESOURCE_NOT_FOUND")
    assert assert_ok(kb("GET", "/whatsapp-accounts")) == []
    kb.account = acc
    err = assert_error(send(kb, type="text", content={"body": "hi"}), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == ["whatsapp_account_id"]


def test_send_text_creates_contact_and_conversation(stack, sender):
    r = send(sender, type="text", content={"body": "Hello from the API!"})
    m = assert_ok(r, 201)
    assert set(m) == MESSAGE_KEYS
    assert m["status"] == "queued" and m["direction"] == "outbound"
    assert m["content"] == {"body": "Hello from the API!"}
    assert m["wamid"] is None and m["error"] is None
    assert m["created_at"].endswith("Z")
    contact = assert_ok(sender("GET", "/contacts/%d" % m["contact_id"]))
    assert contact["phone"] == "+4915112345678"
    m2 = assert_ok(send(sender, type="text", content={"body": "again"}), 201)
    assert m2["conversation_id"] == m["conversation_id"]
    assert m2["contact_id"] == m["contact_id"]
    assert m2["id"] > m["id"]
    ev = events(sender.stack, sender.tenant.id)
    types = [t for t, _ in ev]
    assert types == ["contact.created", "conversation.created"]
    conv = ev[1][1]
    assert conv["id"] == m["conversation_id"]
    assert conv["contact"] == {"id": m["contact_id"], "name": None,
                               "phone": "+4915112345678"}
    assert conv["status"] == "open"
    assert ev[0][1]["id"] == m["contact_id"]


def test_send_to_existing_contact_keeps_it(sender):
    c = sender.create_contact(name="Ann", phone="+4930111222")
    m = assert_ok(send(sender, to="0049 30 111 222", type="text",
                       content={"body": "x"}), 201)
    assert m["contact_id"] == c["id"]
    ev = events(sender.stack, sender.tenant.id)
    conv = [d for t, d in ev if t == "conversation.created"][0]
    assert conv["contact"]["name"] == "Ann"


def test_get_message_and_status(sender):
    m = assert_ok(send(sender, type="text", content={"body": "hi"}), 201)
    got = assert_ok(sender("GET", "/messages/%d" % m["id"]))
    assert got == m
    st = assert_ok(sender("GET", "/messages/%d/status" % m["id"]))
    assert st == {"id": m["id"], "status": "queued", "wamid": None,
                  "error": None, "updated_at": m["updated_at"]}
    assert_error(sender("GET", "/messages/999999999"), 404,
                 "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("type_,content,stored", [
    ("text", {"body": "hi", "preview_url": True, "junk": 1},
     {"body": "hi", "preview_url": True}),
    ("template", {"name": "hello_world", "language": "en", "components": []},
     {"name": "hello_world", "language": "en", "components": []}),
    ("template", {"name": "order", "language": {"code": "en_US"},
                  "components": [{"type": "body", "parameters": [
                      {"type": "text", "text": "Jo"}]}]},
     {"name": "order", "language": {"code": "en_US"},
      "components": [{"type": "body", "parameters": [
          {"type": "text", "text": "Jo"}]}]}),
    ("template", {"name": "hello_world"},
     {"name": "hello_world", "language": "en", "components": []}),
    ("image", {"link": "https://example.com/a.jpg", "caption": "Receipt"},
     {"link": "https://example.com/a.jpg", "caption": "Receipt"}),
    ("image", {"id": "1037543291543636"}, {"id": "1037543291543636"}),
    ("video", {"link": "https://example.com/v.mp4", "caption": "Demo"},
     {"link": "https://example.com/v.mp4", "caption": "Demo"}),
    ("audio", {"id": 12345}, {"id": "12345"}),
    ("document", {"link": "https://example.com/inv.pdf", "caption": "Invoice",
                  "filename": "invoice.pdf"},
     {"link": "https://example.com/inv.pdf", "caption": "Invoice",
      "filename": "invoice.pdf"}),
    ("sticker", {"id": "abc"}, {"id": "abc"}),
    ("location", {"latitude": 37.758056, "longitude": -122.425332,
                  "name": "META HQ", "address": "1 Hacker Way"},
     {"latitude": 37.758056, "longitude": -122.425332, "name": "META HQ",
      "address": "1 Hacker Way"}),
    ("interactive", {"type": "button", "body": {"text": "Pick one"},
                     "action": {"buttons": [{"type": "reply", "reply": {
                         "id": "yes", "title": "Yes"}}]}},
     {"type": "button", "body": {"text": "Pick one"},
      "action": {"buttons": [{"type": "reply", "reply": {
          "id": "yes", "title": "Yes"}}]}}),
])
def test_send_each_type(sender, type_, content, stored):
    m = assert_ok(send(sender, type=type_, content=content), 201)
    assert m["type"] == type_
    assert m["content"] == stored
    assert assert_ok(sender("GET", "/messages/%d" % m["id"]))["content"] == \
        stored


def test_aliases(sender):
    m = assert_ok(send(sender, type="text", message="flat text"), 201)
    assert m["content"] == {"body": "flat text"}
    r = sender("POST", "/messages/template", {
        "to": "+4915112345678", "whatsapp_account_id": sender.account["id"],
        "content": {"name": "hello_world", "language": "en"}})
    m = assert_ok(r, 201)
    assert m["type"] == "template"
    r = sender("POST", "/messages/template", {
        "to": "+4915112345678", "whatsapp_account_id": sender.account["id"],
        "type": "text", "content": {"body": "x"}})
    assert list(assert_error(r, 422, "VALIDATION_ERROR")["details"]) == \
        ["type"]


@pytest.mark.parametrize("body,fields", [
    ({}, {"to", "whatsapp_account_id", "type"}),
    ({"to": "12", "type": "text", "content": {"body": "x"}}, {"to"}),
    ({"type": "fax", "content": {}}, {"type"}),
    ({"type": "text"}, {"content"}),
    ({"type": "text", "content": "hi"}, {"content"}),
    ({"type": "text", "content": {}}, {"content.body"}),
    ({"type": "text", "content": {"body": ""}}, {"content.body"}),
    ({"type": "text", "content": {"body": "x" * 4097}}, {"content.body"}),
    ({"type": "text", "content": {"body": 5}}, {"content.body"}),
    ({"type": "text", "content": {"body": "x", "preview_url": "yes"}},
     {"content.preview_url"}),
    ({"type": "template", "content": {}}, {"content.name"}),
    ({"type": "template", "content": {"name": "x", "language": {}}},
     {"content.language.code"}),
    ({"type": "template", "content": {"name": "x", "language": 5}},
     {"content.language"}),
    ({"type": "template", "content": {"name": "x", "components": {}}},
     {"content.components"}),
    ({"type": "image", "content": {}}, {"content.link"}),
    ({"type": "image", "content": {"link": "https://a/b", "id": "1"}},
     {"content.link"}),
    ({"type": "image", "content": {"link": "file:///etc/passwd"}},
     {"content.link"}),
    ({"type": "audio", "content": {"id": "1", "caption": "no"}},
     {"content.caption"}),
    ({"type": "image", "content": {"id": "1", "filename": "a.jpg"}},
     {"content.filename"}),
    ({"type": "image", "content": {"id": 0}}, {"content.id"}),
    ({"type": "location", "content": {"latitude": 91, "longitude": 0}},
     {"content.latitude"}),
    ({"type": "location", "content": {"latitude": "1", "longitude": 0}},
     {"content.latitude"}),
    ({"type": "location", "content": {"latitude": 1}}, {"content.longitude"}),
    ({"type": "interactive", "content": {"body": {"text": "x"}}},
     {"content.type"}),
    ({"whatsapp_account_id": "1", "type": "text",
      "content": {"body": "x"}}, {"whatsapp_account_id"}),
    ({"whatsapp_account_id": 999999999, "type": "text",
      "content": {"body": "x"}}, {"whatsapp_account_id"}),
])
def test_send_validation(sender, body, fields):
    full = dict(body)
    if "to" not in body and body:
        full["to"] = "+4915112345678"
    if "whatsapp_account_id" not in body and body:
        full["whatsapp_account_id"] = sender.account["id"]
    before = sender.stack.sql_root(
        "SELECT COUNT(*) FROM messages WHERE tenant_id = %d" %
        sender.tenant.id, database="wazera")
    err = assert_error(sender("POST", "/messages/send", full), 422,
                       "VALIDATION_ERROR")
    assert set(err["details"]) == fields, err
    for msgs in err["details"].values():
        assert msgs and all(isinstance(m, str) and m for m in msgs)
    after = sender.stack.sql_root(
        "SELECT COUNT(*) FROM messages WHERE tenant_id = %d" %
        sender.tenant.id, database="wazera")
    assert before == after


def test_send_bad_json_and_auth(stack, sender):
    assert_error(sender("POST", "/messages/send", "{nope"), 400, "BAD_REQUEST")
    assert_error(stack.request("POST", "/messages/send", {"x": 1}), 401,
                 "AUTHENTICATION_ERROR")
    assert_error(sender("GET", "/messages/send"), 405, "METHOD_NOT_ALLOWED")


def test_scopes(stack, make_tenant):
    t = make_tenant()
    acc = make_account(stack, t)
    reader = t.key(scopes=["messages:read"])
    reader.account = acc
    writer = t.key(scopes=["messages:send"])
    writer.account = acc
    assert_error(send(reader, type="text", content={"body": "x"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    m = assert_ok(send(writer, type="text", content={"body": "x"}), 201)
    assert_error(writer("GET", "/messages/%d" % m["id"]), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_ok(reader("GET", "/messages/%d" % m["id"]))
    assert_ok(reader("GET", "/messages/%d/status" % m["id"]))
    assert_error(writer("GET", "/whatsapp-accounts"), 403,
                 "INSUFFICIENT_PERMISSIONS")


def test_message_tenant_isolation(stack, sender, make_tenant):
    m = assert_ok(send(sender, type="text", content={"body": "x"}), 201)
    other = make_tenant().key()
    assert_error(other("GET", "/messages/%d" % m["id"]), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(other("GET", "/messages/%d/status" % m["id"]), 404,
                 "RESOURCE_NOT_FOUND")


def test_idempotent_send(sender):
    body = {"to": "+4915112345000", "whatsapp_account_id":
            sender.account["id"], "type": "text", "content": {"body": "once"}}
    h = {"Idempotency-Key": "send-1"}
    r1 = sender("POST", "/messages/send", body, headers=h)
    r2 = sender("POST", "/messages/send", body, headers=h)
    assert r1.status == r2.status == 201 and r1.body == r2.body
    n = sender.stack.sql_root("SELECT COUNT(*) FROM messages WHERE "
                              "tenant_id = %d" % sender.tenant.id,
                              database="wazera")[0][0]
    assert n == "1"
    body["content"]["body"] = "twice"
    assert_error(sender("POST", "/messages/send", body, headers=h), 409,
                 "CONFLICT")


def test_concurrent_sends_to_a_new_number(sender):
    """Racing first sends to one new number make one contact and one
    conversation."""
    results = []

    def go(i):
        results.append(send(sender, to="+4917000000%02d" % 7, type="text",
                            content={"body": "n%d" % i}))

    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ms = [assert_ok(r, 201) for r in results]
    assert len({m["contact_id"] for m in ms}) == 1
    assert len({m["conversation_id"] for m in ms}) == 1
    ev = [t for t, _ in events(sender.stack, sender.tenant.id)]
    assert ev.count("contact.created") == 1
    assert ev.count("conversation.created") == 1


def test_parallel_sends_to_many_new_numbers(sender):
    """First sends to different new numbers from several clients never
    fail: no locking read looks for rows that do not exist yet (gap locks
    would deadlock the inserts)."""
    from concurrent.futures import ThreadPoolExecutor

    def go(i):
        return send(sender, to="+49171%07d" % i, type="text",
                    content={"body": "n%d" % i}).status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(go, range(240)))
    assert statuses.count(201) == 240, {s: statuses.count(s)
                                        for s in set(statuses)}
    n = sender.stack.sql_root(
        "SELECT COUNT(DISTINCT contact_id), COUNT(DISTINCT conversation_id), "
        "COUNT(*) FROM messages WHERE tenant_id = %d" % sender.tenant.id,
        database="wazera")[0]
    assert n == ["240", "240", "240"]
