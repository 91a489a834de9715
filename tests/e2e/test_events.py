"""Events: one list of types (lib/event.c), one emitter (wz_event_emit in
sql/routines/events.sql), and the README's list equal to both.

One type is an exception to "emitted through wz_event_emit":
webhook.test, the test ping of POST /webhooks/{id}/test, is recorded with
wz_event_record (no fan-out: one delivery, for the webhook tested). And
one writer besides the emitter: a campaign's queueing batch
(sql/routines/campaign_expand.sql) writes the conversation.created events
of the conversations it opened set-based, with their fan-out, as
wz_event_emit would one by one (the issue 12 design), with wz_event_uuid's
ids."""
import glob
import os
import re

from conftest import assert_ok, events

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                     r"-[0-9a-f]{12}$")
EVENT_NAME = re.compile(r"'([a-z]+\.[a-z]+)'")
# Types of the table no routine or C emits yet (see above).
NOT_EMITTED_YET = set()
# Routine files that write events set-based besides wz_event_emit (see
# above), with the types they write so.
SET_BASED = {"campaign_expand.sql": {"conversation.created"}}
# Types recorded without fan-out (wz_event_record), not subscribable.
RECORDED_ONLY = {"webhook.test"}


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def c_table():
    """lib/event.c's table: {EV_X: "x.y"}, in its order."""
    src = read("lib/event.c")
    table = re.search(r"event_names\[EV__MAX\] = \{(.*?)\};", src, re.S)
    assert table, "no event_names table in lib/event.c"
    pairs = re.findall(r"\[(EV_[A-Z_]+)\]\s*=\s*\"([^\"]+)\"", table.group(1))
    enum = re.search(r"enum event_type \{(.*?)\};", read("lib/event.h"), re.S)
    members = re.findall(r"\b(EV_[A-Z_]+)\b", enum.group(1))
    assert members[-1] == "EV__MAX"
    # Every member of the enum has its name, in the enum's order.
    assert [k for k, _ in pairs] == members[:-1]
    return dict(pairs)


def sql_emitted():
    """The type literals of every CALL wz_event_emit(...) in
    sql/routines, and the files that write events some other way."""
    names, other = set(), []
    for path in sorted(glob.glob(os.path.join(REPO, "sql/routines/*.sql"))):
        src = re.sub(r"--[^\n]*", "", open(path, encoding="utf-8").read())
        for call in re.finditer(r"CALL\s+wz_event_emit\s*\((.*?)\);", src,
                                re.S | re.I):
            found = EVENT_NAME.findall(call.group(1))
            assert found, "%s: an event type that is not a literal: %s" % (
                path, call.group(1))
            names.update(found)
        if re.search(r"INSERT\s+(IGNORE\s+)?INTO\s+events\b", src, re.I) and \
                not path.endswith("/events.sql"):
            base = os.path.basename(path)
            if base not in SET_BASED:
                other.append(path)
                continue
            # Its event inserts name only the types it may write so,
            # with the uuid rule's function.
            for ins in re.finditer(r"INSERT\s+INTO\s+events\b(.*?);", src,
                                   re.S | re.I):
                found = set(EVENT_NAME.findall(ins.group(1)))
                assert found and found <= SET_BASED[base], (path, found)
                assert "wz_event_uuid(" in ins.group(1), path
                names.update(found)
    return names, other


def sql_recorded():
    """The type literals of every CALL wz_event_record(...) outside
    events.sql (where wz_event_emit calls it with its own p_type)."""
    names = set()
    for path in sorted(glob.glob(os.path.join(REPO, "sql/routines/*.sql"))):
        if path.endswith("/events.sql"):
            continue
        src = re.sub(r"--[^\n]*", "", open(path, encoding="utf-8").read())
        for call in re.finditer(r"CALL\s+wz_event_record\s*\((.*?)\);",
                                src, re.S | re.I):
            found = EVENT_NAME.findall(call.group(1))
            assert found, "%s: an event type that is not a literal: %s" % (
                path, call.group(1))
            names.update(found)
    return names


def c_emitted(table):
    """The types C emits itself: event_emit(..., EV_X, ...) in app/."""
    names = set()
    for path in glob.glob(os.path.join(REPO, "app/**/*.c"), recursive=True):
        src = open(path, encoding="utf-8").read()
        assert not re.search(r"INSERT\s+INTO\s+events", src, re.I), path
        for ev in re.findall(r"event_emit\([^;]*?\b(EV_[A-Z_]+)\b", src,
                             re.S):
            names.add(table[ev])
    return names


def test_every_event_type_is_in_the_table_and_emitted():
    table = c_table()
    names = list(table.values())
    assert len(set(names)) == len(names), names
    sql, other = sql_emitted()
    assert other == [], "events written outside wz_event_emit: %s" % other
    # Every type the routines emit is in the table ...
    assert sql - set(names) == set(), sql
    # ... and every type of the table is emitted, by a routine or by C,
    # but for the exceptions: one without an emitter yet, and the test
    # ping, recorded without fan-out (and only so).
    recorded = sql_recorded()
    assert recorded == RECORDED_ONLY, recorded
    assert not (sql | c_emitted(table)) & (RECORDED_ONLY | NOT_EMITTED_YET)
    assert sql | c_emitted(table) | recorded | NOT_EMITTED_YET == set(names)


def test_subscribable_types_are_spec_6s():
    """The names a webhook may subscribe to (SPEC 6): every type but the
    test ping's."""
    assert set(c_table().values()) - RECORDED_ONLY == {
        "message.received", "message.sent", "message.delivered",
        "message.read", "message.failed", "conversation.created",
        "conversation.closed", "contact.created", "contact.updated",
        "campaign.completed"}
    src = read("lib/event.c")
    assert re.search(r"event_subscribable\(enum event_type t\)\s*\{\s*"
                     r"return t < EV__MAX && t != EV_WEBHOOK_TEST;", src), \
        "lib/event.c: event_subscribable is not 'every type but the ping'"
    # C's statements write no event but through the routine.
    assert not re.search(r"INSERT\s+INTO\s+events", read("lib/sql.c"), re.I)


def test_readme_lists_the_event_types():
    m = re.search(r"^- \*\*Events\*\*:(.*?)(?=^- |^#|\Z)", read("README.md"),
                  re.S | re.M)
    assert m, "README.md: no Events bullet"
    listed = re.findall(r"`([a-z]+\.[a-z]+)`", m.group(1))
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(c_table().values())


def test_events_carry_v4_uuids_and_the_api_shape(stack, key):
    names = set(c_table().values())
    c = assert_ok(key("POST", "/contacts", {"phone": "+4915155501234",
                                            "name": "Ev"}), 201)
    u = assert_ok(key("PATCH", "/contacts/%d" % c["id"], {"name": "Eve",
                                                         "tags": ["a"]}))
    ev = events(stack, key.tenant.id)
    assert ev == [("contact.created", c), ("contact.updated", u)]
    assert {t for t, _ in ev} <= names
    rows = stack.sql_root("SELECT uuid, created_at IS NOT NULL FROM events "
                          "WHERE tenant_id = %d ORDER BY id" % key.tenant.id,
                          database="wazera")
    assert len(rows) == 2 and len({r[0] for r in rows}) == 2, rows
    for uuid, has_time in rows:
        assert UUID_V4.match(uuid), uuid
        assert has_time == "1"
