"""Helpers for the campaign tests (issue 12): audiences seeded with SQL,
segments and campaigns as rows (as the API's routes write them), a
campaign's row and stats, spooler configs, a webhook receiver, and the
cleanup that keeps a test's campaigns from reaching later tests' spoolers
(the session's database is shared)."""
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import sql
from openapi_events import EventChecks

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   r"[0-9a-f]{12}$")


def seed_contacts(stack, tenant_id, n, tags=("vip",), prefix=None,
                  opted_out=False):
    """n contacts of the tenant with the tags (contact_tags rows as the
    contact routines write them) and phones +49<prefix><seq>. Returns
    their ids, ascending, and their phones as a dict id -> phone."""
    prefix = prefix or "%04d" % (int(tenant_id) % 10000)
    (start,), = sql(stack, "SELECT COALESCE(MAX(id), 0) FROM contacts")
    sql(stack, "INSERT INTO contacts (tenant_id, name, phone, email, tags, "
        "custom_fields, opted_out, created_at, updated_at) "
        "SELECT %d, CONCAT('Contact ', seq), CONCAT('+49%s', "
        "LPAD(seq, 7, '0')), NULL, '%s', '{}', %d, UTC_TIMESTAMP(), "
        "UTC_TIMESTAMP() FROM seq_1_to_%d" %
        (int(tenant_id), prefix, json.dumps(list(tags)), int(opted_out), n))
    rows = sql(stack, "SELECT id, phone FROM contacts WHERE tenant_id = %d "
               "AND id > %s AND phone LIKE '+49%s%%' ORDER BY id" %
               (int(tenant_id), start, prefix))
    ids = [int(i) for i, _ in rows]
    for tag in tags:
        sql(stack, "INSERT INTO contact_tags (tenant_id, tag, contact_id, "
            "opted_out) SELECT %d, '%s', id, opted_out FROM contacts WHERE "
            "tenant_id = %d AND id > %s AND phone LIKE '+49%s%%'" %
            (int(tenant_id), tag, int(tenant_id), start, prefix))
    sql(stack, "INSERT INTO tenant_counters (tenant_id, contacts) VALUES "
        "(%d, %d) ON DUPLICATE KEY UPDATE contacts = contacts + %d" %
        (int(tenant_id), len(ids), len(ids)))
    return ids, {int(i): p for i, p in rows}


def make_segment(stack, tenant_id, tags, match_all=False):
    sql(stack, "INSERT INTO segments (tenant_id, name, tags, match_all, "
        "created_at, updated_at) VALUES (%d, 'segment', '%s', %d, "
        "UTC_TIMESTAMP(), UTC_TIMESTAMP())" %
        (int(tenant_id), json.dumps(list(tags)), int(match_all)))
    (sid,), = sql(stack, "SELECT MAX(id) FROM segments WHERE tenant_id = %d"
                  % int(tenant_id))
    return int(sid)


def make_campaign(stack, key, segment_id, in_seconds=0, name="spring",
                  template="hello_world", language="en_US",
                  components=None):
    """A scheduled campaign of key's tenant on key's account, as POST
    /campaigns stores one, due in_seconds from now (the database's
    clock). Returns its id."""
    comps = json.dumps(components if components is not None else [],
                       separators=(",", ":"))
    sql(stack, "INSERT INTO campaigns (tenant_id, name, whatsapp_account_id, "
        "segment_id, template_name, template_language, template_components, "
        "status, scheduled_at, created_at, updated_at) VALUES (%d, '%s', %d, "
        "%d, '%s', '%s', '%s', 'scheduled', NOW(3) + INTERVAL %d SECOND, "
        "UTC_TIMESTAMP(), UTC_TIMESTAMP())" %
        (int(key.tenant.id), name, int(key.account["id"]), segment_id,
         template, language, comps.replace("'", "''"), in_seconds))
    (cid,), = sql(stack, "SELECT MAX(id) FROM campaigns WHERE tenant_id = %d"
                  % int(key.tenant.id))
    return int(cid)


def campaign(stack, cid):
    (row,) = sql(stack, "SELECT status, phase, snapshot_cursor, queue_cursor, "
                 "IFNULL(lease_holder, ''), IFNULL(started_at, ''), "
                 "IFNULL(finished_at, '') FROM campaigns WHERE id = %d" % cid)
    keys = ("status", "phase", "snapshot_cursor", "queue_cursor", "holder",
            "started_at", "finished_at")
    out = dict(zip(keys, row))
    out["snapshot_cursor"] = int(out["snapshot_cursor"])
    out["queue_cursor"] = int(out["queue_cursor"])
    return out


