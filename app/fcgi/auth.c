/* Authentication and rate limiting: one database round trip per request.
 *
 * A key's identity (tenant, scopes, expiry, the tenant's limit) is cached
 * in the worker for AUTH_CACHE_TTL seconds. On a cache hit the only
 * statement is the rate-limit update on the key's counter row (a MEMORY
 * table, see sql/schema/001_baseline.sql). The counter row doubles as the key's "alive"
 * mark: revoking a key deletes it, so the next request of any worker finds
 * no row and reloads the key from api_keys, and a revoked key stops at once.
 * Only a change of a tenant's plan or limit takes up to AUTH_CACHE_TTL
 * seconds to be seen, and last_used_at is refreshed on each reload.
 *
 * A reload is three statements: look the key up, create or bump its counter,
 * then confirm the key is still alive (touching last_used_at). The counter
 * is created before the confirmation so a revocation racing with the reload
 * either is seen by the confirmation or deletes the new row after it.
 *
 * A request without a key but with a dashboard session's cookie is the
 * session's (session.c): one step of the same chain, after which the
 * router checks CSRF, scopes and the limit as for a key. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "crypto.h"
#include "request.h"
#include "session.h"

#define AUTH_CACHE_SLOTS	1024	/* direct-mapped: bounded memory */
#define AUTH_CACHE_TTL		10

struct auth_entry {
	uint8_t		 hash[KEY_HASH_LEN];
	int64_t		 key_id;
	int64_t		 tenant_id;
	uint32_t	 scopes;
	long long	 limit;
	time_t		 expires;	/* monotonic seconds; 0: never */
	time_t		 loaded;	/* monotonic seconds; 0: empty slot */
};

static struct auth_entry cache[AUTH_CACHE_SLOTS];

/* Seconds on a clock that only moves forward, never 0: the cache's times
 * and a key's expiry, which the database gives as seconds from its now. */
static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + 1;
}

static struct auth_entry *
cache_slot(const uint8_t *hash)
{
	return &cache[((unsigned)hash[0] << 8 | hash[1]) % AUTH_CACHE_SLOTS];
}

const char *
auth_key(const struct req *r, size_t *len)
{
	const char *a = r->authorization, *k = NULL;

	if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
		k = a + 7;
		while (*k == ' ')
			k++;
	} else if (r->x_api_key != NULL)
		k = r->x_api_key;
	if (k == NULL || *k == '\0')
		return NULL;
	*len = strlen(k);
	while (*len > 0 && (k[*len - 1] == ' ' || k[*len - 1] == '\t'))
		(*len)--;
	return k;
}

/* Loads a key into its cache slot. Returns 0, or -1 after replying. */
static int
auth_load(struct req *r, const uint8_t *hash, struct auth_entry *e)
{
	struct db_res res;
	struct db_arg arg = DBA_BLOB(hash, KEY_HASH_LEN);
	enum db_rc rc;

	rc = db_query_one(r->db, &r->pool, SQL_AUTH_LOOKUP, &arg, 1, &res);
	if (rc == DB_NOROW || (rc == DB_OK && (db_len(&res, 0, AUTH_HASH) !=
	    KEY_HASH_LEN || sodium_memcmp(db_str(&res, 0, AUTH_HASH), hash,
	    KEY_HASH_LEN) != 0))) {
		reply_error(r, ERR_AUTHENTICATION, "The API key is invalid.", NULL);
		return -1;
	}
	if (rc != DB_OK) {
		reply_db(r, rc == DB_RETRY ? DB_DOWN : rc);
		return -1;
	}
	if (db_int(&res, 0, AUTH_DEAD)) {
		reply_error(r, ERR_KEY_REVOKED, "The API key has been revoked or "
		    "has expired.", NULL);
		return -1;
	}
	memcpy(e->hash, hash, KEY_HASH_LEN);
	e->key_id = db_int(&res, 0, AUTH_ID);
	e->tenant_id = db_int(&res, 0, AUTH_TENANT);
	e->scopes = (uint32_t)db_int(&res, 0, AUTH_SCOPES);
	e->limit = db_int(&res, 0, AUTH_LIMIT);
	e->loaded = mono_now();
	e->expires = db_isnull(&res, 0, AUTH_EXPIRES) ? 0 :
	    e->loaded + (time_t)db_int(&res, 0, AUTH_EXPIRES);
	return 0;
}

