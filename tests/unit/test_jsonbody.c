/* jsonbody.h: strict parsing of request bodies. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "text.h"
#include "tests.h"

/* Where jsonbody_parse names a value it refused. */
static char path[128];

/* jsonbody_parse with the path buffer above. */
static enum jsonbody_rc
jb(const char *body, size_t len, struct json_object **out)
{
	return jsonbody_parse(body, len, out, path, sizeof(path));
}

/* body as a C-ish literal for failure messages: control and non-ASCII
 * bytes as \xNN. Returns a static buffer. */
static const char *
shown(const char *body)
{
	static char out[512];
	size_t o = 0;

	for (; *body != '\0' && o < sizeof(out) - 5; body++) {
		unsigned char c = (unsigned char)*body;
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* Parses a literal (its sizeof, so embedded NULs count) and returns the rc;
 * the object, if any, is put at once. */
static enum jsonbody_rc
rc_of(const char *body, size_t len)
{
	struct json_object *o = (struct json_object *)1;
	enum jsonbody_rc rc = jb(body, len, &o);

	if (rc == JSONBODY_OK)
		ck_assert_ptr_nonnull(o);
	else
		ck_assert_msg(o == NULL, "out set on failure");
	json_object_put(o);
	return rc;
}
#define RC(lit)	rc_of((lit), sizeof(lit) - 1)

START_TEST(jsonbody_empty_is_empty_object)
{
	static const char *const bodies[] = { "", " ", "\r\n", " \t\r\n " };
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct json_object *o = NULL;
		ck_assert_int_eq(jb(bodies[i], strlen(bodies[i]), &o),
		    JSONBODY_OK);
		ck_assert(json_object_is_type(o, json_type_object));
		ck_assert_int_eq(json_object_object_length(o), 0);
		json_object_put(o);
	}
	/* A NULL pointer with length 0 is an empty body too. */
	{
		struct json_object *o = NULL;
		ck_assert_int_eq(jb(NULL, 0, &o), JSONBODY_OK);
		ck_assert(json_object_is_type(o, json_type_object));
		json_object_put(o);
	}
}
END_TEST

START_TEST(jsonbody_objects)
{
	const char *b = " {\"phone\":\"+4915\",\"tags\":[\"a\",{\"b\":null}],"
	    "\"n\":-1.5e3,\"t\":true} \n";
	struct json_object *o, *v;

	ck_assert_int_eq(jb(b, strlen(b), &o), JSONBODY_OK);
	ck_assert(json_object_object_get_ex(o, "phone", &v));
	ck_assert_str_eq(json_object_get_string(v), "+4915");
	ck_assert(json_object_object_get_ex(o, "tags", &v));
	ck_assert_uint_eq(json_object_array_length(v), 2);
	ck_assert(json_object_object_get_ex(o, "n", &v));
	ck_assert(json_object_get_double(v) == -1500.0);
	json_object_put(o);
	ck_assert_int_eq(RC("{}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":\"\\u00e9\\ud83d\\ude00\"}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":\"\xc3\xa9\"}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":1e5,\"b\":-0,\"c\":0.5}"), JSONBODY_OK);
}
END_TEST

START_TEST(jsonbody_only_len_bytes)
{
	struct json_object *o;

	/* Bytes past len are not read; a body cut by len is incomplete. */
	ck_assert_int_eq(jb("{}garbage", 2, &o), JSONBODY_OK);
	json_object_put(o);
	ck_assert_int_eq(rc_of("{\"a\":1}", 4), JSONBODY_SYNTAX);
}
END_TEST

/* Bodies that are not JSON (RFC 8259), each reported on its own. Strict
 * mode must refuse all of them: a lenient form accepted here is stored and
 * later echoed back as invalid JSON (json-c prints "1." and "-Infinity" as
 * it read them). */
static const char *const not_json[] = {
	"{", "}", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{\"a\":'x'}",
	"{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":[,1]}", "{,}", "{\"a\":[1 2]}",
	"{\"a\":1 \"b\":2}", "{\"a\":01}", "{\"a\":.5}", "{\"a\":+1}",
	"{\"a\":0x10}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":nan}",
	"{\"a\":True}", "{\"a\":tru}",
	"{\"a\":nul}", "{\"a\":\"x\\q\"}", "{\"a\":\"\\x41\"}",
	"{\"a\":\"\\u00\"}", "{\"a\":\"\\U0041\"}",
	"{\"a\":\"unterminated}", "/* c */{}",
	"{}// c", "not json",
	/* Forms json-c's strict mode lets through. */
	"{'a':1}",			/* single-quoted key */
	"{\"a\":\"tab\there\"}",		/* raw control characters */
	"{\"a\":\"line\nbreak\"}",
	"{\"a\":\"\x01\"}",
	"{\"a\tb\":1}",
	"{\"a\":NaN}",
	"{\"a\":Infinity}",
	"{\"a\":-Infinity}",
	"{\"a\":1.}",
	"{\"a\":1.e5}",
	"{\"a\":-01}",
	"{\"a\":00}",
};

START_TEST(jsonbody_strict_syntax)
{
	const char *b = not_json[_i];

	ck_assert_msg(rc_of(b, strlen(b)) == JSONBODY_SYNTAX,
	    "accepted as JSON: %s", shown(b));
}
END_TEST

START_TEST(jsonbody_trailing_bytes)
{
	ck_assert_int_eq(RC("{} \r\n\t"), JSONBODY_OK);
	ck_assert_int_eq(RC("{} x"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{}{}"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{}]"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{},"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{}\0"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{}\0{}"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{\"a\":1} 2"), JSONBODY_SYNTAX);
	ck_assert_int_eq(RC("{}\f"), JSONBODY_SYNTAX);
}
END_TEST

START_TEST(jsonbody_invalid_utf8)
{
	ck_assert_int_eq(RC("{\"a\":\"\xc3\x28\"}"), JSONBODY_UTF8);
	ck_assert_int_eq(RC("{\"a\":\"\xc0\xaf\"}"), JSONBODY_UTF8);	/* overlong */
	ck_assert_int_eq(RC("{\"a\":\"\xe0\x80\xaf\"}"), JSONBODY_UTF8);
	/* A surrogate. */
	ck_assert_int_eq(RC("{\"a\":\"\xed\xa0\x80\"}"), JSONBODY_UTF8);
	ck_assert_int_eq(RC("{\"a\":\"\xf4\x90\x80\x80\"}"), JSONBODY_UTF8);
	ck_assert_int_eq(RC("{\"a\":\"\xff\"}"), JSONBODY_UTF8);
	ck_assert_int_eq(RC("{\"\xc3\":1}"), JSONBODY_UTF8);		/* in a key */
	ck_assert_int_eq(RC("{\"a\":\"\xe2\x82\"}"), JSONBODY_UTF8);	/* truncated */
	ck_assert_int_ne(RC("\xef\xbb\xbf{}"), JSONBODY_OK);	/* BOM */
}
END_TEST

START_TEST(jsonbody_escaped_surrogates_stay_valid)
{
	static const char *const bodies[] = {
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\udfff\\ud800\"}",
		"{\"a\":\"\\ud83d\\ude00\"}",
	};
	size_t i;

	/* Whatever the parser makes of an escaped lone surrogate, the string
	 * it hands on must be valid UTF-8. */
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct json_object *o, *v;
		enum jsonbody_rc rc = jb(bodies[i],
		    strlen(bodies[i]), &o);
		if (rc != JSONBODY_OK)
			continue;
		ck_assert(json_object_object_get_ex(o, "a", &v));
		ck_assert_msg(utf8_valid(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v)),
		    "%s decodes to invalid UTF-8", bodies[i]);
		json_object_put(o);
	}
	/* A proper pair decodes to the code point. */
	{
		struct json_object *o, *v;
		ck_assert_int_eq(RC("{}"), JSONBODY_OK);
		ck_assert_int_eq(jb(bodies[4], strlen(bodies[4]), &o),
		    JSONBODY_OK);
		ck_assert(json_object_object_get_ex(o, "a", &v));
		ck_assert_str_eq(json_object_get_string(v), "\xf0\x9f\x98\x80");
		json_object_put(o);
	}
}
END_TEST

