#include "housekeep.h"

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
