"""Segments (SPEC 7): CRUD, the filter's validation, contact_count live
from the tags index as contacts change, 409 on deleting a segment a
scheduled or running campaign needs, scopes and tenant isolation."""
import re

import pytest

from conftest import assert_error, assert_ok, new_sender, sql

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SEGMENT_FIELDS = ["id", "name", "filter", "contact_count", "created_at",
                  "updated_at"]


def make_segment(key, tags, match=None, name="Segment"):
    f = {"tags": tags}
    if match is not None:
        f["match"] = match
    return assert_ok(key("POST", "/segments", {"name": name, "filter": f}),
                     201)


def count(key, seg):
    return assert_ok(key("GET", "/segments/%d" % seg["id"]))["contact_count"]


def test_create_get_update_delete(key):
    s = make_segment(key, ["vip", "de", "vip"], name="VIPs in Germany")
    assert list(s.keys()) == SEGMENT_FIELDS
    assert isinstance(s["id"], int)
    assert s["name"] == "VIPs in Germany"
    # Duplicates collapsed, order kept; match defaults to any.
    assert s["filter"] == {"tags": ["vip", "de"], "match": "any"}
    assert s["contact_count"] == 0
    assert RFC3339_Z.match(s["created_at"]) and RFC3339_Z.match(
        s["updated_at"])
    path = "/segments/%d" % s["id"]
    assert assert_ok(key("GET", path)) == s

    # PATCH: the fields present replace; a filter present is a whole
    # filter (its absent match is any).
    u = assert_ok(key("PATCH", path, {"filter": {"tags": ["x"],
                                                 "match": "all"}}))
    assert u["name"] == "VIPs in Germany"
    assert u["filter"] == {"tags": ["x"], "match": "all"}
    u = assert_ok(key("PUT", path, {"filter": {"tags": ["y", "z"]}}))
    assert u["filter"] == {"tags": ["y", "z"], "match": "any"}
    u = assert_ok(key("PUT", path, {"name": "Renamed"}))
    assert u["name"] == "Renamed"
    assert u["filter"] == {"tags": ["y", "z"], "match": "any"}
    assert assert_ok(key("PATCH", path, {})) == u
    assert sql(key.stack, "SELECT name, tags, match_all FROM segments "
               "WHERE id = %d" % s["id"]) == [["Renamed", '["y","z"]', "0"]]

    d = assert_ok(key("DELETE", path))
    assert d == {"id": s["id"], "deleted": True}
    for m, b in (("GET", None), ("PUT", {"name": "x"}),
                 ("PATCH", {"name": "x"}), ("DELETE", None)):
        assert_error(key(m, path, b), 404, "RESOURCE_NOT_FOUND")
    assert_error(key("GET", "/segments/999999999"), 404,
                 "RESOURCE_NOT_FOUND")


def test_list_newest_first_and_paged(key):
    made = [make_segment(key, ["t%d" % i], name="S%d" % i) for i in range(5)]
    r = key("GET", "/segments")
    data = assert_ok(r)
    assert [s["id"] for s in data] == [s["id"] for s in reversed(made)]
    assert data[0] == made[-1]
    assert r.body["meta"] == {"current_page": 1, "per_page": 25, "total": 5,
                              "last_page": 1}
    r = key("GET", "/segments?per_page=2&page=2")
    assert [s["id"] for s in assert_ok(r)] == [made[2]["id"], made[1]["id"]]
    assert r.body["meta"] == {"current_page": 2, "per_page": 2, "total": 5,
                              "last_page": 3}
    assert assert_ok(key("GET", "/segments?per_page=2&page=9")) == []
    assert_error(key("GET", "/segments?per_page=101"), 422,
                 "VALIDATION_ERROR")
    assert_error(key("GET", "/segments?page=0"), 422, "VALIDATION_ERROR")


def fields_of(r):
    return set(assert_error(r, 422, "VALIDATION_ERROR")["details"])


