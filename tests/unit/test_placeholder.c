/* placeholder.h: campaign placeholders, checked and filled. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "placeholder.h"
#include "tests.h"

START_TEST(placeholder_check)
{
	static const char *good[] = { "", "plain text", "{{contact.name}}",
	    "Hi {{ contact.name | there }}!", "{{contact.phone}}",
	    "{{contact.email|}}", "{{contact.custom_fields.city|Berlin}}",
	    "{{contact.name|a|b}} and {{contact.email}}", "}} alone", "{ {x}" };
	static const char *bad[] = { "{{contact.nam}}", "{{contact.name",
	    "{{}}", "{{contact.custom_fields.}}", "{{contact.custom_fields.a b}}",
	    "{{contact}}", "{{1}}", "ok {{contact.name}} {{contact.age}}",
	    "{{contact.name|{x}}", "{{ contact.names }}" };
	char err[200];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ph_check(good[i], err, sizeof(err)) == 0,
		    "%s: %s", good[i], err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(ph_check(bad[i], err, sizeof(err)) == -1, "%s",
		    bad[i]);
		ck_assert_msg(strlen(err) > 10, "%s", bad[i]);
	}
	ck_assert(ph_has("a{{b"));
	ck_assert(!ph_has("a{b}"));
}
END_TEST

START_TEST(placeholder_fill)
{
	struct json_object *custom = json_tokener_parse(
	    "{\"city\":\"Lyon\",\"n\":42,\"vip\":true,\"none\":null,"
	    "\"empty\":\"\",\"f\":1.5}");
	struct ph_contact c = { "Ana", "+4915112345678", NULL, custom };
	char missing[64], big[300];
	bool toolong;
	char *s;

	s = ph_fill("Hi {{contact.name|there}}, {{ contact.phone }}",
	    &c, 1000, missing, sizeof(missing), &toolong);
	ck_assert_str_eq(s, "Hi Ana, +4915112345678");
	free(s);
	s = ph_fill("{{contact.email|no mail}}/{{contact.custom_fields.city}}"
	    "/{{contact.custom_fields.n}}/{{contact.custom_fields.vip}}"
	    "/{{contact.custom_fields.f}}/{{contact.custom_fields.none|-}}"
	    "/{{contact.custom_fields.empty|e}}/{{contact.custom_fields.x|}}",
	    &c, 1000, missing, sizeof(missing), &toolong);
	ck_assert_str_eq(s, "no mail/Lyon/42/true/1.5/-/e/");
	free(s);
	/* No value, no fallback: NULL, and the placeholder named. */
	ck_assert_ptr_null(ph_fill("Dear {{contact.email}}", &c, 1000, missing, sizeof(missing), &toolong));
	ck_assert_str_eq(missing, "{{contact.email}}");
	c.name = "";
	ck_assert_ptr_null(ph_fill("{{contact.name}}", &c, 1000, missing, sizeof(missing), &toolong));
	/* A value is inserted as is, never parsed again. */
	c.name = "{{contact.phone}}";
	s = ph_fill("{{contact.name}}!", &c, 1000, missing, sizeof(missing), &toolong);
	ck_assert_str_eq(s, "{{contact.phone}}!");
	free(s);
	s = ph_fill("no placeholders", &c, 1000, missing, sizeof(missing), &toolong);
	ck_assert_str_eq(s, "no placeholders");
	free(s);
	/* A long value grows the result. */
	c.name = "A very long name that is longer than the text it goes in";
	s = ph_fill("{{contact.name}}", &c, 1000, missing, sizeof(missing), &toolong);
	ck_assert_str_eq(s, c.name);
	free(s);
	/* Past the bound: NULL, toolong. Growth by doubling keeps it. */
	c.name = "0123456789";
	s = ph_fill("{{contact.name}}{{contact.name}}", &c, 20, missing,
	    sizeof(missing), &toolong);
	ck_assert_str_eq(s, "01234567890123456789");
	free(s);
	ck_assert_ptr_null(ph_fill("{{contact.name}}{{contact.name}}x", &c, 20,
	    missing, sizeof(missing), &toolong));
	ck_assert(toolong);
	ck_assert_ptr_null(ph_fill("{{contact.email}}", &c, 20, missing,
	    sizeof(missing), &toolong));
	ck_assert(!toolong);
	/* The missing placeholder is cut on a character boundary. */
	ck_assert_ptr_null(ph_fill("{{contact.custom_fields.\xc3\xa9\xc3\xa9"
	    "\xc3\xa9}}", &c, 1000, missing, 27, &toolong));
	ck_assert_str_eq(missing, "{{contact.custom_fields.\xc3\xa9");
	json_object_put(custom);
	/* A placeholder longer than PH_LEN_MAX is refused. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{{contact.name", 14);
	memcpy(big + sizeof(big) - 3, "}}", 3);
	ck_assert_int_eq(ph_check(big, missing, sizeof(missing)), -1);
}
END_TEST

Suite *
placeholder_suite(void)
{
	Suite *s = suite_create("placeholder");
	TCase *tc = tcase_new("placeholder");

	tcase_add_test(tc, placeholder_check);
	tcase_add_test(tc, placeholder_fill);
	suite_add_tcase(s, tc);
	return s;
}
