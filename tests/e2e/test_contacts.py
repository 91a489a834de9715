"""Contacts CRUD and validation (SPEC 2, 3)."""
import re

import pytest

from conftest import assert_error, assert_json, assert_ok, wait_for

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
CONTACT_KEYS = {"id", "name", "phone", "email", "tags", "custom_fields",
                "opted_out", "created_at", "updated_at"}
PHONE = "+4915112345678"


def assert_contact_shape(c):
    assert set(c.keys()) == CONTACT_KEYS, c
    assert isinstance(c["id"], int) and c["id"] > 0
    assert isinstance(c["phone"], str)
    assert c["name"] is None or isinstance(c["name"], str)
    assert c["email"] is None or isinstance(c["email"], str)
    assert isinstance(c["tags"], list)
    assert isinstance(c["custom_fields"], dict)
    assert isinstance(c["opted_out"], bool)
    assert RFC3339_Z.match(c["created_at"]), c
    assert RFC3339_Z.match(c["updated_at"]), c


def invalid(resp, details):
    """A 422 VALIDATION_ERROR whose details are exactly `details`."""
    err = assert_error(resp, 422, "VALIDATION_ERROR", details)
    # The first message doubles as the summary.
    assert err["message"] in [m for msgs in details.values() for m in msgs]
    return err


# -- create / get / delete --------------------------------------------------

def test_create_full_shape_and_get(key):
    body = {"name": "Jane Doe", "phone": PHONE, "email": "jane@example.com",
            "tags": ["vip", "newsletter"],
            "custom_fields": {"company": "Acme", "age": 42, "score": 1.5,
                              "active": True, "note": None},
            "opted_out": True}
    r = key("POST", "/contacts", body)
    c = assert_ok(r, 201)
    assert set(r.body.keys()) == {"success", "data"}
    assert_contact_shape(c)
    assert c["name"] == "Jane Doe"
    assert c["phone"] == PHONE
    assert c["email"] == "jane@example.com"
    assert c["tags"] == ["vip", "newsletter"]
    assert c["custom_fields"] == body["custom_fields"]
    assert c["opted_out"] is True
    assert c["created_at"] == c["updated_at"]

    g = key("GET", "/contacts/%d" % c["id"])
    assert assert_ok(g) == c


def test_create_minimal_defaults(key):
    c = key.create_contact(phone=PHONE)
    assert_contact_shape(c)
    assert c["name"] is None and c["email"] is None
    assert c["tags"] == [] and c["custom_fields"] == {}
    assert c["opted_out"] is False
    assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == c


def test_create_alias(key):
    r = key("POST", "/contacts/create", {"phone": PHONE, "name": "Alias"})
    c = assert_ok(r, 201)
    assert_contact_shape(c)
    assert c["name"] == "Alias"
    assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == c
    # The alias shares the uniqueness rule.
    invalid(key("POST", "/contacts/create", {"phone": PHONE}),
            {"phone": ["The phone has already been taken."]})


def test_get_unknown_404(key):
    assert_error(key("GET", "/contacts/987654321"), 404, "RESOURCE_NOT_FOUND")


