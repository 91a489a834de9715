"""Edges of POST /whatsapp/webhook that Meta (or someone posing as it) can
reach: a sender number that is no phone number, a payload for another
object, accounts sharing one app secret, more phone number ids than are
looked up, and a server whose master key cannot be loaded."""
import hashlib
import hmac
import json
import os

import pytest

from conftest import assert_error, http_request, wait_for

DEFAULT_SECRET = "edge-default-secret"


def server(stack, name, master_key=None):
    conf = stack.write_config(stack.unique(name) + ".conf")
    with open(conf) as f:
        text = f.read()
    if master_key is not None:
        text = text.replace(stack.master_key, master_key)
    with open(conf, "w") as f:
        f.write("app_secret = %s\n" % DEFAULT_SECRET)
        f.write(text)
    fcgi = stack.start_fcgi(config=conf, workers=1)
    nginx = stack.start_nginx(fcgi.sock)
    return fcgi, nginx


@pytest.fixture(scope="module")
def hook(stack):
    fcgi, nginx = server(stack, "edgehook-")
    nginx.fcgi = fcgi
    yield nginx
    stack.stop_nginx(nginx)
    fcgi.stop()


def post(port, body, secret):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sig = "sha256=" + hmac.new(secret.encode(), raw,
                               hashlib.sha256).hexdigest()
    return http_request(port, "POST", "/api/v1/whatsapp/webhook", raw,
                        headers={"X-Hub-Signature-256": sig})


def account(stack, make_tenant, prefix, secret=None):
    k = make_tenant().key()
    k.phone = stack.unique(prefix)
    args = ["account", "create", "--tenant", k.tenant.id,
            "--phone-number-id", k.phone, "--waba-id", "1",
            "--display-phone", "+15550783881", "--access-token", "tok"]
    if secret is not None:
        args += ["--app-secret", secret]
    k.secret = secret
    k.account = stack.admin_json(*args)
    return k


def entry(phone_id, messages=(), statuses=None):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550783881",
                          "phone_number_id": phone_id},
             "messages": list(messages)}
    if statuses is not None:
        value["statuses"] = statuses
    return {"id": "1", "changes": [{"field": "messages", "value": value}]}


def text_msg(wamid, frm, body="hi"):
    return {"from": frm, "id": wamid, "timestamp": "1749416383",
            "type": "text", "text": {"body": body}}


def payload(*entries, obj="whatsapp_business_account"):
    return {"object": obj, "entry": list(entries)}


def inbound(stack, tenant_id):
    return stack.sql_root("SELECT wamid FROM messages WHERE tenant_id = %d "
                          "AND direction = 'inbound' ORDER BY id"
                          % tenant_id, database="wazera")


def contacts(stack, tenant_id):
    return stack.sql_root("SELECT phone FROM contacts WHERE tenant_id = %d "
                          "ORDER BY id" % tenant_id, database="wazera")


def log_has(proc, text):
    with open(proc.log, errors="replace") as f:
        return text in f.read()


@pytest.mark.parametrize("frm", ["abc", "12", "+", "1" * 40])
def test_sender_that_is_no_phone_number_is_ignored(stack, hook, make_tenant,
                                                   frm):
    a = account(stack, make_tenant, "8811", "s-" + frm[:3])
    bad = "wamid.bad" + a.phone
    good = "wamid.good" + a.phone
    r = post(hook.port, payload(entry(a.phone, [text_msg(bad, frm),
                                                text_msg(good,
                                                         "4915100000111")])),
             a.secret)
    assert r.status == 200, r
    assert r.body["success"] is True
    # The good one is stored with its contact; the bad one left no trace.
    assert inbound(stack, a.tenant.id) == [[good]]
    assert contacts(stack, a.tenant.id) == [["+4915100000111"]]
    wait_for(lambda: log_has(hook.fcgi, "inbound %s from an unusable "
                             "number; ignored" % bad),
             what="the unusable number in the log")


