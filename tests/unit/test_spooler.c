/* The spooler's pure parts: the rate limiter's guarantees, Meta's error
 * policy, and the Graph API request bodies; and its journal of results. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "journal.h"
#include "payload.h"
#include "policy.h"
#include "text.h"
#include "rate.h"
#include "tests.h"
#include "xmalloc.h"

#define MS 1000LL

/* Drives the limiter as the spooler does (start whatever is available,
 * else wait until rate_next) for `span` µs and checks every window. */
static void
rate_run(uint32_t mps, int64_t span, uint32_t *max_per_s, uint32_t *total)
{
	struct rate r;
	int64_t *starts = calloc(4 * mps + 64, sizeof(*starts)), now = 0;
	size_t n = 0, i, j;

	rate_init(&r, mps, 1050 * MS);
	while (now < span) {
		uint32_t k = rate_available(&r, now);
		for (; k > 0 && n < 4 * (size_t)mps + 64 && now < span; k--) {
			rate_take(&r, now);
			starts[n++] = now;
		}
		now = rate_next(&r, now) > now ? rate_next(&r, now) : now + 1;
	}
	*max_per_s = 0;
	for (i = 0; i < n; i++) {
		for (j = i; j < n && starts[j] < starts[i] + 1000 * MS; j++)
			;
		if (j - i > *max_per_s)
			*max_per_s = (uint32_t)(j - i);
	}
	*total = (uint32_t)n;
	rate_free(&r);
	free(starts);
}

START_TEST(rate_never_more_than_mps_in_a_second)
{
	static const uint32_t limits[] = { 1, 5, 20, 80, 1000 };
	uint32_t max, total;
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		rate_run(limits[i], 3000 * MS, &max, &total);
		ck_assert_uint_le(max, limits[i]);
		/* ... and not far below it: three seconds' worth, less the
		 * guard. */
		ck_assert_uint_ge(total, limits[i] * 27 / 10);
	}
}
END_TEST

START_TEST(rate_paces_within_a_second)
{
	struct rate r;
	uint32_t k;

	rate_init(&r, 1000, 1050 * MS);
	k = rate_available(&r, 0);
	ck_assert_uint_eq(k, 50);	/* a twentieth, not the whole second */
	while (k-- > 0)
		rate_take(&r, 0);
	ck_assert_uint_eq(rate_available(&r, 10 * MS), 0);
	ck_assert_int_eq(rate_next(&r, 10 * MS), 50 * MS);
	ck_assert_uint_eq(rate_available(&r, 50 * MS), 50);
	rate_free(&r);
	rate_init(&r, 0, 1050 * MS);
	ck_assert_uint_eq(rate_available(&r, 0), UINT32_MAX);
	rate_free(&r);
}
END_TEST

static void
classify(long status, const char *body, struct pol_outcome *o)
{
	struct pol_input in = { .curl_ok = true, .maybe_sent = true,
	    .http_status = status, .body = body, .len = strlen(body) };

	policy_classify(&in, o);
}

#define GRAPH_ERR(code, msg) \
	"{\"error\":{\"message\":\"(#" #code ") " msg "\",\"type\":" \
	"\"OAuthException\",\"code\":" #code ",\"error_data\":{\"details\":" \
	"\"the details\"},\"fbtrace_id\":\"x\"}}"

START_TEST(policy_table)
{
	struct pol_outcome o;

	classify(200, "{\"messaging_product\":\"whatsapp\",\"messages\":"
	    "[{\"id\":\"wamid.ABC\"}]}", &o);
	ck_assert_int_eq(o.action, POL_SENT);
	ck_assert_str_eq(o.wamid, "wamid.ABC");

	classify(400, GRAPH_ERR(130429, "Rate limit hit"), &o);
	ck_assert_int_eq(o.action, POL_RETRY);
	ck_assert_int_eq(o.code, 130429);

	classify(400, GRAPH_ERR(131056, "pair rate limit hit"), &o);
	ck_assert_int_eq(o.action, POL_RETRY_RECIPIENT);
	ck_assert_int_ge(policy_backoff_us(&o, 1, 0.0), 6000 * MS);

	classify(400, GRAPH_ERR(131026, "Message undeliverable"), &o);
	ck_assert_int_eq(o.action, POL_PERMANENT);
	ck_assert_str_eq(o.title, "Message undeliverable");
	ck_assert_str_eq(o.message, "the details");

	classify(401, GRAPH_ERR(190, "Access token expired"), &o);
	ck_assert_int_eq(o.action, POL_PAUSE_ACCOUNT);

	classify(500, "oops", &o);
	ck_assert_int_eq(o.action, POL_RETRY);
	classify(400, GRAPH_ERR(987654, "Something new"), &o);
	ck_assert_int_eq(o.action, POL_PERMANENT);
}
END_TEST