START_TEST(jsonbody_not_object)
{
	ck_assert_int_eq(RC("[]"), JSONBODY_NOT_OBJECT);
	ck_assert_int_eq(RC("[{}]"), JSONBODY_NOT_OBJECT);
	ck_assert_int_eq(RC("\"s\""), JSONBODY_NOT_OBJECT);
	ck_assert_int_eq(RC(" [1, 2] \n"), JSONBODY_NOT_OBJECT);
}
END_TEST

/* Top-level scalars are valid JSON (RFC 8259), so NOT_OBJECT by the
 * header's contract, with or without whitespace after them. */
static const char *const scalars[] = {
	"123", "1.5", "-2", "true", "false", "null", "null ", "123 ", "true\n",
	"\"s\"",
};

START_TEST(jsonbody_scalar_not_object)
{
	const char *b = scalars[_i];

	ck_assert_msg(rc_of(b, strlen(b)) == JSONBODY_NOT_OBJECT,
	    "top-level scalar \"%s\": rc %d, not JSONBODY_NOT_OBJECT", shown(b),
	    rc_of(b, strlen(b)));
}
END_TEST

/* Integers beyond 64 bits are refused, not clamped; the scan for them must
 * not look inside strings or keys. */
START_TEST(jsonbody_integer_range)
{
	ck_assert_int_eq(RC("{\"a\":18446744073709551615}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":9223372036854775807}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":-9223372036854775808}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":18446744073709551616}"), JSONBODY_RANGE);
	ck_assert_int_eq(RC("{\"a\":-9223372036854775809}"), JSONBODY_RANGE);
	ck_assert_int_eq(RC("{\"a\":123456789012345678901234567890}"),
	    JSONBODY_RANGE);
	ck_assert_int_eq(RC("{\"a\":1234567890123456789012345678901234567890}"),
	    JSONBODY_RANGE);
	ck_assert_int_eq(RC("{\"a\":[1,{\"b\":99999999999999999999}]}"),
	    JSONBODY_RANGE);
	ck_assert_int_eq(RC("{\"a\":\"\\\\\",\"b\":99999999999999999999}"),
	    JSONBODY_RANGE);
	/* Not integers, or not numbers at all. */
	ck_assert_int_eq(RC("{\"a\":123456789012345678901234567890.5}"),
	    JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":1234567890123456789012345e2}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":\"99999999999999999999\"}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"99999999999999999999\":1}"), JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":\"x\\\"99999999999999999999\"}"),
	    JSONBODY_OK);
	ck_assert_int_eq(RC("{\"a\":\"-99999999999999999999\",\"b\":-1}"),
	    JSONBODY_OK);
	/* Out of a double's range is no number either. */
	ck_assert_int_ne(RC("{\"a\":1e400}"), JSONBODY_OK);
	ck_assert_int_ne(RC("{\"a\":-1e400}"), JSONBODY_OK);
}
END_TEST

