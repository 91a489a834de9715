#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "crypto.h"
#include "request.h"

enum {	/* columns of CALL wz_auth() */
	AUTH_ID, AUTH_TENANT, AUTH_SCOPES, AUTH_HASH, AUTH_DEAD, AUTH_LIMIT,
	AUTH_HITS, AUTH_RESET
};

/* The key from "Authorization: Bearer <key>", else "X-API-Key". */
static const char *
request_key(const struct req *r, size_t *len)
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

int
auth_request(struct req *r)
{
	uint8_t hash[KEY_HASH_LEN];
	struct db_res res;
	struct db_arg arg;
	enum db_rc rc;
	const char *key;
	size_t len = 0;

	if ((key = request_key(r, &len)) == NULL) {
		reply_error(r, ERR_AUTHENTICATION, "Authentication required: send "
		    "an API key as 'Authorization: Bearer <key>'.", NULL);
		return -1;
	}
	if (!apikey_wellformed(key, len)) {
		reply_error(r, ERR_AUTHENTICATION, "The API key is invalid.", NULL);
		return -1;
	}
	apikey_hash(key, len, hash);
	arg = DBA_BLOB(hash, sizeof(hash));
	if ((rc = db_query_one(r->db, &r->pool, SQL_AUTH, &arg, 1, &res)) != DB_OK) {
		reply_db(r, rc == DB_RETRY ? DB_DOWN : rc);
		return -1;
	}
	/* The lookup was by hash; compare the stored hash in constant time
	 * all the same, so no code path depends on partial matches. */
	if (db_isnull(&res, 0, AUTH_ID) || db_len(&res, 0, AUTH_HASH) !=
	    KEY_HASH_LEN || sodium_memcmp(db_str(&res, 0, AUTH_HASH), hash,
	    KEY_HASH_LEN) != 0) {
		reply_error(r, ERR_AUTHENTICATION, "The API key is invalid.", NULL);
		return -1;
	}
	if (db_int(&res, 0, AUTH_DEAD)) {
		reply_error(r, ERR_KEY_REVOKED, "The API key has been revoked or "
		    "has expired.", NULL);
		return -1;
	}
	r->key_id = db_int(&res, 0, AUTH_ID);
	r->tenant_id = db_int(&res, 0, AUTH_TENANT);
	r->scopes = (uint32_t)db_int(&res, 0, AUTH_SCOPES);
	r->rl_known = true;
	r->rl_limit = db_int(&res, 0, AUTH_LIMIT);
	r->rl_remaining = r->rl_limit - db_int(&res, 0, AUTH_HITS);
	r->rl_reset = db_int(&res, 0, AUTH_RESET);
	return 0;
}