/* Found by tests/fuzz/fuzz_policy: json-c's UTF-8 check passes overlong
 * forms, which went into the title
 * and message as they were; the utf8mb4 columns refuse them, and the
 * result was kept and tried again for ever. */
START_TEST(policy_text_is_valid_utf8)
{
	struct pol_outcome o;

	classify(401, "{\"error\":{\"message\":\"Excepti\xc1\x8d\","
	    "\"code\":0}}", &o);
	ck_assert_int_eq(o.action, POL_PAUSE_ACCOUNT);
	ck_assert_str_eq(o.title, "Excepti??");
	classify(400, "{\"error\":{\"message\":\"(#131026) a\xc0\xaf" "b \xc3\xa9\","
	    "\"code\":131026,\"error_user_msg\":\"\xe0\x80\x80\"}}", &o);
	ck_assert_int_eq(o.action, POL_PERMANENT);
	ck_assert(utf8_valid(o.title, strlen(o.title)));
	ck_assert_str_eq(o.title, "a??b \xc3\xa9");
	ck_assert_str_eq(o.message, "???");
}
END_TEST

START_TEST(policy_transport)
{
	struct pol_input in = { .curl_ok = false, .maybe_sent = false,
	    .errtext = "connect refused" };
	struct pol_outcome o;

	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_RETRY);	/* never left: safe */
	in.maybe_sent = true;
	in.errtext = "timeout";
	policy_classify(&in, &o);
	ck_assert_int_eq(o.action, POL_AMBIGUOUS);	/* may have left */
}
END_TEST

START_TEST(policy_backoff_grows_and_caps)
{
	struct pol_outcome o;
	int64_t a, b, c;

	classify(400, GRAPH_ERR(130429, "Rate limit hit"), &o);
	a = policy_backoff_us(&o, 1, 0.5);
	b = policy_backoff_us(&o, 2, 0.5);
	c = policy_backoff_us(&o, 30, 0.5);
	ck_assert_int_lt(a, b);
	ck_assert_int_le(c, (int64_t)POL_BACKOFF_CAP_S * 1200 * MS);
	ck_assert(policy_give_up(&o, POL_MAX_ATTEMPTS, 0));
	ck_assert(policy_give_up(&o, 1, POL_MAX_AGE_S + 1));
}
END_TEST

static struct json_object *
built(const char *type, const char *content)
{
	char err[256];
	char *text = payload_build(42, "+4915112345678", type, content,
	    strlen(content), err, sizeof(err));
	struct json_object *o;

	ck_assert_msg(text != NULL, "%s", err);
	o = json_tokener_parse(text);
	free(text);
	return o;
}

static void
expect(const char *type, const char *content, const char *want_obj)
{
	struct json_object *o = built(type, content), *want, *v;

	want = json_tokener_parse(want_obj);
	ck_assert_ptr_nonnull(want);
	ck_assert(json_object_object_get_ex(o, type, &v));
	ck_assert_msg(json_object_equal(v, want), "%s: %s", type,
	    json_object_to_json_string(v));
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "messaging_product")), "whatsapp");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "to")), "+4915112345678");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(o,
	    "biz_opaque_callback_data")), "wz:42");
	json_object_put(want);
	json_object_put(o);
}