/* A refused integer is named by its dotted path, as validation names
 * fields: object keys as the client sent them (decoded), array indices. */
static const char *
range_path(const char *body)
{
	struct json_object *o;
	enum jsonbody_rc rc;

	strcpy(path, "untouched");
	rc = jsonbody_parse(body, strlen(body), &o, path, sizeof(path));
	ck_assert_msg(rc == JSONBODY_RANGE, "%s: rc %d", body, rc);
	return path;
}

START_TEST(jsonbody_range_path)
{
	char small[8];
	struct json_object *o;
	const char *b = "{\"custom_fields\":{\"x\":99999999999999999999}}";

	ck_assert_str_eq(range_path("{\"a\":99999999999999999999}"), "a");
	ck_assert_str_eq(range_path("{\"phone\":\"+1\",\"custom_fields\":"
	    "{\"x\":1,\"y\":-99999999999999999999}}"), "custom_fields.y");
	ck_assert_str_eq(range_path("{\"tags\":[\"x\",2,99999999999999999999]}"),
	    "tags.2");
	ck_assert_str_eq(range_path("{\"a\":{\"b\":[0,{\"c\":1},"
	    "{\"d\":[99999999999999999999]}]}}"), "a.b.2.d.0");
	ck_assert_str_eq(range_path("{\"a\":[{\"x\":1},{\"y\":2}],"
	    "\"b\":99999999999999999999}"), "b");
	ck_assert_str_eq(range_path("{\"k,:[{\":1,\"n\":99999999999999999999}"),
	    "n");
	/* A small buffer gets a truncated, terminated path. */
	ck_assert_int_eq(jsonbody_parse(b, strlen(b), &o, small, sizeof(small)),
	    JSONBODY_RANGE);
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_mem_eq(small, "custom_", strlen(small));
}
END_TEST

