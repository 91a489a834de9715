/* The spooler's pure parts at their edges: every code of Meta's error
 * table (shared/cloud-api.md section 2) classified to the action the table
 * asks for, answers that are no Graph JSON, how titles and messages are
 * read and cut; and the Graph request body of each message type with the
 * content errors that keep a message from being sent. */
#include <sys/resource.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "journal.h"
#include "payload.h"
#include "policy.h"
#include "tests.h"
#include "text.h"
#include "xmalloc.h"

static void
classify_body(long status, const char *body, size_t len,
    struct pol_outcome *o)
{
	struct pol_input in = { .curl_ok = true, .maybe_sent = true,
	    .http_status = status, .body = body, .len = len };

	policy_classify(&in, o);
}

static void
classify(long status, const char *body, struct pol_outcome *o)
{
	classify_body(status, body, body != NULL ? strlen(body) : 0, o);
}

static void
classify_code(long status, int code, struct pol_outcome *o)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"error\":{\"message\":\"(#%d) T\","
	    "\"type\":\"OAuthException\",\"code\":%d}}", code, code);
	classify(status, body, o);
}

/* shared/cloud-api.md, "HTTP status per code": the action per code. */
static const struct {
	int code;
	enum pol_action action;
} spec_table[] = {
	{ 0, POL_PAUSE_ACCOUNT }, { 190, POL_PAUSE_ACCOUNT },
	{ 368, POL_PAUSE_ACCOUNT }, { 131031, POL_PAUSE_ACCOUNT },
	{ 131042, POL_PAUSE_ACCOUNT }, { 131048, POL_PAUSE_ACCOUNT },
	{ 131064, POL_PAUSE_ACCOUNT },
	{ 1, POL_RETRY }, { 2, POL_RETRY }, { 4, POL_RETRY },
	{ 80007, POL_RETRY }, { 130429, POL_RETRY }, { 131000, POL_RETRY },
	{ 131016, POL_RETRY }, { 131057, POL_RETRY }, { 132069, POL_RETRY },
	{ 133004, POL_RETRY },
	{ 131056, POL_RETRY_RECIPIENT },
	{ 3, POL_PERMANENT }, { 10, POL_PERMANENT }, { 33, POL_PERMANENT },
	{ 100, POL_PERMANENT }, { 200, POL_PERMANENT }, { 250, POL_PERMANENT },
	{ 299, POL_PERMANENT }, { 130403, POL_PERMANENT },
	{ 130472, POL_PERMANENT }, { 130497, POL_PERMANENT },
	{ 131005, POL_PERMANENT }, { 131008, POL_PERMANENT },
	{ 131009, POL_PERMANENT }, { 131021, POL_PERMANENT },
	{ 131026, POL_PERMANENT }, { 131037, POL_PERMANENT },
	{ 131045, POL_PERMANENT }, { 131047, POL_PERMANENT },
	{ 131049, POL_PERMANENT }, { 131050, POL_PERMANENT },
	{ 131051, POL_PERMANENT }, { 131053, POL_PERMANENT },
	{ 131063, POL_PERMANENT }, { 132000, POL_PERMANENT },
	{ 132001, POL_PERMANENT }, { 132005, POL_PERMANENT },
	{ 132007, POL_PERMANENT }, { 132012, POL_PERMANENT },
	{ 132015, POL_PERMANENT }, { 132016, POL_PERMANENT },
	{ 132068, POL_PERMANENT }, { 133010, POL_PERMANENT },
	{ 135000, POL_PERMANENT },
};

