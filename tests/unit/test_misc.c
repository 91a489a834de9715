/* The small pure parts of lib/ that have no suite of their own:
 * xmalloc.h, the sql.h statement table, db.h's argument and result helpers,
 * and log.h's fatal exit. */
#include <sys/stat.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "sql.h"
#include "xmalloc.h"
#include "tests.h"

START_TEST(xmalloc_basics)
{
	char *s, *p;
	unsigned char *z;
	int *a;
	size_t i;

	p = xmalloc(0);
	ck_assert_ptr_nonnull(p);
	free(p);
	z = xcalloc(1000, 4);
	for (i = 0; i < 4000; i++)
		ck_assert_int_eq(z[i], 0);
	free(z);
	z = xcalloc(0, 0);
	ck_assert_ptr_nonnull(z);
	free(z);
	s = xstrdup("hello");
	ck_assert_str_eq(s, "hello");
	free(s);
	s = xstrndup("hello world", 5);
	ck_assert_str_eq(s, "hello");
	free(s);
	ck_assert_int_eq(xasprintf(&s, "%s=%d", "n", 42), 4);
	ck_assert_str_eq(s, "n=42");
	free(s);
	a = xreallocarray(NULL, 10, sizeof(*a));
	for (i = 0; i < 10; i++)
		a[i] = (int)i;
	a = xreallocarray(a, 100000, sizeof(*a));
	ck_assert_int_eq(a[9], 9);
	a[99999] = 1;
	free(a);
}
END_TEST

START_TEST(xreallocarray_overflow_aborts)
{
	(void)xreallocarray(NULL, SIZE_MAX / 4, 8);
}
END_TEST

START_TEST(sql_table_complete)
{
	int i, j;

	/* Every statement has a name and text; names are unique. */
	for (i = 0; i < SQL__MAX; i++) {
		ck_assert_msg(sql_name(i) != NULL && *sql_name(i) != '\0',
		    "statement %d has no name", i);
		ck_assert_msg(sql_text(i) != NULL && *sql_text(i) != '\0',
		    "statement %s has no text", sql_name(i));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(sql_name(i), sql_name(j));
	}
	ck_assert_str_eq(sql_name(SQL_CONTACT_GET), "CONTACT_GET");
	ck_assert(sql_retryable(SQL_CONTACT_GET));
	ck_assert(!sql_retryable(SQL_CONTACT_CREATE));
	ck_assert(!sql_retryable(SQL_CONTACT_DELETE));
}
END_TEST

START_TEST(db_args)
{
	struct db_arg a;

	a = DBA_STR(NULL);
	ck_assert_int_eq(a.t, DBA_NULL_T);
	a = DBA_STR("abc");
	ck_assert_int_eq(a.t, DBA_STR_T);
	ck_assert_uint_eq(a.n, 3);
	a = DBA_INT(-7);
	ck_assert_int_eq(a.t, DBA_INT_T);
	ck_assert_int_eq(a.i, -7);
}
END_TEST

START_TEST(db_result_access)
{
	char *cells[] = { "1", "ann", NULL, "9223372036854775807", "bo", "x" };
	unsigned long lens[] = { 1, 3, 0, 19, 2, 1 };
	struct db_res r = { 2, 3, cells, lens };

	ck_assert_str_eq(db_str(&r, 0, 1), "ann");
	ck_assert_int_eq(db_int(&r, 0, 0), 1);
	ck_assert_int_eq(db_int(&r, 1, 0), INT64_MAX);
	ck_assert(db_isnull(&r, 0, 2));
	ck_assert_int_eq(db_int(&r, 0, 2), 0);
	ck_assert_uint_eq(db_len(&r, 1, 1), 2);
	/* Out of range: NULL, 0, never a read past the arrays. */
	ck_assert_ptr_null(db_str(&r, 2, 0));
	ck_assert_ptr_null(db_str(&r, 0, 3));
	ck_assert(db_isnull(&r, 5, 5));
	ck_assert_uint_eq(db_len(&r, 2, 0), 0);
	ck_assert_uint_eq(db_len(&r, 0, 3), 0);
	ck_assert_int_eq(db_int(&r, 9, 9), 0);
}
END_TEST

START_TEST(log_fatalx_exits_1)
{
	log_setname("unit");
	log_info("an info line from the unit tests (expected)");
	log_fatalx("a fatal line from the unit tests (expected)");
}
END_TEST

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* [log] file: lines appended, control characters escaped, a moved file
 * replaced by a new one (after the once-a-second look), a symbolic link
 * or a file with two names refused (standard error instead). */
START_TEST(log_file_clean_rotate_refuse)
{
	char dir[] = "/tmp/wz-log-XXXXXX", path[128], moved[160], lnk[160];
	char other[160];
	const char *t;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/w.log", dir);
	snprintf(moved, sizeof(moved), "%s/w.log.1", dir);
	log_setname("unit");
	log_open(path);
	log_warnx("a\r\nforged line\x1b[2J %s", "tab\there");
	t = slurp(path);
	ck_assert_ptr_nonnull(strstr(t, "unit["));
	ck_assert_ptr_nonnull(strstr(t,
	    "warn: a\\x0d\\x0aforged line\\x1b[2J tab\\x09here\n"));
	ck_assert_int_eq((int)file_lines(path), 1);

	ck_assert_int_eq(rename(path, moved), 0);
	sleep(1);	/* the look for a rotation is once a second */
	sleep(1);
	log_info("after the move");
	ck_assert_ptr_nonnull(strstr(slurp(path), "after the move"));
	ck_assert_ptr_null(strstr(slurp(moved), "after the move"));

	/* A symbolic link at the log's name: not followed. */
	snprintf(lnk, sizeof(lnk), "%s/l.log", dir);
	snprintf(other, sizeof(other), "%s/target", dir);
	ck_assert_int_eq(symlink(other, lnk), 0);
	log_open(lnk);
	log_info("not through the link");
	ck_assert_int_eq(access(other, F_OK), -1);
	/* A second name of another file: refused too. */
	ck_assert_int_eq(unlink(lnk), 0);
	ck_assert_int_eq(link(moved, lnk), 0);
	log_open(lnk);
	log_info("not into a file with two names");
	ck_assert_ptr_null(strstr(slurp(moved), "two names"));
	log_open(NULL);
	unlink(lnk);
	unlink(moved);
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *
misc_suite(void)
{
	Suite *s = suite_create("misc");
	TCase *tc = tcase_new("misc");

	tcase_add_test(tc, xmalloc_basics);
	tcase_add_test_raise_signal(tc, xreallocarray_overflow_aborts, SIGABRT);
	tcase_add_test(tc, sql_table_complete);
	tcase_add_test(tc, db_args);
	tcase_add_test(tc, db_result_access);
	tcase_add_exit_test(tc, log_fatalx_exits_1, 1);
	tcase_add_test(tc, log_file_clean_rotate_refuse);
	suite_add_tcase(s, tc);
	return s;
}
