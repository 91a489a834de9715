/* The tenant's API keys: GET /api-keys, DELETE /api-keys/{id}. Keys are
 * issued by the operator (wazera-admin apikey create); their secrets are never
 * returned. */
#include <json-c/json.h>

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
