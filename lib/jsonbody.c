/* Request bodies: a strict RFC 8259 check of the raw text first, then
 * json-c builds the tree. json-c alone lets through NaN, Infinity, single
 * quotes, raw control characters, "1." and leading zeros, and clamps
 * integers beyond 64 bits; the check here refuses all of those, so what is
 * stored is always what the client sent. The check also bounds what the
 * tree will cost (jsonbody.h), since json-c's tree of a small text can be
 * hundreds of times larger. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "text.h"
#include "xmalloc.h"

#define KEY_MAX	128	/* bytes of a key kept for a path */

/* What json-c 0.16 allocates (glibc, 64 bits), rounded up; measured by
 * parsing 100,000 of each. Text (strings and keys) adds its length. */
#define COST_OBJECT	800	/* the object and its 16-entry hash table */
#define COST_ARRAY	160	/* the array and its 32 slots */
#define COST_MEMBER	160	/* a key's copy and hash entry: a table at most
				   2/3 full, doubling, the old one alive while
				   it is copied */
#define COST_ELEMENT	16	/* an array's slot (arrays double) */
#define COST_SCALAR	80	/* a string, number, true, false or null */

struct frame {
	bool	 object;
	size_t	 index;			/* arrays */
	char	 key[KEY_MAX];		/* objects: the current key, decoded */
};

struct scan {
	const char		*s;
	size_t			 len, i;
	int			 depth;
	struct frame		 st[JSONBODY_MAX_DEPTH + 1];
	bool			 range;		/* an integer beyond 64 bits seen */
	char			*path;
	size_t			 pathsz;
	size_t			 cost, budget;	/* estimated tree, its bound */
	bool			 costly;	/* cost went over budget */
	struct jsonbody_strs	*strs;		/* NULL: nothing to collect */
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

/* Appends cp to out (may be NULL) if it fits; *total counts every byte
 * decoded, stored or not. */
static void
put_utf8(char *out, size_t outsz, size_t *o, size_t *total, unsigned cp)
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
	*total += n;
	if (out == NULL || *o + n >= outsz)
		return;
	for (k = 0; k < n; k++)
		out[(*o)++] = b[k];
	out[*o] = '\0';
}

/* A string at v->i (on the opening quote). Decodes it into out (may be
 * NULL; cut to fit outsz) for keys and collected values; *total is the
 * length decoded, so out holds all of it when *total < outsz. */
