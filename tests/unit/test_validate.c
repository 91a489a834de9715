/* validate.h: phone and email checks, and fields_parse's messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "pool.h"
#include "validate.h"
#include "tests.h"

/* ---- phone_normalize ---- */

static const char *
phone(const char *in)
{
	static char out[PHONE_MAX + 1];

	memset(out, 'X', sizeof(out));
	if (phone_normalize(in, strlen(in), out) == -1)
		return NULL;
	return out;
}

#define PHONE_OK(in, want) do {						\
	const char *got_ = phone(in);					\
	ck_assert_msg(got_ != NULL, "phone \"%s\" rejected", (in));	\
	ck_assert_str_eq(got_, (want));					\
} while (0)
#define PHONE_BAD(in) \
	ck_assert_msg(phone(in) == NULL, "phone \"%s\" accepted", (in))

START_TEST(phone_e164_as_is)
{
	PHONE_OK("+4915112345678", "+4915112345678");
	PHONE_OK("+12345678", "+12345678");			/* 8 digits */
	PHONE_OK("+123456789012345", "+123456789012345");	/* 15 digits */
}
END_TEST

START_TEST(phone_strips_punctuation)
{
	PHONE_OK("+49 151 1234 5678", "+4915112345678");
	PHONE_OK("+1 (555) 123-4567", "+15551234567");
	PHONE_OK("+44.20.7946.0958", "+442079460958");
	PHONE_OK(" +49-151-1234-5678 ", "+4915112345678");
	PHONE_OK("(+44) 20 7946 0958", "+442079460958");
	PHONE_OK("+1 2 3 4 5 6 7 8", "+12345678");
	PHONE_OK("+4 9 1 5 1 1 2 3 4 5 6 7 8 9 0", "+491511234567890");
	PHONE_OK("    +4915112345678          ", "+4915112345678");
}
END_TEST

START_TEST(phone_leading_00_and_bare_digits)
{
	PHONE_OK("004915112345678", "+4915112345678");
	PHONE_OK("0049 151 1234-5678", "+4915112345678");
	PHONE_OK("00 44 20 7946 0958", "+442079460958");
	PHONE_OK("0012345678", "+12345678");
	PHONE_OK("4915112345678", "+4915112345678");
	PHONE_OK("1 (555) 123-4567", "+15551234567");
	PHONE_OK("12345678", "+12345678");
	PHONE_OK("123456789012345", "+123456789012345");
	PHONE_OK("00123456789012345", "+123456789012345");
}
END_TEST

START_TEST(phone_rejects)
{
	PHONE_BAD("");
	PHONE_BAD(" ");
	PHONE_BAD("+");
	PHONE_BAD("00");
	PHONE_BAD("+1234567");			/* 7 digits */
	PHONE_BAD("1234567");
	PHONE_BAD("001234567");
	PHONE_BAD("+1234567890123456");		/* 16 digits */
	PHONE_BAD("1234567890123456");
	PHONE_BAD("001234567890123456");
	PHONE_BAD("+0049151123456");		/* + and then 00 */
	PHONE_BAD("+049151123456");		/* no country code starts with 0 */
	PHONE_BAD("015112345678");		/* a national number */
	PHONE_BAD("000491511234567");
	PHONE_BAD("++4915112345678");
	PHONE_BAD("+49+15112345678");
	PHONE_BAD("4915112345678+");
	PHONE_BAD("+49 151 abc 5678");
	PHONE_BAD("+49/151/12345678");
	PHONE_BAD("+49_15112345678");
	PHONE_BAD("+49\t15112345678");		/* only the listed separators */
	PHONE_BAD("tel:+4915112345678");
	PHONE_BAD("+49 \xef\xbc\x91\xef\xbc\x95\xef\xbc\x91 12345678");
	PHONE_BAD("1234567890123456789012345678901234567890123456789012345678"
	    "9012345678901234567890123456789012345678901234567890");
	ck_assert_int_eq(phone_normalize("+4915\0" "112345678", 15,
	    (char[PHONE_MAX + 1]){ 0 }), -1);
}
END_TEST

START_TEST(phone_only_len_bytes)
{
	char out[PHONE_MAX + 1];

	ck_assert_int_eq(phone_normalize("+4915112345678999", 14, out), 0);
	ck_assert_str_eq(out, "+4915112345678");
}
END_TEST

/* ---- Meta's ids ---- */

START_TEST(graph_ids_and_wamids)
{
	char long_id[80], long_wamid[300];

	ck_assert(graph_id_valid("106540352242922"));
	ck_assert(graph_id_valid("acct_1-B"));
	ck_assert(!graph_id_valid(""));
	ck_assert(!graph_id_valid(NULL));
	ck_assert(!graph_id_valid("10654/../x"));
	ck_assert(!graph_id_valid("a.b"));
	ck_assert(!graph_id_valid("a b"));
	memset(long_id, '1', 65);
	long_id[65] = '\0';
	ck_assert(!graph_id_valid(long_id));
	long_id[64] = '\0';
	ck_assert(graph_id_valid(long_id));

	ck_assert(wamid_valid("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJ+/="));
	ck_assert(!wamid_valid(""));
	ck_assert(!wamid_valid(NULL));
	ck_assert(!wamid_valid("wamid X"));
	ck_assert(!wamid_valid("wamid.\xc3\xa9"));
	memset(long_wamid, 'w', 256);
	long_wamid[256] = '\0';
	ck_assert(!wamid_valid(long_wamid));
	long_wamid[255] = '\0';
	ck_assert(wamid_valid(long_wamid));
}
END_TEST

