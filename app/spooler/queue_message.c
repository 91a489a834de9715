/* The message queue: outbound WhatsApp messages, sent through the Graph
 * API (graph.c), one lane per WhatsApp account (whatsapp_accounts: its
 * lease, its mps, its sealed access token). The loop is spool.c's; here
 * are the claim, the request, the reading of Meta's answer, the writes of
 * the results and the recovery of messages left in flight.
 *
 * Claim: up to n due messages of an account (SELECT ... FOR UPDATE SKIP
 * LOCKED), marked 'sending' with this spooler as their sending_holder and
 * committed before their requests start. Conversational messages (lane 0)
 * come first, a running campaign's (lane 1) in the room left (a second
 * claim statement: one lane each reads messages_claim in order), parked
 * ones (lane 2) never.
 *
 * Campaign messages (SPEC 7): after the claim committed, one plain read
 * each gives the claim's campaigns and its recipients' contacts as they
 * are now. A message of a campaign no longer running (cancelled, failed)
 * is parked (REC_PARK: queued again in lane 2, never sent: a cancel stops
 * new sends by the next claim; the claims are at most the rate's pacing
 * slice, mps/20, so that is within a second); a recipient who opted out
 * since the snapshot fails with 131050 and one whose contact was deleted
 * with 131026, without a request; the template's text parameters get the
 * contact's values (payload_build_for), and a placeholder with neither a
 * value nor a fallback fails the message with 131008. Meta's
 * campaign-level errors (policy.c: stop_campaign) fail the message and
 * stop its campaign in one transaction (wz_campaign_stop).
 *
 * Answers (policy.c): sent -> wz_message_result with the wamid and an
 * event; permanent -> wz_message_result with Meta's code, title and
 * details;
 * transient -> back to the queue after an exponential backoff with jitter,
 * and failed once the code's attempts (or 20, or 24 h) are used up; a
 * paused account (token invalid 0/190, locked, billing, spam) -> the
 * message goes back to the queue uncounted and the account is paused on
 * its row (SQL_SPOOL_PAUSE): no spooler takes it before the pause ends or
 * an operator ends it. Until that record is written, this spooler holds
 * the account off in memory.
 *
 * Crash safety: a message is 'sending', with this spooler as its
 * sending_holder, before its request leaves. An answer that never came
 * for a request that may have left (a timeout or a dropped connection
 * after the request was written, a crash) leaves it 'sending': a status
 * webhook carrying biz_opaque_callback_data "wz:<id>" resolves it;
 * otherwise, once spooler.resend_grace_seconds passed and no live spooler
 * answers for the claim (holder released after the ambiguous outcome, or
 * gone: no longer holding the account's lease), SQL_SPOOL_RECOVER queues
 * it again, once in its life (blind_resends; Meta has no idempotency
 * key), and SQL_SPOOL_UNRESOLVED finds those still unresolved after that
 * resend, which fail as ambiguous. A request that never left (no
 * connection made) is retried with the usual backoff. Replaying a record
 * twice (a journal adopted late) is harmless: the writes check the
 * message's state and the claim's holder. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "graph.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "payload.h"
#include "policy.h"
#include "placeholder.h"
#include "pool.h"
#include "queue.h"
#include "queues.h"
#include "spool.h"
#include "text.h"
#include "validate.h"
#include "xmalloc.h"

#define LOCAL_CODE	131000		/* Meta's "unknown error", for a
					   failure the spooler decides */
#define AMBIGUOUS_TITLE	"Ambiguous: the send may have reached Meta; not resent"

struct msgq {
	uint8_t			 key[MASTER_KEY_LEN];
	unsigned long		 n_sent, n_failed, n_retried, n_ambiguous,
				 n_requeued, n_parked;
};

/* An account's request parts. */
struct acct {
	char			*url;
	struct curl_slist	*headers;	/* holds the token: wiped */
};

/* One request's context. */
struct msg {
	struct job		 job;		/* first: the loop's */
	unsigned long long	 id;
	unsigned long long	 campaign;	/* 0: not a campaign's */
	int			 attempt;
	long long		 age_s;
};

