/* The send loop. One thread, one database connection, one curl multi
 * handle; the database work is short and synchronous between rounds of
 * network activity.
 *
 * Per round: finished requests are classified (policy.c) into records,
 * records are written, then, unless stopping, the loop looks for accounts
 * with due messages (every POLL_MS), renews its leases, and for each
 * leased account claims as many due messages as the account's rate and
 * the free request slots allow (SELECT ... FOR UPDATE SKIP LOCKED), marks
 * them 'sending' and commits before their requests start.
 *
 * Leases: one spooler drives an account at a time, so its rate holds
 * across spoolers and hosts. A lease lasts LEASE_S and is renewed every
 * second while the account has work; requests start only until
 * LEASE_MARGIN_S before it would end, so a lease that could not be renewed
 * (database away) ends with no start of ours near the next holder's. An
 * idle account's lease is released, and at exit all are, but only once
 * the last start left the rate window.
 *
 * Rate: the account's mps (whatsapp_accounts.mps) as a sliding record of
 * start times over one second plus a 50 ms guard for jitter between here
 * and Meta (rate.c): never more than mps starts in any window of a second.
 * mps 0 means no limit (the benchmark's accounts); the request slots
 * (--max-inflight, 512) bound it then.
 *
 * Answers (policy.c): sent -> wz_message_result with the wamid and an event;
 * permanent -> wz_message_result with Meta's code, title and details;
 * transient -> back to the queue after an exponential backoff with jitter,
 * and failed once the code's attempts (or 20, or 24 h) are used up; a
 * paused account (token invalid 0/190, locked, billing, spam) -> the
 * message goes back to the queue uncounted and the account is paused on
 * its row (SQL_SPOOL_PAUSE): no spooler takes it before the pause ends or
 * an operator ends it. Until that record is written, this spooler holds
 * the account off in memory.
 *
 * Results: every record for the database is journaled first (journal.c:
 * appended before it is written; synced when it stays owed), kept until
 * it is written, never dropped; a spooler that exits owing some leaves its
 * journal, which the next spooler on the host takes over.
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
 * connection made) is retried with the usual backoff. */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "graph.h"
#include "housekeep.h"
#include "journal.h"
#include "log.h"
#include "payload.h"
#include "policy.h"
#include "pool.h"
#include "rate.h"
#include "text.h"
#include "validate.h"
#include "spool.h"
#include "xmalloc.h"

#define US		1000000LL
#define MS		1000LL
#define POLL_MS		200		/* look for new work this often */
#define LEASE_S		15		/* an account lease lasts this long */
#define LEASE_RENEW_MS	1000		/* and is renewed this often */
#define LEASE_MARGIN_S	3		/* no start this close to its end */
#define RATE_WINDOW_US	(US + 50 * MS)	/* a second and a guard */
#define IDLE_RELEASE_MS	2000		/* release an account idle this long */
#define RECOVER_S	10
#define HOUSEKEEP_S	60		/* purge what has outlived its use */
#define CLAIM_MAX	256
#define CLAIM_MIN	16		/* wait for this much room, if busy */
#define STOP_WAIT_S	10		/* in-flight wait after a signal */
#define FLUSH_WAIT_S	10		/* record writes at exit, DB down */
#define DB_BACKOFF_MS	1000
#define REFUSED_RETRY_S	60		/* a record refused 3 times */
#define JOURNAL_COMPACT_BYTES	(1024 * 1024)	/* rewritten past this while
						   results stay owed */
#define BAD_ACCOUNT_S	60		/* skip an account we cannot use */
#define LOCAL_CODE	131000		/* Meta's "unknown error", for a
					   failure the spooler decides */

struct acct {
	struct acct		*next;
	unsigned long long	 id;
	char			*url;
	struct curl_slist	*headers;	/* holds the token: wiped */
	struct rate		 rate;
	int64_t			 lease_until;	/* start nothing at or after */
	int64_t			 renew_at;
	int64_t			 last_start;
	int64_t			 next_claim;
	int64_t			 work_at;	/* last seen with due work */
	unsigned		 inflight;
	bool			 lost;		/* lease taken by another */
	bool			 paused;
};

/* Accounts this process leaves alone for a while. */
struct hold {
	struct hold		*next;
	unsigned long long	 id;
	int64_t			 until;
};

/* One request's context. */
struct msg {
	struct acct		*acct;
	unsigned long long	 id;
	int			 attempt;
	long long		 age_s;
};

struct spool {
	const struct spool_opts	*o;
	struct db		*db;
	struct graph		*graph;
	struct pool		 pool;
	uint8_t			 key[MASTER_KEY_LEN];
	struct acct		*accts;
	struct hold		*holds;
	struct rec		*recs, **recs_tail;
	size_t			 nrecs;
	struct journal		*journal;	/* the records, on disk */
	bool			 stopping;
	bool			 db_down;
	int64_t			 db_retry_at;
	int64_t			 next_poll;
	int64_t			 next_recover;
	int64_t			 next_housekeep;
	int64_t			 activity_at;	/* last claim, answer or write */
	int64_t			 empty_poll_at;	/* last poll with nothing due */
	unsigned long		 n_sent, n_failed, n_retried, n_ambiguous,
				 n_requeued;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000;
}

