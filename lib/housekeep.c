#include <stdio.h>

#include "housekeep.h"
#include "pool.h"

enum db_rc
housekeep(struct db *db, uint64_t *deleted)
{
	static const enum sql purges[] = { SQL_IDEM_PURGE, SQL_SESSION_PURGE,
	    SQL_THROTTLE_PURGE };
	uint64_t n, total = 0;
	enum db_rc rc = DB_OK;
	size_t k;
	int i;

	for (k = 0; k < sizeof(purges) / sizeof(purges[0]); k++) {
		for (i = 0; i < HOUSEKEEP_BATCHES; i++) {
			n = 0;
			if ((rc = db_exec(db, purges[k], NULL, 0, &n, NULL)) !=
			    DB_OK)
				goto out;
			total += n;
			if (n < SQL_PURGE_BATCH)
				break;
		}
	}
out:
	if (deleted != NULL)
		*deleted = total;
	return rc;
}

/* One batch of retention: 0 rows picked ends it. */
static enum db_rc
retention_batch(struct db *db, struct pool *pool, int days, uint64_t *n)
{
	struct db_arg a = DBA_INT(days);
	struct db_res res;
	enum db_rc rc;

	*n = 0;
	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	if ((rc = db_query(db, pool, SQL_WH_PURGE_PICK, &a, 1, &res)) ==
	    DB_OK && res.nrows > 0) {
		a = DBA_STR(db_ids_json(pool, &res));
		if ((rc = db_exec(db, SQL_WH_PURGE_DELIVERIES, &a, 1, NULL,
		    NULL)) == DB_OK &&
		    (rc = db_exec(db, SQL_WH_PURGE_ATTEMPTS, &a, 1, NULL,
		    NULL)) == DB_OK)
			rc = db_exec(db, SQL_WH_PURGE_EVENTS, &a, 1, NULL,
			    NULL);
	}
	if (rc == DB_OK && (rc = db_commit(db)) == DB_OK) {
		*n = res.nrows;
		return DB_OK;
	}
	db_rollback(db);
	return rc;
}

/* One batch of a deleted webhook's deliveries and their attempts, in a
 * transaction: 0 rows picked ends them. */
static enum db_rc
deleted_batch(struct db *db, struct pool *pool, int64_t webhook,
    uint64_t *n)
{
	struct db_arg a = DBA_INT(webhook);
	struct db_res res;
	uint64_t k = 0;
	enum db_rc rc;

	*n = 0;
	res.nrows = 0;
	if ((rc = db_begin(db)) != DB_OK)
		return rc;
	if ((rc = db_query(db, pool, SQL_WH_DEL_PICK, &a, 1, &res)) == DB_OK &&
	    res.nrows > 0) {
		a = DBA_STR(db_ids_json(pool, &res));
		if ((rc = db_exec(db, SQL_WH_DEL_ATTEMPTS, &a, 1, &k,
		    NULL)) == DB_OK) {
			*n += k;
			if ((rc = db_exec(db, SQL_WH_DEL_DELIVERIES, &a, 1, &k,
			    NULL)) == DB_OK)
				*n += k;
		}
	}
	if (rc == DB_OK && (rc = db_commit(db)) == DB_OK) {
		if (res.nrows == 0)
			*n = 0;
		return DB_OK;
	}
	db_rollback(db);
	*n = 0;
	return rc;
}

enum db_rc
housekeep_webhooks(struct db *db, struct pool *pool, int retention_days,
    uint64_t *purged, uint64_t *removed)
{
	struct db_arg a[3];
	struct db_res res;
	uint64_t n;
	enum db_rc rc;
	int batches = 0;
	size_t i;

	*purged = *removed = 0;
	while (batches++ < HOUSEKEEP_BATCHES) {
		rc = retention_batch(db, pool, retention_days, &n);
		pool_reset(pool);
		if (rc != DB_OK)
			return rc;
		*purged += n;
		if (n < SQL_PURGE_BATCH)
			break;
	}
	if ((rc = db_query(db, pool, SQL_WH_DELETED, NULL, 0, &res)) != DB_OK)
		return rc;
	for (i = 0; i < res.nrows; i++) {
		int64_t id = db_int(&res, i, 0);
		a[0] = a[1] = a[2] = DBA_INT(id);
		do {
			if (batches++ >= HOUSEKEEP_BATCHES * 2)
				goto out;
			if ((rc = deleted_batch(db, pool, id, &n)) != DB_OK)
				goto out;
			*removed += n;
		} while (n > 0);
		n = 0;
		if ((rc = db_exec(db, SQL_WH_DEL_STATE, a, 3, &n, NULL)) !=
		    DB_OK)
			break;
		*removed += n;
		n = 0;
		if ((rc = db_exec(db, SQL_WH_DEL_WEBHOOK, a, 2, &n, NULL)) !=
		    DB_OK)
			break;
		*removed += n;
	}
out:
	pool_reset(pool);
	return rc;
}
