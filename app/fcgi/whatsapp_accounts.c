/* WhatsApp accounts: GET /whatsapp-accounts, GET /whatsapp-accounts/{id}.
 * Accounts are created by the operator (wazera-admin account create);
 * their access tokens and app secrets are never returned. */
#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

static struct json_object *
whatsapp_account_json(struct req *r, const struct db_res *res, size_t i,
    enum db_rc *rc)
{
	(void)r;
	(void)rc;
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
whatsapp_account_list(struct req *r)
{
	reply_tenant_page(r, SQL_ACCOUNT_LIST, SQL_ACCOUNT_COUNT, whatsapp_account_json);
}

void
whatsapp_account_get(struct req *r)
{
	struct db_res res;

	if (req_load_own(r, SQL_ACCOUNT_GET, "WhatsApp account", &res) == 0)
		reply_data(r, 200, whatsapp_account_json(r, &res, 0, NULL));
}
