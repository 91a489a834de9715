/* pool.h: the per-request arena. */
#include <signal.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "tests.h"

static bool
aligned(const void *p)
{
	return ((uintptr_t)p % alignof(max_align_t)) == 0;
}

START_TEST(pool_many_small)
{
	enum { N = 100000 };
	struct pool p;
	unsigned char **ptrs = malloc(N * sizeof(*ptrs));
	size_t i;

	pool_init(&p);
	/* Odd sizes, each filled with its own pattern: any overlap between
	 * allocations shows when the patterns are checked afterwards. */
	for (i = 0; i < N; i++) {
		size_t n = 1 + i % 37;
		ptrs[i] = pool_alloc(&p, n);
		ck_assert_ptr_nonnull(ptrs[i]);
		ck_assert(aligned(ptrs[i]));
		memset(ptrs[i], (int)(i & 0xff), n);
	}
	for (i = 0; i < N; i++) {
		size_t n = 1 + i % 37, k;
		for (k = 0; k < n; k++)
			ck_assert_int_eq(ptrs[i][k], (int)(i & 0xff));
	}
	pool_free(&p);
	free(ptrs);
}
END_TEST

START_TEST(pool_reset_reuses_first_chunk)
{
	struct pool p;
	void *first, *a;
	int round;

	pool_init(&p);
	first = p.first;
	a = pool_alloc(&p, 10);
	for (round = 0; round < 50; round++) {
		size_t i;
		for (i = 0; i < 5000; i++)
			memset(pool_alloc(&p, 100), 0xab, 100);
		(void)pool_alloc(&p, 1 << 20);
		pool_reset(&p);
		ck_assert_ptr_eq(p.first, first);
		ck_assert_ptr_eq(p.head, p.first);
		/* After a reset the first allocation lands where it did. */
		ck_assert_ptr_eq(pool_alloc(&p, 10), a);
	}
	pool_free(&p);
	ck_assert_ptr_null(p.first);
	ck_assert_ptr_null(p.head);
}
END_TEST

START_TEST(pool_large)
{
	struct pool p;
	unsigned char *big, *small, *huge;
	size_t i;

	pool_init(&p);
	small = pool_alloc(&p, 16);
	memset(small, 1, 16);
	/* Larger than a chunk. */
	big = pool_alloc(&p, 1 << 20);
	ck_assert(aligned(big));
	memset(big, 2, 1 << 20);
	/* Exactly a chunk, and one byte more. */
	memset(pool_alloc(&p, 64 * 1024), 3, 64 * 1024);
	memset(pool_alloc(&p, 64 * 1024 + 1), 4, 64 * 1024 + 1);
	/* Small allocations after a large one still work. */
	for (i = 0; i < 1000; i++)
		memset(pool_alloc(&p, 200), 5, 200);
	huge = pool_alloc(&p, 16 << 20);
	memset(huge, 6, 16 << 20);
	ck_assert_int_eq(small[15], 1);
	ck_assert_int_eq(big[0], 2);
	ck_assert_int_eq(big[(1 << 20) - 1], 2);
	ck_assert_int_eq(huge[(16 << 20) - 1], 6);
	pool_reset(&p);
	/* And again after a reset. */
	memset(pool_alloc(&p, 3 << 20), 7, 3 << 20);
	pool_free(&p);
}
END_TEST

START_TEST(pool_zero_and_calloc)
{
	struct pool p;
	unsigned char *c;
	size_t i;

	pool_init(&p);
	ck_assert_ptr_nonnull(pool_alloc(&p, 0));
	/* Dirty the chunk, reset, then calloc must hand back zeros. */
	memset(pool_alloc(&p, 4096), 0xff, 4096);
	pool_reset(&p);
	c = pool_calloc(&p, 512, 8);
	for (i = 0; i < 4096; i++)
		ck_assert_int_eq(c[i], 0);
	c = pool_calloc(&p, 0, 8);
	ck_assert_ptr_nonnull(c);
	c = pool_calloc(&p, 300000, 1);
	for (i = 0; i < 300000; i++)
		ck_assert_int_eq(c[i], 0);
	pool_free(&p);
}
END_TEST

START_TEST(pool_calloc_overflow_aborts)
{
	struct pool p;

	pool_init(&p);
	(void)pool_calloc(&p, SIZE_MAX / 2, 3);
}
END_TEST

START_TEST(pool_alloc_overflow_aborts)
{
	struct pool p;

	pool_init(&p);
	(void)pool_alloc(&p, SIZE_MAX - 1);
}
END_TEST

START_TEST(pool_strings)
{
	struct pool p;
	char *s, *big;

	pool_init(&p);
	ck_assert_str_eq(pool_strdup(&p, "hello"), "hello");
	ck_assert_str_eq(pool_strdup(&p, ""), "");
	s = pool_strndup(&p, "hello world", 5);
	ck_assert_str_eq(s, "hello");
	s = pool_strndup(&p, "a\0b", 3);
	ck_assert_mem_eq(s, "a\0b\0", 4);
	ck_assert_str_eq(pool_printf(&p, "%s-%d-%05.1f", "x", 42, 3.14159),
	    "x-42-003.1");
	ck_assert_str_eq(pool_printf(&p, "%s", ""), "");
	/* Longer than a chunk. */
	big = malloc(200001);
	memset(big, 'q', 200000);
	big[200000] = '\0';
	s = pool_printf(&p, "<%s>", big);
	ck_assert_uint_eq(strlen(s), 200002);
	ck_assert_int_eq(s[0], '<');
	ck_assert_int_eq(s[200001], '>');
	s = pool_strdup(&p, big);
	ck_assert_str_eq(s, big);
	free(big);
	pool_free(&p);
}
END_TEST

Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_new("pool");

	tcase_add_test(tc, pool_many_small);
	tcase_add_test(tc, pool_reset_reuses_first_chunk);
	tcase_add_test(tc, pool_large);
	tcase_add_test(tc, pool_zero_and_calloc);
	tcase_add_test_raise_signal(tc, pool_calloc_overflow_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, pool_alloc_overflow_aborts, SIGABRT);
	tcase_add_test(tc, pool_strings);
	suite_add_tcase(s, tc);
	return s;
}
