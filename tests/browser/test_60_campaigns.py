"""Segments and campaigns (SPEC 7 and 10, design D): the admin makes a
segment of three tagged contacts and a campaign to it; the session's
spooler sends it to the sandbox Graph API and the campaign list's cells
follow without a reload (the page polls): every recipient sent, then --
as the sandbox reports "delivered" for each -- every one delivered."""
import uuid

import pytest

from conftest import Select, e2e, wait_for

PHONES = ["+4917620001%03d" % i for i in range(3)]
STATE = {}


def digits(phone):
    return "".join(c for c in phone if c.isdigit())


def cell(b, row, name):
    els = b.find("%s td.%s, %s .%s" % (row, name, row, name))
    return els[0].text.strip() if els else None


def test_segment_and_campaign_stats_move(admin_in, world):
    b = admin_in
    sb = world.sandbox
    sb.config(auto_status="none")
    tag = "spring" + uuid.uuid4().hex[:6]
    for i, phone in enumerate(PHONES):
        world.key.create_contact(name="Spring Customer %d" % i,
                                 phone=phone, tags=[tag])
    b.open("campaigns.html")

    seg_name = "Spring VIPs " + tag[-6:]
    b.fill("input#segment-name", seg_name)
    b.fill("input#segment-tags", tag)
    Select(b.one("select#segment-match")).select_by_value("any")
    b.click("button#segment-create")
    seg = b.wait(lambda d: [s for s in world.key("GET", "/segments?per_page"
                                                 "=100").body["data"]
                            if s["name"] == seg_name], 30,
                 "the segment stored")[0]
    assert seg["filter"] == {"tags": [tag], "match": "any"}, seg
    assert seg["contact_count"] == 3, seg
    b.one("table#segment-list tbody tr[data-id='%d']" % seg["id"])

    camp_name = "Spring sale " + tag[-6:]
    b.fill("input#campaign-name", camp_name)
    b.wait(lambda d: b.find("select#campaign-segment option[value='%d']"
                            % seg["id"]), 30, "the segment offered")
    Select(b.one("select#campaign-segment")).select_by_value(str(seg["id"]))
    b.wait(lambda d: b.find("select#campaign-account option[value='%d']"
                            % world.account["id"]), 30, "the account offered")
    Select(b.one("select#campaign-account")).select_by_value(
        str(world.account["id"]))
    b.fill("input#campaign-template", "hello_world")
    assert b.one("input#campaign-language").get_attribute("value") == "en"
    b.driver.execute_script("window.__wzNoReload = 'campaigns';")
    b.click("button#campaign-create")
    camp = b.wait(lambda d: [c for c in world.key("GET", "/campaigns?per_page"
                                                  "=100").body["data"]
                             if c["name"] == camp_name], 30,
                  "the campaign stored")[0]
    assert camp["segment_id"] == seg["id"], camp
    assert camp["template_name"] == "hello_world", camp
    row = "table#campaign-list tbody tr[data-id='%d']" % camp["id"]
    b.one(row)

    b.wait(lambda d: cell(b, row, "stat-total") == "3" and
           cell(b, row, "stat-sent") == "3", 90,
           "the row's stats: 3 of 3 sent")
    b.wait(lambda d: "completed" in (cell(b, row, "status") or "").lower(),
           30, "the row's status completed")
    assert cell(b, row, "stat-queued") == "0"
    assert cell(b, row, "stat-failed") == "0"
    assert b.driver.execute_script("return window.__wzNoReload") == \
        "campaigns", "the page was reloaded"
    # The sandbox got the template once for each.
    sent = [r for r in sb.requests(phone_number_id=world.phone_id)
            if r["method"] == "POST" and digits(r["body"]["to"]) in
            map(digits, PHONES)]
    assert sorted(digits(r["body"]["to"]) for r in sent) == \
        sorted(map(digits, PHONES)), sent
    assert all(r["body"]["template"]["name"] == "hello_world" for r in sent)
    STATE["camp"], STATE["row"] = camp, row
    STATE["wamids"] = [r["wamid"] for r in sent]

    # Its recipients.
    b.click(row + " button[data-action=recipients]")
    b.wait(lambda d: len(b.find("table#recipient-list tbody tr")) == 3, 30,
           "three recipients listed")
    b.shot("campaigns")


def test_delivered_statuses_show_without_reload(admin_in, world):
    if "camp" not in STATE:
        pytest.fail("needs test_segment_and_campaign_stats_move's campaign")
    b = admin_in
    row = STATE["row"]
    assert b.driver.execute_script("return window.__wzNoReload") == \
        "campaigns", "the page was reloaded"
    r = world.sandbox.ctl("POST", "webhook", {"statuses": [
        {"id": w, "status": "delivered"} for w in STATE["wamids"]]})
    assert r["status"] == 200, r
    cid = STATE["camp"]["id"]
    wait_for(lambda: world.key("GET", "/campaigns/%d" % cid)
             .body["data"]["stats"]["delivered"] == 3, timeout=30,
             what="the API's stats: 3 delivered")
    b.wait(lambda d: cell(b, row, "stat-delivered") == "3" and
           cell(b, row, "stat-sent") == "0", 30,
           "the row's stats: 3 delivered, without a reload (the campaign "
           "completed when all were sent; its deliveries come after)")
    assert b.driver.execute_script("return window.__wzNoReload") == \
        "campaigns", "the page was reloaded"
    b.shot("campaigns-delivered")


def test_cancel_a_scheduled_campaign(admin_in, world):
    """With no spooler running the campaign stays scheduled; cancelled
    from its row, no spooler sends it afterwards."""
    b = admin_in
    stack = world.stack
    rc = world.spooler.stop()
    assert rc == 0, e2e.read_log(world.spooler.log)
    try:
        tag = "cancel" + uuid.uuid4().hex[:6]
        phones = ["+4917620002%03d" % i for i in range(2)]
        for phone in phones:
            world.key.create_contact(phone=phone, tags=[tag])
        seg = world.key("POST", "/segments", {
            "name": "To cancel " + tag,
            "filter": {"tags": [tag], "match": "any"}}).body["data"]
        r = world.key("POST", "/campaigns", {
            "name": "Cancel me " + tag, "segment_id": seg["id"],
            "whatsapp_account_id": world.account["id"],
            "template_name": "hello_world"})
        assert r.status == 201, r
        cid = r.body["data"]["id"]
        b.open("campaigns.html")
        row = "table#campaign-list tbody tr[data-id='%d']" % cid
        b.wait(lambda d: "scheduled" in (cell(b, row, "status") or ""),
               30, "the campaign listed as scheduled")
        b.click(row + " button[data-action=cancel]")
        b.wait(lambda d: world.key("GET", "/campaigns/%d" % cid).body[
            "data"]["status"] == "cancelled", 30, "the campaign cancelled")
        b.wait(lambda d: "cancelled" in (cell(b, row, "status") or ""),
               30, "the row saying cancelled")
        assert not b.find(row + " button[data-action=cancel]")
    finally:
        world.spooler = stack.start_spooler(world.spooler_conf, mode="loop")
    # Everything due done (a drain exits when nothing is): nothing sent.
    stack.run_spooler(world.spooler_conf, "drain")
    sent = [x for x in world.sandbox.requests(phone_number_id=world.phone_id)
            if x["method"] == "POST" and
            digits(x["body"].get("to", "")) in map(digits, phones)]
    assert not sent, sent
    assert world.key("GET", "/campaigns/%d" % cid).body["data"][
        "status"] == "cancelled"