/* ---- email_valid ---- */

#define EMAIL_OK(s)  ck_assert_msg(email_valid((s), strlen(s)), \
	"email \"%s\" rejected", (s))
#define EMAIL_BAD(s) ck_assert_msg(!email_valid((s), strlen(s)), \
	"email \"%s\" accepted", (s))

START_TEST(email_accepts)
{
	EMAIL_OK("a@b.co");
	EMAIL_OK("john.doe@example.com");
	EMAIL_OK("x+tag@sub.example.co.uk");
	EMAIL_OK("o'brien@example.ie");
	EMAIL_OK("user_1-2@ex-ample.com");
	EMAIL_OK("UPPER@EXAMPLE.COM");
	EMAIL_OK("a!#$%&'*+/=?^_`{|}~-@x.io");
	EMAIL_OK("1234@123.example.org");
}
END_TEST

START_TEST(email_rejects)
{
	EMAIL_BAD("");
	EMAIL_BAD("a");
	EMAIL_BAD("a@");
	EMAIL_BAD("@b.co");
	EMAIL_BAD("ab.co");
	EMAIL_BAD("a@b");
	EMAIL_BAD("a@localhost");
	EMAIL_BAD("a@b.c");		/* one-letter top-level label */
	EMAIL_BAD("a@b.c0m");
	EMAIL_BAD("a@b.123");
	EMAIL_BAD("a..b@x.com");
	EMAIL_BAD(".a@x.com");
	EMAIL_BAD("a.@x.com");
	EMAIL_BAD("a@.x.com");
	EMAIL_BAD("a@x..com");
	EMAIL_BAD("a@x.com.");
	EMAIL_BAD("a@-x.com");
	EMAIL_BAD("a@x-.com");
	EMAIL_BAD("a@x.-com");
	EMAIL_BAD("a b@x.com");
	EMAIL_BAD("a@x y.com");
	EMAIL_BAD("a@x_y.com");
	EMAIL_BAD("a@b@c.com");
	EMAIL_BAD("\"quoted\"@x.com");
	EMAIL_BAD("a(b)@x.com");
	EMAIL_BAD("a,b@x.com");
	EMAIL_BAD("a@[127.0.0.1]");
	EMAIL_BAD("a@x.com\n");
	EMAIL_BAD(" a@x.com");
	ck_assert(!email_valid("a\0b@x.com", 9));
	ck_assert(!email_valid("a@x.com\0", 8));
}
END_TEST

START_TEST(email_lengths)
{
	char buf[400];

	/* 64-character local part: fine; 65: not. */
	memset(buf, 'l', 64);
	strcpy(buf + 64, "@x.com");
	EMAIL_OK(buf);
	memset(buf, 'l', 65);
	strcpy(buf + 65, "@x.com");
	EMAIL_BAD(buf);
	/* A 63-character label: fine; 64: not. */
	strcpy(buf, "a@");
	memset(buf + 2, 'd', 63);
	strcpy(buf + 65, ".com");
	EMAIL_OK(buf);
	memset(buf + 2, 'd', 64);
	strcpy(buf + 66, ".com");
	EMAIL_BAD(buf);
	/* 254 characters in all: fine; 255: not. */
	memset(buf, 'l', 64);
	buf[64] = '@';
	memset(buf + 65, 'a', 63);
	buf[128] = '.';
	memset(buf + 129, 'b', 63);
	buf[192] = '.';
	memset(buf + 193, 'c', 57);
	strcpy(buf + 250, ".com");
	ck_assert_uint_eq(strlen(buf), 254);
	EMAIL_OK(buf);
	memset(buf + 193, 'c', 58);
	strcpy(buf + 251, ".com");
	ck_assert_uint_eq(strlen(buf), 255);
	EMAIL_BAD(buf);
	/* Only len bytes are looked at. */
	ck_assert(email_valid("a@b.cox@", 6));
}
END_TEST

/* ---- fields_parse ---- */

static struct pool pool;
static struct verrs errs;
static struct json_object *body;
static struct fval vals[16];
static const struct field *cur;
static size_t ncur;

static void
vsetup(void)
{
	pool_init(&pool);
	verrs_init(&errs);
	body = NULL;
	cur = NULL;
	ncur = 0;
}

static void
release(void)
{
	if (cur != NULL)
		fvals_free(cur, ncur, vals);
	cur = NULL;
	json_object_put(body);
	body = NULL;
	json_object_put(errs.details);
	verrs_init(&errs);
}

static void
vteardown(void)
{
	release();
	pool_free(&pool);
}

/* Parses json strictly and runs fields_parse on it with fresh errors. */
static unsigned
run(const struct field *f, size_t n, const char *json, bool partial)
{
	char where[64];

	release();
	verrs_init(&errs);
	ck_assert_uint_le(n, sizeof(vals) / sizeof(vals[0]));
	ck_assert_msg(jsonbody_parse(json, strlen(json), &body, where,
	    sizeof(where)) == JSONBODY_OK, "test body is not JSON: %s", json);
	cur = f;
	ncur = n;
	return fields_parse(&pool, body, f, n, vals, &errs, partial);
}

