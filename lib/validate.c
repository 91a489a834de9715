#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "pool.h"
#include "text.h"
#include "validate.h"

void
verrs_init(struct verrs *e)
{
	e->details = NULL;
	e->n = 0;
}

void
verr_add(struct verrs *e, const char *field, const char *fmt, ...)
{
	struct json_object *list;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (e->details == NULL)
		e->details = json_object_new_object();
	if (!json_object_object_get_ex(e->details, field, &list)) {
		list = json_object_new_array();
		json_object_object_add(e->details, field, list);
	}
	json_object_array_add(list, json_object_new_string(msg));
	e->n++;
}

const char *
field_label(struct pool *pool, const char *field)
{
	char *s = pool_strdup(pool, field), *p;

	for (p = s; *p; p++)
		if (*p == '_')
			*p = ' ';
	return s;
}

int
phone_normalize(const char *in, size_t len, char out[PHONE_MAX + 1])
{
	char digits[64];
	size_t i, n = 0;
	bool plus = false;

	for (i = 0; i < len; i++) {
		char c = in[i];
		if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')
			continue;
		if (c == '+' && n == 0 && !plus) {
			plus = true;
			continue;
		}
		if (c < '0' || c > '9' || n >= sizeof(digits) - 1)
			return -1;
		digits[n++] = c;
	}
	digits[n] = '\0';
	if (!plus && n >= 2 && digits[0] == '0' && digits[1] == '0') {
		memmove(digits, digits + 2, n - 1);
		n -= 2;
	}
	if (n < 8 || n > 15 || digits[0] == '0')
		return -1;
	out[0] = '+';
	memcpy(out + 1, digits, n + 1);
	return 0;
}

static bool
atext(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&'*+/=?^_`{|}~-", c);
}

bool
email_valid(const char *s, size_t len)
{
	const char *at = NULL, *p, *label;
	size_t i, local;
	bool dot = false;

	if (len < 3 || len > 254 || memchr(s, '\0', len))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;	/* the last @ splits */
	if (at == NULL)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (p = s; p < at; p++) {
		if (*p == '.') {
			if (p[1] == '.')
				return false;
		} else if (!atext(*p))
			return false;
	}
	/* Domain: dot-separated labels of letters, digits and inner hyphens,
	 * at least two labels, a top-level label of letters. */
	label = at + 1;
	if (label >= s + len)
		return false;
	for (p = label; p <= s + len; p++) {
		if (p == s + len || *p == '.') {
			size_t ll = (size_t)(p - label);
			if (ll == 0 || ll > 63 || label[0] == '-' || p[-1] == '-')
				return false;
			if (p != s + len)
				dot = true;
			else {
				for (const char *q = label; q < p; q++)
					if (!isalpha((unsigned char)*q))
						return false;
				if (ll < 2)
					return false;
			}
			label = p + 1;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
	}
	return dot;
}

static const char *
type_noun(enum ftype t)
{
	switch (t) {
	case FT_STRING:
	case FT_PHONE:
	case FT_EMAIL:
	case FT_ENUM:
		return "a string";
	case FT_TAGS:
	case FT_ARRAY:
		return "an array";
	case FT_SCALARS:
	case FT_OBJECT:
		return "an object";
	case FT_BOOL:
		return "true or false";
	case FT_INT:
		return "an integer";
	case FT_NUMBER:
		return "a number";
	case FT_STRING_OR_OBJECT:
		return "a string or an object";
	case FT_ID:
		return "a string or an integer";
	}
	return "valid";
}

static void
parse_tags(struct pool *pool, const struct field *f, struct json_object *v,
    struct fval *out, struct verrs *e)
{
	struct json_object *res;
	size_t i, j, n = json_object_array_length(v);
	unsigned before = e->n;

	if (n > TAGS_MAX) {
		verr_add(e, f->name, "The %s field must not have more than %d "
		    "items.", field_label(pool, f->name), TAGS_MAX);
		return;
	}
	res = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(v, i);
		const char *s;
		size_t len, cl;
		char *path = pool_printf(pool, "%s.%zu", f->name, i);
		bool dup = false;

		if (!json_object_is_type(t, json_type_string)) {
			verr_add(e, path, "The %s field must be a string.", path);
			continue;
		}
		s = json_object_get_string(t);
		len = (size_t)json_object_get_string_len(t);
		cl = utf8_length(s, len);
		if (cl < 1 || cl > TAG_MAX_LEN || memchr(s, '\0', len)) {
			verr_add(e, path, "The %s field must be between 1 and %d "
			    "characters.", path, TAG_MAX_LEN);
			continue;
		}
		for (j = 0; j < json_object_array_length(res); j++)
			if (!strcmp(json_object_get_string(
			    json_object_array_get_idx(res, j)), s))
				dup = true;
		if (!dup)
			json_object_array_add(res, json_object_get(t));
	}
	if (e->n != before) {
		json_object_put(res);
		return;
	}
	out->j = res;
}

