/* text.h: UTF-8, URL decoding, path patterns, trigrams, time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tests.h"

#define VALID(lit)	utf8_valid((lit), sizeof(lit) - 1)

START_TEST(utf8_accepts_well_formed)
{
	ck_assert(utf8_valid("", 0));
	ck_assert(VALID("plain ASCII ~!"));
	ck_assert(VALID("\xc2\x80"));			/* U+0080, first 2-byte */
	ck_assert(VALID("\xc3\xa9t\xc3\xa9"));		/* été */
	ck_assert(VALID("\xdf\xbf"));			/* U+07FF */
	ck_assert(VALID("\xe0\xa0\x80"));		/* U+0800, first 3-byte */
	ck_assert(VALID("\xe2\x82\xac"));		/* € */
	ck_assert(VALID("\xed\x9f\xbf"));		/* U+D7FF, below surrogates */
	ck_assert(VALID("\xee\x80\x80"));		/* U+E000, above surrogates */
	ck_assert(VALID("\xef\xbf\xbf"));		/* U+FFFF */
	ck_assert(VALID("\xf0\x90\x80\x80"));		/* U+10000, first 4-byte */
	ck_assert(VALID("\xf0\x9f\x98\x80"));		/* 😀 */
	ck_assert(VALID("\xf4\x8f\xbf\xbf"));		/* U+10FFFF, the last */
	ck_assert(VALID("a\0b"));			/* NUL is a code point */
}
END_TEST

START_TEST(utf8_rejects_overlongs)
{
	ck_assert(!VALID("\xc0\x80"));		/* overlong NUL */
	ck_assert(!VALID("\xc0\xaf"));		/* overlong '/' */
	ck_assert(!VALID("\xc1\xbf"));
	ck_assert(!VALID("\xe0\x80\x80"));
	ck_assert(!VALID("\xe0\x80\xaf"));
	ck_assert(!VALID("\xe0\x9f\xbf"));	/* U+07FF in three bytes */
	ck_assert(!VALID("\xf0\x80\x80\x80"));
	ck_assert(!VALID("\xf0\x80\x80\xaf"));
	ck_assert(!VALID("\xf0\x8f\xbf\xbf"));	/* U+FFFF in four bytes */
	ck_assert(!VALID("\xf8\x88\x80\x80\x80"));	/* five-byte forms */
	ck_assert(!VALID("\xfc\x84\x80\x80\x80\x80"));
}
END_TEST

START_TEST(utf8_rejects_surrogates_and_out_of_range)
{
	ck_assert(!VALID("\xed\xa0\x80"));	/* U+D800 */
	ck_assert(!VALID("\xed\xad\xbf"));	/* U+DB7F */
	ck_assert(!VALID("\xed\xb0\x80"));	/* U+DC00 */
	ck_assert(!VALID("\xed\xbf\xbf"));	/* U+DFFF */
	ck_assert(!VALID("\xed\xa0\xbd\xed\xb8\x80"));	/* CESU-8 pair */
	ck_assert(!VALID("\xf4\x90\x80\x80"));	/* U+110000 */
	ck_assert(!VALID("\xf5\x80\x80\x80"));
	ck_assert(!VALID("\xf7\xbf\xbf\xbf"));
	ck_assert(!VALID("\xfe"));
	ck_assert(!VALID("\xff"));
	ck_assert(!VALID("ok\xffok"));
}
END_TEST

START_TEST(utf8_rejects_bad_continuations_and_truncation)
{
	ck_assert(!VALID("\x80"));		/* lone continuation */
	ck_assert(!VALID("\xbf"));
	ck_assert(!VALID("a\x80" "b"));
	ck_assert(!VALID("\xc3\xa9\xa9"));	/* one continuation too many */
	ck_assert(!VALID("\xc3"));		/* truncated at the end */
	ck_assert(!VALID("\xe2\x82"));
	ck_assert(!VALID("\xf0\x9f\x98"));
	ck_assert(!VALID("abc\xe2"));
	ck_assert(!VALID("\xc3(" ));		/* ASCII where a continuation goes */
	ck_assert(!VALID("\xe2\x28\xa1"));
	ck_assert(!VALID("\xe2\x82(" ));
	ck_assert(!VALID("\xf0\x28\x8c\xbc"));
	ck_assert(!VALID("\xf0\x9f\x98 "));
	/* The length bounds the scan: a character cut by len is invalid even
	 * if the bytes after len would complete it. */
	ck_assert(!utf8_valid("\xc3\xa9", 1));
	ck_assert(!utf8_valid("x\xe2\x82\xac", 3));
	ck_assert(!utf8_valid("\xf0\x9f\x98\x80", 3));
	ck_assert(utf8_valid("ab\xff", 2));
}
END_TEST

