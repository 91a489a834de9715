/* GET /api/v1/health, for load balancers and monitors: public, not rate
 * limited. 200 when the database answers and its schema is at least the
 * one these binaries were built for; else 503 (with Retry-After) saying
 * which. One point read; nothing about tenants. */
#include <string.h>

#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

#ifndef WZ_SCHEMA_EXPECTED
#error "configure defines WZ_SCHEMA_EXPECTED (the newest sql/schema file)"
#endif

static struct json_object *
schema_json(const char *current)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "current", json_str_or_null(current));
	json_object_object_add(o, "expected",
	    json_object_new_string(WZ_SCHEMA_EXPECTED));
	return o;
}

void
health_get(struct req *r)
{
	struct json_object *d;
	struct db_res res;
	const char *current = NULL;
	enum db_rc rc;

	rc = db_query_one(r->db, &r->pool, SQL_HEALTH_SCHEMA, NULL, 0, &res);
	if (rc == DB_OK && !db_isnull(&res, 0, 0))
		current = db_str(&res, 0, 0);
	d = json_object_new_object();
	if (rc == DB_DOWN || rc == DB_SLOW) {
		json_object_object_add(d, "database",
		    json_object_new_string("unavailable"));
		reply_header(r, "Retry-After", "5");
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The database is not "
		    "answering.", d);
		return;
	}
	/* Another error (no schema_migrations: never migrated) is a schema
	 * behind, not a database away. */
	json_object_object_add(d, "database", json_object_new_string("ok"));
	json_object_object_add(d, "schema", schema_json(current));
	if (current == NULL || strcmp(current, WZ_SCHEMA_EXPECTED) < 0) {
		reply_header(r, "Retry-After", "5");
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The database schema "
		    "is older than this server expects; run wazera-admin "
		    "migrate.", d);
		return;
	}
	json_object_object_add(d, "status", json_object_new_string("ok"));
	reply_data(r, 200, d);
}
