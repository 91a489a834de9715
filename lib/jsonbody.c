#include <json-c/json.h>

#include "jsonbody.h"
#include "text.h"

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum jsonbody_rc
jsonbody_parse(const char *body, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t i, off;

	*out = NULL;
	for (i = 0; i < len && is_space(body[i]); i++)
		;
	if (i == len) {
		*out = json_object_new_object();
		return JSONBODY_OK;
	}
	/* json-c's own check misses some forms (overlongs, surrogates). */
	if (!utf8_valid(body, len))
		return JSONBODY_UTF8;
	if ((tok = json_tokener_new_ex(JSONBODY_MAX_DEPTH)) == NULL)
		return JSONBODY_SYNTAX;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		json_object_put(obj);
		return jerr == json_tokener_error_parse_utf8_string ?
		    JSONBODY_UTF8 : JSONBODY_SYNTAX;
	}
	for (; off < len; off++)
		if (!is_space(body[off])) {
			json_object_put(obj);
			return JSONBODY_SYNTAX;
		}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return JSONBODY_NOT_OBJECT;
	}
	*out = obj;
	return JSONBODY_OK;
}
