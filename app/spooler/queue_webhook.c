/* The webhooks queue: outgoing webhook deliveries (SPEC 6, the issue 11
 * design), one lane per webhook (webhook_state: its lease; webhooks: its
 * URL and sealed secrets). The loop is spool.c's; here are the claim, the
 * signed request, the reading of the answer (whpolicy.c) and the writes
 * of the results.
 *
 * Claim: up to n due pending deliveries of a webhook (SELECT ... FOR
 * UPDATE SKIP LOCKED) get this spooler as sending_holder, one more
 * attempt (and round attempt), and next_attempt_at pushed a minute ahead
 * (the claim's expiry: a spooler that dies leaves them due again, so
 * delivery is at least once), committed; then their bodies are read
 * without locks, built in SQL (the exact bytes signed, the same on every
 * attempt). The webhook's row is read again at every claim, so a PUT of
 * its url or secret takes effect at once.
 *
 * Answers: 2xx succeeded; 410 failed and the webhook disabled; anything
 * else (3xx included: never followed) a failed attempt, due again after
 * 10 s x 3^(n-1) with jitter (a 429/503's Retry-After within [wait,
 * 2 x wait]) until the round's 24 h (all scaled by webhooks.time_scale),
 * then failed. Each result is one call of wz_delivery_result
 * (sql/routines/deliveries.sql) in a transaction of its own, which
 * applies it only to the claim it is of.
 *
 * SSRF: unless webhooks.allow_private_targets, every address a
 * connection is opened to passes netcheck.c (after DNS), and checked
 * requests keep their connections apart from unchecked ones (http.c).
 *
 * Per-host cap: at most webhooks.max_per_host requests in flight to one
 * host (and port), across the webhooks (lanes) of this spooler (the room
 * op). Two more bounds there, as the HTTP client (max_inflight) is
 * shared with the messages: all webhook requests together at most half
 * of max_inflight, and one tenant's at most 2 x max_per_host (its 25
 * webhooks on 25 ports of a slow host would else take every slot). */
#include <inttypes.h>
#include <stdarg.h>
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
#include "http.h"
#include "journal.h"
#include "log.h"
#include "netcheck.h"
#include "pool.h"
#include "queue.h"
#include "queues.h"
#include "spool.h"
#include "text.h"
#include "whpolicy.h"
#include "xmalloc.h"

#define ERROR_MAX	512		/* webhook_deliveries.last_error */

/* A target host and its requests in flight (the per-host cap). */
struct host {
	struct host		*next;
	char			*name;
	unsigned		 inflight;
	unsigned		 refs;
};

/* A tenant and its webhook requests in flight (the per-tenant cap). */
struct tenant {
	struct tenant		*next;
	unsigned long long	 id;
	unsigned		 inflight;
	unsigned		 refs;
};

struct whq {
	uint8_t			 key[MASTER_KEY_LEN];
	struct host		*hosts;
	struct tenant		*tenants;
	unsigned		 inflight;	/* all webhook requests */
	unsigned long		 n_ok, n_failed, n_retried, n_gone;
};

/* A webhook (a lane's data): its target and its secrets, opened. */
struct hook {
	char			*url;
	struct host		*host;
	struct tenant		*tenant;
	char			*secret;	/* wiped */
	char			*old;		/* the replaced one while it
						   still signs; wiped */
	uint8_t			*sealed, *old_sealed;	/* as read: a change
						   shows */
	size_t			 sealed_len, old_sealed_len;
	bool			 old_valid;
};

/* One request's context. */
struct wjob {
	struct job		 job;		/* first: the loop's */
	unsigned long long	 id;
	int			 attempt;	/* the delivery's, as claimed */
	unsigned		 round_attempt;
	int64_t			 at_ms;		/* started, unix ms */
	int64_t			 left_ms;	/* to the round's end, then */
	int64_t			 started;	/* spool_now() */
	struct host		*host;
	struct tenant		*tenant;
	char			*target;	/* the URL's host as written */
	struct curl_slist	*headers;
};

