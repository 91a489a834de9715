#include "sql.h"

#define TS(col)	"DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* The columns of a contact, in the order contact_json() reads them. */
#define CONTACT_COLS \
	"c.id, c.name, c.phone, c.email, c.tags, c.custom_fields, " \
	"c.opted_out, " TS("c.created_at") ", " TS("c.updated_at")

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
	"JOIN contacts c ON c.id = t1.contact_id " \
	"WHERE t1.tenant_id = ? AND t1.tri = ? AND " LIKE_ANY " AND " TAG_OPT

static const struct {
	const char	*name;
	bool		 retryable;
	const char	*text;
} sqls[SQL__MAX] = {
	/* Columns: id, tenant, scopes, hash, dead (revoked or expired),
	 * limit per minute, expiry (unix seconds or NULL). */
	[SQL_AUTH_LOOKUP] = { "AUTH_LOOKUP", true,
	    "SELECT k.id, k.tenant_id, k.scopes, k.key_hash, "
	    "k.revoked_at IS NOT NULL OR (k.expires_at IS NOT NULL AND "
	    "k.expires_at <= UTC_TIMESTAMP()), "
	    "COALESCE(t.rate_limit, CASE t.plan WHEN 'starter' THEN 100 "
	    "WHEN 'professional' THEN 500 ELSE 2000 END), "
	    "UNIX_TIMESTAMP(k.expires_at) "
	    "FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
	    "WHERE k.key_hash = ?" },
	/* Counts one request in the key's fixed one-minute window (the
	 * database's clock, so hosts agree) and hands the new count back
	 * through LAST_INSERT_ID. Matches no row when the key has no counter:
	 * not used since the server started, or revoked. */
	[SQL_RATE_HIT] = { "RATE_HIT", true,
	    "UPDATE rate_counters SET hits = LAST_INSERT_ID(IF(rl_window = "
	    "UNIX_TIMESTAMP() DIV 60, hits + 1, 1)), "
	    "rl_window = UNIX_TIMESTAMP() DIV 60 WHERE key_id = ?" },
	[SQL_RATE_INSERT] = { "RATE_INSERT", false,
	    "INSERT INTO rate_counters (key_id, rl_window, hits) "
	    "VALUES (?, UNIX_TIMESTAMP() DIV 60, LAST_INSERT_ID(1)) "
	    "ON DUPLICATE KEY UPDATE hits = LAST_INSERT_ID(IF(rl_window = "
	    "UNIX_TIMESTAMP() DIV 60, hits + 1, 1)), "
	    "rl_window = UNIX_TIMESTAMP() DIV 60" },
	[SQL_RATE_FORGET] = { "RATE_FORGET", true,
	    "DELETE FROM rate_counters WHERE key_id = ?" },
	/* Matches the key only while it is alive. */
	[SQL_APIKEY_TOUCH] = { "APIKEY_TOUCH", true,
	    "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP() WHERE id = ? "
	    "AND revoked_at IS NULL AND "
	    "(expires_at IS NULL OR expires_at > UTC_TIMESTAMP())" },
	[SQL_TENANT_GET] = { "TENANT_GET", true,
	    "SELECT id, name, plan, COALESCE(rate_limit, CASE plan "
	    "WHEN 'starter' THEN 100 WHEN 'professional' THEN 500 ELSE 2000 END), "
	    TS("created_at") " FROM tenants WHERE id = ?" },
	[SQL_TENANT_INSERT] = { "TENANT_INSERT", false,
	    "INSERT INTO tenants (name, plan, rate_limit, created_at, updated_at) "
	    "VALUES (?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP())" },
	[SQL_APIKEY_INSERT] = { "APIKEY_INSERT", false,
	    "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes, "
	    "created_at, expires_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(), ?)" },
	[SQL_APIKEY_GET] = { "APIKEY_GET", true,
	    "SELECT " APIKEY_COLS ", tenant_id FROM api_keys WHERE id = ?" },
	[SQL_APIKEY_LIST] = { "APIKEY_LIST", true,
	    "SELECT " APIKEY_COLS " FROM api_keys WHERE tenant_id = ? "
	    "ORDER BY id DESC LIMIT ? OFFSET ?" },
	[SQL_APIKEY_COUNT] = { "APIKEY_COUNT", true,
	    "SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?" },
	[SQL_APIKEY_REVOKE] = { "APIKEY_REVOKE", false,
	    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, "
	    "UTC_TIMESTAMP()) WHERE tenant_id = ? AND id = ?" },
	[SQL_APIKEY_REVOKE_ANY] = { "APIKEY_REVOKE_ANY", false,
	    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, "
	    "UTC_TIMESTAMP()) WHERE id = ?" },
	[SQL_CONTACT_GET] = { "CONTACT_GET", true,
	    "SELECT " CONTACT_COLS " FROM contacts c "
	    "WHERE c.tenant_id = ? AND c.id = ?" },
	[SQL_CONTACT_GET_FOR_UPDATE] = { "CONTACT_GET_FOR_UPDATE", false,
	    "SELECT " CONTACT_COLS " FROM contacts c "
	    "WHERE c.tenant_id = ? AND c.id = ? FOR UPDATE" },
	[SQL_CONTACT_CREATE] = { "CONTACT_CREATE", false,
	    "CALL wz_contact_create(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	[SQL_CONTACT_UPDATE] = { "CONTACT_UPDATE", false,
	    "CALL wz_contact_update(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
	[SQL_CONTACT_DELETE] = { "CONTACT_DELETE", false,
	    "CALL wz_contact_delete(?, ?, ?)" },
	[SQL_CONTACT_COUNT_ALL] = { "CONTACT_COUNT_ALL", true,
	    "SELECT contacts FROM tenant_counters WHERE tenant_id = ?" },
	[SQL_CONTACT_LIST] = { "CONTACT_LIST", true,
	    "SELECT " CONTACT_COLS " FROM contacts c WHERE c.tenant_id = ? "
	    "ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_LIST_TAG] = { "CONTACT_LIST_TAG", true,
	    "SELECT " CONTACT_COLS " FROM contact_tags g "
	    "JOIN contacts c ON c.id = g.contact_id "
	    "WHERE g.tenant_id = ? AND g.tag = ? "
	    "ORDER BY g.contact_id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_COUNT_TAG] = { "CONTACT_COUNT_TAG", true,
	    "SELECT COUNT(*) FROM contact_tags WHERE tenant_id = ? AND tag = ?" },
	[SQL_CONTACT_LIST_SCAN] = { "CONTACT_LIST_SCAN", true,
	    "SELECT " CONTACT_COLS " FROM contacts c WHERE c.tenant_id = ? AND "
	    LIKE_ANY " AND " TAG_OPT " ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_COUNT_SCAN] = { "CONTACT_COUNT_SCAN", true,
	    "SELECT COUNT(*) FROM contacts c WHERE c.tenant_id = ? AND "
	    LIKE_ANY " AND " TAG_OPT },
	[SQL_CONTACT_LIST_TRI] = { "CONTACT_LIST_TRI", true,
	    "SELECT " CONTACT_COLS " " TRI_JOIN
	    " ORDER BY c.id DESC LIMIT ? OFFSET ?" },
	[SQL_CONTACT_COUNT_TRI] = { "CONTACT_COUNT_TRI", true,
	    "SELECT COUNT(*) " TRI_JOIN },
	[SQL_IDEM_INSERT] = { "IDEM_INSERT", false,
	    "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, "
	    "created_at) VALUES (?, ?, ?, UTC_TIMESTAMP())" },
	[SQL_IDEM_GET] = { "IDEM_GET", false,
	    "SELECT request_hash, status, body, "
	    "created_at < UTC_TIMESTAMP() - INTERVAL 24 HOUR "
	    "FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?" },
	[SQL_IDEM_DELETE] = { "IDEM_DELETE", false,
	    "DELETE FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?" },
	[SQL_IDEM_COMPLETE] = { "IDEM_COMPLETE", false,
	    "UPDATE idempotency_keys SET status = ?, body = ? "
	    "WHERE tenant_id = ? AND idem_key = ?" },
	[SQL_MIGRATION_LOCK] = { "MIGRATION_LOCK", false,
	    "SELECT GET_LOCK('wazera_migrate', 60)" },
	[SQL_MIGRATION_UNLOCK] = { "MIGRATION_UNLOCK", false,
	    "SELECT RELEASE_LOCK('wazera_migrate')" },
	[SQL_MIGRATION_LIST] = { "MIGRATION_LIST", true,
	    "SELECT version FROM schema_migrations" },
	[SQL_MIGRATION_INSERT] = { "MIGRATION_INSERT", false,
	    "INSERT INTO schema_migrations (version, applied_at) "
	    "VALUES (?, UTC_TIMESTAMP())" },
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
sql_retryable(enum sql id)
{
	return sqls[id].retryable;
}