START_TEST(jsonbody_range_path_decoded_key)
{
	/* The key as the client meant it, as fields_parse's messages and
	 * details name it: "custom_fields.é", not its JSON escape. */
	ck_assert_str_eq(range_path("{\"custom_fields\":{\"\\u00e9\":"
	    "99999999999999999999}}"), "custom_fields.\xc3\xa9");
	ck_assert_str_eq(range_path("{\"custom_fields\":{\"a\\\"b\":"
	    "99999999999999999999}}"), "custom_fields.a\"b");
}
END_TEST

/* n nested containers, "{"a":" for objects or "[" for arrays, with an empty
 * one innermost. */
static char *
nested(int n, bool arrays)
{
	char *b = malloc((size_t)n * 6 + 8), *p = b;
	int i;

	if (n == 1) {
		strcpy(b, "{}");
		return b;
	}
	p += sprintf(p, "{\"a\":");
	for (i = 1; i < n - 1; i++)
		p += sprintf(p, arrays ? "[" : "{\"a\":");
	p += sprintf(p, arrays ? "[]" : "{}");
	for (i = 1; i < n - 1; i++)
		*p++ = arrays ? ']' : '}';
	*p++ = '}';
	*p = '\0';
	return b;
}

START_TEST(jsonbody_depth_limit)
{
	int n;

	for (n = 1; n <= JSONBODY_MAX_DEPTH; n++) {
		char *b = nested(n, _i == 1);
		ck_assert_msg(rc_of(b, strlen(b)) == JSONBODY_OK,
		    "%d levels rejected: %s", n, b);
		free(b);
	}
	for (n = JSONBODY_MAX_DEPTH + 1; n <= JSONBODY_MAX_DEPTH + 3; n++) {
		char *b = nested(n, _i == 1);
		ck_assert_msg(rc_of(b, strlen(b)) == JSONBODY_SYNTAX,
		    "%d levels accepted", n);
		free(b);
	}
	{
		char *b = nested(10000, _i == 1);
		ck_assert_int_eq(rc_of(b, strlen(b)), JSONBODY_SYNTAX);
		free(b);
	}
}
END_TEST

START_TEST(jsonbody_depth_32)
{
	ck_assert_int_eq(JSONBODY_MAX_DEPTH, 32);
}
END_TEST

START_TEST(jsonbody_large_body)
{
	size_t n = 900 * 1024, i;
	char *b = malloc(n + 16), *p = b;
	struct json_object *o, *v;

	p += sprintf(p, "{\"a\":[");
	for (i = 0; (size_t)(p - b) < n; i++)
		p += sprintf(p, "%s%zu", i ? "," : "", i);
	p += sprintf(p, "]}");
	ck_assert_int_eq(jb(b, (size_t)(p - b), &o), JSONBODY_OK);
	ck_assert(json_object_object_get_ex(o, "a", &v));
	ck_assert_uint_eq(json_object_array_length(v), i);
	json_object_put(o);
	free(b);
}
END_TEST

