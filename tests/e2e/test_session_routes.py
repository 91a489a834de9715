"""Every route of app/fcgi/router.c with a dashboard session (issue 14,
design C; SPEC 10), table-driven over the router's own table (public
routes and /auth/* aside): (a) no credentials: 401; (b) an admin session
with its CSRF token: the route's success; (c) a non-GET without (or with
a wrong) X-CSRF-Token: 403 CSRF_TOKEN_INVALID, nothing changed; (d) an
agent session: 403 INSUFFICIENT_PERMISSIONS exactly where the route's
scope is not the agent's (and on routes for unrestricted keys only),
the route's success elsewhere; (e) another tenant's admin session on
this tenant's ids: 404, nothing changed. Then POST /api-keys.

A route the router gains without a recipe here fails (a), so the table
cannot silently fall behind the router."""
import re
import time
import uuid

import pytest

from conftest import (EXPIRY_SLACK, TEMPLATE, assert_error,
                      assert_ok, key_seconds_left, make_account, sql,
                      wait_for)
from test_openapi import router_routes
from session_util import (AGENT_SCOPES, ALL_SCOPES, COOKIE,
                          assert_session_expired, create_user, request,
                          table_rows)

URL = "https://hooks.example.com/wazera-sessions"
KEY_RE = re.compile(r"^wz_live_[0-9A-Za-z]{32,}$")
APIKEY_ITEM = {"id", "name", "prefix", "scopes", "last_used_at",
               "created_at", "expires_at", "revoked_at"}


ROUTES = [r for r in router_routes()
          if r[2] != "public" and not r[1].startswith("/auth/")]
IDS = ["%s %s" % (m, p) for m, p, _ in ROUTES]
WITH_ID = [r for r in ROUTES if "{id}" in r[1]]
NON_GET = [r for r in ROUTES if r[0] not in ("GET", "HEAD")]


def iso(offset_s):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() + offset_s))


class World:
    """A tenant with a key, an account, an admin and an agent (each with
    a session) and one of everything the routes name."""

    def __init__(self, stack):
        self.stack = stack
        self.tenant = stack.create_tenant("enterprise", rate_limit=1000000)
        self.key = self.tenant.key()
        self.account = make_account(stack, self.tenant,
                                    app_secret="as-" + uuid.uuid4().hex)
        self.admin = create_user(stack, self.tenant, role="admin")
        self.agent = create_user(stack, self.tenant, role="agent")
        self.s_admin = self.admin.login()
        self.s_agent = self.agent.login()
        self.s_admin2 = self.admin.login()
        self.customer = self.phone()
        self.contact = self.key.create_contact(phone=self.phone(),
                                               name="Someone")
        self.message = assert_ok(self.key("POST", "/messages/send", {
            "to": self.customer, "whatsapp_account_id": self.account["id"],
            "type": "template", "content": TEMPLATE}), 201)
        self.conv_id = self.message["conversation_id"]
        self.webhook = self.new_webhook()
        self.segment = self.new_segment()
        self.campaign = self.new_campaign()

    def phone(self):
        return "+49152%08d" % (int(self.stack.unique("")) % 10 ** 8)

    def new_contact(self):
        return self.key.create_contact(phone=self.phone())

    def new_webhook(self):
        return assert_ok(self.key("POST", "/webhooks", {
            "url": URL, "events": ["contact.created"]}), 201)

    def new_segment(self):
        return assert_ok(self.key("POST", "/segments", {
            "name": "VIP", "filter": {"tags": ["vip"]}}), 201)

    def campaign_body(self):
        return {"name": "Sessions", "whatsapp_account_id":
                self.account["id"], "segment_id": self.segment["id"],
                "template_name": "spring_sale",
                # Far ahead: no spooler of a later test ever starts it.
                "scheduled_at": "2099-01-01T00:00:00Z"}

    def new_campaign(self):
        return assert_ok(self.key("POST", "/campaigns",
                                  self.campaign_body()), 201)

    def new_delivery(self):
        """A failed delivery of self.webhook (redeliver takes those)."""
        self.new_contact()
        (did,), = sql(self.stack, "SELECT MAX(id) FROM webhook_deliveries "
                      "WHERE webhook_id = %d" % self.webhook["id"])
        sql(self.stack, "UPDATE webhook_deliveries SET status = 'failed', "
            "next_attempt_at = NULL, last_error = 'HTTP 500', "
            "last_status_code = 500 WHERE id = %s" % did)
        return int(did)

    def snapshot(self):
        """Every row of the tenant that a route may change."""
        t = self.tenant.id
        out = {}
        for table in ("contacts", "conversations", "messages", "webhooks",
                      "webhook_deliveries", "segments", "campaigns",
                      "api_keys", "users", "whatsapp_accounts"):
            out[table] = table_rows(self.stack, table, "tenant_id = %d" % t)
        out["events"] = sql(self.stack, "SELECT COUNT(*) FROM events WHERE "
                            "tenant_id = %d" % t)
        out["sessions"] = sql(self.stack, "SELECT COUNT(*) FROM sessions "
                              "WHERE tenant_id = %d" % t)
        return out

    def tidy(self):
        """Nothing of this tenant left for a later test's spooler: queued
        messages parked, pending deliveries failed."""
        sql(self.stack, "UPDATE messages SET lane = 2 WHERE "
            "whatsapp_account_id = %d AND status = 'queued'" %
            self.account["id"])
        sql(self.stack, "UPDATE webhook_deliveries SET status = 'failed', "
            "next_attempt_at = NULL WHERE tenant_id = %d AND status = "
            "'pending'" % self.tenant.id)


