#!/usr/bin/python3
"""Writes the seed corpora of the newer fuzz targets into
tests/fuzz/corpus/<target>/, from the payloads the tests use (bodies of
tests/e2e/test_messages_api.py, test_whatsapp_webhook.py, test_auth.py,
test_protocol.py; Graph answers of tests/sandbox/graph-sandbox.js and
shared/cloud-api.md). Run it again after changing it; files it does not
name are left alone (crash inputs added by hand stay).

    /usr/bin/python3 tests/fuzz/seeds.py
"""
import json
import os
import struct

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_policy: flags, status, jitter, body -----------------------------

def policy(name, body, status=200, ok=True, maybe_sent=False, jitter=128):
    flags = (1 if ok else 0) | (2 if maybe_sent else 0)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    write("fuzz_policy", name, struct.pack(">BHB", flags, status, jitter) +
          body.encode())


def graph_error(code, title, details=None, subcode=None):
    e = {"message": "(#%d) %s" % (code, title), "type": "OAuthException",
         "code": code}
    if details is not None:
        e["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        e["error_subcode"] = subcode
    e["fbtrace_id"] = "Az8or2yhqkZfEZ-_4Qn_Bam"
    return {"error": e}


policy("sent", {"messaging_product": "whatsapp", "contacts": [
    {"input": "+4915112345678", "wa_id": "4915112345678"}],
    "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NTVGQjc1QjE4RTY1NTlERTYA"}]})
policy("sent_status", {"messaging_product": "whatsapp", "contacts": [
    {"input": "4915112345678", "wa_id": "4915112345678"}],
    "messages": [{"id": "wamid.x", "message_status": "accepted"}]}, 201)
policy("sent_unreadable", "OK", 200)
policy("sent_bad_wamid", {"messages": [{"id": "wamid with blanks"}]})
policy("pair_limit", graph_error(131056, "(Business Account, Consumer Account) "
       "pair rate limit hit", "Message failed to send because there were too "
       "many messages sent from this phone number to the same phone number in "
       "a short period of time.", 2494055), 400)
policy("token", graph_error(190, "Invalid OAuth access token - Cannot parse "
       "access token"), 401)
policy("auth0", graph_error(0, "AuthException"), 401)
policy("mps", graph_error(130429, "Rate limit hit", "Cloud API message "
       "throughput has been reached."), 429)
policy("unknown_5xx", graph_error(999999, "Something new"), 503)
policy("unknown_400", graph_error(131999, "Something new", "details"), 400)
policy("window", graph_error(131047, "Re-engagement message", "Message failed "
       "to send because more than 24 hours have passed since the customer "
       "last replied to this number."), 400)
policy("range", graph_error(250, "Permissions error"), 403)
policy("spam", graph_error(131048, "Spam rate limit hit"), 400)
policy("user_title", {"error": {"message": "Invalid parameter", "code": 100,
                                "error_user_title": "Bad phone",
                                "error_user_msg": "The number is wrong"}}, 400)
policy("unicode", {"error": {"message": "(#131009) Param\u00e8tre \ud83d\ude00",
                             "code": 131009}}, 400)
policy("proxy_502", "<html><body><h1>502 Bad Gateway</h1></body></html>", 502)
policy("empty_504", "", 504)
policy("no_answer", "Operation timed out after 30000 milliseconds",
       0, ok=False, maybe_sent=True)
policy("no_connect", "Failed to connect to graph.facebook.com port 443",
       0, ok=False)
policy("code_string", {"error": {"message": "x", "code": "131056"}}, 400)

# ---- fuzz_whpolicy: attempt, jitter, ms left, then a header / body ------

def whpolicy(name, data, attempt=1, jitter=128, left=86400):
    write("fuzz_whpolicy", name, struct.pack(">BBi", attempt, jitter, left) +
          (data.encode() if isinstance(data, str) else data))


whpolicy("seconds", "120")
whpolicy("date", "Wed, 21 Oct 2015 07:28:00 GMT")
whpolicy("zero-left", "30", left=0)
whpolicy("body", b"\xff\x00\xc3\xbc ok \xf0\x9f\x98\x80", attempt=5)
whpolicy("long", "x" * 2000, attempt=12, left=5)
# The fuzzer's find: a date centuries ahead (the year 2415) was not capped.
whpolicy("far-date", "Wed,1 Oct 241508:28:00 GMT", left=1367424)


# ---- fuzz_placeholder: bound / 16, text, NUL, the contact's name ---------

def placeholder(name, text, contact_name=b"Ana", bound=255):
    write("fuzz_placeholder", name, bytes([bound]) + text.encode() + b"\0" +
          contact_name)


placeholder("plain", "Hello there")
placeholder("name", "Hi {{contact.name|there}}, {{ contact.phone }}!")
placeholder("custom", "{{contact.custom_fields.a}}/{{contact.custom_fields.n}}"
            "/{{contact.custom_fields.b}}/{{contact.custom_fields.z|-}}")