START_TEST(policy_every_code_of_the_table)
{
	static const long statuses[] = { 400, 401, 403, 429, 500, 503, 200 };
	struct pol_outcome o;
	const struct pol_rule *r;
	size_t i, s;

	for (i = 0; i < sizeof(spec_table) / sizeof(spec_table[0]); i++) {
		r = policy_rule(spec_table[i].code);
		ck_assert_msg(r != NULL, "code %d", spec_table[i].code);
		ck_assert_msg(r->action == spec_table[i].action, "code %d",
		    spec_table[i].code);
		ck_assert_ptr_nonnull(r->why);
		/* The code decides, whatever the HTTP status. */
		for (s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
			classify_code(statuses[s], spec_table[i].code, &o);
			ck_assert_msg(o.action == spec_table[i].action,
			    "code %d, HTTP %ld: action %d", spec_table[i].code,
			    statuses[s], (int)o.action);
			ck_assert(o.has_code);
			ck_assert_int_eq(o.code, spec_table[i].code);
			ck_assert_int_eq(o.http_status, statuses[s]);
			ck_assert_str_eq(o.title, "T");
			ck_assert_int_eq(o.base_s, r->base_s);
			ck_assert_int_eq(o.max_attempts, r->max_attempts);
		}
		/* Retries and pauses wait; permanent failures need not. */
		if (r->action == POL_RETRY || r->action == POL_PAUSE_ACCOUNT ||
		    r->action == POL_RETRY_RECIPIENT)
			ck_assert_int_gt(r->base_s, 0);
		if (r->action == POL_RETRY || r->action == POL_RETRY_RECIPIENT)
			ck_assert_int_gt(r->max_attempts, 0);
	}
	/* Pauses: minutes for a token, an hour for the rest. */
	ck_assert_int_eq(policy_rule(190)->base_s, 300);
	ck_assert_int_eq(policy_rule(131048)->base_s, 3600);
	/* 131057: about a minute; 132069: an hour. */
	ck_assert_int_ge(policy_rule(131057)->base_s, 60);
	ck_assert_int_ge(policy_rule(132069)->base_s, 3600);
}
END_TEST

START_TEST(policy_unknown_codes_by_status)
{
	static const int unknown[] = { 300, 131052, 133000, 133016, 999999,
	    -1 };
	struct pol_outcome o;
	size_t i;

	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ck_assert_ptr_null(policy_rule(unknown[i]));
		classify_code(400, unknown[i], &o);
		ck_assert_int_eq(o.action, POL_PERMANENT);
		ck_assert_int_eq(o.code, unknown[i]);
		classify_code(429, unknown[i], &o);
		ck_assert_int_eq(o.action, POL_RETRY);
		ck_assert_int_eq(o.base_s, 1);
		ck_assert_int_eq(o.max_attempts, 12);
		classify_code(503, unknown[i], &o);
		ck_assert_int_eq(o.action, POL_RETRY);
		classify_code(404, unknown[i], &o);
		ck_assert_int_eq(o.action, POL_PERMANENT);
	}
}
END_TEST

START_TEST(policy_bodies_that_are_no_graph_error)
{
	static const char *bodies[] = {
		"<html><body>502 Bad Gateway</body></html>",
		"{\"error\":\"quota\"}",			/* not an object */
		"{\"error\":{\"code\":\"190\",\"message\":\"x\"}}",	/* string */
		"{\"error\":{\"code\":1.5}}",			/* not an integer */
		"{\"error\":{\"message\":\"no code\"}}",
		"[{\"error\":{\"code\":190}}]",			/* an array */
		"{\"error\":{\"code\":190}} trailing",
		"{\"error\":{\"code\":190,}}",			/* not strict JSON */
		"",
	};
	struct pol_outcome o;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		classify(502, bodies[i], &o);
		ck_assert_msg(o.action == POL_RETRY, "%s", bodies[i]);
		ck_assert(!o.has_code);
		ck_assert_str_eq(o.title, "HTTP 502 from the Graph API");
		ck_assert_int_eq(o.max_attempts, 12);
		/* 4xx without a Graph error: a wrong base URL or a proxy;
		 * retried all the same, it is not Meta's verdict. */
		classify(404, bodies[i], &o);
		ck_assert_int_eq(o.action, POL_RETRY);
		ck_assert_str_eq(o.title, "HTTP 404 from the Graph API");
	}
	/* The excerpt: printable ASCII, control characters and bytes of
	 * any encoding replaced, at most 200 characters. */
	classify(503, "line1\nline2\r\t\x01\xc3\xa9", &o);
	ck_assert_str_eq(o.message, "line1 line2  ???");
	{
		char big[1000];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		classify(500, big, &o);
		ck_assert_uint_eq(strlen(o.message), 200);
	}
	/* A NULL body. */
	classify_body(500, NULL, 0, &o);
	ck_assert_int_eq(o.action, POL_RETRY);
	ck_assert_str_eq(o.message, "");
	/* Invalid UTF-8 inside the JSON: not read as Graph JSON. */
	classify(400, "{\"error\":{\"code\":131026,\"message\":\"\xff\"}}", &o);
	ck_assert(!o.has_code);
	ck_assert_int_eq(o.action, POL_RETRY);
}
END_TEST

