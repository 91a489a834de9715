#include <stdio.h>

#include "housekeep.h"
#include "pool.h"

enum db_rc
housekeep(struct db *db, uint64_t *deleted)
{
	uint64_t n, total = 0;
	enum db_rc rc = DB_OK;
	int i;

	for (i = 0; i < HOUSEKEEP_BATCHES; i++) {
		n = 0;
		if ((rc = db_exec(db, SQL_IDEM_PURGE, NULL, 0, &n, NULL)) !=
		    DB_OK)
			break;
		total += n;
		if (n < SQL_PURGE_BATCH)
			break;
	}
	if (deleted != NULL)
		*deleted = total;
	return rc;
}

/* The ids of a result's first column as a JSON array, in the pool. */
static char *
ids_json(struct pool *pool, const struct db_res *res)
{
	size_t i, len = 0, cap = res->nrows * 21 + 3;
	char *s = pool_alloc(pool, cap);

	s[len++] = '[';
	for (i = 0; i < res->nrows; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%llu",
		    i ? "," : "", (unsigned long long)db_int(res, i, 0));
	s[len++] = ']';
	s[len] = '\0';
	return s;
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
		a = DBA_STR(ids_json(pool, &res));
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

enum db_rc
housekeep_webhooks(struct db *db, struct pool *pool, int retention_days,
    uint64_t *purged, uint64_t *removed)
{
	static const enum sql del[] = { SQL_WH_DEL_ATTEMPTS,
	    SQL_WH_DEL_DELIVERIES };
	struct db_arg a[3];
	struct db_res res;
	uint64_t n;
	enum db_rc rc;
	int batches = 0;
	size_t i, k;

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
		a[0] = a[1] = a[2] = DBA_INT(db_int(&res, i, 0));
		for (k = 0; k < sizeof(del) / sizeof(del[0]); k++)
			do {
				n = 0;
				if (batches++ >= HOUSEKEEP_BATCHES * 2)
					goto out;
				if ((rc = db_exec(db, del[k], a, 1, &n,
				    NULL)) != DB_OK)
					goto out;
				*removed += n;
			} while (n >= SQL_PURGE_BATCH);
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
