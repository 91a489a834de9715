/* Meta's webhook payloads: every entry, change and status is visited. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "metahook.h"
#include "pool.h"
#include "tests.h"

START_TEST(metahook_statuses_in_batches)
{
	const char *text =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":["
	    "{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"111\"},\"statuses\":["
	    "{\"id\":\"wamid.A\",\"status\":\"sent\","
	    "\"biz_opaque_callback_data\":\"wz:42\"},"
	    "{\"id\":\"wamid.B\",\"status\":\"failed\",\"errors\":[{\"code\":"
	    "131026,\"title\":\"Undeliverable\",\"error_data\":{\"details\":"
	    "\"not on WhatsApp\"}}]},"
	    "{\"status\":\"read\"},{\"id\":\"wamid.\u00e9\",\"status\":"
	    "\"read\"},{\"id\":\"wamid X\",\"status\":\"read\"},"
	    "{\"id\":\"\",\"status\":\"read\"}]}}]},"
	    "{\"id\":\"2\",\"changes\":[{\"value\":{\"metadata\":"
	    "{\"phone_number_id\":\"222\"},\"statuses\":[{\"id\":\"wamid.C\","
	    "\"status\":\"read\",\"biz_opaque_callback_data\":\"order-9\"}]}},"
	    "{\"value\":7}]}]}";
	struct json_object *o = json_tokener_parse(text);
	struct mh_batch b;
	struct pool p;

	pool_init(&p);
	ck_assert_int_eq(metahook_parse(&p, o, &b), 0);
	ck_assert_str_eq(b.statuses[0].phone_number_id, "111");
	/* Those without an id or with one no wamid could be are skipped. */
	ck_assert_uint_eq(b.nstatuses, 3);
	ck_assert_str_eq(b.statuses[0].wamid, "wamid.A");
	ck_assert_uint_eq(b.statuses[0].callback_id, 42);
	ck_assert_int_eq(b.statuses[1].err_code, 131026);
	ck_assert_str_eq(b.statuses[1].err_title, "Undeliverable");
	ck_assert_str_eq(b.statuses[1].err_message, "not on WhatsApp");
	ck_assert_str_eq(b.statuses[2].phone_number_id, "222");
	ck_assert_uint_eq(b.statuses[2].callback_id, 0);
	json_object_put(o);
	o = json_tokener_parse("{\"object\":\"page\",\"entry\":[]}");
	ck_assert_int_eq(metahook_parse(&p, o, &b), -1);
	json_object_put(o);
	pool_free(&p);
}
END_TEST

START_TEST(metahook_messages)
{
	const char *text =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":"
	    "[{\"value\":{\"metadata\":{\"phone_number_id\":\"111\"},"
	    "\"contacts\":[{\"profile\":{\"name\":\"Ann\"},\"wa_id\":\"49151\"}],"
	    "\"messages\":[{\"from\":\"49151\",\"id\":\"wamid.M\","
	    "\"timestamp\":\"1749416383\",\"type\":\"text\",\"text\":{\"body\":"
	    "\"STOP\"},\"context\":{\"id\":\"wamid.P\"}},{\"id\":\"x\"},"
	    "{\"from_user_id\":\"US.1349\",\"id\":\"wamid.U\",\"type\":"
	    "\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}";
	struct json_object *o = json_tokener_parse(text), *c;
	struct mh_batch b;
	struct pool p;

	pool_init(&p);
	ck_assert_int_eq(metahook_parse(&p, o, &b), 0);
	ck_assert_uint_eq(b.nmessages, 1);
	ck_assert_uint_eq(b.nskipped, 2);	/* no from; only from_user_id */
	ck_assert_str_eq(b.messages[0].profile_name, "Ann");
	ck_assert_str_eq(b.messages[0].text, "STOP");
	ck_assert_int_eq(b.messages[0].timestamp, 1749416383);
	c = metahook_content(&b.messages[0]);
	ck_assert_str_eq(json_object_to_json_string_ext(c,
	    JSON_C_TO_STRING_PLAIN), "{\"body\":\"STOP\",\"context\":"
	    "{\"id\":\"wamid.P\"}}");
	json_object_put(c);
	json_object_put(o);
	pool_free(&p);
}
END_TEST

/* Found by tests/fuzz/fuzz_metahook_content: a message whose type names
 * its own context (or referral, or errors) made metahook_content add that
 * object to itself (json-c refused; the reference leaked), and every
 * content was built inside the payload's own tree. */
