"""Concurrent writes keep contacts, counts and uniqueness exact."""
from conftest import assert_error, assert_ok, run_calls


def counted_total(key, **q):
    """The total as the count query gives it (page 2 of 1)."""
    qs = "&".join("%s=%s" % kv for kv in q.items())
    r = key("GET", "/contacts?per_page=1&page=2" + ("&" + qs if qs else ""))
    assert r.status == 200, r
    return r.body["meta"]["total"]


def test_parallel_creates_and_deletes_keep_count(key):
    base = [key.create_contact(phone="+49151000001%02d" % i, tags=["old"])
            for i in range(10)]
    fns = []
    for i in range(16):
        fns.append(lambda i=i: key("POST", "/contacts",
                                   {"phone": "+49152000002%02d" % i,
                                    "name": "new %d" % i, "tags": ["new"]}))
    for c in base[:6]:
        fns.append(lambda c=c: key("DELETE", "/contacts/%d" % c["id"]))
    results = run_calls(fns)
    assert [r.status for r in results] == [201] * 16 + [200] * 6, \
        [r.raw for r in results if r.status >= 300]
    everything = assert_ok(key("GET", "/contacts?per_page=100"))
    assert len(everything) == 20
    assert counted_total(key) == 20
    assert counted_total(key, tag="new") == 16
    assert counted_total(key, tag="old") == 4
    assert counted_total(key, search="new") == 16
    ids = [c["id"] for c in everything]
    assert ids == sorted(ids, reverse=True)


def test_parallel_deletes_of_one_contact(key):
    c = key.create_contact(phone="+4915112345678")
    other = key.create_contact(phone="+4915100000001")
    results = run_calls([lambda: key("DELETE", "/contacts/%d" % c["id"])
                         for _ in range(8)])
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [404] * 7, [r.raw for r in results]
    for r in results:
        if r.status == 404:
            assert_error(r, 404, "RESOURCE_NOT_FOUND")
    assert counted_total(key) == 1
    assert assert_ok(key("GET", "/contacts")) == [other]


def test_parallel_updates_to_one_phone(key):
    """Several contacts race to take one phone number: exactly one wins."""
    cs = [key.create_contact(phone="+49151000003%02d" % i) for i in range(6)]
    results = run_calls([
        lambda c=c: key("PATCH", "/contacts/%d" % c["id"],
                        {"phone": "+4915199999999"}) for c in cs])
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [422] * 5, [r.raw for r in results]
    for r in results:
        if r.status == 422:
            assert_error(r, 422, "VALIDATION_ERROR",
                         {"phone": ["The phone has already been taken."]})
    phones = [c["phone"] for c in assert_ok(key("GET", "/contacts"))]
    assert phones.count("+4915199999999") == 1


def test_parallel_patches_of_one_contact(key):
    c = key.create_contact(phone="+4915112345678", tags=["t0"])
    results = run_calls([
        lambda i=i: key("PATCH", "/contacts/%d" % c["id"],
                        {"name": "writer %d" % i, "tags": ["t%d" % i]})
        for i in range(1, 9)])
    assert [r.status for r in results] == [200] * 8, \
        [r.raw for r in results]
    final = assert_ok(key("GET", "/contacts/%d" % c["id"]))
    n = int(final["name"].split()[1])
    assert final["tags"] == ["t%d" % n]
    # The tag index agrees with the stored contact.
    for i in range(0, 9):
        want = 1 if i == n else 0
        assert counted_total(key, tag="t%d" % i) == want, i
    assert counted_total(key, search="writer") == 1
