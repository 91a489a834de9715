/* Every SQL statement the programs run, named by an enum (kcaldav's sqls[]).
 * No SQL text is ever built from input. */
#ifndef WZ_SQL_H
#define WZ_SQL_H
#include <stdbool.h>

enum sql {
	SQL_AUTH_LOOKUP,
	SQL_RATE_HIT,
	SQL_RATE_INSERT,
	SQL_RATE_FORGET,
	SQL_APIKEY_TOUCH,
	SQL_TENANT_GET,
	SQL_TENANT_INSERT,
	SQL_APIKEY_INSERT,
	SQL_APIKEY_GET,
	SQL_APIKEY_LIST,
	SQL_APIKEY_COUNT,
	SQL_APIKEY_REVOKE,
	SQL_APIKEY_REVOKE_ANY,
	SQL_CONTACT_GET,
	SQL_CONTACT_GET_FOR_UPDATE,
	SQL_CONTACT_CREATE,
	SQL_CONTACT_UPDATE,
	SQL_CONTACT_DELETE,
	SQL_CONTACT_COUNT_ALL,
	SQL_CONTACT_LIST,
	SQL_CONTACT_LIST_TAG,
	SQL_CONTACT_COUNT_TAG,
	SQL_CONTACT_LIST_SCAN,
	SQL_CONTACT_COUNT_SCAN,
	SQL_CONTACT_LIST_TRI,
	SQL_CONTACT_COUNT_TRI,
	SQL_IDEM_INSERT,
	SQL_IDEM_GET,
	SQL_IDEM_DELETE,
	SQL_IDEM_COMPLETE,
	SQL_MIGRATION_LOCK,
	SQL_MIGRATION_UNLOCK,
	SQL_MIGRATION_LIST,
	SQL_MIGRATION_INSERT,
	SQL__MAX
};

const char	*sql_text(enum sql);
const char	*sql_name(enum sql);
/* True for statements safe to run again after a lost connection outside a
 * transaction (reads, and the rate-limit counter). */
bool		 sql_retryable(enum sql);

#endif
