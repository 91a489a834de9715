"""Routing and request bodies (SPEC 2); the errors nginx makes itself
answer in the same envelope (deploy/nginx)."""
import json
import os
import socket
import threading

import pytest

import openapi_check

from conftest import (assert_error, assert_json, assert_ok,
                      assert_web_error, http_request, web_server_errors)

MIB = 1024 * 1024


@pytest.mark.parametrize("path", [
    "/api/v1/nope", "/api/v1/contact", "/api/v1/contacts/1/extra",
    "/api/v1/contacts/create/1", "/api/v2/contacts", "/api/v1",
    "/api/v1/", "/api/v1contacts", "/api/v1/contacts//1",
    "/api/v1/account", "/api/v1/api-keys/1/2",
])
def test_unknown_route(stack, key, path):
    r = http_request(stack.port, "GET", path, key=key.key)
    assert_error(r, 404, "RESOURCE_NOT_FOUND")


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/contacts", {"GET", "POST"}),
    ("PUT", "/contacts", {"GET", "POST"}),
    ("POST", "/contacts/1", {"GET", "PUT", "PATCH", "DELETE"}),
    ("GET", "/contacts/create", {"POST"}),
    ("PATCH", "/account/me", {"GET"}),
    ("PUT", "/api-keys", {"GET", "POST"}),
    ("GET", "/api-keys/1", {"DELETE"}),
    ("OPTIONS", "/contacts", {"GET", "POST"}),
])
def test_wrong_method_405(stack, key, method, path, allowed):
    r = key(method, path, {} if method in ("POST", "PUT", "PATCH") else None)
    assert_error(r, 405, "METHOD_NOT_ALLOWED")
    allow = {m.strip() for m in r.headers.get("allow", "").split(",")}
    assert allow == allowed, r


@pytest.mark.parametrize("body", [
    b"{", b"{\"phone\": }", b"not json", b"{\"phone\": \"+4915112345678\",}",
    b"{'phone': '+4915112345678'}", b"{\"phone\": \"+4915112345678\"} x",
    b"{\"phone\": \"+4915112345678\"}{}", b"{\"a\": NaN}",
    # Not JSON numbers (RFC 8259): neither at the top nor where the value
    # would be stored.
    b"{\"phone\": \"+4915112345678\", \"custom_fields\": {\"x\": NaN}}",
    b"{\"phone\": \"+4915112345678\", \"custom_fields\": {\"x\": Infinity}}",
    b"{\"phone\": \"+4915112345678\", \"custom_fields\": {\"x\": -Infinity}}",
    b"{\"phone\": \"+4915112345678\" /* c */}",
])
def test_malformed_json_400(key, body):
    assert_error(key("POST", "/contacts", body), 400, "BAD_REQUEST")
    assert key("GET", "/contacts").body["meta"]["total"] == 0


@pytest.mark.parametrize("body", [
    b"{\"phone\": \"+4915112345678\", \"name\": \"\xff\"}",
    b"{\"phone\": \"+4915112345678\", \"name\": \"\xc3\"}",
    b"{\"phone\": \"+4915112345678\", \"name\": \"\xc0\xaf\"}",        # overlong
    b"{\"phone\": \"+4915112345678\", \"name\": \"\xed\xa0\x80\"}",    # surrogate
    b"{\"phone\": \"+4915112345678\", \"name\": \"\xf4\x90\x80\x80\"}",  # > U+10FFFF
    b"{\"phone\": \"+4915112345678\", \"\xfe\": 1}",
])
def test_invalid_utf8_400(key, body):
    assert_error(key("POST", "/contacts", body), 400, "BAD_REQUEST")
    c = key.create_contact(phone="+4915100000001")
    assert_error(key("PATCH", "/contacts/%d" % c["id"], body), 400,
                 "BAD_REQUEST")
    assert assert_ok(key("GET", "/contacts")) == [c]