START_TEST(policy_success_answers)
{
	struct pol_outcome o;
	char body[512], id[300];

	/* Accepted, the answer unreadable or without an id: sent (sending
	 * again would duplicate), no wamid. */
	classify(200, "not json", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	classify(201, "{\"messages\":[]}", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	classify(200, "{\"messages\":[{\"id\":7}]}", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	classify(200, "{\"messages\":{\"id\":\"wamid.X\"}}", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	/* A wamid that cannot be stored is dropped, the send still counts. */
	memset(id, 'w', 256);
	id[256] = '\0';
	snprintf(body, sizeof(body), "{\"messages\":[{\"id\":\"%s\"}]}", id);
	classify(200, body, &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	id[255] = '\0';
	snprintf(body, sizeof(body), "{\"messages\":[{\"id\":\"%s\"}]}", id);
	classify(200, body, &o);
	ck_assert_str_eq(o.wamid, id);
	classify(200, "{\"messages\":[{\"id\":\"wamid.\\u00e9\"}]}", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "");
	/* A messages array with a 4xx: not a success. */
	classify(400, "{\"messages\":[{\"id\":\"wamid.A\"}]}", &o);
	ck_assert_int_eq(o.action, POL_RETRY);
	ck_assert_str_eq(o.wamid, "");
}
END_TEST

START_TEST(policy_titles_and_messages)
{
	struct pol_outcome o;
	char body[12288], longs[3000];
	size_t i;

	/* Title: after "(#code) " in message, else error_user_title, else
	 * message; message: error_data.details, else error_user_msg, else
	 * message. */
	classify(400, "{\"error\":{\"code\":131009,\"message\":\"(#131009) "
	    "Bad value\",\"error_user_title\":\"UT\",\"error_user_msg\":"
	    "\"UM\",\"error_data\":{\"details\":\"D\"}}}", &o);
	ck_assert_str_eq(o.title, "Bad value");
	ck_assert_str_eq(o.message, "D");
	classify(400, "{\"error\":{\"code\":131009,\"message\":\"(#1) Other\","
	    "\"error_user_title\":\"UT\",\"error_user_msg\":\"UM\","
	    "\"error_data\":{\"other\":1}}}", &o);
	ck_assert_str_eq(o.title, "UT");
	ck_assert_str_eq(o.message, "UM");
	classify(400, "{\"error\":{\"code\":131009,\"message\":\"Plain\","
	    "\"error_data\":\"not an object\"}}", &o);
	ck_assert_str_eq(o.title, "Plain");
	ck_assert_str_eq(o.message, "Plain");
	classify(400, "{\"error\":{\"code\":131009,\"message\":5}}", &o);
	ck_assert_str_eq(o.title, "Graph API error");
	ck_assert_str_eq(o.message, "");
	ck_assert_int_eq(o.action, POL_PERMANENT);

	/* Cut to the columns' characters, never inside a UTF-8 sequence. */
	for (i = 0; i < 1000; i++)
		memcpy(longs + 2 * i, "\xc3\xa9", 2);	/* é */
	longs[2000] = '\0';
	snprintf(body, sizeof(body), "{\"error\":{\"code\":100,\"message\":"
	    "\"%s\",\"error_data\":{\"details\":\"%s%s\"}}}", longs, longs,
	    longs);
	classify(400, body, &o);
	ck_assert_uint_eq(utf8_length(o.title, strlen(o.title)),
	    POL_TITLE_MAX);
	ck_assert(utf8_valid(o.title, strlen(o.title)));
	ck_assert_uint_eq(utf8_length(o.message, strlen(o.message)),
	    POL_MESSAGE_MAX);
	ck_assert(utf8_valid(o.message, strlen(o.message)));
	/* Four-byte characters past the buffer's bytes: cut whole. */
	for (i = 0; i < 700; i++)
		memcpy(longs + 4 * i, "\xf0\x9f\x98\x80", 4);	/* U+1F600 */
	longs[2800] = '\0';
	snprintf(body, sizeof(body), "{\"error\":{\"code\":100,\"message\":"
	    "\"x%s\"}}", longs);
	classify(400, body, &o);
	ck_assert(utf8_valid(o.title, strlen(o.title)));
	ck_assert_uint_eq(utf8_length(o.title, strlen(o.title)),
	    POL_TITLE_MAX);
}
END_TEST

START_TEST(policy_no_answer)
{
	struct pol_input in = { .curl_ok = false, .maybe_sent = true,
	    .http_status = 502, .errtext = NULL };
	struct pol_outcome o;

	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_AMBIGUOUS);
	ck_assert_int_eq(o.http_status, 0);	/* no answer: no status */
	ck_assert_str_eq(o.title, "No answer from the Graph API");
	ck_assert_str_eq(o.message, "");
	in.maybe_sent = false;
	in.errtext = "Could not resolve host: graph\x7f\n";
	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_RETRY);
	ck_assert_str_eq(o.title, "Cannot reach the Graph API");
	ck_assert_str_eq(o.message, "Could not resolve host: graph? ");
}
END_TEST

START_TEST(policy_backoff_edges)
{
	struct pol_outcome o;

	memset(&o, 0, sizeof(o));
	/* No base: one second; attempts below 1 count as 1. */
	o.action = POL_RETRY;
	ck_assert_int_eq(policy_backoff_us(&o, 0, 0.5), 1000000);
	ck_assert_int_eq(policy_backoff_us(&o, -5, 0.5), 1000000);
	/* Jitter: 0.8 to 1.2 of the delay. */
	o.base_s = 10;
	ck_assert_int_eq(policy_backoff_us(&o, 1, 0.0), 8000000);
	ck_assert_int_eq(policy_backoff_us(&o, 1, 1.0), 12000000);
	ck_assert_int_eq(policy_backoff_us(&o, 3, 0.5), 40000000);
	/* Capped at 300 s, however many attempts (huge ones included). */
	ck_assert_int_eq(policy_backoff_us(&o, 1000, 0.5),
	    (int64_t)POL_BACKOFF_CAP_S * 1000000);
	/* A base above the cap is the cap: an hour stays an hour. */
	o.base_s = 3600;
	ck_assert_int_eq(policy_backoff_us(&o, 5, 0.5), 3600LL * 1000000);
	/* 131056: 4^n seconds, never below its base, even with jitter. */
	o.action = POL_RETRY_RECIPIENT;
	o.base_s = 6;
	ck_assert_int_eq(policy_backoff_us(&o, 1, 0.0), 6000000);
	ck_assert_int_eq(policy_backoff_us(&o, 2, 0.5), 16000000);
	ck_assert_int_eq(policy_backoff_us(&o, 3, 0.5), 64000000);
	ck_assert_int_eq(policy_backoff_us(&o, 30, 0.5), 300000000);

	/* Giving up: the rule's attempts, at most POL_MAX_ATTEMPTS; none
	 * given: POL_MAX_ATTEMPTS; and past a day, always. */
	o.max_attempts = 3;
	ck_assert(!policy_give_up(&o, 2, 0));
	ck_assert(policy_give_up(&o, 3, 0));
	o.max_attempts = 0;
	ck_assert(!policy_give_up(&o, POL_MAX_ATTEMPTS - 1, 0));
	ck_assert(policy_give_up(&o, POL_MAX_ATTEMPTS, 0));
	o.max_attempts = 1000;
	ck_assert(policy_give_up(&o, POL_MAX_ATTEMPTS, 0));
	ck_assert(!policy_give_up(&o, 1, POL_MAX_AGE_S - 1));
	ck_assert(policy_give_up(&o, 1, POL_MAX_AGE_S));
}
END_TEST

/* -- payloads ----------------------------------------------------------- */

static char *
build(const char *type, const char *content, char *err, size_t errsz)
{
	err[0] = '\0';
	return payload_build(7, "+4915112345678", type, content,
	    strlen(content), err, errsz);
}

/* The object under `type` of a built payload, as compact JSON. */
static void
expect_obj(const char *type, const char *content, const char *want)
{
	struct json_object *root, *v, *w;
	char err[256];
	char *text = build(type, content, err, sizeof(err));

	ck_assert_msg(text != NULL, "%s %s: %s", type, content, err);
	root = json_tokener_parse(text);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(root,
	    "recipient_type")), "individual");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(root,
	    "type")), type);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(root,
	    "biz_opaque_callback_data")), "wz:7");
	ck_assert_int_eq(json_object_object_length(root), 6);
	ck_assert(json_object_object_get_ex(root, type, &v));
	w = json_tokener_parse(want);
	ck_assert_ptr_nonnull(w);
	ck_assert_msg(json_object_equal(v, w), "%s: got %s", type,
	    json_object_to_json_string(v));
	json_object_put(w);
	json_object_put(root);
	free(text);
}