/* The messages recorded for a field, joined by "|", or "" if none. */
static const char *
msgs(const char *field)
{
	struct json_object *list;
	char *out = pool_strdup(&pool, "");
	size_t i;

	if (errs.details == NULL ||
	    !json_object_object_get_ex(errs.details, field, &list))
		return out;
	ck_assert(json_object_is_type(list, json_type_array));
	for (i = 0; i < json_object_array_length(list); i++)
		out = pool_printf(&pool, "%s%s%s", out, i ? "|" : "",
		    json_object_get_string(json_object_array_get_idx(list, i)));
	return out;
}

static int
nfields(void)
{
	return errs.details == NULL ? 0 :
	    json_object_object_length(errs.details);
}

/* A JSON string literal of n copies of the UTF-8 character c. */
static const char *
repeat(const char *c, size_t n)
{
	size_t cl = strlen(c), i;
	char *s = pool_alloc(&pool, cl * n + 1);

	for (i = 0; i < n; i++)
		memcpy(s + i * cl, c, cl);
	s[cl * n] = '\0';
	return s;
}

#define J(...)	pool_printf(&pool, __VA_ARGS__)

/* The contact's declaration, as app/fcgi/contacts.c has it. */
enum { F_NAME, F_PHONE, F_EMAIL, F_TAGS, F_CUSTOM, F_OPTED_OUT, F__MAX };
static const struct field contact[F__MAX] = {
	[F_NAME] =	{ "name", FT_STRING, FF_NULLABLE, 0, 255, NULL },
	[F_PHONE] =	{ "phone", FT_PHONE, FF_REQUIRED, 0, 0, NULL },
	[F_EMAIL] =	{ "email", FT_EMAIL, FF_NULLABLE, 0, 0, NULL },
	[F_TAGS] =	{ "tags", FT_TAGS, FF_NULLABLE, 0, 0, NULL },
	[F_CUSTOM] =	{ "custom_fields", FT_SCALARS, FF_NULLABLE, 0,
			    CUSTOM_FIELDS_MAX, NULL },
	[F_OPTED_OUT] =	{ "opted_out", FT_BOOL, 0, 0, 0, NULL },
};
#define CONTACT(json, partial)	run(contact, F__MAX, (json), (partial))

/* Every other type and flag. */
static const char *const types[] = { "text", "template", "image", NULL };
enum { K_BODY, K_TYPE, K_PER_PAGE, K_CONTENT, K_COMPONENTS, K_PREVIEW,
	K_DISPLAY, K_DELTA, K__MAX };
static const struct field kinds[K__MAX] = {
	[K_BODY] =	{ "body", FT_STRING, FF_REQUIRED, 1, 4096, NULL },
	[K_TYPE] =	{ "type", FT_ENUM, FF_REQUIRED, 0, 0, types },
	[K_PER_PAGE] =	{ "per_page", FT_INT, 0, 1, 100, NULL },
	[K_CONTENT] =	{ "content", FT_OBJECT, FF_REQUIRED, 0, 0, NULL },
	[K_COMPONENTS] = { "template_components", FT_ARRAY, FF_NULLABLE, 0, 0,
			    NULL },
	[K_PREVIEW] =	{ "preview_url", FT_BOOL, 0, 0, 0, NULL },
	[K_DISPLAY] =	{ "display_name", FT_STRING, 0, 3, 10, NULL },
	[K_DELTA] =	{ "delta", FT_INT, FF_NULLABLE, -5, 5, NULL },
};
#define KINDS_OK_BASE "\"body\":\"hi\",\"type\":\"text\",\"content\":{}"
#define KINDS(json)	run(kinds, K__MAX, (json), false)

START_TEST(fields_contact_valid)
{
	struct json_object *t;

	ck_assert_uint_eq(CONTACT("{\"phone\":\"+49 151 1234 5678\","
	    "\"name\":\"Ana\",\"email\":\"ana@example.com\","
	    "\"tags\":[\"vip\",\"new\",\"vip\",\"new\",\"x\"],"
	    "\"custom_fields\":{\"plan\":\"gold\",\"n\":3,\"ok\":true,"
	    "\"x\":null,\"f\":1.5},\"opted_out\":true}", false), 0);
	ck_assert_ptr_null(errs.details);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert(vals[F_PHONE].present);
	ck_assert_str_eq(vals[F_PHONE].s, "+4915112345678");
	ck_assert_uint_eq(vals[F_PHONE].slen, 14);
	ck_assert_str_eq(vals[F_NAME].s, "Ana");
	ck_assert_uint_eq(vals[F_NAME].slen, 3);
	ck_assert(!vals[F_NAME].isnull);
	ck_assert_str_eq(vals[F_EMAIL].s, "ana@example.com");
	/* Tags: a new array, duplicates collapsed, first-seen order. */
	t = vals[F_TAGS].j;
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(json_object_array_length(t), 3);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t, 0)),
	    "vip");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t, 1)),
	    "new");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(t, 2)),
	    "x");
	/* custom_fields is borrowed from the body. */
	{
		struct json_object *cf;
		ck_assert(json_object_object_get_ex(body, "custom_fields", &cf));
		ck_assert_ptr_eq(vals[F_CUSTOM].j, cf);
	}
	ck_assert(vals[F_OPTED_OUT].present);
	ck_assert_int_eq(vals[F_OPTED_OUT].i, 1);
}
END_TEST