def test_delete_then_404(key):
    c = key.create_contact(phone=PHONE, name="Gone")
    r = key("DELETE", "/contacts/%d" % c["id"])
    assert assert_ok(r) == {"id": c["id"], "deleted": True}
    assert_error(key("GET", "/contacts/%d" % c["id"]), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(key("DELETE", "/contacts/%d" % c["id"]), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(key("PATCH", "/contacts/%d" % c["id"], {"name": "x"}), 404,
                 "RESOURCE_NOT_FOUND")
    assert_error(key("PUT", "/contacts/%d" % c["id"], {"name": "x"}), 404,
                 "RESOURCE_NOT_FOUND")
    # The phone is free again.
    c2 = key.create_contact(phone=PHONE)
    assert c2["id"] != c["id"]


# -- update -----------------------------------------------------------------

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_partial_semantics(key, method):
    c = key.create_contact(phone=PHONE, name="Old Name", email="old@example.com",
                           tags=["a", "b"], custom_fields={"k": "v"})
    path = "/contacts/%d" % c["id"]

    u = assert_ok(key(method, path, {"name": "New Name"}))
    assert_contact_shape(u)
    assert u["id"] == c["id"]
    assert u["name"] == "New Name"
    for f in ("phone", "email", "tags", "custom_fields", "opted_out",
              "created_at"):
        assert u[f] == c[f], f
    assert u["updated_at"] >= c["updated_at"]
    assert assert_ok(key("GET", path)) == u

    u2 = assert_ok(key(method, path, {"tags": ["x"], "opted_out": True,
                                      "phone": "0044 20 7946 0958"}))
    assert u2["tags"] == ["x"] and u2["opted_out"] is True
    assert u2["phone"] == "+442079460958"
    assert u2["name"] == "New Name" and u2["email"] == "old@example.com"
    assert u2["custom_fields"] == {"k": "v"}
    assert assert_ok(key("GET", path)) == u2

    # null clears the nullable fields
    u3 = assert_ok(key(method, path, {"email": None, "name": None,
                                      "tags": None, "custom_fields": None}))
    assert u3["email"] is None and u3["name"] is None
    assert u3["tags"] == [] and u3["custom_fields"] == {}
    assert u3["phone"] == "+442079460958" and u3["opted_out"] is True
    assert assert_ok(key("GET", path)) == u3

    # an empty body changes nothing
    assert assert_ok(key(method, path, {})) == u3


def test_update_phone_null_or_empty_422(key):
    c = key.create_contact(phone=PHONE)
    path = "/contacts/%d" % c["id"]
    invalid(key("PATCH", path, {"phone": None}),
            {"phone": ["The phone field is required."]})
    invalid(key("PATCH", path, {"phone": ""}),
            {"phone": ["The phone field is required."]})
    assert assert_ok(key("GET", path)) == c


def test_update_same_phone_is_fine(key):
    c = key.create_contact(phone=PHONE, name="Same")
    u = assert_ok(key("PATCH", "/contacts/%d" % c["id"],
                      {"phone": "+49 151 12345678"}))
    assert u["phone"] == PHONE


def test_failed_update_leaves_contact_unchanged(key):
    c = key.create_contact(phone=PHONE, name="Keep", email="keep@example.com",
                           tags=["t"], custom_fields={"a": 1})
    path = "/contacts/%d" % c["id"]
    for method in ("PUT", "PATCH"):
        r = key(method, path, {"name": "Changed", "email": "not-an-email",
                               "tags": ["new"]})
        invalid(r, {"email": ["The email field must be a valid email address."]})
        r = key(method, path, {"name": "Changed", "custom_fields": {"x": {}}})
        invalid(r, {"custom_fields.x": [
            "The custom_fields.x field must be a string, number, boolean or null."]})
    assert assert_ok(key("GET", path)) == c


def test_duplicate_phone_on_create_and_update(key):
    a = key.create_contact(phone=PHONE, name="A")
    # Same number, other spelling.
    for spelling in ("+49 151 1234 5678", "004915112345678", "4915112345678",
                     "+49 (151) 123-456.78"):
        invalid(key("POST", "/contacts", {"phone": spelling, "name": "dup"}),
                {"phone": ["The phone has already been taken."]})
    b = key.create_contact(phone="+14155550123", name="B")
    r = key("PATCH", "/contacts/%d" % b["id"], {"phone": "0049-151-12345678",
                                                "name": "B2"})
    invalid(r, {"phone": ["The phone has already been taken."]})
    r = key("PUT", "/contacts/%d" % b["id"], {"phone": PHONE})
    invalid(r, {"phone": ["The phone has already been taken."]})
    assert assert_ok(key("GET", "/contacts/%d" % b["id"])) == b
    assert assert_ok(key("GET", "/contacts/%d" % a["id"])) == a
    lst = key("GET", "/contacts")
    assert assert_ok(lst) and lst.body["meta"]["total"] == 2


# -- phone normalisation ----------------------------------------------------

@pytest.mark.parametrize("given,stored", [
    ("+4915112345678", "+4915112345678"),
    ("+49 151 1234 5678", "+4915112345678"),
    ("+49-151-1234-5678", "+4915112345678"),
    ("+49.151.1234.5678", "+4915112345678"),
    ("+49 (151) 1234-5678", "+4915112345678"),
    ("004915112345678", "+4915112345678"),
    ("00 49 151 1234 5678", "+4915112345678"),
    ("4915112345678", "+4915112345678"),
    ("(1) 415.555-0123", "+14155550123"),
    ("+12345678", "+12345678"),                   # 8 digits
    ("12345678", "+12345678"),
    ("+123456789012345", "+123456789012345"),     # 15 digits
])
def test_phone_normalisation(key, given, stored):
    c = key.create_contact(phone=given)
    assert c["phone"] == stored
    assert assert_ok(key("GET", "/contacts/%d" % c["id"]))["phone"] == stored


@pytest.mark.parametrize("given", [
    "+1234567",            # 7 digits
    "1234567",
    "+1234567890123456",   # 16 digits
    "001234567",           # 00 + 7 digits
    "+49 151 abc 5678",
    "+49/151/12345678",
    "++4915112345678",
    "49151+12345678",
    "+",
    "   ",
    "+49_15112345678",
])
def test_phone_invalid(key, given):
    invalid(key("POST", "/contacts", {"phone": given}),
            {"phone": ["The phone field must be a valid E.164 phone number."]})


def test_phone_missing_or_empty(key):
    invalid(key("POST", "/contacts", {"name": "No Phone"}),
            {"phone": ["The phone field is required."]})
    invalid(key("POST", "/contacts", {}),
            {"phone": ["The phone field is required."]})
    invalid(key("POST", "/contacts", {"phone": ""}),
            {"phone": ["The phone field is required."]})
    invalid(key("POST", "/contacts", {"phone": None}),
            {"phone": ["The phone field is required."]})
    # An empty body is an empty object.
    invalid(key("POST", "/contacts", b""),
            {"phone": ["The phone field is required."]})


# -- other fields -----------------------------------------------------------

def test_tags_dedupe_keeps_order(key):
    c = key.create_contact(phone=PHONE, tags=["b", "a", "b", "c", "a", "B"])
    assert c["tags"] == ["b", "a", "c", "B"]
    assert assert_ok(key("GET", "/contacts/%d" % c["id"]))["tags"] == c["tags"]
    u = assert_ok(key("PATCH", "/contacts/%d" % c["id"],
                      {"tags": ["x", "x", "x"]}))
    assert u["tags"] == ["x"]


def test_tags_limits(key):
    fifty = ["tag%02d" % i for i in range(50)]
    c = key.create_contact(phone=PHONE, tags=fifty)
    assert c["tags"] == fifty
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "tags": fifty + ["one-more"]}),
            {"tags": ["The tags field must not have more than 50 items."]})
    # 1..64 characters, counted as characters, not bytes.
    c64 = key.create_contact(phone="+4915100000002",
                             tags=["t" * 64, "é" * 64, "x"])
    assert c64["tags"] == ["t" * 64, "é" * 64, "x"]
    invalid(key("POST", "/contacts", {"phone": "+4915100000003",
                                      "tags": ["ok", "t" * 65]}),
            {"tags.1": ["The tags.1 field must be between 1 and 64 characters."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000003",
                                      "tags": [""]}),
            {"tags.0": ["The tags.0 field must be between 1 and 64 characters."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000003",
                                      "tags": ["ok", 5, None, {"a": 1}]}),
            {"tags.1": ["The tags.1 field must be a string."],
             "tags.2": ["The tags.2 field must be a string."],
             "tags.3": ["The tags.3 field must be a string."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000003",
                                      "tags": "vip"}),
            {"tags": ["The tags field must be an array."]})
    lst = assert_ok(key("GET", "/contacts"))
    assert len(lst) == 2