static double
random01(void)
{
	return (double)randombytes_uniform(1000000) / 1e6;
}

/* ---- database writes ------------------------------------------------ */

static void hold_end(struct spool *, unsigned long long);

/* Queues a record for the database, journaled first unless it is in the
 * journal already. */
static void
rec_queue(struct spool *s, struct rec *r, bool journaled)
{
	if (!journaled)
		(void)journal_append(s->journal, r);
	r->next = NULL;
	*s->recs_tail = r;
	s->recs_tail = &r->next;
	s->nrecs++;
}

static void
rec_adopt(struct rec *r, bool journaled, void *arg)
{
	rec_queue(arg, r, journaled);
}

static void
rec_push(struct spool *s, enum rec_kind kind, unsigned long long id,
    const struct pol_outcome *o, const char *title, const char *message,
    int64_t delay_us)
{
	struct rec *r = xcalloc(1, sizeof(*r));

	r->kind = kind;
	r->id = id;
	r->delay_us = delay_us;
	if (o != NULL) {
		r->has_code = o->has_code;
		r->code = o->code;
		if (o->wamid[0] != '\0')
			r->wamid = xstrdup(o->wamid);
		if (title == NULL)
			title = o->title;
		if (message == NULL)
			message = o->message;
	}
	r->title = title != NULL ? xstrdup(title) : NULL;
	r->message = message != NULL ? xstrdup(message) : NULL;
	r->holder = xstrdup(s->o->holder);
	rec_queue(s, r, false);
}

/* A result written by its routine (wz_message_result), in a transaction
 * of its own: routines run in their caller's. */
static enum db_rc
rec_call(struct spool *s, enum sql id, const struct db_arg *a, size_t n)
{
	struct db_res res;
	enum db_rc rc;

	if ((rc = db_begin(s->db)) != DB_OK)
		return rc;
	if ((rc = db_query(s->db, &s->pool, id, a, n, &res)) == DB_OK &&
	    (rc = db_commit(s->db)) == DB_OK)
		return DB_OK;
	db_rollback(s->db);
	return rc;
}

static enum db_rc
rec_write(struct spool *s, struct rec *r)
{
	struct db_arg a[6];
	struct db_arg code = r->has_code ? DBA_INT(r->code) : DBA_NULL;

	switch (r->kind) {
	case REC_SENT:
		a[0] = DBA_INT(r->id);
		a[1] = DBA_STR(r->wamid);
		return rec_call(s, SQL_SPOOL_SENT, a, 2);
	case REC_FAILED:
		a[0] = DBA_INT(r->id);
		a[1] = r->has_code ? code : DBA_INT(LOCAL_CODE);
		a[2] = DBA_STR(r->title);
		a[3] = DBA_STR(r->message);
		return rec_call(s, SQL_SPOOL_FAILED, a, 4);
	case REC_RETRY:
	case REC_REQUEUE:
		a[0] = DBA_INT(r->delay_us);
		a[1] = code;
		a[2] = DBA_STR(r->title);
		a[3] = DBA_STR(r->message);
		a[4] = DBA_INT(r->id);
		a[5] = r->holder != NULL ? DBA_STR(r->holder) : DBA_NULL;
		return db_exec(s->db, r->kind == REC_RETRY ? SQL_SPOOL_RETRY :
		    SQL_SPOOL_REQUEUE, a, 6, NULL, NULL);
	case REC_PAUSE:		/* delay_us: the pause's end, unix seconds */
		a[0] = DBA_INT(r->delay_us);
		a[1] = DBA_INT(r->id);
		a[2] = DBA_INT(r->delay_us);
		return db_exec(s->db, SQL_SPOOL_PAUSE, a, 3, NULL, NULL);
	case REC_AMBIGUOUS:
		a[0] = DBA_INT(r->id);
		a[1] = r->holder != NULL ? DBA_STR(r->holder) : DBA_NULL;
		return db_exec(s->db, SQL_SPOOL_AMBIGUOUS, a, 2, NULL, NULL);
	}
	return DB_ERR;
}

static void
db_trouble(struct spool *s, enum db_rc rc, const char *what, int64_t now)
{
	if (rc == DB_DOWN || rc == DB_RETRY) {
		if (!s->db_down)
			log_warnx("database unavailable (%s): %s; retrying",
			    what, db_errmsg(s->db));
		s->db_down = true;
	} else
		log_warnx("database error (%s): %s", what, db_errmsg(s->db));
	s->db_retry_at = now + DB_BACKOFF_MS * MS;
}

static void
db_fine(struct spool *s)
{
	if (s->db_down)
		log_info("database available again");
	s->db_down = false;
}