START_TEST(fields_required_vs_partial)
{
	ck_assert_uint_eq(CONTACT("{}", false), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field is required.");
	ck_assert_int_eq(nfields(), 1);
	ck_assert(!vals[F_PHONE].present);
	ck_assert(!vals[F_NAME].present);
	ck_assert(!vals[F_TAGS].present);

	/* PATCH: absent required fields are fine... */
	ck_assert_uint_eq(CONTACT("{}", true), 0);
	ck_assert_ptr_null(errs.details);
	ck_assert_uint_eq(CONTACT("{\"name\":\"Bo\"}", true), 0);
	ck_assert(vals[F_NAME].present);
	ck_assert(!vals[F_PHONE].present);
	/* ...but present ones are still checked. */
	ck_assert_uint_eq(CONTACT("{\"phone\":\"12\"}", true), 1);
	ck_assert_str_eq(msgs("phone"),
	    "The phone field must be a valid E.164 phone number.");
	ck_assert_uint_eq(CONTACT("{\"phone\":null}", true), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field is required.");
}
END_TEST

START_TEST(fields_phone)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":null}", false), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field is required.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"\"}", false), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field is required.");
	ck_assert_ptr_null(vals[F_PHONE].s);
	ck_assert_uint_eq(CONTACT("{\"phone\":\"not a phone\"}", false), 1);
	ck_assert_str_eq(msgs("phone"),
	    "The phone field must be a valid E.164 phone number.");
	ck_assert_ptr_null(vals[F_PHONE].s);
	ck_assert_uint_eq(CONTACT("{\"phone\":4915112345678}", false), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field must be a string.");
	ck_assert_uint_eq(CONTACT("{\"phone\":[\"+4915112345678\"]}", false), 1);
	ck_assert_str_eq(msgs("phone"), "The phone field must be a string.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+4915\\u0000112345678\"}",
	    false), 1);
	ck_assert_str_eq(msgs("phone"),
	    "The phone field must not contain NUL characters.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"0049 (151) 1234.5678\"}",
	    false), 0);
	ck_assert_str_eq(vals[F_PHONE].s, "+4915112345678");
}
END_TEST

START_TEST(fields_string_bounds)
{
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"name\":\"%s\"}",
	    repeat("a", 255)), false), 0);
	ck_assert_uint_eq(vals[F_NAME].slen, 255);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"name\":\"%s\"}",
	    repeat("a", 256)), false), 1);
	ck_assert_str_eq(msgs("name"),
	    "The name field must not be greater than 255 characters.");
	ck_assert_ptr_null(vals[F_NAME].s);
	/* Characters are code points, not bytes. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"name\":\"%s\"}",
	    repeat("\xc3\xa9", 255)), false), 0);
	ck_assert_uint_eq(vals[F_NAME].slen, 510);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"name\":\"%s\"}",
	    repeat("\xf0\x9f\x98\x80", 256)), false), 1);
	ck_assert_str_eq(msgs("name"),
	    "The name field must not be greater than 255 characters.");
	/* min 0: an empty name is a value. */
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"name\":\"\"}",
	    false), 0);
	ck_assert(vals[F_NAME].present);
	ck_assert_uint_eq(vals[F_NAME].slen, 0);
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"name\":12}",
	    false), 1);
	ck_assert_str_eq(msgs("name"), "The name field must be a string.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"name\":\"a\\u0000b\"}",
	    false), 1);
	ck_assert_str_eq(msgs("name"),
	    "The name field must not contain NUL characters.");
}
END_TEST

START_TEST(fields_nullable)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"name\":null,"
	    "\"email\":null,\"tags\":null,\"custom_fields\":null}", false), 0);
	ck_assert(vals[F_NAME].present && vals[F_NAME].isnull);
	ck_assert(vals[F_EMAIL].present && vals[F_EMAIL].isnull);
	ck_assert(vals[F_TAGS].present && vals[F_TAGS].isnull);
	ck_assert_ptr_null(vals[F_TAGS].j);
	ck_assert(vals[F_CUSTOM].present && vals[F_CUSTOM].isnull);
	/* Not nullable, not required: null is the wrong type. */
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"opted_out\":null}",
	    false), 1);
	ck_assert_str_eq(msgs("opted_out"),
	    "The opted out field must be true or false.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":null}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"display_name\":null}"), 1);
	ck_assert_str_eq(msgs("display_name"),
	    "The display name field must be a string.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"delta\":null,"
	    "\"template_components\":null}"), 0);
	ck_assert(vals[K_DELTA].isnull);
	ck_assert(vals[K_COMPONENTS].isnull);
}
END_TEST

START_TEST(fields_email)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"email\":\"nope\"}",
	    false), 1);
	ck_assert_str_eq(msgs("email"),
	    "The email field must be a valid email address.");
	ck_assert_ptr_null(vals[F_EMAIL].s);
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"email\":true}",
	    false), 1);
	ck_assert_str_eq(msgs("email"), "The email field must be a string.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"email\":\"\"}",
	    false), 1);
	ck_assert_str_eq(msgs("email"),
	    "The email field must be a valid email address.");
}
END_TEST

