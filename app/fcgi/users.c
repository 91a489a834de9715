/* Users: GET /users. Users are the tenant's people: conversations are
 * assigned to them and they sign in to the dashboard (session.c) with
 * their role; the operator creates them (wazera-admin user create). */
#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

static struct json_object *
user_json(struct req *r, const struct db_res *res, size_t i, enum db_rc *rc)
{
	(void)r;
	(void)rc;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(db_int(res, i,
	    U_ID)));
	json_object_object_add(o, "name", json_str_or_null(db_str(res, i,
	    U_NAME)));
	json_object_object_add(o, "email", json_str_or_null(db_str(res, i,
	    U_EMAIL)));
	json_object_object_add(o, "role", json_str_or_null(db_str(res, i,
	    U_ROLE)));
	json_object_object_add(o, "created_at",
	    json_str_or_null(db_str(res, i, U_CREATED)));
	return o;
}

/* Newest first. */
void
user_list(struct req *r)
{
	reply_tenant_page(r, SQL_USER_LIST, SQL_USER_COUNT, user_json);
}
