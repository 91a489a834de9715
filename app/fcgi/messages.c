/* Messages: POST /messages/send (and /messages/template), GET
 * /messages/{id} and GET /messages/{id}/status. Sending queues the message;
 * wazera-spooler delivers it to the Graph API. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "crypto.h"
#include "handlers.h"
#include "jsonbody.h"
#include "request.h"

enum msg_type {
	MT_TEXT, MT_TEMPLATE, MT_IMAGE, MT_VIDEO, MT_AUDIO, MT_DOCUMENT,
	MT_STICKER, MT_LOCATION, MT_INTERACTIVE, MT__MAX
};
static const char *const msg_types[MT__MAX + 1] = {
	[MT_TEXT] = "text", [MT_TEMPLATE] = "template", [MT_IMAGE] = "image",
	[MT_VIDEO] = "video", [MT_AUDIO] = "audio", [MT_DOCUMENT] = "document",
	[MT_STICKER] = "sticker", [MT_LOCATION] = "location",
	[MT_INTERACTIVE] = "interactive", [MT__MAX] = NULL,
};

/* The envelope of a send. */
enum { S_TO, S_ACCOUNT, S_TYPE, S_CONTENT, S_MESSAGE, S__MAX };
static const struct field send_fields[S__MAX] = {
	[S_TO] =	{ "to", FT_PHONE, FF_REQUIRED, 0, 0, NULL },
	[S_ACCOUNT] =	{ "whatsapp_account_id", FT_INT, FF_REQUIRED, 1,
			    INT64_MAX, NULL },
	[S_TYPE] =	{ "type", FT_ENUM, FF_REQUIRED, 0, 0, msg_types },
	[S_CONTENT] =	{ "content", FT_OBJECT, 0, 0, 0, NULL },
	/* The flat spelling of a text: "message": "…". */
	[S_MESSAGE] =	{ "message", FT_STRING, 0, 1, 4096, NULL },
};

/* content, per type. The fields each type takes and nothing else are kept. */
enum { T_BODY, T_PREVIEW, T__MAX };
static const struct field text_fields[T__MAX] = {
	[T_BODY] =	{ "body", FT_STRING, FF_REQUIRED, 1, 4096, NULL },
	[T_PREVIEW] =	{ "preview_url", FT_BOOL, 0, 0, 0, NULL },
};
enum { TP_NAME, TP_LANGUAGE, TP_COMPONENTS, TP__MAX };
static const struct field template_fields[TP__MAX] = {
	[TP_NAME] =	{ "name", FT_STRING, FF_REQUIRED, 1, 512, NULL },
	[TP_LANGUAGE] =	{ "language", FT_STRING_OR_OBJECT, 0, 1, 15, NULL },
	[TP_COMPONENTS] = { "components", FT_ARRAY, 0, 0, 0, NULL },
};
enum { M_LINK, M_ID, M_CAPTION, M_FILENAME, M__MAX };
static const struct field media_fields[M__MAX] = {
	[M_LINK] =	{ "link", FT_STRING, 0, 1, 2048, NULL },
	[M_ID] =	{ "id", FT_ID, 0, 0, 0, NULL },
	[M_CAPTION] =	{ "caption", FT_STRING, 0, 1, 1024, NULL },
	[M_FILENAME] =	{ "filename", FT_STRING, 0, 1, 255, NULL },
};
enum { L_LAT, L_LONG, L_NAME, L_ADDRESS, L__MAX };
static const struct field location_fields[L__MAX] = {
	[L_LAT] =	{ "latitude", FT_NUMBER, FF_REQUIRED, -90, 90, NULL },
	[L_LONG] =	{ "longitude", FT_NUMBER, FF_REQUIRED, -180, 180, NULL },
	[L_NAME] =	{ "name", FT_STRING, 0, 1, 1000, NULL },
	[L_ADDRESS] =	{ "address", FT_STRING, 0, 1, 1000, NULL },
};
enum { I_TYPE, I__MAX };
static const struct field interactive_fields[I__MAX] = {
	[I_TYPE] =	{ "type", FT_STRING, FF_REQUIRED, 1, 64, NULL },
};

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
put_str(struct json_object *o, const char *k, const struct fval *v)
{
	if (v->present && !v->isnull && v->s != NULL)
		json_object_object_add(o, k, json_object_new_string_len(v->s,
		    (int)v->slen));
}