START_TEST(fields_tags)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"tags\":\"vip\"}",
	    false), 1);
	ck_assert_str_eq(msgs("tags"), "The tags field must be an array.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"tags\":{}}",
	    false), 1);
	ck_assert_str_eq(msgs("tags"), "The tags field must be an array.");

	/* Each bad element is named by its dotted path. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"tags\":"
	    "[1,\"ok\",\"\",\"%s\",[\"x\"],null,\"%s\",\"a\\u0000b\"]}",
	    repeat("t", 65), repeat("t", 64)), false), 6);
	ck_assert_str_eq(msgs("tags.0"), "The tags.0 field must be a string.");
	ck_assert_str_eq(msgs("tags.1"), "");
	ck_assert_str_eq(msgs("tags.2"),
	    "The tags.2 field must be between 1 and 64 characters.");
	ck_assert_str_eq(msgs("tags.3"),
	    "The tags.3 field must be between 1 and 64 characters.");
	ck_assert_str_eq(msgs("tags.4"), "The tags.4 field must be a string.");
	ck_assert_str_eq(msgs("tags.5"), "The tags.5 field must be a string.");
	ck_assert_str_eq(msgs("tags.6"), "");
	ck_assert_str_eq(msgs("tags.7"),
	    "The tags.7 field must be between 1 and 64 characters.");
	ck_assert_str_eq(msgs("tags"), "");
	ck_assert_int_eq(nfields(), 6);
	ck_assert_ptr_null(vals[F_TAGS].j);

	/* Lengths are in characters. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"tags\":"
	    "[\"%s\"]}", repeat("\xe2\x82\xac", 64)), false), 0);
	ck_assert_uint_eq(json_object_array_length(vals[F_TAGS].j), 1);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"tags\":"
	    "[\"%s\"]}", repeat("\xe2\x82\xac", 65)), false), 1);
	ck_assert_str_eq(msgs("tags.0"),
	    "The tags.0 field must be between 1 and 64 characters.");

	/* An empty list is a value. */
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"tags\":[]}",
	    false), 0);
	ck_assert_ptr_nonnull(vals[F_TAGS].j);
	ck_assert_uint_eq(json_object_array_length(vals[F_TAGS].j), 0);
}
END_TEST

START_TEST(fields_tags_count_and_dedupe)
{
	char *list = pool_strdup(&pool, "");
	int i;

	for (i = 0; i < 50; i++)
		list = J("%s%s\"t%d\"", list, i ? "," : "", i);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"tags\":[%s]}",
	    list), false), 0);
	ck_assert_uint_eq(json_object_array_length(vals[F_TAGS].j), 50);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"tags\":"
	    "[%s,\"t50\"]}", list), false), 1);
	ck_assert_str_eq(msgs("tags"),
	    "The tags field must not have more than 50 items.");
	ck_assert_ptr_null(vals[F_TAGS].j);

	/* Duplicates collapse to the first occurrence. */
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"tags\":"
	    "[\"b\",\"a\",\"b\",\"a\",\"c\",\"b\"]}", false), 0);
	ck_assert_uint_eq(json_object_array_length(vals[F_TAGS].j), 3);
	ck_assert_str_eq(json_object_to_json_string_ext(vals[F_TAGS].j,
	    JSON_C_TO_STRING_PLAIN), "[\"b\",\"a\",\"c\"]");
	/* The body keeps its own array. */
	{
		struct json_object *orig;
		ck_assert(json_object_object_get_ex(body, "tags", &orig));
		ck_assert_ptr_ne(orig, vals[F_TAGS].j);
		ck_assert_uint_eq(json_object_array_length(orig), 6);
	}
}
END_TEST

START_TEST(fields_custom_fields)
{
	char *obj = pool_strdup(&pool, "");
	int i;

	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"custom_fields\":[]}",
	    false), 1);
	ck_assert_str_eq(msgs("custom_fields"),
	    "The custom fields field must be an object.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "\"x\"}", false), 1);
	ck_assert_str_eq(msgs("custom_fields"),
	    "The custom fields field must be an object.");

	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"ok\":1,\"a\":{\"b\":1},\"l\":[1]}}", false), 2);
	ck_assert_str_eq(msgs("custom_fields.a"), "The custom_fields.a field "
	    "must be a string, number, boolean or null.");
	ck_assert_str_eq(msgs("custom_fields.l"), "The custom_fields.l field "
	    "must be a string, number, boolean or null.");
	ck_assert_ptr_null(vals[F_CUSTOM].j);

	/* At most 50 values. */
	for (i = 0; i < 50; i++)
		obj = J("%s%s\"k%d\":%d", obj, i ? "," : "", i, i);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{%s}}", obj), false), 0);
	ck_assert_int_eq(json_object_object_length(vals[F_CUSTOM].j), 50);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{%s,\"k50\":true}}", obj), false), 1);
	ck_assert_str_eq(msgs("custom_fields"),
	    "The custom fields field must not have more than 50 items.");

	/* Keys of 1 to 64 characters. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"%s\":1}}", repeat("k", 64)), false), 0);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"%s\":1}}", repeat("k", 65)), false), 1);
	ck_assert_str_eq(msgs("custom_fields"), "The custom fields field keys "
	    "must be between 1 and 64 characters.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"\":1}}", false), 1);
	ck_assert_str_eq(msgs("custom_fields"), "The custom fields field keys "
	    "must be between 1 and 64 characters.");

	/* String values up to 65535 characters. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"s\":\"%s\"}}", repeat("v", 65535)), false), 0);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"s\":\"%s\"}}", repeat("v", 65536)), false), 1);
	ck_assert_str_eq(msgs("custom_fields.s"), "The custom_fields.s field "
	    "must not be greater than 65535 characters.");
	/* Characters, not bytes. */
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"s\":\"%s\"}}", repeat("\xc3\xa9", 65535)), false), 0);
	ck_assert_uint_eq(CONTACT(J("{\"phone\":\"+12345678\",\"custom_fields\":"
	    "{\"s\":\"%s\"}}", repeat("\xc3\xa9", 65536)), false), 1);
	ck_assert_str_eq(msgs("custom_fields.s"), "The custom_fields.s field "
	    "must not be greater than 65535 characters.");
}
END_TEST

