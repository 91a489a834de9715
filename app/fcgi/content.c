/* The envelope of a send and the content of each message type (see
 * content.h); moved here from messages.c unchanged, so that a fuzz target
 * can reach them without a request. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "content.h"
#include "jsonbody.h"
#include "pool.h"
#include "validate.h"

const char *const msg_types[MT__MAX + 1] = {
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

static void
put_str(struct json_object *o, const char *k, const struct fval *v)
{
	if (v->present && !v->isnull && v->s != NULL)
		json_object_object_add(o, k, json_object_new_string_len(v->s,
		    (int)v->slen));
}

struct json_object *
content_parse(struct pool *pool, enum msg_type type, struct json_object *in,
    struct verrs *e)
{
	struct json_object *out = json_object_new_object();
	struct fval v[4];	/* the most fields of any type */
	_Static_assert(M__MAX <= 4 && L__MAX <= 4 && TP__MAX <= 4 &&
	    T__MAX <= 4 && I__MAX <= 4, "content fields");
	unsigned before = e->n;

	switch (type) {
	case MT_TEXT:
		fields_parse_at(pool, in, "content", text_fields, T__MAX, v,
		    e, false);
		put_str(out, "body", &v[T_BODY]);
		if (v[T_PREVIEW].present)
			json_object_object_add(out, "preview_url",
			    json_object_new_boolean((int)v[T_PREVIEW].i));
		break;
	case MT_TEMPLATE:
		fields_parse_at(pool, in, "content", template_fields, TP__MAX,
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
			/* The spooler sends a policy only as a string
			 * (Meta's "deterministic"). */
			if (json_object_object_get_ex(v[TP_LANGUAGE].j, "policy",
			    &code) && !json_object_is_type(code,
			    json_type_string))
				verr_add(e, "content.language.policy", "The "
				    "content.language.policy field must be a "
				    "string.");
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
		fields_parse_at(pool, in, "content", media_fields, M__MAX, v,
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
		fields_parse_at(pool, in, "content", location_fields, L__MAX,
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
		fields_parse_at(pool, in, "content", interactive_fields,
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

unsigned
send_parse(struct pool *pool, struct json_object *body, bool template_alias,
    struct send_body *sb, struct verrs *e)
{
	struct fval v[S__MAX];
	struct json_object *content = NULL, *in;
	const char *text = NULL;
	enum msg_type type;

	memset(sb, 0, sizeof(*sb));
	/* POST /messages/template: the type is template unless said. */
	if (template_alias && !json_object_object_get_ex(body, "type", NULL))
		json_object_object_add(body, "type",
		    json_object_new_string("template"));
	fields_parse(pool, body, send_fields, S__MAX, v, e, false);
	type = v[S_TYPE].s != NULL ? (enum msg_type)v[S_TYPE].i : MT__MAX;
	if (template_alias && type != MT__MAX && type != MT_TEMPLATE)
		verr_add(e, "type", "The type field must be template on this "
		    "route.");
	if (type != MT__MAX && e->n == 0) {
		in = v[S_CONTENT].j;
		if (in == NULL && type == MT_TEXT && v[S_MESSAGE].s != NULL) {
			in = json_object_new_object();
			json_object_object_add(in, "body", json_object_new_string(
			    v[S_MESSAGE].s));
			json_object_object_add(body, "content", in);
		}
		if (in == NULL)
			verr_add(e, "content", type == MT_TEXT ?
			    "The content field is required (or a message "
			    "field with the text)." :
			    "The content field is required.");
		else
			content = content_parse(pool, type, in, e);
	}
	/* As req_json_text writes it: compact, no escaped slashes. */
	if (e->n == 0 && content != NULL)
		text = pool_strdup(pool, json_object_to_json_string_ext(content,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (text != NULL && jsonbody_check(text, strlen(text), NULL, NULL,
	    0) != JSONBODY_OK)
		/* Whitespace the body was padded with is gone: the content
		 * alone must pass the body's memory budget, as the spooler
		 * checks it again before sending. */
		verr_add(e, "content", "The content field has too many "
		    "objects, arrays or values for its size.");
	if (e->n > 0) {
		json_object_put(content);
		return e->n;
	}
	sb->to = v[S_TO].s;
	sb->account = v[S_ACCOUNT].i;
	sb->type = type;
	sb->content = content;
	sb->text = text;
	return 0;
}
