/* Graph API request bodies, one builder per message type. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "payload.h"
#include "placeholder.h"
#include "xmalloc.h"

typedef int (*build_fn)(struct json_object *content, struct json_object **out,
    char *err, size_t errsz);

/* Copies content[key] into dst, if present and of an allowed type (a
 * json_type bit mask). Returns -1 for a wrong type. */
static int
copy_field(struct json_object *dst, struct json_object *content,
    const char *key, unsigned types, char *err, size_t errsz)
{
	struct json_object *v;

	if (!json_object_object_get_ex(content, key, &v) || v == NULL)
		return 0;
	if (!(types & (1u << json_object_get_type(v)))) {
		snprintf(err, errsz, "content.%s has the wrong type", key);
		return -1;
	}
	json_object_object_add(dst, key, json_object_get(v));
	return 0;
}

#define T_STR	(1u << json_type_string)
#define T_BOOL	(1u << json_type_boolean)
#define T_NUM	((1u << json_type_int) | (1u << json_type_double))
#define T_ARR	(1u << json_type_array)
#define T_OBJ	(1u << json_type_object)

static bool
has(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v != NULL;
}

/* text: {"body", "preview_url"} -> text:{"body":..., "preview_url":bool} */
static int
build_text(struct json_object *c, struct json_object **out, char *err,
    size_t errsz)
{
	struct json_object *o = json_object_new_object(), *pv;

	*out = o;
	if (!has(c, "body")) {
		snprintf(err, errsz, "content.body is missing");
		return -1;
	}
	if (copy_field(o, c, "body", T_STR, err, errsz) == -1)
		return -1;
	json_object_object_add(o, "preview_url", json_object_new_boolean(
	    json_object_object_get_ex(c, "preview_url", &pv) &&
	    json_object_get_boolean(pv)));
	return 0;
}

/* template: name, language ("en" or {"code":"en","policy":...} -> always
 * the object), components passed through. */
static int
build_template(struct json_object *c, struct json_object **out, char *err,
    size_t errsz)
{
	struct json_object *o = json_object_new_object(), *lang, *l, *v;

	*out = o;
	if (!has(c, "name")) {
		snprintf(err, errsz, "content.name is missing");
		return -1;
	}
	if (copy_field(o, c, "name", T_STR, err, errsz) == -1)
		return -1;
	if (!json_object_object_get_ex(c, "language", &lang) || lang == NULL) {
		snprintf(err, errsz, "content.language is missing");
		return -1;
	}
	l = json_object_new_object();
	json_object_object_add(o, "language", l);
	if (json_object_is_type(lang, json_type_string))
		json_object_object_add(l, "code", json_object_get(lang));
	else if (json_object_is_type(lang, json_type_object) &&
	    json_object_object_get_ex(lang, "code", &v) &&
	    json_object_is_type(v, json_type_string)) {
		json_object_object_add(l, "code", json_object_get(v));
		if (copy_field(l, lang, "policy", T_STR, err, errsz) == -1)
			return -1;
	} else {
		snprintf(err, errsz, "content.language must be a code");
		return -1;
	}
	return copy_field(o, c, "components", T_ARR, err, errsz);
}

/* Media: link or id; caption for image, video and document; filename for
 * document. */
static int
build_media(struct json_object *c, struct json_object **out, char *err,
    size_t errsz, bool caption, bool filename)
{
	struct json_object *o = json_object_new_object();

	*out = o;
	if (has(c, "id")) {
		if (copy_field(o, c, "id", T_STR | T_NUM, err, errsz) == -1)
			return -1;
	} else if (has(c, "link")) {
		if (copy_field(o, c, "link", T_STR, err, errsz) == -1)
			return -1;
	} else {
		snprintf(err, errsz, "content.link or content.id is missing");
		return -1;
	}
	if (caption && copy_field(o, c, "caption", T_STR, err, errsz) == -1)
		return -1;
	if (filename && copy_field(o, c, "filename", T_STR, err, errsz) == -1)
		return -1;
	return 0;
}

/* Image and video: link or id, and a caption. */
static int
build_captioned(struct json_object *c, struct json_object **o, char *e,
    size_t n)
{
	return build_media(c, o, e, n, true, false);
}

static int
build_document(struct json_object *c, struct json_object **o, char *e,
    size_t n)
{
	return build_media(c, o, e, n, true, true);
}

static int
build_audio(struct json_object *c, struct json_object **o, char *e, size_t n)
{
	return build_media(c, o, e, n, false, false);
}

static int
build_location(struct json_object *c, struct json_object **out, char *err,
    size_t errsz)
{
	struct json_object *o = json_object_new_object();

	*out = o;
	if (!has(c, "latitude") || !has(c, "longitude")) {
		snprintf(err, errsz, "content.latitude and content.longitude "
		    "are required");
		return -1;
	}
	if (copy_field(o, c, "latitude", T_NUM, err, errsz) == -1 ||
	    copy_field(o, c, "longitude", T_NUM, err, errsz) == -1 ||
	    copy_field(o, c, "name", T_STR, err, errsz) == -1 ||
	    copy_field(o, c, "address", T_STR, err, errsz) == -1)
		return -1;
	return 0;
}