START_TEST(metahook_content_is_a_copy)
{
	static const char *const types[] = { "context", "referral", "errors" };
	struct json_object *o, *c;
	struct mh_batch b;
	struct pool p;
	char text[512], *before;
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(text, sizeof(text), "{\"object\":"
		    "\"whatsapp_business_account\",\"entry\":[{\"changes\":"
		    "[{\"value\":{\"messages\":[{\"from\":\"49151\","
		    "\"id\":\"wamid.M\",\"type\":\"%s\",\"%s\":"
		    "{\"id\":\"wamid.P\"},\"context\":{\"id\":\"wamid.Q\"}}]}}]}]}",
		    types[i], types[i]);
		o = json_tokener_parse(text);
		before = strdup(json_object_to_json_string(o));
		pool_init(&p);
		ck_assert_int_eq(metahook_parse(&p, o, &b), 0);
		ck_assert_uint_eq(b.nmessages, 1);
		c = metahook_content(&b.messages[0]);
		ck_assert_ptr_nonnull(json_object_to_json_string(c));
		ck_assert_str_eq(json_object_to_json_string(o), before);
		json_object_put(c);
		json_object_put(o);
		pool_free(&p);
		free(before);
	}
}
END_TEST

START_TEST(metahook_signature_header)
{
	char h[80];

	memset(h, 'a', sizeof(h));
	memcpy(h, "sha256=", 7);
	h[71] = '\0';
	ck_assert_ptr_eq(metahook_signature_hex(h), h + 7);
	memcpy(h, "SHA256=", 7);
	ck_assert_ptr_nonnull(metahook_signature_hex(h));
	h[70] = '\0';
	ck_assert_ptr_null(metahook_signature_hex(h));
	ck_assert_ptr_null(metahook_signature_hex(NULL));
	ck_assert_ptr_null(metahook_signature_hex("sha1=abc"));
}
END_TEST

/* Statuses Wazera cannot store are left out (an unknown one would break
 * the status column, and with it the whole payload's transaction, for
 * every redelivery); an error's long title and message are cut to fit. */