def test_custom_fields(key):
    fifty = {"k%02d" % i: i for i in range(50)}
    c = key.create_contact(phone=PHONE, custom_fields=fifty)
    assert c["custom_fields"] == fifty
    fifty_one = dict(fifty, extra="x")
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": fifty_one}),
            {"custom_fields": [
                "The custom fields field must not have more than 50 items."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"a": "ok",
                                                        "nested": {"x": 1}}}),
            {"custom_fields.nested": [
                "The custom_fields.nested field must be a string, number, "
                "boolean or null."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"list": [1, 2]}}),
            {"custom_fields.list": [
                "The custom_fields.list field must be a string, number, "
                "boolean or null."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": ["a"]}),
            {"custom_fields": ["The custom fields field must be an object."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": "a=b"}),
            {"custom_fields": ["The custom fields field must be an object."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"k" * 65: 1}}),
            {"custom_fields": [
                "The custom fields field keys must be between 1 and 64 "
                "characters."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"": 1}}),
            {"custom_fields": [
                "The custom fields field keys must be between 1 and 64 "
                "characters."]})
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"long": "v" * 65536}}),
            {"custom_fields.long": [
                "The custom_fields.long field must not be greater than "
                "65535 characters."]})
    c64 = key.create_contact(phone="+4915100000003",
                             custom_fields={"k" * 64: "v" * 65535})
    assert c64["custom_fields"] == {"k" * 64: "v" * 65535}
    scal = {"s": "text ü 😀", "i": -7, "f": 2.25, "t": True, "n": None,
            "big": 9007199254740991}
    c2 = key.create_contact(phone="+4915100000002", custom_fields=scal)
    assert c2["custom_fields"] == scal
    assert assert_ok(key("GET", "/contacts/%d" % c2["id"]))["custom_fields"] \
        == scal


