"""wazera-admin: migrations are idempotent and record what they applied;
a migration file edited after it was applied is reported, not skipped in
silence."""
import os
import shutil

from conftest import DB_USER, REPO


def test_migrate_twice_and_detect_edits(stack):
    db = stack.unique("migr")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL PRIVILEGES ON %s.* TO "
                   "'%s'@'localhost'" % (db, db, DB_USER))
    sqldir = os.path.join(stack.work, db + "-sql")
    shutil.copytree(os.path.join(REPO, "sql"), sqldir)
    conf = stack.write_config(db + ".conf", db_name=db)
    with open(conf) as f:
        text = f.read().replace(os.path.join(REPO, "sql"), sqldir)
    with open(conf, "w") as f:
        f.write(text)

    p = stack.admin("migrate", config=conf)
    n = len([x for x in os.listdir(sqldir) if x.endswith(".sql")])
    assert "%d migration(s) applied" % n in p.stderr
    rows = stack.sql_root("SELECT version, LENGTH(checksum) FROM "
                          "schema_migrations ORDER BY version", database=db)
    assert len(rows) == n and all(r[1] == "64" for r in rows)

    p = stack.admin("migrate", config=conf)
    assert "0 migration(s) applied, schema up to date" in p.stderr

    first = sorted(x for x in os.listdir(sqldir) if x.endswith(".sql"))[0]
    with open(os.path.join(sqldir, first), "a") as f:
        f.write("\n-- edited after it was applied\n")
    p = stack.admin("migrate", config=conf, check=False)
    assert p.returncode != 0
    assert "%s changed after it was applied" % first in p.stderr


def test_migrate_009_keeps_each_numbers_open_window(stack):
    """An upgrade to the window per WhatsApp number: the windows open at
    the time are carried over per number from the customers' inbound
    messages, so no window open at Meta closes; a window the customer
    opened with one number only is not carried to the other."""
    db = stack.unique("migr")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL PRIVILEGES ON %s.* TO "
                   "'%s'@'localhost'" % (db, db, DB_USER))
    sqldir = os.path.join(stack.work, db + "-sql")
    os.makedirs(sqldir)
    files = sorted(x for x in os.listdir(os.path.join(REPO, "sql"))
                   if x.endswith(".sql"))
    for x in files:
        if x < "009":
            shutil.copy(os.path.join(REPO, "sql", x), sqldir)
    conf = stack.write_config(db + ".conf", db_name=db)
    with open(conf) as f:
        text = f.read().replace(os.path.join(REPO, "sql"), sqldir)
    with open(conf, "w") as f:
        f.write(text)
    stack.admin("migrate", config=conf)

    # Before: one tenant, two numbers; inbound messages stored by the
    # procedure of the old schema (which kept one window per contact).
    tenant = stack.admin_json("tenant", "create", "--name", db, "--plan",
                              "starter", config=conf)["id"]
    acc = [stack.admin_json(
        "account", "create", "--tenant", tenant, "--phone-number-id",
        stack.unique("9009"), "--waba-id", "1", "--display-phone",
        "+15550000009", "--access-token", "t", config=conf)["id"]
        for _ in range(2)]

    def inbound(account, phone, ago):
        stack.sql_root(
            "CALL wz_inbound_message(%d, %d, '%s', 'C', 'wamid.%s', 'text', "
            "'{\"body\":\"hi\"}', UTC_TIMESTAMP() - INTERVAL %s, '[]', 0, "
            "UUID(), UUID(), UUID(), UUID(), UTC_TIMESTAMP(), '{}', '{}', "
            "'{}')" % (tenant, account, phone, stack.unique("m9"), ago),
            database=db)

    inbound(acc[0], "+4915100090001", "30 HOUR")   # A: closed on 1 ...
    inbound(acc[0], "+4915100090001", "2 HOUR")    # ... reopened on 1,
    inbound(acc[1], "+4915100090001", "30 HOUR")   # closed on 2
    inbound(acc[1], "+4915100090002", "1 HOUR")    # B: open on 2 only
    inbound(acc[0], "+4915100090003", "3 HOUR")    # C: wrote, then deleted
    stack.sql_root("DELETE FROM contacts WHERE phone = '+4915100090003'",
                   database=db)

    for x in files:
        if x >= "009":
            shutil.copy(os.path.join(REPO, "sql", x), sqldir)
    stack.admin("migrate", config=conf)

    rows = stack.sql_root(
        "SELECT c.phone, w.whatsapp_account_id, "
        "w.last_inbound_at > UTC_TIMESTAMP() - INTERVAL 24 HOUR "
        "FROM contact_windows w JOIN contacts c ON c.id = w.contact_id "
        "ORDER BY c.phone, w.whatsapp_account_id", database=db)
    assert rows == [["+4915100090001", str(acc[0]), "1"],
                    ["+4915100090002", str(acc[1]), "1"]], rows
    assert stack.sql_root(
        "SELECT COUNT(*) FROM information_schema.columns WHERE "
        "table_schema = '%s' AND table_name = 'contacts' AND "
        "column_name = 'last_inbound_at'" % db) == [["0"]]

    # After: the new procedure opens the window with the number written to.
    inbound(acc[1], "+4915100090001", "1 MINUTE")
    rows = stack.sql_root(
        "SELECT w.whatsapp_account_id FROM contact_windows w JOIN contacts c "
        "ON c.id = w.contact_id WHERE c.phone = '+4915100090001' AND "
        "w.last_inbound_at > UTC_TIMESTAMP() - INTERVAL 24 HOUR "
        "ORDER BY 1", database=db)
    assert rows == [[str(acc[0])], [str(acc[1])]], rows
