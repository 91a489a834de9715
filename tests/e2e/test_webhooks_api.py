"""Outgoing webhooks, the API side (SPEC 6, /work design of issue 11):
the webhook routes, validation, sealed secrets, the fan-out's delivery
rows, the deliveries log, test ping, redeliver and recover. No spooler
runs here: deliveries stay as the API and the fan-out leave them."""
import base64
import datetime
import json
import re
import threading

import pytest

from conftest import assert_error, assert_ok, sql

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                     r"-[0-9a-f]{12}$")
WEBHOOK_KEYS = {"id", "url", "events", "status", "disabled_reason",
                "created_at", "updated_at"}
DELIVERY_KEYS = {"id", "webhook_id", "event_id", "event", "status",
                 "attempts", "last_status_code", "last_error",
                 "last_attempt_at", "next_attempt_at", "created_at"}
ATTEMPT_KEYS = {"attempted_at", "status_code", "duration_ms", "error",
                "error_class", "response_body"}
# lib/event.c's order, the subscribable ones (SPEC 6).
EVENTS = ["contact.created", "contact.updated", "conversation.created",
          "conversation.closed", "message.received", "message.sent",
          "message.delivered", "message.read", "message.failed",
          "campaign.completed"]
URL = "https://hooks.example.com/wazera"
DISABLED = "Not delivered: the webhook is disabled"


def hook(key, url=URL, events=("contact.created",), **more):
    body = {"url": url, "events": list(events)}
    body.update(more)
    return assert_ok(key("POST", "/webhooks", body), 201)


def invalid(resp, details):
    """A 422 VALIDATION_ERROR whose details are exactly `details`."""
    return assert_error(resp, 422, "VALIDATION_ERROR", details)


def invalid_field(resp, field):
    """A 422 on field alone; its messages."""
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    assert list(err["details"]) == [field], resp
    return err["details"][field]


def assert_webhook_shape(w):
    assert set(w) == WEBHOOK_KEYS, w
    assert isinstance(w["id"], int) and w["id"] > 0
    assert isinstance(w["events"], list) and w["events"]
    assert w["status"] in ("active", "disabled")
    assert RFC3339_Z.match(w["created_at"]), w
    assert RFC3339_Z.match(w["updated_at"]), w


def assert_delivery_shape(d):
    assert set(d) == DELIVERY_KEYS, d
    assert d["status"] in ("pending", "succeeded", "failed")
    assert UUID_V4.match(d["event_id"]), d
    assert RFC3339_Z.match(d["created_at"]), d
    if d["status"] == "pending":
        assert RFC3339_Z.match(d["next_attempt_at"]), d
    else:
        assert d["next_attempt_at"] is None, d


def db_row(stack, query):
    rows = sql(stack, query)
    assert len(rows) == 1, rows
    return rows[0]


def deliveries_of(stack, webhook_id):
    """(id, event type, status, last_error) of the webhook's deliveries."""
    return [(int(i), t, s, None if e == "NULL" else e) for i, t, s, e in
            sql(stack, "SELECT d.id, e.type, d.status, "
                "COALESCE(d.last_error, 'NULL') FROM webhook_deliveries d "
                "JOIN events e ON e.id = d.event_id WHERE d.webhook_id = %d "
                "ORDER BY d.id" % webhook_id)]


# -- create, get, list ------------------------------------------------------

def test_create_generates_a_secret_shown_once(stack, key):
    r = key("POST", "/webhooks", {"url": URL, "events": ["contact.updated",
                                                         "contact.created"]})
    w = assert_ok(r, 201)
    secret = w.pop("secret")
    assert_webhook_shape(w)
    assert w["url"] == URL
    # Stored in lib/event.c's order.
    assert w["events"] == ["contact.created", "contact.updated"]
    assert w["status"] == "active" and w["disabled_reason"] is None
    assert w["created_at"] == w["updated_at"]
    # whsec_ and standard base64 (padded) of 32 random bytes.
    assert re.match(r"^whsec_[A-Za-z0-9+/]{43}=$", secret), secret
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    # Never again: not in GET, not in the list.
    g = assert_ok(key("GET", "/webhooks/%d" % w["id"]))
    assert g == w
    lst = assert_ok(key("GET", "/webhooks"))
    assert lst == [w]
    assert secret not in json.dumps(g) + json.dumps(lst)
    # Stored sealed: nonce and MAC (40 bytes) around the ciphertext, not
    # the plain secret; its webhook_state row was created with it.
    enc_len, plain = db_row(stack, "SELECT LENGTH(secret_enc), "
                            "LOCATE('%s', secret_enc) FROM webhooks WHERE "
                            "id = %d" % (secret[6:20], w["id"]))
    assert int(enc_len) == len(secret) + 40 and plain == "0"
    assert db_row(stack, "SELECT old_secret_enc IS NULL, events, tenant_id "
                  "FROM webhooks WHERE id = %d" % w["id"]) == [
        "1", "contact.created,contact.updated", str(key.tenant.id)]
    assert db_row(stack, "SELECT COUNT(*), MAX(failing_since IS NULL) FROM "
                  "webhook_state WHERE webhook_id = %d" % w["id"]) == \
        ["1", "1"]
    # Two creates, two secrets.
    w2 = hook(key)
    assert w2["secret"] != secret


def test_create_with_given_secret_and_every_event(stack, key):
    for secret in ("my-secret-1", "whsec_" + base64.b64encode(
            b"k" * 24).decode(), "x", "!" * 255):
        w = hook(key, events=list(reversed(EVENTS)) + EVENTS,
                 secret=secret)
        assert w.pop("secret") == secret
        assert w["events"] == EVENTS    # duplicates collapsed, in order
        enc = db_row(stack, "SELECT LENGTH(secret_enc), HEX(secret_enc) "
                     "FROM webhooks WHERE id = %d" % w["id"])
        assert int(enc[0]) == len(secret) + 40
        if len(secret) >= 8:    # shorter ones may turn up by chance
            assert secret.encode().hex().upper() not in enc[1]