placeholder("missing", "Dear {{contact.email}}")
placeholder("bad", "{{contact.nope}} {{contact.name")
placeholder("long", "{{contact.name}}" * 40, b"x" * 200, bound=8)
placeholder("utf8", "{{contact.custom_fields.\u00e9\u00e9}} \u00fc", b"\xc3\xa9")


# ---- fuzz_scopes -----------------------------------------------------------

scopes = ["messages:send", "messages:read", "contacts:read", "contacts:write",
          "webhooks:manage", "account:read", "conversations:read",
          "conversations:write", "campaigns:read", "campaigns:write"]
write("fuzz_scopes", "all", ",".join(scopes))
write("fuzz_scopes", "spaces", " ".join(scopes[:4]))
write("fuzz_scopes", "auth", "account:read,contacts:read,contacts:write")
write("fuzz_scopes", "one", "messages:send")
write("fuzz_scopes", "mixed", " ,messages:read,, contacts:read ")
write("fuzz_scopes", "bad", "contacts:read,contacts:delete")
write("fuzz_scopes", "empty", "")

# ---- fuzz_content: send bodies ---------------------------------------------

ENV = {"to": "+4915112345678", "whatsapp_account_id": 1}


def send(name, **body):
    b = dict(ENV)
    b.update(body)
    write("fuzz_content", name, b)


BUTTONS = {"type": "button", "body": {"text": "Pick one"},
           "action": {"buttons": [{"type": "reply", "reply": {
               "id": "yes", "title": "Yes"}}]}}
send("text", type="text", content={"body": "hi", "preview_url": True,
                                   "junk": 1})
send("text_flat", type="text", message="flat text")
send("template_en", type="template", content={
    "name": "hello_world", "language": "en", "components": []})
send("template_obj", type="template", content={
    "name": "order", "language": {"code": "en_US", "policy": "deterministic"},
    "components": [{"type": "body", "parameters": [
        {"type": "text", "text": "Jo"}]}]})
send("template_min", type="template", content={"name": "hello_world"})
send("image", type="image", content={"link": "https://example.com/a.jpg",
                                     "caption": "Receipt"})
send("image_id", type="image", content={"id": "1037543291543636"})
send("video", type="video", content={"link": "https://example.com/v.mp4",
                                     "caption": "Demo"})
send("audio_int", type="audio", content={"id": 12345})
send("document", type="document", content={
    "link": "https://example.com/inv.pdf", "caption": "Invoice",
    "filename": "invoice.pdf"})
send("sticker", type="sticker", content={"id": "abc"})
send("location", type="location", content={
    "latitude": 37.758056, "longitude": -122.425332, "name": "META HQ",
    "address": "1 Hacker Way"})
send("interactive", type="interactive", content=BUTTONS)
send("bad_caption", type="audio", content={"id": "1", "caption": "no"})
send("bad_link", type="image", content={"link": "file:///etc/passwd"})
send("bad_lang", type="template", content={"name": "x", "language": {}})
write("fuzz_content", "alias", {"to": "4915112345678",
                                "whatsapp_account_id": 7,
                                "content": {"name": "hello_world",
                                            "language": "en"}})
write("fuzz_content", "empty", {})

# ---- fuzz_metahook_content: Meta's webhook payloads --------------------------


def inbound(messages, contacts=None):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881",
                          "phone_number_id": "106540352242922"},
             "messages": messages}
    if contacts is not None:
        value["contacts"] = contacts
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages",
                                              "value": value}]}]}


def msg(wamid, type_, obj=None, **extra):
    m = {"from": "4915100000001", "id": wamid, "timestamp": "1749416383",
         "type": type_}
    if obj is not None:
        m[type_] = obj
    m.update(extra)
    return m


CTX = {"from": "15550783881", "id": "wamid.orig"}
kinds = [
    ("text", {"body": "STOP"}, {}),
    ("image", {"id": "m1", "mime_type": "image/jpeg", "sha256": "abc",
               "caption": "look"}, {"context": CTX}),
    ("document", {"id": "m2", "mime_type": "application/pdf", "sha256": "d",
                  "filename": "a.pdf"}, {}),
    ("audio", {"id": "m3", "mime_type": "audio/ogg"}, {}),
    ("location", {"latitude": 1.5, "longitude": 2.5, "name": "X"}, {}),
    ("contacts", [{"name": {"formatted_name": "J"}}], {}),
    ("interactive", {"type": "button_reply",
                     "button_reply": {"id": "yes", "title": "Yes"}},
     {"context": CTX}),
    ("button", {"payload": "STOP", "text": "Stop promotions"}, {}),
    ("reaction", {"message_id": "wamid.o", "emoji": "\U0001F600"}, {}),
    ("unsupported", None, {"errors": [{"code": 131051,
                                       "title": "Message type unknown"}]}),
    ("text", {"body": "from an ad"}, {"referral": {
        "source_url": "https://fb.me/x", "source_type": "ad",
        "source_id": "1", "headline": "Hi"}}),
]
for i, (t, obj, extra) in enumerate(kinds):
    write("fuzz_metahook_content", "%02d_%s" % (i, t),
          inbound([msg("wamid.%s.%d" % (t, i), t, obj, **extra)],
                  [{"profile": {"name": "Sheena Nelson"},
                    "wa_id": "4915100000001"}]))