@pytest.mark.parametrize("body,fields", [
    ({}, {"name", "filter"}),
    ({"name": "", "filter": {"tags": []}}, {"name"}),
    ({"name": "x" * 256, "filter": {"tags": []}}, {"name"}),
    ({"name": 5, "filter": {"tags": []}}, {"name"}),
    ({"name": "n"}, {"filter"}),
    ({"name": "n", "filter": None}, {"filter"}),
    ({"name": "n", "filter": ["vip"]}, {"filter"}),
    ({"name": "n", "filter": {}}, {"filter.tags"}),
    ({"name": "n", "filter": {"match": "any"}}, {"filter.tags"}),
    ({"name": "n", "filter": {"tags": "vip"}}, {"filter.tags"}),
    ({"name": "n", "filter": {"tags": None}}, {"filter.tags"}),
    ({"name": "n", "filter": {"tags": ["ok", 5]}}, {"filter.tags.1"}),
    ({"name": "n", "filter": {"tags": [""]}}, {"filter.tags.0"}),
    ({"name": "n", "filter": {"tags": ["x" * 65]}}, {"filter.tags.0"}),
    ({"name": "n", "filter": {"tags": ["t%d" % i for i in range(51)]}},
     {"filter.tags"}),
    ({"name": "n", "filter": {"tags": [], "match": "some"}},
     {"filter.match"}),
    ({"name": "n", "filter": {"tags": [], "match": None}}, {"filter.match"}),
    ({"name": "n", "filter": {"tags": [1], "match": 1}},
     {"filter.tags.0", "filter.match"}),
])
def test_validation(key, body, fields):
    assert fields_of(key("POST", "/segments", body)) == fields
    # The same filter in a change of an existing segment.
    s = make_segment(key, ["keep"])
    if "filter" in body and fields - {"name"}:
        assert fields_of(key("PATCH", "/segments/%d" % s["id"],
                             {"filter": body["filter"]})) == fields - {"name"}
    assert assert_ok(key("GET", "/segments/%d" % s["id"]))["filter"] == \
        {"tags": ["keep"], "match": "any"}
    assert sql(key.stack, "SELECT COUNT(*) FROM segments s JOIN api_keys k "
               "ON k.tenant_id = s.tenant_id WHERE k.id = %d" % key.id) == \
        [["1"]]


def test_validation_messages(key):
    err = assert_error(key("POST", "/segments", {"name": "n", "filter": {
        "tags": ["ok", 7], "match": "most"}}), 422, "VALIDATION_ERROR")
    assert err["details"] == {
        "filter.tags.1": ["The filter.tags.1 field must be a string."],
        "filter.match": ["The selected filter.match is invalid."]}
    err = assert_error(key("POST", "/segments", {"name": "n", "filter": {}}),
                       422, "VALIDATION_ERROR")
    assert err["details"] == {
        "filter.tags": ["The filter.tags field is required."]}
    # Fifty tags are fine.
    s = make_segment(key, ["t%d" % i for i in range(50)])
    assert len(s["filter"]["tags"]) == 50


def test_contact_count_any_all_empty_and_as_contacts_change(key):
    c = {}
    c["a"] = key.create_contact(phone="+4915200000001", tags=["vip", "de"])
    c["b"] = key.create_contact(phone="+4915200000002", tags=["vip"])
    c["c"] = key.create_contact(phone="+4915200000003", tags=["de"])
    c["d"] = key.create_contact(phone="+4915200000004", tags=["de", "news"])
    c["e"] = key.create_contact(phone="+4915200000005", tags=["vip"],
                                opted_out=True)
    c["f"] = key.create_contact(phone="+4915200000006")
    # Another tenant's contacts never count.
    other = key.stack.create_tenant().key()
    other.create_contact(phone="+4915200000001", tags=["vip", "de"])
    other.create_contact(phone="+4915200000009", tags=["vip"])

    everyone = make_segment(key, [])
    everyone_all = make_segment(key, [], match="all")
    vip = make_segment(key, ["vip"])
    vip_all = make_segment(key, ["vip"], match="all")
    vip_or_de = make_segment(key, ["vip", "de"])
    vip_and_de = make_segment(key, ["vip", "de"], match="all")
    three_all = make_segment(key, ["vip", "de", "news"], match="all")
    de_or_news = make_segment(key, ["de", "news"])
    case = make_segment(key, ["VIP"])
    none = make_segment(key, ["nobody"])
    segs = [everyone, everyone_all, vip, vip_all, vip_or_de, vip_and_de,
            three_all, de_or_news, case, none]

    def counts():
        return [count(key, s) for s in segs]

    # e opted out: never in an audience; f has no tag.
    assert counts() == [5, 5, 2, 2, 4, 1, 0, 3, 0, 0]
    # The list shows the same live counts.
    listed = {s["id"]: s["contact_count"]
              for s in assert_ok(key("GET", "/segments"))}
    assert [listed[s["id"]] for s in segs] == counts()

    # Tags added and removed.
    assert_ok(key("PATCH", "/contacts/%d" % c["c"]["id"],
                  {"tags": ["de", "vip", "news"]}))
    assert counts() == [5, 5, 3, 3, 4, 2, 1, 3, 0, 0]
    assert_ok(key("PUT", "/contacts/%d" % c["a"]["id"], {"tags": []}))
    assert counts() == [5, 5, 2, 2, 3, 1, 1, 2, 0, 0]
    # Opt-out and back in through PUT.
    assert_ok(key("PUT", "/contacts/%d" % c["b"]["id"], {"opted_out": True}))
    assert counts() == [4, 4, 1, 1, 2, 1, 1, 2, 0, 0]
    assert_ok(key("PATCH", "/contacts/%d" % c["e"]["id"],
                  {"opted_out": False}))
    assert counts() == [5, 5, 2, 2, 3, 1, 1, 2, 0, 0]
    # A tag change of an opted-out contact keeps it out.
    assert_ok(key("PATCH", "/contacts/%d" % c["b"]["id"],
                  {"tags": ["vip", "de", "news"]}))
    assert counts() == [5, 5, 2, 2, 3, 1, 1, 2, 0, 0]
    # Deleted.
    assert_ok(key("DELETE", "/contacts/%d" % c["d"]["id"]))
    assert counts() == [4, 4, 2, 2, 2, 1, 1, 1, 0, 0]
    # The filter changed: the count follows.
    u = assert_ok(key("PATCH", "/segments/%d" % none["id"],
                      {"filter": {"tags": ["news"]}}))
    assert u["contact_count"] == 1