# (method, router pattern) -> recipe(world) -> (path, body, success status)
RECIPES = {
    ("GET", "/account/me"): lambda w: ("/account/me", None, 200),
    ("GET", "/api-keys"): lambda w: ("/api-keys", None, 200),
    ("POST", "/api-keys"): lambda w: ("/api-keys", {"name": "dash"}, 201),
    ("DELETE", "/api-keys/{id}"):
        lambda w: ("/api-keys/%d" % w.tenant.key().id, None, 200),
    ("GET", "/contacts"): lambda w: ("/contacts", None, 200),
    ("POST", "/contacts"): lambda w: ("/contacts", {"phone": w.phone()}, 201),
    ("POST", "/contacts/create"):
        lambda w: ("/contacts/create", {"phone": w.phone()}, 201),
    ("GET", "/contacts/{id}"):
        lambda w: ("/contacts/%d" % w.contact["id"], None, 200),
    ("PUT", "/contacts/{id}"):
        lambda w: ("/contacts/%d" % w.contact["id"], {"name": "Put"}, 200),
    ("PATCH", "/contacts/{id}"):
        lambda w: ("/contacts/%d" % w.contact["id"], {"name": "Patch"}, 200),
    ("DELETE", "/contacts/{id}"):
        lambda w: ("/contacts/%d" % w.new_contact()["id"], None, 200),
    ("GET", "/whatsapp-accounts"):
        lambda w: ("/whatsapp-accounts", None, 200),
    ("GET", "/whatsapp-accounts/{id}"):
        lambda w: ("/whatsapp-accounts/%d" % w.account["id"], None, 200),
    ("POST", "/messages/send"):
        lambda w: ("/messages/send", {
            "to": w.customer, "whatsapp_account_id": w.account["id"],
            "type": "template", "content": TEMPLATE}, 201),
    ("POST", "/messages/template"):
        lambda w: ("/messages/template", {
            "to": w.customer, "whatsapp_account_id": w.account["id"],
            "content": {"name": "hello_world", "language": "en"}}, 201),
    ("GET", "/messages/{id}"):
        lambda w: ("/messages/%d" % w.message["id"], None, 200),
    ("GET", "/messages/{id}/status"):
        lambda w: ("/messages/%d/status" % w.message["id"], None, 200),
    ("GET", "/conversations"): lambda w: ("/conversations", None, 200),
    ("GET", "/conversations/{id}"):
        lambda w: ("/conversations/%d" % w.conv_id, None, 200),
    ("PUT", "/conversations/{id}"):
        lambda w: ("/conversations/%d" % w.conv_id, {"status": "pending"},
                   200),
    ("PATCH", "/conversations/{id}"):
        lambda w: ("/conversations/%d" % w.conv_id, {"status": "open"}, 200),
    ("GET", "/conversations/{id}/messages"):
        lambda w: ("/conversations/%d/messages" % w.conv_id, None, 200),
    ("GET", "/users"): lambda w: ("/users", None, 200),
    ("GET", "/webhooks"): lambda w: ("/webhooks", None, 200),
    ("POST", "/webhooks"):
        lambda w: ("/webhooks", {"url": URL, "events": ["message.read"]},
                   201),
    ("GET", "/webhooks/{id}"):
        lambda w: ("/webhooks/%d" % w.webhook["id"], None, 200),
    ("PUT", "/webhooks/{id}"):
        lambda w: ("/webhooks/%d" % w.webhook["id"], {"url": URL + "/put"},
                   200),
    ("PATCH", "/webhooks/{id}"):
        lambda w: ("/webhooks/%d" % w.webhook["id"],
                   {"url": URL + "/patch"}, 200),
    ("DELETE", "/webhooks/{id}"):
        lambda w: ("/webhooks/%d" % w.new_webhook()["id"], None, 200),
    ("GET", "/webhooks/{id}/deliveries"):
        lambda w: ("/webhooks/%d/deliveries" % w.webhook["id"], None, 200),
    ("GET", "/webhooks/{id}/deliveries/{id}"):
        lambda w: ("/webhooks/%d/deliveries/%d" % (w.webhook["id"],
                                                   w.new_delivery()),
                   None, 200),
    ("POST", "/webhooks/{id}/deliveries/{id}/redeliver"):
        lambda w: ("/webhooks/%d/deliveries/%d/redeliver" % (
            w.webhook["id"], w.new_delivery()), {}, 202),
    ("POST", "/webhooks/{id}/test"):
        lambda w: ("/webhooks/%d/test" % w.webhook["id"], {}, 202),
    ("POST", "/webhooks/{id}/recover"):
        lambda w: ("/webhooks/%d/recover" % w.webhook["id"],
                   {"since": iso(-60)}, 202),
    ("GET", "/segments"): lambda w: ("/segments", None, 200),
    ("POST", "/segments"):
        lambda w: ("/segments", {"name": "New", "filter": {"tags": ["a"]}},
                   201),
    ("GET", "/segments/{id}"):
        lambda w: ("/segments/%d" % w.segment["id"], None, 200),
    ("PUT", "/segments/{id}"):
        lambda w: ("/segments/%d" % w.segment["id"], {"name": "Put"}, 200),
    ("PATCH", "/segments/{id}"):
        lambda w: ("/segments/%d" % w.segment["id"], {"name": "Patch"}, 200),
    ("DELETE", "/segments/{id}"):
        lambda w: ("/segments/%d" % w.new_segment()["id"], None, 200),
    ("GET", "/campaigns"): lambda w: ("/campaigns", None, 200),
    ("POST", "/campaigns"): lambda w: ("/campaigns", w.campaign_body(), 201),
    ("GET", "/campaigns/{id}"):
        lambda w: ("/campaigns/%d" % w.campaign["id"], None, 200),
    ("POST", "/campaigns/{id}/cancel"):
        lambda w: ("/campaigns/%d/cancel" % w.new_campaign()["id"], None,
                   200),
    ("GET", "/campaigns/{id}/recipients"):
        lambda w: ("/campaigns/%d/recipients" % w.campaign["id"], None, 200),
}


