/* Request bodies: a strict RFC 8259 check of the raw text first, then
 * json-c builds the tree. json-c alone lets through NaN, Infinity, single
 * quotes, raw control characters, "1." and leading zeros, and clamps
 * integers beyond 64 bits; the check here refuses all of those, so what is
 * stored is always what the client sent. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "text.h"
#include "xmalloc.h"

#define KEY_MAX	128	/* bytes of a key kept for a path */

struct frame {
	bool	 object;
	size_t	 index;			/* arrays */
	char	 key[KEY_MAX];		/* objects: the current key, decoded */
};

struct scan {
	const char	*s;
	size_t		 len, i;
	int		 depth;
	struct frame	 st[JSONBODY_MAX_DEPTH + 1];
	bool		 range;		/* an integer beyond 64 bits seen */
	char		*path;
	size_t		 pathsz;
};

static void
skip_ws(struct scan *v)
{
	while (v->i < v->len && (v->s[v->i] == ' ' || v->s[v->i] == '\t' ||
	    v->s[v->i] == '\r' || v->s[v->i] == '\n'))
		v->i++;
}

static int
hex4(const char *p)
{
	int v = 0, k;

	for (k = 0; k < 4; k++) {
		char c = p[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static void
put_utf8(char *out, size_t outsz, size_t *o, unsigned cp)
{
	char b[4];
	size_t n, k;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (out == NULL || *o + n >= outsz)
		return;
	for (k = 0; k < n; k++)
		out[(*o)++] = b[k];
	out[*o] = '\0';
}

/* A string at v->i (on the opening quote). Decodes it into out (may be
 * NULL; truncated to outsz) for keys. */
static bool
scan_string(struct scan *v, char *out, size_t outsz)
{
	size_t o = 0;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	v->i++;
	while (v->i < v->len) {
		unsigned char c = (unsigned char)v->s[v->i];

		if (c == '"') {
			v->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			if (out != NULL && o + 1 < outsz) {
				out[o++] = (char)c;
				out[o] = '\0';
			}
			v->i++;
			continue;
		}
		if (++v->i >= v->len)
			return false;
		switch (v->s[v->i]) {
		case '"': case '\\': case '/':
			put_utf8(out, outsz, &o, (unsigned char)v->s[v->i]);
			v->i++;
			break;
		case 'b': put_utf8(out, outsz, &o, '\b'); v->i++; break;
		case 'f': put_utf8(out, outsz, &o, '\f'); v->i++; break;
		case 'n': put_utf8(out, outsz, &o, '\n'); v->i++; break;
		case 'r': put_utf8(out, outsz, &o, '\r'); v->i++; break;
		case 't': put_utf8(out, outsz, &o, '\t'); v->i++; break;
		case 'u': {
			int cp, lo;
			if (v->len - v->i < 5 || (cp = hex4(v->s + v->i + 1)) < 0)
				return false;
			v->i += 5;
			/* A surrogate pair makes one code point; a lone
			 * surrogate is kept as U+FFFD, as json-c stores it. */
			if (cp >= 0xd800 && cp <= 0xdbff && v->len - v->i >= 6 &&
			    v->s[v->i] == '\\' && v->s[v->i + 1] == 'u' &&
			    (lo = hex4(v->s + v->i + 2)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				v->i += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			put_utf8(out, outsz, &o, (unsigned)cp);
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

static void
make_path(struct scan *v)
{
	size_t o = 0;
	int d;

	v->path[0] = '\0';
	for (d = 0; d < v->depth && o + 1 < v->pathsz; d++) {
		int n = v->st[d].object ?
		    snprintf(v->path + o, v->pathsz - o, "%s%s", o ? "." : "",
		    v->st[d].key) :
		    snprintf(v->path + o, v->pathsz - o, "%s%zu", o ? "." : "",
		    v->st[d].index);
		if (n < 0)
			break;
		o += (size_t)n;
		if (o >= v->pathsz)
			o = v->pathsz - 1;
	}
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; integers must fit in
 * 64 bits (signed when negative, unsigned otherwise, as json-c keeps) and
 * decimals in a double. */
static bool
scan_number(struct scan *v)
{
	size_t start = v->i, digits;
	bool integer = true;
	char num[32];

	if (v->s[v->i] == '-')
		v->i++;
	if (v->i >= v->len)
		return false;
	if (v->s[v->i] == '0')
		v->i++;
	else if (v->s[v->i] >= '1' && v->s[v->i] <= '9')
		while (v->i < v->len && v->s[v->i] >= '0' && v->s[v->i] <= '9')
			v->i++;
	else
		return false;
	if (v->i < v->len && v->s[v->i] == '.') {
		integer = false;
		v->i++;
		for (digits = 0; v->i < v->len && v->s[v->i] >= '0' &&
		    v->s[v->i] <= '9'; digits++)
			v->i++;
		if (digits == 0)
			return false;
	}
	if (v->i < v->len && (v->s[v->i] == 'e' || v->s[v->i] == 'E')) {
		integer = false;
		v->i++;
		if (v->i < v->len && (v->s[v->i] == '+' || v->s[v->i] == '-'))
			v->i++;
		for (digits = 0; v->i < v->len && v->s[v->i] >= '0' &&
		    v->s[v->i] <= '9'; digits++)
			v->i++;
		if (digits == 0)
			return false;
	}
	/* Decimals beyond double range would become infinite. The byte after
	 * the number is inside the buffer and ends strtod's scan. */
	if (!integer && !v->range && v->i < v->len &&
	    isinf(strtod(v->s + start, NULL))) {
		v->range = true;
		make_path(v);
	}
	if (integer && !v->range) {
		bool over = v->i - start >= sizeof(num);
		if (!over) {
			memcpy(num, v->s + start, v->i - start);
			num[v->i - start] = '\0';
			errno = 0;
			if (num[0] == '-')
				(void)strtoll(num, NULL, 10);
			else
				(void)strtoull(num, NULL, 10);
			over = errno == ERANGE;
		}
		if (over) {
			v->range = true;
			make_path(v);
		}
	}
	return true;
}

static bool
scan_value(struct scan *v)
{
	static const char *const lits[] = { "true", "false", "null" };
	struct frame *f;
	size_t k;
	char c;

	skip_ws(v);
	if (v->i >= v->len)
		return false;
	c = v->s[v->i];
	if (c == '"')
		return scan_string(v, NULL, 0);
	if (c == '-' || (c >= '0' && c <= '9'))
		return scan_number(v);
	if (c != '{' && c != '[') {
		for (k = 0; k < 3; k++) {
			size_t n = strlen(lits[k]);
			if (v->len - v->i >= n && !memcmp(v->s + v->i, lits[k], n)) {
				v->i += n;
				return true;
			}
		}
		return false;
	}
	if (v->depth >= JSONBODY_MAX_DEPTH)
		return false;
	f = &v->st[v->depth++];
	memset(f, 0, sizeof(*f));
	f->object = c == '{';
	v->i++;
	skip_ws(v);
	if (v->i < v->len && v->s[v->i] == (f->object ? '}' : ']')) {
		v->i++;
		v->depth--;
		return true;
	}
	for (;;) {
		if (f->object) {
			skip_ws(v);
			if (v->i >= v->len || v->s[v->i] != '"' ||
			    !scan_string(v, f->key, sizeof(f->key)))
				return false;
			skip_ws(v);
			if (v->i >= v->len || v->s[v->i] != ':')
				return false;
			v->i++;
		}
		if (!scan_value(v))
			return false;
		skip_ws(v);
		if (v->i >= v->len)
			return false;
		if (v->s[v->i] == ',') {
			v->i++;
			f->index++;
			continue;
		}
		if (v->s[v->i] != (f->object ? '}' : ']'))
			return false;
		v->i++;
		v->depth--;
		return true;
	}
}

enum jsonbody_rc
jsonbody_parse(const char *body, size_t len, struct json_object **out,
    char *path, size_t pathsz)
{
	struct json_tokener *tok;
	struct json_object *obj;
	struct scan *v;
	size_t i;
	bool ok, object, range;

	*out = NULL;
	if (pathsz > 0)
		path[0] = '\0';
	for (i = 0; i < len && (body[i] == ' ' || body[i] == '\t' ||
	    body[i] == '\r' || body[i] == '\n'); i++)
		;
	if (i == len) {
		*out = json_object_new_object();
		return JSONBODY_OK;
	}
	if (!utf8_valid(body, len))
		return JSONBODY_UTF8;

	v = xcalloc(1, sizeof(*v));
	v->s = body;
	v->len = len;
	v->i = i;
	v->path = path;
	v->pathsz = pathsz;
	object = body[i] == '{';
	ok = scan_value(v);
	skip_ws(v);
	ok = ok && v->i == len;
	range = v->range;
	free(v);
	if (!ok)
		return JSONBODY_SYNTAX;
	if (!object)
		return JSONBODY_NOT_OBJECT;
	if (range)
		return JSONBODY_RANGE;

	/* The text is valid JSON: json-c only builds the tree. */
	if ((tok = json_tokener_new_ex(JSONBODY_MAX_DEPTH + 1)) == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		json_tokener_free(tok);
		return JSONBODY_SYNTAX;
	}
	json_tokener_free(tok);
	*out = obj;
	return JSONBODY_OK;
}