/* A body of n copies of unit (comma-separated) between pre and post; the
 * caller frees it. */
static char *
repeated(const char *pre, const char *unit, size_t n, const char *post,
    size_t *len)
{
	size_t ul = strlen(unit), cap = strlen(pre) + n * (ul + 1) +
	    strlen(post) + 1, i;
	char *b = malloc(cap), *p = b;

	ck_assert_ptr_nonnull(b);
	p += sprintf(p, "%s", pre);
	for (i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		memcpy(p, unit, ul);
		p += ul;
	}
	p += sprintf(p, "%s", post);
	*len = (size_t)(p - b);
	return b;
}

/* Bodies whose json-c tree would be hundreds of times their size are
 * refused before json-c sees them: empty objects and arrays, and the
 * smallest members and numbers in bulk. */
START_TEST(jsonbody_cost_refused)
{
	static const char *const units[] = { "{}", "[]", "{\"a\":{}}",
	    "[[]]", "1", "{\"a\":1}" };
	struct json_object *o = (struct json_object *)1;
	size_t len;
	char *b = repeated("{\"a\":[", units[_i], (1 << 20) /
	    (strlen(units[_i]) + 1), "]}", &len);

	ck_assert_uint_le(len, (size_t)(1 << 20) + 16);
	ck_assert_int_eq(jb(b, len, &o), JSONBODY_COST);
	ck_assert_ptr_null(o);
	/* Also at the size of Meta's largest bodies, and inside Meta's shape. */
	free(b);
	b = repeated("{\"entry\":[", units[_i], (3 << 20) /
	    (strlen(units[_i]) + 1), "]}", &len);
	ck_assert_int_eq(jsonbody_check(b, len, NULL, path, sizeof(path)),
	    JSONBODY_COST);
	free(b);
}
END_TEST

/* Every legitimate body passes: small ones whatever their shape (the
 * base), 50 one-letter tags and 50 custom fields, a 1 MiB text, template
 * components, and Meta's densest statuses at 3 MiB. */