/* What a claim's campaign messages need, read after the claim: their
 * campaigns (SQL_CSEND_CAMPAIGNS) and contacts (SQL_CSEND_CONTACTS, in id
 * order), in the loop's pool. */
struct camp_rows {
	bool			 read;		/* false: the reads failed */
	struct db_res		 camps, contacts;
	unsigned long		 parked;
};

static struct msgq *
msgq(struct queue *q)
{
	return q->state;
}

static void *
msgq_open(struct queue *q)
{
	struct msgq *m = xcalloc(1, sizeof(*m));

	if (spool_master_key(q, m->key) == -1) {
		free(m);
		return NULL;
	}
	return m;
}

static void
msgq_close(struct queue *q, char *sum, size_t sumlen)
{
	struct msgq *m = msgq(q);

	snprintf(sum, sumlen, "%lu sent, %lu failed, %lu retried, %lu requeued, "
	    "%lu left 'sending' without an answer, %lu parked (campaign not "
	    "running)", m->n_sent, m->n_failed, m->n_retried, m->n_requeued,
	    m->n_ambiguous, m->n_parked);
	sodium_memzero(m->key, sizeof(m->key));
	free(m);
}

static double
random01(void)
{
	return (double)randombytes_uniform(1000000) / 1e6;
}

/* ---- records --------------------------------------------------------- */

static void
rec_push_campaign(struct queue *q, enum rec_kind kind, unsigned long long id,
    const struct pol_outcome *o, int64_t delay_us, unsigned long long campaign)
{
	struct rec *r = xcalloc(1, sizeof(*r));

	r->kind = kind;
	r->id = id;
	r->campaign = campaign;
	r->delay_us = delay_us;
	if (o != NULL) {
		r->has_code = o->has_code;
		r->code = o->code;
		if (o->wamid[0] != '\0')
			r->wamid = xstrdup(o->wamid);
		r->title = xstrdup(o->title);
		r->message = xstrdup(o->message);
	}
	spool_record(q, r);
}

static void
rec_push(struct queue *q, enum rec_kind kind, unsigned long long id,
    const struct pol_outcome *o, int64_t delay_us)
{
	rec_push_campaign(q, kind, id, o, delay_us, 0);
}

/* A message's failure and, for Meta's campaign-level error, its
 * campaign's stop: in the caller's transaction. */
static enum db_rc
failed_stop(struct db *db, struct pool *pool, const struct rec *r,
    const struct db_arg *a)
{
	struct db_arg c[4];
	struct db_res res;
	enum db_rc rc;

	if ((rc = db_query(db, pool, SQL_SPOOL_FAILED, a, 4, &res)) != DB_OK ||
	    r->campaign == 0)
		return rc;
	c[0] = DBA_INT(r->campaign);
	c[1] = a[1];
	c[2] = a[2];
	c[3] = a[3];
	if ((rc = db_query(db, pool, SQL_CSEND_STOP, c, 4, &res)) == DB_OK &&
	    res.nrows == 1 && db_int(&res, 0, 0) == 1)
		log_warnx("campaign %llu: failed (stopped) after error %d "
		    "(%s) on message %llu", r->campaign, r->code,
		    r->title != NULL ? r->title : "", r->id);
	return rc;
}

/* Whether a record's writes need a transaction of their own when written
 * alone: the results, by routines (which run in their caller's). */
static bool
rec_needs_tx(const struct rec *r)
{
	return r->kind == REC_SENT || r->kind == REC_FAILED;
}

/* Writes one record's statements, in the caller's transaction if there
 * is one. */