@pytest.mark.parametrize("body", [b"[]", b"[{\"phone\": \"+4915112345678\"}]",
                                  b"\"+4915112345678\"", b"42", b"null",
                                  b"true"])
def test_non_object_body_400(key, body):
    assert_error(key("POST", "/contacts", body), 400, "BAD_REQUEST")
    assert key("GET", "/contacts").body["meta"]["total"] == 0


def test_body_over_1mib_413(key):
    pad = MIB
    body = json.dumps({"phone": "+4915112345678", "name": "big",
                       "custom_fields": {"blob": "x" * pad}}).encode()
    assert len(body) > MIB
    assert_error(key("POST", "/contacts", body), 413, "PAYLOAD_TOO_LARGE")
    # One byte over, made of whitespace around a valid object.
    valid = json.dumps({"phone": "+4915112345678"}).encode()
    over = valid + b" " * (MIB + 1 - len(valid))
    assert len(over) == MIB + 1
    assert_error(key("POST", "/contacts", over), 413, "PAYLOAD_TOO_LARGE")
    c = key.create_contact(phone="+4915100000001")
    assert_error(key("PATCH", "/contacts/%d" % c["id"], over), 413,
                 "PAYLOAD_TOO_LARGE")
    # 3 MiB (nginx allows 4): still the API's 413.
    huge = valid + b" " * (3 * MIB)
    assert_error(key("POST", "/contacts", huge), 413, "PAYLOAD_TOO_LARGE")
    # Nothing was stored.
    assert assert_ok(key("GET", "/contacts")) == [c]


def test_body_of_exactly_1mib_accepted(key):
    valid = json.dumps({"phone": "+4915112345678", "name": "edge"}).encode()
    exact = valid + b"\n" * (MIB - len(valid))
    assert len(exact) == MIB
    c = assert_ok(key("POST", "/contacts", exact), 201)
    assert c["name"] == "edge"


