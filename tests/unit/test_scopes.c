/* scopes.h: scope names to a bitmask and back. */
#include <string.h>

#include <json-c/json.h>

#include "scopes.h"
#include "tests.h"

#define ALL_SCOPES	((1u << SCOPE__MAX) - 1)

START_TEST(scope_names_table)
{
	static const char *const want[] = { "messages:send", "messages:read",
	    "contacts:read", "contacts:write", "webhooks:manage", "account:read",
	    "conversations:read", "conversations:write", "campaigns:read",
	    "campaigns:write" };
	int i, j;

	/* The ten scopes SPEC section 2 lists, each once. */
	ck_assert_int_eq(SCOPE__MAX, 10);
	for (i = 0; i < SCOPE__MAX; i++) {
		ck_assert_ptr_nonnull(scope_names[i]);
		ck_assert_str_eq(scope_names[i], want[i]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(scope_names[i], scope_names[j]);
	}
}
END_TEST

static uint32_t
mask_of(const char *s)
{
	uint32_t m = 0xdeadbeef;
	const char *bad = NULL;
	int badlen = -1;

	ck_assert_msg(scopes_parse(s, &m, &bad, &badlen) == 0,
	    "\"%s\" rejected", s);
	return m;
}

START_TEST(scopes_parse_lists)
{
	ck_assert_uint_eq(mask_of(""), 0);
	ck_assert_uint_eq(mask_of(" , ,"), 0);
	ck_assert_uint_eq(mask_of("messages:send"), 1u << SCOPE_MESSAGES_SEND);
	ck_assert_uint_eq(mask_of("contacts:read,contacts:write"),
	    (1u << SCOPE_CONTACTS_READ) | (1u << SCOPE_CONTACTS_WRITE));
	ck_assert_uint_eq(mask_of("contacts:read contacts:write"),
	    (1u << SCOPE_CONTACTS_READ) | (1u << SCOPE_CONTACTS_WRITE));
	ck_assert_uint_eq(mask_of(" ,account:read, ,  webhooks:manage,, "),
	    (1u << SCOPE_ACCOUNT_READ) | (1u << SCOPE_WEBHOOKS_MANAGE));
	ck_assert_uint_eq(mask_of("campaigns:write,campaigns:write"),
	    1u << SCOPE_CAMPAIGNS_WRITE);
	ck_assert_uint_eq(mask_of("messages:send messages:read contacts:read "
	    "contacts:write webhooks:manage account:read conversations:read "
	    "conversations:write campaigns:read campaigns:write"), ALL_SCOPES);
}
END_TEST

static void
parse_bad(const char *s, const char *want_bad)
{
	uint32_t m;
	const char *bad = NULL;
	int badlen = -1;

	ck_assert_int_eq(scopes_parse(s, &m, &bad, &badlen), -1);
	ck_assert_ptr_nonnull(bad);
	ck_assert_int_eq(badlen, (int)strlen(want_bad));
	ck_assert_mem_eq(bad, want_bad, (size_t)badlen);
	/* bad points into s. */
	ck_assert(bad >= s && bad + badlen <= s + strlen(s));
}

START_TEST(scopes_parse_rejects)
{
	parse_bad("contacts:delete", "contacts:delete");
	parse_bad("contacts:read,bogus,messages:send", "bogus");
	parse_bad("contacts", "contacts");
	parse_bad("contacts:readx", "contacts:readx");
	parse_bad("Contacts:Read", "Contacts:Read");
	parse_bad("messages:send;messages:read", "messages:send;messages:read");
	parse_bad("account:read\tcontacts:read", "account:read\tcontacts:read");
	parse_bad("*", "*");
}
END_TEST

START_TEST(scopes_json_round_trip)
{
	struct json_object *a;
	uint32_t m;

	a = scopes_json(0);
	ck_assert(json_object_is_type(a, json_type_array));
	ck_assert_uint_eq(json_object_array_length(a), 0);
	json_object_put(a);

	a = scopes_json((1u << SCOPE_CONTACTS_WRITE) | (1u << SCOPE_MESSAGES_SEND));
	ck_assert_str_eq(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
	    "[\"messages:send\",\"contacts:write\"]");
	json_object_put(a);

	for (m = 1; m <= ALL_SCOPES; m = m * 3 + 1) {
		char buf[512] = "";
		size_t i;
		const char *bad;
		int badlen;
		uint32_t back;

		a = scopes_json(m & ALL_SCOPES);
		for (i = 0; i < json_object_array_length(a); i++) {
			strcat(buf, json_object_get_string(
			    json_object_array_get_idx(a, i)));
			strcat(buf, " ");
		}
		json_object_put(a);
		ck_assert_int_eq(scopes_parse(buf, &back, &bad, &badlen), 0);
		ck_assert_uint_eq(back, m & ALL_SCOPES);
	}
	/* Bits past the last scope are not names. */
	a = scopes_json(0xffffffffu);
	ck_assert_uint_eq(json_object_array_length(a), SCOPE__MAX);
	json_object_put(a);
}
END_TEST

Suite *
scopes_suite(void)
{
	Suite *s = suite_create("scopes");
	TCase *tc = tcase_new("scopes");

	tcase_add_test(tc, scope_names_table);
	tcase_add_test(tc, scopes_parse_lists);
	tcase_add_test(tc, scopes_parse_rejects);
	tcase_add_test(tc, scopes_json_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