def stats(stack, cid):
    """The campaign's stats as the API reads them: sums over the counter
    shards, in one statement."""
    (row,) = sql(stack, "SELECT COALESCE(SUM(total), 0), "
                 "COALESCE(SUM(queued), 0), COALESCE(SUM(sent), 0), "
                 "COALESCE(SUM(delivered), 0), COALESCE(SUM(`read`), 0), "
                 "COALESCE(SUM(failed), 0) FROM campaign_counters WHERE "
                 "campaign_id = %d" % cid)
    return dict(zip(("total", "queued", "sent", "delivered", "read",
                     "failed"), (int(v) for v in row)))


def balanced(st):
    return st["total"] == (st["queued"] + st["sent"] + st["delivered"] +
                           st["read"] + st["failed"])


def pause_account(stack, account_id, paused=True):
    sql(stack, "UPDATE whatsapp_accounts SET paused_until = %s WHERE id = %d"
        % ("NOW(3) + INTERVAL 1 HOUR" if paused else "NULL", account_id))


def expire_lease(stack, cid):
    """What 15 s without renewal does to a dead spooler's lease."""
    sql(stack, "UPDATE campaigns SET lease_until = NOW(3) - INTERVAL 1 SECOND "
        "WHERE id = %d" % cid)


def cancel(stack, cid):
    """POST /campaigns/{id}/cancel's write (the issue 12 design)."""
    sql(stack, "UPDATE campaigns SET status = 'cancelled', finished_at = "
        "NOW(3), updated_at = UTC_TIMESTAMP(), phase = IF(phase IN "
        "('snapshot', 'queue', 'sending') AND started_at IS NOT NULL, "
        "'parking', 'done') WHERE id = %d AND status IN ('scheduled', "
        "'running')" % cid)


def finish(stack, cids):
    """Cleanup: the test's campaigns done and their queued messages out of
    the send queue, so no later test's spooler expands or sends them."""
    if not cids:
        return
    ids = ",".join(str(c) for c in cids)
    sql(stack, "UPDATE messages SET lane = 2 WHERE campaign_id IN (%s) AND "
        "status = 'queued'" % ids)
    sql(stack, "UPDATE campaigns SET phase = 'done', status = IF(status IN "
        "('scheduled', 'running'), 'cancelled', status) WHERE id IN (%s)" %
        ids)


def spooler_conf(stack, sandbox, **webhooks):
    """A spooler config on the sandbox; [webhooks] keys from the keyword
    arguments (allow_private_targets for a receiver on loopback)."""
    conf = stack.write_spooler_config(stack.unique("camp-spool-") + ".conf",
                                      "http://127.0.0.1:%d" % sandbox.port)
    if webhooks:
        with open(conf, "a") as f:
            f.write("[webhooks]\n")
            for k, v in webhooks.items():
                f.write("%s = %s\n" % (k, v))
    return conf


def sends(sandbox, phone_number_id):
    """The phones the sandbox got a message for on the number, in order
    (one entry per request)."""
    out = []
    since = 0
    while True:
        r = sandbox.ctl("GET", "requests?since=%d&phone_number_id=%s" %
                        (since, phone_number_id))
        out += ["+" + rec["body"]["to"] for rec in r["requests"]
                if isinstance(rec.get("body"), dict) and "to" in rec["body"]]
        if not r["requests"] or r["next"] == since:
            return out
        since = r["next"]


def stopped(pid):
    """Whether a process is stopped (SIGSTOP: state T)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except OSError:
        return False


class Receiver:
    """A webhook endpoint on 127.0.0.1 answering 200 and recording every
    POST's body (parsed). Every POST is checked against docs/openapi.yaml's
    webhooks: entry of its event type (openapi_events.py): a difference
    fails the test where it reads the bodies (events()) and when it
    closes the receiver."""

    def __init__(self):
        self.bodies = []
        self.lock = threading.Lock()
        self.checks = EventChecks()
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                rec.checks.check(body, self.headers)
                with rec.lock:
                    rec.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def events(self, type_):
        self.checks.assert_clean()
        with self.lock:
            return [b for b in self.bodies if b.get("event") == type_]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.checks.assert_clean()


def env_spooler(stack, monkeypatch, conf, mode="drain", env=None, **kw):
    """stack.start_spooler with test-only environment variables."""
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, str(v))
    try:
        return stack.start_spooler(conf, mode, **kw)
    finally:
        for k in (env or {}):
            monkeypatch.delenv(k, raising=False)


def log_lines(path, pattern):
    with open(path, errors="replace") as f:
        return [l for l in f.read().splitlines() if re.search(pattern, l)]


def now():
    return time.time()


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "json", "os", "re", "threading", "time")]
