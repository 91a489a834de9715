"""Every answer the e2e suite sees, held to docs/openapi.yaml.

check_response(method, target, status, headers, raw) finds the spec's
route for the request (the target's path below /api/v1, without its query
string, a trailing slash tolerated, ids as the router takes them), the
response for the status (else the operation's `default`, for errors only),
and checks the answer against it: the content type, the body (JSON
validated with Draft202012Validator over the whole document, so every
$ref resolves; no format checks: the spec's patterns hold the formats we
make), and the headers the response marks required (with their schemas).
An answer to a path no spec route has (an unknown route, nginx's or
Apache's own errors) must be the ErrorEnvelope; a 405 on a known path is
checked against the document's x-method-not-allowed. A mismatch raises
AssertionError naming the route, the status, the JSON pointer and the
message, so the test that saw the answer fails.

The document is read once (Debian's python3-yaml, the dates kept strings
as tools/openapi-json keeps them) and each validator compiled once per
(path, method, status)."""
import atexit
import json
import os
import re
import threading
import urllib.parse

import yaml
from jsonschema import Draft202012Validator, RefResolver

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SPEC = os.path.join(TOP, "docs", "openapi.yaml")
PREFIX = "/api/v1"
JSON_CT = "application/json; charset=utf-8"
INT64_MAX = 2 ** 63 - 1
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")


class _NoDates(yaml.SafeLoader):
    """YAML 1.1 would turn 2026-03-15 into a date: the document means
    strings (tools/openapi-json does the same)."""


_NoDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_lock = threading.Lock()
_state = {}
_compiled = {}
_seen = set()


def _write_seen():
    """WAZERA_OPENAPI_SEEN=FILE: the (operation, status) pairs the run's
    answers matched, one a line (which documented answers the suite
    exercises)."""
    path = os.environ.get("WAZERA_OPENAPI_SEEN")
    if path and _seen:
        with open(path, "w") as f:
            f.write("".join("%s %s\n" % k for k in sorted(_seen)))


atexit.register(_write_seen)


def load_spec(path=SPEC):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_NoDates)


def _init():
    """The document, its resolver and its routes, once."""
    if _state:
        return _state
    with _lock:
        if _state:
            return _state
        doc = load_spec()
        routes = []
        for tmpl, item in doc["paths"].items():
            names = re.findall(r"\{([^}]+)\}", tmpl)
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([1-9][0-9]*)",
                              re.escape(tmpl)) + "/?$"
            routes.append((re.compile(rx), tmpl, names, item))
        resolver = RefResolver.from_schema(doc)
        _state.update(doc=doc, routes=routes, resolver=resolver)
    return _state


def deref(obj):
    """obj with its $ref (a local one) followed, repeatedly."""
    doc = _init()["doc"]
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), ref
        obj = doc
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
    return obj


def match_route(method, target):
    """(template, path item, operation or None) for a request target, or
    None when no spec route has its path."""
    path = urllib.parse.urlsplit(target).path if target else ""
    path = urllib.parse.unquote(path, errors="replace")
    if not (path == PREFIX or path.startswith(PREFIX + "/")):
        return None
    path = path[len(PREFIX):]
    for rx, tmpl, _names, item in _init()["routes"]:
        m = rx.match(path)
        if m and all(int(g) <= INT64_MAX for g in m.groups()):
            return tmpl, item, item.get(method.lower())
    return None


