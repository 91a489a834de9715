/* WhatsApp accounts: GET /whatsapp-accounts, GET /whatsapp-accounts/{id}.
 * Accounts are created by the operator (wazera-admin account create);
 * their access tokens and app secrets are never returned. */
#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

enum { A_ID, A_DISPLAY, A_PHONE_ID, A_WABA, A_MPS, A_CREATED };

static struct json_object *
account_json(const struct db_res *res, size_t i)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(db_int(res, i,
	    A_ID)));
	json_object_object_add(o, "display_phone",
	    json_object_new_string(db_str(res, i, A_DISPLAY)));
	json_object_object_add(o, "phone_number_id",
	    json_object_new_string(db_str(res, i, A_PHONE_ID)));
	json_object_object_add(o, "waba_id",
	    json_object_new_string(db_str(res, i, A_WABA)));
	json_object_object_add(o, "mps", json_object_new_int64(db_int(res, i,
	    A_MPS)));
	json_object_object_add(o, "created_at",
	    json_object_new_string(db_str(res, i, A_CREATED)));
	return o;
}

void
account_list(struct req *r)
{
	struct json_object *items;
	struct db_res res, cnt;
	struct db_arg a[3];
	long long page, per_page;
	enum db_rc rc;
	size_t i;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(per_page);
	a[2] = DBA_INT((page - 1) * per_page);
	if ((rc = db_query(r->db, &r->pool, SQL_ACCOUNT_LIST, a, 3, &res)) !=
	    DB_OK || (rc = db_query_one(r->db, &r->pool, SQL_ACCOUNT_COUNT, a, 1,
	    &cnt)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	items = json_object_new_array();
	for (i = 0; i < res.nrows; i++)
		json_object_array_add(items, account_json(&res, i));
	reply_list(r, items, page, per_page, db_int(&cnt, 0, 0));
}

void
account_get(struct req *r)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct db_res res;
	enum db_rc rc;

	rc = db_query_one(r->db, &r->pool, SQL_ACCOUNT_GET, a, 2, &res);
	if (rc == DB_NOROW) {
		reply_error(r, ERR_NOT_FOUND, "WhatsApp account not found.", NULL);
		return;
	}
	if (rc != DB_OK) {
		reply_db(r, rc);
		return;
	}
	reply_data(r, 200, account_json(&res, 0));
}