def test_create_null_secret_generates_one(key):
    w = hook(key, secret=None)
    assert w["secret"].startswith("whsec_")


def test_create_disabled(stack, key):
    w = hook(key, status="disabled")
    assert w["status"] == "disabled"
    assert w["disabled_reason"] == "Disabled through the API"


def test_unknown_fields_are_ignored(key):
    w = hook(key, foo="bar", id=99999999, created_at="x")
    assert w["id"] != 99999999 and "foo" not in w


def test_private_and_loopback_urls_are_accepted_at_creation(key):
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/x",
                "http://[::1]:9000/", "http://10.0.0.1/", "HTTPS://Example.COM",
                "http://example.com?x=1", "http://xn--bcher-kva.example/%C3%A4"):
        assert hook(key, url=url)["url"] == url


def test_get_unknown_and_malformed_ids(key):
    assert_error(key("GET", "/webhooks/999999999"), 404, "RESOURCE_NOT_FOUND")
    assert_error(key("GET", "/webhooks/abc"), 404, "RESOURCE_NOT_FOUND")


def test_list_paging_newest_first(key):
    ids = [hook(key, url=URL + "/%d" % i)["id"] for i in range(7)]
    page = key("GET", "/webhooks?per_page=3&page=2")
    assert [w["id"] for w in assert_ok(page)] == ids[::-1][3:6]
    assert page.body["meta"] == {"current_page": 2, "per_page": 3,
                                 "total": 7, "last_page": 3}
    for w in page.body["data"]:
        assert_webhook_shape(w)
        assert "secret" not in w
    last = key("GET", "/webhooks?per_page=3&page=3")
    assert [w["id"] for w in assert_ok(last)] == ids[:1]
    past = key("GET", "/webhooks?per_page=3&page=9")
    assert assert_ok(past) == [] and past.body["meta"]["total"] == 7
    full = key("GET", "/webhooks")
    assert [w["id"] for w in assert_ok(full)] == ids[::-1]
    assert full.body["meta"] == {"current_page": 1, "per_page": 25,
                                 "total": 7, "last_page": 1}
    invalid(key("GET", "/webhooks?per_page=101"), {
        "per_page": ["The per page field must be an integer between 1 and "
                     "100."]})
    invalid(key("GET", "/webhooks?page=0"), {
        "page": ["The page field must be an integer of at least 1."]})


# -- validation -------------------------------------------------------------

def test_url_validation(key):
    ev = ["contact.created"]
    invalid(key("POST", "/webhooks", {"events": ev}),
            {"url": ["The url field is required."]})
    invalid(key("POST", "/webhooks", {"url": None, "events": ev}),
            {"url": ["The url field is required."]})
    invalid(key("POST", "/webhooks", {"url": "", "events": ev}),
            {"url": ["The url field is required."]})
    invalid(key("POST", "/webhooks", {"url": 42, "events": ev}),
            {"url": ["The url field must be a string."]})
    long_url = "https://example.com/" + "a" * (2048 - 20)
    assert len(long_url) == 2048
    assert hook(key, url=long_url)["url"] == long_url
    invalid(key("POST", "/webhooks", {"url": long_url + "a", "events": ev}),
            {"url": ["The url field must not be greater than 2048 "
                     "characters."]})
    absolute = ["The url field must be an absolute http:// or https:// URL."]
    for url in ("ftp://example.com/x", "/relative/path", "example.com/x",
                "https:/example.com", "mailto:a@example.com", "http://",
                "javascript:alert(1)"):
        msgs = invalid_field(key("POST", "/webhooks", {"url": url,
                                                       "events": ev}), "url")
        assert msgs == absolute or msgs == ["The url field must have a "
                                            "host."], (url, msgs)
    for url in ("https://user:pw@example.com/", "http://user@example.com",
                "https://a@b@example.com/x"):
        invalid(key("POST", "/webhooks", {"url": url, "events": ev}),
                {"url": ["The url field must not contain user information "
                         "(user:password@)."]})
    # An @ after the authority (in the path or query) is no user info.
    assert hook(key, url="https://example.com/a@b?c=d@e")
    ascii_msg = ("The url field must be printable ASCII without spaces or "
                 "control characters: percent-encode other characters, and "
                 "write an international domain name in punycode (xn--).")
    for url in ("https://example.com/a b", "https://example.com/\tx",
                "https://exämple.com/", "https://example.com/ä",
                "https://example.com/\x7f", " https://example.com/"):
        invalid(key("POST", "/webhooks", {"url": url, "events": ev}),
                {"url": [ascii_msg]})
    for url in ("https://exa%6dple.com/", "https://[::1/", "https://[zz]/",
                "https://example.com:0/", "https://example.com:65536/",
                "https://example.com:/", "https://example.com:8a/",
                "https://:443/"):
        msgs = invalid_field(key("POST", "/webhooks", {"url": url,
                                                       "events": ev}), "url")
        assert msgs[0] in ("The url field must have a valid host.",
                           "The url field must have a valid port.",
                           "The url field must have a host."), (url, msgs)


def test_events_validation(key):
    def post(events):
        return key("POST", "/webhooks", {"url": URL, "events": events})
    invalid(key("POST", "/webhooks", {"url": URL}),
            {"events": ["The events field is required."]})
    invalid(post([]), {"events": ["The events field must have at least 1 "
                                  "item."]})
    invalid(post("contact.created"),
            {"events": ["The events field must be an array."]})
    invalid(post({"0": "contact.created"}),
            {"events": ["The events field must be an array."]})
    msgs = invalid_field(post(["contact.created", 7]), "events.1")
    assert msgs == ["The events.1 field must be a string."]
    err = assert_error(post(["contact.created", "message.received",
                             "contact.deleted", "webhook.test",
                             "Contact.Created"]), 422, "VALIDATION_ERROR")
    assert sorted(err["details"]) == ["events.2", "events.3", "events.4"]
    for msgs in err["details"].values():
        assert msgs[0].startswith("The selected events.")
        assert "is invalid; the events are " + ", ".join(EVENTS) + "." in \
            msgs[0]
    invalid(post(["contact.created"] * 101), {
        "events": ["The events field must not have more than 100 items."]})
    w = hook(key, events=["message.read", "contact.created", "message.read",
                          "contact.created"])
    assert w["events"] == ["contact.created", "message.read"]


