#include <errno.h>
#include <stdio.h>
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

struct scan_frame {
	bool		 object;
	bool		 expect_key;
	size_t		 index;		/* arrays */
	const char	*key;		/* objects: the current key, raw */
	size_t		 keylen;
};

static void
scan_path(const struct scan_frame *st, int depth, const char *body,
    char *path, size_t pathsz)
{
	size_t o = 0;
	int d;

	(void)body;
	path[0] = '\0';
	for (d = 0; d < depth && o + 1 < pathsz; d++) {
		int n;
		if (st[d].object)
			n = snprintf(path + o, pathsz - o, "%s%.*s", o ? "." : "",
			    (int)st[d].keylen, st[d].key);
		else
			n = snprintf(path + o, pathsz - o, "%s%zu", o ? "." : "",
			    st[d].index);
		if (n < 0)
			break;
		o += (size_t)n;
		if (o >= pathsz)
			o = pathsz - 1;
	}
}

/* json-c clamps integers beyond 64 bits. Finds such a literal in the text
 * (known to be valid JSON, at most JSONBODY_MAX_DEPTH deep) and names its
 * place as a dotted path ("custom_fields.x", "tags.2"), so it is refused
 * rather than silently changed. */
static bool
int_overflow(const char *s, size_t len, char *path, size_t pathsz)
{
	struct scan_frame st[JSONBODY_MAX_DEPTH + 2];
	char num[32];
	int depth = 0;
	size_t i, start;

	for (i = 0; i < len; i++) {
		char c = s[i];

		switch (c) {
		case '{':
		case '[':
			if (depth >= JSONBODY_MAX_DEPTH + 1)
				return false;
			memset(&st[depth], 0, sizeof(st[depth]));
			st[depth].object = c == '{';
			st[depth].expect_key = c == '{';
			depth++;
			continue;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			continue;
		case ',':
			if (depth > 0) {
				if (st[depth - 1].object)
					st[depth - 1].expect_key = true;
				else
					st[depth - 1].index++;
			}
			continue;
		case ':':
			if (depth > 0)
				st[depth - 1].expect_key = false;
			continue;
		case '"':
			start = ++i;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\')
					i++;
				i++;
			}
			if (depth > 0 && st[depth - 1].object &&
			    st[depth - 1].expect_key) {
				st[depth - 1].key = s + start;
				st[depth - 1].keylen = i - start;
			}
			continue;
		default:
			break;
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
			bool over = i - start >= sizeof(num);
			if (!over) {
				memcpy(num, s + start, i - start);
				num[i - start] = '\0';
				errno = 0;
				if (num[0] == '-')
					(void)strtoll(num, NULL, 10);
				else
					(void)strtoull(num, NULL, 10);
				over = errno == ERANGE;
			}
			if (over) {
				scan_path(st, depth, s, path, pathsz);
				return true;
			}
		}
		i--;
	}
	return false;
}

enum jsonbody_rc
jsonbody_parse(const char *body, size_t len, struct json_object **out,
    char *path, size_t pathsz)
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
	if (int_overflow(body, len, path, pathsz)) {
		json_object_put(obj);
		return JSONBODY_RANGE;
	}
	*out = obj;
	return JSONBODY_OK;
}