@pytest.mark.parametrize("number", ["12345678901234567890123",
                                    "-99999999999999999999",
                                    "18446744073709551616"])
def test_custom_field_numbers_never_silently_change(key, number):
    """A number outside 64 bits would come back as a different number
    (json-c clamps it): it is refused with a 422 on its dotted path, and
    nothing is stored."""
    body = ('{"phone": "%s", "custom_fields": {"x": %s, "y": 1}}'
            % (PHONE, number)).encode()
    err = assert_error(key("POST", "/contacts", body), 422,
                       "VALIDATION_ERROR")
    assert list(err["details"]) == ["custom_fields.x"]
    assert key("GET", "/contacts").body["meta"]["total"] == 0


def test_custom_field_length_counts_characters(key):
    """The limit is 65,535 characters (the message says so), like every
    other length limit here, which count characters, not bytes."""
    val = "é" * 65535                      # 131,070 bytes
    c = key.create_contact(phone=PHONE, custom_fields={"note": val})
    assert c["custom_fields"] == {"note": val}
    invalid(key("POST", "/contacts", {"phone": "+4915100000001",
                                      "custom_fields": {"note": val + "é"}}),
            {"custom_fields.note": [
                "The custom_fields.note field must not be greater than "
                "65535 characters."]})


@pytest.mark.parametrize("email", [
    "a@example.com", "Jane.Doe+tag@sub.example.co.uk", "x_y-z@ex-ample.org",
    "UPPER@EXAMPLE.COM",
])
def test_email_valid(key, email):
    c = key.create_contact(phone=PHONE, email=email)
    assert c["email"] == email


@pytest.mark.parametrize("email", [
    "not-an-email", "@example.com", "jane@", "jane@example", "jane@@example.com",
    "jane doe@example.com", "jane@exam ple.com", ".jane@example.com",
    "jane.@example.com", "ja..ne@example.com", "jane@-example.com",
    "jane@example.c0m", "a" * 65 + "@example.com",
])
def test_email_invalid(key, email):
    invalid(key("POST", "/contacts", {"phone": PHONE, "email": email}),
            {"email": ["The email field must be a valid email address."]})