@pytest.fixture(scope="module")
def world(stack):
    w = World(stack)
    yield w
    w.tidy()


@pytest.fixture(scope="module")
def world_b(stack):
    """Another tenant, with an admin session of its own."""
    w = World(stack)
    yield w
    w.tidy()


def recipe(method, pattern):
    r = RECIPES.get((method, pattern))
    assert r is not None, "no recipe for the router's route %s %s: add " \
        "one to RECIPES" % (method, pattern)
    return r


def scope_message(err, scope):
    assert err["message"] == "Your role (agent) lacks the %s scope." % \
        scope, err


# -- (a) no credentials -------------------------------------------------------

def test_every_route_has_a_recipe():
    missing = ["%s %s" % (m, p) for m, p, _ in ROUTES
               if (m, p) not in RECIPES]
    assert not missing, "routes without a recipe: %s" % ", ".join(missing)
    unknown = [a for _, _, a in ROUTES
               if a not in ALL_SCOPES and a != "unrestricted"]
    assert not unknown, unknown


@pytest.mark.parametrize("method,pattern,access", ROUTES, ids=IDS)
def test_no_credentials_401(stack, world, method, pattern, access):
    path, body, _ = recipe(method, pattern)(world)
    before = world.snapshot()
    r = request(stack.port, method, path, body)
    assert_error(r, 401, "AUTHENTICATION_ERROR")
    # An unknown session id (well-formed): 401, the session's message.
    for csrf in (None, world.s_admin.csrf):
        r = request(stack.port, method, path, body, headers={
            "Cookie": "%s=%s" % (COOKIE, "Q" * 43), "X-CSRF-Token": csrf})
        assert_session_expired(r)
        assert "x-ratelimit-limit" not in r.headers, r
    assert world.snapshot() == before