def test_secret_validation(key):
    def post(secret):
        return key("POST", "/webhooks", {"url": URL, "events": EVENTS,
                                         "secret": secret})
    chars = ["The secret field must be printable ASCII without spaces."]
    length = ["The secret field must be between 1 and 255 characters."]
    whsec = ["The secret field starts with whsec_, so the rest must be "
             "base64 (with padding) of 1 to 64 bytes."]
    invalid(post(""), {"secret": length})
    invalid(post("a" * 256), {"secret": length})
    invalid(post(12345), {"secret": ["The secret field must be a string."]})
    for bad in ("with space", "tab\there", "ünïcode", "x\x7f"):
        invalid(post(bad), {"secret": chars})
    for bad in ("whsec_", "whsec_!!!!", "whsec_abc",    # no padding
                "whsec_" + base64.b64encode(b"k" * 65).decode(),
                "whsec_" + base64.b64encode(b"k" * 32).decode() + "!"):
        invalid(post(bad), {"secret": whsec})
    for good in ("whsec_" + base64.b64encode(b"k").decode(),
                 "whsec_" + base64.b64encode(b"k" * 64).decode(),
                 "whsec", "WHSEC_not-base64"):
        assert hook(key, secret=good)["secret"] == good


def test_status_validation_and_several_errors_at_once(key):
    err = assert_error(key("POST", "/webhooks", {
        "url": "ftp://x", "events": [], "secret": " ", "status": "paused"}),
        422, "VALIDATION_ERROR")
    assert sorted(err["details"]) == ["events", "secret", "status", "url"]
    assert err["details"]["status"] == ["The selected status is invalid."]
    w = hook(key)
    invalid(key("PATCH", "/webhooks/%d" % w["id"], {"status": "deleted"}),
            {"status": ["The selected status is invalid."]})
    invalid(key("PATCH", "/webhooks/%d" % w["id"], {"secret": None}),
            {"secret": ["The secret field must be a string."]})
    invalid(key("PUT", "/webhooks/%d" % w["id"], {"url": None}),
            {"url": ["The url field is required."]})
    invalid(key("PUT", "/webhooks/%d" % w["id"], {"events": []}),
            {"events": ["The events field must have at least 1 item."]})
    # Nothing changed by the refused ones.
    w.pop("secret")
    assert assert_ok(key("GET", "/webhooks/%d" % w["id"])) == w
    assert_error(key("POST", "/webhooks", "{not json"), 400, "BAD_REQUEST")
    assert_error(key("POST", "/webhooks", "[1]"), 400, "BAD_REQUEST")


# -- update, delete ---------------------------------------------------------

