"""Idempotency-Key on POST (SPEC 2)."""
import uuid

from conftest import assert_error, assert_ok, run_calls, run_parallel


def idem(k):
    return {"Idempotency-Key": k}


def total(key):
    r = key("GET", "/contacts?per_page=1&page=2")   # forces the count
    assert r.status == 200, r
    return r.body["meta"]["total"]


def test_replay_returns_identical_answer(key):
    k = str(uuid.uuid4())
    body = {"phone": "+4915112345678", "name": "Once", "tags": ["a"]}
    first = key("POST", "/contacts", body, headers=idem(k))
    c = assert_ok(first, 201)
    for _ in range(3):
        again = key("POST", "/contacts", body, headers=idem(k))
        assert again.status == 201
        assert again.raw == first.raw
        assert again.headers["content-type"] == first.headers["content-type"]
    assert total(key) == 1
    assert assert_ok(key("GET", "/contacts")) == [c]
    # The alias route with its own key works the same way.
    k2 = str(uuid.uuid4())
    b2 = {"phone": "+4915100000001"}
    r1 = key("POST", "/contacts/create", b2, headers=idem(k2))
    r2 = key("POST", "/contacts/create", b2, headers=idem(k2))
    assert r1.status == r2.status == 201 and r1.raw == r2.raw
    assert total(key) == 2


def test_replay_of_an_error(key):
    k = str(uuid.uuid4())
    bad = {"name": "no phone"}
    r1 = key("POST", "/contacts", bad, headers=idem(k))
    assert_error(r1, 422, "VALIDATION_ERROR")
    r2 = key("POST", "/contacts", bad, headers=idem(k))
    assert r2.status == 422 and r2.raw == r1.raw
    assert total(key) == 0


def test_replay_survives_later_changes(key):
    """The replay is the first answer, even after the contact changed."""
    k = str(uuid.uuid4())
    body = {"phone": "+4915112345678", "name": "Before"}
    r1 = key("POST", "/contacts", body, headers=idem(k))
    c = assert_ok(r1, 201)
    assert_ok(key("PATCH", "/contacts/%d" % c["id"], {"name": "After"}))
    r2 = key("POST", "/contacts", body, headers=idem(k))
    assert r2.status == 201 and r2.raw == r1.raw
    assert total(key) == 1


def test_same_key_different_body_conflict(key):
    k = str(uuid.uuid4())
    r1 = key("POST", "/contacts", {"phone": "+4915112345678"}, headers=idem(k))
    c = assert_ok(r1, 201)
    r2 = key("POST", "/contacts", {"phone": "+4915100000001"}, headers=idem(k))
    assert_error(r2, 409, "CONFLICT")
    r3 = key("POST", "/contacts", {"phone": "+4915112345678", "name": "x"},
             headers=idem(k))
    assert_error(r3, 409, "CONFLICT")
    # The original still replays.
    r4 = key("POST", "/contacts", {"phone": "+4915112345678"}, headers=idem(k))
    assert r4.status == 201 and r4.raw == r1.raw
    assert assert_ok(key("GET", "/contacts")) == [c]


def test_without_key_no_dedupe(key):
    body = {"phone": "+4915112345678"}
    assert_ok(key("POST", "/contacts", body), 201)
    assert_error(key("POST", "/contacts", body), 422, "VALIDATION_ERROR")
    # Different keys are different requests.
    b = {"phone": "+4915100000001"}
    assert_ok(key("POST", "/contacts", b, headers=idem("k-1")), 201)
    assert_error(key("POST", "/contacts", b, headers=idem("k-2")), 422,
                 "VALIDATION_ERROR")


def test_key_is_per_tenant(make_key):
    a, b = make_key(), make_key()
    k = "shared-" + str(uuid.uuid4())
    ra = a("POST", "/contacts", {"phone": "+4915112345678", "name": "A"},
           headers=idem(k))
    ca = assert_ok(ra, 201)
    # Same key, other tenant, other body: not a conflict, a new contact.
    rb = b("POST", "/contacts", {"phone": "+4915100000001", "name": "B"},
           headers=idem(k))
    cb = assert_ok(rb, 201)
    assert cb["name"] == "B"
    # Same key, other tenant, same body: its own contact, not A's replay.
    c = make_key()
    rc = c("POST", "/contacts", {"phone": "+4915112345678", "name": "A"},
           headers=idem(k))
    cc = assert_ok(rc, 201)
    assert cc["id"] != ca["id"]
    assert total(a) == total(b) == total(c) == 1
    assert assert_ok(a("GET", "/contacts")) == [ca]


def test_key_shared_by_keys_of_one_tenant(make_tenant):
    t = make_tenant()
    k1, k2 = t.key(), t.key()
    k = str(uuid.uuid4())
    body = {"phone": "+4915112345678"}
    r1 = k1("POST", "/contacts", body, headers=idem(k))
    r2 = k2("POST", "/contacts", body, headers=idem(k))
    assert r1.status == r2.status == 201 and r1.raw == r2.raw
    assert total(k1) == 1


def test_concurrent_requests_one_contact(key):
    k = str(uuid.uuid4())
    body = {"phone": "+4915112345678", "name": "Racer"}
    n = 12
    results = run_calls([lambda: key("POST", "/contacts", body,
                                     headers=idem(k))] * n)
    assert len(results) == n
    statuses = [r.status for r in results]
    assert statuses == [201] * n, [r.raw for r in results]
    assert len({r.raw for r in results}) == 1
    assert total(key) == 1
    c = assert_ok(key("GET", "/contacts"))[0]
    assert results[0].body["data"] == c


def test_concurrent_different_keys_same_phone(key):
    """Racing creates of one phone under different keys: one wins, the
    rest are 422 duplicates, never a 500."""
    n = 8
    results = run_parallel(
        lambda i: key("POST", "/contacts", {"phone": "+4915112345678"},
                      headers=idem("k%d-%s" % (i, uuid.uuid4()))), range(n))
    assert len(results) == n
    statuses = sorted(r.status for r in results)
    assert statuses == [201] + [422] * (n - 1), [r.raw for r in results]
    for r in results:
        if r.status == 422:
            assert_error(r, 422, "VALIDATION_ERROR",
                         {"phone": ["The phone has already been taken."]})
    assert total(key) == 1


def test_invalid_idempotency_key_400(key):
    for bad in ("x" * 256, "has space", "tab\there"):
        r = key("POST", "/contacts", {"phone": "+4915112345678"},
                headers=idem(bad))
        assert_error(r, 400, "BAD_REQUEST")
    assert total(key) == 0
    ok = key("POST", "/contacts", {"phone": "+4915112345678"},
             headers=idem("x" * 255))
    assert_ok(ok, 201)