START_TEST(fields_bool)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"opted_out\":false}",
	    false), 0);
	ck_assert(vals[F_OPTED_OUT].present);
	ck_assert_int_eq(vals[F_OPTED_OUT].i, 0);
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"opted_out\":true}",
	    false), 0);
	ck_assert_int_eq(vals[F_OPTED_OUT].i, 1);
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"opted_out\":1}",
	    false), 1);
	ck_assert_str_eq(msgs("opted_out"),
	    "The opted out field must be true or false.");
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"opted_out\":"
	    "\"true\"}", false), 1);
	ck_assert_str_eq(msgs("opted_out"),
	    "The opted out field must be true or false.");
}
END_TEST

START_TEST(fields_enum)
{
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE "}"), 0);
	ck_assert_int_eq(vals[K_TYPE].i, 0);
	ck_assert_str_eq(vals[K_TYPE].s, "text");
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"image\","
	    "\"content\":{}}"), 0);
	ck_assert_int_eq(vals[K_TYPE].i, 2);
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"video\","
	    "\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("type"), "The selected type is invalid.");
	ck_assert_ptr_null(vals[K_TYPE].s);
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"Text\","
	    "\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("type"), "The selected type is invalid.");
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"\","
	    "\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("type"), "The selected type is invalid.");
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":1,\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("type"), "The type field must be a string.");
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":null,"
	    "\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("type"), "The type field is required.");
}
END_TEST

START_TEST(fields_int)
{
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":50}"), 0);
	ck_assert_int_eq(vals[K_PER_PAGE].i, 50);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":1}"), 0);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":100}"), 0);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":0}"), 1);
	ck_assert_str_eq(msgs("per_page"),
	    "The per page field must be between 1 and 100.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":101}"), 1);
	ck_assert_str_eq(msgs("per_page"),
	    "The per page field must be between 1 and 100.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":-1}"), 1);
	ck_assert_str_eq(msgs("per_page"),
	    "The per page field must be between 1 and 100.");
	/* Whole floats are integers; fractions and strings are not. */
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":5.0}"), 0);
	ck_assert_int_eq(vals[K_PER_PAGE].i, 5);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":1e2}"), 0);
	ck_assert_int_eq(vals[K_PER_PAGE].i, 100);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":5.5}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":\"5\"}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":true}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":[]}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"per_page\":1e300}"), 1);
	ck_assert_str_eq(msgs("per_page"), "The per page field must be an integer.");
	/* Out of every range: an error, whatever its wording, and no UB. */
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ","
	    "\"per_page\":18446744073709551615}"), 1);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ","
	    "\"per_page\":-9223372036854775808}"), 1);
	/* Negative bounds. */
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"delta\":-5}"), 0);
	ck_assert_int_eq(vals[K_DELTA].i, -5);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"delta\":-6}"), 1);
	ck_assert_str_eq(msgs("delta"), "The delta field must be between -5 and 5.");
}
END_TEST

START_TEST(fields_string_min)
{
	ck_assert_uint_eq(KINDS("{\"body\":\"\",\"type\":\"text\","
	    "\"content\":{}}"), 1);
	ck_assert_str_eq(msgs("body"), "The body field is required.");
	ck_assert_uint_eq(KINDS(J("{\"body\":\"%s\",\"type\":\"text\","
	    "\"content\":{}}", repeat("b", 4096))), 0);
	ck_assert_uint_eq(KINDS(J("{\"body\":\"%s\",\"type\":\"text\","
	    "\"content\":{}}", repeat("b", 4097))), 1);
	ck_assert_str_eq(msgs("body"),
	    "The body field must not be greater than 4096 characters.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"display_name\":\"ab\"}"), 1);
	ck_assert_str_eq(msgs("display_name"),
	    "The display name field must be at least 3 characters.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"display_name\":\"abc\"}"), 0);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"display_name\":"
	    "\"abcdefghij\"}"), 0);
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"display_name\":"
	    "\"abcdefghijk\"}"), 1);
	ck_assert_str_eq(msgs("display_name"),
	    "The display name field must not be greater than 10 characters.");
}
END_TEST