static struct whq *
whq(struct queue *q)
{
	return q->state;
}

static double
scale(struct queue *q)
{
	return spool_opts(q->s)->cfg->webhooks_time_scale;
}

static void *
whq_open(struct queue *q)
{
	const struct spool_opts *o = spool_opts(q->s);
	struct whq *w = xcalloc(1, sizeof(*w));

	if (spool_master_key(q, w->key) == -1) {
		free(w);
		return NULL;
	}
	if (o->cfg->webhooks_allow_private_targets)
		log_info("webhooks.allow_private_targets is on: deliveries "
		    "may reach loopback and private addresses");
	return w;
}

static void
whq_close(struct queue *q, char *sum, size_t sumlen)
{
	struct whq *w = whq(q);
	struct host *h;
	struct tenant *t;

	snprintf(sum, sumlen, "%lu webhook deliveries succeeded, %lu failed, %lu "
	    "retried, %lu answered 410", w->n_ok, w->n_failed, w->n_retried,
	    w->n_gone);
	while ((h = w->hosts) != NULL) {
		w->hosts = h->next;
		free(h->name);
		free(h);
	}
	while ((t = w->tenants) != NULL) {
		w->tenants = t->next;
		free(t);
	}
	sodium_memzero(w->key, sizeof(w->key));
	free(w);
}

static int64_t
unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
random01(void)
{
	return (double)randombytes_uniform(1000001) / 1e6;
}

/* ---- hosts ----------------------------------------------------------- */

static struct host *
host_get(struct whq *w, const char *name)
{
	struct host *h;

	for (h = w->hosts; h != NULL; h = h->next)
		if (strcmp(h->name, name) == 0)
			break;
	if (h == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->name = xstrdup(name);
		h->next = w->hosts;
		w->hosts = h;
	}
	h->refs++;
	return h;
}

static void
host_put(struct whq *w, struct host *h)
{
	struct host **hp;

	if (h == NULL || --h->refs > 0)
		return;
	for (hp = &w->hosts; *hp != NULL; hp = &(*hp)->next)
		if (*hp == h) {
			*hp = h->next;
			break;
		}
	free(h->name);
	free(h);
}

static struct tenant *
tenant_get(struct whq *w, unsigned long long id)
{
	struct tenant *t;

	for (t = w->tenants; t != NULL; t = t->next)
		if (t->id == id)
			break;
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->id = id;
		t->next = w->tenants;
		w->tenants = t;
	}
	t->refs++;
	return t;
}

static void
tenant_put(struct whq *w, struct tenant *t)
{
	struct tenant **tp;

	if (t == NULL || --t->refs > 0)
		return;
	for (tp = &w->tenants; *tp != NULL; tp = &(*tp)->next)
		if (*tp == t) {
			*tp = t->next;
			break;
		}
	free(t);
}

/* The URL's host and port ("example.com:443", lowercased: what the
 * per-host cap counts, as curl's connections do); NULL when it has no
 * host. */
static char *
url_host(const char *url)
{
	CURLU *u = curl_url();
	char *part = NULL, *port = NULL, *host = NULL, *p;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK &&
	    part != NULL && *part != '\0' &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK && port != NULL) {
		xasprintf(&host, "%s:%s", part, port);
		for (p = host; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	curl_free(part);
	curl_free(port);
	curl_url_cleanup(u);
	return host;
}

/* The URL's host as written in it (for texts the tenant reads); NULL if
 * none. */
static char *
url_target(const char *url)
{
	CURLU *u = curl_url();
	char *part = NULL, *host = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK &&
	    part != NULL)
		host = xstrdup(part);
	curl_free(part);
	curl_url_cleanup(u);
	return host;
}

/* ---- webhooks (lanes) ------------------------------------------------ */