START_TEST(utf8_length_counts_code_points)
{
	ck_assert_uint_eq(utf8_length("", 0), 0);
	ck_assert_uint_eq(utf8_length("abc", 3), 3);
	ck_assert_uint_eq(utf8_length("h\xc3\xa9llo", 6), 5);
	ck_assert_uint_eq(utf8_length("\xe2\x82\xac" "5", 4), 2);
	ck_assert_uint_eq(utf8_length("\xf0\x9f\x98\x80x", 5), 2);
	ck_assert_uint_eq(utf8_length("a\0b", 3), 3);
	ck_assert_uint_eq(utf8_length("abcdef", 2), 2);
}
END_TEST

/* Decodes lit in a copy; returns the length and leaves the result in buf. */
static long
decode(const char *lit, bool plus, char *buf, size_t bufsz)
{
	size_t n = strlen(lit);

	ck_assert_uint_lt(n, bufsz);
	memcpy(buf, lit, n + 1);
	return url_decode(buf, n, plus);
}

START_TEST(url_decode_escapes)
{
	char buf[64];

	ck_assert_int_eq(decode("", true, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(decode("plain", true, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "plain");
	ck_assert_int_eq(decode("a%20b", true, buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "a b");
	ck_assert_int_eq(decode("%41%42%43", true, buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "ABC");
	ck_assert_int_eq(decode("%c3%A9t%C3%a9", true, buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "\xc3\xa9t\xc3\xa9");
	ck_assert_int_eq(decode("100%25", true, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "100%");
	ck_assert_int_eq(decode("%2B1%20555", true, buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "+1 555");
	ck_assert_int_eq(decode("%FF", true, buf, sizeof(buf)), 1);
	ck_assert_int_eq((unsigned char)buf[0], 0xff);
}
END_TEST

START_TEST(url_decode_plus)
{
	char buf[64];

	ck_assert_int_eq(decode("john+doe", true, buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "john doe");
	ck_assert_int_eq(decode("john+doe", false, buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "john+doe");
	ck_assert_int_eq(decode("++", true, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "  ");
	/* An escaped plus stays a plus in either mode. */
	ck_assert_int_eq(decode("a%2Bb", true, buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "a+b");
}
END_TEST

START_TEST(url_decode_rejects_bad_escapes)
{
	char buf[64];

	ck_assert_int_eq(decode("%", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%4", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("abc%", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("abc%2", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%G1", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%1G", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%%41", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("% 1", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%-1", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("%+1", true, buf, sizeof(buf)), -1);
	ck_assert_int_eq(decode("ok%zz", true, buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(url_decode_nul_and_length)
{
	char buf[16];
	long n;

	/* %00 decodes to a NUL byte inside the result. */
	n = decode("a%00b", true, buf, sizeof(buf));
	ck_assert_int_eq(n, 3);
	ck_assert_mem_eq(buf, "a\0b", 4);
	/* Only s[0..len) is decoded; an escape cut by len is malformed. */
	memcpy(buf, "a%20bXYZ", 9);
	ck_assert_int_eq(url_decode(buf, 5, true), 3);
	ck_assert_str_eq(buf, "a b");
	memcpy(buf, "a%20", 5);
	ck_assert_int_eq(url_decode(buf, 3, true), -1);
}
END_TEST

START_TEST(path_match_literals)
{
	int64_t ids[PATH_MAX_IDS];

	ck_assert(path_match("/contacts", "/contacts", ids));
	ck_assert(path_match("/contacts", "/contacts/", ids));
	ck_assert(!path_match("/contacts", "/contacts//", ids));
	ck_assert(!path_match("/contacts", "/contact", ids));
	ck_assert(!path_match("/contacts", "/contactsx", ids));
	ck_assert(!path_match("/contacts", "/Contacts", ids));
	ck_assert(!path_match("/contacts", "", ids));
	ck_assert(!path_match("/contacts", "/contacts/x", ids));
	ck_assert(!path_match("/contacts/create", "/contacts", ids));
	ck_assert(path_match("/contacts/create", "/contacts/create", ids));
	ck_assert(path_match("/account/me", "/account/me/", ids));
}
END_TEST

START_TEST(path_match_ids)
{
	int64_t ids[PATH_MAX_IDS] = { 0 };

	ck_assert(path_match("/contacts/{id}", "/contacts/12", ids));
	ck_assert_int_eq(ids[0], 12);
	ck_assert(path_match("/contacts/{id}", "/contacts/1", ids));
	ck_assert_int_eq(ids[0], 1);
	ck_assert(path_match("/contacts/{id}", "/contacts/907/", ids));
	ck_assert_int_eq(ids[0], 907);
	ck_assert(path_match("/messages/{id}/status", "/messages/5/status",
	    ids));
	ck_assert_int_eq(ids[0], 5);
	ck_assert(!path_match("/messages/{id}/status", "/messages/5", ids));
	ck_assert(!path_match("/messages/{id}/status", "/messages/5/statusx",
	    ids));
	ck_assert(path_match("/webhooks/{id}/deliveries/{delivery_id}",
	    "/webhooks/3/deliveries/44", ids));
	ck_assert_int_eq(ids[0], 3);
	ck_assert_int_eq(ids[1], 44);
	ck_assert(path_match("/a/{x}/b/{y}/c/{z}/d/{w}", "/a/1/b/2/c/3/d/4",
	    ids));
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[3], 4);
	/* A fifth id has no slot: no match, and nothing written past ids[]
	 * (ASan watches the stack array). */
	ck_assert_int_eq(PATH_MAX_IDS, 4);
	ck_assert(!path_match("/a/{x}/b/{y}/c/{z}/d/{w}/e/{v}",
	    "/a/1/b/2/c/3/d/4/e/5", ids));
}
END_TEST

START_TEST(path_match_rejects_bad_ids)
{
	int64_t ids[PATH_MAX_IDS];

	ck_assert(!path_match("/contacts/{id}", "/contacts/", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/0", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/012", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/00", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/-1", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/+1", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/ 1", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/1.5", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/12abc", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/abc", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/0x1f", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/1e3", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/12//", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/12/x", ids));
	ck_assert(!path_match("/contacts/{id}", "/contacts/%31", ids));
}
END_TEST

START_TEST(path_match_overflow)
{
	int64_t ids[PATH_MAX_IDS] = { 0 };

	/* Large ids that fit are taken exactly. */
	ck_assert(path_match("/c/{id}", "/c/999999999999999999", ids));
	ck_assert_int_eq(ids[0], 999999999999999999LL);
	ck_assert(path_match("/c/{id}", "/c/123456789012345678", ids));
	ck_assert_int_eq(ids[0], 123456789012345678LL);
	/* Past 63 bits the path does not match (and UBSan sees no signed
	 * overflow on the way). */
	ck_assert(!path_match("/c/{id}", "/c/9223372036854775808", ids));
	ck_assert(!path_match("/c/{id}", "/c/9999999999999999999", ids));
	ck_assert(!path_match("/c/{id}", "/c/18446744073709551617", ids));
	ck_assert(!path_match("/c/{id}",
	    "/c/99999999999999999999999999999999999999999999", ids));
}
END_TEST

/* Collects trigrams as a "|"-joined string. */
struct tri_acc {
	char	buf[1024];
	size_t	n;
	int	count;
};

static void
tri_collect(const char *t, size_t len, void *arg)
{
	struct tri_acc *a = arg;

	ck_assert_uint_le(len, 12);	/* three code points, four bytes each */
	ck_assert_uint_lt(a->n + len + 2, sizeof(a->buf));
	if (a->count++ > 0)
		a->buf[a->n++] = '|';
	memcpy(a->buf + a->n, t, len);
	a->n += len;
	a->buf[a->n] = '\0';
}

static const char *
tri(const char *s, struct tri_acc *a)
{
	memset(a, 0, sizeof(*a));
	trigrams(s, strlen(s), tri_collect, a);
	return a->buf;
}

START_TEST(trigrams_ascii)
{
	struct tri_acc a;

	ck_assert_str_eq(tri("", &a), "");
	ck_assert_int_eq(a.count, 0);
	ck_assert_str_eq(tri("a", &a), "");
	ck_assert_str_eq(tri("ab", &a), "");
	ck_assert_int_eq(a.count, 0);
	ck_assert_str_eq(tri("abc", &a), "abc");
	ck_assert_int_eq(a.count, 1);
	ck_assert_str_eq(tri("abcde", &a), "abc|bcd|cde");
	ck_assert_int_eq(a.count, 3);
	ck_assert_str_eq(tri("+4915", &a), "+49|491|915");
	ck_assert_str_eq(tri("a b", &a), "a b");
	/* Duplicates are reported. */
	ck_assert_str_eq(tri("aaaa", &a), "aaa|aaa");
}
END_TEST

START_TEST(trigrams_fold_case)
{
	struct tri_acc a;

	ck_assert_str_eq(tri("ABC", &a), "abc");
	ck_assert_str_eq(tri("JoHn", &a), "joh|ohn");
	ck_assert_str_eq(tri("A@B.IO", &a), "a@b|@b.|b.i|.io");
	/* Only ASCII is folded here (the collation folds the rest). */
	ck_assert_str_eq(tri("\xc3\x89" "CO", &a), "\xc3\x89" "co");
}
END_TEST

START_TEST(trigrams_utf8)
{
	struct tri_acc a;

	/* Windows of three code points, not three bytes. */
	ck_assert_str_eq(tri("h\xc3\xa9llo", &a),
	    "h\xc3\xa9l|\xc3\xa9ll|llo");
	ck_assert_int_eq(a.count, 3);
	ck_assert_str_eq(tri("\xc3\xa9\xc3\xa9", &a), "");
	ck_assert_str_eq(tri("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", &a),
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	ck_assert_str_eq(tri("a\xf0\x9f\x98\x80" "bc", &a),
	    "a\xf0\x9f\x98\x80" "b|\xf0\x9f\x98\x80" "bc");
	ck_assert_str_eq(tri("\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82",
	    &a), "\xf0\x9f\x98\x80\xf0\x9f\x98\x81\xf0\x9f\x98\x82");
	ck_assert_int_eq(a.count, 1);
	ck_assert_str_eq(tri("\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd", &a),
	    "\xd0\x98\xd0\xb2\xd0\xb0|\xd0\xb2\xd0\xb0\xd0\xbd");
}
END_TEST

START_TEST(trigrams_respect_length)
{
	struct tri_acc a;

	memset(&a, 0, sizeof(a));
	trigrams("abcdef", 4, tri_collect, &a);
	ck_assert_str_eq(a.buf, "abc|bcd");
}
END_TEST

START_TEST(time_format)
{
	char r[21], s[20];

	time_rfc3339(0, r);
	ck_assert_str_eq(r, "1970-01-01T00:00:00Z");
	time_sql(0, s);
	ck_assert_str_eq(s, "1970-01-01 00:00:00");
	time_rfc3339(1773568800, r);
	ck_assert_str_eq(r, "2026-03-15T10:00:00Z");
	time_sql(1773568800, s);
	ck_assert_str_eq(s, "2026-03-15 10:00:00");
	time_rfc3339(1709251199, r);	/* the last second of a leap February */
	ck_assert_str_eq(r, "2024-02-29T23:59:59Z");
	time_rfc3339(4102444799, r);
	ck_assert_str_eq(r, "2099-12-31T23:59:59Z");
	ck_assert_uint_eq(strlen(r), 20);
}
END_TEST

static time_t
parse_ok(const char *s)
{
	time_t t = -12345;

	ck_assert_msg(time_parse_rfc3339(s, &t) == 0, "rejected %s", s);
	return t;
}

#define T_20260315_1000	((time_t)1773568800)

START_TEST(time_parse_utc)
{
	char r[21];

	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00Z"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15t10:00:00z"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(parse_ok("2024-02-29T12:00:00Z"), 1709208000);
	ck_assert_int_eq(parse_ok("2026-12-31T23:59:59Z"), 1798761599);
	/* Round trip. */
	time_rfc3339(1798761599, r);
	ck_assert_int_eq(parse_ok(r), 1798761599);
}
END_TEST

START_TEST(time_parse_offsets)
{
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00+00:00"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00-00:00"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T12:00:00+02:00"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T05:00:00-05:00"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T15:30:00+05:30"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T00:15:00-09:45"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-16T09:00:00+23:00"), T_20260315_1000);
	/* Offsets that move across a day, a month and a year. */
	ck_assert_int_eq(parse_ok("2026-03-01T01:00:00+02:00"),
	    parse_ok("2026-02-28T23:00:00Z"));
	ck_assert_int_eq(parse_ok("2026-02-28T23:00:00-02:00"),
	    parse_ok("2026-03-01T01:00:00Z"));
	ck_assert_int_eq(parse_ok("2026-12-31T22:00:00-03:00"),
	    parse_ok("2027-01-01T01:00:00Z"));
}
END_TEST

START_TEST(time_parse_fractions)
{
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00.0Z"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00.5Z"), T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00.999999Z"),
	    T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T10:00:00.123456789Z"),
	    T_20260315_1000);
	ck_assert_int_eq(parse_ok("2026-03-15T11:00:00.250+01:00"),
	    T_20260315_1000);
}
END_TEST

START_TEST(time_parse_rejects)
{
	static const char *const bad[] = {
		"",
		"2026",
		"2026-03-15",
		"2026-03-15T10:00:00",		/* no zone */
		"2026-03-15T10:00Z",		/* no seconds */
		"2026-03-15T10:00:00ZZ",
		"2026-03-15T10:00:00Z ",
		" 2026-03-15T10:00:00Z",
		"2026-03-15T10:00:00Zjunk",
		"2026-03-15X10:00:00Z",
		"2026/03/15T10:00:00Z",
		"2026-3-15T10:00:00Z",
		"2026-03-5T10:00:00Z",
		"20a6-03-15T10:00:00Z",
		"2026-0x-15T10:00:00Z",
		"2026-03-15T1a:00:00Z",
		"2026-03-15T10:00:0aZ",
		"2026-00-15T10:00:00Z",		/* month 0 */
		"2026-13-15T10:00:00Z",		/* month 13 */
		"2026-03-00T10:00:00Z",		/* day 0 */
		"2026-03-32T10:00:00Z",
		"2026-02-29T10:00:00Z",		/* not a leap year */
		"2100-02-29T10:00:00Z",		/* nor is 2100 */
		"2026-02-30T10:00:00Z",
		"2026-02-31T10:00:00Z",
		"2026-04-31T10:00:00Z",
		"2026-06-31T10:00:00Z",
		"2026-09-31T10:00:00Z",
		"2026-11-31T10:00:00Z",
		"2026-03-15T24:00:00Z",
		"2026-03-15T10:60:00Z",
		"2026-03-15T10:00:61Z",
		"2026-03-15T10:00:00.Z",	/* empty fraction */
		"2026-03-15T10:00:00,5Z",
		"2026-03-15T10:00:00+0200",	/* offset without colon */
		"2026-03-15T10:00:00+02",
		"2026-03-15T10:00:00+2:00",
		"2026-03-15T10:00:00+02:00:00",
		"2026-03-15T10:00:00+24:00",
		"2026-03-15T10:00:00+02:60",
		"2026-03-15T10:00:00+0a:00",
		"2026-03-15T10:00:00 +02:00",
		"2026-03-15T10:00:00UTC",
		"2026-03-15T10:00:00GMT",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t = 0;
		ck_assert_msg(time_parse_rfc3339(bad[i], &t) == -1,
		    "accepted \"%s\"", bad[i]);
	}
}
END_TEST

Suite *
text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc;

	tc = tcase_new("utf8");
	tcase_add_test(tc, utf8_accepts_well_formed);
	tcase_add_test(tc, utf8_rejects_overlongs);
	tcase_add_test(tc, utf8_rejects_surrogates_and_out_of_range);
	tcase_add_test(tc, utf8_rejects_bad_continuations_and_truncation);
	tcase_add_test(tc, utf8_length_counts_code_points);
	suite_add_tcase(s, tc);

	tc = tcase_new("url_decode");
	tcase_add_test(tc, url_decode_escapes);
	tcase_add_test(tc, url_decode_plus);
	tcase_add_test(tc, url_decode_rejects_bad_escapes);
	tcase_add_test(tc, url_decode_nul_and_length);
	suite_add_tcase(s, tc);

	tc = tcase_new("path_match");
	tcase_add_test(tc, path_match_literals);
	tcase_add_test(tc, path_match_ids);
	tcase_add_test(tc, path_match_rejects_bad_ids);
	tcase_add_test(tc, path_match_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_new("trigrams");
	tcase_add_test(tc, trigrams_ascii);
	tcase_add_test(tc, trigrams_fold_case);
	tcase_add_test(tc, trigrams_utf8);
	tcase_add_test(tc, trigrams_respect_length);
	suite_add_tcase(s, tc);

	tc = tcase_new("time");
	tcase_add_test(tc, time_format);
	tcase_add_test(tc, time_parse_utc);
	tcase_add_test(tc, time_parse_offsets);
	tcase_add_test(tc, time_parse_fractions);
	tcase_add_test(tc, time_parse_rejects);
	suite_add_tcase(s, tc);

	return s;
}
