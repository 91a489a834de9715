"""Outgoing webhooks, the API side (SPEC 6, /work design of issue 11):
the webhook routes, validation, sealed secrets, the fan-out's delivery
rows, the deliveries log, test ping, redeliver and recover. No spooler
runs here: deliveries stay as the API and the fan-out leave them."""
import base64
import datetime
import json
import re

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
