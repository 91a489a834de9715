/* config.h: the INI file, its defaults, and its errors with line numbers. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tests.h"

static struct config cfg;
static char err[512];

static void
csetup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	err[0] = '\0';
}

static void
cteardown(void)
{
	config_free(&cfg);
}

/* Parses text; on success err must stay untouched. */
static int
parse(const char *text)
{
	config_free(&cfg);
	err[0] = '\0';
	return config_parse(&cfg, text, err, sizeof(err));
}

#define PARSE_FAILS(text, msg) do {					\
	ck_assert_int_eq(parse(text), -1);				\
	ck_assert_str_eq(err, (msg));					\
} while (0)

START_TEST(config_defaults)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_str_eq(cfg.db_host, "localhost");
	ck_assert_int_eq(cfg.db_port, 3306);
	ck_assert_str_eq(cfg.db_socket, "");
	ck_assert_str_eq(cfg.db_user, "wazera");
	ck_assert_str_eq(cfg.db_password, "");
	ck_assert_str_eq(cfg.db_name, "wazera");
	ck_assert_int_eq(cfg.db_connect_timeout, 3);
	ck_assert_str_eq(cfg.graph_api_base, "https://graph.facebook.com/v25.0");
	ck_assert_str_eq(cfg.verify_token, "");
	ck_assert_str_eq(cfg.app_secret, "");
	ck_assert_str_eq(cfg.master_key_file, "/etc/wazera/master.key");
	ck_assert_ptr_nonnull(cfg.sql_dir);
	ck_assert_ptr_nonnull(strstr(cfg.sql_dir, "sql"));
	ck_assert(!cfg.webhooks_allow_private_targets);
	ck_assert_int_eq(cfg.spooler_max_seconds, 55);
	ck_assert_int_eq(cfg.spooler_resend_grace, 600);
	ck_assert_str_eq(err, "");
	/* Comments and blank lines alone change nothing. */
	ck_assert_int_eq(parse("# comment\n; another\n\n   \n\t# indented\n"), 0);
	ck_assert_int_eq(cfg.db_port, 3306);
}
END_TEST

START_TEST(config_sections)
{
	ck_assert_int_eq(parse(
	    "# Wazera\n"
	    "graph_api_base = http://127.0.0.1:9999/v25.0\n"
	    "verify_token = vt\n"
	    "app_secret = s3cret\n"
	    "master_key_file = /tmp/mk\n"
	    "sql_dir = /opt/wazera/sql\n"
	    "\n"
	    "[database]\n"
	    "host = db.internal\n"
	    "port = 3307\n"
	    "socket = /run/mysqld/mysqld.sock\n"
	    "user = wz\n"
	    "password = pw\n"
	    "name = wz_test\n"
	    "connect_timeout = 10\n"
	    "[webhooks]\n"
	    "allow_private_targets = true\n"
	    "[spooler]\n"
	    "max_seconds = 5\n"
	    "resend_grace_seconds = 86400\n"), 0);
	ck_assert_str_eq(cfg.graph_api_base, "http://127.0.0.1:9999/v25.0");
	ck_assert_str_eq(cfg.verify_token, "vt");
	ck_assert_str_eq(cfg.app_secret, "s3cret");
	ck_assert_str_eq(cfg.master_key_file, "/tmp/mk");
	ck_assert_str_eq(cfg.sql_dir, "/opt/wazera/sql");
	ck_assert_str_eq(cfg.db_host, "db.internal");
	ck_assert_int_eq(cfg.db_port, 3307);
	ck_assert_str_eq(cfg.db_socket, "/run/mysqld/mysqld.sock");
	ck_assert_str_eq(cfg.db_user, "wz");
	ck_assert_str_eq(cfg.db_password, "pw");
	ck_assert_str_eq(cfg.db_name, "wz_test");
	ck_assert_int_eq(cfg.db_connect_timeout, 10);
	ck_assert(cfg.webhooks_allow_private_targets);
	ck_assert_int_eq(cfg.spooler_max_seconds, 5);
	ck_assert_int_eq(cfg.spooler_resend_grace, 86400);
}
END_TEST

