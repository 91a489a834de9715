/* Messages: POST /messages/send (and /messages/template), GET
 * /messages/{id} and GET /messages/{id}/status. Sending queues the message;
 * wazera-spooler delivers it to the Graph API. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "content.h"
#include "crypto.h"
#include "handlers.h"
#include "jsonbody.h"
#include "request.h"

/* Columns of MESSAGE_COLS in sql.c. */
enum { MC_ID, MC_CONV, MC_CONTACT, MC_ACCOUNT, MC_DIRECTION, MC_TYPE,
	MC_CONTENT, MC_STATUS, MC_WAMID, MC_ERR_CODE, MC_ERR_TITLE, MC_ERR_MSG,
	MC_CREATED, MC_UPDATED };

static struct json_object *
error_json(const struct db_res *res, size_t i)
{
	struct json_object *o;

	if (db_isnull(res, i, MC_ERR_CODE))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "code",
	    json_object_new_int64(db_int(res, i, MC_ERR_CODE)));
	json_object_object_add(o, "title",
	    json_str_or_null(db_str(res, i, MC_ERR_TITLE)));
	json_object_object_add(o, "message",
	    json_str_or_null(db_str(res, i, MC_ERR_MSG)));
	return o;
}

struct json_object *
message_new_json(int64_t id, int64_t conversation, int64_t contact,
    int64_t account, const char *direction, const char *type,
    struct json_object *content, const char *status, const char *wamid,
    const char *created_at, const char *updated_at)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "conversation_id",
	    json_object_new_int64(conversation));
	json_object_object_add(o, "contact_id", json_object_new_int64(contact));
	json_object_object_add(o, "whatsapp_account_id",
	    json_object_new_int64(account));
	json_object_object_add(o, "direction", json_object_new_string(direction));
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "content", content);
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "wamid", json_str_or_null(wamid));
	json_object_object_add(o, "error", NULL);
	json_object_object_add(o, "created_at", json_object_new_string(created_at));
	json_object_object_add(o, "updated_at", json_object_new_string(updated_at));
	return o;
}

/* A message row (MESSAGE_COLS in sql.c) as the API shows it; also used
 * by conversations.c. */
struct json_object *
message_json(const struct db_res *res, size_t i)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(db_int(res, i,
	    MC_ID)));
	json_object_object_add(o, "conversation_id",
	    json_object_new_int64(db_int(res, i, MC_CONV)));
	json_object_object_add(o, "contact_id",
	    json_object_new_int64(db_int(res, i, MC_CONTACT)));
	json_object_object_add(o, "whatsapp_account_id",
	    json_object_new_int64(db_int(res, i, MC_ACCOUNT)));
	json_object_object_add(o, "direction",
	    json_str_or_null(db_str(res, i, MC_DIRECTION)));
	json_object_object_add(o, "type", json_str_or_null(db_str(res, i, MC_TYPE)));
	/* As stored (by this server, from a json-c tree): a page of 100
	 * messages never rebuilds 100 trees. */
	json_object_object_add(o, "content",
	    jsonbody_raw(db_str(res, i, MC_CONTENT)));
	json_object_object_add(o, "status",
	    json_str_or_null(db_str(res, i, MC_STATUS)));
	json_object_object_add(o, "wamid", json_str_or_null(db_str(res, i, MC_WAMID)));
	json_object_object_add(o, "error", error_json(res, i));
	json_object_object_add(o, "created_at",
	    json_str_or_null(db_str(res, i, MC_CREATED)));
	json_object_object_add(o, "updated_at",
	    json_str_or_null(db_str(res, i, MC_UPDATED)));
	return o;
}