def test_put_and_patch_replace_what_they_carry(stack, key):
    w = hook(key, secret="first-secret")
    wid = w["id"]
    # Fields absent stay; unknown fields are ignored.
    p = assert_ok(key("PATCH", "/webhooks/%d" % wid,
                      {"url": "http://example.org/new", "foo": 1}))
    assert p["url"] == "http://example.org/new"
    assert p["events"] == ["contact.created"] and p["status"] == "active"
    assert "secret" not in p
    u = assert_ok(key("PUT", "/webhooks/%d" % wid,
                      {"events": ["message.failed", "contact.updated"]}))
    assert u["url"] == "http://example.org/new"
    assert u["events"] == ["contact.updated", "message.failed"]
    assert assert_ok(key("GET", "/webhooks/%d" % wid)) == u
    assert db_row(stack, "SELECT events, old_secret_enc IS NULL FROM webhooks "
                  "WHERE id = %d" % wid) == ["contact.updated,message.failed",
                                             "1"]
    # An empty body changes nothing.
    assert assert_ok(key("PUT", "/webhooks/%d" % wid, {})) == u
    assert_error(key("PUT", "/webhooks/999999999", {"url": URL}), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(key("PATCH", "/webhooks/999999999", {}), 404,
                 "RESOURCE_NOT_FOUND")


def test_secret_rotation_keeps_the_old_one_for_24h(stack, key):
    w = hook(key, secret="first-secret")
    wid = w["id"]
    enc1 = db_row(stack, "SELECT HEX(secret_enc) FROM webhooks WHERE id = %d"
                  % wid)[0]
    # The same secret again: no rotation.
    assert_ok(key("PATCH", "/webhooks/%d" % wid, {"secret": "first-secret"}))
    assert db_row(stack, "SELECT HEX(secret_enc), old_secret_enc IS NULL, "
                  "old_secret_until IS NULL FROM webhooks WHERE id = %d" %
                  wid) == [enc1, "1", "1"]
    r = assert_ok(key("PUT", "/webhooks/%d" % wid, {"secret": "second-secret"}))
    assert "secret" not in r and "second-secret" not in json.dumps(r)
    enc2, old, until = db_row(
        stack, "SELECT HEX(secret_enc), HEX(old_secret_enc), "
        "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), old_secret_until) "
        "FROM webhooks WHERE id = %d" % wid)
    assert old == enc1 and enc2 != enc1
    assert len(enc2) == 2 * (len("second-secret") + 40)
    # 24 h (the session's time_scale is 1), less the seconds this took.
    assert 86400 - 60 <= int(until) <= 86400, until


def test_delete_is_soft_and_final(stack, key):
    keep = hook(key)
    w = hook(key)
    wid = w["id"]
    d = assert_ok(key("DELETE", "/webhooks/%d" % wid))
    assert d == {"id": wid, "deleted": True}
    assert db_row(stack, "SELECT status FROM webhooks WHERE id = %d" %
                  wid) == ["deleted"]
    for method, path, body in [
            ("GET", "/webhooks/%d", None), ("PUT", "/webhooks/%d", {}),
            ("PATCH", "/webhooks/%d", {"status": "active"}),
            ("DELETE", "/webhooks/%d", None),
            ("GET", "/webhooks/%d/deliveries", None),
            ("POST", "/webhooks/%d/test", {}),
            ("POST", "/webhooks/%d/recover", {"since": iso(-60)})]:
        assert_error(key(method, path % wid, body), 404,
                     "RESOURCE_NOT_FOUND")
    lst = key("GET", "/webhooks")
    assert [x["id"] for x in assert_ok(lst)] == [keep["id"]]
    assert lst.body["meta"]["total"] == 1
    # No fan-out to a deleted webhook.
    key.create_contact(phone="+4915100000701")
    assert deliveries_of(stack, wid) == []
    assert [t for _, t, _, _ in deliveries_of(stack, keep["id"])] == [
        "contact.created"]


def iso(offset_s):
    """An RFC 3339 UTC time offset_s seconds from now."""
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- status, fan-out --------------------------------------------------------

def test_fan_out_to_subscribed_webhooks_only(stack, key):
    sub = hook(key, events=["contact.created"])
    other = hook(key, events=["message.received", "contact.updated"])
    off = hook(key, events=["contact.created"], status="disabled")
    c = key.create_contact(phone="+4915100000702")
    dl = deliveries_of(stack, sub["id"])
    assert [(t, s, e) for _, t, s, e in dl] == [
        ("contact.created", "pending", None)]
    assert deliveries_of(stack, other["id"]) == []
    assert [(t, s, e) for _, t, s, e in deliveries_of(stack, off["id"])] == [
        ("contact.created", "failed", DISABLED)]
    # The delivery as the API shows it: event_id is the event's uuid.
    lst = assert_ok(key("GET", "/webhooks/%d/deliveries" % sub["id"]))
    assert len(lst) == 1
    d = lst[0]
    assert_delivery_shape(d)
    uuid, data = db_row(stack, "SELECT e.uuid, HEX(e.data) FROM "
                        "webhook_deliveries d JOIN events e ON e.id = "
                        "d.event_id WHERE d.id = %d" % d["id"])
    assert d["event_id"] == uuid
    assert json.loads(bytes.fromhex(data)) == c
    assert d["webhook_id"] == sub["id"] and d["event"] == "contact.created"
    assert d["status"] == "pending" and d["attempts"] == 0
    assert d["last_status_code"] is None and d["last_error"] is None
    assert d["last_attempt_at"] is None
    # Detail: the same, attempts[] (none yet) and their count.
    det = assert_ok(key("GET", "/webhooks/%d/deliveries/%d" % (sub["id"],
                                                               d["id"])))
    assert det.pop("attempts") == [] and det.pop("attempt_count") == 0
    d.pop("attempts")
    assert det == d


def test_disable_fails_pending_and_enable_clears_the_reason(stack, key):
    w = hook(key, events=["contact.created", "contact.updated"])
    wid = w["id"]
    c = key.create_contact(phone="+4915100000703")
    assert_ok(key("PATCH", "/contacts/%d" % c["id"], {"name": "X"}))
    assert [s for _, _, s, _ in deliveries_of(stack, wid)] == ["pending"] * 2
    # A failure run the spooler had recorded.
    sql(stack, "UPDATE webhook_state SET failing_since = NOW(3) WHERE "
        "webhook_id = %d" % wid)
    d = assert_ok(key("PUT", "/webhooks/%d" % wid, {"status": "disabled"}))
    assert d["status"] == "disabled"
    assert d["disabled_reason"] == "Disabled through the API"
    assert [(s, e) for _, _, s, e in deliveries_of(stack, wid)] == [
        ("failed", DISABLED)] * 2
    lst = assert_ok(key("GET", "/webhooks/%d/deliveries" % wid))
    assert [(x["status"], x["last_error"], x["next_attempt_at"])
            for x in lst] == [("failed", DISABLED, None)] * 2
    # New events for a disabled webhook: logged as failed at once.
    key.create_contact(phone="+4915100000704")
    assert [s for _, _, s, _ in deliveries_of(stack, wid)] == ["failed"] * 3
    # Disabled again: the reason stays.
    sql(stack, "UPDATE webhooks SET disabled_reason = 'The endpoint "
        "answered 410 Gone' WHERE id = %d" % wid)
    d = assert_ok(key("PATCH", "/webhooks/%d" % wid, {"status": "disabled"}))
    assert d["disabled_reason"] == "The endpoint answered 410 Gone"
    e = assert_ok(key("PATCH", "/webhooks/%d" % wid, {"status": "active"}))
    assert e["status"] == "active" and e["disabled_reason"] is None
    assert db_row(stack, "SELECT failing_since IS NULL FROM webhook_state "
                  "WHERE webhook_id = %d" % wid) == ["1"]
    # Re-enabling replays nothing by itself (recover does).
    assert [s for _, _, s, _ in deliveries_of(stack, wid)] == ["failed"] * 3
    key.create_contact(phone="+4915100000705")
    assert [s for _, _, s, _ in deliveries_of(stack, wid)] == \
        ["failed"] * 3 + ["pending"]


def test_active_to_active_keeps_the_failure_run(stack, key):
    w = hook(key)
    sql(stack, "UPDATE webhook_state SET failing_since = NOW(3) WHERE "
        "webhook_id = %d" % w["id"])
    assert_ok(key("PATCH", "/webhooks/%d" % w["id"], {"status": "active"}))
    assert db_row(stack, "SELECT failing_since IS NULL FROM webhook_state "
                  "WHERE webhook_id = %d" % w["id"]) == ["0"]


# -- deliveries log ---------------------------------------------------------

def make_deliveries(stack, key, wid, n):
    """n new contacts, so n contact.created deliveries for a webhook
    subscribed to them: the webhook's delivery ids, oldest first."""
    for _ in range(n):
        key.create_contact(phone="+49151%07d" % int(stack.unique("")))
    return [i for i, _, _, _ in deliveries_of(stack, wid)]


def test_deliveries_paging_status_filter_and_detail(stack, key):
    w = hook(key)
    wid = w["id"]
    ids = make_deliveries(stack, key, wid, 5)
    assert len(ids) == 5
    sql(stack, "UPDATE webhook_deliveries SET status = 'succeeded', "
        "attempts = 1, last_status_code = 200, last_attempt_at = NOW(), "
        "next_attempt_at = NULL WHERE id IN (%d, %d)" % (ids[0], ids[3]))
    sql(stack, "UPDATE webhook_deliveries SET status = 'failed', "
        "attempts = 2, last_status_code = 500, last_error = 'HTTP 500', "
        "next_attempt_at = NULL WHERE id = %d" % ids[1])
    page = key("GET", "/webhooks/%d/deliveries?per_page=2&page=2" % wid)
    assert [d["id"] for d in assert_ok(page)] == ids[::-1][2:4]
    assert page.body["meta"] == {"current_page": 2, "per_page": 2,
                                 "total": 5, "last_page": 3}
    for d in page.body["data"]:
        assert_delivery_shape(d)
    for status, want in (("succeeded", [ids[3], ids[0]]),
                         ("failed", [ids[1]]),
                         ("pending", [ids[4], ids[2]])):
        r = key("GET", "/webhooks/%d/deliveries?status=%s" % (wid, status))
        got = assert_ok(r)
        assert [d["id"] for d in got] == want, status
        assert {d["status"] for d in got} == {status}
        assert r.body["meta"]["total"] == len(want)
    r = key("GET", "/webhooks/%d/deliveries?status=succeeded&per_page=1&"
            "page=2" % wid)
    assert [d["id"] for d in assert_ok(r)] == [ids[0]]
    assert r.body["meta"]["total"] == 2
    invalid(key("GET", "/webhooks/%d/deliveries?status=done" % wid), {
        "status": ["The selected status is invalid; it must be pending, "
                   "succeeded or failed."]})
    invalid(key("GET", "/webhooks/%d/deliveries?per_page=0" % wid), {
        "per_page": ["The per page field must be an integer between 1 and "
                     "100."]})
    # Detail: attempts oldest first, the latest 100.
    did = ids[1]
    sql(stack, "INSERT INTO webhook_attempts (delivery_id, attempted_at, "
        "status_code, duration_ms, error_class, error, response) "
        "SELECT %d, NOW(3) - INTERVAL (200 - seq) SECOND, 500, seq, "
        "'http_status', CONCAT('HTTP 500 #', seq), 'oops' "
        "FROM seq_1_to_105" % did)
    sql(stack, "INSERT INTO webhook_attempts (delivery_id, attempted_at, "
        "status_code, duration_ms, error_class, error, response) VALUES "
        "(%d, NOW(3), NULL, 10000, 'timeout', 'Timed out after 10 s', NULL)"
        % did)
    det = assert_ok(key("GET", "/webhooks/%d/deliveries/%d" % (wid, did)))
    att = det["attempts"]
    assert len(att) == 100 and det["attempt_count"] == 2
    for a in att:
        assert set(a) == ATTEMPT_KEYS, a
        assert RFC3339_Z.match(a["attempted_at"])
    assert [a["duration_ms"] for a in att[:-1]] == list(range(7, 106))
    assert att[0] == {"attempted_at": att[0]["attempted_at"],
                      "status_code": 500, "duration_ms": 7,
                      "error": "HTTP 500 #7", "error_class": "http_status",
                      "response_body": "oops"}
    assert att[-1]["status_code"] is None
    assert att[-1]["error_class"] == "timeout"
    assert att[-1]["response_body"] is None
    assert det["status"] == "failed" and det["last_error"] == "HTTP 500"
    assert_error(key("GET", "/webhooks/%d/deliveries/999999999" % wid), 404,
                 "RESOURCE_NOT_FOUND")


# -- test ping, redeliver, recover ------------------------------------------

def test_test_ping(stack, key):
    w = hook(key, events=["message.read"])
    wid = w["id"]
    w.pop("secret")
    r = key("POST", "/webhooks/%d/test" % wid)
    d = assert_ok(r, 202)
    assert_delivery_shape(d)
    assert d["event"] == "webhook.test" and d["status"] == "pending"
    assert d["webhook_id"] == wid and d["attempts"] == 0
    # One attempt, due now; the event's data is the webhook as GET shows it.
    row = db_row(stack, "SELECT e.uuid, HEX(e.data), e.tenant_id, "
                 "d.next_attempt_at <= NOW(3), d.retry_until IS NOT NULL, "
                 "d.retry_until <= NOW(3), d.round_attempts FROM "
                 "webhook_deliveries d JOIN events e ON e.id = d.event_id "
                 "WHERE d.id = %d" % d["id"])
    assert row[0] == d["event_id"]
    assert json.loads(bytes.fromhex(row[1])) == assert_ok(
        key("GET", "/webhooks/%d" % wid)) == w
    assert row[2:] == [str(key.tenant.id), "1", "1", "1", "0"]
    # No fan-out: another webhook of the tenant gets nothing (webhook.test
    # is not subscribable anyway), and the test is in this webhook's log.
    other = hook(key, events=EVENTS)
    assert_ok(key("POST", "/webhooks/%d/test" % wid, {}), 202)
    assert deliveries_of(stack, other["id"]) == []
    assert [t for _, t, _, _ in deliveries_of(stack, wid)] == [
        "webhook.test"] * 2
    assert_error(key("POST", "/webhooks/999999999/test"), 404,
                 "RESOURCE_NOT_FOUND")
    assert_ok(key("PATCH", "/webhooks/%d" % wid, {"status": "disabled"}))
    err = assert_error(key("POST", "/webhooks/%d/test" % wid), 409,
                       "CONFLICT")
    assert err["message"] == "The webhook is disabled; enable it first."


def test_redeliver(stack, key):
    w = hook(key)
    wid = w["id"]
    ids = make_deliveries(stack, key, wid, 3)
    done, failed, pending = ids
    sql(stack, "UPDATE webhook_deliveries SET status = 'succeeded', "
        "attempts = 1, round_attempts = 1, last_status_code = 200, "
        "next_attempt_at = NULL WHERE id = %d" % done)
    sql(stack, "UPDATE webhook_deliveries SET status = 'failed', "
        "attempts = 10, round_attempts = 10, last_status_code = 500, "
        "last_error = 'HTTP 500', next_attempt_at = NULL, round_started_at "
        "= NOW(3) - INTERVAL 2 DAY WHERE id = %d" % failed)
    for did in (done, failed):
        r = key("POST", "/webhooks/%d/deliveries/%d/redeliver" % (wid, did))
        d = assert_ok(r, 202)
        assert_delivery_shape(d)
        assert d["id"] == did and d["status"] == "pending"
        assert d["next_attempt_at"] is not None
        row = db_row(stack, "SELECT next_attempt_at <= NOW(3), "
                     "round_attempts, round_started_at >= NOW(3) - INTERVAL "
                     "1 MINUTE, retry_until <= NOW(3), attempts FROM "
                     "webhook_deliveries WHERE id = %d" % did)
        assert row == ["1", "0", "1", "1", "1" if did == done else "10"]
        g = assert_ok(key("GET", "/webhooks/%d/deliveries/%d" % (wid, did)))
        assert g["status"] == "pending" and g["event_id"] == d["event_id"]
    # Pending already: 409.
    assert_error(key("POST", "/webhooks/%d/deliveries/%d/redeliver" %
                     (wid, pending)), 409, "CONFLICT")
    # Its payload purged by retention: 409.
    sql(stack, "UPDATE webhook_deliveries SET status = 'succeeded', "
        "next_attempt_at = NULL, purged_at = NOW() WHERE id = %d" % pending)
    sql(stack, "UPDATE events e JOIN webhook_deliveries d ON d.event_id = "
        "e.id SET e.data = NULL WHERE d.id = %d" % pending)
    err = assert_error(key("POST", "/webhooks/%d/deliveries/%d/redeliver" %
                           (wid, pending)), 409, "CONFLICT")
    assert "retention" in err["message"]
    assert deliveries_of(stack, wid)[2][2] == "succeeded"
    assert_error(key("POST", "/webhooks/%d/deliveries/999999999/redeliver" %
                     wid), 404, "RESOURCE_NOT_FOUND")
    # A disabled webhook: 409, nothing changed.
    sql(stack, "UPDATE webhook_deliveries SET status = 'failed', "
        "next_attempt_at = NULL WHERE id = %d" % done)
    assert_ok(key("PATCH", "/webhooks/%d" % wid, {"status": "disabled"}))
    err = assert_error(key("POST", "/webhooks/%d/deliveries/%d/redeliver" %
                           (wid, done)), 409, "CONFLICT")
    assert err["message"] == "The webhook is disabled; enable it first."
    assert deliveries_of(stack, wid)[0][2] == "failed"


def test_recover(stack, key):
    w = hook(key)
    wid = w["id"]
    other = hook(key)
    ids = make_deliveries(stack, key, wid, 5)
    oids = [i for i, _, _, _ in deliveries_of(stack, other["id"])]
    # old: failed 3 days ago; f1, f2: failed lately; purged: failed, no
    # data; ok: succeeded. The other webhook's are all failed.
    old, f1, f2, purged, ok = ids
    sql(stack, "UPDATE webhook_deliveries SET status = 'failed', "
        "next_attempt_at = NULL, round_attempts = 10, last_error = 'HTTP 500'"
        " WHERE id IN (%s)" % ",".join(map(str, [old, f1, f2, purged] +
                                               oids)))
    sql(stack, "UPDATE webhook_deliveries SET created_at = UTC_TIMESTAMP() - "
        "INTERVAL 3 DAY WHERE id = %d" % old)
    sql(stack, "UPDATE webhook_deliveries SET status = 'succeeded', "
        "next_attempt_at = NULL WHERE id = %d" % ok)
    sql(stack, "UPDATE events e JOIN webhook_deliveries d ON d.event_id = "
        "e.id SET e.data = NULL WHERE d.id = %d" % purged)
    path = "/webhooks/%d/recover" % wid
    assert assert_ok(key("POST", path, {"since": iso(-3600)}), 202) == {
        "count": 2}
    st = {i: s for i, _, s, _ in deliveries_of(stack, wid)}
    assert st == {old: "failed", f1: "pending", f2: "pending",
                  purged: "failed", ok: "succeeded"}
    assert sql(stack, "SELECT round_attempts, retry_until IS NULL, "
               "next_attempt_at <= NOW(3), round_started_at >= NOW(3) - "
               "INTERVAL 1 MINUTE FROM webhook_deliveries WHERE id IN "
               "(%d, %d)" % (f1, f2)) == [["0", "1", "1", "1"]] * 2
    # The other webhook's failed deliveries are not this one's.
    assert {s for _, _, s, _ in deliveries_of(stack, other["id"])} == {
        "failed"}
    # Further back, with an offset: the old one too; none left after.
    since = (datetime.datetime.now(datetime.timezone(
        datetime.timedelta(hours=2))) - datetime.timedelta(days=4))
    assert assert_ok(key("POST", path, {"since": since.isoformat()}),
                     202) == {"count": 1}
    assert assert_ok(key("POST", path, {"since": iso(-13 * 86400)}),
                     202) == {"count": 0}
    # Validation.
    invalid(key("POST", path, {}), {"since": ["The since field is required."]})
    invalid(key("POST", path, {"since": 1234}),
            {"since": ["The since field must be a string."]})
    fmt = ["The since field must be an RFC 3339 time, e.g. "
           "2026-03-15T10:00:00Z."]
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                "2026-01-01", "2026-01-01T00:00:00"):
        invalid(key("POST", path, {"since": bad}), {"since": fmt})
    invalid(key("POST", path, {"since": iso(3600)}),
            {"since": ["The since field must not be in the future."]})
    invalid(key("POST", path, {"since": iso(-15 * 86400)}),
            {"since": ["The since field must be at most 14 days back."]})
    # Disabled: 409.
    assert_ok(key("PATCH", "/webhooks/%d" % wid, {"status": "disabled"}))
    assert_error(key("POST", path, {"since": iso(-60)}), 409, "CONFLICT")