/* A sealed secret opened; NULL if it does not open. */
static char *
secret_of(struct queue *q, const char *sealed, size_t len)
{
	char *s;

	if (sealed == NULL || len < SECRET_OVERHEAD)
		return NULL;
	s = xmalloc(len - SECRET_OVERHEAD + 1);
	if (secret_open(whq(q)->key, (const uint8_t *)sealed, len, s) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void
hook_free(struct queue *q, struct hook *k)
{
	if (k == NULL)
		return;
	host_put(whq(q), k->host);
	tenant_put(whq(q), k->tenant);
	wipe_free(k->secret);
	wipe_free(k->old);
	free(k->url);
	free(k->sealed);
	free(k->old_sealed);
	free(k);
}

static uint8_t *
bytes_dup(const char *p, size_t n)
{
	uint8_t *b = xmalloc(n > 0 ? n : 1);

	if (n > 0)
		memcpy(b, p, n);
	return b;
}

/* Whether a row (WHL_*) shows the webhook as the lane has it. */
static bool
hook_same(const struct hook *k, const struct db_res *res, size_t row)
{
	bool old_valid = db_int(res, row, WHL_OLD_VALID) != 0 &&
	    !db_isnull(res, row, WHL_OLD_SECRET);

	return strcmp(k->url, db_str(res, row, WHL_URL)) == 0 &&
	    k->sealed_len == db_len(res, row, WHL_SECRET) &&
	    memcmp(k->sealed, db_str(res, row, WHL_SECRET), k->sealed_len) ==
	    0 && k->old_valid == old_valid && (!old_valid ||
	    (k->old_sealed_len == db_len(res, row, WHL_OLD_SECRET) &&
	    memcmp(k->old_sealed, db_str(res, row, WHL_OLD_SECRET),
	    k->old_sealed_len) == 0));
}

/* A webhook's lane data from a row (WHL_*); NULL (logged) if it cannot be
 * delivered to. */
static struct hook *
hook_new(struct queue *q, unsigned long long id, const struct db_res *res,
    size_t row)
{
	struct hook *k = xcalloc(1, sizeof(*k));
	char *host;

	k->url = xstrdup(db_str(res, row, WHL_URL));
	k->sealed_len = db_len(res, row, WHL_SECRET);
	k->sealed = bytes_dup(db_str(res, row, WHL_SECRET), k->sealed_len);
	k->old_valid = db_int(res, row, WHL_OLD_VALID) != 0 &&
	    !db_isnull(res, row, WHL_OLD_SECRET);
	if (k->old_valid) {
		k->old_sealed_len = db_len(res, row, WHL_OLD_SECRET);
		k->old_sealed = bytes_dup(db_str(res, row, WHL_OLD_SECRET),
		    k->old_sealed_len);
	}
	if ((host = url_host(k->url)) == NULL) {
		log_warnx("webhook %llu: the url has no host; skipped for "
		    "%d s", id, SPOOL_BAD_LANE_S);
		hook_free(q, k);
		return NULL;
	}
	k->host = host_get(whq(q), host);
	free(host);
	if ((k->secret = secret_of(q, (const char *)k->sealed,
	    k->sealed_len)) == NULL ||
	    (k->old_valid && (k->old = secret_of(q,
	    (const char *)k->old_sealed, k->old_sealed_len)) == NULL)) {
		log_warnx("webhook %llu: the secret does not open under the "
		    "master key; skipped for %d s", id, SPOOL_BAD_LANE_S);
		hook_free(q, k);
		return NULL;
	}
	return k;
}

static int
whq_lane_open(struct queue *q, struct lane *l, const struct db_res *res,
    size_t row, uint32_t *mps)
{
	struct hook *k;

	if ((k = hook_new(q, l->id, res, row)) == NULL)
		return -1;
	k->tenant = tenant_get(whq(q), (unsigned long long)db_int(res, row,
	    WHL_TENANT));
	l->data = k;
	*mps = 0;		/* no rate limit; the per-host cap bounds it */
	return 0;
}

static void
whq_lane_close(struct lane *l)
{
	struct hook *k = l->data;

	if (k == NULL)
		return;
	hook_free(l->q, k);
	l->data = NULL;
}

static size_t
whq_room(struct queue *q, struct lane *l)
{
	const struct spool_opts *o = spool_opts(q->s);
	const struct whq *w = whq(q);
	const struct hook *k = l->data;
	unsigned cap = (unsigned)o->cfg->webhooks_max_per_host;
	/* All webhooks at most half the client's slots: the messages keep
	 * the rest. One tenant at most two hosts' worth. */
	unsigned all = o->max_inflight / 2 > 0 ?
	    (unsigned)(o->max_inflight / 2) : 1;
	unsigned mine = 2 * cap;
	unsigned room;

	if (k == NULL || k->host->inflight >= cap || w->inflight >= all ||
	    (k->tenant != NULL && k->tenant->inflight >= mine))
		return 0;
	/* Busy: wait for a quarter of the slots to free rather than run a
	 * claim (a transaction) per answer. An answer wakes the loop. */
	room = cap - k->host->inflight;
	if (k->host->inflight > 0 && room < (cap + 3) / 4)
		return 0;
	if (room > all - w->inflight)
		room = all - w->inflight;
	if (k->tenant != NULL && room > mine - k->tenant->inflight)
		room = mine - k->tenant->inflight;
	return room;
}

/* ---- records --------------------------------------------------------- */

static void
rec_push(struct queue *q, enum rec_kind kind, const struct wjob *j,
    const struct http_done *d, enum wh_class cls, const char *error,
    int64_t wait_ms)
{
	struct rec *r = xcalloc(1, sizeof(*r));
	char excerpt[WH_EXCERPT_MAX + 1], clean[ERROR_MAX + 1];

	r->kind = kind;
	r->id = j->id;
	r->attempt = j->attempt;
	r->at_ms = j->at_ms;
	r->delay_us = wait_ms * 1000;
	if (d != NULL) {
		r->duration_ms = d->total_ms > 0 ? d->total_ms : 0;
		if (d->curl_ok) {
			r->has_code = true;
			r->code = (int)d->http_status;
			if (d->len > 0 && wh_excerpt(d->body, d->len,
			    excerpt) > 0)
				r->response = xstrdup(excerpt);
		}
	}
	/* Every text of a record is valid UTF-8 cut between characters:
	 * the database (utf8mb4, strict) refuses anything else, and a
	 * refused record is written again and again (a Location of bad
	 * bytes, or one cut mid-character by the header capture or err[]). */
	if (wh_class_name(cls) != NULL) {
		wh_clean(wh_class_name(cls), strlen(wh_class_name(cls)), clean,
		    32);
		r->wclass = xstrdup(clean);
	}
	if (error != NULL) {
		wh_clean(error, strlen(error), clean, ERROR_MAX);
		r->message = xstrdup(clean);
	}
	spool_record(q, r);
}

static enum db_rc	 result_call(struct queue *, struct rec *);

static enum db_rc
whq_write(struct queue *q, struct rec *r)
{
	struct db *db = spool_db(q->s);
	enum db_rc rc;

	if (r->kind < REC_WH_SUCCEEDED || r->kind > REC_WH_GONE)
		return DB_ERR;	/* not ours: kept, never written */
	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	if ((rc = result_call(q, r)) == DB_OK && (rc = db_commit(db)) == DB_OK)
		return DB_OK;
	db_rollback(db);
	return rc;
}

/* Records in one transaction: the successes (nearly all, at speed) with
 * one statement for all of them (wz_delivery_succeeded: set-based, the
 * same writes as wz_delivery_result's for a success), the rest one call
 * each. */
static enum db_rc
whq_write_many(struct queue *q, struct rec *const *recs, size_t n)
{
	struct db *db = spool_db(q->s);
	struct json_object *ok = json_object_new_array(), *o;
	struct db_arg a;
	enum db_rc rc;
	size_t i;

	for (i = 0; i < n; i++)
		if (recs[i]->kind < REC_WH_SUCCEEDED ||
		    recs[i]->kind > REC_WH_GONE) {
			json_object_put(ok);
			return DB_ERR;	/* write tells which */
		}
	if ((rc = db_begin(db)) != DB_OK) {
		json_object_put(ok);
		return rc;
	}
	for (i = 0; i < n && rc == DB_OK; i++) {
		const struct rec *r = recs[i];
		if (r->kind != REC_WH_SUCCEEDED) {
			rc = result_call(q, recs[i]);
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int64(
		    (int64_t)r->id));
		json_object_object_add(o, "holder", r->holder != NULL ?
		    json_object_new_string(r->holder) : NULL);
		json_object_object_add(o, "attempt",
		    json_object_new_int(r->attempt));
		json_object_object_add(o, "at_ms",
		    json_object_new_int64(r->at_ms));
		json_object_object_add(o, "duration_ms",
		    json_object_new_int64(r->duration_ms));
		json_object_object_add(o, "status", r->has_code ?
		    json_object_new_int(r->code) : NULL);
		json_object_object_add(o, "response", r->response != NULL ?
		    json_object_new_string(r->response) : NULL);
		json_object_array_add(ok, o);
	}
	if (rc == DB_OK && json_object_array_length(ok) > 0) {
		a = DBA_STR(json_object_to_json_string_ext(ok,
		    JSON_C_TO_STRING_PLAIN));
		rc = db_exec(db, SQL_WH_SUCCEEDED, &a, 1, NULL, NULL);
	}
	json_object_put(ok);
	if (rc == DB_OK && (rc = db_commit(db)) == DB_OK)
		return DB_OK;
	db_rollback(db);
	return rc;
}

/* One record through wz_delivery_result, in the caller's transaction. */
static enum db_rc
result_call(struct queue *q, struct rec *r)
{
	static const char *const outcome[] = {
		[REC_WH_SUCCEEDED] = "succeeded", [REC_WH_RETRY] = "retry",
		[REC_WH_FAILED] = "failed", [REC_WH_GONE] = "gone",
	};
	struct db *db = spool_db(q->s);
	struct pool *pool = spool_pool(q->s);
	struct db_arg a[12];
	struct db_res res;

	a[0] = DBA_INT(r->id);
	a[1] = DBA_STR(r->holder);
	a[2] = DBA_INT(r->attempt);
	a[3] = DBA_INT(r->at_ms);
	a[4] = DBA_INT(r->duration_ms);
	a[5] = r->has_code ? DBA_INT(r->code) : DBA_NULL;
	a[6] = DBA_STR(r->wclass);
	a[7] = DBA_STR(r->message);
	a[8] = DBA_STR(r->response);
	a[9] = DBA_STR(outcome[r->kind]);
	a[10] = DBA_INT(r->delay_us / 1000);
	a[11] = DBA_INT((int64_t)((double)WH_DISABLE_MS * scale(q)));
	return db_query(db, pool, SQL_WH_RESULT, a, 12, &res);
}

static const char *
whq_rec_noun(const struct rec *r)
{
	(void)r;
	return "webhook delivery";
}

/* ---- claims and requests --------------------------------------------- */

static int
check_addr(const struct sockaddr *sa, socklen_t len, void *arg)
{
	(void)arg;
	return net_classify(sa, len) == NET_PUBLIC ? 0 : -1;
}

static const char *
why_addr(const struct sockaddr *sa, socklen_t len)
{
	return net_class_text(net_classify(sa, len));
}

static struct curl_slist *
add_header(struct curl_slist *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct curl_slist *
add_header(struct curl_slist *h, const char *fmt, ...)
{
	struct curl_slist *n;
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		log_fatalx("vasprintf failed");
	va_end(ap);
	if ((n = curl_slist_append(h, line)) == NULL)
		log_fatalx("curl_slist_append failed");
	free(line);
	return n;
}

/* Fails a claimed delivery without a request. */
static void
fail_local(struct queue *q, struct wjob *j, const char *why)
{
	log_warnx("delivery %llu: failed without a request: %s", j->id, why);
	rec_push(q, REC_WH_FAILED, j, NULL, WHC_TRANSPORT, why, 0);
	whq(q)->n_failed++;
}

/* Starts one claimed delivery's attempt (a row of SQL_WH_BODIES). */
static void
start_delivery(struct queue *q, struct lane *l, const struct db_res *res,
    size_t row, int64_t now)
{
	const struct config *cfg = spool_opts(q->s)->cfg;
	struct hook *k = l->data;
	struct wjob *j = xcalloc(1, sizeof(*j));
	char hex[WEBHOOK_SIG_HEX_LEN], sig[WEBHOOK_SIG_STD_LEN],
	    old[WEBHOOK_SIG_STD_LEN], idbuf[24];
	const char *body = db_str(res, row, WB_BODY);
	size_t len = db_len(res, row, WB_BODY);
	struct http_req req;
	long long ts;

	j->id = (unsigned long long)db_int(res, row, WB_ID);
	j->attempt = (int)db_int(res, row, WB_ATTEMPTS);
	j->round_attempt = (unsigned)db_int(res, row, WB_ROUND_ATTEMPTS);
	j->left_ms = db_int(res, row, WB_LEFT_MS);
	j->at_ms = unix_ms();
	j->started = now;
	if (body == NULL) {
		fail_local(q, j, "Not delivered: the event's payload was "
		    "purged by retention");
		free(j);
		return;
	}
	ts = j->at_ms / 1000;
	snprintf(idbuf, sizeof(idbuf), "%llu", j->id);
	webhook_sig_hex(k->secret, body, len, hex);
	if (webhook_sig_std(k->secret, idbuf, ts, body, len, sig) == -1 ||
	    (k->old != NULL && webhook_sig_std(k->old, idbuf, ts, body, len,
	    old) == -1)) {
		fail_local(q, j, "Not delivered: the webhook's secret is not "
		    "usable for webhook-signature (whsec_ with bad base64)");
		free(j);
		return;
	}
	j->headers = add_header(NULL, "Content-Type: application/json");
	j->headers = add_header(j->headers, "X-Wazera-Signature: %s", hex);
	j->headers = add_header(j->headers, "X-Wazera-Event: %s",
	    db_str(res, row, WB_TYPE));
	j->headers = add_header(j->headers, "X-Wazera-Delivery: %s", idbuf);
	j->headers = add_header(j->headers, "webhook-id: %s", idbuf);
	j->headers = add_header(j->headers, "webhook-timestamp: %lld", ts);
	if (k->old != NULL)
		j->headers = add_header(j->headers, "webhook-signature: %s %s",
		    sig, old);
	else
		j->headers = add_header(j->headers, "webhook-signature: %s",
		    sig);
	j->headers = add_header(j->headers, "Expect:");
	j->host = k->host;
	j->target = url_target(k->url);
	j->host->refs++;
	j->host->inflight++;
	if ((j->tenant = k->tenant) != NULL) {
		j->tenant->refs++;
		j->tenant->inflight++;
	}
	whq(q)->inflight++;
	memset(&req, 0, sizeof(req));
	req.url = k->url;		/* curl copies it */
	req.headers = j->headers;
	req.body = xmalloc(len + 1);
	memcpy(req.body, body, len);
	req.body[len] = '\0';
	req.len = len;
	req.timeout_s = WH_TIMEOUT_S;
	if (!cfg->webhooks_allow_private_targets) {
		req.sock_check = check_addr;
		req.sock_why = why_addr;
	}
	req.ctx = j;
	spool_start(q, l, &req, j->id, j->attempt, now);
}

/* The webhook as it is now: NULL if no longer active; the lane's data
 * opened again if its url or secrets changed. -1 on a database error. */
static int
hook_refresh(struct queue *q, struct lane *l, int64_t now)
{
	struct db *db = spool_db(q->s);
	struct pool *pool = spool_pool(q->s);
	struct db_arg a = DBA_INT(l->id);
	struct hook *k;
	struct db_res res;
	enum db_rc rc;

	if ((rc = db_query(db, pool, SQL_WH_WEBHOOK, &a, 1, &res)) != DB_OK) {
		spool_db_trouble(q->s, rc, "reading a webhook", now);
		return -1;
	}
	if (res.nrows == 0)
		return 0;		/* disabled or deleted meanwhile */
	if (l->data != NULL && hook_same(l->data, &res, 0))
		return 1;
	if ((k = hook_new(q, l->id, &res, 0)) == NULL) {
		spool_hold_off(q, l->id, now + SPOOL_BAD_LANE_S * US);
		l->paused = true;
		return 0;
	}
	log_info("webhook %llu: changed; its url and secrets read again",
	    l->id);
	/* The tenant (not in SQL_WH_WEBHOOK's row) never changes. */
	if (l->data != NULL) {
		k->tenant = ((struct hook *)l->data)->tenant;
		((struct hook *)l->data)->tenant = NULL;
	}
	hook_free(q, l->data);
	l->data = k;
	return 1;
}

static int
whq_claim(struct queue *q, struct lane *l, size_t n, int64_t now)
{
	struct db *db = spool_db(q->s);
	struct pool *pool = spool_pool(q->s);
	const char *holder = spool_opts(q->s)->holder;
	struct db_res res, bodies;
	struct db_arg arg[3];
	enum db_rc rc;
	uint64_t marked;
	const char *ids;
	size_t i;
	int got;

	if ((got = hook_refresh(q, l, now)) <= 0) {
		pool_reset(pool);
		return got;
	}
	arg[0] = DBA_INT(WH_CLAIM_EXPIRY_S);
	if ((rc = spool_claim(q, SQL_WH_CLAIM, l->id, n, SQL_WH_MARK, arg, 1,
	    SQL__MAX, &res, &ids, &marked)) != DB_OK) {
		spool_db_trouble(q->s, rc, "claiming webhook deliveries", now);
		pool_reset(pool);
		return -1;
	}
	if (res.nrows == 0) {
		pool_reset(pool);
		return 0;
	}
	/* Claimed and committed: the bodies, without locks. A failure here
	 * leaves the claims to expire (due again in a minute). */
	arg[0] = DBA_INT((int64_t)((double)WH_ROUND_MS * 1000 * scale(q)));
	arg[1] = DBA_STR(ids);
	arg[2] = DBA_STR(holder);
	if ((rc = db_query(db, pool, SQL_WH_BODIES, arg, 3, &bodies)) !=
	    DB_OK) {
		spool_db_trouble(q->s, rc, "reading webhook deliveries", now);
		pool_reset(pool);
		return -1;
	}
	spool_db_fine(q->s);
	if (marked != res.nrows || bodies.nrows != res.nrows)
		log_warnx("webhook %llu: claimed %zu deliveries, marked %"
		    PRIu64 ", read %zu", l->id, res.nrows, marked,
		    bodies.nrows);
	for (i = 0; i < bodies.nrows; i++)
		start_delivery(q, l, &bodies, i, now);
	got = (int)res.nrows;
	pool_reset(pool);
	return got;
}

/* ---- answers --------------------------------------------------------- */

static void
whq_result(struct queue *q, struct job *jb, const struct http_done *d,
    int64_t now)
{
	struct whq *w = whq(q);
	struct wjob *j = (struct wjob *)jb;
	const char *loc = d->headers[SPOOL_HDR_LOCATION];
	char err[ERROR_MAX + 64];
	enum wh_verdict v;
	enum wh_class cls;
	long long ra = -1;
	int64_t wait, left;

	j->host->inflight--;
	host_put(w, j->host);
	if (j->tenant != NULL) {
		j->tenant->inflight--;
		tenant_put(w, j->tenant);
	}
	w->inflight--;
	curl_slist_free_all(j->headers);
	cls = wh_classify(d->curl_ok, d->curl_code, d->refused,
	    d->http_status, &v);
	switch (cls) {
	case WHC_NONE:
		err[0] = '\0';
		break;
	case WHC_REFUSED:
		/* The tenant reads this: the host as the URL names it and
		 * the class, never the address it resolved to (which would
		 * map the internal network); that goes to our log only. */
		log_warnx("delivery %llu: attempt %d: the connection to %s "
		    "(%s) refused: %s", j->id, j->attempt,
		    d->refused_addr != NULL ? d->refused_addr : "?",
		    j->target != NULL ? j->target : "?",
		    d->refused_why != NULL ? d->refused_why :
		    "not a public address");
		snprintf(err, sizeof(err), "Refused: the host %s resolves to "
		    "%s (webhooks.allow_private_targets is off)",
		    j->target != NULL ? j->target : "of the url",
		    d->refused_why != NULL ? d->refused_why :
		    "an address that is not public");
		break;
	case WHC_REDIRECT:
		snprintf(err, sizeof(err), "HTTP %ld: a redirect to %s (not "
		    "followed)", d->http_status, loc != NULL ? loc :
		    "nowhere (no Location)");
		break;
	case WHC_HTTP_STATUS:
		snprintf(err, sizeof(err), "HTTP %ld", d->http_status);
		break;
	case WHC_TIMEOUT:
		snprintf(err, sizeof(err), "No complete answer within %d s: "
		    "%s", WH_TIMEOUT_S, d->errtext);
		break;
	default:
		snprintf(err, sizeof(err), "%s", d->errtext != NULL ?
		    d->errtext : "transport error");
		break;
	}
	switch (v) {
	case WH_OK:
		rec_push(q, REC_WH_SUCCEEDED, j, d, cls, NULL, 0);
		w->n_ok++;
		break;
	case WH_GONE:
		log_warnx("delivery %llu: attempt %d: 410 Gone; the webhook is "
		    "disabled", j->id, j->attempt);
		rec_push(q, REC_WH_GONE, j, d, cls, err, 0);
		w->n_gone++;
		break;
	case WH_RETRY:
		if (d->curl_ok && (d->http_status == 429 ||
		    d->http_status == 503))
			ra = wh_retry_after_s(d->headers[SPOOL_HDR_RETRY_AFTER],
			    time(NULL));
		left = j->left_ms - (now - j->started) / MS;
		wait = wh_next_wait_ms(j->round_attempt > 0 ? j->round_attempt :
		    1, random01(), scale(q), left, ra);
		if (wait < 0) {
			log_warnx("delivery %llu: attempt %d: %s; failed (its "
			    "round is over)", j->id, j->attempt, err);
			rec_push(q, REC_WH_FAILED, j, d, cls, err, 0);
			w->n_failed++;
			break;
		}
		log_warnx("delivery %llu: attempt %d: %s; again in %.3f s",
		    j->id, j->attempt, err, (double)wait / 1000);
		rec_push(q, REC_WH_RETRY, j, d, cls, err, wait);
		w->n_retried++;
		break;
	}
	free(j->target);
	free(j);
}

/* Deliveries left in flight by spoolers that are gone are due again when
 * their claim expires (WH_CLAIM_EXPIRY_S): nothing to do here. */
static void
whq_recover(struct queue *q, int64_t now)
{
	(void)q;
	(void)now;
}

const struct queue_ops queue_webhook = {
	.name = "webhook",
	.lane_name = "webhook",
	.sql_lanes = SQL_WH_LANES,
	.sql_lease = SQL_WH_LEASE,
	.sql_release = SQL_WH_RELEASE,
	.open = whq_open,
	.close = whq_close,
	.lane_open = whq_lane_open,
	.lane_close = whq_lane_close,
	.claim = whq_claim,
	.result = whq_result,
	.write = whq_write,
	.write_many = whq_write_many,
	.rec_noun = whq_rec_noun,
	.recover = whq_recover,
	.room = whq_room,
};