/* Writes queued records in order (all: also those waiting after repeated
 * refusals). Stops at an outage and keeps the rest for later. A record the
 * database refuses three times in a row waits REFUSED_RETRY_S and is tried
 * again, so it blocks no other; none is ever dropped: the journal keeps
 * them all until they are written, and is emptied once none is owed.
 *
 * Every record is in the journal's file before it is written here, so a
 * crash of the process (kill -9) loses none. The file is synced to disk
 * when records stay owed after the attempt (the database away or slow, a
 * refusal), so those survive the host too. Syncing before every round's
 * writes instead halved the throughput (bench/spooler: 0.5 ms per
 * fdatasync on the single thread) to cover only a power loss in the
 * moment between Meta's answer and the database's commit of it; such a
 * result is lost, and its message gets its one blind resend. */
static void
recs_flush(struct spool *s, int64_t now, bool all)
{
	struct rec *r, **rp;
	enum db_rc rc;

	for (rp = &s->recs; (r = *rp) != NULL && now >= s->db_retry_at; ) {
		if (!all && r->retry_at > now) {
			rp = &r->next;
			continue;
		}
		rc = rec_write(s, r);
		if (rc == DB_DUP && r->kind == REC_SENT && r->wamid != NULL) {
			/* Another message holds this wamid: keep the
			 * message sent, without one. */
			log_warnx("message %llu: wamid %s already taken; "
			    "stored without it", r->id, r->wamid);
			free(r->wamid);
			r->wamid = NULL;
			continue;
		}
		if (rc == DB_DOWN || rc == DB_RETRY) {
			db_trouble(s, rc, "recording results", now);
			break;
		}
		if (rc != DB_OK) {
			db_trouble(s, rc, "recording results", now);
			if (++r->errors < 3)
				break;
			log_warnx("%s %llu: result refused %d times; kept, "
			    "tried again in %d s", r->kind == REC_PAUSE ?
			    "account" : "message", r->id, r->errors,
			    REFUSED_RETRY_S);
			r->errors = 0;
			r->retry_at = now + REFUSED_RETRY_S * US;
			rp = &r->next;
			continue;
		}
		db_fine(s);
		s->activity_at = now;
		if (r->kind == REC_PAUSE)
			hold_end(s, r->id);	/* the row holds it now */
		*rp = r->next;
		if (*rp == NULL)
			s->recs_tail = rp;
		s->nrecs--;
		rec_free(r);
		pool_reset(&s->pool);
	}
	if (s->recs == NULL)
		journal_clear(s->journal);
	else if (journal_size(s->journal) > JOURNAL_COMPACT_BYTES)
		(void)journal_rewrite(s->journal, s->recs);
	else
		journal_sync(s->journal);
}

/* ---- accounts and leases ------------------------------------------- */

static bool
held_off(struct spool *s, unsigned long long id, int64_t now)
{
	struct hold *h, **hp;

	for (hp = &s->holds; (h = *hp) != NULL; ) {
		if (h->until <= now) {
			*hp = h->next;
			free(h);
			continue;
		}
		if (h->id == id)
			return true;
		hp = &h->next;
	}
	return false;
}

/* Ends an account's hold (held_off drops it). */
static void
hold_end(struct spool *s, unsigned long long id)
{
	struct hold *h;

	for (h = s->holds; h != NULL; h = h->next)
		if (h->id == id)
			h->until = 0;
}

static void
hold_off(struct spool *s, unsigned long long id, int64_t until)
{
	struct hold *h;

	for (h = s->holds; h != NULL; h = h->next)
		if (h->id == id) {
			if (h->until < until)
				h->until = until;
			return;
		}
	h = xcalloc(1, sizeof(*h));
	h->id = id;
	h->until = until;
	h->next = s->holds;
	s->holds = h;
}

static struct acct *
acct_find(struct spool *s, unsigned long long id)
{
	struct acct *a;

	for (a = s->accts; a != NULL; a = a->next)
		if (a->id == id)
			return a;
	return NULL;
}

static void
acct_free(struct acct *a)
{
	struct curl_slist *h;

	for (h = a->headers; h != NULL; h = h->next)
		sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(a->headers);
	rate_free(&a->rate);
	free(a->url);
	free(a);
}

/* The request headers of an account, with its token opened from the
 * sealed column. NULL if it does not open under our master key. */