# -- limits, idempotency ----------------------------------------------------

def test_at_most_25_webhooks_per_tenant(stack, key):
    ids = [hook(key, url=URL + "/%d" % i)["id"] for i in range(25)]
    err = assert_error(key("POST", "/webhooks", {"url": URL, "events":
                                                 EVENTS}), 409, "CONFLICT")
    assert "25" in err["message"]
    assert db_row(stack, "SELECT COUNT(*) FROM webhooks WHERE tenant_id = %d"
                  % key.tenant.id) == ["25"]
    # A deleted one frees its place; a disabled one does not.
    assert_ok(key("PATCH", "/webhooks/%d" % ids[0], {"status": "disabled"}))
    assert_error(key("POST", "/webhooks", {"url": URL, "events": EVENTS}),
                 409, "CONFLICT")
    assert_ok(key("DELETE", "/webhooks/%d" % ids[1]))
    hook(key)
    assert_error(key("POST", "/webhooks", {"url": URL, "events": EVENTS}),
                 409, "CONFLICT")


def test_concurrent_creates_respect_the_cap(stack, key):
    """Creates racing for the last places: exactly as many succeed as
    there are places, the others are 409, none fails otherwise."""
    for i in range(22):
        hook(key, url=URL + "/%d" % i)
    results = []

    def create(i):
        results.append(key("POST", "/webhooks", {"url": URL + "/r%d" % i,
                                                 "events": EVENTS}).status)
    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] * 3 + [409] * 5, results
    assert db_row(stack, "SELECT COUNT(*) FROM webhooks WHERE tenant_id = %d"
                  % key.tenant.id) == ["25"]
    assert db_row(stack, "SELECT COUNT(*) FROM webhook_state s JOIN webhooks "
                  "w ON w.id = s.webhook_id WHERE w.tenant_id = %d" %
                  key.tenant.id) == ["25"]