def post_chunked(port, key, body, piece=65536):
    import http.client
    from conftest import Resp
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        chunks = (body[i:i + piece] for i in range(0, len(body), piece))
        conn.request("POST", "/api/v1/contacts", body=chunks,
                     headers={"Authorization": "Bearer " + key.key,
                              "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        r = conn.getresponse()
        raw = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    openapi_check.check_response("POST", "/api/v1/contacts", r.status, h,
                                 raw)
    return Resp(r.status, h, raw)


def test_chunked_body(stack, key):
    """A body without Content-Length (chunked) is read like any other."""
    body = json.dumps({"phone": "+4915112345678", "name": "chunky"}).encode()
    c = assert_ok(post_chunked(stack.port, key, body, piece=10), 201)
    assert c["name"] == "chunky"
    valid = json.dumps({"phone": "+4915100000001"}).encode()
    exact = valid + b" " * (MIB - len(valid))
    assert_ok(post_chunked(stack.port, key, exact), 201)
    over = valid.replace(b"1\"", b"2\"") + b" " * (MIB + 1 - len(valid))
    assert len(over) == MIB + 1
    assert_error(post_chunked(stack.port, key, over), 413,
                 "PAYLOAD_TOO_LARGE")
    assert key("GET", "/contacts").body["meta"]["total"] == 2


@pytest.mark.parametrize("ident", ["abc", "0", "-1", "1.5", "1e3", "01",
                                   "99999999999999999999", "%20", "1%2F2",
                                   "0x10"])
def test_non_numeric_id_404(key, ident):
    c = key.create_contact(phone="+4915112345678")
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        r = key(method, "/contacts/" + ident,
                {"name": "x"} if method in ("PUT", "PATCH") else None)
        assert_error(r, 404, "RESOURCE_NOT_FOUND")
    assert_error(key("DELETE", "/api-keys/" + ident), 404,
                 "RESOURCE_NOT_FOUND")
    assert assert_ok(key("GET", "/contacts/%d" % c["id"])) == c


def test_query_string_ignored_on_item_routes(key):
    c = key.create_contact(phone="+4915112345678")
    assert assert_ok(key("GET", "/contacts/%d?x=1" % c["id"])) == c


def test_envelope_on_success(key):
    r = key("POST", "/contacts", {"phone": "+4915112345678"})
    assert r.status == 201
    assert_json(r)
    assert set(r.body) == {"success", "data"} and r.body["success"] is True
    r = key("GET", "/contacts")
    assert set(r.body) == {"success", "data", "meta"}


def test_trailing_slash_accepted(key):
    c = key.create_contact(phone="+4915112345678")
    assert assert_ok(key("GET", "/contacts/")) == [c]
    assert assert_ok(key("GET", "/contacts/%d/" % c["id"])) == c
    assert_error(key("GET", "/contacts//"), 404, "RESOURCE_NOT_FOUND")


# (nginx itself refuses bad escapes and NUL in the path before the
# application sees them, in the envelope: test_nginx_errors_json; it passes
# on the query string as is.)
@pytest.mark.parametrize("target", [
    "/api/v1/contacts/%FF", "/api/v1/contacts/%C3%28", "/api/v1/contacts?search=%FF",
    "/api/v1/contacts?search=%C0%AF", "/api/v1/contacts?search=a%00b",
    "/api/v1/contacts?search=%G1",
])
def test_malformed_url_400(stack, key, target):
    r = http_request(stack.port, "GET", target, key=key.key)
    assert_error(r, 400, "BAD_REQUEST")


def test_request_id_header(key):
    ids = set()
    for r in (key("GET", "/contacts"), key("GET", "/nope"),
              key("POST", "/contacts", b"{")):
        assert r.headers.get("x-request-id")
        ids.add(r.headers["x-request-id"])
    assert len(ids) == 3


# --------------------------------------------------------------------------
# The errors nginx makes itself (deploy/nginx/wazera-errors.conf).


def test_shipped_nginx_conf_errors_json(stack, key):
    """deploy/nginx/wazera.conf as shipped (the stack's nginx runs it,
    as every nginx of the suite does): the JSON errors nginx makes
    itself, and the API behind it as usual."""
    web_server_errors(stack.port, key)
    assert_ok(key("GET", "/contacts"))
    # Outside /api: nginx's own pages stay hidden.
    for path in ("/", "/index.html", "/x"):
        r = http_request(stack.port, "GET", path)
        assert_web_error(r, 404, "RESOURCE_NOT_FOUND")


def test_nginx_fastcgi_down_502(stack, key):
    """No FastCGI server behind nginx: 502 SERVICE_UNAVAILABLE, in the
    envelope, with Retry-After."""
    nginx = stack.start_nginx(os.path.join(stack.work, "gone.sock"))
    try:
        for method, body in (("GET", None),
                             ("POST", {"phone": "+4917655501003"})):
            r = key(method, "/contacts", body, port=nginx.port)
            assert_web_error(r, 502, "SERVICE_UNAVAILABLE", retry_after="5")
    finally:
        stack.stop_nginx(nginx)


def test_nginx_fastcgi_slow_504(stack, key):
    """A FastCGI server that takes the connection and never answers: 504
    SERVICE_UNAVAILABLE, in the envelope (no Retry-After: the request may
    have been carried out)."""
    path = os.path.join(stack.work, stack.unique("silent-") + ".sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(8)
    held = []
    stop = threading.Event()

    def hold():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=hold, daemon=True)
    t.start()
    nginx = stack.start_nginx(path, read_timeout="1s")
    try:
        r = key("GET", "/contacts", port=nginx.port)
        err = assert_web_error(r, 504, "SERVICE_UNAVAILABLE")
        assert "retry-after" not in r.headers
        assert "time" in err["message"]
    finally:
        stack.stop_nginx(nginx)
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()