static void
expect_err(const char *type, const char *content, const char *want)
{
	char err[256];
	char *text = build(type, content, err, sizeof(err));

	ck_assert_msg(text == NULL, "%s %s: built %s", type, content, text);
	ck_assert_str_eq(err, want);
}

START_TEST(payload_fields_per_type)
{
	/* Only the fields Meta takes for each type. */
	expect_obj("text", "{\"body\":\"Hi\",\"preview_url\":true,\"x\":1}",
	    "{\"body\":\"Hi\",\"preview_url\":true}");
	expect_obj("text", "{\"body\":\"Hi\",\"preview_url\":\"yes\"}",
	    "{\"body\":\"Hi\",\"preview_url\":true}");
	expect_obj("template", "{\"name\":\"t\",\"language\":{\"code\":\"de\","
	    "\"policy\":\"deterministic\",\"x\":1}}", "{\"name\":\"t\","
	    "\"language\":{\"code\":\"de\",\"policy\":\"deterministic\"}}");
	expect_obj("video", "{\"link\":\"https://e.com/v.mp4\",\"caption\":"
	    "\"c\",\"filename\":\"no\"}",
	    "{\"link\":\"https://e.com/v.mp4\",\"caption\":\"c\"}");
	expect_obj("image", "{\"id\":123}", "{\"id\":123}");
	/* id wins over link when both are there. */
	expect_obj("image", "{\"id\":\"9\",\"link\":\"https://e.com/a\"}",
	    "{\"id\":\"9\"}");
	expect_obj("sticker", "{\"id\":\"5\",\"caption\":\"dropped\"}",
	    "{\"id\":\"5\"}");
	expect_obj("audio", "{\"link\":\"https://e.com/a.ogg\",\"caption\":"
	    "\"x\"}", "{\"link\":\"https://e.com/a.ogg\"}");
	expect_obj("document", "{\"link\":\"https://e.com/d.pdf\"}",
	    "{\"link\":\"https://e.com/d.pdf\"}");
	expect_obj("location", "{\"latitude\":52,\"longitude\":13.4,"
	    "\"address\":\"Berlin\",\"x\":1}",
	    "{\"latitude\":52,\"longitude\":13.4,\"address\":\"Berlin\"}");
	expect_obj("interactive", "{\"type\":\"button\",\"body\":{\"text\":"
	    "\"Pick\"},\"action\":{\"buttons\":[]}}", "{\"type\":\"button\","
	    "\"body\":{\"text\":\"Pick\"},\"action\":{\"buttons\":[]}}");
	/* null counts as absent. */
	expect_obj("image", "{\"id\":\"1\",\"caption\":null}", "{\"id\":\"1\"}");
}
END_TEST