def test_idempotency_key_replays_the_create(stack, key):
    body = {"url": URL, "events": ["contact.created"]}
    h = {"Idempotency-Key": "create-hook-1"}
    first = key("POST", "/webhooks", body, headers=h)
    w = assert_ok(first, 201)
    again = key("POST", "/webhooks", body, headers=h)
    assert assert_ok(again, 201) == w       # the same secret, shown again
    assert again.headers.get("idempotent-replayed") == "true"
    assert db_row(stack, "SELECT COUNT(*) FROM webhooks WHERE tenant_id = %d"
                  % key.tenant.id) == ["1"]
    # The answer kept for the key shows the secret: it is kept sealed, as
    # the secret itself is, never in plain text.
    kept = db_row(stack, "SELECT body FROM idempotency_keys WHERE "
                  "tenant_id = %d AND idem_key = 'create-hook-1'"
                  % key.tenant.id)[0]
    assert kept.startswith("wz-sealed:") and w["secret"] not in kept, kept
    assert w["secret"][len("whsec_"):] not in kept
    assert_error(key("POST", "/webhooks", dict(body, url=URL + "/x"),
                     headers=h), 409, "CONFLICT")
    # A test ping with a key: one delivery, however often it is sent.
    hp = {"Idempotency-Key": "ping-1"}
    p1 = assert_ok(key("POST", "/webhooks/%d/test" % w["id"], headers=hp), 202)
    p2 = assert_ok(key("POST", "/webhooks/%d/test" % w["id"], headers=hp), 202)
    assert p1 == p2 and len(deliveries_of(stack, w["id"])) == 1