static enum db_rc
write_rec(struct queue *q, struct rec *r)
{
	struct db *db = spool_db(q->s);
	struct pool *pool = spool_pool(q->s);
	struct db_arg a[6];
	struct db_arg code = r->has_code ? DBA_INT(r->code) : DBA_NULL;
	struct db_res res;

	switch (r->kind) {
	case REC_SENT:
		a[0] = DBA_INT(r->id);
		a[1] = DBA_STR(r->wamid);
		return db_query(db, pool, SQL_SPOOL_SENT, a, 2, &res);
	case REC_FAILED:
		a[0] = DBA_INT(r->id);
		a[1] = r->has_code ? code : DBA_INT(LOCAL_CODE);
		a[2] = DBA_STR(r->title);
		a[3] = DBA_STR(r->message);
		return failed_stop(db, pool, r, a);
	case REC_PARK:
		a[0] = DBA_INT(r->id);
		a[1] = r->holder != NULL ? DBA_STR(r->holder) : DBA_NULL;
		return db_exec(db, SQL_CSEND_PARK, a, 2, NULL, NULL);
	case REC_RETRY:
	case REC_REQUEUE:
		a[0] = DBA_INT(r->delay_us);
		a[1] = code;
		a[2] = DBA_STR(r->title);
		a[3] = DBA_STR(r->message);
		a[4] = DBA_INT(r->id);
		a[5] = r->holder != NULL ? DBA_STR(r->holder) : DBA_NULL;
		return db_exec(db, r->kind == REC_RETRY ? SQL_SPOOL_RETRY :
		    SQL_SPOOL_REQUEUE, a, 6, NULL, NULL);
	case REC_PAUSE:		/* delay_us: the pause's end, unix seconds */
		a[0] = DBA_INT(r->delay_us);
		a[1] = DBA_INT(r->id);
		a[2] = DBA_INT(r->delay_us);
		return db_exec(db, SQL_SPOOL_PAUSE, a, 3, NULL, NULL);
	case REC_AMBIGUOUS:
		a[0] = DBA_INT(r->id);
		a[1] = r->holder != NULL ? DBA_STR(r->holder) : DBA_NULL;
		return db_exec(db, SQL_SPOOL_AMBIGUOUS, a, 2, NULL, NULL);
	case REC_WH_SUCCEEDED:
	case REC_WH_RETRY:
	case REC_WH_FAILED:
	case REC_WH_GONE:
		break;		/* the webhooks queue's: never ours */
	}
	return DB_ERR;
}

/* One record: a result in a transaction of its own, the rest as single
 * statements. */
static enum db_rc
write_once(struct queue *q, struct rec *r)
{
	struct db *db = spool_db(q->s);
	enum db_rc rc;

	if (!rec_needs_tx(r))
		return write_rec(q, r);
	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	if ((rc = write_rec(q, r)) == DB_OK && (rc = db_commit(db)) == DB_OK)
		return DB_OK;
	db_rollback(db);
	return rc;
}

static enum db_rc
msgq_write(struct queue *q, struct rec *r)
{
	enum db_rc rc = write_once(q, r);

	if (rc == DB_DUP && r->kind == REC_SENT && r->wamid != NULL) {
		/* Another message holds this wamid: keep the message sent,
		 * without one. */
		log_warnx("message %llu: wamid %s already taken; stored "
		    "without it", r->id, r->wamid);
		free(r->wamid);
		r->wamid = NULL;
		rc = write_once(q, r);
	}
	if (rc == DB_OK && r->kind == REC_PAUSE)
		spool_hold_end(q, r->id);	/* the row holds it now */
	return rc;
}

/* A run of records in one transaction (at speed, one commit for many
 * results instead of one each). Anything but DB_OK wrote nothing: the
 * loop then writes them one at a time (msgq_write), which also finds a
 * wamid another message holds. */
static enum db_rc
msgq_write_many(struct queue *q, struct rec *const *recs, size_t n)
{
	struct db *db = spool_db(q->s);
	enum db_rc rc;
	size_t i;

	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	for (i = 0; i < n && rc == DB_OK; i++)
		rc = write_rec(q, recs[i]);
	if (rc == DB_OK && (rc = db_commit(db)) == DB_OK) {
		for (i = 0; i < n; i++)
			if (recs[i]->kind == REC_PAUSE)
				spool_hold_end(q, recs[i]->id);
		return DB_OK;
	}
	db_rollback(db);
	return rc;
}

static const char *
msgq_rec_noun(const struct rec *r)
{
	return r->kind == REC_PAUSE ? "account" : "message";
}

