/* Messages: POST /messages/send (and /messages/template), GET
 * /messages/{id} and GET /messages/{id}/status. Sending queues the message;
 * wazera-spooler delivers it to the Graph API. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "content.h"
#include "handlers.h"
#include "jsonbody.h"
#include "request.h"

static void
message_queue_send(struct req *r, bool template_alias)
{
	struct send_body sb;
	struct verrs e;
	struct json_object *content;
	struct db_arg a[8];
	struct db_res res;
	char now[20], ms[48];
	struct timespec tp;
	enum db_rc rc;

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
	snprintf(ms, sizeof(ms), "%s.%03d", now, (int)(tp.tv_nsec / 1000000));

	/* Finds or creates the contact and its open conversation on the
	 * account (with their events), queues the message and answers its
	 * JSON. */
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(sb.account);
	a[2] = DBA_STR(sb.to);
	a[3] = DBA_STR(msg_types[sb.type]);
	a[4] = DBA_STR(sb.text);
	a[5] = DBA_STR(now);
	a[6] = DBA_STR(ms);
	a[7] = DBA_STR(req_trigrams(r, &sb.to, 1));
	if ((rc = db_query_one(r->db, &r->pool, SQL_MESSAGE_QUEUE, a, 8,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_data(r, 201, jsonbody_raw(db_str(&res, 0, 0)));
	json_object_put(content);
	return;
fail:
	db_rollback(r->db);
	json_object_put(content);
	reply_db(r, rc == DB_NOROW || rc == DB_DUP ? DB_ERR : rc);
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
	req_reply_own(r, SQL_MESSAGE_GET, "Message");
}

void
message_status(struct req *r)
{
	struct db_res res;

	if (req_load_own(r, SQL_MESSAGE_STATUS, "Message", &res) == 0)
		reply_data(r, 200, jsonbody_raw(db_str(&res, 0, 0)));
}