START_TEST(payload_content_errors)
{
	expect_err("fax", "{}", "unsupported message type fax");
	expect_err("text", "[]", "content is not a JSON object");
	expect_err("text", "{\"body\":", "content is not a JSON object");
	expect_err("text", "{\"body\":null}", "content.body is missing");
	expect_err("text", "{\"body\":5}", "content.body has the wrong type");
	expect_err("template", "{\"language\":\"en\"}",
	    "content.name is missing");
	expect_err("template", "{\"name\":[],\"language\":\"en\"}",
	    "content.name has the wrong type");
	expect_err("template", "{\"name\":\"t\"}",
	    "content.language is missing");
	expect_err("template", "{\"name\":\"t\",\"language\":5}",
	    "content.language must be a code");
	expect_err("template", "{\"name\":\"t\",\"language\":{\"policy\":"
	    "\"deterministic\"}}", "content.language must be a code");
	expect_err("template", "{\"name\":\"t\",\"language\":{\"code\":\"en\","
	    "\"policy\":1}}", "content.policy has the wrong type");
	expect_err("template", "{\"name\":\"t\",\"language\":\"en\","
	    "\"components\":{}}", "content.components has the wrong type");
	expect_err("image", "{\"caption\":\"c\"}",
	    "content.link or content.id is missing");
	expect_err("image", "{\"id\":true}", "content.id has the wrong type");
	expect_err("image", "{\"link\":1}", "content.link has the wrong type");
	expect_err("image", "{\"id\":\"1\",\"caption\":2}",
	    "content.caption has the wrong type");
	expect_err("document", "{\"id\":\"1\",\"filename\":[]}",
	    "content.filename has the wrong type");
	expect_err("location", "{\"latitude\":1}",
	    "content.latitude and content.longitude are required");
	expect_err("location", "{\"latitude\":\"1\",\"longitude\":2}",
	    "content.latitude has the wrong type");
	expect_err("location", "{\"latitude\":1,\"longitude\":2,\"name\":3}",
	    "content.name has the wrong type");
	expect_err("location", "{\"latitude\":1,\"longitude\":2,"
	    "\"address\":{}}", "content.address has the wrong type");
}
END_TEST

