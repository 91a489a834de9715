/* The campaigns queue: the expansion of due campaigns (SPEC 7, the issue
 * 12 design), one lane per campaign (its lease: campaigns.lease_holder,
 * lease_until). Its work is database batches, not requests: the loop
 * calls work (queue.h) once per round for each leased campaign, and each
 * call runs one batch in a short transaction of its own through the
 * routines of sql/routines/campaign_expand.sql:
 *
 *   start     a scheduled campaign whose time has come: running
 *             (SQL_CAMPAIGN_START, by the lease's holder only);
 *   snapshot  the next contacts of the segment's audience into its
 *             recipients (phase 'snapshot', then 'queue');
 *   queue     the next recipients' messages, set-based (conversations
 *             opened with their events, the messages inserted as the
 *             API's template send stores them, with campaign_id and lane
 *             1); while the snapshot runs, snapshot and queue batches
 *             alternate, so sends start after the first snapshot batch
 *             rather than after the whole audience (then 'sending');
 *   complete  once no recipient is queued: completed, campaign.completed
 *             emitted in the same transaction (then 'done');
 *   park      a stopped campaign (phase 'parking': cancelled, or failed
 *             on a campaign-level error): its queued messages leave the
 *             send queue (lane 2), batch by batch (then 'done').
 *
 * Each batch locks the campaign's row and checks the lease and the
 * cursor there; the unique key (campaign_id, contact_id) of messages
 * guards the rest: each contact gets one message, across spoolers,
 * kill -9 and lost leases. A campaign sending its messages is no lane
 * (SQL_CAMPAIGN_LANES lists it again once none is queued), so --drain
 * waits for it only as long as its messages are being sent.
 *
 * Batch sizes, measured (30,000 and 100,000 recipients on 2 cores shared
 * with other servers): a queue batch costs less a recipient the larger
 * it is (1,000: 200 us, 2,000: 150, 5,000: 90-120, in the spooler's
 * transactions), a snapshot batch 10-20 us a contact; so
 * SNAPSHOT_BATCH contacts (about 0.1-0.2 s a batch) and QUEUE_BATCH
 * recipients (0.3-0.5 s); while requests are in flight the loop gives
 * the sends a third of its time between batches (spool.c), and 5,000
 * messages queued a batch stay far ahead of 1,000 sent a second. A
 * cancel waits at most one batch for the campaign's row lock.
 *
 * Test only: WAZERA_TEST_CAMPAIGN_BATCH=N makes every batch N rows (a
 * small audience then takes many batches),
 * WAZERA_TEST_CAMPAIGN_SNAPSHOT_BATCH=N then the snapshot's N, and
 * WAZERA_TEST_CAMPAIGN_PAUSE=N stops the process (SIGSTOP) right after
 * its N-th committed batch, so a test can look at a campaign midway and
 * kill -9 the spooler there. None is for production. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "queue.h"
#include "queues.h"
#include "spool.h"
#include "xmalloc.h"

#define SNAPSHOT_BATCH	10000
#define QUEUE_BATCH	5000
#define PARK_BATCH	2000

struct cq {
	unsigned	 snapshot_batch, queue_batch, park_batch;
	unsigned long	 pause_after;	/* test only: 0, or SIGSTOP after */
	unsigned long	 batches;
	unsigned long	 n_started, n_recipients, n_queued, n_completed,
			 n_parked;
};

/* A campaign being expanded (a lane's data). */
struct camp {
	char		*content;	/* its messages' content (JSON) */
	char		 phase[16];
	bool		 started;	/* the start was tried */
	bool		 queue_next;	/* snapshot and queue alternate */
	unsigned long long park_after;	/* parking's cursor (contact id) */
	unsigned long long snap_cursor;	/* the snapshot's, as last seen */
	int64_t		 t0;		/* first batch, spool_now() */
	int64_t		 t_snap, t_queue;	/* in their batches, us */
	unsigned long	 recipients, queued, parked;
};

static struct cq *
cq(struct queue *q)
{
	return q->state;
}