START_TEST(fields_object_and_array)
{
	struct json_object *v;

	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"text\","
	    "\"content\":{\"body\":\"hi\"},\"template_components\":[1,{}]}"), 0);
	ck_assert(json_object_object_get_ex(body, "content", &v));
	ck_assert_ptr_eq(vals[K_CONTENT].j, v);
	ck_assert(json_object_object_get_ex(body, "template_components", &v));
	ck_assert_ptr_eq(vals[K_COMPONENTS].j, v);
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"text\","
	    "\"content\":\"hi\"}"), 1);
	ck_assert_str_eq(msgs("content"), "The content field must be an object.");
	ck_assert_uint_eq(KINDS("{\"body\":\"x\",\"type\":\"text\","
	    "\"content\":[]}"), 1);
	ck_assert_str_eq(msgs("content"), "The content field must be an object.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"template_components\":{}}"),
	    1);
	ck_assert_str_eq(msgs("template_components"),
	    "The template components field must be an array.");
	ck_assert_uint_eq(KINDS("{" KINDS_OK_BASE ",\"preview_url\":\"yes\"}"), 1);
	ck_assert_str_eq(msgs("preview_url"),
	    "The preview url field must be true or false.");
}
END_TEST

START_TEST(fields_many_errors)
{
	ck_assert_uint_eq(KINDS("{}"), 3);
	ck_assert_str_eq(msgs("body"), "The body field is required.");
	ck_assert_str_eq(msgs("type"), "The type field is required.");
	ck_assert_str_eq(msgs("content"), "The content field is required.");
	ck_assert_int_eq(nfields(), 3);
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_uint_eq(run(kinds, K__MAX, "{}", true), 0);

	ck_assert_uint_eq(CONTACT("{\"phone\":\"x\",\"email\":\"y\","
	    "\"tags\":\"z\",\"name\":1,\"opted_out\":0,\"custom_fields\":1,"
	    "\"unknown\":\"ignored\"}", false), 6);
	ck_assert_int_eq(nfields(), 6);
	/* Fields not declared are ignored. */
	ck_assert_str_eq(msgs("unknown"), "");
}
END_TEST

START_TEST(fields_returns_new_errors_only)
{
	struct fval v[F__MAX];
	struct json_object *b;
	char where[64];

	ck_assert_int_eq(jsonbody_parse("{}", 2, &b, where, sizeof(where)),
	    JSONBODY_OK);
	verr_add(&errs, "content.body", "The content.body field is required.");
	ck_assert_uint_eq(fields_parse(&pool, b, contact, F__MAX, v, &errs,
	    false), 1);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(msgs("content.body"),
	    "The content.body field is required.");
	ck_assert_str_eq(msgs("phone"), "The phone field is required.");
	fvals_free(contact, F__MAX, v);
	json_object_put(b);
}
END_TEST

START_TEST(verr_lists_and_labels)
{
	ck_assert_ptr_null(errs.details);
	verr_add(&errs, "content.body", "The %s field is required.",
	    "content.body");
	verr_add(&errs, "content.body", "Second %d.", 2);
	verr_add(&errs, "to", "Bad.");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(msgs("content.body"),
	    "The content.body field is required.|Second 2.");
	ck_assert_str_eq(json_object_to_json_string_ext(errs.details,
	    JSON_C_TO_STRING_PLAIN), "{\"content.body\":[\"The content.body "
	    "field is required.\",\"Second 2.\"],\"to\":[\"Bad.\"]}");

	ck_assert_str_eq(field_label(&pool, "custom_fields"), "custom fields");
	ck_assert_str_eq(field_label(&pool, "whatsapp_account_id"),
	    "whatsapp account id");
	ck_assert_str_eq(field_label(&pool, "phone"), "phone");
	ck_assert_str_eq(field_label(&pool, ""), "");
}
END_TEST

START_TEST(fvals_free_puts_tags_once)
{
	ck_assert_uint_eq(CONTACT("{\"phone\":\"+12345678\",\"tags\":[\"a\"]}",
	    false), 0);
	ck_assert_ptr_nonnull(vals[F_TAGS].j);
	fvals_free(contact, F__MAX, vals);
	ck_assert_ptr_null(vals[F_TAGS].j);
	/* Again is harmless (teardown does it once more). */
	fvals_free(contact, F__MAX, vals);
}
END_TEST

/* null for a field that is neither nullable nor required: the message
 * names the type the field takes (PATCH {"opted_out": null}). */
static const char *const onetwo[] = { "one", "two", NULL };
static const struct field every[] = {
	{ "s", FT_STRING, 0, 0, 10, NULL },
	{ "p", FT_PHONE, 0, 0, 0, NULL },
	{ "e", FT_EMAIL, 0, 0, 0, NULL },
	{ "en", FT_ENUM, 0, 0, 0, onetwo },
	{ "t", FT_TAGS, 0, 0, 0, NULL },
	{ "a", FT_ARRAY, 0, 0, 0, NULL },
	{ "sc", FT_SCALARS, 0, 0, 5, NULL },
	{ "o", FT_OBJECT, 0, 0, 0, NULL },
	{ "b", FT_BOOL, 0, 0, 0, NULL },
	{ "i", FT_INT, 0, 1, 9, NULL },
	{ "n", FT_NUMBER, 0, -90, 90, NULL },
	{ "so", FT_STRING_OR_OBJECT, 0, 2, 4, NULL },
	{ "id", FT_ID, 0, 0, 0, NULL },
};