def test_contact_count_after_inbound_stop_and_start(stack):
    k = new_sender(stack)
    c = k.create_contact(phone="+4915300000001", tags=["vip"])
    k.create_contact(phone="+4915300000002", tags=["vip"])
    vip = make_segment(k, ["vip"])
    everyone = make_segment(k, [])
    assert (count(k, vip), count(k, everyone)) == (2, 2)
    k.customer_writes("+4915300000001", text="STOP")
    assert assert_ok(k("GET", "/contacts/%d" % c["id"]))["opted_out"] is True
    assert (count(k, vip), count(k, everyone)) == (1, 1)
    k.customer_writes("+4915300000001", text="START")
    assert assert_ok(k("GET", "/contacts/%d" % c["id"]))["opted_out"] is False
    assert (count(k, vip), count(k, everyone)) == (2, 2)
    # A new customer writes in: a contact without tags, in "everyone".
    k.customer_writes("+4915300000003", text="Hi")
    assert (count(k, vip), count(k, everyone)) == (2, 3)


def campaign(key, segment, status=None):
    c = assert_ok(key("POST", "/campaigns", {
        "name": "Spring", "whatsapp_account_id": key.account["id"],
        "segment_id": segment["id"], "template_name": "spring_sale"}), 201)
    if status is not None:
        sql(key.stack, "UPDATE campaigns SET status = '%s' WHERE id = %d" %
            (status, c["id"]))
    return c


def test_delete_of_a_segment_in_use_is_409(stack):
    k = new_sender(stack)
    s = make_segment(k, ["vip"])
    path = "/segments/%d" % s["id"]
    c = campaign(k, s)      # scheduled
    err = assert_error(k("DELETE", path), 409, "CONFLICT")
    assert "campaign" in err["message"]
    sql(stack, "UPDATE campaigns SET status = 'running', phase = 'queue', "
        "started_at = NOW(3) WHERE id = %d" % c["id"])
    assert_error(k("DELETE", path), 409, "CONFLICT")
    assert assert_ok(k("GET", path))["id"] == s["id"]
    # Finished campaigns do not hold it.
    for status in ("completed", "failed", "cancelled"):
        sql(stack, "UPDATE campaigns SET status = '%s' WHERE id = %d" %
            (status, c["id"]))
        s2 = make_segment(k, ["x"])
        campaign(k, s2, status)
        assert assert_ok(k("DELETE", "/segments/%d" % s2["id"]))["deleted"]
    assert assert_ok(k("DELETE", path))["deleted"] is True
    # Its campaign still reads (naming the segment that was).
    assert assert_ok(k("GET", "/campaigns/%d" % c["id"]))["segment_id"] == \
        s["id"]


def test_cancel_frees_the_segment(stack):
    k = new_sender(stack)
    s = make_segment(k, [])
    c = campaign(k, s)
    assert_error(k("DELETE", "/segments/%d" % s["id"]), 409, "CONFLICT")
    assert_ok(k("POST", "/campaigns/%d/cancel" % c["id"]))
    assert assert_ok(k("DELETE", "/segments/%d" % s["id"]))["deleted"]


