/* Housekeeping: deleting what has outlived its use, run by the spooler
 * about once a minute and by `wazera-admin purge`. */
#ifndef WZ_HOUSEKEEP_H
#define WZ_HOUSEKEEP_H
#include "db.h"

/* Idempotency records older than their 24 hours (they keep whole answer
 * bodies), deleted in short batches, at most HOUSEKEEP_BATCHES of them per
 * call so that one run never holds the database for long. Stores the rows
 * deleted in *deleted (may be NULL). DB_OK, or the failure. */
#define HOUSEKEEP_BATCHES	50
enum db_rc	housekeep(struct db *, uint64_t *deleted);

#endif
