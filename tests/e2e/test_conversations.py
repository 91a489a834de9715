"""Conversations and users: GET /conversations with its filters, order and
paging, GET /conversations/{id} with the latest messages, the messages
sub-list, PUT/PATCH of status and assignment (the conversation.closed
event, the reopen conflict), GET /users, scopes, tenant isolation and
validation.

Messages are sent as templates, which need no open service window."""

import pytest

from conftest import (MESSAGE_KEYS, assert_error, assert_ok, events,
                      inbound_payload, make_account, msg, post)

CONV_KEYS = {"id", "contact", "whatsapp_account_id", "status", "assigned_to",
             "last_message_at", "created_at", "updated_at"}
USER_KEYS = {"id", "name", "email", "role", "created_at"}
TEMPLATE = {"name": "hello_world", "language": "en"}


class Desk:
    """A tenant with an unrestricted key, a WhatsApp account and users."""

    def __init__(self, stack, tenant):
        self.stack = stack
        self.tenant = tenant
        self.key = tenant.key()
        self.account = make_account(stack, tenant)

    def __call__(self, method, path, body=None):
        return self.key(method, path, body)

    def phone(self):
        self.stack.counter += 1
        return "+4917%09d" % (self.stack.counter * 1000 + self.tenant.id % 1000)

    def send(self, to, n=1, account=None):
        """Sends n templates to `to`; returns the messages."""
        out = []
        for _ in range(n):
            r = self.key("POST", "/messages/send", {
                "to": to, "type": "template", "content": TEMPLATE,
                "whatsapp_account_id": account or self.account["id"]})
            out.append(assert_ok(r, 201))
        return out

    def conversation(self, to=None):
        """A new conversation (one message to a new number); its id."""
        return self.send(to or self.phone())[0]["conversation_id"]

    def user(self, name=None, email=None):
        name = name or self.stack.unique("Agent ")
        email = email or "%s@example.com" % self.stack.unique("agent")
        return self.stack.admin_json("user", "create", "--tenant",
                                     self.tenant.id, "--name", name,
                                     "--email", email,
                                     config=self.tenant.config)

    def set_activity(self, conv_id, when):
        """Sets last_message_at directly (None: NULL), to test the order."""
        self.stack.sql_root(
            "UPDATE conversations SET last_message_at = %s WHERE id = %d" %
            ("NULL" if when is None else "'%s'" % when, conv_id),
            database="wazera")

    def list(self, query=""):
        r = self("GET", "/conversations" + query)
        assert_ok(r)
        return r.body

    def ids(self, query=""):
        return [c["id"] for c in self.list(query)["data"]]


@pytest.fixture
def desk(stack, make_tenant):
    return Desk(stack, make_tenant())


def meta(page, per_page, total, last):
    return {"current_page": page, "per_page": per_page, "total": total,
            "last_page": last}


def conv_events(stack, tenant_id, type_="conversation.closed"):
    return [d for t, d in events(stack, tenant_id) if t == type_]


# --------------------------------------------------------------------------
# Reading


def test_conversation_shape(desk):
    to = desk.phone()
    m = desk.send(to)[0]
    body = desk.list()
    assert body["meta"] == meta(1, 25, 1, 1)
    c = body["data"][0]
    assert set(c) == CONV_KEYS
    assert c["id"] == m["conversation_id"]
    assert c["contact"] == {"id": m["contact_id"], "name": None, "phone": to}
    assert c["whatsapp_account_id"] == desk.account["id"]
    assert c["status"] == "open" and c["assigned_to"] is None
    for k in ("last_message_at", "created_at", "updated_at"):
        assert c[k].endswith("Z") and len(c[k]) == 20, c
    # The contact's name shows once it has one.
    assert_ok(desk("PUT", "/contacts/%d" % m["contact_id"], {"name": "Ann"}))
    got = assert_ok(desk("GET", "/conversations/%d" % c["id"]))
    assert got["contact"] == {"id": m["contact_id"], "name": "Ann",
                              "phone": to}
    assert set(got) == CONV_KEYS | {"messages"}


def test_get_includes_messages_oldest_first(desk):
    to = desk.phone()
    sent = desk.send(to, 3)
    other = desk.send(desk.phone())     # another conversation's message
    conv = assert_ok(desk("GET", "/conversations/%d" %
                          sent[0]["conversation_id"]))
    assert [m["id"] for m in conv["messages"]] == [m["id"] for m in sent]
    assert other[0]["id"] not in [m["id"] for m in conv["messages"]]
    for m in conv["messages"]:
        assert set(m) == MESSAGE_KEYS
        assert m == assert_ok(desk("GET", "/messages/%d" % m["id"]))


