"""Campaigns through the API (SPEC 7): create and its validation, list,
get, cancel, the recipients list, stats from the counters, scopes and
tenant isolation. The spooler's part (start, snapshot, sends, completion)
is tests/e2e/test_campaigns_spool.py's and test_campaigns_send.py's: here
statuses, recipients and counters are set with SQL where a test needs
them."""
import calendar
import re
import time

import pytest

from conftest import assert_error, assert_ok, new_sender, sql

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CAMPAIGN_FIELDS = ["id", "name", "whatsapp_account_id", "segment_id",
                   "template_name", "template_language",
                   "template_components", "status", "scheduled_at",
                   "started_at", "finished_at", "error", "stats",
                   "created_at", "updated_at"]
ZERO = {"total": 0, "queued": 0, "sent": 0, "delivered": 0, "read": 0,
        "failed": 0}
COMPONENTS = [{"type": "body", "parameters": [
    {"type": "text", "text": "{{contact.name|there}}"},
    {"type": "text", "text": "Code {{ contact.custom_fields.code }}"}]}]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def unix(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def db_now(stack):
    return int(sql(stack, "SELECT UNIX_TIMESTAMP()")[0][0])


@pytest.fixture
def sender(stack):
    """A key of a fresh tenant with an account and a segment (k.segment)."""
    k = new_sender(stack)
    k.segment = assert_ok(k("POST", "/segments", {
        "name": "VIP", "filter": {"tags": ["vip"]}}), 201)
    return k


def body_for(k, **over):
    b = {"name": "Spring sale", "whatsapp_account_id": k.account["id"],
         "segment_id": k.segment["id"], "template_name": "spring_sale"}
    b.update(over)
    return {n: v for n, v in b.items() if v is not ...}


def create(k, **over):
    return assert_ok(k("POST", "/campaigns", body_for(k, **over)), 201)


def test_create_defaults(stack, sender):
    before = db_now(stack)
    c = create(sender)
    after = db_now(stack)
    assert list(c.keys()) == CAMPAIGN_FIELDS
    assert isinstance(c["id"], int)
    assert c["name"] == "Spring sale"
    assert c["whatsapp_account_id"] == sender.account["id"]
    assert c["segment_id"] == sender.segment["id"]
    assert c["template_name"] == "spring_sale"
    assert c["template_language"] == "en"
    assert c["template_components"] == []
    assert c["status"] == "scheduled"
    # No scheduled_at: now.
    assert before <= unix(c["scheduled_at"]) <= after
    assert c["started_at"] is None and c["finished_at"] is None
    assert c["error"] is None
    assert c["stats"] == ZERO
    assert RFC3339_Z.match(c["created_at"]) and RFC3339_Z.match(
        c["updated_at"])
    assert assert_ok(sender("GET", "/campaigns/%d" % c["id"])) == c
    assert sql(stack, "SELECT status, phase, snapshot_cursor, queue_cursor, "
               "lease_holder IS NULL, template_components FROM campaigns "
               "WHERE id = %d" % c["id"]) == \
        [["scheduled", "snapshot", "0", "0", "1", "[]"]]


def test_create_with_everything(stack, sender):
    at = db_now(stack) + 3600
    c = create(sender, name="Ünïcode name", template_name="hello_world",
               template_language={"code": "en_US"},
               template_components=COMPONENTS, scheduled_at=rfc3339(at))
    assert c["name"] == "Ünïcode name"
    assert c["template_name"] == "hello_world"
    assert c["template_language"] == "en_US"
    assert c["template_components"] == COMPONENTS
    assert c["scheduled_at"] == rfc3339(at)
    # Other spellings: a string language; a time with an offset and
    # fractions; null components and scheduled_at are the defaults.
    c = create(sender, template_language="pt_BR",
               scheduled_at="2099-01-02T03:04:05.678+02:00")
    assert c["template_language"] == "pt_BR"
    assert c["scheduled_at"] == "2099-01-02T01:04:05Z"
    c = create(sender, template_components=None, scheduled_at=None,
               template_language="fil")
    assert c["template_components"] == [] and c["template_language"] == "fil"
    assert abs(unix(c["scheduled_at"]) - db_now(stack)) <= 5


def test_scheduled_at_clock_skew(stack, sender):
    # Up to 60 s in the past is taken as now (clock skew).
    now = db_now(stack)
    c = create(sender, scheduled_at=rfc3339(now - 30))
    assert unix(c["scheduled_at"]) >= now
    err = assert_error(sender("POST", "/campaigns", body_for(
        sender, scheduled_at=rfc3339(now - 120))), 422, "VALIDATION_ERROR")
    assert err["details"] == {"scheduled_at": [
        "The scheduled at field must be a date in the future or now."]}


def errors(k, **over):
    err = assert_error(k("POST", "/campaigns", body_for(k, **over)), 422,
                       "VALIDATION_ERROR")
    return err["details"]


@pytest.mark.parametrize("over,fields", [
    ({"name": ...}, {"name"}),
    ({"name": ""}, {"name"}),
    ({"name": "x" * 256}, {"name"}),
    ({"whatsapp_account_id": ...}, {"whatsapp_account_id"}),
    ({"whatsapp_account_id": "1"}, {"whatsapp_account_id"}),
    ({"whatsapp_account_id": 0}, {"whatsapp_account_id"}),
    ({"whatsapp_account_id": 999999999}, {"whatsapp_account_id"}),
    ({"segment_id": ...}, {"segment_id"}),
    ({"segment_id": None}, {"segment_id"}),
    ({"segment_id": 999999999}, {"segment_id"}),
    ({"template_name": ...}, {"template_name"}),
    ({"template_name": ""}, {"template_name"}),
    ({"template_name": "Spring_Sale"}, {"template_name"}),
    ({"template_name": "spring-sale"}, {"template_name"}),
    ({"template_name": "spring sale"}, {"template_name"}),
    ({"template_name": "a" * 513}, {"template_name"}),
    ({"template_name": 5}, {"template_name"}),
    ({"template_language": "english"}, {"template_language"}),
    ({"template_language": "EN"}, {"template_language"}),
    ({"template_language": "en_"}, {"template_language"}),
    ({"template_language": "en-US"}, {"template_language"}),
    ({"template_language": 5}, {"template_language"}),
    ({"template_language": {}}, {"template_language.code"}),
    ({"template_language": {"code": 5}}, {"template_language.code"}),
    ({"template_language": {"code": "en_USAXX"}},
     {"template_language.code"}),
    ({"template_components": {}}, {"template_components"}),
    ({"template_components": "body"}, {"template_components"}),
    ({"template_components": [{"type": "body"}] * 21},
     {"template_components"}),
    ({"template_components": ["body"]}, {"template_components.0"}),
    ({"template_components": [{"type": "body"}, {"parameters": []}]},
     {"template_components.1.type"}),
    ({"template_components": [{"type": 1}]}, {"template_components.0.type"}),
    ({"template_components": [{"type": "body", "parameters": [
        {"type": "text", "text": "Hi {{contact.nickname}}"}]}]},
     {"template_components"}),
    ({"template_components": [{"type": "body", "parameters": [
        {"type": "text", "text": "Hi {{contact.name"}]}]},
     {"template_components"}),
    ({"template_components": [{"type": "body", "parameters": [
        {"type": "text", "text": "x" * 17000}]}]}, {"template_components"}),
    ({"template_components": [{"type": "body", "parameters": [
        {"type": "text", "text": "{{contact.name|a}}" * 101}]}]},
     {"template_components"}),
    ({"template_components": [{"type": "body", "parameters": [
        {"type": "text", "text": "{{contact.name|" + "a" * 300 + "}}"}]}]},
     {"template_components"}),
    ({"scheduled_at": "tomorrow"}, {"scheduled_at"}),
    ({"scheduled_at": "2026-13-01T00:00:00Z"}, {"scheduled_at"}),
    ({"scheduled_at": "2020-01-01T00:00:00Z"}, {"scheduled_at"}),
    ({"scheduled_at": 1893456000}, {"scheduled_at"}),
    ({"name": 1, "template_name": "X", "scheduled_at": "x"},
     {"name", "template_name", "scheduled_at"}),
])
def test_validation(stack, sender, over, fields):
    assert set(errors(sender, **over)) == fields
    assert sql(stack, "SELECT COUNT(*) FROM campaigns WHERE "
               "whatsapp_account_id = %d" % sender.account["id"]) == [["0"]]


def test_validation_messages(sender):
    d = errors(sender, template_components=[{"type": "body", "parameters": [
        {"type": "text", "text": "fine {{contact.email}}"},
        {"type": "image", "image": {"link": "https://x.example/{{a}}"}},
        {"type": "text", "text": "Hi {{contact.nickname|you}}"}]}])
    # Only text parameters are filled, so only they are checked; the
    # message names the parameter and the placeholder.
    assert list(d) == ["template_components"]
    assert len(d["template_components"]) == 1
    msg = d["template_components"][0]
    assert "template_components.0.parameters.2.text" in msg
    assert "contact.nickname" in msg
    assert errors(sender, template_name="Bad") == {"template_name": [
        "The template name field must contain only lowercase letters, "
        "digits and underscores."]}
    assert errors(sender, whatsapp_account_id=None, segment_id=None) == {
        "whatsapp_account_id": ["The whatsapp account id field is required."],
        "segment_id": ["The segment id field is required."]}
    assert errors(sender, whatsapp_account_id=999999999,
                  segment_id=999999999) == {
        "whatsapp_account_id": ["The selected whatsapp account id is "
                                "invalid."],
        "segment_id": ["The selected segment id is invalid."]}
    # Every placeholder field SPEC 7 names is accepted.
    c = create(sender, template_components=[{"type": "header"}, {
        "type": "body", "parameters": [
            {"type": "text", "text": t} for t in (
                "{{contact.name}}", "{{contact.phone}}", "{{contact.email}}",
                "{{contact.custom_fields.tier|gold}}", "no placeholder",
                "{{contact.name|}}")]}])
    assert len(c["template_components"][1]["parameters"]) == 6


def test_another_tenants_account_and_segment_are_422(stack, sender):
    other = new_sender(stack)
    other.segment = assert_ok(other("POST", "/segments", {
        "name": "Theirs", "filter": {"tags": []}}), 201)
    assert errors(sender, whatsapp_account_id=other.account["id"]) == {
        "whatsapp_account_id": ["The selected whatsapp account id is "
                                "invalid."]}
    assert errors(sender, segment_id=other.segment["id"]) == {
        "segment_id": ["The selected segment id is invalid."]}
    assert set(errors(sender, whatsapp_account_id=other.account["id"],
                      segment_id=other.segment["id"])) == \
        {"whatsapp_account_id", "segment_id"}
    assert sql(stack, "SELECT COUNT(*) FROM campaigns WHERE segment_id IN "
               "(%d, %d)" % (sender.segment["id"], other.segment["id"])) == \
        [["0"]]


def test_list_newest_first_paged_and_filtered(stack, sender):
    made = [create(sender, name="C%d" % i) for i in range(4)]
    ids = [c["id"] for c in made]
    r = sender("GET", "/campaigns")
    assert [c["id"] for c in assert_ok(r)] == ids[::-1]
    assert assert_ok(r)[0] == made[-1]
    assert r.body["meta"] == {"current_page": 1, "per_page": 25, "total": 4,
                              "last_page": 1}
    r = sender("GET", "/campaigns?per_page=3&page=2")
    assert [c["id"] for c in assert_ok(r)] == [ids[0]]
    assert r.body["meta"]["total"] == 4 and r.body["meta"]["last_page"] == 2
    sql(stack, "UPDATE campaigns SET status = 'completed' WHERE id IN "
        "(%d, %d)" % (ids[0], ids[2]))
    r = sender("GET", "/campaigns?status=completed")
    assert [c["id"] for c in assert_ok(r)] == [ids[2], ids[0]]
    assert all(c["status"] == "completed" for c in assert_ok(r))
    r = sender("GET", "/campaigns?status=scheduled&per_page=1&page=2")
    assert [c["id"] for c in assert_ok(r)] == [ids[1]]
    assert r.body["meta"]["total"] == 2
    assert assert_ok(sender("GET", "/campaigns?status=failed")) == []
    assert assert_ok(sender("GET", "/campaigns?status=")) != []
    err = assert_error(sender("GET", "/campaigns?status=done"), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == ["status"]
    assert_error(sender("GET", "/campaigns?per_page=0"), 422,
                 "VALIDATION_ERROR")


def test_stats_are_the_counters_sums_and_error_shows(stack, sender):
    c = create(sender)
    cid = c["id"]
    sql(stack, "INSERT INTO campaign_counters (campaign_id, shard, total, "
        "queued, sent, delivered, `read`, failed) VALUES "
        "(%d, 1, 10, 4, 3, 1, 1, 1), (%d, 7, 5, -1, 2, 2, 1, 1)" %
        (cid, cid))
    sql(stack, "UPDATE campaigns SET status = 'failed', started_at = NOW(3), "
        "finished_at = NOW(3), error_code = 132015, error_title = "
        "'Template is paused', error_message = 'Template \"spring_sale\" is "
        "paused.' WHERE id = %d" % cid)
    g = assert_ok(sender("GET", "/campaigns/%d" % cid))
    assert g["stats"] == {"total": 15, "queued": 3, "sent": 5,
                          "delivered": 3, "read": 2, "failed": 2}
    assert g["status"] == "failed"
    assert g["error"] == {"code": 132015, "title": "Template is paused",
                          "message": 'Template "spring_sale" is paused.'}
    assert RFC3339_Z.match(g["started_at"]) and RFC3339_Z.match(
        g["finished_at"])
    # The list shows the same object.
    assert assert_ok(sender("GET", "/campaigns"))[0] == g


def campaign_phase(stack, cid):
    return sql(stack, "SELECT status, phase, finished_at IS NOT NULL FROM "
               "campaigns WHERE id = %d" % cid)[0]


def test_cancel_scheduled(stack, sender):
    c = create(sender, scheduled_at=rfc3339(db_now(stack) + 3600))
    path = "/campaigns/%d/cancel" % c["id"]
    x = assert_ok(sender("POST", path))
    assert x["status"] == "cancelled"
    assert RFC3339_Z.match(x["finished_at"])
    assert x["started_at"] is None
    assert {k: v for k, v in x.items() if k not in (
        "status", "finished_at", "updated_at")} == \
        {k: v for k, v in c.items() if k not in (
            "status", "finished_at", "updated_at")}
    # Never started: nothing for the spooler to park.
    assert campaign_phase(stack, c["id"]) == ["cancelled", "done", "1"]
    assert assert_ok(sender("GET", "/campaigns/%d" % c["id"])) == x
    err = assert_error(sender("POST", path), 409, "CONFLICT")
    assert err["message"] == "The campaign is already cancelled."
    assert assert_ok(sender("GET", "/campaigns/%d" % c["id"])) == x


@pytest.mark.parametrize("phase,after", [
    ("snapshot", "parking"), ("queue", "parking"), ("sending", "parking"),
    ("parking", "parking"), ("done", "done")])
def test_cancel_running(stack, sender, phase, after):
    c = create(sender)
    sql(stack, "UPDATE campaigns SET status = 'running', phase = '%s', "
        "started_at = NOW(3) WHERE id = %d" % (phase, c["id"]))
    x = assert_ok(sender("POST", "/campaigns/%d/cancel" % c["id"]))
    assert x["status"] == "cancelled" and x["finished_at"] is not None
    assert x["started_at"] is not None
    assert campaign_phase(stack, c["id"]) == ["cancelled", after, "1"]
    assert_error(sender("POST", "/campaigns/%d/cancel" % c["id"]), 409,
                 "CONFLICT")


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_cancel_finished_is_409(stack, sender, status):
    c = create(sender)
    sql(stack, "UPDATE campaigns SET status = '%s', phase = 'done', "
        "started_at = NOW(3), finished_at = NOW(3) WHERE id = %d" %
        (status, c["id"]))
    before = assert_ok(sender("GET", "/campaigns/%d" % c["id"]))
    err = assert_error(sender("POST", "/campaigns/%d/cancel" % c["id"]),
                       409, "CONFLICT")
    assert err["message"] == "The campaign is already %s." % status
    assert assert_ok(sender("GET", "/campaigns/%d" % c["id"])) == before
    assert campaign_phase(stack, c["id"])[:2] == [status, "done"]


def add_recipients(stack, cid, rows):
    """Recipient rows (contact_id, phone, status, message_id, error or
    None) and the counters they make, as the spooler would write them."""
    vals = []
    for contact, phone, status, mid, err in rows:
        code, title, msg = err if err else ("NULL", None, None)
        vals.append("(%d, %d, '%s', %s, '%s', %s, %s, %s, "
                    "'2026-03-15 10:00:00')" % (
                        cid, contact, phone, mid or "NULL", status, code,
                        "'%s'" % title if title else "NULL",
                        "'%s'" % msg if msg else "NULL"))
    sql(stack, "INSERT INTO campaign_recipients (campaign_id, contact_id, "
        "phone, message_id, status, error_code, error_title, "
        "error_message, updated_at) VALUES " + ", ".join(vals))
    n = {s: sum(1 for r in rows if r[2] == s) for s in
         ("queued", "sent", "delivered", "read", "failed")}
    sql(stack, "INSERT INTO campaign_counters (campaign_id, shard, total, "
        "queued, sent, delivered, `read`, failed) VALUES "
        "(%d, 3, %d, %d, %d, %d, %d, %d)" % (
            cid, len(rows), n["queued"], n["sent"], n["delivered"],
            n["read"], n["failed"]))


def test_recipients(stack, sender):
    c = create(sender)
    cid = c["id"]
    statuses = ["queued", "sent", "delivered", "read", "failed"]
    rows = []
    # Inserted out of order: the list is in contact id order.
    for i in reversed(range(1, 13)):
        st = statuses[i % 5]
        err = (131050, "Contact opted out", "The contact opted out.") \
            if st == "failed" else None
        rows.append((1000 + i, "+4915500000%03d" % i, st,
                     None if i == 12 else 5000 + i, err))
    add_recipients(stack, cid, rows)
    path = "/campaigns/%d/recipients" % cid
    r = sender("GET", path)
    data = assert_ok(r)
    assert [x["contact_id"] for x in data] == list(range(1001, 1013))
    assert r.body["meta"] == {"current_page": 1, "per_page": 25, "total": 12,
                              "last_page": 1}
    first = data[0]
    assert first == {"contact_id": 1001, "phone": "+4915500000001",
                     "status": "sent", "message_id": 5001, "error": None,
                     "updated_at": "2026-03-15T10:00:00Z"}
    failed = [x for x in data if x["status"] == "failed"]
    assert [x["contact_id"] for x in failed] == [1004, 1009]
    assert failed[0]["error"] == {"code": 131050,
                                  "title": "Contact opted out",
                                  "message": "The contact opted out."}
    assert data[-1]["message_id"] is None
    assert all(x["error"] is None for x in data if x["status"] != "failed")
    # Paging.
    r = sender("GET", path + "?per_page=5&page=2")
    assert [x["contact_id"] for x in assert_ok(r)] == list(range(1006, 1011))
    assert r.body["meta"] == {"current_page": 2, "per_page": 5, "total": 12,
                              "last_page": 3}
    assert assert_ok(sender("GET", path + "?per_page=5&page=4")) == []
    # The status filter; meta.total is the counters' bucket.
    for st in statuses:
        r = sender("GET", path + "?status=" + st)
        want = [1000 + i for i in range(1, 13) if statuses[i % 5] == st]
        assert [x["contact_id"] for x in assert_ok(r)] == want
        assert all(x["status"] == st for x in assert_ok(r))
        assert r.body["meta"]["total"] == len(want)
    r = sender("GET", path + "?status=queued&per_page=1&page=2")
    assert [x["contact_id"] for x in assert_ok(r)] == [1010]
    err = assert_error(sender("GET", path + "?status=sending"), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == ["status"]
    assert_error(sender("GET", path + "?per_page=500"), 422,
                 "VALIDATION_ERROR")
    # The campaign's stats agree.
    assert assert_ok(sender("GET", "/campaigns/%d" % cid))["stats"] == {
        "total": 12, "queued": 2, "sent": 3, "delivered": 3, "read": 2,
        "failed": 2}
    # A campaign without recipients yet.
    c2 = create(sender)
    r = sender("GET", "/campaigns/%d/recipients" % c2["id"])
    assert assert_ok(r) == [] and r.body["meta"]["total"] == 0
    assert_error(sender("GET", "/campaigns/999999999/recipients"), 404,
                 "RESOURCE_NOT_FOUND")


def test_tenant_isolation(stack, sender):
    other = new_sender(stack)
    other.segment = assert_ok(other("POST", "/segments", {
        "name": "Theirs", "filter": {"tags": []}}), 201)
    mine = create(sender, name="Secret plan")
    theirs = create(other)
    add_recipients(stack, mine["id"], [(1, "+4915600000001", "sent", 1,
                                        None)])
    p = "/campaigns/%d" % mine["id"]
    assert_error(other("GET", p), 404, "RESOURCE_NOT_FOUND")
    assert_error(other("POST", p + "/cancel"), 404, "RESOURCE_NOT_FOUND")
    assert_error(other("GET", p + "/recipients"), 404, "RESOURCE_NOT_FOUND")
    assert_error(other("GET", p + "/recipients?status=sent"), 404,
                 "RESOURCE_NOT_FOUND")
    r = other("GET", "/campaigns")
    assert [c["id"] for c in assert_ok(r)] == [theirs["id"]]
    assert "Secret plan" not in r.raw.decode()
    assert r.body["meta"]["total"] == 1
    assert assert_ok(sender("GET", p))["status"] == "scheduled"


def test_scopes_and_auth(stack, sender):
    t = sender.tenant
    reader = t.key(scopes=["campaigns:read"])
    writer = t.key(scopes=["campaigns:write"])
    contacts = t.key(scopes=["contacts:read", "contacts:write",
                             "messages:send"])
    c = create(sender)
    p = "/campaigns/%d" % c["id"]
    for path in ("/campaigns", p, p + "/recipients"):
        assert_ok(reader("GET", path))
        err = assert_error(writer("GET", path), 403,
                           "INSUFFICIENT_PERMISSIONS")
        assert "campaigns:read" in err["message"]
        assert_error(contacts("GET", path), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(stack.request("GET", path), 401, "AUTHENTICATION_ERROR")
    for path, body in (("/campaigns", body_for(sender)),
                       (p + "/cancel", None)):
        err = assert_error(reader("POST", path, body), 403,
                           "INSUFFICIENT_PERMISSIONS")
        assert "campaigns:write" in err["message"]
        assert_error(contacts("POST", path, body), 403,
                     "INSUFFICIENT_PERMISSIONS")
        assert_error(stack.request("POST", path, body), 401,
                     "AUTHENTICATION_ERROR")
    assert sql(stack, "SELECT COUNT(*), MIN(status) FROM campaigns WHERE "
               "tenant_id = %d" % t.id) == [["1", "scheduled"]]
    assert assert_ok(writer("POST", "/campaigns", body_for(sender)), 201)
    assert assert_ok(writer("POST", p + "/cancel"))["status"] == "cancelled"


def test_idempotency_key(stack, sender):
    h = {"Idempotency-Key": "camp-%d" % sender.id}
    b = body_for(sender, scheduled_at="2099-01-01T00:00:00Z")
    r1 = sender("POST", "/campaigns", b, headers=h)
    c = assert_ok(r1, 201)
    r2 = sender("POST", "/campaigns", b, headers=h)
    assert r2.status == 201 and r2.body == r1.body
    assert sql(stack, "SELECT COUNT(*) FROM campaigns WHERE tenant_id = %d" %
               sender.tenant.id) == [["1"]]
    assert_error(sender("POST", "/campaigns", dict(b, name="Other"),
                        headers=h), 409, "CONFLICT")
    # The cancel too: replayed, not a 409.
    h2 = {"Idempotency-Key": "cancel-%d" % sender.id}
    x1 = sender("POST", "/campaigns/%d/cancel" % c["id"], headers=h2)
    x2 = sender("POST", "/campaigns/%d/cancel" % c["id"], headers=h2)
    assert x1.status == x2.status == 200 and x1.body == x2.body
    assert_error(sender("POST", "/campaigns/%d/cancel" % c["id"]), 409,
                 "CONFLICT")
    # A segment's create as well.
    h3 = {"Idempotency-Key": "seg-%d" % sender.id}
    sb = {"name": "Once", "filter": {"tags": ["once"]}}
    s1 = sender("POST", "/segments", sb, headers=h3)
    s2 = sender("POST", "/segments", sb, headers=h3)
    assert s1.status == s2.status == 201 and s1.body == s2.body
    assert sql(stack, "SELECT COUNT(*) FROM segments WHERE tenant_id = %d "
               "AND name = 'Once'" % sender.tenant.id) == [["1"]]


def test_methods(sender):
    c = create(sender)
    p = "/campaigns/%d" % c["id"]
    for m in ("PUT", "PATCH", "DELETE"):
        r = sender(m, p, {"name": "x"})
        assert_error(r, 405, "METHOD_NOT_ALLOWED")
        assert r.headers["allow"] == "GET"
    r = sender("GET", p + "/cancel")
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "POST"
    assert_error(sender("POST", p + "/recipients"), 405, "METHOD_NOT_ALLOWED")
    assert_error(sender("GET", p + "/start"), 404, "RESOURCE_NOT_FOUND")
    assert assert_ok(sender("GET", p)) == c