static void
parse_scalars(struct pool *pool, const struct field *f, struct json_object *v,
    struct fval *out, struct verrs *e)
{
	unsigned before = e->n;

	if (json_object_object_length(v) > f->max) {
		verr_add(e, f->name, "The %s field must not have more than %lld "
		    "items.", field_label(pool, f->name), f->max);
		return;
	}
	json_object_object_foreach(v, key, val) {
		enum json_type t = json_object_get_type(val);
		size_t kl = strlen(key);

		if (kl == 0 || kl > 64) {
			verr_add(e, f->name, "The %s field keys must be between 1 "
			    "and 64 characters.", field_label(pool, f->name));
			continue;
		}
		if (t == json_type_object || t == json_type_array)
			verr_add(e, pool_printf(pool, "%s.%s", f->name, key),
			    "The %s.%s field must be a string, number, boolean "
			    "or null.", f->name, key);
		else if (t == json_type_string &&
		    utf8_length(json_object_get_string(val),
		    (size_t)json_object_get_string_len(val)) > 65535)
			verr_add(e, pool_printf(pool, "%s.%s", f->name, key),
			    "The %s.%s field must not be greater than 65535 "
			    "characters.", f->name, key);
	}
	if (e->n == before)
		out->j = v;
}

unsigned
fields_parse(struct pool *pool, struct json_object *body,
    const struct field *fields, size_t n, struct fval *vals, struct verrs *e,
    bool partial)
{
	return fields_parse_at(pool, body, NULL, fields, n, vals, e, partial);
}

unsigned
fields_parse_at(struct pool *pool, struct json_object *body,
    const char *prefix, const struct field *fields, size_t n,
    struct fval *vals, struct verrs *e, bool partial)
{
	unsigned before = e->n;
	size_t i;

