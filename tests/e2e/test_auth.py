"""API keys, scopes, /account/me and /api-keys (SPEC 2)."""
import re
import secrets
import string

import pytest

from conftest import (assert_error, assert_ok, key_expiring_soon,
                      wait_key_expired)

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
KEY_RE = re.compile(r"^wz_live_[0-9A-Za-z]{32,}$")
APIKEY_FIELDS = {"id", "name", "prefix", "scopes", "last_used_at",
                 "created_at", "expires_at"}
B62 = string.ascii_letters + string.digits


def random_key():
    return "wz_live_" + "".join(secrets.choice(B62) for _ in range(40))


def test_admin_key_format(key):
    assert KEY_RE.match(key.key), key.key
    assert key.obj["prefix"] == key.key[:12]


def test_missing_key(stack, key):
    for path in ("/contacts", "/account/me", "/api-keys", "/contacts/1"):
        r = stack.request("GET", path)
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    # A phone no other test uses: any row with it is this POST's.
    phone = "+4915%09d" % secrets.randbelow(10 ** 9)
    r = stack.request("POST", "/contacts", {"phone": phone})
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    # Other schemes, empty values
    for hdrs in ({"Authorization": "Basic dXNlcjpwYXNz"},
                 {"Authorization": "Bearer "},
                 {"Authorization": "Token " + key.key},
                 {"X-API-Key": ""}):
        r = stack.request("GET", "/contacts", headers=hdrs)
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    # Nothing was created by the unauthenticated POST, in any tenant.
    assert stack.sql_root("SELECT COUNT(*) FROM contacts WHERE phone = "
                          "'%s'" % phone, database="wazera") == [["0"]]


# Every authenticated route of app/fcgi/router.c with its scope: without a
# key it is 401 before anything else; with a key lacking its scope, 403.
ROUTES = [
    ("GET", "/account/me", None, "account:read"),
    ("GET", "/api-keys", None, "account:read"),
    ("DELETE", "/api-keys/1", None, None),      # unrestricted keys only
    ("GET", "/contacts", None, "contacts:read"),
    ("POST", "/contacts", {"phone": "+4915112340001"}, "contacts:write"),
    ("POST", "/contacts/create", {"phone": "+4915112340002"},
     "contacts:write"),
    ("GET", "/contacts/1", None, "contacts:read"),
    ("PUT", "/contacts/1", {"name": "x"}, "contacts:write"),
    ("PATCH", "/contacts/1", {"name": "x"}, "contacts:write"),
    ("DELETE", "/contacts/1", None, "contacts:write"),
    ("GET", "/whatsapp-accounts", None, "account:read"),
    ("GET", "/whatsapp-accounts/1", None, "account:read"),
    ("POST", "/messages/send", {"to": "+4915112340003"}, "messages:send"),
    ("POST", "/messages/template", {"to": "+4915112340004"},
     "messages:send"),
    ("GET", "/messages/1", None, "messages:read"),
    ("GET", "/messages/1/status", None, "messages:read"),
    ("GET", "/conversations", None, "conversations:read"),
    ("GET", "/conversations/1", None, "conversations:read"),
    ("PUT", "/conversations/1", {"status": "closed"}, "conversations:write"),
    ("PATCH", "/conversations/1", {"status": "closed"},
     "conversations:write"),
    ("GET", "/conversations/1/messages", None, "conversations:read"),
    ("GET", "/users", None, "account:read"),
    ("GET", "/webhooks", None, "webhooks:manage"),
    ("POST", "/webhooks", {"url": "https://example.com/h",
                           "events": ["contact.created"]}, "webhooks:manage"),
    ("GET", "/webhooks/1", None, "webhooks:manage"),
    ("PUT", "/webhooks/1", {"status": "disabled"}, "webhooks:manage"),
    ("PATCH", "/webhooks/1", {"status": "disabled"}, "webhooks:manage"),
    ("DELETE", "/webhooks/1", None, "webhooks:manage"),
    ("GET", "/webhooks/1/deliveries", None, "webhooks:manage"),
    ("GET", "/webhooks/1/deliveries/1", None, "webhooks:manage"),
    ("POST", "/webhooks/1/deliveries/1/redeliver", None, "webhooks:manage"),
    ("POST", "/webhooks/1/test", None, "webhooks:manage"),
    ("POST", "/webhooks/1/recover", {"since": "2026-01-01T00:00:00Z"},
     "webhooks:manage"),
    ("GET", "/segments", None, "campaigns:read"),
    ("POST", "/segments", {"name": "s", "filter": {"tags": []}},
     "campaigns:write"),
    ("GET", "/segments/1", None, "campaigns:read"),
    ("PUT", "/segments/1", {"name": "s"}, "campaigns:write"),
    ("PATCH", "/segments/1", {"name": "s"}, "campaigns:write"),
    ("DELETE", "/segments/1", None, "campaigns:write"),
    ("GET", "/campaigns", None, "campaigns:read"),
    ("POST", "/campaigns", {"name": "c"}, "campaigns:write"),
    ("GET", "/campaigns/1", None, "campaigns:read"),
    ("POST", "/campaigns/1/cancel", None, "campaigns:write"),
    ("GET", "/campaigns/1/recipients", None, "campaigns:read"),
]