# -- (b) an admin session -----------------------------------------------------

@pytest.mark.parametrize("method,pattern,access", ROUTES, ids=IDS)
def test_admin_session(stack, world, method, pattern, access):
    path, body, status = recipe(method, pattern)(world)
    r = world.s_admin(method, path, body)
    assert r.status not in (401, 403), r
    assert_ok(r, status)
    # Rate-limit headers, as for keys.
    assert int(r.headers["x-ratelimit-limit"]) == 1000000, r


# -- (c) CSRF -----------------------------------------------------------------

@pytest.mark.parametrize("method,pattern,access", NON_GET,
                         ids=["%s %s" % (m, p) for m, p, _ in NON_GET])
def test_csrf_required(stack, world, method, pattern, access):
    path, body, _ = recipe(method, pattern)(world)
    s = world.s_admin
    before = world.snapshot()
    flipped = s.csrf[:-1] + ("A" if s.csrf[-1] != "A" else "B")
    wrong = [False, "", "A" * 43, flipped, world.s_admin2.csrf,
             world.s_agent.csrf, s.cookie, s.csrf[:42], s.csrf + "A"]
    if s.csrf.lower() != s.csrf:
        wrong.append(s.csrf.lower())
    for csrf in wrong:
        err = assert_error(s(method, path, body, csrf=csrf), 403,
                           "CSRF_TOKEN_INVALID")
        assert err["details"] == {}, err
    # Checked before scopes: an agent without the token is refused for
    # the token, on any route.
    assert_error(world.s_agent(method, path, body, csrf=False), 403,
                 "CSRF_TOKEN_INVALID")
    # The token in a query string or a cookie is no token.
    r = s(method, path + "?csrf_token=" + s.csrf, body, csrf=False)
    assert_error(r, 403, "CSRF_TOKEN_INVALID")
    r = request(stack.port, method, path, body, headers={
        "Cookie": "%s=%s; csrf=%s; X-CSRF-Token=%s" % (
            COOKIE, s.cookie, s.csrf, s.csrf)})
    assert_error(r, 403, "CSRF_TOKEN_INVALID")
    assert world.snapshot() == before


# -- (d) an agent session -----------------------------------------------------

@pytest.mark.parametrize("method,pattern,access", ROUTES, ids=IDS)
def test_agent_session(stack, world, method, pattern, access):
    path, body, status = recipe(method, pattern)(world)
    if access in AGENT_SCOPES:
        assert_ok(world.s_agent(method, path, body), status)
        return
    before = world.snapshot()
    err = assert_error(world.s_agent(method, path, body), 403,
                       "INSUFFICIENT_PERMISSIONS")
    if access != "unrestricted":
        scope_message(err, access)
    assert world.snapshot() == before


# -- (e) another tenant's session ---------------------------------------------

@pytest.mark.parametrize("method,pattern,access", WITH_ID,
                         ids=["%s %s" % (m, p) for m, p, _ in WITH_ID])
def test_other_tenants_ids_404(stack, world, world_b, method, pattern,
                               access):
    path, body, _ = recipe(method, pattern)(world)
    before = world.snapshot()
    assert_error(world_b.s_admin(method, path, body), 404,
                 "RESOURCE_NOT_FOUND")
    assert world.snapshot() == before


def test_other_tenants_ids_in_bodies_422(stack, world, world_b):
    s = world_b.s_admin
    err = assert_error(s("POST", "/messages/send", {
        "to": world_b.customer, "whatsapp_account_id": world.account["id"],
        "type": "template", "content": TEMPLATE}), 422, "VALIDATION_ERROR")
    assert "whatsapp_account_id" in err["details"], err
    body = world_b.campaign_body()
    body["segment_id"] = world.segment["id"]
    err = assert_error(s("POST", "/campaigns", body), 422,
                       "VALIDATION_ERROR")
    assert "segment_id" in err["details"], err
    err = assert_error(s("PUT", "/conversations/%d" % world_b.conv_id,
                         {"assigned_to": world.admin.id}), 422,
                       "VALIDATION_ERROR")
    assert "assigned_to" in err["details"], err