START_TEST(payload_per_type)
{
	char err[128];

	expect("text", "{\"body\":\"Hi\"}", "{\"body\":\"Hi\",\"preview_url\":false}");
	expect("template", "{\"name\":\"hello_world\",\"language\":\"en\","
	    "\"components\":[]}", "{\"name\":\"hello_world\",\"language\":"
	    "{\"code\":\"en\"},\"components\":[]}");
	expect("template", "{\"name\":\"t\",\"language\":{\"code\":\"en_US\"}}",
	    "{\"name\":\"t\",\"language\":{\"code\":\"en_US\"}}");
	expect("image", "{\"link\":\"https://e.com/a.jpg\",\"caption\":\"c\"}",
	    "{\"link\":\"https://e.com/a.jpg\",\"caption\":\"c\"}");
	expect("document", "{\"id\":\"7\",\"caption\":\"c\",\"filename\":\"f.pdf\"}",
	    "{\"id\":\"7\",\"caption\":\"c\",\"filename\":\"f.pdf\"}");
	expect("audio", "{\"id\":\"7\"}", "{\"id\":\"7\"}");
	expect("location", "{\"latitude\":1.5,\"longitude\":-2,\"name\":\"HQ\"}",
	    "{\"latitude\":1.5,\"longitude\":-2,\"name\":\"HQ\"}");
	ck_assert_ptr_null(payload_build(1, "+1", "fax", "{}", 2, err,
	    sizeof(err)));
	ck_assert_ptr_null(payload_build(1, "+1", "text", "{}", 2, err,
	    sizeof(err)));
}
END_TEST

static struct rec *
decode(const char *line)
{
	return journal_decode(line, strlen(line));
}

START_TEST(journal_lines)
{
	struct rec r, *d;
	char *line;

	memset(&r, 0, sizeof(r));
	r.kind = REC_FAILED;
	r.id = 9007199254740993ULL;
	r.has_code = true;
	r.code = 131026;
	r.title = "Message undeliverable";
	r.message = "two\nlines, \"quoted\", \xc3\xbc \xf0\x9f\x98\x80";
	r.holder = "host:42:00ff";
	r.delay_us = -5;
	line = journal_encode(&r);
	ck_assert_int_eq(line[strlen(line) - 1], '\n');
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
	d = journal_decode(line, strlen(line) - 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->kind, REC_FAILED);
	ck_assert(d->id == r.id);
	ck_assert(d->has_code && d->code == 131026);
	ck_assert(d->delay_us == -5);
	ck_assert_ptr_null(d->wamid);
	ck_assert_str_eq(d->title, r.title);
	ck_assert_str_eq(d->message, r.message);
	ck_assert_str_eq(d->holder, r.holder);
	rec_free(d);
	/* A line torn by a crash, and lines that are not records. */
	ck_assert_ptr_null(journal_decode(line, strlen(line) / 2));
	free(line);
	ck_assert_ptr_null(decode("{\"k\":\"sent\"}"));
	ck_assert_ptr_null(decode("{\"k\":\"x\",\"id\":1}"));
	ck_assert_ptr_null(decode("{\"k\":\"sent\",\"id\":0}"));
	ck_assert_ptr_null(decode("{\"k\":\"sent\",\"id\":1,\"code\":\"1\"}"));
	ck_assert_ptr_null(decode("[1]"));
	d = decode("{\"k\":\"sent\",\"id\":7,\"wamid\":\"wamid.X\"}");
	ck_assert_ptr_nonnull(d);
	ck_assert(d->kind == REC_SENT && d->id == 7 && !d->has_code);
	ck_assert_str_eq(d->wamid, "wamid.X");
	ck_assert_uint_eq(d->queue, 0);
	rec_free(d);
	/* The message queue's records name no queue (lines as before the
	 * spooler had several); another queue's say which ("q"). */
	r.queue = 0;
	line = journal_encode(&r);
	ck_assert_ptr_null(strstr(line, "\"q\""));
	free(line);
	r.queue = 2;
	line = journal_encode(&r);
	ck_assert_ptr_eq(strstr(line, "{\"q\":2,\"k\":\"failed\","), line);
	d = journal_decode(line, strlen(line) - 1);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->queue, 2);
	rec_free(d);
	free(line);
	ck_assert_ptr_null(decode("{\"q\":-1,\"k\":\"sent\",\"id\":1}"));
	ck_assert_ptr_null(decode("{\"q\":\"1\",\"k\":\"sent\",\"id\":1}"));
	ck_assert_ptr_null(decode("{\"q\":256,\"k\":\"sent\",\"id\":1}"));
}
END_TEST

/* Webhook results (queue_webhook.c): their own kinds and fields; the
 * lines of the messages' records, written before these existed, still
 * decode the same. */