	for (i = 0; i < n; i++) {
		struct field fx = fields[i];
		const struct field *f = &fx;
		struct fval *out = &vals[i];
		struct json_object *v;
		const char *label;
		enum json_type t;

		/* Messages and paths name nested fields in full. */
		if (prefix != NULL)
			fx.name = pool_printf(pool, "%s.%s", prefix, fields[i].name);
		label = prefix != NULL ? fx.name : field_label(pool, f->name);
		memset(out, 0, sizeof(*out));
		if (!json_object_object_get_ex(body, fields[i].name, &v)) {
			if ((f->flags & FF_REQUIRED) && !partial)
				verr_add(e, f->name, "The %s field is required.",
				    label);
			continue;
		}
		out->present = true;
		t = json_object_get_type(v);
		if (t == json_type_null) {
			if (f->flags & FF_NULLABLE)
				out->isnull = true;
			else if (f->flags & FF_REQUIRED)
				verr_add(e, f->name, "The %s field is required.",
				    label);
			else
				verr_add(e, f->name, "The %s field must be %s.",
				    label, type_noun(f->type));
			continue;
		}
		switch (f->type) {
		case FT_STRING:
		case FT_PHONE:
		case FT_EMAIL:
		case FT_ENUM: {
			const char *s;
			size_t len, cl;

			if (t != json_type_string) {
				verr_add(e, f->name, "The %s field must be a "
				    "string.", label);
				break;
			}
			s = json_object_get_string(v);
			len = (size_t)json_object_get_string_len(v);
			if (memchr(s, '\0', len) != NULL) {
				verr_add(e, f->name, "The %s field must not "
				    "contain NUL characters.", label);
				break;
			}
			out->s = s;
			out->slen = len;
			if (f->type == FT_PHONE) {
				char buf[PHONE_MAX + 1];
				if (len == 0) {
					verr_add(e, f->name, "The %s field is "
					    "required.", label);
					out->s = NULL;
				} else if (phone_normalize(s, len, buf) == -1) {
					verr_add(e, f->name, "The %s field must "
					    "be a valid E.164 phone number.", label);
					out->s = NULL;
				} else {
					out->s = pool_strdup(pool, buf);
					out->slen = strlen(buf);
				}
			} else if (f->type == FT_EMAIL) {
				if (!email_valid(s, len)) {
					verr_add(e, f->name, "The %s field must "
					    "be a valid email address.", label);
					out->s = NULL;
				}
			} else if (f->type == FT_ENUM) {
				long long k;
				for (k = 0; f->enums[k] != NULL; k++)
					if (!strcmp(f->enums[k], s))
						break;
				if (f->enums[k] == NULL) {
					verr_add(e, f->name, "The selected %s is "
					    "invalid.", label);
					out->s = NULL;
				} else
					out->i = k;
			} else {
				cl = utf8_length(s, len);
				if ((long long)cl < f->min) {
					verr_add(e, f->name, f->min == 1 ?
					    "The %s field is required." :
					    "The %s field must be at least %lld "
					    "characters.", label, f->min);
					out->s = NULL;
				} else if (f->max > 0 && (long long)cl > f->max) {
					verr_add(e, f->name, "The %s field must "
					    "not be greater than %lld characters.",
					    label, f->max);
					out->s = NULL;
				}
			}
			break;
		}
		case FT_TAGS:
			if (t != json_type_array)
				verr_add(e, f->name, "The %s field must be an "
				    "array.", label);
			else
				parse_tags(pool, f, v, out, e);
			break;
		case FT_SCALARS:
			if (t != json_type_object)
				verr_add(e, f->name, "The %s field must be an "
				    "object.", label);
			else
				parse_scalars(pool, f, v, out, e);
			break;
		case FT_OBJECT:
			if (t != json_type_object)
				verr_add(e, f->name, "The %s field must be an "
				    "object.", label);
			else
				out->j = v;
			break;
		case FT_ARRAY:
			if (t != json_type_array)
				verr_add(e, f->name, "The %s field must be an "
				    "array.", label);
			else
				out->j = v;
			break;
		case FT_NUMBER: {
			double d;
			if (t != json_type_double && t != json_type_int) {
				verr_add(e, f->name, "The %s field must be a "
				    "number.", label);
				break;
			}
			d = json_object_get_double(v);
			if (d < (double)f->min || d > (double)f->max)
				verr_add(e, f->name, "The %s field must be "
				    "between %lld and %lld.", label, f->min,
				    f->max);
			else
				out->d = d;
			break;
		}
		case FT_STRING_OR_OBJECT:
			if (t == json_type_object)
				out->j = v;
			else if (t == json_type_string) {
				size_t len = (size_t)json_object_get_string_len(v);
				size_t cl = utf8_length(json_object_get_string(v), len);
				if ((long long)cl < f->min || (long long)cl > f->max)
					verr_add(e, f->name, "The %s field must be "
					    "between %lld and %lld characters.",
					    label, f->min, f->max);
				else {
					out->s = json_object_get_string(v);
					out->slen = len;
				}
			} else
				verr_add(e, f->name, "The %s field must be a "
				    "string or an object.", label);
			break;
		case FT_ID:
			if (t == json_type_int && json_object_get_int64(v) > 0)
				out->s = pool_printf(pool, "%lld", (long long)
				    json_object_get_int64(v));
			else if (t == json_type_string &&
			    json_object_get_string_len(v) > 0 &&
			    json_object_get_string_len(v) <= 256)
				out->s = json_object_get_string(v);
			else {
				verr_add(e, f->name, "The %s field must be a "
				    "non-empty string or a positive integer.",
				    label);
				break;
			}
			out->slen = strlen(out->s);
			break;
		case FT_BOOL:
			if (t != json_type_boolean)
				verr_add(e, f->name, "The %s field must be true "
				    "or false.", label);
			else
				out->i = json_object_get_boolean(v);
			break;
		case FT_INT: {
			int64_t iv;
			if (t == json_type_double) {
				double d = json_object_get_double(v);
				if (d != floor(d) || d < -9e15 || d > 9e15) {
					verr_add(e, f->name, "The %s field must "
					    "be an integer.", label);
					break;
				}
				iv = (int64_t)d;
			} else if (t == json_type_int)
				iv = json_object_get_int64(v);
			else {
				verr_add(e, f->name, "The %s field must be an "
				    "integer.", label);
				break;
			}
			if (iv < f->min || iv > f->max)
				verr_add(e, f->name, "The %s field must be "
				    "between %lld and %lld.", label, f->min,
				    f->max);
			else
				out->i = iv;
			break;
		}
		}
	}
	return e->n - before;
}

void
fvals_free(const struct field *fields, size_t n, struct fval *vals)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fields[i].type == FT_TAGS && vals[i].j != NULL) {
			json_object_put(vals[i].j);
			vals[i].j = NULL;
		}
}

bool
graph_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		    s[n] == '_' || s[n] == '-'))
			return false;
	return n > 0;
}

bool
wamid_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (s[n] <= ' ' || s[n] > '~' || n >= 255)
			return false;
	return n > 0;
}