static void
message_queue_send(struct req *r, bool template_alias)
{
	struct send_body sb;
	struct verrs e;
	struct json_object *content, *cev = NULL, *vev = NULL;
	struct db_arg a[13];
	struct db_res res;
	char now[20], ts[21], ms[48], cuuid[37], vuuid[37];
	struct timespec tp;
	enum db_rc rc;
	bool own;

	verrs_init(&e);
	if (send_parse(&r->pool, r->json, template_alias, &sb, &e) > 0) {
		reply_invalid(r, &e);
		return;
	}
	content = sb.content;

	/* The account must be the tenant's, and anything but a template
	 * needs the service window the recipient's last message to this
	 * account (business number) opened: Meta keeps one per number. */
	a[0] = DBA_STR(sb.to);
	a[1] = DBA_INT(r->tenant_id);
	a[2] = DBA_INT(sb.account);
	rc = db_query_one(r->db, &r->pool, SQL_SEND_CHECK, a, 3, &res);
	if (rc == DB_NOROW) {
		json_object_put(content);
		reply_invalid_field(r, "whatsapp_account_id", "The selected "
		    "whatsapp account id is invalid.");
		return;
	}
	if (rc != DB_OK) {
		json_object_put(content);
		reply_db(r, rc);
		return;
	}
	if (sb.type != MT_TEMPLATE && db_int(&res, 0, 1) != 1) {
		json_object_put(content);
		reply_error(r, ERR_OUTSIDE_SERVICE_WINDOW, "The recipient has "
		    "not written to this WhatsApp number in the last 24 hours: "
		    "only a template can be sent until they write again.", NULL);
		return;
	}

	clock_gettime(CLOCK_REALTIME, &tp);
	time_sql(tp.tv_sec, now);
	time_rfc3339(tp.tv_sec, ts);
	snprintf(ms, sizeof(ms), "%s.%03d", now, (int)(tp.tv_nsec / 1000000));
	uuid_v4(cuuid);
	uuid_v4(vuuid);

	/* The resources for contact.created and conversation.created, should
	 * the procedure create them; it sets their ids. */
	cev = contact_new_json(sb.to, NULL, ts);
	vev = conversation_new_json(sb.to, sb.account, ts, ts);

	own = !db_in_tx(r->db);
	if (!own && (rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(sb.account);
	a[2] = DBA_STR(sb.to);
	a[3] = DBA_STR(msg_types[sb.type]);
	a[4] = DBA_STR(sb.text);
	a[5] = DBA_STR(now);
	a[6] = DBA_STR(ms);
	a[7] = DBA_STR(req_trigrams(r, &sb.to, 1));
	a[8] = DBA_STR(cuuid);
	a[9] = DBA_STR(req_json_text(r, cev));
	a[10] = DBA_STR(vuuid);
	a[11] = DBA_STR(req_json_text(r, vev));
	a[12] = DBA_INT(own);
	rc = db_query_one(r->db, &r->pool, SQL_MESSAGE_QUEUE, a, 13, &res);
	if (rc == DB_OK && !own)
		rc = db_commit(r->db);
	if (rc != DB_OK)
		goto fail;
	reply_data(r, 201, message_new_json(db_int(&res, 0, 0),
	    db_int(&res, 0, 1), db_int(&res, 0, 2), sb.account, "outbound",
	    msg_types[sb.type], content, "queued", NULL, ts, ts));
	content = NULL;
	goto out;
fail:
	if (!own)
		db_rollback(r->db);
	reply_db(r, rc == DB_NOROW || rc == DB_DUP ? DB_ERR : rc);
out:
	json_object_put(content);
	json_object_put(cev);
	json_object_put(vev);
}

void
message_send(struct req *r)
{
	message_queue_send(r, false);
}

void
message_send_template(struct req *r)
{
	message_queue_send(r, true);
}

void
message_get(struct req *r)
{
	struct db_res res;

	if (req_load_own(r, SQL_MESSAGE_GET, "Message", &res) == 0)
		reply_data(r, 200, message_json(&res, 0));
}

void
message_status(struct req *r)
{
	struct json_object *o;
	struct db_res res;

	if (req_load_own(r, SQL_MESSAGE_GET, "Message", &res) == -1)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(db_int(&res, 0,
	    MC_ID)));
	json_object_object_add(o, "status", json_str_or_null(db_str(&res, 0,
	    MC_STATUS)));
	json_object_object_add(o, "wamid", json_str_or_null(db_str(&res, 0,
	    MC_WAMID)));
	json_object_object_add(o, "error", error_json(&res, 0));
	json_object_object_add(o, "updated_at", json_str_or_null(db_str(&res, 0,
	    MC_UPDATED)));
	reply_data(r, 200, o);
}