static int
reply_revoked(struct req *r, struct auth_entry *e)
{
	e->loaded = 0;
	reply_error(r, ERR_KEY_REVOKED, "The API key has been revoked or has "
	    "expired.", NULL);
	return -1;
}

/* Counts the request, reloading the key when it has no counter row.
 * Returns 0 with *hits set, or -1 after replying. */
static int
rate_count(struct req *r, const uint8_t *hash, struct auth_entry *e,
    bool fresh, uint64_t *hits)
{
	struct db_arg arg;
	uint64_t matched = 0;
	enum db_rc rc;

	if (fresh) {
		arg = DBA_INT(e->key_id);
		rc = db_exec(r->db, SQL_RATE_HIT, &arg, 1, &matched, hits);
		if (rc != DB_OK)
			goto fail;
		if (matched == 1)
			return 0;
		e->loaded = 0;	/* no counter: revoked, or first use */
		if (auth_load(r, hash, e) == -1)
			return -1;
	}
	arg = DBA_INT(e->key_id);
	if ((rc = db_exec(r->db, SQL_RATE_INSERT, &arg, 1, NULL, hits)) != DB_OK)
		goto fail;
	if ((rc = db_exec(r->db, SQL_APIKEY_TOUCH, &arg, 1, &matched, NULL)) !=
	    DB_OK)
		goto fail;
	if (matched == 0) {
		(void)db_exec(r->db, SQL_RATE_FORGET, &arg, 1, NULL, NULL);
		return reply_revoked(r, e);
	}
	return 0;
fail:
	e->loaded = 0;
	reply_db(r, rc == DB_RETRY ? DB_DOWN : rc);
	return -1;
}

int
auth_request(struct req *r)
{
	uint8_t hash[KEY_HASH_LEN];
	struct auth_entry *e;
	uint64_t hits = 0;
	const char *key;
	size_t len = 0;
	time_t now = mono_now();
	bool fresh;

	/* A key is judged alone; without one, a dashboard session. */
	if ((key = auth_key(r, &len)) == NULL) {
		if (session_present(r))
			return session_auth(r);
		reply_error(r, ERR_AUTHENTICATION, "Authentication required: send "
		    "an API key as 'Authorization: Bearer <key>'.", NULL);
		return -1;
	}
	if (!apikey_wellformed(key, len)) {
		reply_error(r, ERR_AUTHENTICATION, "The API key is invalid.", NULL);
		return -1;
	}
	apikey_hash(key, len, hash);
	e = cache_slot(hash);
	fresh = e->loaded != 0 && now >= e->loaded &&
	    now - e->loaded < AUTH_CACHE_TTL &&
	    sodium_memcmp(e->hash, hash, KEY_HASH_LEN) == 0;
	if (!fresh) {
		e->loaded = 0;
		if (auth_load(r, hash, e) == -1)
			return -1;
	}
	if (e->expires != 0 && now >= e->expires)
		return reply_revoked(r, e);
	if (rate_count(r, hash, e, fresh, &hits) == -1)
		return -1;
	r->key_id = e->key_id;
	r->tenant_id = e->tenant_id;
	r->scopes = e->scopes;
	auth_rate(r, e->limit, hits);
	return 0;
}

void
auth_rate(struct req *r, long long limit, uint64_t hits)
{
	r->rl_known = true;
	r->rl_limit = limit;
	r->rl_remaining = limit - (long long)hits;
	r->rl_reset = (time(NULL) / 60 + 1) * 60;
}