def test_payload_for_another_object_is_acknowledged_and_ignored(
        stack, hook, make_tenant):
    a = account(stack, make_tenant, "8812", "s-object")
    body = payload(entry(a.phone, [text_msg("wamid.obj" + a.phone,
                                            "4915100000112")]),
                   obj="instagram")
    r = post(hook.port, body, a.secret)
    assert r.status == 200, r
    assert r.body == {"success": True,
                      "data": {"messages": 0, "statuses": 0}}
    assert inbound(stack, a.tenant.id) == []
    # Signed by nobody it names: refused all the same.
    assert_error(post(hook.port, body, "wrong"), 401,
                 "AUTHENTICATION_ERROR")


def test_accounts_sharing_one_app_secret(stack, hook, make_tenant):
    """Two tenants' accounts with the same app secret (one Meta app): one
    signature verifies both; each change goes to its own tenant."""
    shared = "shared-app-secret-" + stack.unique("x")
    a = account(stack, make_tenant, "8813", shared)
    b = account(stack, make_tenant, "8814", shared)
    c = account(stack, make_tenant, "8815", "c-own-secret")
    body = payload(entry(a.phone, [text_msg("wamid.sa" + a.phone,
                                            "4915100000113")]),
                   entry(b.phone, [text_msg("wamid.sb" + b.phone,
                                            "4915100000114")]),
                   entry(c.phone, [text_msg("wamid.sc" + c.phone,
                                            "4915100000115")]))
    r = post(hook.port, body, shared)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 2, "statuses": 0}
    assert inbound(stack, a.tenant.id) == [["wamid.sa" + a.phone]]
    assert inbound(stack, b.tenant.id) == [["wamid.sb" + b.phone]]
    assert inbound(stack, c.tenant.id) == []
    wait_for(lambda: log_has(hook.fcgi, "the payload is not signed with the "
                             "app secret of phone number %s" % c.phone),
             what="the unsigned account in the log")


def test_more_phone_number_ids_than_are_looked_up(stack, hook, make_tenant):
    """64 phone number ids are looked up; a payload naming more is
    verified by the default secret, and the changes of the ids beyond
    the 64th are not applied."""
    a = account(stack, make_tenant, "8816")      # no own secret: default
    fillers = [entry("77%08d" % i) for i in range(64)]
    body = payload(*(fillers + [entry(a.phone, [text_msg(
        "wamid.late" + a.phone, "4915100000116")])]))
    r = post(hook.port, body, DEFAULT_SECRET)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 0, "statuses": 0}
    assert inbound(stack, a.tenant.id) == []
    wait_for(lambda: log_has(hook.fcgi, "1 phone number id(s) beyond the "
                             "first 64 or longer than"),
             what="the dropped id in the log")
    # Named among the first 64, the same change is applied.
    body = payload(*([entry(a.phone, [text_msg("wamid.early" + a.phone,
                                               "4915100000116")])] +
                     fillers[:63]))
    r = post(hook.port, body, DEFAULT_SECRET)
    assert r.status == 200, r
    assert r.body["data"] == {"messages": 1, "statuses": 0}
    assert inbound(stack, a.tenant.id) == [["wamid.early" + a.phone]]


def test_master_key_that_cannot_be_loaded(stack, make_tenant):
    """Without its master key the server cannot open any account's own
    app secret: such accounts verify nothing (401, said in the log once
    per worker), while accounts signed for by the default secret still
    work."""
    missing = os.path.join(stack.work, "no-such-master.key")
    fcgi, nginx = server(stack, "nokeyhook-", master_key=missing)
    try:
        own = account(stack, make_tenant, "8817", "own-secret-8817")
        dflt = account(stack, make_tenant, "8818")
        body = payload(entry(own.phone, [text_msg("wamid.k" + own.phone,
                                                  "4915100000117")]))
        for _ in range(2):
            assert_error(post(nginx.port, body, own.secret), 401,
                         "AUTHENTICATION_ERROR")
        assert inbound(stack, own.tenant.id) == []
        with open(fcgi.log) as f:
            text = f.read()
        assert text.count("account app secrets cannot be used") == 1, text
        assert missing in text
        body = payload(entry(dflt.phone, [text_msg("wamid.k" + dflt.phone,
                                                   "4915100000118")]))
        r = post(nginx.port, body, DEFAULT_SECRET)
        assert r.status == 200 and r.body["data"]["messages"] == 1, r
        assert inbound(stack, dflt.tenant.id) == [["wamid.k" + dflt.phone]]
    finally:
        stack.stop_nginx(nginx)
        assert fcgi.stop() == 0