/* Validates content for its type into a new object holding only the
 * fields the type takes. NULL after recording errors. */
static struct json_object *
content_parse(struct req *r, enum msg_type type, struct json_object *in,
    struct verrs *e)
{
	struct json_object *out = json_object_new_object();
	struct fval v[4];	/* the most fields of any type */
	_Static_assert(M__MAX <= 4 && L__MAX <= 4 && TP__MAX <= 4 &&
	    T__MAX <= 4 && I__MAX <= 4, "content fields");
	unsigned before = e->n;

	switch (type) {
	case MT_TEXT:
		fields_parse_at(&r->pool, in, "content", text_fields, T__MAX, v,
		    e, false);
		put_str(out, "body", &v[T_BODY]);
		if (v[T_PREVIEW].present)
			json_object_object_add(out, "preview_url",
			    json_object_new_boolean((int)v[T_PREVIEW].i));
		break;
	case MT_TEMPLATE:
		fields_parse_at(&r->pool, in, "content", template_fields, TP__MAX,
		    v, e, false);
		put_str(out, "name", &v[TP_NAME]);
		if (v[TP_LANGUAGE].j != NULL) {
			struct json_object *code;
			if (!json_object_object_get_ex(v[TP_LANGUAGE].j, "code",
			    &code) || !json_object_is_type(code, json_type_string) ||
			    json_object_get_string_len(code) < 1 ||
			    json_object_get_string_len(code) > 15)
				verr_add(e, "content.language.code", "The "
				    "content.language.code field is required.");
			json_object_object_add(out, "language",
			    json_object_get(v[TP_LANGUAGE].j));
		} else if (v[TP_LANGUAGE].s != NULL)
			put_str(out, "language", &v[TP_LANGUAGE]);
		else
			json_object_object_add(out, "language",
			    json_object_new_string("en"));
		json_object_object_add(out, "components", v[TP_COMPONENTS].j ?
		    json_object_get(v[TP_COMPONENTS].j) : json_object_new_array());
		break;
	case MT_IMAGE:
	case MT_VIDEO:
	case MT_AUDIO:
	case MT_DOCUMENT:
	case MT_STICKER:
		fields_parse_at(&r->pool, in, "content", media_fields, M__MAX, v,
		    e, false);
		if (e->n != before)
			break;
		if (v[M_LINK].s == NULL && v[M_ID].s == NULL)
			verr_add(e, "content.link", "The content.link field is "
			    "required when content.id is not present.");
		else if (v[M_LINK].s != NULL && v[M_ID].s != NULL)
			verr_add(e, "content.link", "Give either content.link or "
			    "content.id, not both.");
		else if (v[M_LINK].s != NULL &&
		    strncmp(v[M_LINK].s, "https://", 8) != 0 &&
		    strncmp(v[M_LINK].s, "http://", 7) != 0)
			verr_add(e, "content.link", "The content.link field must be "
			    "an http or https URL.");
		if (v[M_CAPTION].present && (type == MT_AUDIO ||
		    type == MT_STICKER))
			verr_add(e, "content.caption", "A caption is not allowed "
			    "for %s messages.", msg_types[type]);
		if (v[M_FILENAME].present && type != MT_DOCUMENT)
			verr_add(e, "content.filename", "A filename is allowed for "
			    "document messages only.");
		put_str(out, "link", &v[M_LINK]);
		put_str(out, "id", &v[M_ID]);
		put_str(out, "caption", &v[M_CAPTION]);
		put_str(out, "filename", &v[M_FILENAME]);
		break;
	case MT_LOCATION:
		fields_parse_at(&r->pool, in, "content", location_fields, L__MAX,
		    v, e, false);
		json_object_object_add(out, "latitude",
		    json_object_new_double(v[L_LAT].d));
		json_object_object_add(out, "longitude",
		    json_object_new_double(v[L_LONG].d));
		put_str(out, "name", &v[L_NAME]);
		put_str(out, "address", &v[L_ADDRESS]);
		break;
	case MT_INTERACTIVE:
		/* Meta's interactive object, passed through as given. */
		fields_parse_at(&r->pool, in, "content", interactive_fields,
		    I__MAX, v, e, false);
		json_object_put(out);
		out = json_object_get(in);
		break;
	case MT__MAX:
		break;
	}
	if (e->n != before) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

static void
send_message(struct req *r, bool template_alias)
{
	struct fval v[S__MAX];
	struct verrs e;
	struct json_object *content = NULL, *in, *cev = NULL, *vev = NULL;
	const char *text = NULL;
	struct db_arg a[13];
	struct db_res res;
	enum msg_type type;
	char now[20], ts[21], ms[48], cuuid[37], vuuid[37];
	struct timespec tp;
	enum db_rc rc;
	bool own;

	/* POST /messages/template: the type is template unless said. */
	if (template_alias && !json_object_object_get_ex(r->json, "type", NULL))
		json_object_object_add(r->json, "type",
		    json_object_new_string("template"));
	verrs_init(&e);
	fields_parse(&r->pool, r->json, send_fields, S__MAX, v, &e, false);
	type = v[S_TYPE].s != NULL ? (enum msg_type)v[S_TYPE].i : MT__MAX;
	if (template_alias && type != MT__MAX && type != MT_TEMPLATE)
		verr_add(&e, "type", "The type field must be template on this "
		    "route.");
	if (type != MT__MAX && e.n == 0) {
		in = v[S_CONTENT].j;
		if (in == NULL && type == MT_TEXT && v[S_MESSAGE].s != NULL) {
			in = json_object_new_object();
			json_object_object_add(in, "body", json_object_new_string(
			    v[S_MESSAGE].s));
			json_object_object_add(r->json, "content", in);
		}
		if (in == NULL)
			verr_add(&e, "content", type == MT_TEXT ?
			    "The content field is required (or a message "
			    "field with the text)." :
			    "The content field is required.");
		else
			content = content_parse(r, type, in, &e);
	}
	if (e.n == 0 && content != NULL)
		text = req_json_text(r, content);
	if (text != NULL && jsonbody_check(text, strlen(text), NULL, NULL,
	    0) != JSONBODY_OK)
		/* Whitespace the body was padded with is gone: the content
		 * alone must pass the body's memory budget, as the spooler
		 * checks it again before sending. */
		verr_add(&e, "content", "The content field has too many "
		    "objects, arrays or values for its size.");
	if (e.n > 0) {
		json_object_put(content);
		reply_invalid(r, &e);
		return;
	}

	/* The account must be the tenant's, and anything but a template
	 * needs the service window the recipient's last message to this
	 * account (business number) opened: Meta keeps one per number. */
	a[0] = DBA_STR(v[S_TO].s);
	a[1] = DBA_INT(r->tenant_id);
	a[2] = DBA_INT(v[S_ACCOUNT].i);
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
	if (type != MT_TEMPLATE && db_int(&res, 0, 1) != 1) {
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
	cev = contact_new_json(v[S_TO].s, NULL, ts);
	vev = conversation_new_json(v[S_TO].s, v[S_ACCOUNT].i, ts, ts);

	own = !db_in_tx(r->db);
	if (!own && (rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(v[S_ACCOUNT].i);
	a[2] = DBA_STR(v[S_TO].s);
	a[3] = DBA_STR(msg_types[type]);
	a[4] = DBA_STR(text);
	a[5] = DBA_STR(now);
	a[6] = DBA_STR(ms);
	a[7] = DBA_STR(req_trigrams(r, &v[S_TO].s, 1));
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
	    db_int(&res, 0, 1), db_int(&res, 0, 2), v[S_ACCOUNT].i, "outbound",
	    msg_types[type], content, "queued", NULL, ts, ts));
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
	send_message(r, false);
}

void
message_send_template(struct req *r)
{
	send_message(r, true);
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
