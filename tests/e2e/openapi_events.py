"""Delivered webhook requests held to the OpenAPI document (issue 13).

check_event(body, headers) compares one request the spooler delivered (the
body's exact bytes, the request's headers) with the `webhooks:` entry of
docs/openapi.yaml for its event type (the body's "event"): the header
parameters (every required one present, each value matching its schema,
none sent twice), the content type (one the requestBody lists) and the
body against the requestBody's schema, with the document's $refs resolved
(Debian's python3-jsonschema, JSON Schema 2020-12 as OpenAPI 3.1 says; no
format checks: the patterns beside the formats hold the forms Wazera
makes). It answers the list of differences, [] when the request is as
documented.

The e2e receivers (test_webhooks_delivery.py's, campaign_util.py's) check
every request they receive with an EventChecks and fail the test that
received a request the document does not describe.

The document is read as openapi_check.py reads it (Debian's python3-yaml,
dates kept strings as tools/openapi-json keeps them); docs/openapi.json,
what the server serves, is made from it (tests/run checks the two agree).
WAZERA_OPENAPI names another copy (YAML, or JSON ending .json) to check
against instead: a trial of a change."""
import json
import os
import threading

import jsonschema
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SPEC_PATH = os.environ.get("WAZERA_OPENAPI") or os.path.join(
    REPO, "docs", "openapi.yaml")


class _NoDates(yaml.SafeLoader):
    """YAML 1.1 would turn 2026-03-15 into a date: the document means
    strings."""


_NoDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_lock = threading.Lock()
_spec = None
_validators = {}


def spec():
    """The OpenAPI document, parsed once."""
    global _spec
    with _lock:
        if _spec is None:
            with open(SPEC_PATH, encoding="utf-8") as f:
                if SPEC_PATH.endswith(".json"):
                    _spec = json.load(f)
                else:
                    _spec = yaml.load(f, Loader=_NoDates)
        return _spec


def resolve(obj):
    """obj, or what its $ref names in the document ('#/...' only)."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), "a $ref outside the document: %s" % ref
        obj = spec()
        for part in ref[2:].split("/"):
            obj = obj[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        assert seen < 20, "a $ref loop at %s" % ref
    return obj


def validator(schema):
    """A JSON Schema 2020-12 validator of schema (a part of the document),
    its $refs resolved in the document."""
    key = json.dumps(schema, sort_keys=True)
    with _lock:
        v = _validators.get(key)
    if v is None:
        resolver = jsonschema.RefResolver.from_schema(spec())
        v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        with _lock:
            _validators[key] = v
    return v


def errors_of(schema, instance):
    """The ways instance differs from schema, each "where: what"."""
    out = []
    for e in sorted(validator(schema).iter_errors(instance),
                    key=lambda e: [str(p) for p in e.absolute_path]):
        where = "/".join(str(p) for p in e.absolute_path) or "(whole)"
        out.append("%s: %s" % (where, e.message[:300]))
    return out


def webhook_entry(event):
    """The `post` of the webhooks: entry named event; None if none."""
    entry = spec().get("webhooks", {}).get(event)
    if entry is None:
        return None
    return resolve(entry).get("post")


def _header_pairs(headers):
    """(lowercased name, value) of every header line: a dict, a list of
    pairs, or an email.message.Message (http.server's self.headers,
    whose items() keeps repeated names)."""
    items = headers.items() if hasattr(headers, "items") else headers
    return [(k.lower(), v) for k, v in items]


def check_event(body, headers):
    """The differences between a delivered webhook request (body: its
    bytes; headers: its headers) and the webhooks: entry of its event
    type; [] when it is as documented."""
    try:
        return _check(body, headers)
    except Exception as e:  # reported, never swallowed: a difference too
        return ["cannot be checked: %s: %s" % (type(e).__name__, e)]


def _check(body, headers):
    problems = []
    try:
        doc = json.loads(body)
    except ValueError as e:
        return ["the body is not JSON (%s): %r" % (e, body[:200])]
    event = doc.get("event") if isinstance(doc, dict) else None
    if not isinstance(event, str):
        return ["the body has no event type: %r" % body[:200]]
    op = webhook_entry(event)
    if op is None:
        return ["%s: no webhooks: entry for this event type" % event]

    pairs = _header_pairs(headers)
    names = [k for k, _ in pairs]
    got = dict(pairs)
    for p in op.get("parameters", []):
        p = resolve(p)
        if p.get("in") != "header":
            continue
        name = p["name"].lower()
        if name not in got:
            if p.get("required"):
                problems.append("%s: header %s missing" % (event, p["name"]))
            continue
        if names.count(name) > 1:
            problems.append("%s: header %s sent %d times" % (
                event, p["name"], names.count(name)))
        for err in errors_of(p.get("schema", {}), got[name]):
            problems.append("%s: header %s %r: %s" % (
                event, p["name"], got[name], err.split(": ", 1)[1]))

    rb = resolve(op.get("requestBody", {}))
    content = rb.get("content", {})
    ctype = got.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in content:
        problems.append("%s: Content-Type %r is none of %s" % (
            event, got.get("content-type"), sorted(content)))
        return problems
    schema = content[ctype].get("schema", {})
    for err in errors_of(schema, doc):
        problems.append("%s: body %s" % (event, err))
    return problems


def assert_event(body, headers):
    problems = check_event(body, headers)
    assert not problems, "\n".join(problems)


class EventChecks:
    """What a receiver keeps of its checks: check() each request as it
    arrives (from the server's threads), assert_clean() where the test
    reads what was received and when the receiver closes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.checked = 0
        self.problems = []

    def check(self, body, headers):
        found = check_event(body, headers)
        with self.lock:
            self.checked += 1
            self.problems += found
        return found

    def assert_clean(self):
        with self.lock:
            problems = list(self.problems)
        seen = {}
        for p in problems:
            seen[p] = seen.get(p, 0) + 1
        assert not problems, (
            "delivered webhook requests that %s's webhooks: section does "
            "not describe:\n" % SPEC_PATH +
            "\n".join(p if n == 1 else "%s (%d times)" % (p, n)
                      for p, n in seen.items()))
