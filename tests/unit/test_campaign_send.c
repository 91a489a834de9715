/* Campaign messages in the spooler's send queue: the exact Graph payload
 * of a campaign's template with a recipient's values (payload_build_for),
 * the campaign-stopping codes of the policy table, and the journal's
 * campaign records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "journal.h"
#include "payload.h"
#include "placeholder.h"
#include "policy.h"
#include "tests.h"

#define CONTENT \
	"{\"name\":\"spring_sale\",\"language\":{\"code\":\"en\"}," \
	"\"components\":[{\"type\":\"header\",\"parameters\":[{\"type\":" \
	"\"text\",\"text\":\"Hi {{contact.name|there}}\"}]},{\"type\":" \
	"\"body\",\"parameters\":[{\"type\":\"text\",\"text\":" \
	"\"{{contact.custom_fields.city|your town}} / {{ contact.phone }}\"}," \
	"{\"type\":\"currency\",\"currency\":{\"fallback_value\":" \
	"\"{{contact.name}}\",\"code\":\"EUR\",\"amount_1000\":5}}," \
	"{\"type\":\"text\",\"text\":\"plain\",\"parameter_name\":\"p\"}]}]}"

static char *
build(const char *content, const struct ph_contact *who, enum payload_rc *rc,
    char *err, size_t errsz)
{
	return payload_build_for(7, "+4915112345678", "template", content,
	    strlen(content), who, rc, err, errsz);
}

START_TEST(payload_fills_text_parameters)
{
	struct json_object *custom = json_tokener_parse("{\"city\":\"Köln\","
	    "\"n\":3}");
	struct ph_contact who = { "Ana", "+4915112345678", NULL, custom };
	enum payload_rc rc;
	char err[256], *out;

	out = build(CONTENT, &who, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_str_eq(out, "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"+4915112345678\","
	    "\"type\":\"template\",\"template\":{\"name\":\"spring_sale\","
	    "\"language\":{\"code\":\"en\"},\"components\":[{\"type\":"
	    "\"header\",\"parameters\":[{\"type\":\"text\",\"text\":"
	    "\"Hi Ana\"}]},{\"type\":\"body\",\"parameters\":[{\"type\":"
	    "\"text\",\"text\":\"Köln / +4915112345678\"},{\"type\":"
	    "\"currency\",\"currency\":{\"fallback_value\":"
	    "\"{{contact.name}}\",\"code\":\"EUR\",\"amount_1000\":5}},"
	    "{\"type\":\"text\",\"text\":\"plain\",\"parameter_name\":"
	    "\"p\"}]}]},\"biz_opaque_callback_data\":\"wz:7\"}");
	free(out);

	/* Fallbacks: no name, no custom fields. */
	who.name = "";
	who.custom = NULL;
	out = build(CONTENT, &who, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_ptr_nonnull(strstr(out, "\"text\":\"Hi there\""));
	ck_assert_ptr_nonnull(strstr(out,
	    "\"text\":\"your town / +4915112345678\""));
	free(out);

	/* Without a contact (an ordinary send): as stored. */
	out = build(CONTENT, NULL, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_ptr_nonnull(strstr(out,
	    "\"text\":\"Hi {{contact.name|there}}\""));
	free(out);
	json_object_put(custom);
}
END_TEST

#define TEXT	"{\"body\":\"{{contact.email}}\"}"

START_TEST(payload_missing_value)
{
	static const char content[] = "{\"name\":\"t\",\"language\":\"en\","
	    "\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":"
	    "\"text\",\"text\":\"Hi {{contact.name|you}}\"},{\"type\":\"text\","
	    "\"text\":\"Mail: {{contact.email}}\"}]}]}";
	struct ph_contact who = { NULL, "+1555", NULL, NULL };
	enum payload_rc rc;
	char err[256], *out;

	out = build(content, &who, &rc, err, sizeof(err));
	ck_assert_ptr_null(out);
	ck_assert_int_eq(rc, PAYLOAD_MISSING);
	ck_assert_str_eq(err, "{{contact.email}}");

	who.email = "a@b.c";
	out = build(content, &who, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_str_eq(out, "{\"messaging_product\":\"whatsapp\","
	    "\"recipient_type\":\"individual\",\"to\":\"+4915112345678\","
	    "\"type\":\"template\",\"template\":{\"name\":\"t\",\"language\":"
	    "{\"code\":\"en\"},\"components\":[{\"type\":\"body\","
	    "\"parameters\":[{\"type\":\"text\",\"text\":\"Hi you\"},"
	    "{\"type\":\"text\",\"text\":\"Mail: a@b.c\"}]}]},"
	    "\"biz_opaque_callback_data\":\"wz:7\"}");
	free(out);

	/* Odd shapes are passed as they are, not filled, not refused. */
	out = build("{\"name\":\"t\",\"language\":\"en\",\"components\":"
	    "[1,{\"parameters\":{}},{\"parameters\":[7,{\"type\":\"text\","
	    "\"text\":5}]}]}", &who, &rc, err, sizeof(err));
	ck_assert_msg(rc == PAYLOAD_OK, "%s", err);
	free(out);
	/* A content that cannot be sent stays PAYLOAD_INVALID. */
	out = build("{\"language\":\"en\"}", &who, &rc, err, sizeof(err));
	ck_assert_ptr_null(out);
	ck_assert_int_eq(rc, PAYLOAD_INVALID);
	/* Only templates are filled. */
	out = payload_build_for(7, "+1555", "text", TEXT, strlen(TEXT), &who,
	    &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_ptr_nonnull(strstr(out, "\"body\":\"{{contact.email}}\""));
	free(out);
}
END_TEST

START_TEST(policy_campaign_codes)
{
	static const int stop[] = { 132015, 132016, 131031, 368, 131048,
	    131063 };
	static const int go_on[] = { 131049, 131026, 131050, 130429, 131056,
	    190, 131042, 132001 };
	const struct pol_rule *r;
	size_t i;

	for (i = 0; i < sizeof(stop) / sizeof(stop[0]); i++) {
		ck_assert_ptr_nonnull(r = policy_rule(stop[i]));
		ck_assert_msg(r->stop_campaign, "%d", stop[i]);
	}
	/* The account-level pauses stay. */
	ck_assert_int_eq(policy_rule(368)->action, POL_PAUSE_ACCOUNT);
	ck_assert_int_eq(policy_rule(131031)->action, POL_PAUSE_ACCOUNT);
	ck_assert_int_eq(policy_rule(132015)->action, POL_PERMANENT);
	for (i = 0; i < sizeof(go_on) / sizeof(go_on[0]); i++) {
		ck_assert_ptr_nonnull(r = policy_rule(go_on[i]));
		ck_assert_msg(!r->stop_campaign, "%d", go_on[i]);
	}
	/* 131049: the recipient fails, never retried. */
	ck_assert_int_eq(policy_rule(131049)->action, POL_PERMANENT);
}
END_TEST

START_TEST(policy_outcome_carries_the_stop)
{
	static const char body[] = "{\"error\":{\"message\":\"(#132015) "
	    "Template is paused\",\"type\":\"OAuthException\",\"code\":132015,"
	    "\"error_data\":{\"details\":\"d\"}}}";
	struct pol_input in = { .curl_ok = true, .maybe_sent = true,
	    .http_status = 400, .body = body, .len = sizeof(body) - 1 };
	struct pol_outcome o;

	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_PERMANENT);
	ck_assert(o.stop_campaign);
	ck_assert_int_eq(o.code, 132015);
	in.body = "{\"error\":{\"message\":\"(#131049) x\",\"code\":131049}}";
	in.len = strlen(in.body);
	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_PERMANENT);
	ck_assert(!o.stop_campaign);
}
END_TEST

START_TEST(journal_campaign_records)
{
	struct rec r, *d;
	char *line;

	memset(&r, 0, sizeof(r));
	r.kind = REC_FAILED;
	r.id = 12;
	r.has_code = true;
	r.code = 132015;
	r.campaign = 9007199254740993ULL;
	line = journal_encode(&r);
	ck_assert_ptr_nonnull(strstr(line, "\"campaign\":9007199254740993"));
	d = journal_decode(line, strlen(line) - 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->kind, REC_FAILED);
	ck_assert(d->campaign == 9007199254740993ULL);
	rec_free(d);
	free(line);

	memset(&r, 0, sizeof(r));
	r.kind = REC_PARK;
	r.id = 13;
	line = journal_encode(&r);
	ck_assert_ptr_null(strstr(line, "campaign"));
	d = journal_decode(line, strlen(line) - 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->kind, REC_PARK);
	ck_assert(d->campaign == 0);
	rec_free(d);
	free(line);
	ck_assert_ptr_null(journal_decode("{\"k\":\"failed\",\"id\":1,"
	    "\"campaign\":0}", 34));
}
END_TEST

/* A text parameter that filled would pass PAYLOAD_TEXT_MAX bytes: no
 * payload (the recipient fails with 132005), whatever the value's size. */
START_TEST(payload_text_bound)
{
	const char *content = "{\"name\":\"t\",\"language\":\"en\","
	    "\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":"
	    "\"text\",\"text\":\"{{contact.name}}{{contact.name}}\"}]}]}";
	static char name[PAYLOAD_TEXT_MAX / 2 + 2];
	struct ph_contact who = { name, "+1555", NULL, NULL };
	enum payload_rc rc;
	char err[256], *out;

	memset(name, 'n', sizeof(name) - 1);
	out = build(content, &who, &rc, err, sizeof(err));
	ck_assert_ptr_null(out);
	ck_assert_int_eq(rc, PAYLOAD_TOO_LONG);
	name[sizeof(name) - 2] = '\0';		/* exactly the bound */
	out = build(content, &who, &rc, err, sizeof(err));
	ck_assert_int_eq(rc, PAYLOAD_OK);
	ck_assert_ptr_nonnull(out);
	free(out);
}
END_TEST

Suite *
campaign_send_suite(void)
{
	Suite *s = suite_create("campaign_send");
	TCase *tc = tcase_new("payload");

	tcase_add_test(tc, payload_text_bound);
	tcase_add_test(tc, payload_fills_text_parameters);
	tcase_add_test(tc, payload_missing_value);
	suite_add_tcase(s, tc);
	tc = tcase_new("policy");
	tcase_add_test(tc, policy_campaign_codes);
	tcase_add_test(tc, policy_outcome_carries_the_stop);
	suite_add_tcase(s, tc);
	tc = tcase_new("journal");
	tcase_add_test(tc, journal_campaign_records);
	suite_add_tcase(s, tc);
	return s;
}