/* interactive: the content is Meta's interactive object, passed through. */
static int
build_interactive(struct json_object *c, struct json_object **out, char *err,
    size_t errsz)
{
	(void)err;
	(void)errsz;
	*out = json_object_get(c);
	return 0;
}

static const struct {
	const char	*type;
	build_fn	 build;
} builders[] = {
	{ "text",	 build_text },
	{ "template",	 build_template },
	{ "image",	 build_captioned },
	{ "video",	 build_captioned },
	{ "audio",	 build_audio },
	{ "document",	 build_document },
	{ "sticker",	 build_audio },		/* link or id, nothing else */
	{ "location",	 build_location },
	{ "interactive", build_interactive },
};

/* A campaign recipient's values in a template's text parameters:
 * components[i].parameters[j] of type "text", field "text" (a string),
 * filled in place with ph_fill. PAYLOAD_OK, PAYLOAD_MISSING with the
 * placeholder that has neither a value nor a fallback in missing, or
 * PAYLOAD_TOO_LONG. */
static enum payload_rc
fill_template(struct json_object *c, const struct ph_contact *who,
    char *missing, size_t missinglen)
{
	struct json_object *comps, *comp, *params, *param, *type, *text;
	size_t i, j;
	char *filled;
	bool toolong;

	if (!json_object_object_get_ex(c, "components", &comps) ||
	    !json_object_is_type(comps, json_type_array))
		return PAYLOAD_OK;
	for (i = 0; i < json_object_array_length(comps); i++) {
		comp = json_object_array_get_idx(comps, i);
		if (!json_object_is_type(comp, json_type_object) ||
		    !json_object_object_get_ex(comp, "parameters", &params) ||
		    !json_object_is_type(params, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(params); j++) {
			param = json_object_array_get_idx(params, j);
			if (!json_object_is_type(param, json_type_object) ||
			    !json_object_object_get_ex(param, "type", &type) ||
			    !json_object_is_type(type, json_type_string) ||
			    strcmp(json_object_get_string(type), "text") != 0 ||
			    !json_object_object_get_ex(param, "text", &text) ||
			    !json_object_is_type(text, json_type_string) ||
			    !ph_has(json_object_get_string(text)))
				continue;
			if ((filled = ph_fill(json_object_get_string(text), who,
			    PAYLOAD_TEXT_MAX, missing, missinglen,
			    &toolong)) == NULL)
				return toolong ? PAYLOAD_TOO_LONG :
				    PAYLOAD_MISSING;
			json_object_object_add(param, "text",
			    json_object_new_string(filled));
			free(filled);
		}
	}
	return PAYLOAD_OK;
}

char *
payload_build_for(unsigned long long id, const char *to, const char *type,
    const char *content, size_t len, const struct ph_contact *who,
    enum payload_rc *rc, char *err, size_t errsz)
{
	struct json_object *c = NULL, *root = NULL, *obj = NULL;
	char path[128], ref[32];
	char *out = NULL;
	size_t i;

	*rc = PAYLOAD_INVALID;
	for (i = 0; i < sizeof(builders) / sizeof(builders[0]); i++)
		if (!strcmp(builders[i].type, type))
			break;
	if (i == sizeof(builders) / sizeof(builders[0])) {
		snprintf(err, errsz, "unsupported message type %.32s", type);
		goto out;
	}
	if (jsonbody_parse(content, len, &c, path, sizeof(path)) !=
	    JSONBODY_OK) {
		snprintf(err, errsz, "content is not a JSON object");
		goto out;
	}
	if (who != NULL && builders[i].build == build_template &&
	    (*rc = fill_template(c, who, err, errsz)) != PAYLOAD_OK)
		goto out;
	*rc = PAYLOAD_INVALID;
	if (builders[i].build(c, &obj, err, errsz) == -1)
		goto out;
	snprintf(ref, sizeof(ref), "wz:%llu", id);
	root = json_object_new_object();
	json_object_object_add(root, "messaging_product",
	    json_object_new_string("whatsapp"));
	json_object_object_add(root, "recipient_type",
	    json_object_new_string("individual"));
	json_object_object_add(root, "to", json_object_new_string(to));
	json_object_object_add(root, "type", json_object_new_string(type));
	json_object_object_add(root, type, obj);
	obj = NULL;
	json_object_object_add(root, "biz_opaque_callback_data",
	    json_object_new_string(ref));
	out = xstrdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	*rc = PAYLOAD_OK;
out:
	json_object_put(obj);
	json_object_put(root);
	json_object_put(c);
	return out;
}

char *
payload_build(unsigned long long id, const char *to, const char *type,
    const char *content, size_t len, char *err, size_t errsz)
{
	enum payload_rc rc;

	return payload_build_for(id, to, type, content, len, NULL, &rc, err,
	    errsz);
}
