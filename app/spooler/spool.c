/* The spooler's loop, the same for every queue (queue.h). One thread, one
 * database connection, one HTTP client (http.c); the database work is
 * short and synchronous between rounds of network activity.
 *
 * Per round: finished requests go to their queue, which reads them into
 * records; records are written; then, unless stopping, the loop looks for
 * lanes with due work (every POLL_MS), renews its leases, and for each
 * leased lane lets its queue claim as many due items as the lane's rate
 * and the free request slots allow. What a queue claims is marked in the
 * database as ours and committed before its requests start
 * (queue_message.c).
 *
 * Leases: one spooler drives a lane (for messages: an account) at a time,
 * so its rate holds across spoolers and hosts. A lease lasts LEASE_S and
 * is renewed every second while the lane has work; requests start only
 * until LEASE_MARGIN_S before it would end, so a lease that could not be
 * renewed (database away) ends with no start of ours near the next
 * holder's. An idle lane's lease is released, and at exit all are, but
 * only once the last start left the rate window.
 *
 * Rate: the lane's (for an account, whatsapp_accounts.mps) as a sliding
 * record of start times over one second plus a 20 ms guard for jitter
 * between here and the other end (rate.c): never more than mps starts in
 * any window of a second. mps 0 means no limit (the benchmark's
 * accounts); the request slots (--max-inflight, 512) bound it then.
 *
 * Results: every record for the database is journaled first (journal.c:
 * appended before it is written; synced when it stays owed), kept until
 * it is written, never dropped; a spooler that exits owing some leaves its
 * journal, which the next spooler on the host takes over before its
 * queues recover what spoolers that are gone left in flight.
 *
 * Modes: --once stops new work when its time budget is spent, --loop at a
 * signal, --drain once nothing is due that it may take; then the requests
 * in flight are waited for (STOP_WAIT_S after a signal, a request's
 * timeout after the budget), the records written, the leases released. */
#include <sys/types.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "housekeep.h"
#include "http.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "queue.h"
#include "rate.h"
#include "spool.h"
#include "xmalloc.h"

#define POLL_MS		200		/* look for new work this often */
#define LEASE_S		15		/* a lane's lease lasts this long */
#define LEASE_RENEW_MS	1000		/* and is renewed this often */
#define LEASE_MARGIN_S	3		/* no start this close to its end */
#define RATE_WINDOW_US	(US + 20 * MS)	/* a second and a guard */
#define IDLE_RELEASE_MS	2000		/* release a lane idle this long */
#define RECOVER_S	10
#define HOUSEKEEP_S	60		/* purge what has outlived its use */
#define CLAIM_MAX	256
#define WRITE_MANY_MAX	256		/* records written in one transaction */
#define CLAIM_MIN	16		/* wait for this much room, if busy */
#define STOP_WAIT_S	10		/* in-flight wait after a signal */
#define FLUSH_WAIT_S	10		/* record writes at exit, DB down */
#define DB_BACKOFF_MS	1000
#define CONFLICT_BACKOFF_MS	100	/* after DB_RETRY */
#define REFUSED_RETRY_S	60		/* a record refused 3 times */
#define JOURNAL_COMPACT_BYTES	(1024 * 1024)	/* rewritten past this while
						   results stay owed */
#define RESP_MAX	(64 * 1024)	/* an answer's bytes kept (Meta's are
					   a few hundred) */

/* The answers' headers kept for the queues (queue.h: SPOOL_HDR_*). */
static const char *const capture[] = { "Location", "Retry-After", NULL };

/* Lanes this process leaves alone for a while. */
struct hold {
	struct hold		*next;
	const struct queue	*q;
	unsigned long long	 id;
	int64_t			 until;
};

/* A claim whose commit was lost with the connection and that could not be
 * undone yet (unclaim_lost): tried again every round until it is. */
struct unclaim {
	struct unclaim		*next;
	struct queue		*q;
	unsigned long long	 lane;
	enum sql		 sql;
	char			*ids;
};

struct spool {
	const struct spool_opts	*o;
	struct db		*db;
	struct http		*http;
	struct pool		 pool;
	struct queue		*queues;
	size_t			 nqueues;
	struct lane		*lanes;
	struct hold		*holds;
	struct unclaim		*unclaims;	/* owed undos of lost claims */
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
};

int64_t
spool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000;
}