START_TEST(payload_escapes_and_large_ids)
{
	static const char content[] = "{\"body\":\"a/b \\\"q\\\" \\u00e9\"}";
	char err[64];
	char *text = payload_build(18446744073709551615ULL, "+1 \"x\"/y", "text",
	    content, strlen(content), err, sizeof(err));
	struct json_object *root;

	ck_assert_ptr_nonnull(text);
	/* Slashes are not escaped (plain JSON); quotes are. */
	ck_assert_ptr_nonnull(strstr(text, "\"to\":\"+1 \\\"x\\\"/y\""));
	ck_assert_ptr_nonnull(strstr(text,
	    "\"biz_opaque_callback_data\":\"wz:18446744073709551615\""));
	root = json_tokener_parse(text);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	    json_object_object_get(root, "text"), "body")),
	    "a/b \"q\" \xc3\xa9");
	json_object_put(root);
	free(text);
	/* A small error buffer is cut, not overrun. */
	ck_assert_ptr_null(payload_build(1, "+1", "unknown-type-name", "{}", 2,
	    err, 12));
	ck_assert_str_eq(err, "unsupported");
}
END_TEST

/* -- the journal when its file cannot take more ---------------------------- */

static void
rec_init(struct rec *r, unsigned long long id, const char *message)
{
	memset(r, 0, sizeof(*r));
	r->kind = REC_FAILED;
	r->id = id;
	r->has_code = true;
	r->code = 131026;
	r->title = "Undeliverable";
	r->message = (char *)message;
	r->holder = "h";
}

/* A write the file system refuses (here the file size limit: EFBIG) leaves
 * no half line: the file is as before, and the next record that fits is a
 * whole line after the last whole one. (Each test runs in its own
 * process: the limit ends with it.) */