START_TEST(config_whitespace_and_crlf)
{
	ck_assert_int_eq(parse("  [database]  \r\n\thost\t=\tdb1  \r\n"
	    "port=3310\r\n   user   =   a b c   \r\n"), 0);
	ck_assert_str_eq(cfg.db_host, "db1");
	ck_assert_int_eq(cfg.db_port, 3310);
	ck_assert_str_eq(cfg.db_user, "a b c");
	/* No newline at the end of the file. */
	ck_assert_int_eq(parse("[database]\nport = 1"), 0);
	ck_assert_int_eq(cfg.db_port, 1);
}
END_TEST

START_TEST(config_quotes)
{
	ck_assert_int_eq(parse(
	    "[database]\n"
	    "password = \"p@ss word # not a comment\"\n"
	    "user = 'single'\n"
	    "host = \"\"\n"
	    "name = \"mismatched'\n"
	    "socket = \"a\"b\"\n"
	    "port = \"3308\"\n"), 0);
	ck_assert_str_eq(cfg.db_password, "p@ss word # not a comment");
	ck_assert_str_eq(cfg.db_user, "single");
	ck_assert_str_eq(cfg.db_host, "");
	ck_assert_str_eq(cfg.db_name, "\"mismatched'");
	ck_assert_str_eq(cfg.db_socket, "a\"b");
	ck_assert_int_eq(cfg.db_port, 3308);
	/* Quotes keep the spaces inside. */
	ck_assert_int_eq(parse("verify_token = \"  padded  \"\n"), 0);
	ck_assert_str_eq(cfg.verify_token, "  padded  ");
	/* A lone quote is a value, not an empty quoted string. */
	ck_assert_int_eq(parse("verify_token = \"\n"), 0);
	ck_assert_str_eq(cfg.verify_token, "\"");
	/* '=' in a value stays. */
	ck_assert_int_eq(parse("app_secret = a=b==\n"), 0);
	ck_assert_str_eq(cfg.app_secret, "a=b==");
}
END_TEST

START_TEST(config_bools)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	char text[128];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text),
		    "[webhooks]\nallow_private_targets = %s\n", yes[i]);
		ck_assert_int_eq(parse(text), 0);
		ck_assert_msg(cfg.webhooks_allow_private_targets, "%s", yes[i]);
		snprintf(text, sizeof(text),
		    "[webhooks]\nallow_private_targets = true\n"
		    "allow_private_targets = %s\n", no[i]);
		ck_assert_int_eq(parse(text), 0);
		ck_assert_msg(!cfg.webhooks_allow_private_targets, "%s", no[i]);
	}
}
END_TEST

START_TEST(config_last_value_wins)
{
	ck_assert_int_eq(parse("[database]\nhost = a\nhost = b\nhost = c\n"), 0);
	ck_assert_str_eq(cfg.db_host, "c");
}
END_TEST

START_TEST(config_unknown_key)
{
	PARSE_FAILS("# c\n\nbogus = 1\n", "line 3: unknown key bogus");
	PARSE_FAILS("[database]\nhost = x\nhots = y\n",
	    "line 3: unknown key database.hots");
	/* Keys belong to their section. */
	PARSE_FAILS("host = x\n", "line 1: unknown key host");
	PARSE_FAILS("[spooler]\nhost = x\n", "line 2: unknown key spooler.host");
	PARSE_FAILS("[database]\nport = 1\n[webhooks]\nport = 2\n",
	    "line 4: unknown key webhooks.port");
	PARSE_FAILS("[nosuch]\nx = 1\n", "line 2: unknown key nosuch.x");
	PARSE_FAILS("[database]\n = 1\n", "line 2: unknown key database.");
	/* Names are case-sensitive. */
	PARSE_FAILS("[Database]\nhost = x\n", "line 2: unknown key Database.host");
}
END_TEST