def test_get_latest_100_and_the_messages_sublist(desk):
    sent = desk.send(desk.phone(), 105)
    ids = [m["id"] for m in sent]
    cid = sent[0]["conversation_id"]
    conv = assert_ok(desk("GET", "/conversations/%d" % cid))
    assert [m["id"] for m in conv["messages"]] == ids[5:]

    # The sub-list: newest first, paginated, for the older history.
    r = desk("GET", "/conversations/%d/messages" % cid)
    assert [m["id"] for m in assert_ok(r)] == ids[::-1][:25]
    assert r.body["meta"] == meta(1, 25, 105, 5)
    r = desk("GET", "/conversations/%d/messages?per_page=50&page=3" % cid)
    assert [m["id"] for m in assert_ok(r)] == ids[:5][::-1]
    assert r.body["meta"] == meta(3, 50, 105, 3)
    r = desk("GET", "/conversations/%d/messages?per_page=50&page=4" % cid)
    assert assert_ok(r) == [] and r.body["meta"] == meta(4, 50, 105, 3)
    assert set(assert_ok(desk("GET", "/conversations/%d/messages?per_page=1"
                                % cid))[0]) == MESSAGE_KEYS
    for q in ("?page=0", "?per_page=101", "?per_page=x"):
        assert_error(desk("GET", "/conversations/%d/messages%s" % (cid, q)),
                     422, "VALIDATION_ERROR")


def test_list_order_is_latest_activity_first(desk):
    a, b, c, d, e = (desk.conversation() for _ in range(5))
    desk.set_activity(a, "2026-01-03 10:00:00")
    desk.set_activity(b, "2026-01-01 10:00:00")
    desk.set_activity(c, "2026-01-02 10:00:00")
    desk.set_activity(d, "2026-01-02 10:00:00")   # a tie: newer id first
    desk.set_activity(e, None)                    # no activity: last
    assert desk.ids() == [a, d, c, b, e]
    assert desk.ids("?status=open") == [a, d, c, b, e]
    # A new message moves its conversation to the top.
    to = desk.list()["data"][3]["contact"]["phone"]
    assert desk.send(to)[0]["conversation_id"] == b
    assert desk.ids() == [b, a, d, c, e]
    # Paging walks the same order.
    assert desk.ids("?per_page=2") == [b, a]
    assert desk.ids("?per_page=2&page=2") == [d, c]
    assert desk.ids("?per_page=2&page=3") == [e]


def test_list_filters_and_meta(desk, make_tenant):
    u1, u2 = desk.user(), desk.user()
    cs = [desk.conversation() for _ in range(6)]
    for cid, body in zip(cs, [
            {"assigned_to": u1["id"]},
            {"status": "pending", "assigned_to": u1["id"]},
            {"status": "pending"},
            {"status": "closed", "assigned_to": u2["id"]},
            {"status": "closed", "assigned_to": u1["id"]},
            {}]):
        assert_ok(desk("PUT", "/conversations/%d" % cid, body))
    newest = cs[::-1]       # same second: id DESC

    def ids_of(*idx):
        return [cid for cid in newest if cs.index(cid) in idx]

    assert desk.ids() == newest
    assert desk.ids("?status=open") == ids_of(0, 5)
    assert desk.ids("?status=pending") == ids_of(1, 2)
    assert desk.ids("?status=closed") == ids_of(3, 4)
    assert desk.ids("?assigned_to=%d" % u1["id"]) == ids_of(0, 1, 4)
    assert desk.ids("?assigned_to=%d" % u2["id"]) == ids_of(3)
    assert desk.ids("?assigned_to=%d&status=pending" % u1["id"]) == \
        ids_of(1)
    assert desk.ids("?assigned_to=%d&status=open" % u2["id"]) == []
    # Empty values are no filter.
    assert desk.ids("?status=&assigned_to=") == newest

    body = desk.list("?per_page=4")
    assert body["meta"] == meta(1, 4, 6, 2)
    body = desk.list("?per_page=4&page=2")
    assert [c["id"] for c in body["data"]] == newest[4:]
    assert body["meta"] == meta(2, 4, 6, 2)
    body = desk.list("?per_page=1&page=2&assigned_to=%d" % u1["id"])
    assert [c["id"] for c in body["data"]] == ids_of(0, 1, 4)[1:2]
    assert body["meta"] == meta(2, 1, 3, 3)
    body = desk.list("?per_page=2&page=9&status=closed")
    assert body["data"] == [] and body["meta"] == meta(9, 2, 2, 1)
    body = desk.list("?status=pending")
    assert body["meta"] == meta(1, 25, 2, 1)

    # Another tenant's user matches nothing; so does an unknown id.
    other = Desk(desk.stack, make_tenant())
    stranger = other.user()
    assert desk.list("?assigned_to=%d" % stranger["id"]) == {
        "success": True, "data": [], "meta": meta(1, 25, 0, 1)}
    assert desk.ids("?assigned_to=999999999") == []