START_TEST(metahook_status_limits)
{
	char text[4096], title[400];
	struct json_object *o;
	struct mh_batch b;
	struct pool p;

	memset(title, 'T', 300);
	title[300] = '\0';
	snprintf(text, sizeof(text),
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{"
	    "\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":"
	    "\"1\"},\"statuses\":[{\"id\":\"wamid.A\",\"status\":"
	    "\"deleted\"},{\"id\":\"wamid.B\",\"status\":\"warning\"},"
	    "{\"id\":\"wamid.C\",\"status\":\"failed\",\"errors\":[{"
	    "\"code\":1,\"title\":\"%s\"}]}]}}]}]}", title);
	o = json_tokener_parse(text);
	ck_assert_ptr_nonnull(o);
	pool_init(&p);
	ck_assert_int_eq(metahook_parse(&p, o, &b), 0);
	ck_assert_uint_eq(b.nstatuses, 1);
	ck_assert_uint_eq(b.nskipped, 2);
	ck_assert_str_eq(b.statuses[0].wamid, "wamid.C");
	ck_assert_uint_eq(strlen(b.statuses[0].err_title), MH_TITLE_MAX);
	ck_assert_ptr_null(b.statuses[0].err_message);
	json_object_put(o);
	pool_free(&p);
}
END_TEST

/* The phone number ids come from the raw bytes, every change's, each
 * once; beyond MH_PNIDS_MAX they are counted, not kept. */
START_TEST(metahook_scan_phone_number_ids)
{
	const char *text =
	    "{\"object\":\"whatsapp_business_account\",\"entry\":["
	    "{\"changes\":[{\"value\":{\"metadata\":{\"phone_number_id\":"
	    "\"111\"},\"statuses\":[]}},{\"value\":{\"metadata\":{"
	    "\"phone_number_id\":\"222\"}}}]},{\"changes\":[{\"value\":{"
	    "\"metadata\":{\"phone_number_id\":\"111\"},\"messages\":[{"
	    "\"phone_number_id\":\"333\"}]}}]}]}";
	struct mh_pnids pn;
	char *b, *p;
	int i;

	ck_assert_int_eq(metahook_scan(text, strlen(text), &pn), JSONBODY_OK);
	ck_assert_uint_eq(pn.n, 2);
	ck_assert_uint_eq(pn.dropped, 0);
	ck_assert_str_eq(pn.id[0], "111");
	ck_assert_str_eq(pn.id[1], "222");
	ck_assert_int_eq(metahook_scan("{\"entry\":[{},{}", 15, &pn),
	    JSONBODY_SYNTAX);
	ck_assert_int_eq(metahook_scan("", 0, &pn), JSONBODY_OK);
	ck_assert_uint_eq(pn.n, 0);

	b = p = malloc(100 * 80);
	ck_assert_ptr_nonnull(b);
	p += sprintf(p, "{\"entry\":[{\"changes\":[");
	for (i = 0; i < MH_PNIDS_MAX + 6; i++)
		p += sprintf(p, "%s{\"value\":{\"metadata\":{\"phone_number_id\":"
		    "\"%d\"}}}", i ? "," : "", 1000 + i);
	p += sprintf(p, "]}]}");
	ck_assert_int_eq(metahook_scan(b, (size_t)(p - b), &pn), JSONBODY_OK);
	ck_assert_uint_eq(pn.n, MH_PNIDS_MAX);
	ck_assert_uint_eq(pn.dropped, 6);
	ck_assert_str_eq(pn.id[MH_PNIDS_MAX - 1], "1063");
	free(b);
}
END_TEST

/* A payload carries at most MH_ITEMS_MAX messages and statuses each, and
 * a sender's profile is looked for among the first MH_PROFILES_MAX
 * contacts only: a signed payload cannot hold a worker for minutes. */
START_TEST(metahook_items_bounded)
{
	struct json_object *root, *value, *sts, *msgs, *cs, *o;
	struct mh_batch b;
	struct pool p;
	char id[32];
	int i;

	root = json_object_new_object();
	json_object_object_add(root, "object",
	    json_object_new_string("whatsapp_business_account"));
	value = json_object_new_object();
	sts = json_object_new_array();
	msgs = json_object_new_array();
	cs = json_object_new_array();
	for (i = 0; i < MH_ITEMS_MAX + 7; i++) {
		snprintf(id, sizeof(id), "wamid.S%d", i);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "status",
		    json_object_new_string("read"));
		json_object_array_add(sts, o);
		snprintf(id, sizeof(id), "wamid.M%d", i);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "from",
		    json_object_new_string("4915100000001"));
		json_object_object_add(o, "type", json_object_new_string("text"));
		json_object_array_add(msgs, o);
	}
	/* The sender's profile only after the first MH_PROFILES_MAX. */
	for (i = 0; i <= MH_PROFILES_MAX; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "wa_id", json_object_new_string(
		    i < MH_PROFILES_MAX ? "1" : "4915100000001"));
		json_object_object_add(o, "profile", json_object_new_object());
		json_object_object_add(json_object_object_get(o, "profile"),
		    "name", json_object_new_string("Late"));
		json_object_array_add(cs, o);
	}
	json_object_object_add(value, "statuses", sts);
	json_object_object_add(value, "messages", msgs);
	json_object_object_add(value, "contacts", cs);
	o = json_object_new_object();
	json_object_object_add(o, "value", value);
	msgs = json_object_new_array();
	json_object_array_add(msgs, o);
	o = json_object_new_object();
	json_object_object_add(o, "changes", msgs);
	msgs = json_object_new_array();
	json_object_array_add(msgs, o);
	json_object_object_add(root, "entry", msgs);

	pool_init(&p);
	ck_assert_int_eq(metahook_parse(&p, root, &b), 0);
	ck_assert_uint_eq(b.nstatuses, MH_ITEMS_MAX);
	ck_assert_uint_eq(b.nmessages, MH_ITEMS_MAX);
	ck_assert_uint_eq(b.nover, 14);
	ck_assert_str_eq(b.statuses[MH_ITEMS_MAX - 1].wamid, "wamid.S999");
	ck_assert_ptr_null(b.messages[0].profile_name);
	pool_free(&p);
	json_object_put(root);
}
END_TEST

Suite *
metahook_suite(void)
{
	Suite *s = suite_create("metahook");
	TCase *tc = tcase_new("parse");

	tcase_add_test(tc, metahook_statuses_in_batches);
	tcase_add_test(tc, metahook_messages);
	tcase_add_test(tc, metahook_content_is_a_copy);
	tcase_add_test(tc, metahook_signature_header);
	tcase_add_test(tc, metahook_status_limits);
	tcase_add_test(tc, metahook_scan_phone_number_ids);
	tcase_add_test(tc, metahook_items_bounded);
	suite_add_tcase(s, tc);
	return s;
}