def test_empty_string_clears_name_and_email(key):
    c = key.create_contact(phone=PHONE, email="", name="")
    assert c["email"] is None and c["name"] is None
    c = key.create_contact(phone="+4915100000001", email="a@example.com",
                           name="N")
    u = assert_ok(key("PATCH", "/contacts/%d" % c["id"],
                      {"email": "", "name": ""}))
    assert u["email"] is None and u["name"] is None
    assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == u


def test_updated_at_moves_only_on_change(key):
    c = key.create_contact(phone=PHONE, name="Same")
    # Times have whole seconds: once the database's clock has left the
    # second of c's updated_at, a write would show in it.
    wait_for(lambda: key.stack.sql_root(
        "SELECT DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ')")[0][0] >
        c["updated_at"], what="the database's clock to pass updated_at")
    same = assert_ok(key("PATCH", "/contacts/%d" % c["id"],
                         {"name": "Same", "phone": "+49 151 1234 5678"}))
    assert same == c
    changed = assert_ok(key("PATCH", "/contacts/%d" % c["id"],
                            {"name": "Other"}))
    assert changed["updated_at"] > c["updated_at"]
    assert changed["created_at"] == c["created_at"]
    assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == changed


def test_name_length(key):
    c = key.create_contact(phone=PHONE, name="n" * 255)
    assert c["name"] == "n" * 255
    # 255 characters of two (and four) bytes each still fit.
    c2 = key.create_contact(phone="+4915100000001", name="é" * 255)
    assert c2["name"] == "é" * 255
    assert assert_ok(key("GET", "/contacts/%d" % c2["id"]))["name"] == "é" * 255
    c3 = key.create_contact(phone="+4915100000002", name="😀" * 255)
    assert assert_ok(key("GET", "/contacts/%d" % c3["id"]))["name"] == "😀" * 255
    invalid(key("POST", "/contacts", {"phone": "+4915100000003",
                                      "name": "n" * 256}),
            {"name": ["The name field must not be greater than 255 characters."]})
    invalid(key("PATCH", "/contacts/%d" % c["id"], {"name": "é" * 256}),
            {"name": ["The name field must not be greater than 255 characters."]})
    assert assert_ok(key("GET", "/contacts/%d" % c["id"]))["name"] == "n" * 255


def test_wrong_types(key):
    invalid(key("POST", "/contacts", {"phone": 4915112345678}),
            {"phone": ["The phone field must be a string."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "name": 12}),
            {"name": ["The name field must be a string."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "name": "a\u0000b"}),
            {"name": ["The name field must not contain NUL characters."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "email": ["a@b.co"]}),
            {"email": ["The email field must be a string."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "opted_out": "yes"}),
            {"opted_out": ["The opted out field must be true or false."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "opted_out": 1}),
            {"opted_out": ["The opted out field must be true or false."]})
    invalid(key("POST", "/contacts", {"phone": PHONE, "opted_out": None}),
            {"opted_out": ["The opted out field must be true or false."]})
    # Several bad fields at once: every one is reported.
    r = key("POST", "/contacts", {"phone": True, "name": {}, "tags": {},
                                  "custom_fields": 3})
    invalid(r, {"phone": ["The phone field must be a string."],
                "name": ["The name field must be a string."],
                "tags": ["The tags field must be an array."],
                "custom_fields": ["The custom fields field must be an object."]})
    lst = assert_ok(key("GET", "/contacts"))
    assert lst == []


def test_unknown_fields_ignored(key):
    c = key.create_contact(phone=PHONE, favourite_colour="blue")
    assert "favourite_colour" not in c
    assert_contact_shape(c)


def test_json_content_type_on_every_answer(key):
    c = key.create_contact(phone=PHONE)
    for r in (key("GET", "/contacts"), key("GET", "/contacts/%d" % c["id"]),
              key("GET", "/contacts/1234567"),
              key("POST", "/contacts", {"phone": "x"}),
              key("PATCH", "/contacts/%d" % c["id"], {"name": "y"}),
              key("DELETE", "/contacts/%d" % c["id"])):
        assert_json(r)