def _validator(key, schema):
    v = _compiled.get(key)
    if v is None:
        with _lock:
            v = _compiled.get(key)
            if v is None:
                v = Draft202012Validator(schema,
                                         resolver=_init()["resolver"])
                _compiled[key] = v
    return v


ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def _expectation(method, target, status):
    """(what, cache key, response object): the answer the spec has for
    this request and status; raises AssertionError when it has none."""
    doc = _init()["doc"]
    found = match_route(method, target)
    if found is None:
        what = "%s %s (no spec route)" % (method, target)
        assert status >= 400, \
            "openapi: %s answered %d: only an error may answer a path " \
            "the spec does not have" % (what, status)
        return what, ("-", status), {
            "description": "any error",
            "content": {"application/json": {"schema": ENVELOPE}}}
    tmpl, _item, op = found
    what = "%s %s" % (method, tmpl)
    if op is None:
        # A known path, another method: the router's 405 with Allow, or
        # an error answered before the route was looked at (a body over
        # the limit, a malformed URL) or by the web server.
        assert status >= 400, \
            "openapi: %s answered %d, but the spec has no such operation" % (
                what, status)
        if status == 405:
            return what, ("405",), doc["x-method-not-allowed"]
        return what, ("-", status), {
            "description": "any error",
            "content": {"application/json": {"schema": ENVELOPE}}}
    responses = op["responses"]
    resp = responses.get(str(status))
    if resp is None:
        resp = responses.get("%dXX" % (status // 100))
    if resp is None and status >= 400:
        resp = responses.get("default")
    assert resp is not None, \
        "openapi: %s answered %d, which the spec does not list (it has %s)" \
        % (what, status, ", ".join(sorted(responses)))
    return what, (what, status), deref(resp)


def _pointer(path):
    return "/" + "/".join(str(p) for p in path)


def _check_value(key, what, status, schema, value, where):
    errs = sorted(_validator(key, schema).iter_errors(value),
                  key=lambda e: list(e.absolute_path))
    if errs:
        e = errs[0]
        # The innermost cause of a oneOf/anyOf/allOf failure says most.
        ctx = e
        while ctx.context:
            ctx = sorted(ctx.context, key=lambda c: -len(c.absolute_path))[0]
        raise AssertionError(
            "openapi: %s answered %d, its %s does not match the spec at "
            "%s: %s%s (%d error%s; value: %.300s)" % (
                what, status, where, _pointer(e.absolute_path), e.message,
                "" if ctx is e else " [%s: %s]" % (
                    _pointer(ctx.absolute_path), ctx.message),
                len(errs), "" if len(errs) == 1 else "s",
                json.dumps(value)))


def _header_value(schema, text):
    """A header's text as its schema's type."""
    t = schema.get("type")
    if t == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    return text


def check_response(method, target, status, headers, raw):
    """Checks one answer (headers: lower-case names; raw: the body's
    bytes) against the spec; raises AssertionError on a mismatch. status
    0 (no HTTP answer at all) is not checked."""
    if not status:
        return
    what, key, resp = _expectation(method, target or "", status)
    _seen.add((what if key[0] != "-" else "(no operation)", status))

    # Headers the response requires, with their schemas.
    for name, h in (resp.get("headers") or {}).items():
        h = deref(h)
        val = headers.get(name.lower())
        if val is None:
            assert not h.get("required"), \
                "openapi: %s answered %d without its required header %s " \
                "(headers: %r)" % (what, status, name, headers)
            continue
        _check_value(key + ("header", name), what, status,
                     h.get("schema", {}), _header_value(
                         deref(h.get("schema", {})), val),
                     "header " + name)

    content = resp.get("content")
    if method.upper() == "HEAD" or not content:
        return
    ctype = headers.get("content-type", "")
    media = None
    for mt, obj in content.items():
        want = JSON_CT if mt == "application/json" else mt
        if ctype == want:
            media = (mt, obj)
            break
    assert media is not None, \
        "openapi: %s answered %d with Content-Type %r; the spec has %s" % (
            what, status, ctype, ", ".join(
                JSON_CT if mt == "application/json" else mt
                for mt in content))
    mt, obj = media
    schema = obj.get("schema", {})
    if mt == "application/json":
        try:
            value = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise AssertionError("openapi: %s answered %d with a body that "
                                 "is not JSON: %.300r" % (what, status, raw))
    else:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError("openapi: %s answered %d with a %s body "
                                 "that is not UTF-8: %.300r" % (
                                     what, status, mt, raw))
    _check_value(key + ("body", mt), what, status, schema, value, "body")


def request_line(data):
    """(method, target) of the raw request bytes data, or (None, None)
    when its first line is no request line."""
    line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) == 3 and parts[2].startswith(b"HTTP/"):
        try:
            return parts[0].decode("ascii"), parts[1].decode("ascii")
        except UnicodeDecodeError:
            pass
    return None, None