static unsigned long
env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n == 0 || n > 1000000) {
		log_warnx("%s=%s ignored (1 to 1000000)", name, v);
		return def;
	}
	return n;
}

static void *
cq_open(struct queue *q)
{
	struct cq *c = xcalloc(1, sizeof(*c));
	unsigned long b;

	(void)q;
	c->snapshot_batch = SNAPSHOT_BATCH;
	c->queue_batch = QUEUE_BATCH;
	c->park_batch = PARK_BATCH;
	if ((b = env_num("WAZERA_TEST_CAMPAIGN_BATCH", 0)) > 0) {
		c->snapshot_batch = c->queue_batch = c->park_batch =
		    (unsigned)b;
		log_warnx("WAZERA_TEST_CAMPAIGN_BATCH: campaign batches of %lu "
		    "(test only)", b);
	}
	if ((b = env_num("WAZERA_TEST_CAMPAIGN_SNAPSHOT_BATCH", 0)) > 0) {
		c->snapshot_batch = (unsigned)b;
		log_warnx("WAZERA_TEST_CAMPAIGN_SNAPSHOT_BATCH: snapshot "
		    "batches of %lu (test only)", b);
	}
	if ((c->pause_after = env_num("WAZERA_TEST_CAMPAIGN_PAUSE", 0)) > 0)
		log_warnx("WAZERA_TEST_CAMPAIGN_PAUSE: stopping after %lu "
		    "campaign batches (test only)", c->pause_after);
	return c;
}

static void
cq_close(struct queue *q, char *sum, size_t sumlen)
{
	struct cq *c = cq(q);

	snprintf(sum, sumlen, "%lu campaigns started, %lu recipients snapshotted, "
	    "%lu campaign messages queued, %lu campaigns completed, %lu "
	    "campaign messages parked", c->n_started, c->n_recipients,
	    c->n_queued, c->n_completed, c->n_parked);
	free(c);
}

/* The campaign's messages' content, as POST /messages/send stores a
 * template (json-c, compact, slashes unescaped): name, language as
 * Meta's object, components as the campaign keeps them. NULL if the
 * components are not a JSON array. */
