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
