"""Tenant isolation (SPEC 2): another tenant's objects answer 404."""
from conftest import assert_error, assert_ok


def test_other_tenant_contact_is_404(make_key):
    a, b = make_key(), make_key()
    ca = a.create_contact(phone="+4915112345678", name="Secret Alice",
                          email="alice@secret.example", tags=["hidden"])
    cb = b.create_contact(phone="+4915100000001", name="Bob")
    pa = "/contacts/%d" % ca["id"]
    assert_error(b("GET", pa), 404, "RESOURCE_NOT_FOUND")
    assert_error(b("PUT", pa, {"name": "pwned"}), 404, "RESOURCE_NOT_FOUND")
    assert_error(b("PATCH", pa, {"name": "pwned", "phone": "+4915199999999"}),
                 404, "RESOURCE_NOT_FOUND")
    assert_error(b("DELETE", pa), 404, "RESOURCE_NOT_FOUND")
    # An invalid body for another tenant's contact: the body is checked
    # before the contact is looked up, so the 422 is the same whether the
    # id exists or not (nothing leaks), and nothing changes.
    r = b("PATCH", pa, {"email": "bad"})
    assert_error(r, 422, "VALIDATION_ERROR")
    assert_error(b("PATCH", "/contacts/999999999", {"email": "bad"}), 422,
                 "VALIDATION_ERROR")
    assert assert_ok(a("GET", pa)) == ca
    # B's own contact is fine.
    assert assert_ok(b("GET", "/contacts/%d" % cb["id"])) == cb


def test_lists_and_search_are_confined(make_key):
    a, b = make_key(), make_key()
    ca = a.create_contact(phone="+4915112345678", name="Zebediah Unique",
                          email="zeb@unique.example", tags=["only-a"])
    cb = b.create_contact(phone="+4915100000001", name="Bob")
    assert assert_ok(b("GET", "/contacts")) == [cb]
    assert b("GET", "/contacts").body["meta"]["total"] == 1
    for q in ("search=Zebediah", "search=zeb", "search=z", "search=unique",
              "search=%2B4915112345678", "search=5112", "tag=only-a",
              "search=zeb&tag=only-a", "per_page=1&page=2",
              "search=b&per_page=1&page=2"):
        r = b("GET", "/contacts?" + q)
        data = assert_ok(r)
        assert ca["id"] not in [c["id"] for c in data], q
        assert "Zebediah" not in r.raw.decode(), q
    r = b("GET", "/contacts?tag=only-a&per_page=1&page=2")
    assert r.body["meta"]["total"] == 0
    r = b("GET", "/contacts?search=zeb&per_page=1&page=2")
    assert r.body["meta"]["total"] == 0
    assert assert_ok(a("GET", "/contacts?search=zeb")) == [ca]


def test_same_phone_in_two_tenants(make_key):
    a, b = make_key(), make_key()
    ca = a.create_contact(phone="+4915112345678", name="A's")
    cb = b.create_contact(phone="0049 151 12345678", name="B's")
    assert ca["phone"] == cb["phone"] == "+4915112345678"
    assert ca["id"] != cb["id"]
    # Updates in one tenant do not collide with the other.
    c2 = b.create_contact(phone="+4915100000002")
    assert assert_ok(b("DELETE", "/contacts/%d" % cb["id"]))
    u = assert_ok(b("PATCH", "/contacts/%d" % c2["id"],
                    {"phone": "+4915112345678"}))
    assert u["phone"] == "+4915112345678"
    assert assert_ok(a("GET", "/contacts/%d" % ca["id"])) == ca


def test_cannot_revoke_other_tenants_key(make_tenant):
    ta, tb = make_tenant(), make_tenant()
    ka, kb = ta.key(), tb.key()
    assert_error(kb("DELETE", "/api-keys/%d" % ka.id), 404,
                 "RESOURCE_NOT_FOUND")
    assert_ok(ka("GET", "/contacts"))
    ids = [k["id"] for k in assert_ok(kb("GET", "/api-keys"))]
    assert ids == [kb.id]
    me = assert_ok(kb("GET", "/account/me"))
    assert me["id"] == tb.id