static bool
scan_string(struct scan *v, char *out, size_t outsz, size_t *total)
{
	size_t o = 0;

	*total = 0;
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
			(*total)++;
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
			put_utf8(out, outsz, &o, total, (unsigned char)v->s[v->i]);
			v->i++;
			break;
		case 'b': put_utf8(out, outsz, &o, total, '\b'); v->i++; break;
		case 'f': put_utf8(out, outsz, &o, total, '\f'); v->i++; break;
		case 'n': put_utf8(out, outsz, &o, total, '\n'); v->i++; break;
		case 'r': put_utf8(out, outsz, &o, total, '\r'); v->i++; break;
		case 't': put_utf8(out, outsz, &o, total, '\t'); v->i++; break;
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
			put_utf8(out, outsz, &o, total, (unsigned)cp);
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

	if (v->pathsz == 0)
		return;
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

/* Whether the value about to be scanned is at the collected place. */
static bool
at_collected(const struct scan *v)
{
	const struct jsonbody_strs *c = v->strs;
	size_t d;

	if (c == NULL || (size_t)v->depth != c->depth)
		return false;
	/* Keys compare as json-c keeps them: as C strings, up to a NUL. A
	 * key cut to KEY_MAX - 1 bytes is longer than any path's. */
	for (d = 0; d < c->depth; d++) {
		const struct frame *f = &v->st[d];
		if (strcmp(c->path[d], "*") == 0 ? f->object :
		    !f->object || strcmp(f->key, c->path[d]) != 0)
			return false;
	}
	return true;
}

/* Keeps the string at v->i (on its opening quote) if it is new and fits. */
static bool
collect_string(struct scan *v)
{
	struct jsonbody_strs *c = v->strs;
	char val[JSONBODY_STR_MAX + 2];
	size_t n, k;

	if (!scan_string(v, val, sizeof(val), &n))
		return false;
	if (n > JSONBODY_STR_MAX || memchr(val, '\0', n) != NULL) {
		c->dropped++;
		return true;
	}
	for (k = 0; k < c->n; k++)
		if (strcmp(c->v[k], val) == 0)
			return true;
	if (c->n == c->max) {
		c->dropped++;
		return true;
	}
	memcpy(c->v[c->n++], val, n + 1);
	return true;
}

static bool
scan_value(struct scan *v)
{
	static const char *const lits[] = { "true", "false", "null" };
	struct frame *f;
	size_t k, start;
	char c;

	skip_ws(v);
	if (v->i >= v->len)
		return false;
	c = v->s[v->i];
	if (c != '{' && c != '[') {
		start = v->i;
		if (c == '"') {
			if (at_collected(v)) {
				if (!collect_string(v))
					return false;
			} else if (!scan_string(v, NULL, 0, &k))
				return false;
			v->cost += COST_SCALAR + (v->i - start);
			return true;
		}
		v->cost += COST_SCALAR;
		if (c == '-' || (c >= '0' && c <= '9'))
			return scan_number(v);
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
	/* Stop early when the tree would be too large (scalars are
	 * weighed at the end). */
	v->cost += c == '{' ? COST_OBJECT : COST_ARRAY;
	if (v->cost > v->budget) {
		v->costly = true;
		return false;
	}
	f = &v->st[v->depth++];
	f->object = c == '{';
	f->index = 0;
	f->key[0] = '\0';
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
			start = v->i;
			if (v->i >= v->len || v->s[v->i] != '"' ||
			    !scan_string(v, f->key, sizeof(f->key), &k))
				return false;
			v->cost += COST_MEMBER + (v->i - start);
			skip_ws(v);
			if (v->i >= v->len || v->s[v->i] != ':')
				return false;
			v->i++;
		} else
			v->cost += COST_ELEMENT;
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

static bool
blank(const char *body, size_t len, size_t *i)
{
	for (*i = 0; *i < len && (body[*i] == ' ' || body[*i] == '\t' ||
	    body[*i] == '\r' || body[*i] == '\n'); (*i)++)
		;
	return *i == len;
}

enum jsonbody_rc
jsonbody_check(const char *body, size_t len, struct jsonbody_strs *strs,
    char *path, size_t pathsz)
{
	struct scan *v;
	size_t i;
	bool ok, object, range, costly;

	if (pathsz > 0)
		path[0] = '\0';
	if (strs != NULL)
		strs->n = strs->dropped = 0;
	if (blank(body, len, &i))
		return JSONBODY_OK;
	if (!utf8_valid(body, len))
		return JSONBODY_UTF8;

	v = xcalloc(1, sizeof(*v));
	v->s = body;
	v->len = len;
	v->i = i;
	v->path = path;
	v->pathsz = pathsz;
	v->strs = strs;
	v->budget = len > (SIZE_MAX - JSONBODY_COST_BASE) / JSONBODY_COST_FACTOR ?
	    SIZE_MAX : len * JSONBODY_COST_FACTOR + JSONBODY_COST_BASE;
	object = body[i] == '{';
	ok = scan_value(v);
	skip_ws(v);
	ok = ok && v->i == len;
	range = v->range;
	costly = v->costly || v->cost > v->budget;
	free(v);
	if (costly)
		return JSONBODY_COST;
	if (!ok)
		return JSONBODY_SYNTAX;
	if (!object)
		return JSONBODY_NOT_OBJECT;
	if (range)
		return JSONBODY_RANGE;
	return JSONBODY_OK;
}

enum jsonbody_rc
jsonbody_build(const char *body, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t i;

	*out = NULL;
	if (blank(body, len, &i)) {
		*out = json_object_new_object();
		return JSONBODY_OK;
	}
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

enum jsonbody_rc
jsonbody_parse(const char *body, size_t len, struct json_object **out,
    char *path, size_t pathsz)
{
	enum jsonbody_rc rc;

	*out = NULL;
	if ((rc = jsonbody_check(body, len, NULL, path, pathsz)) != JSONBODY_OK)
		return rc;
	return jsonbody_build(body, len, out);
}

static int
raw_serialize(struct json_object *o, struct printbuf *pb, int level,
    int flags)
{
	(void)level;
	(void)flags;
	return printbuf_memappend(pb, json_object_get_string(o),
	    json_object_get_string_len(o));
}

struct json_object *
jsonbody_raw(const char *text)
{
	struct json_object *o;

	if (text == NULL || *text != '{')
		return json_object_new_object();
	o = json_object_new_string(text);
	json_object_set_serializer(o, raw_serialize, NULL, NULL);
	return o;
}
