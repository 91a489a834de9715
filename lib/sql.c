#include <string.h>

#include "sql.h"

#define TS(col)	"DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* A tenant's requests per minute: its own limit, else its plan's (SPEC:
 * starter 100, professional 500, enterprise 2000). t: the tenants row. */
#define TENANT_LIMIT(t) \
	"COALESCE(" t "rate_limit, CASE " t "plan WHEN 'starter' THEN 100 " \
	"WHEN 'professional' THEN 500 ELSE 2000 END)"

/* Resources are read as the API shows them: the json column of a view of
 * sql/routines/shapes.sql, passed through to the answer unparsed. The
 * views are merged into the statements that read them, which keep the
 * plans (keys, deferred joins) of the tables beneath. */

/* A page of the conversations matching cond, newest activity first. The
 * conversations' activity keys (sql/schema/001_baseline.sql) end in the
 * order's columns, so the inner select reads the page's ids from that key alone, already in order, and
 * skips OFFSET entries there; only the page's rows are then read and
 * joined (a deferred join: page 400 of 60,000 costs ~2.5 ms, not ~25).
 * The key is named: left to choose, MariaDB sometimes walks
 * conversations_activity for a common status and reads a row per entry to
 * check it (16 ms for page 400 of the open ones instead of 2.5). The
 * page is ordered by the inner select's columns, so the 25 ids are sorted
 * before the join: ordered by the view's, the joined rows, json (a BLOB)
 * and all, went through a temporary table on disk (Aria) on every list
 * request, which cost the lists a quarter of their throughput. */
#define CONVERSATION_PAGE(key, cond) \
	"SELECT v.json FROM (SELECT id, last_message_at FROM conversations " \
	"FORCE INDEX (" key ") WHERE " cond \
	" ORDER BY last_message_at DESC, id DESC " \
	"LIMIT ? OFFSET ?) p JOIN conversation_shapes v ON v.id = p.id " \
	"ORDER BY p.last_message_at DESC, p.id DESC"
/* The lists' totals, from conversation_counters. */
#define CONVERSATION_COUNTED \
	"SELECT COALESCE(SUM(n), 0) FROM conversation_counters "

#define ACCOUNT_COLS \
	"id, display_phone, phone_number_id, waba_id, mps, " TS("created_at")

#define APIKEY_COLS \
	"id, name, prefix, scopes, " TS("last_used_at") ", " \
	TS("created_at") ", " TS("expires_at") ", " TS("revoked_at")

#define LIKE_ANY \
	"(c.name LIKE ? OR c.phone LIKE ? OR c.email LIKE ?)"
#define TAG_OPT \
	"(? IS NULL OR EXISTS (SELECT 1 FROM contact_tags g " \
	"WHERE g.tenant_id = c.tenant_id AND g.tag = ? AND g.contact_id = c.id))"
/* Three trigrams of the term; the optimiser drives from the rarest. */
#define TRI_JOIN \
	"FROM contact_trigrams t1 " \
	"JOIN contact_trigrams t2 ON t2.tenant_id = t1.tenant_id " \
	"AND t2.tri = ? AND t2.contact_id = t1.contact_id " \
	"JOIN contact_trigrams t3 ON t3.tenant_id = t1.tenant_id " \
	"AND t3.tri = ? AND t3.contact_id = t1.contact_id " \
	"JOIN contact_shapes c ON c.id = t1.contact_id AND " \
	"c.tenant_id = t1.tenant_id " \
	"WHERE t1.tenant_id = ? AND t1.tri = ? AND " LIKE_ANY " AND " TAG_OPT

/* Each statement with its contract: name, retryable (see sql.h), the
 * number of its ? parameters, the number of columns of its (first) result
 * (0: none; the column enums of sql.h name them), and its text. lib/db.c
 * checks both counts when it prepares the statement (a CALL's columns when
 * its result arrives), and `wazera-admin check` prepares every one. */
