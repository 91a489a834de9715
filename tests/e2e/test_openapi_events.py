"""The outgoing webhooks in docs/openapi.yaml (its webhooks: section and the
Event schemas) held to what is delivered (issue 13).

- The event types: every type lib/event.c names, every routine and C path
  emits or records (test_events.py's readers), has a webhooks: entry, and
  every entry is such a type; each entry's X-Wazera-Event and body schema
  name its own type.
- The schemas: valid JSON Schema 2020-12, every $ref they reach resolved
  in the document (the resource schemas Contact, Message, Conversation,
  Campaign and Webhook among them).
- Real deliveries: every type produced through the API, a signed inbound
  Meta webhook, the sandbox Graph API and a campaign, delivered by the
  spooler to a receiver that checks each request against the entry of its
  type (openapi_events.check_event); and the check itself tells a request
  that differs (a real delivery, altered)."""
import json

import jsonschema

import openapi_events
from campaign_util import finish, make_campaign, make_segment, seed_contacts
from conftest import assert_ok, new_sender, sql, wait_for
from openapi_events import check_event, resolve, spec
from test_events import c_emitted, c_table, sql_emitted, sql_recorded
from test_webhooks_delivery import (_quiet_webhooks, make_webhook,  # noqa: F401
                                    post_signed, receiver, settled, spooling,
                                    statuses_payload)


def camel(event):
    """contact.created -> ContactCreated."""
    return "".join(p.capitalize() for p in event.split("."))


def test_every_event_type_has_a_webhooks_entry_and_back():
    table = c_table()
    types = set(table.values())
    emitted, other = sql_emitted()
    assert other == []
    produced = emitted | sql_recorded() | c_emitted(table)
    # Every type something emits is a type of the table (test_events.py
    # holds the rest: every type of the table is emitted).
    assert produced <= types, produced - types
    hooks = spec()["webhooks"]
    assert set(hooks) == types, (sorted(set(hooks) - types),
                                 sorted(types - set(hooks)))
    assert set(hooks) == produced, (sorted(set(hooks) - produced),
                                    sorted(produced - set(hooks)))
    schemas = spec()["components"]["schemas"]
    assert set(schemas["Event"]["properties"]["event"]["enum"]) == types
    for name, entry in hooks.items():
        op = entry["post"]
        assert set(entry) == {"post"}, name
        hdr = {p["name"]: p for p in op["parameters"]}
        assert hdr["X-Wazera-Event"]["schema"]["const"] == name
        for h in ("X-Wazera-Event", "X-Wazera-Delivery", "X-Wazera-Signature",
                  "webhook-id", "webhook-timestamp", "webhook-signature"):
            assert hdr[h]["in"] == "header" and hdr[h]["required"], (name, h)
        body = op["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Event" + camel(name)}
        # Event<Type>: the envelope with this type and Event<Type>Data.
        branch = resolve(body)["allOf"]
        assert branch[0] == {"$ref": "#/components/schemas/Event"}, name
        assert branch[1]["properties"]["event"] == {"const": name}
        assert branch[1]["properties"]["data"] == {
            "$ref": "#/components/schemas/Event%sData" % camel(name)}
        assert {"2XX", "410", "default"} <= set(op["responses"]), name
    # The envelope is closed: a key the SQL adds is a difference.
    assert schemas["Event"]["additionalProperties"] is False
    assert schemas["Event"]["required"] == ["id", "event", "timestamp",
                                            "data"]


def refs_in(obj):
    if isinstance(obj, dict):
        if "$ref" in obj:
            yield obj["$ref"]
        for v in obj.values():
            yield from refs_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs_in(v)


def test_event_schemas_are_valid_and_resolve():
    doc = spec()
    seen, todo = set(), list(refs_in(doc["webhooks"]))
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        try:
            target = resolve({"$ref": ref})
        except (KeyError, AssertionError) as e:
            raise AssertionError("%s (reached from webhooks:) does not "
                                 "resolve in %s: %r" % (
                                     ref, openapi_events.SPEC_PATH, e))
        todo += list(refs_in(target))
    for name in ("Contact", "Message", "Conversation", "Campaign",
                 "Webhook"):
        assert "#/components/schemas/" + name in seen, name
    for name, schema in doc["components"]["schemas"].items():
        if name.startswith("Event"):
            jsonschema.Draft202012Validator.check_schema(schema)