write("fuzz_metahook_content", "batch", inbound(
    [msg("wamid.b%d" % i, t, obj, **extra)
     for i, (t, obj, extra) in enumerate(kinds)]))
write("fuzz_metahook_content", "errors_obj", inbound(
    [msg("wamid.e", "errors", {"code": 1}, errors={"code": 1})]))

# ---- fuzz_params: FastCGI params, NAME=VALUE separated by NUL, then the
# body after a NUL NUL ---------------------------------------------------------


def params(name, pairs, body=b""):
    data = b"\0".join(("%s=%s" % kv).encode() for kv in pairs)
    write("fuzz_params", name, data + b"\0\0" + body)


KEY = "wz_live_0123456789abcdef0123456789abcdef"
SEND = json.dumps(dict(ENV, type="text", content={"body": "hi"})).encode()
params("get_contact", [("REQUEST_METHOD", "GET"),
                       ("REQUEST_URI", "/api/v1/contacts/42?x=1"),
                       ("QUERY_STRING", "x=1"),
                       ("HTTP_AUTHORIZATION", "Bearer " + KEY)])
params("list", [("REQUEST_METHOD", "GET"),
                ("REQUEST_URI", "/api/v1/contacts?page=2&per_page=25&search=J%C3%BC"),
                ("QUERY_STRING", "page=2&per_page=25&search=J%C3%BC"),
                ("HTTP_X_API_KEY", KEY)])
params("send", [("REQUEST_METHOD", "POST"),
                ("REQUEST_URI", "/api/v1/messages/send"),
                ("CONTENT_TYPE", "application/json"),
                ("CONTENT_LENGTH", str(len(SEND))),
                ("HTTP_AUTHORIZATION", "bearer  " + KEY + " \t"),
                ("HTTP_IDEMPOTENCY_KEY", "order-1234")], SEND)
params("script_name", [("REQUEST_METHOD", "PUT"),
                       ("SCRIPT_NAME", "/api/v1"),
                       ("PATH_INFO", "/conversations/7"),
                       ("CONTENT_LENGTH", "17")], b'{"status":"open"}')
params("webhook", [("REQUEST_METHOD", "POST"),
                   ("REQUEST_URI", "/api/v1/whatsapp/webhook"),
                   ("CONTENT_LENGTH", "2"),
                   ("HTTP_X_HUB_SIGNATURE_256", "sha256=" + "ab" * 32)], b"{}")
params("verify", [("REQUEST_METHOD", "GET"),
                  ("REQUEST_URI", "/api/v1/whatsapp/webhook?hub.mode=subscribe"
                   "&hub.verify_token=verify-tok-123&hub.challenge=1158201444"),
                  ("QUERY_STRING", "hub.mode=subscribe&hub.verify_token="
                   "verify-tok-123&hub.challenge=1158201444")])
params("method_405", [("REQUEST_METHOD", "PATCH"),
                      ("REQUEST_URI", "/api/v1/messages/9/status")])
params("too_large", [("REQUEST_METHOD", "POST"),
                     ("REQUEST_URI", "/api/v1/contacts"),
                     ("CONTENT_LENGTH", "99999999999")])
params("bad_url", [("REQUEST_METHOD", "GET"),
                   ("REQUEST_URI", "/api/v1/contacts/%00%ff?q=%zz")])
params("delete_key", [("REQUEST_METHOD", "DELETE"),
                      ("REQUEST_URI", "/api/v1/api-keys/3"),
                      ("HTTP_AUTHORIZATION", "Basic abc")])
params("chunked", [("REQUEST_METHOD", "POST"),
                   ("REQUEST_URI", "/api/v1/contacts"),
                   ("HTTP_TRANSFER_ENCODING", "chunked")],
       b'{"phone":"+4915112345678"}')

# ---- fuzz_jsonbody: request bodies (the round trip) ---------------------------

write("fuzz_jsonbody", "contact_full", {
    "name": "Jane Doe", "phone": "+4915112345678", "email": "jane@example.com",
    "tags": ["vip", "lead"], "custom_fields": {"plan": "gold", "seats": 3,
                                               "trial": False, "ref": None},
    "opted_out": False, "n": -5})
write("fuzz_jsonbody", "numbers", '{"i":9223372036854775807,"j":-9223372036854775808,'
      '"u":18446744073709551615,"d":37.758056,"e":-1.5e-300,"z":-0.0,"x":1E+2}')
write("fuzz_jsonbody", "escapes", '{"s":"a\\u0000b\\ud83d\\ude00\\n\\"\\\\\\/",'
      '"k\\u00e9":"\u00e9\u4e2d","":[[],{},[{}]]}')
write("fuzz_jsonbody", "interactive", dict(ENV, type="interactive",
                                          content=BUTTONS))