/* Fails a message for a reason of the spooler's own. */
static void
fail_record(struct queue *q, unsigned long long id, bool has_code, int code,
    const char *title, const char *message)
{
	struct pol_outcome o;

	memset(&o, 0, sizeof(o));
	o.has_code = has_code;
	o.code = code;
	snprintf(o.title, sizeof(o.title), "%s", title);
	utf8_truncate(o.title, POL_TITLE_MAX);
	snprintf(o.message, sizeof(o.message), "%s", message);
	utf8_truncate(o.message, POL_MESSAGE_MAX);
	rec_push(q, REC_FAILED, id, &o, 0);
	msgq(q)->n_failed++;
}

/* Fails a claimed message without sending it. */
static void
fail_local(struct queue *q, unsigned long long id, bool has_code, int code,
    const char *title, const char *message)
{
	log_warnx("message %llu: failed without sending: %s (%s)", id,
	    title, message);
	fail_record(q, id, has_code, code, title, message);
}

/* ---- accounts -------------------------------------------------------- */

/* The request headers of an account, with its token opened from the
 * sealed column. NULL if it does not open under our master key. */
static struct curl_slist *
acct_headers(struct queue *q, const char *sealed, size_t len)
{
	struct curl_slist *h;
	char *token;

	if (len < SECRET_OVERHEAD)
		return NULL;
	token = xmalloc(len - SECRET_OVERHEAD + 1);
	if (secret_open(msgq(q)->key, (const uint8_t *)sealed, len,
	    token) == -1) {
		free(token);
		return NULL;
	}
	h = graph_headers(token);
	sodium_memzero(token, strlen(token));
	free(token);
	return h;
}

/* A row of SQL_SPOOL_ACCOUNTS (lib/sql.h: SA_*): id, phone_number_id,
 * sealed access token, mps. */
static int
msgq_lane_open(struct queue *q, struct lane *l, const struct db_res *res,
    size_t row, uint32_t *mps)
{
	long long n = db_int(res, row, SA_MPS);
	struct acct *a;
	char *url;

	if ((url = graph_url(spool_opts(q->s)->cfg->graph_api_base,
	    db_str(res, row, SA_PHONE_ID), "messages")) == NULL) {
		log_warnx("account %llu: phone_number_id is not usable in a "
		    "URL; skipped", l->id);
		return -1;
	}
	a = xcalloc(1, sizeof(*a));
	a->url = url;
	if ((a->headers = acct_headers(q, db_str(res, row, SA_TOKEN),
	    db_len(res, row, SA_TOKEN))) == NULL) {
		log_warnx("account %llu: the access token does not open under "
		    "the master key; skipped for %d s", l->id,
		    SPOOL_BAD_LANE_S);
		free(a->url);
		free(a);
		return -1;
	}
	l->data = a;
	*mps = n > 0 ? (uint32_t)(n > 1000000 ? 1000000 : n) : 0;
	return 0;
}

static void
msgq_lane_close(struct lane *l)
{
	struct acct *a = l->data;

	if (a == NULL)
		return;
	graph_headers_free(a->headers);
	free(a->url);
	free(a);
	l->data = NULL;
}

/* ---- claims and requests --------------------------------------------- */

/* A campaign's row in the claim's reads: its status is 'running'. */
static bool
camp_running(const struct camp_rows *cr, unsigned long long id)
{
	size_t i;

	for (i = 0; i < cr->camps.nrows; i++)
		if ((unsigned long long)db_int(&cr->camps, i, CSCAMP_ID) == id)
			return !strcmp(db_str(&cr->camps, i, CSCAMP_STATUS),
			    "running");
	return false;	/* gone: nothing to send it for */
}

