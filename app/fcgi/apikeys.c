/* The tenant's API keys: GET /api-keys, POST /api-keys, DELETE
 * /api-keys/{id}. Keys are issued by the operator (wazera-admin apikey
 * create) or by an admin in the dashboard (POST, which needs a key without
 * scope restrictions or an admin's session); a key's secret is shown once,
 * in the answer that created it. */
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <json-c/json.h>

#include "crypto.h"

#include "handlers.h"
#include "request.h"
#include "scopes.h"

static struct json_object *
apikey_json(struct req *r, const struct db_res *res, size_t i,
    enum db_rc *rc)
{
	(void)r;
	(void)rc;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(db_int(res, i,
	    KEY_ID)));
	json_object_object_add(o, "name", json_str_or_null(db_str(res, i, KEY_NAME)));
	json_object_object_add(o, "prefix", json_str_or_null(db_str(res, i,
	    KEY_PREFIX_)));
	json_object_object_add(o, "scopes",
	    scopes_json((uint32_t)db_int(res, i, KEY_SCOPES)));
	json_object_object_add(o, "last_used_at", json_str_or_null(db_str(res, i,
	    KEY_LAST_USED)));
	json_object_object_add(o, "created_at", json_str_or_null(db_str(res, i,
	    KEY_CREATED)));
	json_object_object_add(o, "expires_at", json_str_or_null(db_str(res, i,
	    KEY_EXPIRES)));
	json_object_object_add(o, "revoked_at", json_str_or_null(db_str(res, i,
	    KEY_REVOKED)));
	return o;
}

void
apikey_list(struct req *r)
{
	reply_tenant_page(r, SQL_APIKEY_LIST, SQL_APIKEY_COUNT, apikey_json);
}

void
apikey_revoke(struct req *r)
{
	struct json_object *o;
	struct db_arg a[2];
	struct db_res res;
	enum db_rc rc;

	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(r->ids[0]);
	/* The mark and the counter together: without its counter row the
	 * key is reloaded, and refused, by every worker on its next request
	 * (auth.c). */
	if ((rc = db_begin(r->db)) != DB_OK ||
	    (rc = db_query_one(r->db, &r->pool, SQL_APIKEY_REVOKE, a, 2,
	    &res)) != DB_OK || (db_int(&res, 0, 0) > 0 &&
	    (rc = db_commit(r->db)) != DB_OK)) {
		db_rollback(r->db);
		reply_db(r, rc);
		return;
	}
	if (db_int(&res, 0, 0) == 0) {
		db_rollback(r->db);
		reply_error(r, ERR_NOT_FOUND, "API key not found.", NULL);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(r->ids[0]));
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	json_object_object_add(o, "revoked", json_object_new_boolean(1));
	reply_data(r, 200, o);
}

enum { K_NAME, K_SCOPES, K_EXPIRES, K__MAX };
static const struct field apikey_fields[K__MAX] = {
	[K_NAME] =	{ "name", FT_STRING, FF_NULLABLE, 0, 255, NULL },
	[K_SCOPES] =	{ "scopes", FT_ARRAY, FF_NULLABLE, 0, 0, NULL },
	[K_EXPIRES] =	{ "expires_at", FT_STRING, FF_NULLABLE, 1, 64, NULL },
};

/* The scopes array as a mask: every item a scope's name, at least one
 * (no scopes at all is a key without restrictions: leave the field out). */
static uint32_t
scopes_mask(struct json_object *arr, struct verrs *e)
{
	size_t i, n = json_object_array_length(arr);
	uint32_t mask = 0;
	int k;

	if (n == 0)
		verr_add(e, "scopes", "The scopes field must name at least one "
		    "scope; leave it out for a key without restrictions.");
	for (i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(it, json_type_string) ||
		    (k = scope_find(json_object_get_string(it),
		    (size_t)json_object_get_string_len(it))) == -1) {
			verr_add(e, "scopes", "The scopes field holds an unknown "
			    "scope at index %zu.", i);
			return 0;
		}
		mask |= 1u << k;
	}
	return mask;
}

void
apikey_create(struct req *r)
{
	struct fval v[K__MAX];
	struct verrs e;
	struct json_object *o;
	struct db_arg a[6];
	struct db_res res;
	char key[KEY_LEN + 1], prefix[KEY_DISPLAY_PREFIX + 1], exp[20];
	uint8_t hash[KEY_HASH_LEN];
	uint32_t mask = 0;
	uint64_t id = 0;
	time_t t = 0;
	enum db_rc rc;

	verrs_init(&e);
	fields_parse(&r->pool, r->json, apikey_fields, K__MAX, v, &e, false);
	if (v[K_SCOPES].j != NULL)
		mask = scopes_mask(v[K_SCOPES].j, &e);
	if (v[K_EXPIRES].s != NULL) {
		if (time_parse_rfc3339(v[K_EXPIRES].s, &t) == -1)
			verr_add(&e, "expires_at", "The expires at field must be "
			    "an RFC 3339 time.");
		else if (t <= time(NULL))
			verr_add(&e, "expires_at", "The expires at field must be "
			    "a time in the future.");
		else
			time_sql(t, exp);
	}
	if (e.n > 0) {
		fvals_free(apikey_fields, K__MAX, v);
		reply_invalid(r, &e);
		return;
	}
	apikey_new(key, prefix, hash);
	a[0] = DBA_INT(r->tenant_id);
	a[1] = v[K_NAME].s != NULL ? DBA_STR(v[K_NAME].s) : DBA_NULL;
	a[2] = DBA_STR(prefix);
	a[3] = DBA_BLOB(hash, sizeof(hash));
	a[4] = DBA_INT(mask);
	a[5] = v[K_EXPIRES].s != NULL ? DBA_STR(exp) : DBA_NULL;
	fvals_free(apikey_fields, K__MAX, v);
	if ((rc = db_exec(r->db, SQL_APIKEY_INSERT, a, 6, NULL, &id)) !=
	    DB_OK) {
		sodium_memzero(key, sizeof(key));
		reply_db(r, rc);
		return;
	}
	a[0] = DBA_INT((int64_t)id);
	if ((rc = db_query_one(r->db, &r->pool, SQL_APIKEY_GET, a, 1, &res)) !=
	    DB_OK) {
		sodium_memzero(key, sizeof(key));
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
		return;
	}
	o = apikey_json(r, &res, 0, &rc);
	json_object_object_add(o, "key", json_object_new_string(key));
	sodium_memzero(key, sizeof(key));
	r->secret_out = true;
	reply_data(r, 201, o);
}