static char *
content_of(const char *name, const char *lang, const char *components)
{
	struct json_object *o, *l, *comp;
	char *s;

	if ((comp = json_tokener_parse(components)) == NULL ||
	    !json_object_is_type(comp, json_type_array)) {
		json_object_put(comp);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	l = json_object_new_object();
	json_object_object_add(l, "code", json_object_new_string(lang));
	json_object_object_add(o, "language", l);
	json_object_object_add(o, "components", comp);
	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static int
cq_lane_open(struct queue *q, struct lane *l, const struct db_res *res,
    size_t row, uint32_t *mps)
{
	struct camp *k;
	char *content;

	(void)q;
	if ((content = content_of(db_str(res, row, CX_NAME),
	    db_str(res, row, CX_LANGUAGE), db_str(res, row, CX_COMPONENTS))) ==
	    NULL) {
		log_warnx("campaign %llu: its template_components are not a "
		    "JSON array; skipped for %d s", l->id, SPOOL_BAD_LANE_S);
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->content = content;
	snprintf(k->phase, sizeof(k->phase), "%s", db_str(res, row,
	    CX_PHASE));
	l->data = k;
	*mps = 0;
	return 0;
}

static void
cq_lane_close(struct lane *l)
{
	struct camp *k = l->data;

	if (k == NULL)
		return;
	free(k->content);
	free(k);
	l->data = NULL;
}

/* Runs one batch statement in a transaction of its own (up to 3 times on
 * a deadlock); its row (CB_*) in *res. */
static enum db_rc
batch(struct queue *q, enum sql st, const struct db_arg *a, size_t na,
    struct db_res *res)
{
	struct db *db = spool_db(q->s);
	enum db_rc rc = DB_OK;
	int attempt;

	for (attempt = 0; attempt < 3; attempt++) {
		if ((rc = db_begin(db)) != DB_OK)
			break;
		rc = db_query(db, spool_pool(q->s), st, a, na, res);
		if (rc == DB_OK && res->nrows != 1)
			rc = DB_ERR;
		if (rc == DB_OK && (rc = db_commit(db)) == DB_OK)
			return DB_OK;
		db_rollback(db);
		if (rc != DB_RETRY)
			break;
		pool_reset(spool_pool(q->s));
	}
	return rc;
}

/* Test only (WAZERA_TEST_CAMPAIGN_PAUSE): after the N-th batch. */
static void
maybe_pause(struct cq *c)
{
	if (c->pause_after == 0 || ++c->batches != c->pause_after)
		return;
	log_warnx("WAZERA_TEST_CAMPAIGN_PAUSE: stopped after %lu campaign "
	    "batches", c->batches);
	(void)raise(SIGSTOP);
}

static double
secs(int64_t since)
{
	return (double)(spool_now() - since) / US;
}

static int
cq_work(struct queue *q, struct lane *l, int64_t now)
{
	struct cq *c = cq(q);
	struct camp *k = l->data;
	const char *holder = spool_opts(q->s)->holder;
	struct pool *pool = spool_pool(q->s);
	struct db_arg a[4];
	struct db_res res;
	enum sql st;
	const char *what, *out;
	uint64_t n = 0;
	long long rows;
	size_t na;
	enum db_rc rc;
	bool was_snapshot;

	if (!k->started) {
		a[0] = DBA_INT(l->id);
		a[1] = DBA_STR(holder);
		if ((rc = db_exec(spool_db(q->s), SQL_CAMPAIGN_START, a, 2, &n,
		    NULL)) != DB_OK) {
			spool_db_trouble(q->s, rc, "starting a campaign", now);
			return -1;
		}
		k->started = true;
		if (n > 0) {
			log_info("campaign %llu: started", l->id);
			c->n_started++;
		}
	}
	if (k->t0 == 0)
		k->t0 = now;
	a[0] = DBA_INT(l->id);
	a[1] = DBA_STR(holder);
	was_snapshot = strcmp(k->phase, "snapshot") == 0;
	if (was_snapshot && !k->queue_next) {
		st = SQL_CAMPAIGN_SNAPSHOT;
		what = "taking a campaign's recipients";
		a[2] = DBA_INT(c->snapshot_batch);
		na = 3;
	} else if (was_snapshot || strcmp(k->phase, "queue") == 0) {
		st = SQL_CAMPAIGN_QUEUE;
		what = "queueing a campaign's messages";
		a[2] = DBA_INT(c->queue_batch);
		a[3] = DBA_STR(k->content);
		na = 4;
	} else if (strcmp(k->phase, "sending") == 0) {
		st = SQL_CAMPAIGN_COMPLETE;
		what = "completing a campaign";
		na = 2;
	} else if (strcmp(k->phase, "parking") == 0) {
		st = SQL_CAMPAIGN_PARK;
		what = "parking a campaign's messages";
		a[2] = DBA_INT(k->park_after);
		a[3] = DBA_INT(c->park_batch);
		na = 4;
	} else {
		l->paused = true;	/* done: released at once */
		return 0;
	}
	k->queue_next = !k->queue_next;
	now = spool_now();
	rc = batch(q, st, a, na, &res);
	if (st == SQL_CAMPAIGN_SNAPSHOT)
		k->t_snap += spool_now() - now;
	else if (st == SQL_CAMPAIGN_QUEUE)
		k->t_queue += spool_now() - now;
	if (rc != DB_OK) {
		spool_db_trouble(q->s, rc, what, now);
		pool_reset(pool);
		if (rc == DB_DOWN || rc == DB_RETRY)
			return -1;
		/* Refused (a bug, a broken row): this campaign waits, the
		 * others go on. */
		log_warnx("campaign %llu: held off for %d s", l->id,
		    SPOOL_BAD_LANE_S);
		spool_hold_off(q, l->id, now + SPOOL_BAD_LANE_S * US);
		l->paused = true;
		return 0;
	}
	spool_db_fine(q->s);
	out = db_str(&res, 0, CB_OUTCOME);
	rows = db_int(&res, 0, CB_N);
	if (strcmp(out, "lost") == 0) {
		log_warnx("campaign %llu: lease lost to another spooler",
		    l->id);
		l->lost = true;
		pool_reset(pool);
		return 0;
	}
	if (st != SQL_CAMPAIGN_COMPLETE)
		maybe_pause(c);
	switch (st) {
	case SQL_CAMPAIGN_SNAPSHOT:
		k->recipients += (unsigned long)rows;
		c->n_recipients += (unsigned long)rows;
		break;
	case SQL_CAMPAIGN_QUEUE:
		k->queued += (unsigned long)rows;
		c->n_queued += (unsigned long)rows;
		break;
	case SQL_CAMPAIGN_PARK:
		k->park_after = (unsigned long long)db_int(&res, 0, CB_CURSOR);
		k->parked += (unsigned long)rows;
		break;
	default:
		break;
	}
	if (strcmp(out, k->phase) != 0) {
		if (was_snapshot && strcmp(out, "queue") == 0)
			log_info("campaign %llu: snapshot done: %lu "
			    "recipients in %.3f s (%.3f s in its batches)",
			    l->id, k->recipients, secs(k->t0),
			    (double)k->t_snap / US);
		else if (strcmp(out, "sending") == 0)
			log_info("campaign %llu: queueing done: %lu messages "
			    "queued in %.3f s (%.3f s in its batches; %lu "
			    "recipients taken by this spooler in %.3f s)",
			    l->id, k->queued, secs(k->t0),
			    (double)k->t_queue / US, k->recipients,
			    (double)k->t_snap / US);
		else if (st == SQL_CAMPAIGN_COMPLETE && rows > 0) {
			log_info("campaign %llu: completed", l->id);
			c->n_completed++;
		} else if (st == SQL_CAMPAIGN_PARK) {
			log_info("campaign %llu: parked: %lu queued messages "
			    "taken out of the send queue", l->id, k->parked);
			c->n_parked += k->parked;
		} else
			log_info("campaign %llu: now in phase %s", l->id, out);
		snprintf(k->phase, sizeof(k->phase), "%s", out);
		k->queue_next = false;
		pool_reset(pool);
		return 1;
	}
	/* Completion not due yet (sends in flight): released; listed again
	 * once none is queued. */
	if (st == SQL_CAMPAIGN_COMPLETE) {
		pool_reset(pool);
		l->paused = true;
		return 0;
	}
	/* A snapshot batch that took none may still have moved on (a tag
	 * range without matches), and a queue batch alternating with the
	 * snapshot may find nothing yet: the next snapshot batch is due. */
	if (st == SQL_CAMPAIGN_SNAPSHOT) {
		unsigned long long cur = (unsigned long long)db_int(&res, 0,
		    CB_CURSOR);
		bool moved = cur != k->snap_cursor;

		k->snap_cursor = cur;
		pool_reset(pool);
		return rows > 0 || moved ? 1 : 0;
	}
	pool_reset(pool);
	return rows > 0 || was_snapshot ? 1 : 0;
}

static void
cq_recover(struct queue *q, int64_t now)
{
	(void)q;
	(void)now;
}

static void
cq_result(struct queue *q, struct job *j, const struct http_done *d,
    int64_t now)
{
	(void)q;
	(void)d;
	(void)now;
	free(j);
}

static enum db_rc
cq_write(struct queue *q, struct rec *r)
{
	(void)q;
	(void)r;
	return DB_ERR;		/* no records: never called */
}

static const char *
cq_rec_noun(const struct rec *r)
{
	(void)r;
	return "campaign";
}

const struct queue_ops queue_campaign = {
	.name = "campaign",
	.lane_name = "campaign",
	.sql_lanes = SQL_CAMPAIGN_LANES,
	.sql_lease = SQL_CAMPAIGN_LEASE,
	.sql_release = SQL_CAMPAIGN_RELEASE,
	.open = cq_open,
	.close = cq_close,
	.lane_open = cq_lane_open,
	.lane_close = cq_lane_close,
	.result = cq_result,
	.write = cq_write,
	.rec_noun = cq_rec_noun,
	.recover = cq_recover,
	.work = cq_work,
};
