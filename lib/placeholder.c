#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "placeholder.h"
#include "xmalloc.h"

#define PH_KEY_MAX	64

enum ph_field { PH_NAME, PH_PHONE, PH_EMAIL, PH_CUSTOM };

/* One placeholder as parsed. */
struct ph {
	enum ph_field	 field;
	const char	*key;		/* PH_CUSTOM: the key, keylen bytes */
	size_t		 keylen;
	const char	*fallback;	/* NULL: none */
	size_t		 fblen;
	size_t		 len;		/* the whole "{{...}}" */
};

static const struct {
	const char	*name;
	enum ph_field	 field;
} fields[] = {
	{ "contact.name",		PH_NAME },
	{ "contact.phone",		PH_PHONE },
	{ "contact.email",		PH_EMAIL },
	{ "contact.custom_fields.",	PH_CUSTOM },
};

/* The bytes of s[0..n) that end on a UTF-8 character boundary (a cut
 * never leaves half a character in a message). */
static int
utf8_cut(const char *s, size_t n)
{
	size_t k = strnlen(s, n);

	if (k < n)
		return (int)k;		/* all of it */
	while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;			/* not inside a character */
	return (int)k;
}

/* Parses the placeholder at s (which starts with "{{"): 0, or -1 with
 * the reason in err. */
static int
ph_parse(const char *s, struct ph *p, char *err, size_t errlen)
{
	const char *q, *end, *bar, *f;
	size_t i, n, flen;

	memset(p, 0, sizeof(*p));
	end = strstr(s + 2, "}}");
	if (end == NULL) {
		snprintf(err, errlen, "The placeholder at \"%.*s\" is not "
		    "closed with }}.", utf8_cut(s, 40), s);
		return -1;
	}
	p->len = (size_t)(end - s) + 2;
	if (p->len > PH_LEN_MAX) {
		snprintf(err, errlen, "The placeholder at \"%.*s\" is longer "
		    "than %d bytes.", utf8_cut(s, 40), s, PH_LEN_MAX);
		return -1;
	}
	q = s + 2;
	while (q < end && *q == ' ')
		q++;
	for (bar = q; bar < end && *bar != '|'; bar++)
		continue;
	if (bar == end)
		bar = NULL;
	f = bar != NULL ? bar : end;
	while (f > q && f[-1] == ' ')
		f--;
	flen = (size_t)(f - q);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		n = strlen(fields[i].name);
		if (fields[i].field == PH_CUSTOM) {
			if (flen > n && strncmp(q, fields[i].name, n) == 0)
				break;
		} else if (flen == n && strncmp(q, fields[i].name, n) == 0)
			break;
	}
	if (i == sizeof(fields) / sizeof(fields[0]))
		goto bad;
	p->field = fields[i].field;
	if (p->field == PH_CUSTOM) {
		p->key = q + strlen(fields[i].name);
		p->keylen = (size_t)(f - p->key);
		if (p->keylen > PH_KEY_MAX ||
		    memchr(p->key, ' ', p->keylen) != NULL ||
		    memchr(p->key, '}', p->keylen) != NULL ||
		    memchr(p->key, '{', p->keylen) != NULL)
			goto bad;
	}
	if (bar != NULL) {
		p->fallback = bar + 1;
		p->fblen = (size_t)(end - p->fallback);
		if (memchr(p->fallback, '{', p->fblen) != NULL)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "The placeholder %.*s names no contact field "
	    "(use contact.name, contact.phone, contact.email or "
	    "contact.custom_fields.KEY).", utf8_cut(s, p->len > 80 ? 80 :
	    p->len), s);
	return -1;
}

bool
ph_has(const char *s)
{
	return strstr(s, "{{") != NULL;
}

int
ph_check(const char *s, char *err, size_t errlen)
{
	struct ph p;

	while ((s = strstr(s, "{{")) != NULL) {
		if (ph_parse(s, &p, err, errlen) != 0)
			return -1;
		s += p.len;
	}
	return 0;
}

/* The contact's value for p as a string (static or owned by c->custom),
 * or NULL when it has none. buf holds a number's text. */
static const char *
ph_value(const struct ph *p, const struct ph_contact *c, char *buf,
    size_t buflen)
{
	struct json_object *v;
	char key[PH_KEY_MAX + 1];
	const char *s = NULL;

	switch (p->field) {
	case PH_NAME:
		s = c->name;
		break;
	case PH_PHONE:
		s = c->phone;
		break;
	case PH_EMAIL:
		s = c->email;
		break;
	case PH_CUSTOM:
		if (c->custom == NULL ||
		    !json_object_is_type(c->custom, json_type_object))
			return NULL;
		memcpy(key, p->key, p->keylen);
		key[p->keylen] = '\0';
		if (!json_object_object_get_ex(c->custom, key, &v) || v == NULL)
			return NULL;
		switch (json_object_get_type(v)) {
		case json_type_string:
			s = json_object_get_string(v);
			break;
		case json_type_boolean:
			s = json_object_get_boolean(v) ? "true" : "false";
			break;
		case json_type_int:
		case json_type_double:
			snprintf(buf, buflen, "%s",
			    json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
			s = buf;
			break;
		default:
			return NULL;
		}
		break;
	}
	return s != NULL && *s != '\0' ? s : NULL;
}

/* Appends n bytes of v to the result, doubling its room as needed:
 * false when it would pass max. */
static bool
put(char **out, size_t *len, size_t *cap, size_t max, const char *v,
    size_t n)
{
	if (n > max || *len > max - n)
		return false;
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap *= 2;
		*out = xreallocarray(*out, *cap, 1);
	}
	memcpy(*out + *len, v, n);
	*len += n;
	(*out)[*len] = '\0';
	return true;
}

char *
ph_fill(const char *s, const struct ph_contact *c, size_t max,
    char *missing, size_t missinglen, bool *toolong)
{
	char *out, err[8], num[64];
	const char *at, *v;
	size_t len = 0, cap = 64, n;
	struct ph p;

	*toolong = false;
	out = xmalloc(cap);
	out[0] = '\0';
	while ((at = strstr(s, "{{")) != NULL) {
		if (ph_parse(at, &p, err, sizeof(err)) != 0) {
			/* Kept as text (ph_check refuses it before). */
			if (!put(&out, &len, &cap, max, s, (size_t)(at - s) + 2))
				goto long_;
			s = at + 2;
			continue;
		}
		if (!put(&out, &len, &cap, max, s, (size_t)(at - s)))
			goto long_;
		v = ph_value(&p, c, num, sizeof(num));
		if (v == NULL && p.fallback == NULL) {
			n = p.len < missinglen ? p.len : missinglen - 1;
			snprintf(missing, missinglen, "%.*s", utf8_cut(at, n),
			    at);
			free(out);
			return NULL;
		}
		if (!put(&out, &len, &cap, max, v != NULL ? v : p.fallback,
		    v != NULL ? strlen(v) : p.fblen))
			goto long_;
		s = at + p.len;
	}
	if (put(&out, &len, &cap, max, s, strlen(s)))
		return out;
long_:
	*toolong = true;
	free(out);
	return NULL;
}