START_TEST(jsonbody_cost_legitimate)
{
	char *b, *t;
	size_t len;
	struct json_object *o;

	/* 300 empty objects: 240 KB of tree, under the base. */
	b = repeated("{\"a\":[", "{}", 300, "]}", &len);
	ck_assert_int_eq(jb(b, len, &o), JSONBODY_OK);
	json_object_put(o);
	free(b);
	b = repeated("{\"phone\":\"+4915112345678\",\"tags\":[", "\"a\"", 50,
	    "]}", &len);
	ck_assert_int_eq(jb(b, len, &o), JSONBODY_OK);
	json_object_put(o);
	free(b);
	{
		char cf[2048], *p = cf;
		int i;
		p += sprintf(p, "{\"custom_fields\":{");
		for (i = 0; i < 50; i++)
			p += sprintf(p, "%s\"%d\":%s", i ? "," : "", i,
			    i % 2 ? "null" : "1");
		p += sprintf(p, "},\"tags\":[]}");
		ck_assert_int_eq(jb(cf, strlen(cf), &o), JSONBODY_OK);
		json_object_put(o);
	}
	/* A 1 MiB text. */
	t = malloc((1 << 20) + 64);
	memcpy(t, "{\"to\":\"+4915\",\"type\":\"text\",\"content\":{\"body\":\"", 47);
	memset(t + 47, 'x', 1 << 20);
	memcpy(t + 47 + (1 << 20), "\"}}", 4);
	ck_assert_int_eq(jb(t, strlen(t), &o), JSONBODY_OK);
	json_object_put(o);
	free(t);
	/* A template with components. */
	{
		const char *tpl = "{\"to\":\"+4915\",\"type\":\"template\","
		    "\"content\":{\"name\":\"order\",\"language\":{\"code\":"
		    "\"en\"},\"components\":[{\"type\":\"header\",\"parameters\":"
		    "[{\"type\":\"image\",\"image\":{\"link\":\"https://x/y.png\"}}]},"
		    "{\"type\":\"body\",\"parameters\":[{\"type\":\"text\","
		    "\"text\":\"A\"},{\"type\":\"currency\",\"currency\":{"
		    "\"fallback_value\":\"$1\",\"code\":\"USD\",\"amount_1000\":"
		    "1000}},{\"type\":\"date_time\",\"date_time\":{"
		    "\"fallback_value\":\"today\"}}]},{\"type\":\"button\","
		    "\"sub_type\":\"quick_reply\",\"index\":\"0\",\"parameters\":"
		    "[{\"type\":\"payload\",\"payload\":\"P\"}]}]}}";
		ck_assert_int_eq(jb(tpl, strlen(tpl), &o), JSONBODY_OK);
		json_object_put(o);
	}
	/* Meta's statuses with conversation and pricing, filling 3 MiB. */
	b = repeated("{\"object\":\"whatsapp_business_account\",\"entry\":[{"
	    "\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{"
	    "\"messaging_product\":\"whatsapp\",\"metadata\":{"
	    "\"display_phone_number\":\"15550783881\",\"phone_number_id\":"
	    "\"106540352242922\"},\"statuses\":[",
	    "{\"id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMDFFRkQ5NjQ2\","
	    "\"status\":\"sent\",\"timestamp\":\"1750030073\",\"recipient_id\":"
	    "\"16505551234\",\"conversation\":{\"id\":\"CONVERSATION_ID\","
	    "\"expiration_timestamp\":\"1750116473\",\"origin\":{\"type\":"
	    "\"utility\"}},\"pricing\":{\"billable\":true,\"pricing_model\":"
	    "\"PMP\",\"category\":\"utility\",\"type\":\"regular\"}}",
	    (3 << 20) / 360, "]}}]}]}", &len);
	ck_assert_uint_le(len, (size_t)3 << 20);
	ck_assert_uint_ge(len, (size_t)5 << 19);
	ck_assert_int_eq(jsonbody_check(b, len, NULL, path, sizeof(path)),
	    JSONBODY_OK);
	free(b);
}
END_TEST

/* Where the bound lies: n empty objects in an array are estimated at
 * 816 n + 1027 bytes against a budget of 32 (3 n + 7) + 256 KiB, which
 * n = 339 meets and n = 400 exceeds. */
START_TEST(jsonbody_cost_boundary)
{
	size_t len, n;
	char *b;

	for (n = 300; n < 340; n += 39) {
		b = repeated("{\"a\":[", "{}", n, "]}", &len);
		ck_assert_int_eq(jsonbody_check(b, len, NULL, NULL, 0),
		    JSONBODY_OK);
		free(b);
	}
	b = repeated("{\"a\":[", "{}", 400, "]}", &len);
	ck_assert_int_eq(jsonbody_check(b, len, NULL, NULL, 0), JSONBODY_COST);
	free(b);
}
END_TEST

static const char *const pn_path[] = { "entry", "*", "changes", "*",
    "value", "metadata", "phone_number_id" };

static enum jsonbody_rc
collect(const char *body, struct jsonbody_strs *s,
    char (*v)[JSONBODY_STR_MAX + 1], size_t max)
{
	s->path = pn_path;
	s->depth = sizeof(pn_path) / sizeof(pn_path[0]);
	s->v = v;
	s->max = max;
	return jsonbody_check(body, strlen(body), s, path, sizeof(path));
}

