/* Runs every unit suite and exits non-zero if any check failed, so make
 * check and tests/run see failures (a runner that prints "fail" and exits 0
 * hides them). */
#include <stdio.h>
#include <stdlib.h>

#include "crypto.h"
#include "tests.h"

TCase *
tcase_new(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 60);
	return tc;
}

unsigned long
file_lines(const char *path)
{
	unsigned long n = 0;
	FILE *f = fopen(path, "r");
	int c;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (crypto_init() == -1) {
		fprintf(stderr, "unit: crypto_init failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(text_suite());
	srunner_add_suite(sr, query_suite());
	srunner_add_suite(sr, jsonbody_suite());
	srunner_add_suite(sr, validate_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, crypto_suite());
	srunner_add_suite(sr, scopes_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_add_suite(sr, misc_suite());
	srunner_add_suite(sr, spooler_suite());
	srunner_add_suite(sr, metahook_suite());
	srunner_add_suite(sr, spooler_edges_suite());
	srunner_add_suite(sr, event_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, webhooks_suite());
	srunner_add_suite(sr, placeholder_suite());
	srunner_add_suite(sr, campaign_send_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
