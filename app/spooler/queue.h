/* What a queue is to the spooler's loop (spool.c), and what the loop
 * offers a queue. One module per queue (queue_message.c: the outbound
 * WhatsApp messages) fills a struct queue_ops; main.c lists the queues.
 *
 * A queue's work comes in lanes: a lane is what one spooler drives at a
 * time under a lease in the database, at a rate of its own (a WhatsApp
 * account for messages). The loop finds the lanes with due work, leases
 * and renews them, keeps each within its rate, shares the free request
 * slots among them round robin, and releases them when idle; the queue
 * claims a lane's due items and starts their requests (spool_start),
 * reads each answer into records (spool_record), and writes its records
 * to the database when the loop says. Records are journaled and kept by
 * the loop until written (journal.c), so an answer is never lost. */
#ifndef WZ_SPOOLER_QUEUE_H
#define WZ_SPOOLER_QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "rate.h"

struct http_done;
struct http_req;
struct queue;
struct rec;
struct spool;

#define US		1000000LL
#define MS		1000LL
/* The answers' headers the loop's HTTP client keeps (http_done.headers[]
 * in this order). */
#define SPOOL_HDR_LOCATION	0
#define SPOOL_HDR_RETRY_AFTER	1
#define SPOOL_BAD_LANE_S	60	/* a lane that cannot be driven
					   (lane_open -1) is held off so long */

/* A leased unit of a queue's work. */
struct lane {
	struct lane		*next;
	struct queue		*q;
	unsigned long long	 id;
	struct rate		 rate;
	int64_t			 lease_until;	/* start nothing at or after */
	int64_t			 renew_at;
	int64_t			 last_start;
	int64_t			 next_claim;
	int64_t			 work_at;	/* last seen with due work */
	unsigned		 inflight;
	bool			 lost;		/* lease taken by another */
	bool			 paused;	/* the queue holds it off */
	void			*data;		/* the queue's */
};

/* A request's context begins with this (the queue's own follows). */
struct job {
	struct queue		*q;
	struct lane		*lane;
};

struct queue_ops {
	const char	*name;		/* "message" */
	const char	*lane_name;	/* "account": in logs */
	/* The lanes' statements: those with due work that this spooler may
	 * take (holder) -> id, ...; a lease taken or renewed (holder,
	 * seconds, id, holder): a row matched if ours now; a release (id,
	 * holder). */
	enum sql	 sql_lanes, sql_lease, sql_release;
	void		*(*open)(struct queue *);
	/* Writes the queue's counts for the run's "done:" line into sum
	 * (a phrase, e.g. "2 sent, 0 failed"); frees what open made. */
	void		 (*close)(struct queue *, char *sum, size_t sumlen);
	/* A lane found by sql_lanes (the row): its data and *mps (0: no
	 * limit). -1 (logged) when it cannot be driven: held off a while. */
	int		 (*lane_open)(struct queue *, struct lane *,
			    const struct db_res *, size_t row, uint32_t *mps);
	void		 (*lane_close)(struct lane *);
	/* Claims up to n due items of a lane and starts their requests
	 * (spool_start) or records why not. The rows claimed, or -1 after
	 * spool_db_trouble. */
	int		 (*claim)(struct queue *, struct lane *, size_t n,
			    int64_t now);
	/* A request of this queue finished; j is its context (the queue
	 * frees it). */
	void		 (*result)(struct queue *, struct job *j,
			    const struct http_done *, int64_t now);
	/* Writes one of its records (journal.h) to the database. */
	enum db_rc	 (*write)(struct queue *, struct rec *);
	/* Optional: writes n records (consecutive in the queue of records,
	 * all this queue's) at once, all or none, in one transaction of its
	 * own. On anything but DB_OK nothing was written, and the loop
	 * writes them one at a time (write) to find the one refused. */
	enum db_rc	 (*write_many)(struct queue *, struct rec *const *,
			    size_t n);
	/* What a record is about, for the log ("message"). */
	const char	*(*rec_noun)(const struct rec *);
	/* Every RECOVER_S while no result is owed: items left in flight by
	 * spoolers that are gone. */
	void		 (*recover)(struct queue *, int64_t now);
	/* Optional (NULL: unlimited): how many more requests the lane may
	 * start now besides its rate (webhooks: in flight per target host).
	 * 0: none this round; an answer wakes the loop. */
	size_t		 (*room)(struct queue *, struct lane *);
	/* Optional, for a queue whose work is database batches, not
	 * requests (campaigns' expansion: queue_campaign.c): such a queue
	 * fills work instead of claim, result, write, write_many and
	 * rec_noun (never called; may be NULL), and room. The loop calls
	 * work for each of its leased lanes once per round, whatever the
	 * rate and the free request slots (none is taken): one batch, in a
	 * transaction of its own; while requests are in flight, a batch
	 * that took d waits d / 2 for the next, so the answers and claims
	 * of the other queues keep a third of the loop's time. 1: done, more is due at once; 0: nothing
	 * to do now (looked at again after POLL_MS; set lane->paused to
	 * have the lease released now); -1 after spool_db_trouble. A lane's
	 * lease is taken as for any queue, and the lane is taken even when
	 * the request slots are full. */
	int		 (*work)(struct queue *, struct lane *, int64_t now);
};