START_TEST(config_db_hosts)
{
	char host[64];
	unsigned port = 0;

	ck_assert_int_eq(parse("[database]\nhosts = 127.0.0.1:33061, "
	    "db2.example:3306 ,[::1]:33063\n"), 0);
	ck_assert_int_eq(config_db_host(cfg.db_hosts, 0, host, sizeof(host),
	    &port), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 33061);
	ck_assert_int_eq(config_db_host(cfg.db_hosts, 1, host, sizeof(host),
	    &port), 0);
	ck_assert_str_eq(host, "db2.example");
	ck_assert_uint_eq(port, 3306);
	ck_assert_int_eq(config_db_host(cfg.db_hosts, 2, host, sizeof(host),
	    &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 33063);
	ck_assert_int_eq(config_db_host(cfg.db_hosts, 3, host, sizeof(host),
	    &port), 1);
	/* Host too long for the buffer: malformed, never truncated. */
	ck_assert_int_eq(config_db_host("abcdef:1", 0, host, 4, &port), -1);
	PARSE_FAILS("[database]\nhosts = a:1,\n", "database.hosts: entry 2 is "
	    "not HOST:PORT (an IPv6 address as [ADDR]:PORT)");
	PARSE_FAILS("[database]\nhosts = a\n", "database.hosts: entry 1 is "
	    "not HOST:PORT (an IPv6 address as [ADDR]:PORT)");
	PARSE_FAILS("[database]\nhosts = a:0\n", "database.hosts: entry 1 is "
	    "not HOST:PORT (an IPv6 address as [ADDR]:PORT)");
	PARSE_FAILS("[database]\nhosts = ::1:3306\n", "database.hosts: entry 1 "
	    "is not HOST:PORT (an IPv6 address as [ADDR]:PORT)");
	PARSE_FAILS("[database]\nhosts = a:1,[x:2\n", "database.hosts: entry 2 "
	    "is not HOST:PORT (an IPv6 address as [ADDR]:PORT)");
}
END_TEST

START_TEST(config_bad_ints)
{
	PARSE_FAILS("[database]\nport = abc\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 0\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 65536\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = -1\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 3306x\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 33 06\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport =\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 1.5\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("[database]\nport = 99999999999999999999999\n",
	    "line 2: database.port must be an integer from 1 to 65535");
	PARSE_FAILS("\n\n[spooler]\nmax_seconds = 3601\n",
	    "line 4: spooler.max_seconds must be an integer from 1 to 3600");
	PARSE_FAILS("[database]\nconnect_timeout = 61\n",
	    "line 2: database.connect_timeout must be an integer from 1 to 60");
	PARSE_FAILS("[spooler]\nresend_grace_seconds = 0\n",
	    "line 2: spooler.resend_grace_seconds must be an integer from 1 "
	    "to 86400");
	ck_assert_int_eq(parse("[database]\nport = 65535\nconnect_timeout = 60\n"
	    "[spooler]\nmax_seconds = 1\n"), 0);
	ck_assert_int_eq(cfg.db_port, 65535);
}
END_TEST

START_TEST(config_graph_timeout)
{
	/* spooler.graph_timeout_seconds: 30 by default, 1 to 300. */
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(cfg.spooler_graph_timeout, 30);
	ck_assert_int_eq(parse("[spooler]\ngraph_timeout_seconds = 1\n"), 0);
	ck_assert_int_eq(cfg.spooler_graph_timeout, 1);
	ck_assert_int_eq(parse("[spooler]\ngraph_timeout_seconds = 300\n"), 0);
	ck_assert_int_eq(cfg.spooler_graph_timeout, 300);
	PARSE_FAILS("[spooler]\ngraph_timeout_seconds = 0\n",
	    "line 2: spooler.graph_timeout_seconds must be an integer from 1 "
	    "to 300");
	PARSE_FAILS("[spooler]\ngraph_timeout_seconds = 301\n",
	    "line 2: spooler.graph_timeout_seconds must be an integer from 1 "
	    "to 300");
	PARSE_FAILS("[spooler]\ngraph_timeout_seconds = 2s\n",
	    "line 2: spooler.graph_timeout_seconds must be an integer from 1 "
	    "to 300");
}
END_TEST

START_TEST(config_bad_bools)
{
	PARSE_FAILS("[webhooks]\nallow_private_targets = maybe\n",
	    "line 2: webhooks.allow_private_targets must be true or false");
	PARSE_FAILS("[webhooks]\nallow_private_targets =\n",
	    "line 2: webhooks.allow_private_targets must be true or false");
	PARSE_FAILS("[webhooks]\nallow_private_targets = 2\n",
	    "line 2: webhooks.allow_private_targets must be true or false");
}
END_TEST

START_TEST(config_bad_lines)
{
	PARSE_FAILS("[database]\nhost\n", "line 2: expected key = value");
	PARSE_FAILS("\n\n\njust some words\n", "line 4: expected key = value");
	PARSE_FAILS("[database\nhost = x\n", "line 1: bad section");
	PARSE_FAILS("# ok\n[", "line 2: bad section");
	PARSE_FAILS("[database]]x\n", "line 1: bad section");
	{
		char text[200];
		memset(text, 'x', sizeof(text));
		text[0] = '[';
		text[100] = ']';
		text[101] = '\0';
		ck_assert_int_eq(parse(text), -1);
		ck_assert_str_eq(err, "line 1: bad section");
	}
	/* The first error stops parsing; later lines are not reported. */
	PARSE_FAILS("a = 1\nb = 2\n", "line 1: unknown key a");
}
END_TEST

START_TEST(config_load_file)
{
	char path[] = "/tmp/wz-unit-config-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "[database]\nport = 4000\n\n[webhooks]\n"
	    "allow_private_targets = yes\n";

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg.db_port, 4000);
	ck_assert(cfg.webhooks_allow_private_targets);
	config_free(&cfg);

	/* Errors name the file and the line. */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ne(fd, -1);
	text = "[database]\nport = 4000\nporta = 1\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	{
		char want[600];
		snprintf(want, sizeof(want), "%s: line 3: unknown key "
		    "database.porta", path);
		ck_assert_str_eq(err, want);
	}
	unlink(path);

	config_free(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

/* A file over 1 MiB is not read (nor a directory); a failed load leaves
 * nothing to free. */
START_TEST(config_load_refuses)
{
	char path[] = "/tmp/wz-unit-bigconf-XXXXXX", want[600];
	char dir[] = "/tmp/wz-unit-confdir-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	config_free(&cfg);
	ck_assert_int_eq(config_load(&cfg, path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read", path);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(cfg.db_host);
	unlink(path);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(config_load(&cfg, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, dir));
	ck_assert_ptr_null(cfg.db_host);
	rmdir(dir);

	/* A parse error past a line that set a string: nothing left. */
	ck_assert_int_eq(config_parse(&cfg, "[database]\nhost = db1\n"
	    "bogus = 1\n", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 3: unknown key database.bogus");
	ck_assert_ptr_null(cfg.db_host);
	ck_assert_ptr_null(cfg.sql_dir);
}
END_TEST

START_TEST(config_small_error_buffer)
{
	char small[8];

	config_free(&cfg);
	ck_assert_int_eq(config_parse(&cfg, "[database]\nport = x\n", small,
	    sizeof(small)), -1);
	ck_assert_str_eq(small, "line 2:");
}
END_TEST

START_TEST(config_path_order)
{
	unsetenv("WAZERA_CONFIG");
	ck_assert_str_eq(config_path(NULL), "/etc/wazera/wazera.conf");
	ck_assert_str_eq(config_path(""), "/etc/wazera/wazera.conf");
	ck_assert_str_eq(config_path("/x.conf"), "/x.conf");
	setenv("WAZERA_CONFIG", "/env.conf", 1);
	ck_assert_str_eq(config_path(NULL), "/env.conf");
	ck_assert_str_eq(config_path(""), "/env.conf");
	ck_assert_str_eq(config_path("/x.conf"), "/x.conf");
	setenv("WAZERA_CONFIG", "", 1);
	ck_assert_str_eq(config_path(NULL), "/etc/wazera/wazera.conf");
	unsetenv("WAZERA_CONFIG");
}
END_TEST

START_TEST(config_free_twice)
{
	ck_assert_int_eq(parse("verify_token = x\n"), 0);
	config_free(&cfg);
	ck_assert_ptr_null(cfg.verify_token);
	ck_assert_ptr_null(cfg.db_host);
	config_free(&cfg);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_new("config_parse");

	tcase_add_checked_fixture(tc, csetup, cteardown);
	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, config_sections);
	tcase_add_test(tc, config_whitespace_and_crlf);
	tcase_add_test(tc, config_quotes);
	tcase_add_test(tc, config_bools);
	tcase_add_test(tc, config_last_value_wins);
	tcase_add_test(tc, config_unknown_key);
	tcase_add_test(tc, config_db_hosts);
	tcase_add_test(tc, config_bad_ints);
	tcase_add_test(tc, config_graph_timeout);
	tcase_add_test(tc, config_bad_bools);
	tcase_add_test(tc, config_bad_lines);
	tcase_add_test(tc, config_load_file);
	tcase_add_test(tc, config_load_refuses);
	tcase_add_test(tc, config_small_error_buffer);
	tcase_add_test(tc, config_path_order);
	tcase_add_test(tc, config_free_twice);
	suite_add_tcase(s, tc);
	return s;
}