struct db *
spool_db(struct spool *s)
{
	return s->db;
}

int
spool_master_key(struct queue *q, uint8_t *key)
{
	char err[512];

	if (masterkey_load(q->s->o->cfg->master_key_file, key, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

struct pool *
spool_pool(struct spool *s)
{
	return &s->pool;
}

const struct spool_opts *
spool_opts(const struct spool *s)
{
	return s->o;
}

void
spool_activity(struct spool *s, int64_t now)
{
	s->activity_at = now;
}

void
spool_db_trouble(struct spool *s, enum db_rc rc, const char *what,
    int64_t now)
{
	if (rc == DB_RETRY) {
		/* Rolled back again and again by concurrent transactions
		 * (deadlocks; on a Galera cluster, claims or counters that
		 * lost certification to another node's): not an outage. */
		log_info("%s: rolled back by concurrent transactions (%s); "
		    "again shortly", what, db_errmsg(s->db));
		s->db_retry_at = now + CONFLICT_BACKOFF_MS * MS;
		return;
	}
	if (rc == DB_DOWN) {
		if (!s->db_down)
			log_warnx("database unavailable (%s): %s; retrying",
			    what, db_errmsg(s->db));
		s->db_down = true;
	} else
		log_warnx("database error (%s): %s", what, db_errmsg(s->db));
	s->db_retry_at = now + DB_BACKOFF_MS * MS;
}

void
spool_db_fine(struct spool *s)
{
	if (s->db_down)
		log_info("database available again");
	s->db_down = false;
}

/* ---- records --------------------------------------------------------- */

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

void
spool_record(struct queue *q, struct rec *r)
{
	r->queue = q->index;
	if (r->holder == NULL)
		r->holder = xstrdup(q->s->o->holder);
	rec_queue(q->s, r, false);
}

/* The queue a record is of; NULL for one of a queue this spooler does not
 * drive (a journal of a newer version): kept, never written. */
static struct queue *
rec_queue_of(struct spool *s, const struct rec *r)
{
	return r->queue < s->nqueues ? &s->queues[r->queue] : NULL;
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
/* Writes the run of records at *rp that are q's, due and never refused,
 * up to WRITE_MANY_MAX, through q's write_many, and unlinks them. Returns
 * how many were written: 0 when the run is of one record (write does it)
 * or write_many failed (*failed set; write then finds the one refused). */
static size_t
write_run(struct spool *s, struct queue *q, struct rec **rp, int64_t now,
    bool *failed)
{
	struct rec *run[WRITE_MANY_MAX], *r;
	size_t n = 0, i;

	for (r = *rp; r != NULL && n < WRITE_MANY_MAX &&
	    rec_queue_of(s, r) == q && r->errors == 0 && r->retry_at <= now;
	    r = r->next)
		run[n++] = r;
	if (n < 2) {
		pool_reset(&s->pool);
		return 0;
	}
	if (q->ops->write_many(q, run, n) != DB_OK) {
		*failed = true;
		pool_reset(&s->pool);
		return 0;
	}
	spool_db_fine(s);
	s->activity_at = now;
	*rp = r;
	if (r == NULL)
		s->recs_tail = rp;
	s->nrecs -= n;
	for (i = 0; i < n; i++)
		rec_free(run[i]);
	pool_reset(&s->pool);
	return n;
}

static void
recs_flush(struct spool *s, int64_t now, bool all)
{
	struct rec *r, **rp;
	struct queue *q;
	enum db_rc rc;
	bool many_failed = false;

	for (rp = &s->recs; (r = *rp) != NULL && now >= s->db_retry_at; ) {
		if (!all && r->retry_at > now) {
			rp = &r->next;
			continue;
		}
		q = rec_queue_of(s, r);
		/* Once a run failed, the rest of this call goes one by one:
		 * trying each remaining suffix again as a run would be a
		 * transaction per record more (O(n^2) writes). */
		if (q != NULL && q->ops->write_many != NULL && r->errors == 0 &&
		    !many_failed) {
			if (write_run(s, q, rp, now, &many_failed) > 0)
				continue;
		}
		rc = q != NULL ? q->ops->write(q, r) : DB_ERR;
		if (rc == DB_DOWN || rc == DB_RETRY) {
			spool_db_trouble(s, rc, "recording results", now);
			break;
		}
		if (rc != DB_OK) {
			if (q != NULL)
				spool_db_trouble(s, rc, "recording results",
				    now);
			if (++r->errors < 3)
				break;
			log_warnx("%s %llu: result refused %d times; kept, "
			    "tried again in %d s", q != NULL ?
			    q->ops->rec_noun(r) : "record", r->id, r->errors,
			    REFUSED_RETRY_S);
			r->errors = 0;
			r->retry_at = now + REFUSED_RETRY_S * US;
			rp = &r->next;
			continue;
		}
		spool_db_fine(s);
		s->activity_at = now;
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

/* ---- lanes and leases ------------------------------------------------ */

static bool
held_off(struct spool *s, const struct queue *q, unsigned long long id,
    int64_t now)
{
	struct hold *h, **hp;

	for (hp = &s->holds; (h = *hp) != NULL; ) {
		if (h->until <= now) {
			*hp = h->next;
			free(h);
			continue;
		}
		if (h->q == q && h->id == id)
			return true;
		hp = &h->next;
	}
	return false;
}

/* Ends a lane's hold (held_off drops it). */
void
spool_hold_end(struct queue *q, unsigned long long id)
{
	struct hold *h;

	for (h = q->s->holds; h != NULL; h = h->next)
		if (h->q == q && h->id == id)
			h->until = 0;
}

void
spool_hold_off(struct queue *q, unsigned long long id, int64_t until)
{
	struct spool *s = q->s;
	struct hold *h;

	for (h = s->holds; h != NULL; h = h->next)
		if (h->q == q && h->id == id) {
			if (h->until < until)
				h->until = until;
			return;
		}
	h = xcalloc(1, sizeof(*h));
	h->q = q;
	h->id = id;
	h->until = until;
	h->next = s->holds;
	s->holds = h;
}

static struct lane *
lane_find(struct spool *s, const struct queue *q, unsigned long long id)
{
	struct lane *l;

	for (l = s->lanes; l != NULL; l = l->next)
		if (l->q == q && l->id == id)
			return l;
	return NULL;
}

static void
lane_free(struct lane *l)
{
	l->q->ops->lane_close(l);
	rate_free(&l->rate);
	free(l);
}

/* Takes or renews a lane's lease. Returns 1 if held now, 0 if another
 * spooler holds it, -1 on a database error. */
static int
lease(struct spool *s, const struct queue *q, unsigned long long id,
    int64_t now)
{
	struct db_arg a[4];
	uint64_t affected = 0;
	enum db_rc rc;

	a[0] = DBA_STR(s->o->holder);
	a[1] = DBA_INT(LEASE_S);
	a[2] = DBA_INT(id);
	a[3] = DBA_STR(s->o->holder);
	if ((rc = db_exec(s->db, q->ops->sql_lease, a, 4, &affected, NULL)) !=
	    DB_OK) {
		/* Another spooler's lease write won (a deadlock, or on a
		 * Galera cluster a lost certification): not ours this time,
		 * and the database is fine. */
		if (rc != DB_RETRY)
			spool_db_trouble(s, rc, "lease", now);
		return -1;
	}
	return affected > 0 ? 1 : 0;
}

static void
lease_release(struct spool *s, struct lane *l)
{
	struct db_arg arg[2];
	enum db_rc rc;

	arg[0] = DBA_INT(l->id);
	arg[1] = DBA_STR(s->o->holder);
	if ((rc = db_exec(s->db, l->q->ops->sql_release, arg, 2, NULL,
	    NULL)) != DB_OK)
		log_warnx("%s %llu: cannot release the lease (%s); it "
		    "expires in %d s", l->q->ops->lane_name, l->id,
		    db_errmsg(s->db), LEASE_S);
	else
		log_info("%s %llu: lease released", l->q->ops->lane_name, l->id);
}

/* A new lane to drive: its queue opens it, then it is leased. */
static void
lane_take(struct spool *s, struct queue *q, const struct db_res *res,
    size_t row, int64_t now)
{
	struct lane *l = xcalloc(1, sizeof(*l));
	uint32_t mps = 0;

	l->q = q;
	l->id = (unsigned long long)db_int(res, row, 0);
	if (q->ops->lane_open(q, l, res, row, &mps) == -1) {
		spool_hold_off(q, l->id, now + SPOOL_BAD_LANE_S * US);
		free(l);
		return;
	}
	if (lease(s, q, l->id, now) != 1) {
		q->ops->lane_close(l);
		free(l);
		return;
	}
	rate_init(&l->rate, mps, RATE_WINDOW_US);
	l->lease_until = now + (LEASE_S - LEASE_MARGIN_S) * US;
	l->renew_at = now + LEASE_RENEW_MS * MS;
	l->next_claim = now;
	l->work_at = now;
	l->next = s->lanes;
	s->lanes = l;
	if (mps > 0)
		log_info("%s %llu: lease taken (%lu msg/s)", q->ops->lane_name,
		    l->id, (unsigned long)mps);
	else
		log_info("%s %llu: lease taken (no rate limit)",
		    q->ops->lane_name, l->id);
}

/* Lanes with due work and no live lease held by another spooler. Returns
 * how many this spooler may take, or -1 on a database error. */
static long
poll_queue(struct spool *s, struct queue *q, int64_t now)
{
	struct db_res res;
	struct db_arg a = DBA_STR(s->o->holder);
	struct lane *l;
	enum db_rc rc;
	size_t i;
	long due = 0;

	if ((rc = db_query(s->db, &s->pool, q->ops->sql_lanes, &a, 1, &res)) !=
	    DB_OK) {
		spool_db_trouble(s, rc, "looking for work", now);
		return -1;
	}
	spool_db_fine(s);
	for (i = 0; i < res.nrows; i++) {
		unsigned long long id = (unsigned long long)db_int(&res, i, 0);
		if (held_off(s, q, id, now))
			continue;
		due++;
		if ((l = lane_find(s, q, id)) != NULL) {
			l->work_at = now;
			continue;
		}
		if (q->ops->work == NULL && http_room(s->http) == 0)
			continue;
		lane_take(s, q, &res, i, now);
	}
	pool_reset(&s->pool);
	return due;
}

static void
poll_lanes(struct spool *s, int64_t now)
{
	long due = 0, got;
	size_t i;

	s->next_poll = now + POLL_MS * MS;
	for (i = 0; i < s->nqueues; i++) {
		if ((got = poll_queue(s, &s->queues[i], now)) < 0)
			return;
		due += got;
	}
	/* Nothing due that this spooler may take. Lanes another spooler
	 * holds are its work: --drain does not wait for them (a live one
	 * sends them; a dead one's lease lapses within LEASE_S and the next
	 * run takes them). */
	if (due == 0)
		s->empty_poll_at = now;
}

static void
renew_leases(struct spool *s, int64_t now)
{
	struct lane *l;
	int got;

	for (l = s->lanes; l != NULL; l = l->next) {
		if (l->lost || now < l->renew_at || now < s->db_retry_at)
			continue;
		l->renew_at = now + LEASE_RENEW_MS * MS;
		if ((got = lease(s, l->q, l->id, now)) == 1)
			l->lease_until = now + (LEASE_S - LEASE_MARGIN_S) * US;
		else if (got == 0) {
			log_warnx("%s %llu: lease lost to another spooler",
			    l->q->ops->lane_name, l->id);
			l->lost = true;
		}
	}
}

/* Frees lanes no longer driven: lost, or idle, or paused, with nothing in
 * flight. The lease is released only once the last start left the rate
 * window, so the next holder cannot exceed the rate with ours. */
static void
drop_lanes(struct spool *s, int64_t now, bool all)
{
	struct lane *l, **lp;

	if (!all && now < s->db_retry_at)
		return;		/* the release would wait on a dead server */
	for (lp = &s->lanes; (l = *lp) != NULL; ) {
		bool idle = now - l->work_at >= IDLE_RELEASE_MS * MS;
		/* While results are owed the lease stays ours (renewed):
		 * another spooler's recovery takes a claim for abandoned only
		 * once its holder's lease is gone. At exit the journal
		 * carries them, and a spooler adopts it before it recovers. */
		if (!all && !l->lost && owes(s)) {
			lp = &l->next;
			continue;
		}
		if (l->inflight > 0 || !(l->lost || l->paused || idle || all) ||
		    (!l->lost && l->rate.mps > 0 && l->last_start != 0 &&
		    now < l->last_start + RATE_WINDOW_US)) {
			lp = &l->next;
			continue;
		}
		if (!l->lost)
			lease_release(s, l);
		*lp = l->next;
		lane_free(l);
	}
}

/* ---- claims and requests --------------------------------------------- */

void
spool_start(struct queue *q, struct lane *l, struct http_req *r,
    unsigned long long item, int attempt, int64_t now)
{
	struct spool *s = q->s;
	struct job *j = r->ctx;

	j->q = q;
	j->lane = l;
	rate_take(&l->rate, now);
	l->last_start = now;
	l->inflight++;
	/* --trace: the start as the rate counted it (CLOCK_MONOTONIC,
	 * comparable between the spoolers of a host). One write a line. */
	if (s->o->trace_fd >= 0)
		(void)dprintf(s->o->trace_fd, "%lld.%06lld start %llu "
		    "%llu %d %s\n", (long long)(now / US),
		    (long long)(now % US), l->id, item, attempt,
		    s->o->holder);
	http_start(s->http, r);
}

/* Undoes a lost claim (u->sql: ids, holder) in a transaction of its own,
 * on whichever node answers now. 0, or -1 (logged by the caller). */
static int
unclaim_run(struct spool *s, const struct unclaim *u, uint64_t *n)
{
	struct db_arg a[2];

	a[0] = DBA_STR(u->ids);
	a[1] = DBA_STR(s->o->holder);
	if (db_begin(s->db) == DB_OK &&
	    db_exec(s->db, u->sql, a, 2, n, NULL) == DB_OK &&
	    db_commit(s->db) == DB_OK)
		return 0;
	db_rollback(s->db);
	return -1;
}

/* A claim whose commit had an unknown outcome: put back if it did commit
 * (unclaim, SQL__MAX: none, the items come due again when the claim
 * expires). An undo that fails now is owed, tried again every round
 * (unclaims_retry) while this spooler lives and holds the lane's lease,
 * so the items do not wait for recovery, which leaves a live lease
 * holder's claims alone. */
static void
unclaim_lost(struct queue *q, unsigned long long lane, enum sql unclaim,
    const char *ids)
{
	struct spool *s = q->s;
	struct unclaim *u;
	struct lane *l;
	uint64_t n = 0;

	if (unclaim == SQL__MAX) {
		log_warnx("%s: a claim's commit was lost with the connection; "
		    "its items are due again when the claim expires",
		    q->ops->name);
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->q = q;
	u->lane = lane;
	u->sql = unclaim;
	u->ids = xstrdup(ids);
	if (unclaim_run(s, u, &n) == 0) {
		log_warnx("%s: a claim's commit was lost with the connection; "
		    "%" PRIu64 " item(s) it had taken put back, none sent",
		    q->ops->name, n);
		free(u->ids);
		free(u);
		return;
	}
	log_warnx("%s: a claim's commit was lost with the connection and it "
	    "cannot be undone now (%s): nothing of it is sent; the undo is "
	    "tried again, and the %s is left alone until then", q->ops->name,
	    db_errmsg(s->db), q->ops->lane_name);
	/* No claim of ours on the lane while the undo is owed: were the
	 * lost claim not committed, a new one could take the same items,
	 * and the undo would then put back requests in flight. Its lease
	 * is released; another spooler's claims are not the undo's (it
	 * matches this spooler's name). */
	if ((l = lane_find(s, q, lane)) != NULL)
		l->paused = true;
	spool_hold_off(q, lane, INT64_MAX);
	u->next = s->unclaims;
	s->unclaims = u;
}

/* The owed undos, before any new claim. */
static void
unclaims_retry(struct spool *s)
{
	struct unclaim *u, **up;
	uint64_t n;

	for (up = &s->unclaims; (u = *up) != NULL; ) {
		n = 0;
		if (unclaim_run(s, u, &n) == -1)
			return;
		log_info("%s: the undo of a lost claim is done: %" PRIu64
		    " item(s) put back", u->q->ops->name, n);
		spool_hold_end(u->q, u->lane);
		*up = u->next;
		free(u->ids);
		free(u);
	}
}

enum db_rc
spool_claim(struct queue *q, enum sql claim, unsigned long long lane,
    size_t n, enum sql mark, const struct db_arg *extra, size_t nextra,
    enum sql unclaim, struct db_res *res, const char **ids,
    uint64_t *marked)
{
	struct spool *s = q->s;
	struct db_arg a[4];
	enum db_rc rc = DB_OK;
	int attempt;
	bool committing;

	*ids = NULL;
	*marked = 0;
	for (attempt = 0; attempt < 3; attempt++) {
		committing = false;
		if ((rc = db_begin(s->db)) != DB_OK)
			break;
		a[0] = DBA_INT(lane);
		a[1] = DBA_INT(n);
		rc = db_query(s->db, &s->pool, claim, a, 2, res);
		if (rc == DB_OK && res->nrows > 0) {
			*ids = db_ids_json(&s->pool, res);
			a[0] = DBA_STR(*ids);
			a[1] = DBA_STR(s->o->holder);
			if (nextra > 0)
				memcpy(a + 2, extra, nextra * sizeof(*a));
			rc = db_exec(s->db, mark, a, 2 + nextra, marked, NULL);
		}
		if (rc == DB_OK) {
			committing = true;
			if ((rc = db_commit(s->db)) == DB_OK)
				return DB_OK;
		}
		db_rollback(s->db);
		/* Lost while committing: the claim may stand (on a cluster,
		 * the other nodes may have committed it), but nothing of it
		 * starts; it is undone where the queue can, else its items
		 * come due again when the claim expires (queue.h). */
		if (committing && rc == DB_DOWN && *ids != NULL)
			unclaim_lost(q, lane, unclaim, *ids);
		*ids = NULL;
		/* A deadlock, or a claim that lost certification to another
		 * node's (Galera: 1213 at any statement or at the commit):
		 * rolled back, nothing of it is ours; claimed again. */
		if (rc != DB_RETRY)
			break;
		pool_reset(&s->pool);
	}
	return rc;
}

/* Lets every lane that may start now claim. Returns the earliest time
 * another claim could be due (room permitting). */
static int64_t
claim_all(struct spool *s, int64_t now)
{
	int64_t next = INT64_MAX;
	struct lane *l, *last;
	size_t n, room;
	uint32_t avail;
	int got;

	/* Round robin: the first lane in line goes last next time, so none
	 * takes all the free request slots every round. */
	if (s->lanes != NULL && s->lanes->next != NULL) {
		for (last = s->lanes; last->next != NULL; last = last->next)
			;
		last->next = s->lanes;
		s->lanes = s->lanes->next;
		last->next->next = NULL;
	}
	for (l = s->lanes; l != NULL; l = l->next) {
		if (l->lost || l->paused || now >= l->lease_until)
			continue;
		if (now < l->next_claim) {
			if (l->next_claim < next)
				next = l->next_claim;
			continue;
		}
		if (now < s->db_retry_at)
			return s->db_retry_at;
		/* A queue of database batches: one batch per round, between
		 * the rounds of network activity (queue.h). */
		if (l->q->ops->work != NULL) {
			int64_t t = spool_now();

			if ((got = l->q->ops->work(l->q, l, now)) < 0)
				return s->db_retry_at;
			if (got > 0) {
				l->work_at = now;
				s->activity_at = now;
			}
			/* While requests are in flight, a batch that took d
			 * waits d / 2 for the next: the answers and the
			 * claims keep a third of the loop's time. */
			t = spool_now() - t;
			l->next_claim = got == 0 ? now + POLL_MS * MS :
			    http_inflight(s->http) > 0 ? now + t + t / 2 : now;
			if (l->next_claim < next)
				next = l->next_claim;
			continue;
		}
		avail = rate_available(&l->rate, now);
		room = http_room(s->http);
		n = avail < room ? avail : room;
		if (n > CLAIM_MAX)
			n = CLAIM_MAX;
		/* The queue's own bound (a per-host cap): none this round
		 * leaves next_claim as it was, so the loop does not spin; an
		 * answer that frees room wakes it. */
		if (avail > 0 && n > 0 && l->q->ops->room != NULL) {
			size_t qroom = l->q->ops->room(l->q, l);
			if (qroom == 0)
				continue;
			if (qroom < n)
				n = qroom;
		}
		if (avail == 0) {
			l->next_claim = rate_next(&l->rate, now);
			if (l->next_claim < next)
				next = l->next_claim;
			continue;
		}
		/* Too little room while busy: wait for answers to free more
		 * rather than run a claim per answer. An answer wakes the
		 * loop. */
		if (n == 0 || (room < CLAIM_MIN && n == room &&
		    http_inflight(s->http) >= CLAIM_MIN))
			continue;
		if ((got = l->q->ops->claim(l->q, l, n, now)) < 0)
			return s->db_retry_at;
		if (got > 0) {
			l->work_at = now;
			s->activity_at = now;
		}
		/* A short claim means nothing more is due now: look again at
		 * the next poll. */
		l->next_claim = (size_t)got < n ? now + POLL_MS * MS : now;
		if (l->next_claim < next)
			next = l->next_claim;
	}
	return next;
}

static void
on_done(const struct http_done *d, void *arg)
{
	struct spool *s = arg;
	struct job *j = d->ctx;
	int64_t now = spool_now();

	j->lane->inflight--;
	s->activity_at = now;
	j->q->ops->result(j->q, j, d, now);
}

/* ---- upkeep ---------------------------------------------------------- */

/* About once a minute, by every spooler: idempotency records past their
 * 24 hours (lib/housekeep.c). A failure waits for the next minute. */
static void
housekeeping(struct spool *s, int64_t now)
{
	uint64_t n = 0;
	enum db_rc rc;

	s->next_housekeep = now + HOUSEKEEP_S * US;
	uint64_t purged = 0, removed = 0;

	if ((rc = housekeep(s->db, &n)) != DB_OK)
		log_warnx("housekeeping: %s", db_errmsg(s->db));
	else if (n > 0)
		log_info("housekeeping: %" PRIu64 " idempotency record(s) past "
		    "24 hours deleted", n);
	if ((rc = housekeep_webhooks(s->db, &s->pool,
	    s->o->cfg->webhooks_retention_days, &purged, &removed)) != DB_OK)
		log_warnx("housekeeping (webhooks): %s", db_errmsg(s->db));
	else if (purged > 0 || removed > 0)
		log_info("housekeeping: %" PRIu64 " webhook deliveries past "
		    "%d days purged, %" PRIu64 " rows of deleted webhooks "
		    "removed", purged, s->o->cfg->webhooks_retention_days,
		    removed);
}

/* Takes over the results of spoolers gone from this host, then lets each
 * queue recover what such spoolers left in flight. Not while results of
 * ours wait to be written: they may be of those items; results the
 * database keeps refusing (retried every minute) do not hold recovery off
 * for good. */
static void
recover(struct spool *s, int64_t now)
{
	size_t i;

	s->next_recover = now + RECOVER_S * US;
	(void)journal_adopt(s->journal, rec_adopt, s);
	if (owes(s))
		return;
	for (i = 0; i < s->nqueues && now >= s->db_retry_at; i++)
		s->queues[i].ops->recover(&s->queues[i], now);
}

/* ---- the loop -------------------------------------------------------- */

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
	    http_inflight(s->http) == 0 && !owes(s);
}

/* The run's one summary line: each queue's counts (messages first), how
 * long it ran and how it ended. */
static void
done_line(struct spool *s, int64_t start)
{
	char line[1024], part[384];
	size_t i, n = 0;

	line[0] = '\0';
	for (i = 0; i < s->nqueues; i++) {
		part[0] = '\0';
		s->queues[i].ops->close(&s->queues[i], part, sizeof(part));
		if (part[0] != '\0' && n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s",
			    n ? "; " : "", part);
	}
	log_info("done: %s; %s run of %.1f s, %zu result(s) left in the "
	    "journal", line, s->o->mode == SPOOL_ONCE ? "once" :
	    s->o->mode == SPOOL_LOOP ? "loop" : "drain",
	    (double)(spool_now() - start) / US, s->nrecs);
}

int
spool_run(const struct spool_opts *o)
{
	struct spool s;
	struct hold *h;
	struct unclaim *u;
	struct http_opts ho;
	char err[512];
	int64_t start, now, deadline = 0, stop_at = 0, next, wait;
	int64_t stop_wait = STOP_WAIT_S * US;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.recs_tail = &s.recs;
	s.nqueues = o->nqueues;
	s.queues = xcalloc(o->nqueues, sizeof(*s.queues));
	for (i = 0; i < s.nqueues; i++) {
		s.queues[i].ops = o->queues[i];
		s.queues[i].s = &s;
		s.queues[i].index = (unsigned)i;
		if ((s.queues[i].state = o->queues[i]->open(&s.queues[i])) ==
		    NULL) {
			while (i-- > 0)
				s.queues[i].ops->close(&s.queues[i], err,
				    sizeof(err));
			free(s.queues);
			return 1;
		}
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
	db_use_spooler_shards(s.db);
	memset(&ho, 0, sizeof(ho));
	ho.max = o->max_inflight;
	ho.timeout_s = o->cfg->spooler_graph_timeout;
	ho.body_max = RESP_MAX;
	ho.capture = capture;
	s.http = http_new(&ho);
	start = spool_now();
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
		spool_db_trouble(&s, DB_DOWN, "connecting", start);

	for (;;) {
		now = spool_now();
		if (!s.stopping && (*o->signals > 0 ||
		    (deadline != 0 && now >= deadline))) {
			s.stopping = true;
			stop_at = now;
			if (*o->signals == 0)
				stop_wait = ((int64_t)o->cfg->
				    spooler_graph_timeout + 1) * US;
			log_info("stopping (%s): %zu request(s) in flight",
			    *o->signals > 0 ? "signal" : "time budget spent",
			    http_inflight(s.http));
		}
		http_collect(s.http, on_done, &s);
		db_home(s.db);	/* database.hosts: back to the first node */
		recs_flush(&s, now, false);
		next = now + POLL_MS * MS;
		if (s.unclaims != NULL && now >= s.db_retry_at)
			unclaims_retry(&s);
		if (!s.stopping && now >= s.db_retry_at) {
			if (now >= s.next_recover)
				recover(&s, now);
			if (now >= s.next_housekeep)
				housekeeping(&s, now);
			if (now >= s.next_poll)
				poll_lanes(&s, now);
			renew_leases(&s, now);
			wait = claim_all(&s, spool_now());
			if (wait < next)
				next = wait;
			if (s.next_poll < next)
				next = s.next_poll;
		} else if (s.stopping)
			renew_leases(&s, now);
		drop_lanes(&s, spool_now(), false);
		if (s.stopping) {
			if (http_inflight(s.http) == 0)
				break;
			if (*o->signals > 1 || now - stop_at >= stop_wait) {
				log_warnx("giving up on %zu request(s) in "
				    "flight", http_inflight(s.http));
				http_abort_all(s.http, on_done, &s);
				break;
			}
		} else if (o->mode == SPOOL_DRAIN && drained(&s))
			break;
		if (s.recs != NULL && s.db_retry_at < next)
			next = s.db_retry_at;
		now = spool_now();
		wait = next > now ? (next - now + MS - 1) / MS : 0;
		http_wait(s.http, (int)(wait > 1000 ? 1000 : wait), o->wake_fd);
		drain_wake(o->wake_fd);
	}

	/* Record what is left, through a short outage if need be. */
	while (s.recs != NULL && spool_now() - now < FLUSH_WAIT_S * US) {
		s.db_retry_at = 0;
		recs_flush(&s, spool_now(), true);
		if (s.recs != NULL)
			usleep(200 * 1000);
	}
	if (s.recs != NULL)
		log_warnx("%zu result(s) not recorded: kept in %s for the next "
		    "spooler on this host", s.nrecs, journal_path(s.journal));
	/* Undos still owed: once this spooler's leases end, recovery
	 * takes their items back (docs/decisions.md). */
	if (s.unclaims != NULL)
		unclaims_retry(&s);
	while ((u = s.unclaims) != NULL) {
		log_warnx("%s: the undo of a lost claim is still owed at exit; "
		    "its items are recovered once this spooler's lease "
		    "expires", u->q->ops->name);
		s.unclaims = u->next;
		free(u->ids);
		free(u);
	}
	journal_close(s.journal, s.recs == NULL);
	while (s.recs != NULL) {
		struct rec *r = s.recs;
		s.recs = r->next;
		rec_free(r);
	}
	/* Releases wait out the rate window of the last start (at most a
	 * second), so the next holder starts within the rate. */
	while (s.lanes != NULL) {
		drop_lanes(&s, spool_now(), true);
		if (s.lanes != NULL)
			usleep(50 * 1000);
	}
	while ((h = s.holds) != NULL) {
		s.holds = h->next;
		free(h);
	}
	done_line(&s, start);
	http_free(s.http);
	db_free(s.db);
	pool_free(&s.pool);
	free(s.queues);
	return 0;
}
