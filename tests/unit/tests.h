/* The unit test program: one Check suite per module of lib/, all run by
 * unit.c in one SRunner. */
#ifndef WZ_TESTS_H
#define WZ_TESTS_H
#include <check.h>

Suite	*text_suite(void);
Suite	*query_suite(void);
Suite	*jsonbody_suite(void);
Suite	*validate_suite(void);
Suite	*config_suite(void);
Suite	*crypto_suite(void);
Suite	*scopes_suite(void);
Suite	*pool_suite(void);
Suite	*misc_suite(void);
Suite	*spooler_suite(void);
Suite	*metahook_suite(void);
Suite	*spooler_edges_suite(void);
Suite	*webhooks_suite(void);
Suite	*event_suite(void);
Suite	*http_suite(void);
Suite	*placeholder_suite(void);
Suite	*campaign_send_suite(void);

/* A test case with a timeout generous enough for sanitizer builds on a
 * busy machine. */
TCase	*tcase_new(const char *name);

/* The number of lines (newlines) in a file; 0 when it cannot be read. */
unsigned long	 file_lines(const char *path);

#endif