static const struct {
	const char	*name;
	bool		 retryable;
	unsigned	 params;
	unsigned	 cols;
	const char	*text;
} sqls[SQL__MAX] = {
	/* Columns: id, tenant, scopes, hash, dead (revoked or expired),
	 * limit per minute, seconds until expiry on the database's clock
	 * (NULL: never), so a worker whose clock is off expires it on time. */
	[SQL_AUTH_LOOKUP] = { "AUTH_LOOKUP", true, 1, AUTH__N,
	    "SELECT k.id, k.tenant_id, k.scopes, k.key_hash, "
	    "k.revoked_at IS NOT NULL OR (k.expires_at IS NOT NULL AND "
	    "k.expires_at <= UTC_TIMESTAMP()), "
	    TENANT_LIMIT("t.") ", "
	    "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), k.expires_at) "
	    "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
	    "WHERE k.key_hash = ?" },
	/* Counts one request in the key's fixed one-minute window (the
	 * database's clock, so hosts agree) and hands the new count back
	 * through LAST_INSERT_ID. Matches no row when the key has no counter:
	 * not used since the server started, or revoked. */
	[SQL_RATE_HIT] = { "RATE_HIT", true, 1, 0,
	    "UPDATE rate_counters SET hits = LAST_INSERT_ID(IF(rl_window = "
	    "UNIX_TIMESTAMP() DIV 60, hits + 1, 1)), "
	    "rl_window = UNIX_TIMESTAMP() DIV 60 WHERE key_id = ?" },
	[SQL_RATE_INSERT] = { "RATE_INSERT", false, 1, 0,
	    "INSERT INTO rate_counters (key_id, rl_window, hits) "
	    "VALUES (?, UNIX_TIMESTAMP() DIV 60, LAST_INSERT_ID(1)) "
	    "ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(IF(rl_window = "
	    "UNIX_TIMESTAMP() DIV 60, hits + 1, 1)), "
	    "rl_window = UNIX_TIMESTAMP() DIV 60" },
	[SQL_RATE_FORGET] = { "RATE_FORGET", true, 1, 0,
	    "DELETE FROM rate_counters WHERE key_id = ?" },
	/* The rate counters' engine for this server (wazera-admin migrate,
	 * sql/routines/counters.sql): the tables converted. */
	[SQL_COUNTERS_FIT] = { "COUNTERS_FIT", false, 0, 1,
	    "CALL wz_counters_fit()" },
	/* Matches the key only while it is alive. */
	[SQL_APIKEY_TOUCH] = { "APIKEY_TOUCH", true, 1, 0,
	    "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP() WHERE id = ? "
	    "AND revoked_at IS NULL AND "
	    "(expires_at IS NULL OR expires_at > UTC_TIMESTAMP())" },
	[SQL_TENANT_GET] = { "TENANT_GET", true, 1, TEN__N,
	    "SELECT id, name, plan, " TENANT_LIMIT("") ", "
	    TS("created_at") " FROM tenants WHERE id = ?" },
	[SQL_TENANT_INSERT] = { "TENANT_INSERT", false, 3, 0,
	    "INSERT INTO tenants (name, plan, rate_limit, created_at, updated_at) "
	    "VALUES (?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP())" },
	[SQL_APIKEY_INSERT] = { "APIKEY_INSERT", false, 6, 0,
	    "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes, "
	    "created_at, expires_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(), ?)" },
	[SQL_APIKEY_GET] = { "APIKEY_GET", true, 1, KEY__N + 1,
	    "SELECT " APIKEY_COLS ", tenant_id FROM api_keys WHERE id = ?" },
	[SQL_APIKEY_LIST] = { "APIKEY_LIST", true, 3, KEY__N,
	    "SELECT " APIKEY_COLS " FROM api_keys WHERE tenant_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?" },
	[SQL_APIKEY_COUNT] = { "APIKEY_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?" },
	/* Marks the key revoked and forgets its rate counter (010): run it
	 * in a transaction. Tenant NULL: any tenant's. Answers the matches. */
	[SQL_APIKEY_REVOKE] = { "APIKEY_REVOKE", false, 2, 1,
	    "CALL wz_apikey_revoke(?, ?)" },
	/* The contact's JSON. */
	[SQL_CONTACT_GET] = { "CONTACT_GET", true, 2, 1,
	    "SELECT c.json FROM contact_shapes c "
	    "WHERE c.tenant_id = ? AND c.id = ?" },
	[SQL_CONTACT_GET_FOR_UPDATE] = { "CONTACT_GET_FOR_UPDATE", false, 2,
	    CL__N, "SELECT c.name, c.phone, c.email, c.tags, c.custom_fields, "
	    "c.opted_out, c.json FROM contact_shapes c "
	    "WHERE c.tenant_id = ? AND c.id = ? FOR UPDATE" },
	/* -> the new contact's JSON. */
	[SQL_CONTACT_CREATE] = { "CONTACT_CREATE", false, 9, 1,
	    "CALL wz_contact_create(?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	/* -> the contact's JSON. */
	[SQL_CONTACT_UPDATE] = { "CONTACT_UPDATE", false, 11, 1,
	    "CALL wz_contact_update(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	[SQL_CONTACT_DELETE] = { "CONTACT_DELETE", false, 3, 1,
	    "CALL wz_contact_delete(?, ?, ?)" },
	[SQL_CONTACT_COUNT_ALL] = { "CONTACT_COUNT_ALL", true, 1, 1,
	    "SELECT COALESCE(SUM(contacts), 0) FROM tenant_counters "
	    "WHERE tenant_id = ?" },
	/* Deferred joins, as for conversations: the page's ids come from a
	 * key alone, skipping OFFSET entries there, and only the page's rows
	 * are read (page 4,000 of 100,000 read 100,000 rows before). */
	[SQL_CONTACT_LIST] = { "CONTACT_LIST", true, 3, 1,
	    "SELECT c.json FROM (SELECT id FROM contacts "
	    "FORCE INDEX (contacts_tenant) WHERE tenant_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?) p "
	    "JOIN contact_shapes c ON c.id = p.id ORDER BY c.id DESC" },
	/* The same page counted from the oldest end (contacts.c list_all). */
	[SQL_CONTACT_LIST_TAIL] = { "CONTACT_LIST_TAIL", true, 3, 1,
	    "SELECT c.json FROM (SELECT id FROM contacts "
	    "FORCE INDEX (contacts_tenant) WHERE tenant_id = ? "
	    "ORDER BY id ASC LIMIT ? OFFSET ?) p "
	    "JOIN contact_shapes c ON c.id = p.id ORDER BY c.id DESC" },
	[SQL_CONTACT_LIST_TAG] = { "CONTACT_LIST_TAG", true, 4, 1,
	    "SELECT c.json FROM (SELECT tenant_id, contact_id "
	    "FROM contact_tags WHERE tenant_id = ? AND tag = ? "
	    "ORDER BY contact_id DESC LIMIT ? OFFSET ?) g "
	    "JOIN contact_shapes c ON c.id = g.contact_id AND "
	    "c.tenant_id = g.tenant_id "
	    "ORDER BY c.id DESC" },
	[SQL_CONTACT_COUNT_TAG] = { "CONTACT_COUNT_TAG", true, 2, 1,
	    "SELECT COUNT(*) FROM contact_tags WHERE tenant_id = ? AND tag = ?" },
	[SQL_CONTACT_LIST_SCAN] = { "CONTACT_LIST_SCAN", true, 8, 1,
	    "SELECT c.json FROM contact_shapes c WHERE c.tenant_id = ? AND "
	    LIKE_ANY " AND " TAG_OPT " ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_COUNT_SCAN] = { "CONTACT_COUNT_SCAN", true, 6, 1,
	    "SELECT COUNT(*) FROM contacts c WHERE c.tenant_id = ? AND "
	    LIKE_ANY " AND " TAG_OPT },
	[SQL_CONTACT_LIST_TRI] = { "CONTACT_LIST_TRI", true, 11, 1,
	    "SELECT c.json " TRI_JOIN
	    " ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_COUNT_TRI] = { "CONTACT_COUNT_TRI", true, 9, 1,
	    "SELECT COUNT(*) " TRI_JOIN },
	[SQL_IDEM_INSERT] = { "IDEM_INSERT", false, 3, 0,
	    "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, "
	    "created_at) VALUES (?, ?, ?, UTC_TIMESTAMP())" },
	[SQL_IDEM_GET] = { "IDEM_GET", false, 2, IDEM__N,
	    "SELECT request_hash, status, body, "
	    "created_at < UTC_TIMESTAMP() - INTERVAL 24 HOUR "
	    "FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?" },
	[SQL_IDEM_DELETE] = { "IDEM_DELETE", false, 2, 0,
	    "DELETE FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?" },
	/* Records past their 24 hours (housekeep.c); the oldest first, by
	 * created_at's key, so a batch locks only the old end of it. */
	[SQL_IDEM_PURGE] = { "IDEM_PURGE", true, 0, 0,
	    "DELETE FROM idempotency_keys WHERE created_at < UTC_TIMESTAMP() - "
	    "INTERVAL 24 HOUR ORDER BY created_at LIMIT " PURGE_BATCH_S },
	[SQL_IDEM_COMPLETE] = { "IDEM_COMPLETE", false, 4, 0,
	    "UPDATE idempotency_keys SET status = ?, body = ? "
	    "WHERE tenant_id = ? AND idem_key = ?" },
	[SQL_ACCOUNT_INSERT] = { "ACCOUNT_INSERT", false, 7, 0,
	    "INSERT INTO whatsapp_accounts (tenant_id, phone_number_id, waba_id, "
	    "display_phone, access_token_enc, app_secret_enc, mps, created_at, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP())" },
	[SQL_ACCOUNT_GET] = { "ACCOUNT_GET", true, 2, A__N,
	    "SELECT " ACCOUNT_COLS " FROM whatsapp_accounts "
	    "WHERE tenant_id = ? AND id = ?" },
	/* Before a send: whether the account is the tenant's (a row) and
	 * whether the recipient wrote to this account in the last 24 hours
	 * (1; 0 or NULL when not, or never, or not a contact yet), on the
	 * database's clock. Point reads: the account, the contact by phone,
	 * its window with the account (contact_windows). */
	[SQL_SEND_CHECK] = { "SEND_CHECK", true, 3, 2,
	    "SELECT a.id, (SELECT w.last_inbound_at > UTC_TIMESTAMP() - "
	    "INTERVAL 24 HOUR FROM contacts c JOIN contact_windows w "
	    "ON w.contact_id = c.id AND w.whatsapp_account_id = a.id "
	    "WHERE c.tenant_id = a.tenant_id AND c.phone = ?) "
	    "FROM whatsapp_accounts a WHERE a.tenant_id = ? AND a.id = ?" },
	[SQL_ACCOUNT_LIST] = { "ACCOUNT_LIST", true, 3, A__N,
	    "SELECT " ACCOUNT_COLS " FROM whatsapp_accounts WHERE tenant_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?" },
	[SQL_ACCOUNT_COUNT] = { "ACCOUNT_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM whatsapp_accounts WHERE tenant_id = ?" },
	/* For Meta's webhooks: the account and its sealed app secret. */
	[SQL_ACCOUNT_BY_PHONE_ID] = { "ACCOUNT_BY_PHONE_ID", true, 1, ACC__N,
	    "SELECT id, tenant_id, app_secret_enc FROM whatsapp_accounts "
	    "WHERE phone_number_id = ?" },
	/* -> the queued message's JSON. */
	[SQL_MESSAGE_QUEUE] = { "MESSAGE_QUEUE", false, 8, 1,
	    "CALL wz_message_queue(?, ?, ?, ?, ?, ?, ?, ?)" },
	/* The message's JSON; its status's. */
	[SQL_MESSAGE_GET] = { "MESSAGE_GET", true, 2, 1,
	    "SELECT m.json FROM message_shapes m "
	    "WHERE m.tenant_id = ? AND m.id = ?" },
	[SQL_MESSAGE_STATUS] = { "MESSAGE_STATUS", true, 2, 1,
	    "SELECT m.status_json FROM message_shapes m "
	    "WHERE m.tenant_id = ? AND m.id = ?" },

	/* Conversations: (tenant, id) -> its JSON. */
	[SQL_CONVERSATION_GET] = { "CONVERSATION_GET", true, 2, 1,
	    "SELECT v.json FROM conversation_shapes v "
	    "WHERE v.tenant_id = ? AND v.id = ?" },
	/* Whether the tenant has it (no join, no formatting). */
	[SQL_CONVERSATION_EXISTS] = { "CONVERSATION_EXISTS", true, 2, 1,
	    "SELECT 1 FROM conversations WHERE tenant_id = ? AND id = ?" },
	/* The row alone, locked for PUT: the contact row stays unlocked. */
	[SQL_CONVERSATION_LOCK] = { "CONVERSATION_LOCK", false, 2, 4,
	    "SELECT status, assigned_to, contact_id, whatsapp_account_id "
	    "FROM conversations WHERE tenant_id = ? AND id = ? FOR UPDATE" },
	/* (status, assigned_to, now, tenant, id). DB_DUP when it would reopen
	 * a second conversation of the contact on the account. */
	[SQL_CONVERSATION_UPDATE] = { "CONVERSATION_UPDATE", false, 5, 0,
	    "UPDATE conversations SET status = ?, assigned_to = ?, "
	    "updated_at = ? WHERE tenant_id = ? AND id = ?" },
	/* The conversation not closed of (tenant, contact, account). */
	[SQL_CONVERSATION_OPEN_OTHER] = { "CONVERSATION_OPEN_OTHER", true, 3, 1,
	    "SELECT id FROM conversations WHERE tenant_id = ? AND "
	    "contact_id = ? AND whatsapp_account_id = ? AND open_marker = 1" },
	/* Lists: (tenant[, assigned_to][, status], limit, offset); counts
	 * take the same arguments without limit and offset, and read the
	 * counters the triggers of sql/routines/conversations.sql keep. */
	[SQL_CONVERSATION_LIST] = { "CONVERSATION_LIST", true, 3, 1,
	    CONVERSATION_PAGE("conversations_activity", "tenant_id = ?") },
	[SQL_CONVERSATION_COUNT] = { "CONVERSATION_COUNT", true, 1, 1,
	    CONVERSATION_COUNTED "WHERE tenant_id = ?" },
	[SQL_CONVERSATION_LIST_STATUS] = { "CONVERSATION_LIST_STATUS", true, 4, 1,
	    CONVERSATION_PAGE("conversations_status_activity",
	    "tenant_id = ? AND status = ?") },
	[SQL_CONVERSATION_COUNT_STATUS] = { "CONVERSATION_COUNT_STATUS", true, 2, 1,
	    CONVERSATION_COUNTED "WHERE tenant_id = ? AND status = ?" },
	[SQL_CONVERSATION_LIST_ASSIGNED] = { "CONVERSATION_LIST_ASSIGNED", true, 4, 1,
	    CONVERSATION_PAGE("conversations_assigned_activity",
	    "tenant_id = ? AND assigned_to = ?") },
	[SQL_CONVERSATION_COUNT_ASSIGNED] = { "CONVERSATION_COUNT_ASSIGNED",
	    true, 2, 1, CONVERSATION_COUNTED "WHERE tenant_id = ? AND "
	    "assigned_to = ?" },
	[SQL_CONVERSATION_LIST_BOTH] = { "CONVERSATION_LIST_BOTH", true, 5, 1,
	    CONVERSATION_PAGE("conversations_assigned_activity",
	    "tenant_id = ? AND assigned_to = ? AND status = ?") },
	[SQL_CONVERSATION_COUNT_BOTH] = { "CONVERSATION_COUNT_BOTH", true, 3, 1,
	    CONVERSATION_COUNTED "WHERE tenant_id = ? AND assigned_to = ? AND "
	    "status = ?" },
	/* A conversation's messages, newest first: (conversation, limit,
	 * offset, tenant); the page's ids from messages_conversation alone
	 * (a deferred join, as for conversations; named, so that ORDER BY id
	 * never tempts MariaDB to walk the primary key of all messages). The
	 * count reads that key alone: the caller has checked that the
	 * conversation is the tenant's. */
	[SQL_CONVERSATION_MESSAGES] = { "CONVERSATION_MESSAGES", true, 4, 1,
	    "SELECT m.json FROM (SELECT id FROM messages "
	    "FORCE INDEX (messages_conversation) WHERE conversation_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?) p "
	    "JOIN message_shapes m ON m.id = p.id WHERE m.tenant_id = ? "
	    "ORDER BY m.id DESC" },
	[SQL_CONVERSATION_MESSAGES_COUNT] = { "CONVERSATION_MESSAGES_COUNT",
	    true, 1, 1, "SELECT COUNT(*) FROM messages WHERE conversation_id = ?" },

	/* Outgoing webhooks (app/fcgi/webhooks.c, sql/routines/webhooks.sql).
	 * A deleted webhook is gone for the API: every statement skips it.
	 * (tenant, id) -> the webhook's JSON (never its secret). */
	[SQL_WEBHOOK_GET] = { "WEBHOOK_GET", true, 2, 1,
	    "SELECT w.json FROM webhook_shapes w "
	    "WHERE w.tenant_id = ? AND w.id = ? AND w.status <> 'deleted'" },
	/* (tenant, limit, offset): newest first. */
	[SQL_WEBHOOK_LIST] = { "WEBHOOK_LIST", true, 3, 1,
	    "SELECT w.json FROM webhook_shapes w "
	    "WHERE w.tenant_id = ? AND w.status <> 'deleted' "
	    "ORDER BY w.id DESC LIMIT ? OFFSET ?" },
	[SQL_WEBHOOK_COUNT] = { "WEBHOOK_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM webhooks "
	    "WHERE tenant_id = ? AND status <> 'deleted'" },
	/* Before a create, in its transaction: the tenant's row, locked, so
	 * that creates of one tenant racing for the last of its 25 places run
	 * one after the other (waiting, never deadlocking each other). Only
	 * new API keys and accounts read the row with a lock (their foreign
	 * keys); requests read it without one. */
	[SQL_WEBHOOK_CREATE_LOCK] = { "WEBHOOK_CREATE_LOCK", false, 1, 1,
	    "SELECT id FROM tenants WHERE id = ? FOR UPDATE" },
	/* Then the tenant's webhooks, counted as committed (a locking read:
	 * whatever the transaction's snapshot). */
	[SQL_WEBHOOK_COUNT_LOCK] = { "WEBHOOK_COUNT_LOCK", false, 1, 1,
	    "SELECT COUNT(*) FROM webhooks "
	    "WHERE tenant_id = ? AND status <> 'deleted' FOR UPDATE" },
	/* (tenant, url, events, sealed secret, status) -> its JSON. */
	[SQL_WEBHOOK_CREATE] = { "WEBHOOK_CREATE", false, 5, 1,
	    "CALL wz_webhook_create(?, ?, ?, ?, ?)" },
	/* (tenant, id): the row, locked for a change. */
	[SQL_WEBHOOK_LOCK] = { "WEBHOOK_LOCK", false, 2, WL__N,
	    "SELECT status, secret_enc FROM webhooks "
	    "WHERE tenant_id = ? AND id = ? AND status <> 'deleted' FOR UPDATE" },
	/* (tenant, id, url, events, sealed secret, status, seconds the
	 * replaced secret still signs); NULL keeps a value. The caller has
	 * locked the row (WEBHOOK_LOCK). -> its JSON. */
	[SQL_WEBHOOK_UPDATE] = { "WEBHOOK_UPDATE", false, 7, 1,
	    "CALL wz_webhook_update(?, ?, ?, ?, ?, ?, ?)" },
	/* (tenant, id): soft; the spooler's housekeeping purges its
	 * deliveries, then the row. */
	[SQL_WEBHOOK_DELETE] = { "WEBHOOK_DELETE", false, 2, 0,
	    "UPDATE webhooks SET status = 'deleted', "
	    "updated_at = UTC_TIMESTAMP() "
	    "WHERE tenant_id = ? AND id = ? AND status <> 'deleted'" },
	/* (tenant, id) -> the test ping's delivery's JSON. The caller has
	 * locked the active webhook. */
	[SQL_WEBHOOK_TEST] = { "WEBHOOK_TEST", false, 2, 1,
	    "CALL wz_webhook_test(?, ?)" },
	/* A webhook's deliveries, newest first: (tenant, webhook[, status],
	 * limit, offset); the page's ids from deliveries_list (or
	 * deliveries_due) alone, then only its rows are read. Counts take
	 * the same arguments without limit and offset. The webhook's tenant
	 * is checked through webhooks. */
	[SQL_WEBHOOK_DELIVERY_LIST] = { "WEBHOOK_DELIVERY_LIST", true, 4, 1,
	    "SELECT d.json FROM (SELECT x.id FROM webhook_deliveries x "
	    "JOIN webhooks w ON w.id = x.webhook_id AND w.tenant_id = ? "
	    "WHERE x.webhook_id = ? ORDER BY x.id DESC LIMIT ? OFFSET ?) p "
	    "JOIN webhook_delivery_shapes d ON d.id = p.id ORDER BY p.id DESC" },
	[SQL_WEBHOOK_DELIVERY_COUNT] = { "WEBHOOK_DELIVERY_COUNT", true, 2, 1,
	    "SELECT COUNT(*) FROM webhook_deliveries x "
	    "JOIN webhooks w ON w.id = x.webhook_id AND w.tenant_id = ? "
	    "WHERE x.webhook_id = ?" },
	[SQL_WEBHOOK_DELIVERY_LIST_STATUS] = { "WEBHOOK_DELIVERY_LIST_STATUS",
	    true, 5, 1,
	    "SELECT d.json FROM (SELECT x.id FROM webhook_deliveries x "
	    "JOIN webhooks w ON w.id = x.webhook_id AND w.tenant_id = ? "
	    "WHERE x.webhook_id = ? AND x.status = ? "
	    "ORDER BY x.id DESC LIMIT ? OFFSET ?) p "
	    "JOIN webhook_delivery_shapes d ON d.id = p.id ORDER BY p.id DESC" },
	[SQL_WEBHOOK_DELIVERY_COUNT_STATUS] = {
	    "WEBHOOK_DELIVERY_COUNT_STATUS", true, 3, 1,
	    "SELECT COUNT(*) FROM webhook_deliveries x "
	    "JOIN webhooks w ON w.id = x.webhook_id AND w.tenant_id = ? "
	    "WHERE x.webhook_id = ? AND x.status = ?" },
	/* (tenant, webhook, id) -> the delivery's JSON. */
	[SQL_WEBHOOK_DELIVERY_GET] = { "WEBHOOK_DELIVERY_GET", true, 3, 1,
	    "SELECT d.json FROM webhook_delivery_shapes d "
	    "JOIN webhooks w ON w.id = d.webhook_id "
	    "WHERE d.tenant_id = ? AND d.webhook_id = ? AND d.id = ? AND "
	    "w.status <> 'deleted'" },
	/* (tenant, delivery) -> its latest 100 attempts, oldest first. */
	[SQL_WEBHOOK_DELIVERY_ATTEMPTS] = { "WEBHOOK_DELIVERY_ATTEMPTS", true,
	    2, 1,
	    "SELECT a.json FROM (SELECT t.id FROM webhook_attempts t "
	    "JOIN webhook_deliveries d ON d.id = t.delivery_id AND "
	    "d.tenant_id = ? WHERE t.delivery_id = ? "
	    "ORDER BY t.id DESC LIMIT 100) p "
	    "JOIN webhook_attempt_shapes a ON a.id = p.id ORDER BY p.id" },
	/* (tenant, webhook, id): the delivery's status and whether its
	 * event's data is kept (retention removes it), the row locked. */
	[SQL_WEBHOOK_DELIVERY_LOCK] = { "WEBHOOK_DELIVERY_LOCK", false, 3, WD__N,
	    "SELECT d.status, e.data IS NOT NULL FROM webhook_deliveries d "
	    "JOIN events e ON e.id = d.event_id "
	    "WHERE d.tenant_id = ? AND d.webhook_id = ? AND d.id = ? "
	    "FOR UPDATE" },
	/* (tenant, webhook, id) -> the delivery's JSON, pending again. The
	 * caller has locked it (WEBHOOK_DELIVERY_LOCK). */
	[SQL_WEBHOOK_REDELIVER] = { "WEBHOOK_REDELIVER", false, 3, 1,
	    "CALL wz_webhook_redeliver(?, ?, ?)" },
	/* (tenant, webhook, since) -> the number of failed deliveries queued
	 * again. The caller has locked the active webhook. */
	[SQL_WEBHOOK_RECOVER] = { "WEBHOOK_RECOVER", false, 3, 1,
	    "CALL wz_webhook_recover(?, ?, ?)" },
	/* (tenant, type, data): event.c's event_emit, in the caller's
	 * transaction with the change it records. */
	[SQL_EVENT_EMIT] = { "EVENT_EMIT", false, 3, 0,
	    "CALL wz_event_emit(?, ?, ?)" },
	/* Users (agents): (tenant, id) -> id. */
	[SQL_USER_GET] = { "USER_GET", true, 2, 1,
	    "SELECT id FROM users WHERE tenant_id = ? AND id = ?" },
	[SQL_USER_LIST] = { "USER_LIST", true, 3, U__N,
	    "SELECT id, name, email, " TS("created_at") ", role FROM users "
	    "WHERE tenant_id = ? ORDER BY id DESC LIMIT ? OFFSET ?" },
	[SQL_USER_COUNT] = { "USER_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM users WHERE tenant_id = ?" },

	/* (account, wamid, callback message id or NULL, status, code,
	 * title, message) -> the status now, or NULL. */
	[SQL_STATUS_APPLY] = { "STATUS_APPLY", false, 7, 1,
	    "CALL wz_status_apply(?, ?, ?, ?, ?, ?, ?)" },
	/* (tenant, account, phone, profile name, wamid, type, content,
	 * time, trigrams, opt-out, now) -> message id or NULL for a
	 * duplicate. */
	[SQL_INBOUND_MESSAGE] = { "INBOUND_MESSAGE", false, 11, 1,
	    "CALL wz_inbound_message(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },

	/* The spooler. Accounts with messages due and no live lease held by
	 * another spooler and no pause (argument: this spooler's holder
	 * name). Columns: id, phone_number_id, sealed access token, mps. */
	[SQL_SPOOL_ACCOUNTS] = { "SPOOL_ACCOUNTS", true, 1, SA__N,
	    "SELECT a.id, a.phone_number_id, a.access_token_enc, a.mps "
	    "FROM whatsapp_accounts a WHERE (a.lease_holder IS NULL OR "
	    "a.lease_holder = ? OR a.lease_until < NOW(3)) AND "
	    "(a.paused_until IS NULL OR a.paused_until <= NOW(3)) AND (EXISTS "
	    "(SELECT 1 FROM messages m WHERE m.whatsapp_account_id = a.id AND "
	    "m.status = 'queued' AND m.lane = 0 AND "
	    "m.next_attempt_at <= NOW(3)) OR EXISTS "
	    "(SELECT 1 FROM messages m WHERE m.whatsapp_account_id = a.id AND "
	    "m.status = 'queued' AND m.lane = 1 AND "
	    "m.next_attempt_at <= NOW(3)))" },
	/* Takes or renews the lease (holder, seconds, account, holder):
	 * matches the row only if this spooler may drive the account. */
	[SQL_SPOOL_LEASE] = { "SPOOL_LEASE", false, 4, 0,
	    "UPDATE whatsapp_accounts SET lease_holder = ?, "
	    "lease_until = NOW(3) + INTERVAL ? SECOND WHERE id = ? AND "
	    "(lease_holder IS NULL OR lease_holder = ? OR lease_until < NOW(3))" },
	[SQL_SPOOL_RELEASE] = { "SPOOL_RELEASE", false, 2, 0,
	    "UPDATE whatsapp_accounts SET lease_holder = NULL, lease_until = NULL "
	    "WHERE id = ? AND lease_holder = ?" },
	/* In a transaction: up to N due conversational messages (lane 0)
	 * of an account, locked; SQL_CSEND_CLAIM takes a running
	 * campaign's (lane 1) after them; parked ones (lane 2) never. One
	 * lane each: an equality on every key part of messages_claim but
	 * next_attempt_at, so it is read in order, without a sort, stops
	 * after N rows and never walks another lane's entries (with
	 * "lane IN (0, 1)" MariaDB chose a ref on (account, status) and
	 * walked 100,000 parked entries for a claim that found 30).
	 * Columns: id, to_phone, type, content, attempts, age in seconds
	 * since the API accepted it, the last error (code, title, message)
	 * kept for a message the spooler gives up on, and the campaign and
	 * contact of a campaign's message (campaign NULL otherwise). */
	[SQL_SPOOL_CLAIM] = { "SPOOL_CLAIM", false, 2, SC__N,
	    "SELECT id, to_phone, type, content, attempts, "
	    "TIMESTAMPDIFF(SECOND, accepted_at, NOW(3)), error_code, "
	    "error_title, error_message, campaign_id, contact_id FROM messages "
	    "WHERE whatsapp_account_id = ? AND status = 'queued' AND "
	    "lane = 0 AND next_attempt_at <= NOW(3) "
	    "ORDER BY next_attempt_at, id LIMIT ? "
	    "FOR UPDATE SKIP LOCKED" },
	/* Marks a JSON array of claimed ids as being sent by a holder:
	 * (ids, holder). */
	[SQL_SPOOL_MARK_SENDING] = { "SPOOL_MARK_SENDING", false, 2, 0,
	    "UPDATE messages m JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON m.id = j.id "
	    "SET m.status = 'sending', m.sending_since = NOW(3), "
	    "m.sending_holder = ?, "
	    "m.attempts = m.attempts + 1, m.updated_at = UTC_TIMESTAMP() "
	    "WHERE m.status = 'queued'" },
	/* (id, wamid) -> the status it has now; in a transaction. */
	[SQL_SPOOL_SENT] = { "SPOOL_SENT", false, 2, 1,
	    "CALL wz_message_result(?, 'sent', ?, NULL, NULL, NULL)" },
	/* (id, code, title, message) -> the status now; in a
	 * transaction. */
	[SQL_SPOOL_FAILED] = { "SPOOL_FAILED", false, 4, 1,
	    "CALL wz_message_result(?, 'failed', NULL, ?, ?, ?)" },
	/* Back to the queue after a retryable error: (delay in microseconds,
	 * code, title, message, id, holder). The last error stays for the
	 * record. Only the claim the result is of: a late replay of a
	 * journal must not requeue a message another spooler sends now. */
	[SQL_SPOOL_RETRY] = { "SPOOL_RETRY", false, 6, 0,
	    "UPDATE messages SET status = 'queued', sending_since = NULL, "
	    "sending_holder = NULL, "
	    "next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND, error_code = ?, "
	    "error_title = ?, error_message = ?, updated_at = UTC_TIMESTAMP() "
	    "WHERE id = ? AND status = 'sending' AND sending_holder <=> ?" },
	/* Back to the queue through no fault of the message (the account
	 * is paused, or its request never started): the attempt is not
	 * counted. (delay in microseconds, code, title, message, id,
	 * holder). */
	[SQL_SPOOL_REQUEUE] = { "SPOOL_REQUEUE", false, 6, 0,
	    "UPDATE messages SET status = 'queued', sending_since = NULL, "
	    "sending_holder = NULL, attempts = GREATEST(attempts, 1) - 1, "
	    "next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND, "
	    "error_code = COALESCE(?, error_code), "
	    "error_title = COALESCE(?, error_title), "
	    "error_message = COALESCE(?, error_message), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ? AND status = 'sending' "
	    "AND sending_holder <=> ?" },
	/* Undoes a claim whose commit had an unknown outcome (the
	 * connection was lost while committing): its messages, if it did
	 * commit, go back to the queue unsent, the attempt not counted
	 * (ids as a JSON array, holder). Only this claim can have made a
	 * message of those ids 'sending' under this holder: they were
	 * 'queued' when it read them. In a transaction (so it first sees
	 * what the cluster committed). */
	[SQL_SPOOL_UNCLAIM] = { "SPOOL_UNCLAIM", false, 2, 0,
	    "UPDATE messages m JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON m.id = j.id "
	    "SET m.status = 'queued', m.sending_since = NULL, "
	    "m.sending_holder = NULL, m.attempts = GREATEST(m.attempts, 1) - 1, "
	    "m.updated_at = UTC_TIMESTAMP() "
	    "WHERE m.status = 'sending' AND m.sending_holder = ?" },
	/* Pauses an account until a time (unix seconds, account, the
	 * same time): no spooler on any host takes it (SPOOL_ACCOUNTS)
	 * before then, whatever its messages' times. A pause never shortens
	 * one already longer, and one whose end has passed (a record written
	 * late) changes nothing. (The session's time zone is UTC.) */
	[SQL_SPOOL_PAUSE] = { "SPOOL_PAUSE", false, 3, 0,
	    "UPDATE whatsapp_accounts SET paused_until = "
	    "GREATEST(COALESCE(paused_until, FROM_UNIXTIME(0)), "
	    "FROM_UNIXTIME(?)) WHERE id = ? AND FROM_UNIXTIME(?) > NOW(3)" },
	/* Messages left 'sending' longer than the grace period (seconds)
	 * with no status webhook, whose claim no live spooler answers for:
	 * released after an ambiguous outcome (holder NULL), or claimed by
	 * a holder that no longer holds the account's lease (gone; its
	 * answered results were journaled and are replayed by the next
	 * spooler on its host). Queued again once: the one blind resend. */
	[SQL_SPOOL_RECOVER] = { "SPOOL_RECOVER", false, 1, 0,
	    "UPDATE messages m SET m.status = 'queued', m.sending_since = NULL, "
	    "m.sending_holder = NULL, m.blind_resends = m.blind_resends + 1, "
	    "m.next_attempt_at = NOW(3), m.updated_at = UTC_TIMESTAMP() "
	    "WHERE m.status = 'sending' AND m.blind_resends = 0 AND "
	    "m.sending_since < NOW(3) - INTERVAL ? SECOND AND NOT EXISTS "
	    "(SELECT 1 FROM whatsapp_accounts a WHERE "
	    "a.id = m.whatsapp_account_id AND a.lease_holder = m.sending_holder "
	    "AND a.lease_until >= NOW(3))" },
	/* No answer to a request that may have reached Meta: the claim is
	 * left to recovery (id, holder). */
	[SQL_SPOOL_AMBIGUOUS] = { "SPOOL_AMBIGUOUS", false, 2, 0,
	    "UPDATE messages SET sending_holder = NULL WHERE id = ? AND "
	    "status = 'sending' AND sending_holder <=> ?" },
	/* As SPOOL_RECOVER, for messages already resent once: up to 100 ids
	 * (argument: the grace in seconds), failed as ambiguous. */
	[SQL_SPOOL_UNRESOLVED] = { "SPOOL_UNRESOLVED", true, 1, 1,
	    "SELECT m.id FROM messages m "
	    "WHERE m.status = 'sending' AND m.blind_resends > 0 AND "
	    "m.sending_since < NOW(3) - INTERVAL ? SECOND AND NOT EXISTS "
	    "(SELECT 1 FROM whatsapp_accounts a WHERE "
	    "a.id = m.whatsapp_account_id AND a.lease_holder = m.sending_holder "
	    "AND a.lease_until >= NOW(3)) LIMIT 100" },

	/* Outgoing webhooks (app/spooler/queue_webhook.c). Lanes: active
	 * webhooks with due pending deliveries whose lease is free, ours or
	 * expired (argument: holder). Columns: WHL_*. */
	[SQL_WH_LANES] = { "WH_LANES", true, 1, WHL__LANES,
	    "SELECT w.id, w.url, w.secret_enc, w.old_secret_enc, "
	    "COALESCE(w.old_secret_until > UTC_TIMESTAMP(), 0), w.tenant_id "
	    "FROM webhooks w JOIN webhook_state s ON s.webhook_id = w.id "
	    "WHERE w.status = 'active' AND (s.lease_holder IS NULL OR "
	    "s.lease_holder = ? OR s.lease_until < NOW(3)) AND EXISTS "
	    "(SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND "
	    "d.status = 'pending' AND d.next_attempt_at <= NOW(3))" },
	/* (holder, seconds, webhook, holder): a row matched if ours now. */
	[SQL_WH_LEASE] = { "WH_LEASE", false, 4, 0,
	    "UPDATE webhook_state SET lease_holder = ?, "
	    "lease_until = NOW(3) + INTERVAL ? SECOND WHERE webhook_id = ? AND "
	    "(lease_holder IS NULL OR lease_holder = ? OR lease_until < NOW(3))" },
	[SQL_WH_RELEASE] = { "WH_RELEASE", false, 2, 0,
	    "UPDATE webhook_state SET lease_holder = NULL, lease_until = NULL "
	    "WHERE webhook_id = ? AND lease_holder = ?" },
	/* An active webhook as SQL_WH_LANES shows it (webhook): read at each
	 * claim, so a changed url or secret takes effect at once. */
	[SQL_WH_WEBHOOK] = { "WH_WEBHOOK", true, 1, WHL__N,
	    "SELECT w.id, w.url, w.secret_enc, w.old_secret_enc, "
	    "COALESCE(w.old_secret_until > UTC_TIMESTAMP(), 0) "
	    "FROM webhooks w WHERE w.id = ? AND w.status = 'active'" },
	/* In a transaction: up to N due deliveries of a webhook, locked
	 * (webhook, n). */
	[SQL_WH_CLAIM] = { "WH_CLAIM", false, 2, 1,
	    "SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND "
	    "status = 'pending' AND next_attempt_at <= NOW(3) "
	    "ORDER BY next_attempt_at, id LIMIT ? FOR UPDATE SKIP LOCKED" },
	/* Marks a JSON array of claimed ids as this holder's attempt (ids,
	 * holder, claim expiry in seconds): due again after the expiry
	 * unless its result comes first (a spooler that died: at least
	 * once). */
	[SQL_WH_MARK] = { "WH_MARK", false, 3, 0,
	    "UPDATE webhook_deliveries d JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON d.id = j.id "
	    "SET d.sending_holder = ?, d.attempts = d.attempts + 1, "
	    "d.round_attempts = d.round_attempts + 1, "
	    "d.next_attempt_at = NOW(3) + INTERVAL ? SECOND, "
	    "d.updated_at = UTC_TIMESTAMP() WHERE d.status = 'pending'" },
	/* After the claim's commit, no lock: the attempts to start (round
	 * length in microseconds, ids, holder). The body is built here, the
	 * exact bytes signed and sent on every attempt (NULL: the event's
	 * data was purged); WB_LEFT_MS is the time to the round's end (its
	 * 24 h, scaled, or retry_until). Columns: WB_*. */
	[SQL_WH_BODIES] = { "WH_BODIES", true, 3, WB__N,
	    "SELECT d.id, d.attempts, d.round_attempts, e.type, "
	    "CONCAT('{\"id\": \"', e.uuid, '\", \"event\": \"', e.type, "
	    "'\", \"timestamp\": \"', " TS("e.created_at") ", "
	    "'\", \"data\": ', e.data, '}'), "
	    "TIMESTAMPDIFF(MICROSECOND, NOW(3), LEAST(d.round_started_at + "
	    "INTERVAL ? MICROSECOND, COALESCE(d.retry_until, "
	    "'9999-12-31 00:00:00'))) DIV 1000 "
	    "FROM webhook_deliveries d JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON d.id = j.id "
	    "JOIN events e ON e.id = d.event_id "
	    "WHERE d.sending_holder = ? ORDER BY d.next_attempt_at, d.id" },
	/* One attempt's result, in a transaction (delivery, holder, attempt,
	 * attempted_at unix ms, duration ms, status code, error class, error,
	 * response excerpt, outcome, wait ms, failure run that disables in
	 * ms) -> the delivery's status now. */
	[SQL_WH_RESULT] = { "WH_RESULT", false, 12, 1,
	    "CALL wz_delivery_result(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	/* Successful attempts, many at once (a JSON array of {id, holder,
	 * attempt, at_ms, duration_ms, status, response}), in the caller's
	 * transaction: what wz_delivery_result writes for each. */
	[SQL_WH_SUCCEEDED] = { "WH_SUCCEEDED", false, 1, 0,
	    "CALL wz_delivery_succeeded(?)" },
	/* Retention, a batch at a time in a transaction: succeeded
	 * deliveries older than the retention (days) not yet purged; their
	 * purged_at (ids), their attempts' answers (ids), and the data of
	 * their events that no delivery needs any more (ids): none pending,
	 * none failed within the 14 days recover reaches, none succeeded
	 * and unpurged. */
	[SQL_WH_PURGE_PICK] = { "WH_PURGE_PICK", true, 1, 1,
	    "SELECT id FROM webhook_deliveries WHERE status = 'succeeded' AND "
	    "created_at < UTC_TIMESTAMP() - INTERVAL ? DAY AND purged_at IS "
	    "NULL LIMIT " PURGE_BATCH_S },
	[SQL_WH_PURGE_DELIVERIES] = { "WH_PURGE_DELIVERIES", false, 1, 0,
	    "UPDATE webhook_deliveries d JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON d.id = j.id "
	    "SET d.purged_at = UTC_TIMESTAMP()" },
	[SQL_WH_PURGE_ATTEMPTS] = { "WH_PURGE_ATTEMPTS", false, 1, 0,
	    "UPDATE webhook_attempts a JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON a.delivery_id = j.id "
	    "SET a.response = NULL WHERE a.response IS NOT NULL" },
	[SQL_WH_PURGE_EVENTS] = { "WH_PURGE_EVENTS", false, 1, 0,
	    "UPDATE events e JOIN (SELECT DISTINCT d.event_id FROM "
	    "webhook_deliveries d JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON d.id = j.id) x "
	    "ON e.id = x.event_id SET e.data = NULL WHERE e.data IS NOT NULL "
	    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE "
	    "o.event_id = e.id AND (o.status = 'pending' OR (o.status = "
	    "'failed' AND o.created_at >= UTC_TIMESTAMP() - INTERVAL 14 DAY) "
	    "OR (o.status = 'succeeded' AND o.purged_at IS NULL)))" },
	/* Deleted webhooks (a few at a time), whose deliveries go a batch
	 * at a time: their ids picked by the webhook's index (webhook), then
	 * their attempts and themselves deleted by those ids (a JSON array
	 * of ids): a join by key, never a scan of another webhook's rows;
	 * then the state and row (webhook; the webhook again where it is
	 * named twice). */
	[SQL_WH_DELETED] = { "WH_DELETED", true, 0, 1,
	    "SELECT id FROM webhooks WHERE status = 'deleted' LIMIT 10" },
	[SQL_WH_DEL_PICK] = { "WH_DEL_PICK", true, 1, 1,
	    "SELECT id FROM webhook_deliveries WHERE webhook_id = ? "
	    "LIMIT " PURGE_BATCH_S },
	[SQL_WH_DEL_ATTEMPTS] = { "WH_DEL_ATTEMPTS", false, 1, 0,
	    "DELETE a FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED "
	    "PATH '$')) j JOIN webhook_attempts a ON a.delivery_id = j.id" },
	[SQL_WH_DEL_DELIVERIES] = { "WH_DEL_DELIVERIES", false, 1, 0,
	    "DELETE d FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED "
	    "PATH '$')) j JOIN webhook_deliveries d ON d.id = j.id" },
	[SQL_WH_DEL_STATE] = { "WH_DEL_STATE", false, 3, 0,
	    "DELETE FROM webhook_state WHERE webhook_id = ? AND EXISTS "
	    "(SELECT 1 FROM webhooks w WHERE w.id = ? AND "
	    "w.status = 'deleted') AND NOT EXISTS (SELECT 1 FROM "
	    "webhook_deliveries d WHERE d.webhook_id = ?)" },
	[SQL_WH_DEL_WEBHOOK] = { "WH_DEL_WEBHOOK", false, 2, 0,
	    "DELETE FROM webhooks WHERE id = ? AND status = 'deleted' AND NOT "
	    "EXISTS (SELECT 1 FROM webhook_deliveries d WHERE "
	    "d.webhook_id = ?)" },
	/* [campaign-api] */
	/* Segments (app/fcgi/segments.c): rows, SEG_* columns; the JSON is
	 * built in C with the live contact_count. (tenant, id). */
#define SEGMENT_COLS \
	"id, name, tags, match_all, " TS("created_at") ", " TS("updated_at")
	[SQL_SEGMENT_GET] = { "SEGMENT_GET", true, 2, SEG__N,
	    "SELECT " SEGMENT_COLS " FROM segments "
	    "WHERE tenant_id = ? AND id = ?" },
	/* For a change or a delete: the row, locked; a campaign's create
	 * holds a shared lock on it (SQL_CAMPAIGN_SEGMENT_SHARE), so a
	 * delete and a create naming the segment run one after the other. */
	[SQL_SEGMENT_LOCK] = { "SEGMENT_LOCK", false, 2, SEG__N,
	    "SELECT " SEGMENT_COLS " FROM segments "
	    "WHERE tenant_id = ? AND id = ? FOR UPDATE" },
	/* (tenant, limit, offset): newest first, by segments_tenant. */
	[SQL_SEGMENT_LIST] = { "SEGMENT_LIST", true, 3, SEG__N,
	    "SELECT " SEGMENT_COLS " FROM segments WHERE tenant_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?" },
	[SQL_SEGMENT_COUNT] = { "SEGMENT_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM segments WHERE tenant_id = ?" },
	/* (tenant, name, tags, match_all) -> the insert id. */
	[SQL_SEGMENT_CREATE] = { "SEGMENT_CREATE", false, 4, 0,
	    "INSERT INTO segments (tenant_id, name, tags, match_all, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP())" },
	/* (name, tags, match_all, tenant, id); NULL keeps a value. */
	[SQL_SEGMENT_UPDATE] = { "SEGMENT_UPDATE", false, 5, 0,
	    "UPDATE segments SET name = COALESCE(?, name), "
	    "tags = COALESCE(?, tags), match_all = COALESCE(?, match_all), "
	    "updated_at = UTC_TIMESTAMP() WHERE tenant_id = ? AND id = ?" },
	/* After SQL_SEGMENT_LOCK: the campaigns that still need the segment
	 * (segment), as committed (a locking read). */
	[SQL_SEGMENT_IN_USE] = { "SEGMENT_IN_USE", false, 1, 1,
	    "SELECT COUNT(*) FROM campaigns WHERE segment_id = ? AND "
	    "status IN ('scheduled', 'running') LOCK IN SHARE MODE" },
	/* After SQL_SEGMENT_LOCK, before a change of the filter: the running
	 * campaigns taking their audience from it (segment), as committed;
	 * the locking read also holds off a campaign's start until the
	 * change commits. */
	[SQL_SEGMENT_SNAPSHOTTING] = { "SEGMENT_SNAPSHOTTING", false, 1, 1,
	    "SELECT COUNT(*) FROM campaigns WHERE segment_id = ? AND "
	    "status = 'running' AND phase = 'snapshot' LOCK IN SHARE MODE" },
	[SQL_SEGMENT_DELETE] = { "SEGMENT_DELETE", false, 2, 0,
	    "DELETE FROM segments WHERE tenant_id = ? AND id = ?" },
	/* A segment's audience, counted: contacts not opted out, read from
	 * contact_tags alone (its opted_out mirrors the contact's), one
	 * range of its primary key per tag. Without tags, every contact
	 * not opted out (tenant), by contacts_audience. One tag: (tenant,
	 * tag). Any or all of several: (tags as a JSON array, tenant[, the
	 * number of tags]). */
#define AUDIENCE_TAGS \
	"FROM JSON_TABLE(?, '$[*]' COLUMNS (tag VARCHAR(64) CHARACTER SET " \
	"utf8mb4 COLLATE utf8mb4_nopad_bin PATH '$')) j " \
	"JOIN contact_tags t ON t.tenant_id = ? AND t.tag = j.tag " \
	"WHERE t.opted_out = 0"
	[SQL_AUDIENCE_EVERYONE] = { "AUDIENCE_EVERYONE", true, 1, 1,
	    "SELECT COUNT(*) FROM contacts FORCE INDEX (contacts_audience) "
	    "WHERE tenant_id = ? AND opted_out = 0" },
	[SQL_AUDIENCE_TAG] = { "AUDIENCE_TAG", true, 2, 1,
	    "SELECT COUNT(*) FROM contact_tags WHERE tenant_id = ? AND "
	    "tag = ? AND opted_out = 0" },
	[SQL_AUDIENCE_ANY] = { "AUDIENCE_ANY", true, 2, 1,
	    "SELECT COUNT(DISTINCT t.contact_id) " AUDIENCE_TAGS },
	[SQL_AUDIENCE_ALL] = { "AUDIENCE_ALL", true, 3, 1,
	    "SELECT COUNT(*) FROM (SELECT t.contact_id " AUDIENCE_TAGS
	    " GROUP BY t.contact_id HAVING COUNT(*) = ?) x" },

	/* Campaigns (app/fcgi/campaigns.c). In a create's transaction: the
	 * tenant's segment, share-locked against a racing delete (tenant,
	 * id). */
	[SQL_CAMPAIGN_SEGMENT_SHARE] = { "CAMPAIGN_SEGMENT_SHARE", false, 2, 1,
	    "SELECT id FROM segments WHERE tenant_id = ? AND id = ? "
	    "LOCK IN SHARE MODE" },
	/* (tenant, name, account, segment, template name, language,
	 * components, scheduled_at or NULL for now) -> the insert id. A time
	 * up to now is now, on the database's clock (the spooler's). */
	[SQL_CAMPAIGN_CREATE] = { "CAMPAIGN_CREATE", false, 8, 0,
	    "INSERT INTO campaigns (tenant_id, name, whatsapp_account_id, "
	    "segment_id, template_name, template_language, "
	    "template_components, status, scheduled_at, created_at, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', "
	    "GREATEST(COALESCE(?, NOW(3)), NOW(3)), UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP())" },
	/* (tenant, id) -> its JSON. */
	[SQL_CAMPAIGN_GET] = { "CAMPAIGN_GET", true, 2, 1,
	    "SELECT c.json FROM campaign_shapes c "
	    "WHERE c.tenant_id = ? AND c.id = ?" },
	/* (tenant[, status], limit, offset): newest first. */
	[SQL_CAMPAIGN_LIST] = { "CAMPAIGN_LIST", true, 3, 1,
	    "SELECT c.json FROM campaign_shapes c WHERE c.tenant_id = ? "
	    "ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CAMPAIGN_COUNT] = { "CAMPAIGN_COUNT", true, 1, 1,
	    "SELECT COUNT(*) FROM campaigns WHERE tenant_id = ?" },
	[SQL_CAMPAIGN_LIST_STATUS] = { "CAMPAIGN_LIST_STATUS", true, 4, 1,
	    "SELECT c.json FROM campaign_shapes c WHERE c.tenant_id = ? AND "
	    "c.status = ? ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CAMPAIGN_COUNT_STATUS] = { "CAMPAIGN_COUNT_STATUS", true, 2, 1,
	    "SELECT COUNT(*) FROM campaigns WHERE tenant_id = ? AND "
	    "status = ?" },
	/* For a cancel: the row locked (the spooler's batches lock it too,
	 * so a cancel falls between two of them). (tenant, id). */
	[SQL_CAMPAIGN_LOCK] = { "CAMPAIGN_LOCK", false, 2, CK__N,
	    "SELECT status FROM campaigns WHERE tenant_id = ? AND id = ? "
	    "FOR UPDATE" },
	/* (tenant, id): a started campaign's queued messages are parked by
	 * the spooler (phase parking: from snapshot, queue or sending, and
	 * kept if it were parking already); one never started has nothing
	 * to park. */
	[SQL_CAMPAIGN_CANCEL] = { "CAMPAIGN_CANCEL", false, 2, 0,
	    "UPDATE campaigns SET status = 'cancelled', finished_at = NOW(3), "
	    "phase = IF(phase <> 'done' AND started_at IS NOT NULL, "
	    "'parking', 'done'), "
	    "updated_at = UTC_TIMESTAMP() WHERE tenant_id = ? AND id = ? AND "
	    "status IN ('scheduled', 'running')" },
	/* (tenant, id) -> the sums of its counters (CS_*); no row when the
	 * campaign is not the tenant's. */
	[SQL_CAMPAIGN_STATS] = { "CAMPAIGN_STATS", true, 2, CS__N,
	    "SELECT COALESCE(SUM(k.total), 0), COALESCE(SUM(k.queued), 0), "
	    "COALESCE(SUM(k.sent), 0), COALESCE(SUM(k.delivered), 0), "
	    "COALESCE(SUM(k.`read`), 0), COALESCE(SUM(k.failed), 0) "
	    "FROM campaigns c LEFT JOIN campaign_counters k ON "
	    "k.campaign_id = c.id WHERE c.tenant_id = ? AND c.id = ? "
	    "GROUP BY c.id" },
	/* A page of recipients in contact id order (the snapshot's):
	 * (campaign[, status], limit, offset, campaign). The page's contact
	 * ids come from a key alone (the primary key, or
	 * campaign_recipients_status), then only its rows are shaped. */
	[SQL_CAMPAIGN_RECIPIENTS] = { "CAMPAIGN_RECIPIENTS", true, 4, 1,
	    "SELECT v.json FROM (SELECT contact_id FROM campaign_recipients "
	    "WHERE campaign_id = ? ORDER BY contact_id LIMIT ? OFFSET ?) p "
	    "JOIN campaign_recipient_shapes v ON v.contact_id = p.contact_id "
	    "WHERE v.campaign_id = ? ORDER BY p.contact_id" },
	[SQL_CAMPAIGN_RECIPIENTS_STATUS] = { "CAMPAIGN_RECIPIENTS_STATUS", true,
	    5, 1,
	    "SELECT v.json FROM (SELECT contact_id FROM campaign_recipients "
	    "FORCE INDEX (campaign_recipients_status) WHERE campaign_id = ? "
	    "AND status = ? ORDER BY contact_id LIMIT ? OFFSET ?) p "
	    "JOIN campaign_recipient_shapes v ON v.contact_id = p.contact_id "
	    "WHERE v.campaign_id = ? ORDER BY p.contact_id" },
	/* [/campaign-api] */
	/* [campaign-expand] */
	/* Campaigns' expansion (app/spooler/queue_campaign.c; the routines
	 * in sql/routines/campaign_expand.sql). Lanes: due campaigns not done
	 * whose lease is free, ours or expired (holder); one in phase
	 * 'sending' only once none of its recipients is queued (its
	 * completion is due). Columns: CX_*. */
	[SQL_CAMPAIGN_LANES] = { "CAMPAIGN_LANES", true, 1, CX__N,
	    "SELECT c.id, c.phase, c.template_name, c.template_language, "
	    "c.template_components FROM campaigns c "
	    "WHERE c.phase <> 'done' AND c.scheduled_at <= NOW(3) AND "
	    "(c.lease_holder IS NULL OR c.lease_holder = ? OR "
	    "c.lease_until < NOW(3)) AND (c.phase <> 'sending' OR "
	    "(SELECT COALESCE(SUM(k.queued), 0) FROM campaign_counters k "
	    "WHERE k.campaign_id = c.id) = 0)" },
	/* (holder, seconds, campaign, holder): a row matched if ours now. */
	[SQL_CAMPAIGN_LEASE] = { "CAMPAIGN_LEASE", false, 4, 0,
	    "UPDATE campaigns SET lease_holder = ?, "
	    "lease_until = NOW(3) + INTERVAL ? SECOND WHERE id = ? AND "
	    "(lease_holder IS NULL OR lease_holder = ? OR lease_until < NOW(3))" },
	[SQL_CAMPAIGN_RELEASE] = { "CAMPAIGN_RELEASE", false, 2, 0,
	    "UPDATE campaigns SET lease_holder = NULL, lease_until = NULL "
	    "WHERE id = ? AND lease_holder = ?" },
	/* A due scheduled campaign starts (campaign, holder): only by the
	 * lease's holder. */
	[SQL_CAMPAIGN_START] = { "CAMPAIGN_START", false, 2, 0,
	    "UPDATE campaigns SET status = 'running', started_at = NOW(3), "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ? AND "
	    "status = 'scheduled' AND lease_holder = ? AND "
	    "scheduled_at <= NOW(3)" },
	/* One batch each, in a transaction: (campaign, holder, batch) ->
	 * CB_*. */
	[SQL_CAMPAIGN_SNAPSHOT] = { "CAMPAIGN_SNAPSHOT", false, 3, CB__N,
	    "CALL wz_campaign_snapshot(?, ?, ?)" },
	/* (campaign, holder, batch, the messages' content) -> CB_*. */
	[SQL_CAMPAIGN_QUEUE] = { "CAMPAIGN_QUEUE", false, 4, CB__N,
	    "CALL wz_campaign_queue(?, ?, ?, ?)" },
	/* (campaign, holder) -> CB_* (n: 1 if completed now). */
	[SQL_CAMPAIGN_COMPLETE] = { "CAMPAIGN_COMPLETE", false, 2, CB__N,
	    "CALL wz_campaign_complete(?, ?)" },
	/* (campaign, holder, after this contact id, batch) -> CB_*. */
	[SQL_CAMPAIGN_PARK] = { "CAMPAIGN_PARK", false, 4, CB__N,
	    "CALL wz_campaign_park(?, ?, ?, ?)" },
	/* [/campaign-expand] */
	/* [campaign-send] */
	/* SQL_SPOOL_CLAIM for lane 1, a running campaign's messages: what
	 * a claim takes after the conversational ones. The same columns
	 * (SC_*). */
	[SQL_CSEND_CLAIM] = { "CSEND_CLAIM", false, 2, SC__N,
	    "SELECT id, to_phone, type, content, attempts, "
	    "TIMESTAMPDIFF(SECOND, accepted_at, NOW(3)), error_code, "
	    "error_title, error_message, campaign_id, contact_id FROM messages "
	    "WHERE whatsapp_account_id = ? AND status = 'queued' AND "
	    "lane = 1 AND next_attempt_at <= NOW(3) "
	    "ORDER BY next_attempt_at, id LIMIT ? "
	    "FOR UPDATE SKIP LOCKED" },
	/* The campaigns of a claim's campaign messages (a JSON array of
	 * ids): not locked, read after the claim committed. */
	[SQL_CSEND_CAMPAIGNS] = { "CSEND_CAMPAIGNS", true, 1, CSCAMP__N,
	    "SELECT c.id, c.status FROM JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j JOIN campaigns c ON c.id = j.id" },
	/* Their contacts as they are now (a JSON array of ids), in id
	 * order; a deleted one is missing. Not locked. */
	[SQL_CSEND_CONTACTS] = { "CSEND_CONTACTS", true, 1, CSCON__N,
	    "SELECT c.id, c.name, c.phone, c.email, c.custom_fields, "
	    "c.opted_out FROM JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j JOIN contacts c ON c.id = j.id "
	    "ORDER BY c.id" },
	/* A claimed message of a campaign no longer running, parked: back
	 * to 'queued' (to its campaign: it was never anything else) in
	 * lane 2, never claimed, its attempt not counted (id, holder). */
	[SQL_CSEND_PARK] = { "CSEND_PARK", false, 2, 0,
	    "UPDATE messages SET status = 'queued', lane = 2, "
	    "sending_since = NULL, sending_holder = NULL, "
	    "attempts = GREATEST(attempts, 1) - 1, "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ? AND "
	    "status = 'sending' AND sending_holder <=> ?" },
	/* Stops a running campaign after Meta's campaign-level error
	 * (campaign, code, title, message), in the transaction of its
	 * message's failure -> 1 if it stopped it now. */
	[SQL_CSEND_STOP] = { "CSEND_STOP", false, 4, 1,
	    "CALL wz_campaign_stop(?, ?, ?, ?)" },
	/* [/campaign-send] */
	[SQL_MIGRATION_LOCK] = { "MIGRATION_LOCK", false, 0, 1,
	    "SELECT GET_LOCK('wazera_migrate', 60)" },
	[SQL_MIGRATION_UNLOCK] = { "MIGRATION_UNLOCK", false, 0, 1,
	    "SELECT RELEASE_LOCK('wazera_migrate')" },
	[SQL_MIGRATION_LIST] = { "MIGRATION_LIST", false, 0, 2,
	    "SELECT version, checksum FROM schema_migrations" },
	[SQL_MIGRATION_INSERT] = { "MIGRATION_INSERT", false, 2, 0,
	    "INSERT INTO schema_migrations (version, applied_at, checksum) "
	    "VALUES (?, UTC_TIMESTAMP(), ?)" },
	[SQL_MIGRATION_ROUTINES] = { "MIGRATION_ROUTINES", false, 0, 2,
	    "SELECT file, checksum FROM schema_routines" },
	/* (file, checksum) */
	[SQL_MIGRATION_ROUTINE_SET] = { "MIGRATION_ROUTINE_SET", false, 2, 0,
	    "INSERT INTO schema_routines (file, checksum, applied_at) "
	    "VALUES (?, ?, UTC_TIMESTAMP()) ON DUPLICATE KEY UPDATE "
	    "checksum = VALUES(checksum), applied_at = VALUES(applied_at)" },
	/* [status] */
	/* The newest migration applied (GET /health). */
	[SQL_HEALTH_SCHEMA] = { "HEALTH_SCHEMA", true, 0, 1,
	    "SELECT MAX(version) FROM schema_migrations" },
	/* The message queue: queued and due, queued for later (retries),
	 * parked (campaigns stopped), in flight; the oldest due and its age
	 * in seconds. Read through messages_claim, account by account, so
	 * only queued and sending rows are touched. */
	[SQL_STATUS_MESSAGES] = { "STATUS_MESSAGES", true, 0, QS__N,
	    "SELECT COALESCE(SUM(m.status = 'queued' AND m.lane < 2 AND "
	    "m.next_attempt_at <= NOW(3)), 0), "
	    "COALESCE(SUM(m.status = 'queued' AND m.lane < 2 AND "
	    "m.next_attempt_at > NOW(3)), 0), "
	    "COALESCE(SUM(m.status = 'queued' AND m.lane = 2), 0), "
	    "COALESCE(SUM(m.status = 'sending'), 0), "
	    TS("MIN(IF(m.status = 'queued' AND m.lane < 2 AND "
	    "m.next_attempt_at <= NOW(3), m.next_attempt_at, NULL))") ", "
	    "TIMESTAMPDIFF(SECOND, MIN(IF(m.status = 'queued' AND m.lane < 2 "
	    "AND m.next_attempt_at <= NOW(3), m.next_attempt_at, NULL)), "
	    "NOW(3)) "
	    "FROM whatsapp_accounts a JOIN messages m ON "
	    "m.whatsapp_account_id = a.id AND m.status IN ('queued', "
	    "'sending')" },
	/* Webhook deliveries pending: due, later (retries), -, in flight
	 * (a spooler's attempt under way), the oldest due. */
	[SQL_STATUS_DELIVERIES] = { "STATUS_DELIVERIES", true, 0, QS__N,
	    "SELECT COALESCE(SUM(d.next_attempt_at <= NOW(3) AND "
	    "d.sending_holder IS NULL), 0), "
	    "COALESCE(SUM(d.next_attempt_at > NOW(3) AND "
	    "d.sending_holder IS NULL), 0), 0, "
	    "COALESCE(SUM(d.sending_holder IS NOT NULL), 0), "
	    TS("MIN(IF(d.next_attempt_at <= NOW(3), d.next_attempt_at, "
	    "NULL))") ", "
	    "TIMESTAMPDIFF(SECOND, MIN(IF(d.next_attempt_at <= NOW(3), "
	    "d.next_attempt_at, NULL)), NOW(3)) "
	    "FROM webhooks w JOIN webhook_deliveries d ON d.webhook_id = w.id "
	    "AND d.status = 'pending'" },
	/* Campaigns with expansion left: scheduled and due (or running),
	 * scheduled for later, stopping (parking), -, the oldest due. */
	[SQL_STATUS_CAMPAIGNS] = { "STATUS_CAMPAIGNS", true, 0, QS__N,
	    "SELECT COALESCE(SUM(phase <> 'parking' AND scheduled_at <= "
	    "NOW(3)), 0), COALESCE(SUM(scheduled_at > NOW(3)), 0), "
	    "COALESCE(SUM(phase = 'parking'), 0), 0, "
	    TS("MIN(IF(scheduled_at <= NOW(3), scheduled_at, NULL))") ", "
	    "TIMESTAMPDIFF(SECOND, MIN(IF(scheduled_at <= NOW(3), "
	    "scheduled_at, NULL)), NOW(3)) "
	    "FROM campaigns WHERE phase <> 'done'" },
	/* The spoolers' leases held now: kind, id, holder, until. */
	[SQL_STATUS_LEASES] = { "STATUS_LEASES", true, 0, LS__N,
	    "SELECT 'account', id, lease_holder, " TS("lease_until") " "
	    "FROM whatsapp_accounts WHERE lease_until > NOW(3) "
	    "UNION ALL SELECT 'webhook', webhook_id, lease_holder, "
	    TS("lease_until") " FROM webhook_state WHERE lease_until > NOW(3) "
	    "UNION ALL SELECT 'campaign', id, lease_holder, "
	    TS("lease_until") " FROM campaigns WHERE phase <> 'done' AND "
	    "lease_until > NOW(3) ORDER BY 3, 1, 2" },
	/* Webhooks disabled, or failing (a run of failures under way), with
	 * their pending deliveries; the URL's scheme and host only (paths
	 * and queries carry tokens). At most 100. */
	[SQL_STATUS_WEBHOOKS] = { "STATUS_WEBHOOKS", true, 0, SW__N,
	    "SELECT w.id, w.tenant_id, SUBSTRING_INDEX(SUBSTRING_INDEX("
	    "SUBSTRING_INDEX(w.url, '?', 1), '#', 1), '/', 3), w.status, "
	    "w.disabled_reason, "
	    TS("s.failing_since") ", (SELECT COUNT(*) FROM webhook_deliveries "
	    "d WHERE d.webhook_id = w.id AND d.status = 'pending') "
	    "FROM webhooks w LEFT JOIN webhook_state s ON s.webhook_id = w.id "
	    "WHERE w.status = 'disabled' OR (w.status = 'active' AND "
	    "s.failing_since IS NOT NULL) ORDER BY w.id LIMIT 100" },
	/* Accounts paused by Meta's answers, until when. */
	[SQL_STATUS_PAUSED] = { "STATUS_PAUSED", true, 0, SP__N,
	    "SELECT id, tenant_id, display_phone, " TS("paused_until") " "
	    "FROM whatsapp_accounts WHERE paused_until > NOW(3) ORDER BY id" },
	/* [/status] */

	/* Dashboard users and sessions (SPEC 10, sql/schema/005). */
	/* (tenant, name, email, role, password hash or NULL): login_email
	 * is the email while there is a password (unique across tenants). */
	[SQL_USER_CREATE] = { "USER_CREATE", false, 5, 0,
	    "INSERT INTO users (tenant_id, name, email, role, password_hash, "
	    "login_email, created_at, updated_at) VALUES (?, ?, ?, ?, ?, "
	    "IF(password_hash IS NULL, NULL, email), UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP())" },
	[SQL_USER_READ] = { "USER_READ", true, 1, UR__N,
	    "SELECT id, tenant_id, name, email, role FROM users WHERE id = ?" },
	/* (hash, id) */
	[SQL_USER_SET_PASSWORD] = { "USER_SET_PASSWORD", false, 2, 0,
	    "UPDATE users SET password_hash = ?, login_email = email, "
	    "updated_at = UTC_TIMESTAMP() WHERE id = ?" },
	/* (email, email) -> the user who signs in with it, if any, and the
	 * email as login_email's collation compares it (case, accents,
	 * trailing spaces folded): the sign-in throttle's key, the same for
	 * every spelling, whether or not a user has it. One row always. */
	[SQL_LOGIN_LOOKUP] = { "LOGIN_LOOKUP", true, 2, UR__N + 2,
	    "SELECT u.id, u.tenant_id, u.name, u.email, u.role, "
	    "u.password_hash, WEIGHT_STRING(TRIM(TRAILING ' ' FROM "
	    "CONVERT(? USING utf8mb4)) COLLATE utf8mb4_general_ci) "
	    "FROM (SELECT 1) one LEFT JOIN users u ON u.login_email = ? "
	    "AND u.password_hash IS NOT NULL" },
	/* (id hash, user, tenant) */
	[SQL_SESSION_INSERT] = { "SESSION_INSERT", false, 3, 0,
	    "INSERT INTO sessions (id_hash, user_id, tenant_id, created_at, "
	    "last_seen_at, expires_at) VALUES (?, ?, ?, UTC_TIMESTAMP(), "
	    "UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL 7 DAY)" },
	/* A live session: not past its 7 days, seen within 12 hours, its
	 * user still able to sign in. Stale: last seen a minute ago or more
	 * (then it is touched). */
	[SQL_SESSION_LOOKUP] = { "SESSION_LOOKUP", true, 1, SES__N,
	    "SELECT s.user_id, s.tenant_id, u.name, u.email, u.role, "
	    TENANT_LIMIT("t.") ", "
	    "s.last_seen_at <= UTC_TIMESTAMP() - INTERVAL 1 MINUTE "
	    "FROM sessions s JOIN users u ON u.id = s.user_id "
	    "JOIN tenants t ON t.id = s.tenant_id "
	    "WHERE s.id_hash = ? AND s.expires_at > UTC_TIMESTAMP() AND "
	    "s.last_seen_at > UTC_TIMESTAMP() - INTERVAL 12 HOUR AND "
	    "u.password_hash IS NOT NULL" },
	[SQL_SESSION_TOUCH] = { "SESSION_TOUCH", true, 1, 0,
	    "UPDATE sessions SET last_seen_at = UTC_TIMESTAMP() "
	    "WHERE id_hash = ?" },
	[SQL_SESSION_DELETE] = { "SESSION_DELETE", true, 1, 0,
	    "DELETE FROM sessions WHERE id_hash = ?" },
	[SQL_SESSION_DELETE_USER] = { "SESSION_DELETE_USER", true, 1, 0,
	    "DELETE FROM sessions WHERE user_id = ?" },
	[SQL_SESSION_PURGE] = { "SESSION_PURGE", true, 0, 0,
	    "DELETE FROM sessions WHERE expires_at <= UTC_TIMESTAMP() OR "
	    "last_seen_at <= UTC_TIMESTAMP() - INTERVAL 12 HOUR "
	    "LIMIT " PURGE_BATCH_S },
	/* As SQL_RATE_INSERT, for a signed-in user. */
	[SQL_USER_RATE_HIT] = { "USER_RATE_HIT", false, 1, 0,
	    "INSERT INTO user_rate_counters (user_id, rl_window, hits) "
	    "VALUES (?, UNIX_TIMESTAMP() DIV 60, LAST_INSERT_ID(1)) "
	    "ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(IF(rl_window = "
	    "UNIX_TIMESTAMP() DIV 60, hits + 1, 1)), "
	    "rl_window = UNIX_TIMESTAMP() DIV 60" },
	/* Counts a sign-in attempt of a subject and hands the count in its
	 * window back through LAST_INSERT_ID; a window that ended starts
	 * over. The assignments run left to right: failures reads the old
	 * window_end. */
	[SQL_THROTTLE_HIT] = { "THROTTLE_HIT", false, 1, 0,
	    "INSERT INTO login_throttle (subject, failures, window_end) "
	    "VALUES (?, LAST_INSERT_ID(1), UTC_TIMESTAMP() + INTERVAL 15 MINUTE) "
	    "ON DUPLICATE KEY UPDATE failures = LAST_INSERT_ID(IF(window_end "
	    "<= UTC_TIMESTAMP(), 1, failures + 1)), window_end = "
	    "IF(window_end <= UTC_TIMESTAMP(), UTC_TIMESTAMP() + "
	    "INTERVAL 15 MINUTE, window_end)" },
	/* Seconds until the subject's window ends, at least 1. */
	[SQL_THROTTLE_WAIT] = { "THROTTLE_WAIT", true, 1, 1,
	    "SELECT GREATEST(1, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), "
	    "window_end)) FROM login_throttle WHERE subject = ?" },
	[SQL_THROTTLE_UNDO] = { "THROTTLE_UNDO", true, 1, 0,
	    "UPDATE login_throttle SET failures = failures - 1 "
	    "WHERE subject = ? AND failures > 0" },
	[SQL_THROTTLE_PURGE] = { "THROTTLE_PURGE", true, 0, 0,
	    "DELETE FROM login_throttle WHERE window_end <= UTC_TIMESTAMP() "
	    "LIMIT " PURGE_BATCH_S },
};

const char *
sql_text(enum sql id)
{
	return sqls[id].text;
}

const char *
sql_name(enum sql id)
{
	return sqls[id].name;
}

bool
sql_is_call(enum sql id)
{
	return strncmp(sqls[id].text, "CALL ", 5) == 0;
}

bool
sql_retryable(enum sql id)
{
	return sqls[id].retryable;
}

unsigned
sql_params(enum sql id)
{
	return sqls[id].params;
}

unsigned
sql_cols(enum sql id)
{
	return sqls[id].cols;
}