@pytest.mark.parametrize("method,path,body,scope", ROUTES,
                         ids=["%s %s" % (m, p) for m, p, _, _ in ROUTES])
def test_every_route_needs_a_key_and_its_scope(stack, make_tenant, method,
                                               path, body, scope):
    assert_error(stack.request(method, path, body), 401,
                 "AUTHENTICATION_ERROR")
    assert_error(stack.request(method, path, body, key=random_key()), 401,
                 "AUTHENTICATION_ERROR")
    # A key with some other scope only.
    other = "contacts:read" if scope == "campaigns:read" else \
        "campaigns:read"
    k = make_tenant().key(scopes=[other])
    err = assert_error(k(method, path, body), 403,
                       "INSUFFICIENT_PERMISSIONS")
    assert (scope or "scope restrictions") in err["message"]


@pytest.mark.parametrize("bad", [
    "abc", "wz_live_", "wz_live_short", "wz_test_" + "a" * 40,
    "wz_live_" + "!" * 40, "WZ_LIVE_" + "a" * 40,
])
def test_malformed_key(stack, bad):
    r = stack.request("GET", "/contacts", key=bad)
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    r = stack.request("GET", "/contacts", key=bad, auth="x-api-key")
    assert_error(r, 401, "AUTHENTICATION_ERROR")


def test_unknown_key(stack, key):
    for _ in range(3):
        r = stack.request("GET", "/contacts", key=random_key())
        assert_error(r, 401, "AUTHENTICATION_ERROR")
    # A real key with one character changed.
    k = key.key
    other = k[:-1] + ("A" if k[-1] != "A" else "B")
    assert_error(stack.request("GET", "/contacts", key=other), 401,
                 "AUTHENTICATION_ERROR")
    # A real key with extra characters appended.
    assert_error(stack.request("GET", "/contacts", key=k + "x"), 401,
                 "AUTHENTICATION_ERROR")


def test_bearer_and_x_api_key(stack, key):
    assert_ok(key("GET", "/account/me"))
    assert_ok(key("GET", "/account/me", auth="x-api-key"))
    assert_ok(stack.request("GET", "/account/me",
                            headers={"Authorization": "bearer " + key.key}))
    assert_ok(stack.request("GET", "/account/me",
                            headers={"Authorization": "Bearer " + key.key,
                                     "X-API-Key": random_key()}))


def test_revoked_by_admin(stack, make_tenant):
    t = make_tenant()
    k1, k2 = t.key(), t.key()
    assert_ok(k1("GET", "/contacts"))
    k1.revoke()
    for _ in range(3):   # whichever worker answers
        assert_error(k1("GET", "/contacts"), 401, "KEY_REVOKED")
        assert_error(k1("POST", "/contacts", {"phone": "+4915112345678"}),
                     401, "KEY_REVOKED")
        assert_error(k1("GET", "/contacts", auth="x-api-key"), 401,
                     "KEY_REVOKED")
    # The tenant's other key is unaffected and nothing was created.
    r = k2("GET", "/contacts")
    assert assert_ok(r) == []