/* Strings are collected only at the given place, decoded, once each. */
START_TEST(jsonbody_collects_at_path)
{
	char v[4][JSONBODY_STR_MAX + 1];
	struct jsonbody_strs s;

	ck_assert_int_eq(collect("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"111\"}}},{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"\\u0032\\u00322\"}}}]},"
	    "{\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":"
	    "\"111\"}}}]}],\"phone_number_id\":\"333\",\"x\":{\"entry\":[{"
	    "\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":"
	    "\"444\"}}}]}]}}", &s, v, 4), JSONBODY_OK);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.dropped, 0);
	ck_assert_str_eq(v[0], "111");
	ck_assert_str_eq(v[1], "222");
	/* Not a string, or an object where an array is expected: not
	 * collected. */
	ck_assert_int_eq(collect("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":111}}}]}],\"e\":1}", &s, v, 4),
	    JSONBODY_OK);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(collect("{\"entry\":{\"0\":{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"1\"}}}]}}}", &s, v, 4),
	    JSONBODY_OK);
	ck_assert_uint_eq(s.n, 0);
	/* A key with more after a NUL is what json-c keeps: the part before. */
	ck_assert_int_eq(collect("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\\u0000x\":\"1\"}}}]}]}", &s, v, 4),
	    JSONBODY_OK);
	ck_assert_uint_eq(s.n, 1);
	/* Duplicate keys: every value is collected (json-c keeps the last). */
	ck_assert_int_eq(collect("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"1\",\"phone_number_id\":\"2\""
	    "}}}]}]}", &s, v, 4), JSONBODY_OK);
	ck_assert_uint_eq(s.n, 2);
}
END_TEST

/* Too long, holding a NUL, or new beyond max: counted, not kept. */
START_TEST(jsonbody_collect_bounds)
{
	char v[2][JSONBODY_STR_MAX + 1], body[1024], long65[66];
	struct jsonbody_strs s;

	memset(long65, '9', 65);
	long65[65] = '\0';
	snprintf(body, sizeof(body), "{\"entry\":[{\"changes\":["
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"%s\"}}},"
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"%.64s\"}}},"
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"1\\u00002\"}}},"
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"7\"}}},"
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"8\"}}},"
	    "{\"value\":{\"metadata\":{\"phone_number_id\":\"7\"}}}]}]}",
	    long65, long65);
	ck_assert_int_eq(collect(body, &s, v, 2), JSONBODY_OK);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(strlen(v[0]), 64);
	ck_assert_str_eq(v[1], "7");
	ck_assert_uint_eq(s.dropped, 3);	/* 65 bytes, NUL, "8" */
	/* A body that fails the check collects nothing usable. */
	ck_assert_int_eq(collect("{\"entry\":[{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"1\"}}}]}]", &s, v, 2),
	    JSONBODY_SYNTAX);
}
END_TEST

Suite *
jsonbody_suite(void)
{
	Suite *s = suite_create("jsonbody");
	TCase *tc = tcase_new("jsonbody_parse");

	tcase_add_test(tc, jsonbody_empty_is_empty_object);
	tcase_add_test(tc, jsonbody_objects);
	tcase_add_test(tc, jsonbody_only_len_bytes);
	tcase_add_loop_test(tc, jsonbody_strict_syntax, 0,
	    (int)(sizeof(not_json) / sizeof(not_json[0])));
	tcase_add_test(tc, jsonbody_trailing_bytes);
	tcase_add_test(tc, jsonbody_invalid_utf8);
	tcase_add_test(tc, jsonbody_escaped_surrogates_stay_valid);
	tcase_add_test(tc, jsonbody_not_object);
	tcase_add_loop_test(tc, jsonbody_scalar_not_object, 0,
	    (int)(sizeof(scalars) / sizeof(scalars[0])));
	tcase_add_loop_test(tc, jsonbody_depth_limit, 0, 2);
	tcase_add_test(tc, jsonbody_integer_range);
	tcase_add_test(tc, jsonbody_range_path);
	tcase_add_test(tc, jsonbody_range_path_decoded_key);
	tcase_add_test(tc, jsonbody_depth_32);
	tcase_add_test(tc, jsonbody_large_body);
	tcase_add_loop_test(tc, jsonbody_cost_refused, 0, 6);
	tcase_add_test(tc, jsonbody_cost_legitimate);
	tcase_add_test(tc, jsonbody_cost_boundary);
	tcase_add_test(tc, jsonbody_collects_at_path);
	tcase_add_test(tc, jsonbody_collect_bounds);
	suite_add_tcase(s, tc);
	return s;
}