# -- auth, scopes, isolation ------------------------------------------------

def all_routes(wid, did):
    return [("GET", "/webhooks", None),
            ("POST", "/webhooks", {"url": URL, "events": EVENTS}),
            ("GET", "/webhooks/%d" % wid, None),
            ("PUT", "/webhooks/%d" % wid, {"url": URL + "/put"}),
            ("PATCH", "/webhooks/%d" % wid, {"url": URL + "/patch"}),
            ("DELETE", "/webhooks/%d" % wid, None),
            ("GET", "/webhooks/%d/deliveries" % wid, None),
            ("GET", "/webhooks/%d/deliveries/%d" % (wid, did), None),
            ("POST", "/webhooks/%d/deliveries/%d/redeliver" % (wid, did), {}),
            ("POST", "/webhooks/%d/test" % wid, {}),
            ("POST", "/webhooks/%d/recover" % wid, {"since": iso(-60)})]


def a_webhook_with_a_delivery(stack, key):
    w = hook(key)
    key.create_contact(phone="+49151%07d" % int(stack.unique("")))
    (did, _, _, _), = deliveries_of(stack, w["id"])
    sql(stack, "UPDATE webhook_deliveries SET status = 'failed', "
        "next_attempt_at = NULL WHERE id = %d" % did)
    return w, did