def test_revoked_by_api(stack, make_tenant):
    t = make_tenant()
    admin, victim, scoped = t.key(name="admin"), t.key(name="victim"), \
        t.key(scopes=["account:read", "contacts:read", "contacts:write"])
    for _ in range(4):   # warm whatever per-worker state there is
        assert_ok(victim("GET", "/contacts"))
    # A key with scopes may not revoke, even with every listed scope.
    assert_error(scoped("DELETE", "/api-keys/%d" % victim.id), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_ok(victim("GET", "/contacts"))
    r = admin("DELETE", "/api-keys/%d" % victim.id)
    d = assert_ok(r)
    assert d == {"id": victim.id, "deleted": True, "revoked": True}
    for _ in range(4):
        assert_error(victim("GET", "/contacts"), 401, "KEY_REVOKED")
    # Revoking again is still fine; unknown ids are 404.
    assert assert_ok(admin("DELETE", "/api-keys/%d" % victim.id))["id"] == \
        victim.id
    assert_error(admin("DELETE", "/api-keys/987654321"), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(admin("DELETE", "/api-keys/abc"), 404, "RESOURCE_NOT_FOUND")
    # The revoked key stays listed, with revoked_at.
    keys = {k["id"]: k for k in assert_ok(admin("GET", "/api-keys"))}
    assert RFC3339_Z.match(keys[victim.id]["revoked_at"])
    assert keys[admin.id]["revoked_at"] is None
    # A key may revoke itself; then it is dead.
    assert_ok(admin("DELETE", "/api-keys/%d" % admin.id))
    assert_error(admin("GET", "/account/me"), 401, "KEY_REVOKED")


def test_expired_key(make_tenant):
    t = make_tenant()
    past = t.key(expires_at="2020-01-01T00:00:00Z")
    assert past.obj["expires_at"] == "2020-01-01T00:00:00Z"
    assert_error(past("GET", "/contacts"), 401, "KEY_REVOKED")
    assert_error(past("GET", "/account/me", auth="x-api-key"), 401,
                 "KEY_REVOKED")
    future = t.key(expires_at="2099-12-31T23:59:59Z")
    assert_ok(future("GET", "/contacts"))
    offset = t.key(expires_at="2099-06-01T12:00:00+02:00")
    assert offset.obj["expires_at"] == "2099-06-01T10:00:00Z"
    keys = {k["id"]: k for k in assert_ok(future("GET", "/api-keys"))}
    assert keys[past.id]["expires_at"] == "2020-01-01T00:00:00Z"
    assert keys[future.id]["expires_at"] == "2099-12-31T23:59:59Z"
    assert keys[offset.id]["expires_at"] == "2099-06-01T10:00:00Z"


def test_key_expiring_while_in_use(stack, make_tenant):
    """Expiry is seen on the first request after it, even by a worker that
    served the key a moment ago. The expiry is set on the database's clock
    once the key exists, and the requests before it count only when the
    database's clock, read after them, was still clear of it."""
    t = make_tenant()
    k, before = key_expiring_soon(
        stack, t, lambda k: [k("GET", "/contacts") for _ in range(8)])
    for r in before:
        assert assert_ok(r) == []
    wait_key_expired(stack, k)
    for _ in range(8):
        assert_error(k("GET", "/contacts"), 401, "KEY_REVOKED")
    assert_error(k("GET", "/account/me", auth="x-api-key"), 401,
                 "KEY_REVOKED")


def test_scopes_contacts_read(make_tenant):
    t = make_tenant()
    full = t.key()
    c = full.create_contact(phone="+4915112345678")
    ro = t.key(scopes=["contacts:read"])
    assert_ok(ro("GET", "/contacts"))
    assert_ok(ro("GET", "/contacts/%d" % c["id"]))
    for method, path, body in (
            ("POST", "/contacts", {"phone": "+4915100000001"}),
            ("POST", "/contacts/create", {"phone": "+4915100000001"}),
            ("PUT", "/contacts/%d" % c["id"], {"name": "x"}),
            ("PATCH", "/contacts/%d" % c["id"], {"name": "x"}),
            ("DELETE", "/contacts/%d" % c["id"], None),
            ("GET", "/account/me", None),
            ("GET", "/api-keys", None),
            ("DELETE", "/api-keys/%d" % full.id, None)):
        assert_error(ro(method, path, body), 403, "INSUFFICIENT_PERMISSIONS")
    # Nothing changed.
    assert assert_ok(full("GET", "/contacts")) == [c]
    assert_ok(full("GET", "/account/me"))


def test_scopes_write_and_account(make_tenant):
    t = make_tenant()
    wo = t.key(scopes=["contacts:write"])
    c = assert_ok(wo("POST", "/contacts", {"phone": "+4915112345678"}), 201)
    assert_ok(wo("PATCH", "/contacts/%d" % c["id"], {"name": "n"}))
    assert_error(wo("GET", "/contacts"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(wo("GET", "/contacts/%d" % c["id"]), 403,
                 "INSUFFICIENT_PERMISSIONS")
    acc = t.key(scopes=["account:read"])
    assert_ok(acc("GET", "/account/me"))
    assert_ok(acc("GET", "/api-keys"))
    assert_error(acc("GET", "/contacts"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(acc("DELETE", "/api-keys/%d" % wo.id), 403,
                 "INSUFFICIENT_PERMISSIONS")
    # Unrelated scopes only
    msg = t.key(scopes=["messages:send", "campaigns:read"])
    assert_error(msg("GET", "/contacts"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(msg("GET", "/account/me"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_ok(wo("DELETE", "/contacts/%d" % c["id"]))


@pytest.mark.parametrize("plan,limit,expect", [
    ("starter", None, 100), ("professional", None, 500),
    ("enterprise", None, 2000), ("starter", 7, 7),
    ("enterprise", 12345, 12345),
])
def test_account_me(make_tenant, plan, limit, expect):
    t = make_tenant(plan, limit, )
    k = t.key()
    me = assert_ok(k("GET", "/account/me"))
    assert {"id", "name", "plan", "rate_limit_per_minute"} <= set(me)
    assert me["id"] == t.id
    assert me["name"] == t.obj["name"]
    assert me["plan"] == plan
    assert me["rate_limit_per_minute"] == expect


def test_account_me_name_unicode(stack):
    t = stack.create_tenant("professional", name="Bäckerei Müller 🍞")
    me = assert_ok(t.key()("GET", "/account/me"))
    assert me["name"] == "Bäckerei Müller 🍞"


def test_api_keys_list(make_tenant):
    t = make_tenant()
    k1 = t.key(name="first")
    k2 = t.key(name="second", scopes=["contacts:read", "account:read"])
    k3 = t.key()
    r = k2("GET", "/api-keys")
    items = assert_ok(r)
    meta = r.body["meta"]
    assert meta == {"current_page": 1, "per_page": 25, "total": 3,
                    "last_page": 1}
    assert [i["id"] for i in items] == [k3.id, k2.id, k1.id]
    for item in items:
        assert APIKEY_FIELDS <= set(item), item
        assert "key" not in item and "key_hash" not in item
        assert RFC3339_Z.match(item["created_at"])
        assert item["expires_at"] is None
        assert len(item["prefix"]) == 12
    by = {i["id"]: i for i in items}
    assert by[k1.id]["name"] == "first" and by[k3.id]["name"] is None
    for k in (k1, k2, k3):
        assert by[k.id]["prefix"] == k.key[:12]
        assert k.key not in r.raw.decode()
        assert k.key[12:] not in r.raw.decode()
    assert sorted(by[k2.id]["scopes"]) == ["account:read", "contacts:read"]
    assert by[k1.id]["scopes"] == []
    # last_used_at: set for the key that made the request, not for others.
    assert RFC3339_Z.match(by[k2.id]["last_used_at"])
    assert by[k1.id]["last_used_at"] is None
    # Paging applies.
    r = k2("GET", "/api-keys?per_page=2&page=2")
    assert [i["id"] for i in assert_ok(r)] == [k1.id]
    assert r.body["meta"] == {"current_page": 2, "per_page": 2, "total": 3,
                              "last_page": 2}
    assert_error(k2("GET", "/api-keys?per_page=0"), 422, "VALIDATION_ERROR")