struct queue {
	const struct queue_ops	*ops;
	struct spool		*s;
	unsigned		 index;		/* in spool_opts.queues: the
						   journal's "q" */
	void			*state;		/* ops->open's */
};

/* The loop's services to its queues. */
struct db		*spool_db(struct spool *);
/* Reads the master key (the config's master_key_file) into key, which
 * must hold MASTER_KEY_LEN bytes: 0, or -1 (logged). */
int			 spool_master_key(struct queue *, uint8_t *key);
struct pool		*spool_pool(struct spool *);
const struct spool_opts	*spool_opts(const struct spool *);
int64_t			 spool_now(void);
/* The database failed (logged once per outage; the loop backs off) or
 * answered again. */
void			 spool_db_trouble(struct spool *, enum db_rc,
			    const char *what, int64_t now);
void			 spool_db_fine(struct spool *);
/* Starts a request of a lane's item: counted by the lane's rate at now
 * and traced (--trace: "start <lane> <item> <attempt> <holder>"). r->ctx
 * must begin with a struct job, filled here. */
void			 spool_start(struct queue *, struct lane *,
			    struct http_req *r, unsigned long long item,
			    int attempt, int64_t now);
/* Claims up to n due items of a lane in one short transaction (tried up
 * to 3 times on a deadlock or, on a Galera cluster, a lost certification):
 * claim (lane id, n) selects and locks them (FOR UPDATE SKIP LOCKED),
 * then mark (their ids as a JSON array, this spooler's holder, then the
 * nextra arguments, at most 2) marks them as ours, and the transaction
 * commits before any request starts: only a committed claim is sent. A
 * commit lost with the connection (unknown outcome) is undone by unclaim
 * (ids, holder; SQL__MAX: none, the items come due again when the claim
 * expires) and reported as DB_DOWN. DB_OK with res (its rows in the
 * loop's pool; none: nothing due), *ids (NULL when none) and *marked;
 * else the failure (the caller reports it). */
enum db_rc		 spool_claim(struct queue *, enum sql claim,
			    unsigned long long lane, size_t n, enum sql mark,
			    const struct db_arg *extra, size_t nextra,
			    enum sql unclaim, struct db_res *res,
			    const char **ids, uint64_t *marked);
/* Queues a record for the database (journaled first); it is the
 * queue's, and holder and queue are filled here. */
void			 spool_record(struct queue *, struct rec *);
/* No claim on a lane before until / from now on again. */
void			 spool_hold_off(struct queue *, unsigned long long id,
			    int64_t until);
void			 spool_hold_end(struct queue *, unsigned long long id);
/* Something happened (a claim, an answer, a write): --drain waits. */
void			 spool_activity(struct spool *, int64_t now);

#endif
