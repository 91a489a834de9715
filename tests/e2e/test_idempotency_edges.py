"""Edges of Idempotency-Key: a record past its 24 hours is not replayed
(the key is taken afresh, whatever the body), and a request that failed
with a 5xx leaves no record, so its retry runs (SPEC 2)."""
import select
import subprocess
import uuid


from conftest import assert_error, assert_ok


def idem(k):
    return {"Idempotency-Key": k}


def age_record(stack, tenant_id, k, hours):
    stack.sql_root("UPDATE idempotency_keys SET created_at = "
                   "UTC_TIMESTAMP() - INTERVAL %d HOUR WHERE tenant_id = %d "
                   "AND idem_key = '%s'" % (hours, tenant_id, k),
                   database="wazera")


def records(stack, tenant_id):
    return stack.sql_root("SELECT idem_key, status FROM idempotency_keys "
                          "WHERE tenant_id = %d ORDER BY idem_key"
                          % tenant_id, database="wazera")


def test_record_past_24_hours_is_not_replayed(stack, key):
    k = str(uuid.uuid4())
    tid = key.tenant.id
    first = assert_ok(key("POST", "/contacts", {"phone": "+4915100000201"},
                          headers=idem(k)), 201)
    # Within the 24 hours: another body is a conflict.
    assert_error(key("POST", "/contacts", {"phone": "+4915100000202"},
                     headers=idem(k)), 409, "CONFLICT")
    age_record(stack, tid, k, 23)
    r = key("POST", "/contacts", {"phone": "+4915100000201"},
            headers=idem(k))
    assert r.status == 201 and r.body["data"] == first, r
    # Past them: the key is free again, for another body ...
    age_record(stack, tid, k, 25)
    second = assert_ok(key("POST", "/contacts", {"phone": "+4915100000202"},
                           headers=idem(k)), 201)
    assert second["id"] != first["id"]
    # ... and that answer is the one replayed now.
    r = key("POST", "/contacts", {"phone": "+4915100000202"},
            headers=idem(k))
    assert r.status == 201 and r.body["data"] == second, r
    assert_error(key("POST", "/contacts", {"phone": "+4915100000201"},
                     headers=idem(k)), 409, "CONFLICT")
    assert records(stack, tid) == [[k, "201"]]
    # The same body past the 24 hours: run again, not replayed -- here a
    # duplicate phone, so this time the answer is the 422.
    age_record(stack, tid, k, 25)
    r = key("POST", "/contacts", {"phone": "+4915100000202"},
            headers=idem(k))
    assert_error(r, 422, "VALIDATION_ERROR")
    assert records(stack, tid) == [[k, "422"]]
    got = assert_ok(key("GET", "/contacts?per_page=100"))
    assert sorted(c["id"] for c in got) == sorted([first["id"],
                                                   second["id"]])


class TableLock:
    """A MariaDB session holding LOCK TABLES t WRITE until released."""

    def __init__(self, stack, table):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "-uroot", "-S", stack.db_sock,
             "-D", "wazera", "-N", "-B", "--unbuffered"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.p.stdin.write("LOCK TABLES %s WRITE; SELECT 'locked';\n"
                           % table)
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], 30)
        if not ready:
            self.p.kill()
            self.p.wait()
            raise AssertionError("LOCK TABLES %s did not answer" % table)
        assert self.p.stdout.readline().strip() == "locked"

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(20)


def test_a_5xx_leaves_no_record(stack, key, limited_server):
    """The contacts table held by another session: the create is stopped
    at the time limit (503) and its key not recorded, so the client's
    retry with the same key runs and creates the contact once."""
    k = str(uuid.uuid4())
    body = {"phone": "+4915100000203", "name": "Retried"}
    lock = TableLock(stack, "contacts")
    try:
        r = key("POST", "/contacts", body, headers=idem(k),
                port=limited_server)
        assert_error(r, 503, "SERVICE_UNAVAILABLE")
        assert r.headers.get("retry-after") == "5"
    finally:
        lock.release()
    assert records(stack, key.tenant.id) == []
    c = assert_ok(key("POST", "/contacts", body, headers=idem(k),
                      port=limited_server), 201)
    assert c["name"] == "Retried"
    r = key("POST", "/contacts", body, headers=idem(k))
    assert r.status == 201 and r.body["data"] == c, r
    assert records(stack, key.tenant.id) == [[k, "201"]]
    assert assert_ok(key("GET", "/contacts")) == [c]
