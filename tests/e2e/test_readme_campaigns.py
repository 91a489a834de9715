"""README's "Send a campaign" walkthrough, run as printed (its sh block,
with the environment .local/env would give) against a stack like the one
deploy/local/up starts: the API behind nginx, a sandbox Graph API with
--auto-status read posting signed statuses back to the API, and a spooler
--loop. Its curl lines must work: contacts, a segment counting them, a
campaign that is sent to each once with the placeholder filled, its stats
and recipients moving to "read"."""
import json
import os
import re
import subprocess
import uuid

import pytest

from conftest import REPO, http_request, wait_for

BLOCK_MARK = "/api/v1/campaigns"


def readme_block():
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    start = text.find("### Send a campaign\n")
    assert start >= 0, "no 'Send a campaign' section in README.md"
    for b in re.finditer(r"```sh\n(.*?)```", text[start:], re.S):
        if BLOCK_MARK in b.group(1):
            return b.group(1)
    raise AssertionError("no sh block with %r after 'Send a campaign'" %
                         BLOCK_MARK)


def json_docs(out):
    """The JSON documents the script printed, in order (curl prints no
    newline after a body; echo does)."""
    dec = json.JSONDecoder()
    docs, i = [], 0
    while True:
        while i < len(out) and out[i].isspace():
            i += 1
        if i >= len(out):
            return docs
        doc, i = dec.raw_decode(out, i)
        docs.append(doc)


@pytest.fixture
def local_like(stack):
    """A tenant, its key and a WhatsApp account whose sandbox posts
    statuses (up to read) to the stack's webhook route, and a spooler
    --loop: what deploy/local/up gives, with .local/env's variables."""
    token = "tok-" + uuid.uuid4().hex
    secret = "as-" + token
    sb = stack.start_sandbox(
        "--token", token, "--app-secret", secret, "--auto-status", "read",
        "--webhook-url",
        "http://127.0.0.1:%d/api/v1/whatsapp/webhook" % stack.port)
    tenant = stack.create_tenant()
    key = tenant.key()
    phone_id = stack.unique("1065404")
    account = stack.admin_json(
        "account", "create", "--tenant", tenant.id, "--phone-number-id",
        phone_id, "--waba-id", "102290129340398", "--display-phone",
        "+1 555 078 3881", "--access-token", token, "--app-secret", secret)
    conf = stack.write_spooler_config(stack.unique("readme-camp-") + ".conf",
                                      sb.base)
    spooler = stack.start_spooler(conf, mode="loop")
    env = dict(os.environ,
               WAZERA_BASE_URL="http://127.0.0.1:%d" % stack.port,
               WAZERA_API_KEY=key.key,
               WAZERA_ACCOUNT_ID=str(account["id"]),
               WAZERA_PHONE_NUMBER_ID=phone_id,
               WAZERA_SANDBOX_URL="http://127.0.0.1:%d" % sb.port)
    try:
        yield env, key, sb, account
    finally:
        spooler.stop()
        sb.proc.stop()


def run_script(lines, env):
    r = subprocess.run(["bash", "-c", "set -e\n" + "\n".join(lines)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json_docs(r.stdout)


def test_readme_campaign_walkthrough(local_like):
    env, key, sb, account = local_like
    block = readme_block().splitlines()
    assert block[0] == ". .local/env", block[0]
    # The test waits for conditions itself instead of the walkthrough's
    # "sleep 2" (the campaign completing and its statuses arriving).
    script = [ln.replace("sleep 2; ", "") for ln in block[1:]]
    docs = run_script(script, env)
    assert len(docs) == 8, docs
    # (The last is the sandbox's record list, not an API answer.)
    assert all(d.get("success") is True for d in docs[:7]), \
        [(i, d) for i, d in enumerate(docs[:7]) if d.get("success") is not True]
    contacts = [d["data"] for d in docs[:3]]
    assert [c["phone"] for c in contacts] == [
        "+14155550201", "+14155550202", "+14155550203"], contacts
    seg = docs[3]["data"]
    assert seg["name"] == "VIPs" and seg["contact_count"] == 3, seg
    assert seg["filter"] == {"tags": ["vip"], "match": "any"}, seg
    camp = docs[4]["data"]
    assert camp["status"] == "scheduled" and camp["segment_id"] == seg["id"], \
        camp
    assert camp["whatsapp_account_id"] == account["id"], camp
    assert docs[5]["data"]["id"] == camp["id"], docs[5]

    def read_all():
        r = key("GET", "/campaigns/%d" % camp["id"])
        assert r.status == 200, r
        d = r.body["data"]
        return d["status"] == "completed" and d["stats"]["read"] == 3
    wait_for(read_all, timeout=60, what="the campaign completed and read")

    # Steps 4 and 5 again, now that it is done: what they show.
    i = next(n for n, ln in enumerate(script) if ln.startswith("# 4."))
    docs = run_script(["auth=\"Authorization: Bearer $WAZERA_API_KEY\"",
                       "camp_id=%d" % camp["id"]] + script[i:], env)
    assert len(docs) == 3, docs
    c = docs[0]["data"]
    assert c["status"] == "completed" and c["finished_at"], c
    assert c["stats"] == {"total": 3, "queued": 0, "sent": 0,
                          "delivered": 0, "read": 3, "failed": 0}, c
    recips = docs[1]["data"]
    assert [(r["contact_id"], r["phone"], r["status"]) for r in recips] == [
        (x["id"], x["phone"], "read") for x in contacts], recips
    assert all(r["message_id"] and r["error"] is None for r in recips), \
        recips
    assert docs[1]["meta"]["total"] == 3, docs[1]
    sent = [x for x in docs[2]["requests"] if x["method"] == "POST"]
    assert len(sent) == 1, docs[2]
    tpl = sent[0]["body"]["template"]
    assert tpl["name"] == "spring_sale" and tpl["language"] == {"code": "en"}, \
        tpl
    assert [p["text"] for p in tpl["components"][0]["parameters"]] == [
        "there", "20%"], tpl
    # Every contact once, and Linus by his name.
    linus = sb.requests(to="+14155550201")
    assert len([x for x in linus if x["method"] == "POST"]) == 1, linus
    assert linus[0]["body"]["template"]["components"][0]["parameters"][0][
        "text"] == "Linus", linus
    assert http_request(sb.port, "GET", "/_sandbox/stats",
                        wazera=False).body["phone_numbers"][account["phone_number_id"]]["message_requests"] == 3