/* A contact's row in the claim's reads (in id order), or -1: deleted. */
static long
contact_row(const struct camp_rows *cr, unsigned long long id)
{
	size_t lo = 0, hi = cr->contacts.nrows, mid;
	unsigned long long v;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		v = (unsigned long long)db_int(&cr->contacts, mid, CSCON_ID);
		if (v == id)
			return (long)mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Appends id to a JSON array being built in buf ("[1,2"), unless it is
 * there already (campaigns: few per claim). */
static void
ids_add(char *buf, size_t *len, size_t cap, unsigned long long id,
    bool dedup)
{
	char one[24];
	int n;

	n = snprintf(one, sizeof(one), "%llu", id);
	if (dedup) {
		const char *p = buf + 1;
		while (*p != '\0') {
			if (!strncmp(p, one, (size_t)n) &&
			    (p[n] == ',' || p[n] == '\0'))
				return;
			p = strchr(p, ',');
			if (p == NULL)
				break;
			p++;
		}
	}
	*len += (size_t)snprintf(buf + *len, cap - *len, "%s%s",
	    *len > 1 ? "," : "", one);
}

/* Reads what the claim's campaign messages need: one query for their
 * campaigns, one for their contacts. false when none is a campaign's. */
static bool
camp_read(struct queue *q, const struct db_res *res, struct camp_rows *cr,
    int64_t now)
{
	struct pool *pool = spool_pool(q->s);
	struct db *db = spool_db(q->s);
	size_t i, cap = res->nrows * 22 + 3, nc = 0, nk = 0;
	char *camps, *contacts;
	struct db_arg a;
	enum db_rc rc;

	memset(cr, 0, sizeof(*cr));
	for (i = 0; i < res->nrows; i++)
		if (!db_isnull(res, i, SC_CAMPAIGN))
			break;
	if (i == res->nrows)
		return false;
	camps = pool_alloc(pool, cap);
	contacts = pool_alloc(pool, cap);
	camps[nc++] = '[';
	camps[nc] = '\0';
	contacts[nk++] = '[';
	contacts[nk] = '\0';
	for (; i < res->nrows; i++) {
		if (db_isnull(res, i, SC_CAMPAIGN))
			continue;
		ids_add(camps, &nc, cap, (unsigned long long)db_int(res, i,
		    SC_CAMPAIGN), true);
		ids_add(contacts, &nk, cap, (unsigned long long)db_int(res, i,
		    SC_CONTACT), false);
	}
	snprintf(camps + nc, cap - nc, "]");
	snprintf(contacts + nk, cap - nk, "]");
	a = DBA_STR(camps);
	if ((rc = db_query(db, pool, SQL_CSEND_CAMPAIGNS, &a, 1,
	    &cr->camps)) == DB_OK) {
		a = DBA_STR(contacts);
		rc = db_query(db, pool, SQL_CSEND_CONTACTS, &a, 1,
		    &cr->contacts);
	}
	if (rc != DB_OK)
		spool_db_trouble(q->s, rc, "reading campaign recipients", now);
	else
		cr->read = true;
	return true;
}

/* Fails a claimed campaign message for its recipient, without a request. */
static void
fail_recipient(struct queue *q, unsigned long long id, int code,
    const char *title, const char *message)
{
	log_info("message %llu: failed without sending: %s", id, title);
	fail_record(q, id, true, code, title, message);
}

/* A claimed campaign message: parked, failed, or its request body with
 * the contact's values (NULL then). */
static char *
campaign_body(struct queue *q, const struct db_res *res, size_t row,
    struct camp_rows *cr, unsigned long long id, unsigned long long campaign,
    char *err, size_t errsz, bool *bad)
{
	const char *to = db_str(res, row, SC_TO), *type = db_str(res, row, SC_TYPE);
	struct json_object *custom = NULL;
	struct ph_contact who;
	char why[POL_MESSAGE_MAX];
	enum payload_rc rc;
	char *body;
	long k;

	*bad = false;
	if (!cr->read) {
		/* The reads failed (logged): again once the database is
		 * back, this attempt not counted. */
		rec_push(q, REC_REQUEUE, id, NULL, US);
		msgq(q)->n_requeued++;
		return NULL;
	}
	if (!camp_running(cr, campaign)) {
		rec_push(q, REC_PARK, id, NULL, 0);
		msgq(q)->n_parked++;
		cr->parked++;
		return NULL;
	}
	if ((k = contact_row(cr, (unsigned long long)db_int(res, row,
	    SC_CONTACT))) < 0) {
		fail_recipient(q, id, 131026, "Contact deleted", "The contact "
		    "was deleted before its campaign message was sent.");
		return NULL;
	}
	if (db_int(&cr->contacts, (size_t)k, CSCON_OPTED_OUT) != 0) {
		fail_recipient(q, id, 131050, "Contact opted out", "The contact "
		    "opted out after the campaign's audience was taken; not "
		    "sent.");
		return NULL;
	}
	if (!db_isnull(&cr->contacts, (size_t)k, CSCON_CUSTOM))
		custom = json_tokener_parse(db_str(&cr->contacts, (size_t)k,
		    CSCON_CUSTOM));
	who.name = db_str(&cr->contacts, (size_t)k, CSCON_NAME);
	who.phone = db_str(&cr->contacts, (size_t)k, CSCON_PHONE);
	who.email = db_str(&cr->contacts, (size_t)k, CSCON_EMAIL);
	who.custom = custom != NULL && json_object_is_type(custom,
	    json_type_object) ? custom : NULL;
	body = payload_build_for(id, to != NULL ? to : "", type != NULL ? type :
	    "", db_str(res, row, SC_CONTENT), db_len(res, row, SC_CONTENT), &who,
	    &rc, err, errsz);
	json_object_put(custom);
	if (rc == PAYLOAD_MISSING) {
		snprintf(why, sizeof(why), "The contact has no value for %s and "
		    "it has no fallback.", err);
		fail_recipient(q, id, 131008, "Required parameter is missing",
		    why);
		return NULL;
	}
	if (rc == PAYLOAD_TOO_LONG) {
		fail_recipient(q, id, 132005, "Hydrated text too long",
		    "A text parameter filled with the contact's values is "
		    "longer than " PAYLOAD_TEXT_MAX_S " bytes.");
		return NULL;
	}
	*bad = body == NULL;
	return body;
}

/* Starts one claimed row's request, or fails it when it cannot go. */
static void
start_message(struct queue *q, struct lane *l, const struct db_res *res,
    size_t row, struct camp_rows *cr, int64_t now)
{
	struct acct *a = l->data;
	unsigned long long id = (unsigned long long)db_int(res, row, SC_ID);
	unsigned long long campaign = db_isnull(res, row, SC_CAMPAIGN) ? 0 :
	    (unsigned long long)db_int(res, row, SC_CAMPAIGN);
	const char *to = db_str(res, row, SC_TO), *type = db_str(res, row, SC_TYPE);
	long long attempts = db_int(res, row, SC_ATTEMPTS), age = db_int(res, row, SC_AGE);
	char err[256], why[128];
	struct http_req req;
	struct msg *m;
	char *body;
	bool bad = true;

	if (attempts >= POL_MAX_ATTEMPTS || age >= POL_MAX_AGE_S) {
		snprintf(why, sizeof(why), "gave up after %lld attempts over "
		    "%lld minutes", attempts, age / 60);
		fail_local(q, id, !db_isnull(res, row, SC_ERR_CODE),
		    (int)db_int(res, row, SC_ERR_CODE), db_isnull(res, row, SC_ERR_TITLE) ?
		    "Not sent" : db_str(res, row, SC_ERR_TITLE), why);
		return;
	}
	if (campaign != 0) {
		body = campaign_body(q, res, row, cr, id, campaign, err,
		    sizeof(err), &bad);
		if (body == NULL && !bad)
			return;		/* parked, requeued or failed */
	} else
		body = payload_build(id, to != NULL ? to : "", type != NULL ?
		    type : "", db_str(res, row, SC_CONTENT), db_len(res, row,
		    SC_CONTENT), err, sizeof(err));
	if (body == NULL) {
		fail_local(q, id, true, 100, "Message content cannot be sent",
		    err);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->id = id;
	m->campaign = campaign;
	m->attempt = (int)attempts + 1;
	m->age_s = age;
	memset(&req, 0, sizeof(req));
	req.url = a->url;
	req.headers = a->headers;
	req.body = body;
	req.len = strlen(body);
	req.ctx = m;
	spool_start(q, l, &req, id, m->attempt, now);
}

/* Claims up to n due messages of one lane of an account (SQL_SPOOL_CLAIM:
 * conversational, SQL_CSEND_CLAIM: a campaign's): locked, marked
 * 'sending' and committed before any request starts. Returns the rows
 * claimed, or -1. */
static int
claim_lane(struct queue *q, struct lane *l, enum sql claim, size_t n,
    int64_t now)
{
	struct pool *pool = spool_pool(q->s);
	struct camp_rows cr;
	struct db_res res;
	const char *ids;
	enum db_rc rc;
	uint64_t marked;
	size_t i;

	if ((rc = spool_claim(q, claim, l->id, n, SQL_SPOOL_MARK_SENDING,
	    NULL, 0, SQL_SPOOL_UNCLAIM, &res, &ids, &marked)) != DB_OK) {
		spool_db_trouble(q->s, rc, "claiming messages", now);
		return -1;
	}
	if (res.nrows == 0)
		return 0;
	spool_db_fine(q->s);
	if (marked != res.nrows)
		log_warnx("account %llu: claimed %zu messages, marked %" PRIu64,
		    l->id, res.nrows, marked);
	(void)camp_read(q, &res, &cr, now);
	for (i = 0; i < res.nrows; i++)
		start_message(q, l, &res, i, &cr, now);
	if (cr.parked > 0)
		log_info("account %llu: %lu message(s) of campaigns no longer "
		    "running parked", l->id, cr.parked);
	pool_reset(pool);
	return (int)res.nrows;
}

/* Claims up to n due messages of an account: the conversational ones
 * first, then, in what room is left, a running campaign's. */
static int
msgq_claim(struct queue *q, struct lane *l, size_t n, int64_t now)
{
	int got, more;

	if ((got = claim_lane(q, l, SQL_SPOOL_CLAIM, n, now)) < 0)
		return -1;
	if ((size_t)got >= n)
		return got;
	if ((more = claim_lane(q, l, SQL_CSEND_CLAIM, n - (size_t)got,
	    now)) < 0)
		return got > 0 ? got : -1;
	return got + more;
}

/* ---- answers --------------------------------------------------------- */

static void
pause_account(struct queue *q, struct lane *l, const struct pol_outcome *o,
    int64_t now)
{
	if (l->paused)
		return;
	l->paused = true;
	log_warnx("account %llu: paused for %d s after error %d (%s): %s",
	    l->id, o->base_s, o->code, o->title, o->message);
	/* Held off here until the pause is on the account's row (then the
	 * row holds it, and an operator's resume reaches us too). The
	 * record carries the pause's end, not its length: written late (a
	 * journal adopted after a day), it cannot pause the account anew. */
	spool_hold_off(q, l->id, now + (int64_t)o->base_s * US);
	rec_push(q, REC_PAUSE, l->id, NULL, (int64_t)time(NULL) + o->base_s);
}

static void
msgq_result(struct queue *q, struct job *j, const struct http_done *d,
    int64_t now)
{
	struct msgq *mq = msgq(q);
	struct msg *m = (struct msg *)j;
	struct pol_outcome o;
	int64_t delay;

	graph_classify(d, &o);
	switch (o.action) {
	case POL_SENT:
		if (o.wamid[0] == '\0')
			log_warnx("message %llu: HTTP %ld without a readable "
			    "wamid; recorded as sent", m->id, d->http_status);
		rec_push(q, REC_SENT, m->id, &o, 0);
		mq->n_sent++;
		break;
	case POL_PERMANENT:
		log_warnx("message %llu: failed: error %d (%s), HTTP %ld",
		    m->id, o.code, o.title, d->http_status);
		rec_push_campaign(q, REC_FAILED, m->id, &o, 0,
		    o.stop_campaign ? m->campaign : 0);
		mq->n_failed++;
		break;
	case POL_RETRY:
	case POL_RETRY_RECIPIENT:
		if (policy_give_up(&o, m->attempt, m->age_s)) {
			log_warnx("message %llu: failed after %d attempts: "
			    "%s%d (%s)", m->id, m->attempt,
			    o.has_code ? "error " : "HTTP ",
			    o.has_code ? o.code : (int)d->http_status, o.title);
			rec_push(q, REC_FAILED, m->id, &o, 0);
			mq->n_failed++;
			break;
		}
		delay = policy_backoff_us(&o, m->attempt, random01());
		log_warnx("message %llu: attempt %d: %s%d (%s); retry in "
		    "%.1f s", m->id, m->attempt, o.has_code ? "error " :
		    d->curl_ok ? "HTTP " : "transport ", o.has_code ? o.code :
		    d->curl_ok ? (int)d->http_status : d->curl_code, o.title,
		    (double)delay / US);
		rec_push(q, REC_RETRY, m->id, &o, delay);
		mq->n_retried++;
		break;
	case POL_PAUSE_ACCOUNT:
		pause_account(q, j->lane, &o, now);
		if (o.stop_campaign && m->campaign != 0) {
			/* The account cannot send marketing: the campaign
			 * stops, this recipient failed with the error. */
			log_warnx("message %llu: failed: error %d (%s), HTTP "
			    "%ld; its campaign %llu stops", m->id, o.code,
			    o.title, d->http_status, m->campaign);
			rec_push_campaign(q, REC_FAILED, m->id, &o, 0,
			    m->campaign);
			mq->n_failed++;
			break;
		}
		/* Due at once: the account's pause is what it waits for. */
		rec_push(q, REC_REQUEUE, m->id, &o, 0);
		mq->n_requeued++;
		break;
	case POL_AMBIGUOUS:
		log_warnx("message %llu: no answer to a request that may have "
		    "reached Meta (%s); left 'sending' for a status webhook "
		    "or recovery after %d s", m->id, o.message,
		    spool_opts(q->s)->cfg->spooler_resend_grace);
		rec_push(q, REC_AMBIGUOUS, m->id, NULL, 0);
		mq->n_ambiguous++;
		break;
	}
	free(m);
}

/* ---- recovery -------------------------------------------------------- */

/* Queues again the messages left 'sending' that no live spooler answers
 * for, once (the blind resend), and fails those already resent once. */
static void
msgq_recover(struct queue *q, int64_t now)
{
	struct db *db = spool_db(q->s);
	struct pool *pool = spool_pool(q->s);
	int grace = spool_opts(q->s)->cfg->spooler_resend_grace;
	struct db_arg a = DBA_INT(grace);
	struct db_res res;
	char why[256];
	uint64_t n = 0;
	enum db_rc rc;
	size_t i;

	if ((rc = db_exec(db, SQL_SPOOL_RECOVER, &a, 1, &n, NULL)) != DB_OK) {
		spool_db_trouble(q->s, rc, "recovery", now);
		return;
	}
	if (n > 0)
		log_warnx("recovered %" PRIu64 " message(s) left 'sending' for "
		    "over %d s: queued again (their one blind resend)", n,
		    grace);
	if ((rc = db_query(db, pool, SQL_SPOOL_UNRESOLVED, &a, 1, &res)) !=
	    DB_OK) {
		spool_db_trouble(q->s, rc, "recovery", now);
		return;
	}
	snprintf(why, sizeof(why), "No answer from the Graph API to a "
	    "request that may have reached Meta, twice (the first send and "
	    "one blind resend), and no status webhook within %d s; not sent "
	    "again, to avoid a duplicate", grace);
	for (i = 0; i < res.nrows; i++) {
		unsigned long long id = (unsigned long long)db_int(&res, i, 0);
		log_warnx("message %llu: failed: still no answer after its blind "
		    "resend", id);
		fail_record(q, id, true, LOCAL_CODE, AMBIGUOUS_TITLE, why);
	}
	pool_reset(pool);
}

const struct queue_ops queue_message = {
	.name = "message",
	.lane_name = "account",
	.sql_lanes = SQL_SPOOL_ACCOUNTS,
	.sql_lease = SQL_SPOOL_LEASE,
	.sql_release = SQL_SPOOL_RELEASE,
	.open = msgq_open,
	.close = msgq_close,
	.lane_open = msgq_lane_open,
	.lane_close = msgq_lane_close,
	.claim = msgq_claim,
	.result = msgq_result,
	.write = msgq_write,
	.write_many = msgq_write_many,
	.rec_noun = msgq_rec_noun,
	.recover = msgq_recover,
};
