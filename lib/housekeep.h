/* Housekeeping: deleting what has outlived its use, run by the spooler
 * about once a minute and by `wazera-admin purge`. */
#ifndef WZ_HOUSEKEEP_H
#define WZ_HOUSEKEEP_H
#include "db.h"

/* Idempotency records older than their 24 hours (they keep whole answer
 * bodies), dashboard sessions past their expiry and sign-in throttle
 * windows that ended, deleted in short batches, at most HOUSEKEEP_BATCHES of them per
 * call so that one run never holds the database for long. Stores the rows
 * deleted in *deleted (may be NULL). DB_OK, or the failure. */
#define HOUSEKEEP_BATCHES	50
enum db_rc	housekeep(struct db *, uint64_t *deleted);

struct pool;

/* Outgoing webhooks' retention (the issue 11 design), in batches of
 * SQL_PURGE_BATCH, each in a transaction of its own, at most
 * HOUSEKEEP_BATCHES per call: succeeded deliveries older than
 * retention_days get purged_at, their attempts lose the answers'
 * excerpts, their events their data once no delivery needs it (rows
 * stay). Deleted webhooks lose their attempts, then deliveries, then
 * their state and row. Counts in *purged (deliveries) and *removed (rows
 * deleted); DB_OK, or the failure. */
enum db_rc	housekeep_webhooks(struct db *, struct pool *,
		    int retention_days, uint64_t *purged, uint64_t *removed);

#endif
