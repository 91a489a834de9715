"""docs/openapi.yaml held to the code both ways (issue 13): the route table
of app/fcgi/router.c and the spec's operations are the same set, each with
the router's access rule; the document is a sound OpenAPI 3.1 document
(every $ref resolves, every operation answers, every schema compiles as
JSON Schema 2020-12); GET /api/v1/openapi.json serves exactly
docs/openapi.json, which is exactly docs/openapi.yaml; and the answer
check every e2e request goes through (openapi_check) refuses drift."""
import json
import os
import re

import pytest
from jsonschema import Draft202012Validator

import openapi_check
from conftest import JSON_CT, http_request

TOP = openapi_check.TOP
METHODS = openapi_check.METHODS


@pytest.fixture(scope="module")
def doc():
    return openapi_check.load_spec()


def router_routes():
    """[(method, pattern, access)] of router.c's routes[] initializer;
    access is the scope's name ("contacts:read"), "unrestricted",
    "session" (a dashboard session only) or "public" (the sign-in
    too)."""
    with open(os.path.join(TOP, "app", "fcgi", "router.c")) as f:
        text = f.read()
    body = text[text.index("routes[] = {"):]
    body = body[:body.index("\n};")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    out = []
    for m in re.finditer(r'\{\s*"([A-Z]+)",\s*"([^"]+)",([^}]*)\}', body):
        rest = m.group(3)
        if "ROUTE_PUBLIC" in rest or "ROUTE_SIGNIN" in rest:
            access = "public"
        elif "ROUTE_SESSION" in rest:
            access = "session"
        elif "ROUTE_UNRESTRICTED" in rest:
            access = "unrestricted"
        else:
            s = re.search(r"SCOPE_([A-Z]+)_([A-Z]+)", rest)
            assert s, "router.c: no scope or access for %s %s" % (
                m.group(1), m.group(2))
            access = "%s:%s" % (s.group(1).lower(), s.group(2).lower())
        out.append((m.group(1), m.group(2), access))
    return out


def shape(path):
    """The path with its parameters unnamed: router.c names every id {id},
    the spec names them ({id}, {delivery_id}); they match by position."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def spec_operations(doc):
    return {(m.upper(), path): op for path, item in doc["paths"].items()
            for m, op in item.items() if m in METHODS}


def test_route_table_is_the_spec(doc):
    routes = router_routes()
    assert len(routes) > 40, routes     # the parse found the table
    router = {(m, shape(p)): p for m, p, _ in routes}
    assert len(router) == len(routes), "router.c lists a route twice"
    spec = {(m, shape(p)): p for m, p in spec_operations(doc)}
    missing = sorted("%s %s" % (m, router[(m, s)])
                     for m, s in router.keys() - spec.keys())
    extra = sorted("%s %s" % (m, spec[(m, s)])
                   for m, s in spec.keys() - router.keys())
    assert not missing, "routes of app/fcgi/router.c missing from " \
        "docs/openapi.yaml: %s" % ", ".join(missing)
    assert not extra, "operations of docs/openapi.yaml that " \
        "app/fcgi/router.c does not route: %s" % ", ".join(extra)


def test_access_is_the_routers(doc):
    """Public routes say security: [] and list no 401; the others take the
    API key, name the router's scope in x-scopes (none for a route that
    needs a key without scopes) and in their description, and answer 401,
    403 and 429."""
    spec = {(m, shape(p)): op for (m, p), op in spec_operations(doc).items()}
    for method, pattern, access in router_routes():
        op = spec.get((method, shape(pattern)))
        if op is None:
            continue        # test_route_table_is_the_spec names it
        name = "%s %s" % (method, pattern)
        if access == "public":
            assert op.get("security") == [], name
            assert op.get("x-scopes") == [], name
            assert "401" not in op["responses"] or method == "POST", name
            continue
        if access == "session":
            assert op.get("security") == [{"sessionCookie": []}], name
            assert op.get("x-scopes") == [], name
            for st in ("401", "403"):
                assert st in op["responses"], (name, st)
            continue
        assert "security" not in op, name      # the document's: the key
        for st in ("401", "403", "429"):
            assert st in op["responses"], (name, st)
        if access == "unrestricted":
            assert op.get("x-scopes") == [], name
            assert "without scope restrictions" in op["description"], name
        else:
            assert op.get("x-scopes") == [access], (name, op.get("x-scopes"))
            assert "`%s`" % access in op["description"], name
        if method == "POST":
            params = [openapi_check.deref(p).get("name")
                      for p in op.get("parameters", [])]
            assert "Idempotency-Key" in params, name
            assert "409" in op["responses"], name


def walk(node, at=""):
    """(JSON pointer, dict) of every object in node."""
    if isinstance(node, dict):
        yield at, node
        for k, v in node.items():
            yield from walk(v, "%s/%s" % (at, str(k).replace(
                "~", "~0").replace("/", "~1")))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (at, i))


def test_document_is_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "/api/v1"}]
    assert doc.get("jsonSchemaDialect", "https://spec.openapis.org/oas/"
                   "3.1/dialect/base").startswith("https://spec.openapis.org")
    assert {"title", "version"} <= set(doc["info"])
    # Every $ref resolves.
    refs = [(at, o["$ref"]) for at, o in walk(doc) if "$ref" in o and
            isinstance(o["$ref"], str)]
    assert len(refs) > 100, len(refs)
    for at, ref in refs:
        assert ref.startswith("#/"), (at, ref)
        try:
            openapi_check.deref({"$ref": ref})
        except (KeyError, IndexError, TypeError):
            pytest.fail("%s: $ref %s does not resolve" % (at, ref))
    # Every operation: a unique operationId, responses with descriptions,
    # its path's parameters declared, no undeclared ones.
    ids = set()
    for (method, path), op in spec_operations(doc).items():
        name = "%s %s" % (method, path)
        assert op.get("operationId") and op["operationId"] not in ids, name
        ids.add(op["operationId"])
        assert op.get("summary") and op.get("tags"), name
        assert op.get("responses"), name
        assert any(s.startswith("2") for s in op["responses"]), name
        for st, r in op["responses"].items():
            r = openapi_check.deref(r)
            assert r.get("description"), (name, st)
            for mt, media in (r.get("content") or {}).items():
                assert "schema" in media, (name, st, mt)
        params = [openapi_check.deref(p) for p in
                  doc["paths"][path].get("parameters", []) +
                  op.get("parameters", [])]
        in_path = {p["name"] for p in params if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{([^}]+)\}", path)), name
        for p in params:
            assert p["in"] != "path" or p.get("required") is True, name
    # Every schema compiles as JSON Schema 2020-12: the components' and
    # the inline ones of parameters, bodies, answers and headers.
    schemas = [("/components/schemas/" + k, v) for k, v in
               doc["components"]["schemas"].items()]
    schemas += [(at + "/schema", o["schema"]) for at, o in walk(doc)
                if isinstance(o.get("schema"), dict)]
    assert len(schemas) > 100, len(schemas)
    for at, schema in schemas:
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:      # noqa: BLE001 (named in the failure)
            pytest.fail("%s: not a JSON Schema 2020-12 schema: %s" % (at, e))
    # The examples the document gives are valid for their schemas.
    resolver = openapi_check._init()["resolver"]
    for at, o in walk(doc["components"]["schemas"], "/components/schemas"):
        for ex in o.get("examples", []) if isinstance(
                o.get("examples"), list) else []:
            errs = list(Draft202012Validator(
                o, resolver=resolver).iter_errors(ex))
            assert not errs, (at, ex, errs[0].message)


def test_json_is_the_yaml(doc):
    """docs/openapi.json is what tools/openapi-json makes of the yaml
    (tests/run also runs tools/openapi-json --check)."""
    with open(os.path.join(TOP, "docs", "openapi.json")) as f:
        assert json.load(f) == doc


def test_served_document_is_docs_openapi_json(stack):
    """GET /api/v1/openapi.json: public (no key, no rate limit), the
    document itself, exactly docs/openapi.json as built in."""
    r = http_request(stack.port, "GET", "/api/v1/openapi.json")
    assert r.status == 200, r
    assert r.headers.get("content-type") == JSON_CT, r
    assert "x-ratelimit-limit" not in r.headers, r
    with open(os.path.join(TOP, "docs", "openapi.json")) as f:
        assert json.loads(r.raw.decode("utf-8")) == json.load(f)


# --------------------------------------------------------------------------
# The answer check itself: it refuses what drifted from the spec.

HEADERS = {"content-type": JSON_CT, "x-request-id": "0123456789abcdef",
           "x-ratelimit-limit": "100", "x-ratelimit-remaining": "99",
           "x-ratelimit-reset": "1765000020"}
CONTACT = {"id": 7, "name": "Ada", "phone": "+4915112345678",
           "email": None, "tags": ["vip"], "custom_fields": {"a": 1},
           "opted_out": False, "created_at": "2026-12-06T01:30:00Z",
           "updated_at": "2026-12-06T01:30:00Z"}


def answer(obj):
    return json.dumps(obj).encode()


def refused(*args):
    with pytest.raises(AssertionError) as e:
        openapi_check.check_response(*args)
    return str(e.value)


def test_check_accepts_the_spec():
    ok = answer({"success": True, "data": CONTACT})
    openapi_check.check_response("GET", "/api/v1/contacts/7", 200, HEADERS,
                                 ok)
    openapi_check.check_response("GET", "/api/v1/contacts/7/?x=1", 200,
                                 HEADERS, ok)
    openapi_check.check_response("GET", "/api/v1/contacts?page=2", 200,
                                 HEADERS, answer({
                                     "success": True, "data": [CONTACT],
                                     "meta": {"current_page": 2,
                                              "per_page": 25, "total": 26,
                                              "last_page": 2}}))
    err = {"success": False, "error": {"code": "RESOURCE_NOT_FOUND",
                                       "message": "Nope.", "details": {}}}
    openapi_check.check_response("GET", "/api/v1/nope", 404,
                                 {"content-type": JSON_CT}, answer(err))
    openapi_check.check_response(
        "GET", "/api/v1/whatsapp/webhook?hub.challenge=x", 200,
        {"content-type": "text/plain; charset=utf-8",
         "x-request-id": "0123456789abcdef"}, b"x")


def test_check_refuses_drift():
    drifted = dict(CONTACT, nickname="Ada")
    msg = refused("GET", "/api/v1/contacts/7", 200, HEADERS,
                  answer({"success": True, "data": drifted}))
    assert "GET /contacts/{id}" in msg and "/data" in msg and \
        "nickname" in msg, msg
    msg = refused("GET", "/api/v1/contacts/7", 200, HEADERS, answer(
        {"success": True, "data": dict(CONTACT, created_at="yesterday")}))
    assert "/data/created_at" in msg, msg
    no_rl = {k: v for k, v in HEADERS.items() if "ratelimit" not in k}
    msg = refused("GET", "/api/v1/contacts/7", 200, no_rl,
                  answer({"success": True, "data": CONTACT}))
    assert "X-RateLimit-Limit" in msg, msg
    # A status the operation does not list, a success on an unknown path,
    # an error that is not the envelope, the wrong content type.
    msg = refused("GET", "/api/v1/contacts/7", 201, HEADERS,
                  answer({"success": True, "data": CONTACT}))
    assert "201" in msg, msg
    refused("GET", "/api/v1/contact", 200, HEADERS,
            answer({"success": True, "data": CONTACT}))
    refused("GET", "/api/v1/nope", 404, {"content-type": JSON_CT},
            answer({"error": "not found"}))
    refused("GET", "/api/v1/contacts/7", 200,
            dict(HEADERS, **{"content-type": "application/json"}),
            answer({"success": True, "data": CONTACT}))
    # 422's details map each field to its messages.
    msg = refused("POST", "/api/v1/contacts", 422, HEADERS, answer({
        "success": False, "error": {"code": "VALIDATION_ERROR",
                                    "message": "Bad.",
                                    "details": {"phone": "bad"}}}))
    assert "/error/details/phone" in msg, msg