START_TEST(fields_null_names_the_type)
{
	static const char *const want[] = {
		"a string", "a string", "a string", "a string", "an array",
		"an array", "an object", "an object", "true or false",
		"an integer", "a number", "a string or an object",
		"a string or an integer",
	};
	size_t n = sizeof(every) / sizeof(every[0]), i;

	ck_assert_uint_eq(run(every, n, "{\"s\":null,\"p\":null,\"e\":null,"
	    "\"en\":null,\"t\":null,\"a\":null,\"sc\":null,\"o\":null,"
	    "\"b\":null,\"i\":null,\"n\":null,\"so\":null,\"id\":null}",
	    true), n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(msgs(every[i].name), J("The %s field must be "
		    "%s.", every[i].name, want[i]));
		ck_assert(vals[i].present && !vals[i].isnull);
	}
	/* Required and null: "required", even on PATCH. */
	{
		static const struct field req[] = {
			{ "flag", FT_BOOL, FF_REQUIRED, 0, 0, NULL },
		};
		ck_assert_uint_eq(run(req, 1, "{\"flag\":null}", true), 1);
		ck_assert_str_eq(msgs("flag"), "The flag field is required.");
	}
}
END_TEST

START_TEST(fields_string_or_object_and_number)
{
	static const struct field f[] = {
		{ "so", FT_STRING_OR_OBJECT, 0, 2, 4, NULL },
		{ "n", FT_NUMBER, 0, -90, 90, NULL },
	};

	ck_assert_uint_eq(run(f, 2, "{\"so\":\"abcd\",\"n\":-90}", false),
	    0);
	ck_assert_str_eq(vals[0].s, "abcd");
	ck_assert_uint_eq(vals[0].slen, 4);
	ck_assert(vals[1].d == -90.0);
	/* Characters, not bytes: four two-byte characters fit. */
	ck_assert_uint_eq(run(f, 2, J("{\"so\":\"%s\",\"n\":90.0}",
	    repeat("\xc3\xa9", 4)), false), 0);
	ck_assert_uint_eq(vals[0].slen, 8);
	ck_assert_uint_eq(run(f, 2, "{\"so\":{\"k\":[1]},\"n\":0.5}", false),
	    0);
	ck_assert_ptr_nonnull(vals[0].j);
	ck_assert_ptr_null(vals[0].s);
	ck_assert_uint_eq(run(f, 2, "{\"so\":\"a\",\"n\":90.001}", false),
	    2);
	ck_assert_str_eq(msgs("so"), "The so field must be between 2 and 4 "
	    "characters.");
	ck_assert_str_eq(msgs("n"), "The n field must be between -90 and 90.");
	ck_assert_uint_eq(run(f, 2, "{\"so\":\"abcde\",\"n\":\"1\"}",
	    false), 2);
	ck_assert_str_eq(msgs("so"), "The so field must be between 2 and 4 "
	    "characters.");
	ck_assert_str_eq(msgs("n"), "The n field must be a number.");
	ck_assert_uint_eq(run(f, 2, "{\"so\":[],\"n\":true}", false), 2);
	ck_assert_str_eq(msgs("so"), "The so field must be a string or an "
	    "object.");
	ck_assert_str_eq(msgs("n"), "The n field must be a number.");
}
END_TEST

Suite *
validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc;

	tc = tcase_new("phone_normalize");
	tcase_add_test(tc, phone_e164_as_is);
	tcase_add_test(tc, phone_strips_punctuation);
	tcase_add_test(tc, phone_leading_00_and_bare_digits);
	tcase_add_test(tc, phone_rejects);
	tcase_add_test(tc, phone_only_len_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_new("email_valid");
	tcase_add_test(tc, email_accepts);
	tcase_add_test(tc, email_rejects);
	tcase_add_test(tc, email_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_new("fields_parse");
	tcase_add_checked_fixture(tc, vsetup, vteardown);
	tcase_add_test(tc, fields_contact_valid);
	tcase_add_test(tc, fields_required_vs_partial);
	tcase_add_test(tc, fields_phone);
	tcase_add_test(tc, fields_string_bounds);
	tcase_add_test(tc, fields_nullable);
	tcase_add_test(tc, fields_email);
	tcase_add_test(tc, fields_tags);
	tcase_add_test(tc, fields_tags_count_and_dedupe);
	tcase_add_test(tc, fields_custom_fields);
	tcase_add_test(tc, fields_bool);
	tcase_add_test(tc, fields_enum);
	tcase_add_test(tc, fields_int);
	tcase_add_test(tc, fields_string_min);
	tcase_add_test(tc, fields_object_and_array);
	tcase_add_test(tc, fields_many_errors);
	tcase_add_test(tc, fields_returns_new_errors_only);
	tcase_add_test(tc, verr_lists_and_labels);
	tcase_add_test(tc, fvals_free_puts_tags_once);
	tcase_add_test(tc, graph_ids_and_wamids);
	tcase_add_test(tc, fields_null_names_the_type);
	tcase_add_test(tc, fields_string_or_object_and_number);
	suite_add_tcase(s, tc);
	return s;
}