START_TEST(journal_webhook_lines)
{
	struct rec r, *d;
	char *line;

	memset(&r, 0, sizeof(r));
	r.queue = 1;
	r.kind = REC_WH_RETRY;
	r.id = 77;
	r.has_code = true;
	r.code = 503;
	r.attempt = 3;
	r.at_ms = 1764950000123LL;
	r.duration_ms = 10012;
	r.delay_us = 30000000;
	r.wclass = "http_status";
	r.message = "HTTP 503";
	r.response = "busy \xc3\xbc";
	r.holder = "h:1:ab";
	line = journal_encode(&r);
	ck_assert_ptr_eq(strstr(line, "{\"q\":1,\"k\":\"wh_retry\","), line);
	d = journal_decode(line, strlen(line) - 1);
	free(line);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->kind, REC_WH_RETRY);
	ck_assert_uint_eq(d->queue, 1);
	ck_assert(d->id == 77 && d->has_code && d->code == 503);
	ck_assert_int_eq(d->attempt, 3);
	ck_assert(d->at_ms == 1764950000123LL);
	ck_assert_int_eq(d->duration_ms, 10012);
	ck_assert(d->delay_us == 30000000);
	ck_assert_str_eq(d->wclass, "http_status");
	ck_assert_str_eq(d->message, "HTTP 503");
	ck_assert_str_eq(d->response, r.response);
	rec_free(d);
	d = decode("{\"q\":1,\"k\":\"wh_ok\",\"id\":5,\"code\":204,"
	    "\"attempt\":1,\"at\":1,\"holder\":\"x\"}");
	ck_assert_ptr_nonnull(d);
	ck_assert(d->kind == REC_WH_SUCCEEDED && d->attempt == 1 &&
	    d->duration_ms == 0);
	ck_assert_ptr_null(d->wclass);
	ck_assert_ptr_null(d->response);
	rec_free(d);
	ck_assert_ptr_nonnull(d = decode("{\"q\":1,\"k\":\"wh_gone\",\"id\":5}"));
	ck_assert_int_eq(d->kind, REC_WH_GONE);
	rec_free(d);
	ck_assert_ptr_nonnull(d = decode("{\"q\":1,\"k\":\"wh_failed\",\"id\":5}"));
	ck_assert_int_eq(d->kind, REC_WH_FAILED);
	rec_free(d);
	ck_assert_ptr_null(decode("{\"k\":\"wh_ok\",\"id\":5,\"attempt\":-1}"));
	ck_assert_ptr_null(decode("{\"k\":\"wh_ok\",\"id\":5,\"dur\":\"1\"}"));
	ck_assert_ptr_null(decode("{\"k\":\"wh_ok\",\"id\":5,\"resp\":1}"));
	/* A message record as an older spooler wrote it. */
	d = decode("{\"k\":\"retry\",\"id\":9,\"code\":131000,\"delay\":"
	    "2000000,\"title\":\"t\",\"message\":\"m\",\"holder\":\"h\"}");
	ck_assert_ptr_nonnull(d);
	ck_assert(d->kind == REC_RETRY && d->id == 9 && d->code == 131000 &&
	    d->delay_us == 2000000 && d->attempt == 0 && d->at_ms == 0);
	ck_assert_ptr_null(d->wclass);
	rec_free(d);
}
END_TEST

static void
collect(struct rec *r, bool appended, void *arg)
{
	struct journal *j = arg;

	if (!appended)
		ck_assert_int_eq(journal_append(j, r), 0);
	rec_free(r);
}