def test_tenant_isolation(make_key):
    a, b = make_key(), make_key()
    a.create_contact(phone="+4915400000001", tags=["secret"])
    sa = make_segment(a, ["secret"], name="A's secret")
    sb = make_segment(b, ["secret"], name="B's")
    path = "/segments/%d" % sa["id"]
    assert_error(b("GET", path), 404, "RESOURCE_NOT_FOUND")
    assert_error(b("PUT", path, {"name": "pwned"}), 404, "RESOURCE_NOT_FOUND")
    assert_error(b("PATCH", path, {"filter": {"tags": []}}), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(b("DELETE", path), 404, "RESOURCE_NOT_FOUND")
    r = b("GET", "/segments")
    assert [s["id"] for s in assert_ok(r)] == [sb["id"]]
    assert r.body["meta"]["total"] == 1
    assert "A's secret" not in r.raw.decode()
    # B's count of the same tag is B's contacts only.
    assert assert_ok(b("GET", "/segments/%d" % sb["id"]))[
        "contact_count"] == 0
    assert assert_ok(a("GET", path)) == dict(sa, contact_count=1)


def test_scopes_and_auth(stack, make_tenant):
    t = make_tenant()
    full = t.key()
    s = make_segment(full, ["vip"])
    path = "/segments/%d" % s["id"]
    reader = t.key(scopes=["campaigns:read"])
    writer = t.key(scopes=["campaigns:write"])
    contacts = t.key(scopes=["contacts:read", "contacts:write"])
    body = {"name": "n", "filter": {"tags": []}}
    assert assert_ok(reader("GET", "/segments"))[0]["id"] == s["id"]
    assert assert_ok(reader("GET", path))["id"] == s["id"]
    for m, p, b in (("POST", "/segments", body), ("PUT", path, body),
                    ("PATCH", path, body), ("DELETE", path, None)):
        err = assert_error(reader(m, p, b), 403, "INSUFFICIENT_PERMISSIONS")
        assert "campaigns:write" in err["message"]
        assert_error(contacts(m, p, b), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(stack.request(m, p, b), 401, "AUTHENTICATION_ERROR")
    for p in ("/segments", path):
        err = assert_error(writer("GET", p), 403, "INSUFFICIENT_PERMISSIONS")
        assert "campaigns:read" in err["message"]
        assert_error(contacts("GET", p), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(stack.request("GET", p), 401, "AUTHENTICATION_ERROR")
    s2 = assert_ok(writer("POST", "/segments", body), 201)
    assert assert_ok(writer("PATCH", "/segments/%d" % s2["id"],
                            {"name": "m"}))["name"] == "m"
    assert assert_ok(writer("DELETE", "/segments/%d" % s2["id"]))["deleted"]
    # Unchanged by the refused requests.
    assert assert_ok(full("GET", path)) == s


def test_filter_change_while_a_campaign_takes_its_snapshot_is_409(stack):
    k = new_sender(stack)
    s = make_segment(k, ["vip"])
    path = "/segments/%d" % s["id"]
    c = campaign(k, s)
    # Scheduled: the campaign takes the filter it finds when it starts.
    assert assert_ok(k("PATCH", path, {"filter": {"tags": ["de"]}}))[
        "filter"] == {"tags": ["de"], "match": "any"}
    sql(stack, "UPDATE campaigns SET status = 'running', phase = 'snapshot', "
        "started_at = NOW(3) WHERE id = %d" % c["id"])
    for m in ("PUT", "PATCH"):
        err = assert_error(k(m, path, {"filter": {"tags": ["x"]}}), 409,
                           "CONFLICT")
        assert "snapshot" in err["message"]
        assert_error(k(m, path, {"name": "n", "filter": {"tags": []}}), 409,
                     "CONFLICT")
    # Its name may change; the filter stayed.
    u = assert_ok(k("PATCH", path, {"name": "Renamed"}))
    assert u["name"] == "Renamed"
    assert u["filter"] == {"tags": ["de"], "match": "any"}
    # Once the snapshot is taken, the filter may change again.
    sql(stack, "UPDATE campaigns SET phase = 'queue' WHERE id = %d" %
        c["id"])
    assert assert_ok(k("PUT", path, {"filter": {"tags": ["x"],
                                                "match": "all"}}))[
        "filter"] == {"tags": ["x"], "match": "all"}
    # Another tenant's segment id is still 404, not 409.
    other = new_sender(stack)
    assert_error(other("PATCH", path, {"filter": {"tags": []}}), 404,
                 "RESOURCE_NOT_FOUND")
