#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "text.h"

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* json-c takes NaN and Infinity even in strict mode; JSON has neither. */
static bool
has_nonfinite(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (has_nonfinite(json_object_array_get_idx(o, i)))
				return true;
		return false;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (has_nonfinite(v))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

/* json-c clamps integers beyond 64 bits; find such literals in the text
 * (known to be valid JSON) so they are refused rather than changed. */
static bool
int_overflow(const char *s, size_t len)
{
	char num[32];
	bool in_str = false;
	size_t i, start;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
			continue;
		}
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		start = i;
		if (c == '-')
			i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
			while (i < len && strchr("0123456789.eE+-", s[i]) != NULL)
				i++;
		} else {
			if (i - start >= sizeof(num))
				return true;
			memcpy(num, s + start, i - start);
			num[i - start] = '\0';
			errno = 0;
			if (num[0] == '-')
				(void)strtoll(num, NULL, 10);
			else
				(void)strtoull(num, NULL, 10);
			if (errno == ERANGE)
				return true;
		}
		i--;
	}
	return false;
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
	if (has_nonfinite(obj)) {
		json_object_put(obj);
		return JSONBODY_SYNTAX;
	}
	if (int_overflow(body, len)) {
		json_object_put(obj);
		return JSONBODY_RANGE;
	}
	*out = obj;
	return JSONBODY_OK;
}