def test_lists_are_the_sessions_tenant(stack, world, world_b):
    for path, mine in (("/contacts", world_b.contact["id"]),
                       ("/webhooks", world_b.webhook["id"]),
                       ("/segments", world_b.segment["id"]),
                       ("/campaigns", world_b.campaign["id"]),
                       ("/conversations", world_b.conv_id)):
        ids = {x["id"] for x in assert_ok(world_b.s_admin("GET", path))}
        assert mine in ids, path
        theirs = {x["id"] for x in assert_ok(world.s_admin("GET", path))}
        assert not ids & theirs, path
    me = assert_ok(world_b.s_admin("GET", "/account/me"))
    assert me["id"] == world_b.tenant.id
    users = {u["id"] for u in assert_ok(world_b.s_admin("GET", "/users"))}
    assert users == {world_b.admin.id, world_b.agent.id}


# -- POST /api-keys -----------------------------------------------------------

def test_create_key_with_an_admin_session(stack, world):
    s = world.s_admin
    r = s("POST", "/api-keys", {"name": "From the dashboard"})
    d = assert_ok(r, 201)
    assert set(d) == APIKEY_ITEM | {"key"}, d
    assert KEY_RE.match(d["key"]), d
    assert d["prefix"] == d["key"][:12]
    assert d["name"] == "From the dashboard"
    assert d["scopes"] == [] and d["expires_at"] is None
    assert d["revoked_at"] is None and d["last_used_at"] is None
    # Shown once: the list has the item without the key.
    r = s("GET", "/api-keys?per_page=100")
    items = {i["id"]: i for i in assert_ok(r)}
    item = dict(d)
    del item["key"]
    assert items[d["id"]] == item
    assert d["key"] not in r.raw.decode() and d["key"][12:] not in \
        r.raw.decode()
    # Stored as a hash only.
    for row in table_rows(stack, "api_keys", "id = %d" % d["id"]):
        assert all(d["key"] not in v for v in row), row
    # It works as a key of the session's tenant.
    r = request(stack.port, "GET", "/account/me",
                headers={"Authorization": "Bearer " + d["key"]})
    assert assert_ok(r)["id"] == world.tenant.id
    r = request(stack.port, "POST", "/api-keys", {"name": "by the key"},
                headers={"X-API-Key": d["key"]})
    assert_ok(r, 201)


