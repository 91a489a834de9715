/* The tenant, which the API calls the account: GET /account/me. Tenants are
 * created by the operator (wazera-admin tenant create). */
#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

void
tenant_get(struct req *r)
{
	struct json_object *o;
	struct db_res res;
	struct db_arg a = DBA_INT(r->tenant_id);
	enum db_rc rc;

	if ((rc = db_query_one(r->db, &r->pool, SQL_TENANT_GET, &a, 1,
	    &res)) != DB_OK) {
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(db_int(&res, 0,
	    TEN_ID)));
	json_object_object_add(o, "name", json_str_or_null(db_str(&res, 0, TEN_NAME)));
	json_object_object_add(o, "plan", json_str_or_null(db_str(&res, 0, TEN_PLAN)));
	json_object_object_add(o, "rate_limit_per_minute",
	    json_object_new_int64(db_int(&res, 0, TEN_LIMIT)));
	json_object_object_add(o, "created_at",
	    json_str_or_null(db_str(&res, 0, TEN_CREATED)));
	reply_data(r, 200, o);
}