@pytest.mark.parametrize("query,field", [
    ("?status=opened", "status"),
    ("?status=OPEN", "status"),
    ("?status=open,closed", "status"),
    ("?assigned_to=abc", "assigned_to"),
    ("?assigned_to=0", "assigned_to"),
    ("?assigned_to=-3", "assigned_to"),
    ("?assigned_to=1.5", "assigned_to"),
    ("?assigned_to=%2B5", "assigned_to"),
    ("?assigned_to=99999999999999999999", "assigned_to"),
    ("?page=0", "page"),
    ("?per_page=101", "per_page"),
])
def test_list_validation(desk, query, field):
    err = assert_error(desk("GET", "/conversations" + query), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == [field]


def test_list_validation_reports_both_filters(desk):
    err = assert_error(desk("GET", "/conversations?status=x&assigned_to=y"),
                       422, "VALIDATION_ERROR")
    assert set(err["details"]) == {"status", "assigned_to"}


def test_deleted_contact_keeps_its_conversation(desk):
    m = desk.send(desk.phone())[0]
    assert_ok(desk("DELETE", "/contacts/%d" % m["contact_id"]))
    c = assert_ok(desk("GET", "/conversations/%d" % m["conversation_id"]))
    assert c["contact"] == {"id": m["contact_id"], "name": None,
                            "phone": None}
    assert [x["id"] for x in c["messages"]] == [m["id"]]
    assert desk.ids() == [m["conversation_id"]]


# --------------------------------------------------------------------------
# Updating


def test_update_status_and_assignment(desk):
    user = desk.user()
    cid = desk.conversation()
    before = assert_ok(desk("GET", "/conversations/%d" % cid))
    del before["messages"]

    c = assert_ok(desk("PUT", "/conversations/%d" % cid,
                       {"status": "pending"}))
    assert set(c) == CONV_KEYS
    assert c["status"] == "pending" and c["assigned_to"] is None
    assert c["last_message_at"] == before["last_message_at"]
    assert c["created_at"] == before["created_at"]

    c = assert_ok(desk("PATCH", "/conversations/%d" % cid,
                       {"assigned_to": user["id"]}))
    assert c["status"] == "pending" and c["assigned_to"] == user["id"]

    # Absent fields stay; an empty body changes nothing.
    assert assert_ok(desk("PUT", "/conversations/%d" % cid, {})) == c
    assert assert_ok(desk("PUT", "/conversations/%d" % cid,
                          {"status": "pending",
                           "assigned_to": user["id"]})) == c
    # Unknown fields are ignored, as for contacts.
    assert assert_ok(desk("PUT", "/conversations/%d" % cid,
                          {"contact_id": 1})) == c

    c = assert_ok(desk("PUT", "/conversations/%d" % cid,
                       {"status": "open", "assigned_to": None}))
    assert c["status"] == "open" and c["assigned_to"] is None
    got = assert_ok(desk("GET", "/conversations/%d" % cid))
    del got["messages"]
    assert got == c
    # No event for anything but closing.
    assert conv_events(desk.stack, desk.tenant.id) == []


@pytest.mark.parametrize("body,field", [
    ({"status": "archived"}, "status"),
    ({"status": None}, "status"),
    ({"status": 1}, "status"),
    ({"assigned_to": "5"}, "assigned_to"),
    ({"assigned_to": 0}, "assigned_to"),
    ({"assigned_to": -1}, "assigned_to"),
    ({"assigned_to": 1.5}, "assigned_to"),
    ({"assigned_to": True}, "assigned_to"),
    ({"assigned_to": 999999999}, "assigned_to"),   # no such user
])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_validation(desk, body, field, method):
    cid = desk.conversation()
    err = assert_error(desk(method, "/conversations/%d" % cid, body), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == [field]
    c = assert_ok(desk("GET", "/conversations/%d" % cid))
    assert c["status"] == "open" and c["assigned_to"] is None


def test_update_bad_bodies(desk):
    cid = desk.conversation()
    path = "/conversations/%d" % cid
    assert_error(desk("PUT", path, "{nope"), 400, "BAD_REQUEST")
    assert_error(desk("PUT", path, [1]), 400, "BAD_REQUEST")
    err = assert_error(desk("PUT", path, {"status": "x", "assigned_to": "y"}),
                       422, "VALIDATION_ERROR")
    assert set(err["details"]) == {"status", "assigned_to"}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_assignment_to_another_tenants_user_is_refused(desk, make_tenant,
                                                        method):
    other = Desk(desk.stack, make_tenant())
    stranger = other.user()
    mine = desk.user()
    cid = desk.conversation()
    err = assert_error(desk(method, "/conversations/%d" % cid,
                            {"assigned_to": stranger["id"],
                             "status": "pending"}), 422, "VALIDATION_ERROR")
    assert list(err["details"]) == ["assigned_to"]
    c = assert_ok(desk("GET", "/conversations/%d" % cid))
    assert c["status"] == "open" and c["assigned_to"] is None   # nothing
    assert assert_ok(desk("PUT", "/conversations/%d" % cid, {
        "assigned_to": mine["id"]}))["assigned_to"] == mine["id"]


def test_closing_records_conversation_closed(desk):
    user = desk.user()
    cid = desk.conversation()
    assert_ok(desk("PUT", "/conversations/%d" % cid, {"status": "pending"}))
    assert conv_events(desk.stack, desk.tenant.id) == []
    c = assert_ok(desk("PUT", "/conversations/%d" % cid,
                       {"status": "closed", "assigned_to": user["id"]}))
    assert c["status"] == "closed" and c["assigned_to"] == user["id"]
    assert conv_events(desk.stack, desk.tenant.id) == [c]
    # Closed again, or changed while closed: no second event.
    assert_ok(desk("PUT", "/conversations/%d" % cid, {"status": "closed"}))
    assert_ok(desk("PATCH", "/conversations/%d" % cid, {"assigned_to": None}))
    assert conv_events(desk.stack, desk.tenant.id) == [c]
    # Reopened and closed again: a second one.
    assert_ok(desk("PUT", "/conversations/%d" % cid, {"status": "open"}))
    c2 = assert_ok(desk("PUT", "/conversations/%d" % cid,
                        {"status": "closed"}))
    assert conv_events(desk.stack, desk.tenant.id) == [c, c2]
    rows = desk.stack.sql_root(
        "SELECT COUNT(DISTINCT uuid), COUNT(*) FROM events WHERE "
        "tenant_id = %d AND type = 'conversation.closed'" % desk.tenant.id,
        database="wazera")
    assert rows == [["2", "2"]]


def test_reopen_conflict(desk):
    to = desk.phone()
    first = desk.conversation(to)
    assert_ok(desk("PUT", "/conversations/%d" % first, {"status": "closed"}))
    # A new message to the contact opens a new conversation.
    second = desk.conversation(to)
    assert second != first
    for status in ("open", "pending"):
        err = assert_error(desk("PUT", "/conversations/%d" % first,
                                {"status": status}), 409, "CONFLICT")
        assert err["details"] == {"conversation_id": second}
        assert "close it" in err["message"]
    c = assert_ok(desk("GET", "/conversations/%d" % first))
    assert c["status"] == "closed"
    # Other changes to the closed one still work.
    user = desk.user()
    assert_ok(desk("PUT", "/conversations/%d" % first,
                   {"assigned_to": user["id"]}))
    # Once the other is closed, the first reopens; messages go there.
    assert_ok(desk("PUT", "/conversations/%d" % second, {"status": "closed"}))
    assert assert_ok(desk("PUT", "/conversations/%d" % first, {
        "status": "pending"}))["status"] == "pending"
    assert desk.conversation(to) == first
    # Another account's conversation with the same contact is no conflict.
    acc2 = make_account(desk.stack, desk.tenant)
    third = desk.send(to, account=acc2["id"])[0]["conversation_id"]
    assert third not in (first, second)
    assert_ok(desk("PUT", "/conversations/%d" % third, {"status": "closed"}))
    assert_ok(desk("PUT", "/conversations/%d" % third, {"status": "open"}))


# --------------------------------------------------------------------------
# The lists' totals (conversation_counters, kept by triggers)


def assert_totals(desk):
    """Every filter's meta total equals a count of the rows."""
    rows = desk.stack.sql_root(
        "SELECT status, COALESCE(assigned_to, 0), COUNT(*) FROM "
        "conversations WHERE tenant_id = %d GROUP BY 1, 2" % desk.tenant.id,
        database="wazera")
    have = {(st, int(u)): int(n) for st, u, n in rows}
    users = {u for _, u in have if u} | {999999999}

    def total(query):
        return desk.list("?per_page=1&" + query)["meta"]["total"]

    assert total("") == sum(have.values())
    for st in ("open", "pending", "closed"):
        assert total("status=" + st) == sum(
            n for (s, _), n in have.items() if s == st)
        for u in users:
            assert total("status=%s&assigned_to=%d" % (st, u)) == \
                have.get((st, u), 0)
    for u in users:
        assert total("assigned_to=%d" % u) == sum(
            n for (_, v), n in have.items() if v == u)
    return have


def test_totals_follow_every_change(desk):
    u1, u2 = desk.user(), desk.user()
    to = desk.phone()
    cs = [desk.conversation(to)] + [desk.conversation() for _ in range(4)]
    assert assert_totals(desk) == {("open", 0): 5}
    for cid, body in zip(cs, [{"status": "closed", "assigned_to": u1["id"]},
                              {"status": "pending"},
                              {"assigned_to": u2["id"]},
                              {"status": "closed"},
                              {"assigned_to": u1["id"]}]):
        assert_ok(desk("PUT", "/conversations/%d" % cid, body))
    assert_totals(desk)
    # A refused reopen changes nothing; a new conversation counts.
    again = desk.conversation(to)
    assert_error(desk("PUT", "/conversations/%d" % cs[0],
                      {"status": "open"}), 409, "CONFLICT")
    assert_ok(desk("PUT", "/conversations/%d" % cs[1],
                   {"status": "open", "assigned_to": u2["id"]}))
    assert_ok(desk("PATCH", "/conversations/%d" % cs[2],
                   {"assigned_to": None}))
    have = assert_totals(desk)
    assert sum(have.values()) == 6 and again not in cs
    # Any writer of conversations is counted, not only the API.
    desk.stack.sql_root(
        "UPDATE conversations SET status = 'pending', assigned_to = %d "
        "WHERE id = %d; DELETE FROM conversations WHERE id = %d" %
        (u2["id"], cs[4], cs[3]), database="wazera")
    have = assert_totals(desk)
    assert sum(have.values()) == 5


def test_concurrent_moves_stay_counted(desk):
    """Updates moving conversations in opposite directions at once: no
    request fails (the counters are locked in one order), totals exact."""
    cs = [desk.conversation() for _ in range(8)]
    for cid in cs[::2]:
        assert_ok(desk("PUT", "/conversations/%d" % cid, {"status": "closed"}))
    from conftest import run_parallel
    user = desk.user()

    def flip(args):
        cid, start_closed = args
        cycle = ["open", "closed"] if start_closed else ["closed", "open"]
        return [desk("PUT", "/conversations/%d" % cid, {
            "status": cycle[i % 2],
            "assigned_to": user["id"] if i % 3 else None})
            for i in range(6)]

    answers = run_parallel(flip, [(cid, i % 2 == 0)
                                  for i, cid in enumerate(cs)])
    assert [len(a) for a in answers] == [6] * 8
    failed = [r for a in answers for r in a if r.status != 200]
    assert failed == []
    have = assert_totals(desk)
    assert sum(have.values()) == 8
    closed = conv_events(desk.stack, desk.tenant.id)
    assert len(closed) == 4 + 8 * 3


def test_inbound_conversation_is_listed(stack, hook, make_tenant):
    desk = Desk(stack, make_tenant())
    secret = "conv-secret-%d" % desk.tenant.id
    phone_id = stack.unique("7702")
    acc = stack.admin_json(
        "account", "create", "--tenant", desk.tenant.id, "--phone-number-id",
        phone_id, "--waba-id", "1", "--display-phone", "+15550783882",
        "--access-token", "tok", "--app-secret", secret)
    wamid = "wamid.conv" + phone_id
    r = post(hook, inbound_payload(phone_id, [msg(
        wamid, "4915100000071", "text", {"body": "hi there"})],
        {"4915100000071": "Ines"}), secret)
    assert r.status == 200, r
    c = desk.list()["data"]
    assert len(c) == 1 and c[0]["whatsapp_account_id"] == acc["id"]
    assert c[0]["contact"]["name"] == "Ines"
    assert c[0]["contact"]["phone"] == "+4915100000071"
    assert c[0]["status"] == "open" and c[0]["last_message_at"]
    got = assert_ok(desk("GET", "/conversations/%d" % c[0]["id"]))
    assert [(m["direction"], m["wamid"], m["content"]) for m in
            got["messages"]] == [("inbound", wamid, {"body": "hi there"})]
    assert_totals(desk)


# --------------------------------------------------------------------------
# Scopes, isolation, routing


def test_scopes(desk):
    cid = desk.conversation()
    path = "/conversations/%d" % cid
    reader = desk.tenant.key(scopes=["conversations:read"])
    writer = desk.tenant.key(scopes=["conversations:write"])
    other = desk.tenant.key(scopes=["contacts:read", "messages:read"])
    account = desk.tenant.key(scopes=["account:read"])

    assert_ok(reader("GET", "/conversations"))
    assert_ok(reader("GET", path))
    assert_ok(reader("GET", path + "/messages"))
    assert_error(reader("PUT", path, {"status": "pending"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_error(reader("PATCH", path, {"status": "pending"}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    assert_ok(writer("PUT", path, {"status": "pending"}))
    assert_ok(writer("PATCH", path, {"status": "open"}))
    for p in ("/conversations", path, path + "/messages"):
        assert_error(writer("GET", p), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(other("GET", p), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(other("PUT", path, {}), 403, "INSUFFICIENT_PERMISSIONS")

    assert_ok(account("GET", "/users"))
    for k in (reader, writer, other):
        assert_error(k("GET", "/users"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(desk.stack.request("GET", "/conversations"), 401,
                 "AUTHENTICATION_ERROR")


def test_tenant_isolation(desk, make_tenant):
    cid = desk.conversation()
    other = Desk(desk.stack, make_tenant())
    ocid = other.conversation()
    path = "/conversations/%d" % cid
    for method, p, body in (("GET", path, None),
                            ("GET", path + "/messages", None),
                            ("PUT", path, {"status": "closed"}),
                            ("PATCH", path, {"assigned_to": None})):
        assert_error(other.key(method, p, body), 404, "RESOURCE_NOT_FOUND")
    assert other.ids() == [ocid]
    assert desk.ids() == [cid]
    c = assert_ok(desk("GET", path))
    assert c["status"] == "open"
    assert conv_events(desk.stack, desk.tenant.id) == []


def test_not_found_and_methods(desk):
    for p in ("/conversations/999999999", "/conversations/999999999/messages"):
        assert_error(desk("GET", p), 404, "RESOURCE_NOT_FOUND")
    assert_error(desk("PUT", "/conversations/999999999", {"status": "open"}),
                 404, "RESOURCE_NOT_FOUND")
    cid = desk.conversation()
    r = desk("DELETE", "/conversations/%d" % cid)
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "GET, PUT, PATCH"
    assert_error(desk("POST", "/conversations", {}), 405,
                 "METHOD_NOT_ALLOWED")
    assert_error(desk("POST", "/users", {}), 405, "METHOD_NOT_ALLOWED")
    assert_error(desk("GET", "/conversations/abc"), 404, "RESOURCE_NOT_FOUND")


# --------------------------------------------------------------------------
# Users


def test_users_list(desk, make_tenant):
    assert assert_ok(desk("GET", "/users")) == []
    made = [desk.user(name="Agent %d" % i,
                      email="agent%d-%d@example.com" % (i, desk.tenant.id))
            for i in range(3)]
    r = desk("GET", "/users")
    users = assert_ok(r)
    assert r.body["meta"] == meta(1, 25, 3, 1)
    assert [u["id"] for u in users] == [u["id"] for u in made][::-1]
    for u, m in zip(users, made[::-1]):
        assert set(u) == USER_KEYS
        assert (u["name"], u["email"]) == (m["name"], m["email"])
        assert u["created_at"].endswith("Z")
    r = desk("GET", "/users?per_page=2&page=2")
    assert [u["id"] for u in assert_ok(r)] == [made[0]["id"]]
    assert r.body["meta"] == meta(2, 2, 3, 2)
    assert_error(desk("GET", "/users?per_page=0"), 422, "VALIDATION_ERROR")

    other = Desk(desk.stack, make_tenant())
    theirs = other.user()
    assert [u["id"] for u in assert_ok(other("GET", "/users"))] == \
        [theirs["id"]]
    assert theirs["id"] not in [u["id"] for u in assert_ok(desk("GET",
                                                                "/users"))]
