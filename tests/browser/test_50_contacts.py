"""Contacts (SPEC 3 and 10, design D): create one from the form, find it
by search and by tag, edit it from its row."""
import uuid

from conftest import Keys


def contact_by_phone(world, phone):
    r = world.key("GET", "/contacts?search=%s" % phone.lstrip("+"))
    assert r.status == 200, r
    found = [c for c in r.body["data"] if c["phone"] == phone]
    return found[0] if found else None


def listed(b):
    return sorted(int(tr.get_attribute("data-id")) for tr in
                  b.find("table#contact-list tbody tr[data-id]"))


def test_create_search_filter_edit(admin_in, world):
    b = admin_in
    tag = "baker" + uuid.uuid4().hex[:4]
    other = world.key.create_contact(name="Linus Other",
                                     phone="+4915150001234", tags=["vip"])
    b.open("contacts.html")
    b.one("form#contact-form")
    b.fill("input#contact-name", "Grace Hopper")
    b.fill("input#contact-phone", "+1 (415) 555-0142")
    b.fill("input#contact-email", "grace@navy.example")
    b.fill("input#contact-tags", "vip, " + tag)
    b.click("button#contact-save")
    b.wait(lambda d: contact_by_phone(world, "+14155550142"), 30,
           "the contact stored")
    grace = contact_by_phone(world, "+14155550142")
    assert grace["name"] == "Grace Hopper", grace
    assert grace["email"] == "grace@navy.example", grace
    assert sorted(grace["tags"]) == sorted(["vip", tag]), grace
    row = "table#contact-list tbody tr[data-id='%d']" % grace["id"]
    b.wait(lambda d: "Grace Hopper" in b.text(row), 30, "Grace's row")
    assert other["id"] in listed(b) or b.find("nav.pager"), listed(b)

    # Search: a substring of the name, case-insensitive.
    b.fill("input#contact-search", "grace" + Keys.ENTER)
    b.wait(lambda d: listed(b) == [grace["id"]], 30,
           "only Grace listed for 'grace'")
    b.fill("input#contact-search", Keys.ENTER)
    b.wait(lambda d: other["id"] in listed(b), 30, "everyone listed again")
    # Tag filter.
    b.fill("input#contact-tag", tag + Keys.ENTER)
    b.wait(lambda d: listed(b) == [grace["id"]], 30,
           "only Grace listed for tag %s" % tag)
    b.fill("input#contact-tag", Keys.ENTER)
    b.wait(lambda d: other["id"] in listed(b), 30, "everyone listed again")

    # Edit: the row's button loads the contact into the form.
    b.click(row + " button[data-action=edit]")
    b.wait(lambda d: b.one("input#contact-name").get_attribute("value") ==
           "Grace Hopper", 30, "the form holding Grace")
    assert b.one("input#contact-phone").get_attribute("value") == \
        "+14155550142"
    b.fill("input#contact-name", "Grace B. Hopper")
    b.click("button#contact-save")
    b.wait(lambda d: contact_by_phone(world, "+14155550142")["name"] ==
           "Grace B. Hopper", 30, "the edit stored")
    b.wait(lambda d: "Grace B. Hopper" in b.text(row), 30,
           "the row showing the new name")
    assert len([c for c in world.key("GET", "/contacts?per_page=100")
                .body["data"] if c["phone"] == "+14155550142"]) == 1
    b.shot("contacts")


def test_validation_error_next_to_its_field(admin_in, world):
    """A 422 shows the API's message for the field, in words."""
    b = admin_in
    r = world.key("POST", "/contacts", {"phone": "12"})
    assert r.status == 422, r
    want = r.body["error"]["details"]["phone"][0]
    b.open("contacts.html")
    b.fill("input#contact-name", "Nobody")
    b.fill("input#contact-phone", "12")
    b.click("button#contact-save")
    b.wait(lambda d: any(want in e.text for e in d.find_elements(
        "xpath", "//*[contains(normalize-space(.), %s)]" % xpath_str(want))
        if e.is_displayed() and e.tag_name not in ("html", "body", "main")),
        30, "the phone's message %r shown" % want)
    assert "VALIDATION_ERROR" not in b.driver.find_element(
        "tag name", "body").text
    # Next to its input: the message's element follows the phone input in
    # the form, or the input names it (aria-describedby).
    inp = b.one("input#contact-phone")
    described = inp.get_attribute("aria-describedby") or ""
    near = b.driver.execute_script(
        "const i = arguments[0], want = arguments[1];"
        "const f = i.closest('form, fieldset, div, p, label') || i;"
        "const box = i.parentElement;"
        "return [box.textContent.includes(want) ||"
        " (i.nextElementSibling && i.nextElementSibling.textContent"
        "  .includes(want)) ||"
        " f.textContent.includes(want), i.getAttribute('aria-invalid')];",
        inp, want)
    assert near[0] or described, (want, near, described)
    assert not world.key("GET", "/contacts?search=Nobody").body["data"]


def xpath_str(s):
    if "'" not in s:
        return "'%s'" % s
    return "concat('%s')" % "', \"'\", '".join(s.split("'"))


def test_pager(admin_in, world):
    """More contacts than a page holds: Next shows the second page."""
    b = admin_in
    total = world.key("GET", "/contacts").body["meta"]["total"]
    for i in range(max(0, 30 - total)):
        world.key.create_contact(name="Pager %02d" % i,
                                 phone="+4930900%05d" % i)
    meta = world.key("GET", "/contacts").body["meta"]
    assert meta["last_page"] >= 2, meta
    b.open("contacts.html")
    info = "nav.pager span.page-info"
    b.wait(lambda d: b.text(info).strip() == "Page 1 of %d" %
           meta["last_page"], 30, "Page 1 of N")
    first = listed(b)
    assert len(first) == meta["per_page"], first
    b.one("nav.pager button[data-page=prev]")
    assert not b.one("nav.pager button[data-page=prev]").is_enabled()
    b.click("nav.pager button[data-page=next]")
    b.wait(lambda d: b.text(info).strip() == "Page 2 of %d" %
           meta["last_page"], 30, "Page 2 of N")
    b.wait(lambda d: listed(b) and not set(listed(b)) & set(first), 30,
           "the second page's rows")
    b.click("nav.pager button[data-page=prev]")
    b.wait(lambda d: listed(b) == first, 30, "the first page again")