def test_auth_and_scopes(stack, key, make_tenant):
    w, did = a_webhook_with_a_delivery(stack, key)
    for method, path, body in all_routes(w["id"], did):
        assert_error(stack.request(method, path, body), 401,
                     "AUTHENTICATION_ERROR")
        assert_error(stack.request(method, path, body, key="wz_live_" +
                                   "x" * 40), 401, "AUTHENTICATION_ERROR")
    others = key.tenant.key(scopes=["contacts:read", "contacts:write",
                                    "messages:send", "account:read"])
    for method, path, body in all_routes(w["id"], did):
        err = assert_error(others(method, path, body), 403,
                           "INSUFFICIENT_PERMISSIONS")
        assert "webhooks:manage" in err["message"]
    manage = key.tenant.key(scopes=["webhooks:manage"])
    expect = [200, 201, 200, 200, 200, 200]
    for (method, path, body), status in zip(all_routes(w["id"], did),
                                            expect):
        assert_ok(manage(method, path, body), status)
    # The rest on a live webhook (the one above is deleted now).
    w2, did2 = a_webhook_with_a_delivery(stack, key)
    routes = all_routes(w2["id"], did2)[6:]
    for (method, path, body), status in zip(routes, [200, 200, 202, 202,
                                                     202]):
        assert_ok(manage(method, path, body), status)


def test_isolation(stack, key, make_tenant):
    mine, my_did = a_webhook_with_a_delivery(stack, key)
    mine2, my_did2 = a_webhook_with_a_delivery(stack, key)
    stranger = make_tenant().key()
    theirs, their_did = a_webhook_with_a_delivery(stack, stranger)
    before = sql(stack, "SELECT id, url, events, status, HEX(secret_enc) "
                 "FROM webhooks ORDER BY id")
    before_d = sql(stack, "SELECT id, status, next_attempt_at FROM "
                   "webhook_deliveries ORDER BY id")
    # Their ids through my key, my ids through theirs: 404 on every route
    # that names one (the lists and create name none).
    for k, wid, did in ((key, theirs["id"], their_did),
                        (stranger, mine["id"], my_did)):
        for method, path, body in all_routes(wid, did)[2:]:
            assert_error(k(method, path, body), 404, "RESOURCE_NOT_FOUND")
    # A delivery of another webhook of the same tenant: 404 through this
    # one.
    for method, path, body in all_routes(mine["id"], my_did2)[7:9]:
        assert_error(key(method, path, body), 404, "RESOURCE_NOT_FOUND")
    assert sql(stack, "SELECT id, url, events, status, HEX(secret_enc) FROM "
               "webhooks ORDER BY id") == before
    assert sql(stack, "SELECT id, status, next_attempt_at FROM "
               "webhook_deliveries ORDER BY id") == before_d
    # Lists show only one's own.
    assert {x["id"] for x in assert_ok(key("GET", "/webhooks"))} == {
        mine["id"], mine2["id"]}
    assert [x["id"] for x in assert_ok(stranger("GET", "/webhooks"))] == [
        theirs["id"]]
    # (mine got the second contact's delivery too: both subscribe to it)
    mine_dids = [i for i, _, _, _ in deliveries_of(stack, mine["id"])]
    assert len(mine_dids) == 2 and my_did in mine_dids
    assert [d["id"] for d in assert_ok(key(
        "GET", "/webhooks/%d/deliveries" % mine["id"]))] == mine_dids[::-1]
    # Their events do not reach my webhooks, nor mine theirs.
    stranger.create_contact(phone="+4915100000799")
    assert len(deliveries_of(stack, mine["id"])) == 2
    assert len(deliveries_of(stack, mine2["id"])) == 1
    assert len(deliveries_of(stack, theirs["id"])) == 2


# -- the master key and the time scale ---------------------------------------

def server(stack, name, master_key=None, extra=""):
    conf = stack.write_config(stack.unique(name) + ".conf")
    with open(conf) as f:
        text = f.read()
    if master_key is not None:
        text = text.replace(stack.master_key, master_key)
    with open(conf, "w") as f:
        f.write(text + extra)
    fcgi = stack.start_fcgi(config=conf, workers=1)
    nginx = stack.start_nginx(fcgi.sock)
    return fcgi, nginx


def test_no_master_key_is_503_for_secrets_only(stack, key):
    w = hook(key, secret="kept-secret")
    missing = stack.work + "/no-such-master.key"
    fcgi, nginx = server(stack, "nokeyhooks-", master_key=missing)
    try:
        def call(method, path, body=None):
            return key(method, path, body, port=nginx.port)
        for body in ({"url": URL, "events": EVENTS},
                     {"url": URL, "events": EVENTS, "secret": "given-one"}):
            assert_error(call("POST", "/webhooks", body), 503,
                         "SERVICE_UNAVAILABLE")
        assert_error(call("PATCH", "/webhooks/%d" % w["id"],
                          {"secret": "new-secret"}), 503,
                     "SERVICE_UNAVAILABLE")
        # Validation still comes first; the rest works without the key.
        invalid_field(call("POST", "/webhooks", {"url": "x", "events":
                                                 EVENTS}), "url")
        r = assert_ok(call("PATCH", "/webhooks/%d" % w["id"],
                           {"url": URL + "/moved"}))
        assert r["url"] == URL + "/moved"
        assert_ok(call("GET", "/webhooks"))
        assert_ok(call("POST", "/webhooks/%d/test" % w["id"]), 202)
        assert db_row(stack, "SELECT COUNT(*) FROM webhooks WHERE tenant_id "
                      "= %d" % key.tenant.id) == ["1"]
        with open(fcgi.log) as f:
            log = f.read()
        assert log.count("master key: ") == 1, log     # once per worker
        assert missing in log
        assert log.count("webhook secret: no master key") == 3, log
        for secret in ("given-one", "new-secret", "kept-secret"):
            assert secret not in log
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0


def test_old_secret_window_follows_the_time_scale(stack, key):
    fcgi, nginx = server(stack, "scaledhooks-",
                         extra="[webhooks]\ntime_scale = 0.001\n")
    try:
        w = hook(key, secret="one")
        assert_ok(key("PUT", "/webhooks/%d" % w["id"], {"secret": "two"},
                      port=nginx.port))
        # 24 h x 0.001 = 86.4 s, kept as 86.
        until = db_row(stack, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
                       "old_secret_until) FROM webhooks WHERE id = %d" %
                       w["id"])[0]
        assert 80 <= int(until) <= 86, until
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0