def test_create_key_scopes_and_expiry(stack, world):
    s = world.s_admin
    d = assert_ok(s("POST", "/api-keys", {
        "name": "ro", "scopes": ["contacts:read", "account:read"],
        "expires_at": "2099-06-01T12:00:00+02:00"}), 201)
    assert sorted(d["scopes"]) == ["account:read", "contacts:read"]
    assert d["expires_at"] == "2099-06-01T10:00:00Z", d
    k = {"Authorization": "Bearer " + d["key"]}
    assert_ok(request(stack.port, "GET", "/contacts", headers=k))
    assert_error(request(stack.port, "POST", "/contacts",
                         {"phone": world.phone()}, headers=k), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(request(stack.port, "GET", "/webhooks", headers=k), 403,
                 "INSUFFICIENT_PERMISSIONS")
    # A scoped key may not create keys.
    assert_error(request(stack.port, "POST", "/api-keys", {"name": "x"},
                         headers=k), 403, "INSUFFICIENT_PERMISSIONS")
    # Its expiry is the one that counts: a key made to expire a few
    # seconds from now works until then and not after (the round counts
    # only when the database's clock, read after the first use, was still
    # clear of the expiry; else again with more time).
    for lead in (6, 12, 24, 48):
        d = assert_ok(s("POST", "/api-keys", {"expires_at": iso(lead)}),
                      201)
        k = {"Authorization": "Bearer " + d["key"]}
        first = request(stack.port, "GET", "/contacts", headers=k)
        if key_seconds_left(stack, d["id"]) > EXPIRY_SLACK:
            break
    else:
        raise AssertionError("the first use of a key took too long")
    assert_ok(first)
    wait_for(lambda: key_seconds_left(stack, d["id"]) < -EXPIRY_SLACK,
             timeout=120, interval=0.2, what="the key to expire")
    for _ in range(4):
        assert_error(request(stack.port, "GET", "/contacts", headers=k),
                     401, "KEY_REVOKED")
    # Every scope by name.
    d = assert_ok(s("POST", "/api-keys", {"scopes": ALL_SCOPES}), 201)
    assert sorted(d["scopes"]) == sorted(ALL_SCOPES)
    # No body at all: a key without restrictions.
    d = assert_ok(s("POST", "/api-keys"), 201)
    assert d["scopes"] == [] and d["name"] is None


def test_create_key_empty_scopes_is_refused(stack, world):
    """"scopes": [] names no scope: a 422, as `apikey create --scopes ""`
    is refused by the CLI (leave the field out for a key without
    restrictions); nothing is created."""
    before = world.snapshot()
    assert_error(world.s_admin("POST", "/api-keys", {"scopes": []}), 422,
                 "VALIDATION_ERROR", {"scopes": [
                     "The scopes field must name at least one scope; leave "
                     "it out for a key without restrictions."]})
    assert world.snapshot() == before


def test_create_key_refused(stack, world):
    before = world.snapshot()
    err = assert_error(world.s_agent("POST", "/api-keys", {"name": "x"}),
                       403, "INSUFFICIENT_PERMISSIONS")
    assert err["message"]
    scoped = world.tenant.key(scopes=list(ALL_SCOPES))
    assert_error(scoped("POST", "/api-keys", {"name": "x"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(world.s_admin("POST", "/api-keys", {"name": "x"},
                               csrf=False), 403, "CSRF_TOKEN_INVALID")
    after = world.snapshot()
    # The scoped key made above is the only new key.
    assert len(after["api_keys"]) == len(before["api_keys"]) + 1
    # An unrestricted key may.
    assert_ok(world.key("POST", "/api-keys", {"name": "by key"}), 201)


@pytest.mark.parametrize("body,field", [
    ({"scopes": ["nope"]}, "scopes"),
    ({"scopes": ["contacts:read", "contacts:erase"]}, "scopes"),
    ({"scopes": "contacts:read"}, "scopes"),
    ({"scopes": [5]}, "scopes"),
    ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": iso(-5)}, "expires_at"),
    ({"expires_at": "tomorrow"}, "expires_at"),
    ({"expires_at": "2099-13-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": 4102444800}, "expires_at"),
    ({"name": "x" * 256}, "name"),
    ({"name": 5}, "name"),
    ({"name": ["a"]}, "name"),
])
def test_create_key_validation(stack, world, body, field):
    before = len(world.snapshot()["api_keys"])
    err = assert_error(world.s_admin("POST", "/api-keys", body), 422,
                       "VALIDATION_ERROR")
    assert err["details"] and all(
        f == field or f.startswith(field + ".") for f in err["details"]), err
    assert len(world.snapshot()["api_keys"]) == before


def test_create_key_name_of_255(stack, world):
    d = assert_ok(world.s_admin("POST", "/api-keys", {"name": "n" * 255}),
                  201)
    assert d["name"] == "n" * 255


def test_create_key_plain_key_stored_nowhere(stack, world):
    """SPEC 2: only a hash of a key is stored. A create with an
    Idempotency-Key (a dashboard retrying a POST) must not leave the plain
    key in idempotency_keys, where a replay answer is kept for 24 h."""
    for call in (lambda h: world.s_admin("POST", "/api-keys",
                                         {"name": "idem"}, headers=h),
                 lambda h: world.key("POST", "/api-keys", {"name": "idem"},
                                     headers=h)):
        idem = {"Idempotency-Key": str(uuid.uuid4())}
        first = call(idem)
        d = assert_ok(first, 201)
        plain = d["key"]
        # The retry replays the answer (the one key made), sealed at rest.
        again = call(idem)
        assert again.status == 201 and again.raw == first.raw, again
        rows = sql(stack, "SELECT HEX(body) FROM idempotency_keys WHERE "
                   "tenant_id = %d AND idem_key = '%s'" % (
                       world.tenant.id, idem["Idempotency-Key"]))
        for (body,) in rows:
            text = bytes.fromhex(body).decode("utf-8", "replace") \
                if body != "NULL" else ""
            assert plain not in text and plain[12:] not in text, \
                "the plain API key is stored in idempotency_keys.body"
        assert all(plain not in v for row in table_rows(
            stack, "api_keys", "tenant_id = %d" % world.tenant.id)
            for v in row)