static struct curl_slist *
acct_headers(struct spool *s, const char *sealed, size_t len)
{
	struct curl_slist *h = NULL;
	char *token, *auth;

	if (len < SECRET_OVERHEAD)
		return NULL;
	token = xmalloc(len - SECRET_OVERHEAD + 1);
	if (secret_open(s->key, (const uint8_t *)sealed, len, token) == -1) {
		free(token);
		return NULL;
	}
	xasprintf(&auth, "Authorization: Bearer %s", token);
	sodium_memzero(token, strlen(token));
	free(token);
	h = curl_slist_append(h, auth);
	sodium_memzero(auth, strlen(auth));
	free(auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");	/* no 100-continue wait */
	if (h == NULL)
		log_fatalx("curl_slist_append failed");
	return h;
}

/* Takes or renews an account's lease. Returns 1 if held now, 0 if another
 * spooler holds it, -1 on a database error. */
static int
lease(struct spool *s, unsigned long long id, int64_t now)
{
	struct db_arg a[4];
	uint64_t affected = 0;
	enum db_rc rc;

	a[0] = DBA_STR(s->o->holder);
	a[1] = DBA_INT(LEASE_S);
	a[2] = DBA_INT(id);
	a[3] = DBA_STR(s->o->holder);
	if ((rc = db_exec(s->db, SQL_SPOOL_LEASE, a, 4, &affected, NULL)) !=
	    DB_OK) {
		db_trouble(s, rc, "lease", now);
		return -1;
	}
	return affected > 0 ? 1 : 0;
}

static void
lease_release(struct spool *s, struct acct *a)
{
	struct db_arg arg[2];
	enum db_rc rc;

	arg[0] = DBA_INT(a->id);
	arg[1] = DBA_STR(s->o->holder);
	if ((rc = db_exec(s->db, SQL_SPOOL_RELEASE, arg, 2, NULL, NULL)) !=
	    DB_OK)
		log_warnx("account %llu: cannot release the lease (%s); it "
		    "expires in %d s", a->id, db_errmsg(s->db), LEASE_S);
	else
		log_info("account %llu: lease released", a->id);
}

/* A new account to drive: lease it, open its token. */
static void
acct_take(struct spool *s, const struct db_res *res, size_t row, int64_t now)
{
	unsigned long long id = (unsigned long long)db_int(res, row, 0);
	const char *phone = db_str(res, row, 1);
	long long mps = db_int(res, row, 3);
	struct curl_slist *h;
	struct acct *a;
	const char *base = s->o->cfg->graph_api_base;
	size_t bl = strlen(base);
	int got;

	if (!graph_id_valid(phone)) {
		log_warnx("account %llu: phone_number_id is not usable in a "
		    "URL; skipped", id);
		hold_off(s, id, now + BAD_ACCOUNT_S * US);
		return;
	}
	h = acct_headers(s, db_str(res, row, 2), db_len(res, row, 2));
	if (h == NULL) {
		log_warnx("account %llu: the access token does not open under "
		    "the master key; skipped for %d s", id, BAD_ACCOUNT_S);
		hold_off(s, id, now + BAD_ACCOUNT_S * US);
		return;
	}
	if ((got = lease(s, id, now)) != 1) {
		curl_slist_free_all(h);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->id = id;
	a->headers = h;
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	xasprintf(&a->url, "%.*s/%s/messages", (int)bl, base, phone);
	rate_init(&a->rate, mps > 0 ? (uint32_t)(mps > 1000000 ? 1000000 : mps)
	    : 0, RATE_WINDOW_US);
	a->lease_until = now + (LEASE_S - LEASE_MARGIN_S) * US;
	a->renew_at = now + LEASE_RENEW_MS * MS;
	a->next_claim = now;
	a->work_at = now;
	a->next = s->accts;
	s->accts = a;
	if (mps > 0)
		log_info("account %llu: lease taken (%lld msg/s)", id, mps);
	else
		log_info("account %llu: lease taken (no rate limit)", id);
}

/* Accounts with due messages and no live lease held by another spooler. */
static void
poll_accounts(struct spool *s, int64_t now)
{
	struct db_res res;
	struct db_arg a = DBA_STR(s->o->holder);
	struct acct *acct;
	enum db_rc rc;
	size_t i, due = 0;

	s->next_poll = now + POLL_MS * MS;
	if ((rc = db_query(s->db, &s->pool, SQL_SPOOL_ACCOUNTS, &a, 1, &res)) !=
	    DB_OK) {
		db_trouble(s, rc, "looking for work", now);
		return;
	}
	db_fine(s);
	for (i = 0; i < res.nrows; i++) {
		unsigned long long id = (unsigned long long)db_int(&res, i, 0);
		if (held_off(s, id, now))
			continue;
		due++;
		if ((acct = acct_find(s, id)) != NULL) {
			acct->work_at = now;
			continue;
		}
		if (graph_room(s->graph) == 0)
			continue;
		acct_take(s, &res, i, now);
	}
	/* Nothing due that this spooler may take. Accounts another spooler
	 * holds are its work: --drain does not wait for them (a live one
	 * sends them; a dead one's lease lapses within LEASE_S and the next
	 * run takes them). */
	if (due == 0)
		s->empty_poll_at = now;
	pool_reset(&s->pool);
}

static void
renew_leases(struct spool *s, int64_t now)
{
	struct acct *a;
	int got;

	for (a = s->accts; a != NULL; a = a->next) {
		if (a->lost || now < a->renew_at || now < s->db_retry_at)
			continue;
		a->renew_at = now + LEASE_RENEW_MS * MS;
		if ((got = lease(s, a->id, now)) == 1)
			a->lease_until = now + (LEASE_S - LEASE_MARGIN_S) * US;
		else if (got == 0) {
			log_warnx("account %llu: lease lost to another spooler",
			    a->id);
			a->lost = true;
		}
	}
}

/* Whether results are owed that are being written (not those the
 * database keeps refusing, retried every minute). */
static bool
owes(const struct spool *s)
{
	const struct rec *r;

	for (r = s->recs; r != NULL; r = r->next)
		if (r->retry_at == 0)
			return true;
	return false;
}

/* Frees accounts no longer driven: lost, or idle, or paused, with nothing
 * in flight. The lease is released only once the last start left the
 * rate window, so the next holder cannot exceed the rate with ours. */
static void
drop_accounts(struct spool *s, int64_t now, bool all)
{
	struct acct *a, **ap;

	if (!all && now < s->db_retry_at)
		return;		/* the release would wait on a dead server */
	for (ap = &s->accts; (a = *ap) != NULL; ) {
		bool idle = now - a->work_at >= IDLE_RELEASE_MS * MS;
		/* While results are owed the lease stays ours (renewed):
		 * another spooler's recovery takes a claim for abandoned only
		 * once its holder's lease is gone. At exit the journal
		 * carries them, and a spooler adopts it before it recovers. */
		if (!all && !a->lost && owes(s)) {
			ap = &a->next;
			continue;
		}
		if (a->inflight > 0 || !(a->lost || a->paused || idle || all) ||
		    (!a->lost && a->rate.mps > 0 && a->last_start != 0 &&
		    now < a->last_start + RATE_WINDOW_US)) {
			ap = &a->next;
			continue;
		}
		if (!a->lost)
			lease_release(s, a);
		*ap = a->next;
		acct_free(a);
	}
}

/* ---- claims and requests ------------------------------------------- */

/* Fails a message for a reason of the spooler's own. */
static void
fail_record(struct spool *s, unsigned long long id, bool has_code, int code,
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
	rec_push(s, REC_FAILED, id, &o, NULL, NULL, 0);
	s->n_failed++;
}

/* Fails a claimed message without sending it. */
static void
fail_local(struct spool *s, unsigned long long id, bool has_code, int code,
    const char *title, const char *message)
{
	log_warnx("message %llu: failed without sending: %s (%s)", id,
	    title, message);
	fail_record(s, id, has_code, code, title, message);
}

/* Starts one claimed row's request, or fails it when it cannot go. */
static void
start_message(struct spool *s, struct acct *a, const struct db_res *res,
    size_t row, int64_t now)
{
	unsigned long long id = (unsigned long long)db_int(res, row, 0);
	const char *to = db_str(res, row, 1), *type = db_str(res, row, 2);
	long long attempts = db_int(res, row, 4), age = db_int(res, row, 5);
	char err[256], why[128];
	struct msg *m;
	char *body;

	if (attempts >= POL_MAX_ATTEMPTS || age >= POL_MAX_AGE_S) {
		snprintf(why, sizeof(why), "gave up after %lld attempts over "
		    "%lld minutes", attempts, age / 60);
		fail_local(s, id, !db_isnull(res, row, 6),
		    (int)db_int(res, row, 6), db_isnull(res, row, 7) ?
		    "Not sent" : db_str(res, row, 7), why);
		return;
	}
	body = payload_build(id, to != NULL ? to : "", type != NULL ? type : "",
	    db_str(res, row, 3), db_len(res, row, 3), err, sizeof(err));
	if (body == NULL) {
		fail_local(s, id, true, 100, "Message content cannot be sent",
		    err);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->acct = a;
	m->id = id;
	m->attempt = (int)attempts + 1;
	m->age_s = age;
	rate_take(&a->rate, now);
	a->last_start = now;
	a->inflight++;
	/* --trace: the start as the rate counted it (CLOCK_MONOTONIC,
	 * comparable between the spoolers of a host). One write a line. */
	if (s->o->trace_fd >= 0)
		(void)dprintf(s->o->trace_fd, "%lld.%06lld start %llu "
		    "%llu %d %s\n", (long long)(now / US),
		    (long long)(now % US), a->id, id,
		    m->attempt, s->o->holder);
	graph_start(s->graph, a->url, a->headers, body, strlen(body), m);
}

/* Claims up to n due messages of an account: locked, marked 'sending' and
 * committed before any request starts. Returns the rows claimed, or -1. */
static int
claim(struct spool *s, struct acct *a, size_t n, int64_t now)
{
	struct db_res res;
	struct db_arg arg[2];
	enum db_rc rc = DB_OK;
	uint64_t marked = 0;
	size_t i, cap, len;
	char *ids;
	int attempt;

	for (attempt = 0; attempt < 3; attempt++) {
		if ((rc = db_begin(s->db)) != DB_OK)
			break;
		arg[0] = DBA_INT(a->id);
		arg[1] = DBA_INT(n);
		rc = db_query(s->db, &s->pool, SQL_SPOOL_CLAIM, arg, 2, &res);
		if (rc == DB_OK && res.nrows == 0) {
			rc = db_commit(s->db);
			if (rc == DB_OK)
				return 0;
		}
		if (rc == DB_OK) {
			cap = res.nrows * 21 + 3;
			ids = pool_alloc(&s->pool, cap);
			len = 0;
			ids[len++] = '[';
			for (i = 0; i < res.nrows; i++)
				len += (size_t)snprintf(ids + len, cap - len,
				    "%s%llu", i ? "," : "",
				    (unsigned long long)db_int(&res, i, 0));
			ids[len++] = ']';
			ids[len] = '\0';
			arg[0] = DBA_STR(ids);
			arg[1] = DBA_STR(s->o->holder);
			rc = db_exec(s->db, SQL_SPOOL_MARK_SENDING, arg, 2,
			    &marked, NULL);
		}
		if (rc == DB_OK)
			rc = db_commit(s->db);
		if (rc == DB_OK)
			break;
		db_rollback(s->db);
		if (rc != DB_RETRY)
			break;
		pool_reset(&s->pool);
	}
	if (rc != DB_OK) {
		db_trouble(s, rc, "claiming messages", now);
		return -1;
	}
	db_fine(s);
	if (marked != res.nrows)
		log_warnx("account %llu: claimed %zu messages, marked %" PRIu64,
		    a->id, res.nrows, marked);
	for (i = 0; i < res.nrows; i++)
		start_message(s, a, &res, i, now);
	s->activity_at = now;
	pool_reset(&s->pool);
	return (int)res.nrows;
}

/* Claims and starts for every account that may send now. Returns the
 * earliest time another claim could be due (room permitting). */
static int64_t
claim_all(struct spool *s, int64_t now)
{
	int64_t next = INT64_MAX;
	struct acct *a, *last;
	size_t n, room;
	uint32_t avail;
	int got;

	/* Round robin: the first account in line goes last next time, so
	 * none takes all the free request slots every round. */
	if (s->accts != NULL && s->accts->next != NULL) {
		for (last = s->accts; last->next != NULL; last = last->next)
			;
		last->next = s->accts;
		s->accts = s->accts->next;
		last->next->next = NULL;
	}
	for (a = s->accts; a != NULL; a = a->next) {
		if (a->lost || a->paused || now >= a->lease_until)
			continue;
		if (now < a->next_claim) {
			if (a->next_claim < next)
				next = a->next_claim;
			continue;
		}
		if (now < s->db_retry_at)
			return s->db_retry_at;
		avail = rate_available(&a->rate, now);
		room = graph_room(s->graph);
		n = avail < room ? avail : room;
		if (n > CLAIM_MAX)
			n = CLAIM_MAX;
		if (avail == 0) {
			a->next_claim = rate_next(&a->rate, now);
			if (a->next_claim < next)
				next = a->next_claim;
			continue;
		}
		/* Too little room while busy: wait for answers to free more
		 * rather than run a claim per answer. An answer wakes the
		 * loop. */
		if (n == 0 || (room < CLAIM_MIN && n == room &&
		    graph_inflight(s->graph) >= CLAIM_MIN))
			continue;
		if ((got = claim(s, a, n, now)) < 0)
			return s->db_retry_at;
		if (got > 0)
			a->work_at = now;
		/* A short claim means nothing more is due now: look again at
		 * the next poll. */
		a->next_claim = (size_t)got < n ? now + POLL_MS * MS : now;
		if (a->next_claim < next)
			next = a->next_claim;
	}
	return next;
}

/* ---- answers ------------------------------------------------------- */

static void
pause_account(struct spool *s, struct acct *a, const struct pol_outcome *o,
    int64_t now)
{
	if (a->paused)
		return;
	a->paused = true;
	log_warnx("account %llu: paused for %d s after error %d (%s): %s",
	    a->id, o->base_s, o->code, o->title, o->message);
	/* Held off here until the pause is on the account's row (then the
	 * row holds it, and an operator's resume reaches us too). The
	 * record carries the pause's end, not its length: written late (a
	 * journal adopted after a day), it cannot pause the account anew. */
	hold_off(s, a->id, now + (int64_t)o->base_s * US);
	rec_push(s, REC_PAUSE, a->id, NULL, NULL, NULL,
	    (int64_t)time(NULL) + o->base_s);
}

static void
on_done(const struct graph_done *d, void *arg)
{
	struct spool *s = arg;
	struct msg *m = d->ctx;
	struct acct *a = m->acct;
	struct pol_input in;
	struct pol_outcome o;
	int64_t now = now_us(), delay;

	a->inflight--;
	s->activity_at = now;
	in.curl_ok = d->curl_ok;
	in.maybe_sent = d->maybe_sent;
	in.errtext = d->errtext;
	in.http_status = d->http_status;
	in.body = d->body;
	in.len = d->len;
	policy_classify(&in, &o);
	switch (o.action) {
	case POL_SENT:
		if (o.wamid[0] == '\0')
			log_warnx("message %llu: HTTP %ld without a readable "
			    "wamid; recorded as sent", m->id, d->http_status);
		rec_push(s, REC_SENT, m->id, &o, NULL, NULL, 0);
		s->n_sent++;
		break;
	case POL_PERMANENT:
		log_warnx("message %llu: failed: error %d (%s), HTTP %ld",
		    m->id, o.code, o.title, d->http_status);
		rec_push(s, REC_FAILED, m->id, &o, NULL, NULL, 0);
		s->n_failed++;
		break;
	case POL_RETRY:
	case POL_RETRY_RECIPIENT:
		if (policy_give_up(&o, m->attempt, m->age_s)) {
			log_warnx("message %llu: failed after %d attempts: "
			    "%s%d (%s)", m->id, m->attempt,
			    o.has_code ? "error " : "HTTP ",
			    o.has_code ? o.code : (int)d->http_status, o.title);
			rec_push(s, REC_FAILED, m->id, &o, NULL, NULL, 0);
			s->n_failed++;
			break;
		}
		delay = policy_backoff_us(&o, m->attempt, random01());
		log_warnx("message %llu: attempt %d: %s%d (%s); retry in "
		    "%.1f s", m->id, m->attempt, o.has_code ? "error " :
		    d->curl_ok ? "HTTP " : "transport ", o.has_code ? o.code :
		    d->curl_ok ? (int)d->http_status : d->curl_code, o.title,
		    (double)delay / US);
		rec_push(s, REC_RETRY, m->id, &o, NULL, NULL, delay);
		s->n_retried++;
		break;
	case POL_PAUSE_ACCOUNT:
		pause_account(s, a, &o, now);
		/* Due at once: the account's pause is what it waits for. */
		rec_push(s, REC_REQUEUE, m->id, &o, NULL, NULL, 0);
		s->n_requeued++;
		break;
	case POL_AMBIGUOUS:
		log_warnx("message %llu: no answer to a request that may have "
		    "reached Meta (%s); left 'sending' for a status webhook "
		    "or recovery after %d s", m->id, o.message,
		    s->o->cfg->spooler_resend_grace);
		rec_push(s, REC_AMBIGUOUS, m->id, NULL, NULL, NULL, 0);
		s->n_ambiguous++;
		break;
	}
	free(m);
}

#define AMBIGUOUS_TITLE	"Ambiguous: the send may have reached Meta; not resent"

/* About once a minute, by every spooler: idempotency records past their
 * 24 hours (lib/housekeep.c). A failure waits for the next minute. */
static void
housekeeping(struct spool *s, int64_t now)
{
	uint64_t n = 0;
	enum db_rc rc;

	s->next_housekeep = now + HOUSEKEEP_S * US;
	if ((rc = housekeep(s->db, &n)) != DB_OK)
		log_warnx("housekeeping: %s", db_errmsg(s->db));
	else if (n > 0)
		log_info("housekeeping: %" PRIu64 " idempotency record(s) past "
		    "24 hours deleted", n);
}

/* Takes over the results of spoolers gone from this host, then queues
 * again the messages left 'sending' that no live spooler answers for,
 * once (the blind resend), and fails those already resent once. Not while
 * results of ours wait to be written: they may be of those messages. */
static void
recover(struct spool *s, int64_t now)
{
	struct db_arg a = DBA_INT(s->o->cfg->spooler_resend_grace);
	struct db_res res;
	char why[256];
	uint64_t n = 0;
	enum db_rc rc;
	size_t i;

	s->next_recover = now + RECOVER_S * US;
	(void)journal_adopt(s->journal, rec_adopt, s);
	/* Results about to be written may be of those messages; results
	 * the database keeps refusing (retried every minute) do not hold
	 * recovery off for good. */
	if (owes(s))
		return;
	if ((rc = db_exec(s->db, SQL_SPOOL_RECOVER, &a, 1, &n, NULL)) != DB_OK) {
		db_trouble(s, rc, "recovery", now);
		return;
	}
	if (n > 0)
		log_warnx("recovered %" PRIu64 " message(s) left 'sending' for "
		    "over %d s: queued again (their one blind resend)", n,
		    s->o->cfg->spooler_resend_grace);
	if ((rc = db_query(s->db, &s->pool, SQL_SPOOL_UNRESOLVED, &a, 1,
	    &res)) != DB_OK) {
		db_trouble(s, rc, "recovery", now);
		return;
	}
	snprintf(why, sizeof(why), "No answer from the Graph API to a "
	    "request that may have reached Meta, twice (the first send and "
	    "one blind resend), and no status webhook within %d s; not sent "
	    "again, to avoid a duplicate", s->o->cfg->spooler_resend_grace);
	for (i = 0; i < res.nrows; i++) {
		unsigned long long id = (unsigned long long)db_int(&res, i, 0);
		log_warnx("message %llu: failed: still no answer after its blind "
		    "resend", id);
		fail_record(s, id, true, LOCAL_CODE, AMBIGUOUS_TITLE, why);
	}
	pool_reset(&s->pool);
}

/* ---- the loop ------------------------------------------------------ */

static void
drain_wake(int fd)
{
	char buf[64];

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

/* For --drain: nothing due that we may take, nothing in flight, and no
 * result owed but those the database keeps refusing (they stay in the
 * journal for the next spooler). */
static bool
drained(const struct spool *s)
{
	return s->empty_poll_at != 0 && s->empty_poll_at > s->activity_at &&
	    graph_inflight(s->graph) == 0 && !owes(s);
}

int
spool_run(const struct spool_opts *o)
{
	struct spool s;
	struct hold *h;
	char err[512];
	int64_t start, now, deadline = 0, stop_at = 0, next, wait;
	int64_t stop_wait = STOP_WAIT_S * US;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.recs_tail = &s.recs;
	if (masterkey_load(o->cfg->master_key_file, s.key, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 1;
	}
	if (o->cfg->spooler_resend_grace <= o->cfg->spooler_graph_timeout)
		log_warnx("spooler.resend_grace_seconds (%d) is not above "
		    "spooler.graph_timeout_seconds (%d): a slow answer may be "
		    "sent twice", o->cfg->spooler_resend_grace,
		    o->cfg->spooler_graph_timeout);
	pool_init(&s.pool);
	s.journal = journal_open(o->journal_dir, o->holder);
	(void)journal_adopt(s.journal, rec_adopt, &s);
	s.db = db_new(o->cfg);
	s.graph = graph_new(o->max_inflight, o->cfg->spooler_graph_timeout);
	start = now_us();
	snprintf(err, sizeof(err), "none");
	if (o->max_seconds > 0) {
		deadline = start + (int64_t)o->max_seconds * US;
		snprintf(err, sizeof(err), "%d s", o->max_seconds);
	}
	log_info("start: %s, holder %s, %zu requests in flight at most, "
	    "time budget %s, resend grace %d s, journal %s", o->mode ==
	    SPOOL_ONCE ? "once" : o->mode == SPOOL_LOOP ? "loop" : "drain",
	    o->holder, o->max_inflight, err, o->cfg->spooler_resend_grace,
	    journal_path(s.journal));
	if (db_connect(s.db) != DB_OK)
		db_trouble(&s, DB_DOWN, "connecting", start);

	for (;;) {
		now = now_us();
		if (!s.stopping && (*o->signals > 0 ||
		    (deadline != 0 && now >= deadline))) {
			s.stopping = true;
			stop_at = now;
			if (*o->signals == 0)
				stop_wait = ((int64_t)o->cfg->
				    spooler_graph_timeout + 1) * US;
			log_info("stopping (%s): %zu request(s) in flight",
			    *o->signals > 0 ? "signal" : "time budget spent",
			    graph_inflight(s.graph));
		}
		graph_collect(s.graph, on_done, &s);
		recs_flush(&s, now, false);
		next = now + POLL_MS * MS;
		if (!s.stopping && now >= s.db_retry_at) {
			if (now >= s.next_recover)
				recover(&s, now);
			if (now >= s.next_housekeep)
				housekeeping(&s, now);
			if (now >= s.next_poll)
				poll_accounts(&s, now);
			renew_leases(&s, now);
			wait = claim_all(&s, now_us());
			if (wait < next)
				next = wait;
			if (s.next_poll < next)
				next = s.next_poll;
		} else if (s.stopping)
			renew_leases(&s, now);
		drop_accounts(&s, now_us(), false);
		if (s.stopping) {
			if (graph_inflight(s.graph) == 0)
				break;
			if (*o->signals > 1 || now - stop_at >= stop_wait) {
				log_warnx("giving up on %zu request(s) in "
				    "flight", graph_inflight(s.graph));
				graph_abort_all(s.graph, on_done, &s);
				break;
			}
		} else if (o->mode == SPOOL_DRAIN && drained(&s))
			break;
		if (s.recs != NULL && s.db_retry_at < next)
			next = s.db_retry_at;
		now = now_us();
		wait = next > now ? (next - now + MS - 1) / MS : 0;
		graph_wait(s.graph, (int)(wait > 1000 ? 1000 : wait), o->wake_fd);
		drain_wake(o->wake_fd);
	}

	/* Record what is left, through a short outage if need be. */
	while (s.recs != NULL && now_us() - now < FLUSH_WAIT_S * US) {
		s.db_retry_at = 0;
		recs_flush(&s, now_us(), true);
		if (s.recs != NULL)
			usleep(200 * 1000);
	}
	if (s.recs != NULL)
		log_warnx("%zu result(s) not recorded: kept in %s for the next "
		    "spooler on this host", s.nrecs, journal_path(s.journal));
	journal_close(s.journal, s.recs == NULL);
	while (s.recs != NULL) {
		struct rec *r = s.recs;
		s.recs = r->next;
		rec_free(r);
	}
	/* Releases wait out the rate window of the last start (at most a
	 * second), so the next holder starts within the rate. */
	while (s.accts != NULL) {
		drop_accounts(&s, now_us(), true);
		if (s.accts != NULL)
			usleep(50 * 1000);
	}
	while ((h = s.holds) != NULL) {
		s.holds = h->next;
		free(h);
	}
	log_info("done: %lu sent, %lu failed, %lu retried, %lu requeued, "
	    "%lu left 'sending' without an answer", s.n_sent, s.n_failed,
	    s.n_retried, s.n_requeued, s.n_ambiguous);
	graph_free(s.graph);
	db_free(s.db);
	pool_free(&s.pool);
	sodium_memzero(s.key, sizeof(s.key));
	return 0;
}