def test_every_event_type_delivered_is_as_documented(stack, sandbox,
                                                     receiver):
    """Each of the types produced for real and delivered by the spooler;
    the receiver checks every request (openapi_events.check_event) and the
    fixture fails the test on any difference."""
    rcv = receiver()
    k = new_sender(stack)
    types = set(spec()["webhooks"])
    wid, _ = make_webhook(stack, k, rcv.url, sorted(types - {"webhook.test"}))
    to_fail = "+4915100000131"
    sandbox.script({"match": {"phone_number_id": k.phone, "to": to_fail},
                    "action": {"error_code": 131026}})
    t = k.tenant.id
    campaigns = []
    try:
        with spooling(stack, sandbox):
            # contact.created, conversation.created, message.received: a
            # customer writes (a signed inbound Meta webhook).
            k.customer_writes("+4915100000130", "Hi there", name=None)
            wait_for(lambda: rcv.events("message.received"),
                     what="message.received", timeout=30)
            # contact.updated: the profile name names the contact now.
            k.customer_writes("+4915100000130", "Me again", name="Oa")
            # message.sent: a reply the spooler sends through the sandbox.
            m = assert_ok(k("POST", "/messages/send", {
                "to": "+4915100000130", "whatsapp_account_id":
                k.account["id"], "type": "text",
                "content": {"body": "Hello back"}}), 201)
            wait_for(lambda: rcv.events("message.sent"),
                     what="message.sent", timeout=30)
            wamid = assert_ok(k("GET", "/messages/%d" % m["id"]))["wamid"]
            assert wamid
            # message.failed from the spooler: Meta refuses a template
            # for good (no wamid).
            f = assert_ok(k("POST", "/messages/send", {
                "to": to_fail, "whatsapp_account_id": k.account["id"],
                "type": "template", "content": {
                    "name": "hello_world", "language": "en_US"}}), 201)
            # message.delivered, message.read: Meta's statuses.
            post_signed(stack, k.app_secret, statuses_payload(k.phone, [
                {"id": wamid, "status": "delivered",
                 "timestamp": "1750030073",
                 "recipient_id": "4915100000130"}]))
            post_signed(stack, k.app_secret, statuses_payload(k.phone, [
                {"id": wamid, "status": "read", "timestamp": "1750030074",
                 "recipient_id": "4915100000130"}]))
            # contact.updated by the API, conversation.closed.
            assert_ok(k("PATCH", "/contacts/%d" % m["contact_id"],
                        {"tags": ["oa"], "custom_fields": {"n": 1}}))
            assert_ok(k("PUT", "/conversations/%d" % m["conversation_id"],
                        {"status": "closed"}))
            # campaign.completed: a campaign of two, sent in full.
            seed_contacts(stack, t, 2, tags=("oacamp",))
            cid = make_campaign(stack, k, make_segment(stack, t,
                                                       ["oacamp"]))
            campaigns.append(cid)
            # webhook.test: the ping.
            assert_ok(k("POST", "/webhooks/%d/test" % wid), 202)
            wait_for(lambda: {h.json["event"] for h in rcv.hits} >= types,
                     what="every event type at the receiver", timeout=60)
            wait_for(settled(stack, wid), what="every delivery", timeout=30)
    finally:
        finish(stack, campaigns)
    rcv.checks.assert_clean()
    assert rcv.checks.checked == len(rcv.hits) > len(types)
    got = {}
    for h in rcv.hits:
        got.setdefault(h.json["event"], []).append(h)
    assert set(got) == types, sorted(types - set(got))
    # The two ways to message.failed: Meta's refusal of the send.
    failed = [h.json["data"] for h in got["message.failed"]]
    assert [d["id"] for d in failed] == [f["id"]], failed
    assert failed[0]["wamid"] is None and failed[0]["error"]["code"] == \
        131026, failed
    # The campaign's completion, its stats final.
    done, = [h.json["data"] for h in got["campaign.completed"]]
    assert done["id"] == cid and done["stats"]["total"] == 2 and \
        done["stats"]["sent"] == 2, done
    (n,), = sql(stack, "SELECT COUNT(*) FROM webhook_deliveries WHERE "
                "webhook_id = %d AND status = 'succeeded'" % wid)
    assert int(n) == len({h.delivery for h in rcv.hits})

    # The check tells a request that differs: a real one, altered.
    hit = got["contact.created"][0]
    headers = dict(hit.headers)
    assert check_event(hit.body, headers) == []
    body = hit.json

    def problems(b=None, drop=None, **hdr):
        h = {k: v for k, v in headers.items() if k != drop}
        h.update({k.replace("_", "-"): v for k, v in hdr.items()})
        raw = hit.body if b is None else json.dumps(b).encode()
        return check_event(raw, h)
    assert problems(drop="webhook-signature")
    assert problems(drop="x-wazera-delivery")
    assert problems(x_wazera_event="contact.updated")
    assert problems(x_wazera_signature="sha1=00")
    assert problems(content_type="text/plain")
    assert problems(dict(body, extra=1))
    assert problems({x: body[x] for x in body if x != "timestamp"})
    assert problems(dict(body, timestamp="2026-12-05 10:00:00"))
    assert problems(dict(body, id="not-a-uuid"))
    assert problems(dict(body, event="contact.deleted"))
    read = got["message.read"][0]
    assert check_event(read.body, read.headers) == []
    assert check_event(json.dumps(dict(read.json, data=dict(
        read.json["data"], status="sent"))).encode(), read.headers)