START_TEST(journal_append_refused_leaves_no_half_line)
{
	char dir[] = "/tmp/wz-unit-jfull-XXXXXX", big[8192];
	struct journal *j;
	struct rlimit rl, saved;
	struct rec r;
	off_t before;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	j = journal_open(dir, "full-1");
	rec_init(&r, 1, "first");
	ck_assert_int_eq(journal_append(j, &r), 0);
	journal_sync(j);
	before = journal_size(j);
	ck_assert_int_gt(before, 0);

	signal(SIGXFSZ, SIG_IGN);
	/* The soft limit only, and put back: this process writes coverage
	 * counts on exit in a coverage build. */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = (rlim_t)before + 4096;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rec_init(&r, 2, big);
	ck_assert_int_eq(journal_append(j, &r), -1);
	ck_assert_int_eq(journal_size(j), before);
	rec_init(&r, 3, "fits");
	ck_assert_int_eq(journal_append(j, &r), 0);
	journal_sync(j);
	ck_assert_uint_eq(file_lines(journal_path(j)), 2);
	{
		FILE *f = fopen(journal_path(j), "r");
		char line[512];
		struct rec *d;
		unsigned long long ids[2];
		int k = 0;

		while (fgets(line, sizeof(line), f) != NULL && k < 2) {
			d = journal_decode(line, strlen(line) - 1);
			ck_assert_ptr_nonnull(d);
			ids[k++] = d->id;
			rec_free(d);
		}
		fclose(f);
		ck_assert_int_eq(k, 2);
		ck_assert(ids[0] == 1 && ids[1] == 3);
	}
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	journal_clear(j);
	ck_assert_int_eq(journal_size(j), 0);
	journal_clear(j);		/* already empty: nothing to do */
	journal_sync(j);		/* nothing appended: nothing to sync */
	journal_close(j, true);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A rewrite that cannot write its new file keeps the old one whole. */
START_TEST(journal_rewrite_that_fails_keeps_the_file)
{
	char dir[] = "/tmp/wz-unit-jrw-XXXXXX";
	struct journal *j;
	struct rec a, b;
	char *tmp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	j = journal_open(dir, "rw-2");
	rec_init(&a, 1, "one");
	rec_init(&b, 2, "two");
	ck_assert_int_eq(journal_append(j, &a), 0);
	ck_assert_int_eq(journal_append(j, &b), 0);
	/* Something in the way of the temporary file. */
	xasprintf(&tmp, "%s/.rw-2.journal.tmp", dir);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	a.next = NULL;
	ck_assert_int_eq(journal_rewrite(j, &a), -1);
	ck_assert_uint_eq(file_lines(journal_path(j)), 2);
	ck_assert_int_eq(rmdir(tmp), 0);
	/* Cleared out of the way: it works, and appends go to the new file. */
	ck_assert_int_eq(journal_rewrite(j, &a), 0);
	ck_assert_uint_eq(file_lines(journal_path(j)), 1);
	ck_assert_int_eq(journal_append(j, &b), 0);
	ck_assert_uint_eq(file_lines(journal_path(j)), 2);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* An empty list: an empty file, removed on close. */
	ck_assert_int_eq(journal_rewrite(j, NULL), 0);
	ck_assert_int_eq(journal_size(j), 0);
	journal_close(j, true);
	ck_assert_int_eq(rmdir(dir), 0);
	free(tmp);
}
END_TEST

START_TEST(journal_decode_rejects_wrong_types)
{
	static const char *const bad[] = {
		"{\"k\":1,\"id\":1}",
		"{\"id\":1}",
		"{\"k\":\"sent\",\"id\":1,\"wamid\":5}",
		"{\"k\":\"failed\",\"id\":1,\"title\":[]}",
		"{\"k\":\"failed\",\"id\":1,\"message\":{}}",
		"{\"k\":\"sent\",\"id\":1,\"holder\":true}",
		"{\"k\":\"sent\",\"id\":\"1\"}",
		"{\"k\":\"sent\",\"id\":-1}",
		"{\"k\":\"sent\",\"id\":1} x",
		"{\"k\":\"sent\",\"id\":1,\"wamid\":\"\xff\"}",
		"",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(journal_decode(bad[i], strlen(bad[i])) == NULL,
		    "decoded: %s", bad[i]);
}
END_TEST

Suite *
spooler_edges_suite(void)
{
	Suite *s = suite_create("spooler_edges");
	TCase *tc = tcase_new("policy_edges");

	tcase_add_test(tc, policy_every_code_of_the_table);
	tcase_add_test(tc, policy_unknown_codes_by_status);
	tcase_add_test(tc, policy_bodies_that_are_no_graph_error);
	tcase_add_test(tc, policy_success_answers);
	tcase_add_test(tc, policy_titles_and_messages);
	tcase_add_test(tc, policy_no_answer);
	tcase_add_test(tc, policy_backoff_edges);
	suite_add_tcase(s, tc);
	tc = tcase_new("payload_edges");
	tcase_add_test(tc, payload_fields_per_type);
	tcase_add_test(tc, payload_content_errors);
	tcase_add_test(tc, payload_escapes_and_large_ids);
	suite_add_tcase(s, tc);
	tc = tcase_new("journal_edges");
	tcase_add_test(tc, journal_append_refused_leaves_no_half_line);
	tcase_add_test(tc, journal_rewrite_that_fails_keeps_the_file);
	tcase_add_test(tc, journal_decode_rejects_wrong_types);
	suite_add_tcase(s, tc);
	return s;
}