/* Files of spoolers that are gone are taken over, a live one's is left. */
START_TEST(journal_adopts_the_dead_only)
{
	char dir[] = "/tmp/wz-journal-XXXXXX", *path;
	struct journal *me, *live;
	struct rec r;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&r, 0, sizeof(r));
	r.kind = REC_SENT;
	r.id = 1;
	r.wamid = "wamid.A";
	live = journal_open(dir, "live:1:aa");
	ck_assert_int_eq(journal_append(live, &r), 0);
	journal_sync(live);
	/* A dead one's file: two records and a torn last line. */
	xasprintf(&path, "%s/dead_2_bb.journal", dir);
	f = fopen(path, "w");
	fputs("{\"k\":\"sent\",\"id\":2,\"wamid\":\"wamid.B\"}\n"
	    "{\"k\":\"retry\",\"id\":3,\"delay\":1000,\"holder\":\"dead\"}\n"
	    "{\"k\":\"sent\",\"id\":4,\"wam", f);
	fclose(f);
	me = journal_open(dir, "me:3:cc");
	ck_assert_uint_eq(journal_adopt(me, collect, me), 2);
	ck_assert_int_eq(access(path, F_OK), -1);	/* removed */
	ck_assert_uint_eq(file_lines(journal_path(me)), 2);
	ck_assert_uint_eq(file_lines(journal_path(live)), 1);
	/* Again: nothing more (the live one still holds its file). */
	ck_assert_uint_eq(journal_adopt(me, collect, me), 0);
	journal_clear(me);
	ck_assert_uint_eq(file_lines(journal_path(me)), 0);
	/* The live one ends with a record owed: its file stays, and the
	 * next one to look takes it. */
	journal_close(live, false);
	ck_assert_uint_eq(journal_adopt(me, collect, me), 1);
	ck_assert_uint_eq(file_lines(journal_path(me)), 1);
	journal_close(me, false);
	/* Reopened by the same holder: its own earlier records come back,
	 * already in the file. */
	me = journal_open(dir, "me:3:cc");
	ck_assert_uint_eq(journal_adopt(me, collect, me), 1);
	ck_assert_uint_eq(file_lines(journal_path(me)), 1);
	journal_close(me, true);
	ck_assert_int_eq(rmdir(dir), 0);
	free(path);
}
END_TEST

/* The file is rewritten to hold just what is owed (a record refused for
 * good no longer keeps everything since), and a torn last line of an
 * earlier run cannot swallow the next record. */
START_TEST(journal_rewrite_and_torn_tail)
{
	char dir[] = "/tmp/wz-journal-XXXXXX", *path;
	struct journal *j;
	struct rec a, b;
	FILE *f;
	int i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&a, 0, sizeof(a));
	a.kind = REC_SENT;
	a.id = 7;
	a.wamid = "wamid.A";
	b = a;
	b.id = 8;
	j = journal_open(dir, "rw:1:aa");
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(journal_append(j, &a), 0);
	ck_assert_uint_eq(file_lines(journal_path(j)), 100);
	a.next = &b;
	ck_assert_int_eq(journal_rewrite(j, &a), 0);
	ck_assert_uint_eq(file_lines(journal_path(j)), 2);
	ck_assert_int_eq(journal_append(j, &b), 0);	/* the new file */
	ck_assert_uint_eq(file_lines(journal_path(j)), 3);
	journal_close(j, false);
	/* A crash tore the last line; the next run's first record stays
	 * whole, and all three good ones are taken back. */
	xasprintf(&path, "%s/rw_1_aa.journal", dir);
	f = fopen(path, "a");
	fputs("{\"k\":\"sent\",\"id\":9,\"wam", f);
	fclose(f);
	j = journal_open(dir, "rw:1:aa");
	b.next = NULL;
	ck_assert_int_eq(journal_append(j, &b), 0);
	ck_assert_uint_eq(journal_adopt(j, collect, j), 4);
	journal_close(j, true);
	ck_assert_int_eq(rmdir(dir), 0);
	free(path);
}
END_TEST

Suite *
spooler_suite(void)
{
	Suite *s = suite_create("spooler");
	TCase *tc = tcase_new("rate");

	tcase_add_test(tc, rate_never_more_than_mps_in_a_second);
	tcase_add_test(tc, rate_paces_within_a_second);
	suite_add_tcase(s, tc);
	tc = tcase_new("policy");
	tcase_add_test(tc, policy_table);
	tcase_add_test(tc, policy_transport);
	tcase_add_test(tc, policy_text_is_valid_utf8);
	tcase_add_test(tc, policy_backoff_grows_and_caps);
	suite_add_tcase(s, tc);
	tc = tcase_new("payload");
	tcase_add_test(tc, payload_per_type);
	suite_add_tcase(s, tc);
	tc = tcase_new("journal");
	tcase_add_test(tc, journal_lines);
	tcase_add_test(tc, journal_webhook_lines);
	tcase_add_test(tc, journal_adopts_the_dead_only);
	tcase_add_test(tc, journal_rewrite_and_torn_tail);
	suite_add_tcase(s, tc);
	return s;
}
