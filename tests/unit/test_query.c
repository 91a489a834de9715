/* query.h: query strings into decoded pairs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "query.h"
#include "tests.h"

static struct pool pool;

static void
setup(void)
{
	pool_init(&pool);
}

static void
teardown(void)
{
	pool_free(&pool);
}

START_TEST(query_empty)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool, NULL, &q), 0);
	ck_assert_uint_eq(q.n, 0);
	ck_assert_ptr_null(query_get(&q, "a"));
	ck_assert_int_eq(query_parse(&pool, "", &q), 0);
	ck_assert_uint_eq(q.n, 0);
	ck_assert_int_eq(query_parse(&pool, "&&&", &q), 0);
	ck_assert_uint_eq(q.n, 0);
}
END_TEST

START_TEST(query_pairs)
{
	struct query q;
	const char *qs = "page=2&per_page=50&search=x%20y";

	ck_assert_int_eq(query_parse(&pool, qs, &q), 0);
	ck_assert_uint_eq(q.n, 3);
	ck_assert_str_eq(q.pairs[0].key, "page");
	ck_assert_str_eq(q.pairs[0].val, "2");
	ck_assert_uint_eq(strlen(q.pairs[0].val), 1);
	ck_assert_str_eq(query_get(&q, "per_page"), "50");
	ck_assert_str_eq(query_get(&q, "search"), "x y");
	ck_assert_uint_eq(strlen(q.pairs[2].val), 3);
	ck_assert_ptr_null(query_get(&q, "tag"));
	ck_assert_ptr_null(query_get(&q, "Page"));
	ck_assert_ptr_null(query_get(&q, "pag"));
	/* The input is not modified. */
	ck_assert_str_eq(qs, "page=2&per_page=50&search=x%20y");
}
END_TEST

START_TEST(query_plus_and_escapes)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool,
	    "search=john+doe&phone=%2B4915&tag=vip%2Bgold&k%65y=v", &q), 0);
	ck_assert_str_eq(query_get(&q, "search"), "john doe");
	ck_assert_str_eq(query_get(&q, "phone"), "+4915");
	ck_assert_str_eq(query_get(&q, "tag"), "vip+gold");
	ck_assert_str_eq(query_get(&q, "key"), "v");
	ck_assert_int_eq(query_parse(&pool, "q=%E2%82%AC+%c3%a9", &q), 0);
	ck_assert_str_eq(query_get(&q, "q"), "\xe2\x82\xac \xc3\xa9");
	ck_assert_uint_eq(strlen(q.pairs[0].val), 6);
}
END_TEST

START_TEST(query_last_value_wins)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool, "a=1&b=2&a=3", &q), 0);
	ck_assert_uint_eq(q.n, 3);
	ck_assert_str_eq(query_get(&q, "a"), "3");
	ck_assert_str_eq(query_get(&q, "b"), "2");
}
END_TEST

START_TEST(query_odd_shapes)
{
	struct query q;

	/* A key alone has an empty value; empty parts are skipped. */
	ck_assert_int_eq(query_parse(&pool, "flag&&x=1&", &q), 0);
	ck_assert_uint_eq(q.n, 2);
	ck_assert_str_eq(query_get(&q, "flag"), "");
	ck_assert_uint_eq(strlen(q.pairs[0].val), 0);
	ck_assert_str_eq(query_get(&q, "x"), "1");
	/* Only the first '=' splits. */
	ck_assert_int_eq(query_parse(&pool, "a=b=c&e=", &q), 0);
	ck_assert_str_eq(query_get(&q, "a"), "b=c");
	ck_assert_str_eq(query_get(&q, "e"), "");
	/* An empty key is kept as such. */
	ck_assert_int_eq(query_parse(&pool, "=v", &q), 0);
	ck_assert_uint_eq(q.n, 1);
	ck_assert_str_eq(query_get(&q, ""), "v");
}
END_TEST

START_TEST(query_rejects_bad_escapes)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool, "q=%", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "q=%4", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "q=%ZZ", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "a=1&q=abc%2", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "%ZZ=1", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "k%=1", &q), -1);
}
END_TEST

START_TEST(query_rejects_bad_utf8)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool, "q=%C3%28", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "q=%C0%80", &q), -1);	/* overlong */
	ck_assert_int_eq(query_parse(&pool, "q=%ED%A0%80", &q), -1);	/* surrogate */
	ck_assert_int_eq(query_parse(&pool, "q=%FF", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "q=%E2%82", &q), -1);	/* truncated */
	ck_assert_int_eq(query_parse(&pool, "q=\xff", &q), -1);		/* raw byte */
	ck_assert_int_eq(query_parse(&pool, "%C3%28=1", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "ok=1&\xc3=1", &q), -1);
}
END_TEST

START_TEST(query_rejects_nul)
{
	struct query q;

	ck_assert_int_eq(query_parse(&pool, "q=a%00b", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "q=%00", &q), -1);
	ck_assert_int_eq(query_parse(&pool, "k%00=v", &q), -1);
}
END_TEST

START_TEST(query_many_pairs)
{
	char qs[4096], *p = qs;
	struct query q;
	int i;

	for (i = 0; i < 256; i++)
		p += sprintf(p, "%sk%d=%d", i ? "&" : "", i, i);
	ck_assert_int_eq(query_parse(&pool, qs, &q), 0);
	ck_assert_uint_eq(q.n, 256);
	ck_assert_str_eq(query_get(&q, "k0"), "0");
	ck_assert_str_eq(query_get(&q, "k255"), "255");
	/* A runaway query string is refused rather than parsed. */
	strcpy(p, "&k256=256");
	ck_assert_int_eq(query_parse(&pool, qs, &q), -1);
}
END_TEST

START_TEST(query_long_value)
{
	size_t n = 100000;
	char *qs = malloc(n + 3);
	struct query q;

	memcpy(qs, "q=", 2);
	memset(qs + 2, 'x', n);
	qs[n + 2] = '\0';
	ck_assert_int_eq(query_parse(&pool, qs, &q), 0);
	ck_assert_uint_eq(strlen(q.pairs[0].val), n);
	ck_assert_uint_eq(strlen(query_get(&q, "q")), n);
	free(qs);
}
END_TEST

Suite *
query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_new("query_parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, query_empty);
	tcase_add_test(tc, query_pairs);
	tcase_add_test(tc, query_plus_and_escapes);
	tcase_add_test(tc, query_last_value_wins);
	tcase_add_test(tc, query_odd_shapes);
	tcase_add_test(tc, query_rejects_bad_escapes);
	tcase_add_test(tc, query_rejects_bad_utf8);
	tcase_add_test(tc, query_rejects_nul);
	tcase_add_test(tc, query_many_pairs);
	tcase_add_test(tc, query_long_value);
	suite_add_tcase(s, tc);
	return s;
}
