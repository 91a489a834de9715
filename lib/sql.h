/* Every SQL statement the programs run, named by an enum (kcaldav's sqls[]).
 * No SQL text is ever built from input. */
#ifndef WZ_SQL_H
#define WZ_SQL_H
#include <stdbool.h>

/* Rows one housekeeping statement deletes at most. */
#define SQL_PURGE_BATCH	1000
#define PURGE_BATCH_S	"1000"

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
	SQL_CONTACT_GET,
	SQL_CONTACT_GET_FOR_UPDATE,
	SQL_CONTACT_CREATE,
	SQL_CONTACT_UPDATE,
	SQL_CONTACT_DELETE,
	SQL_CONTACT_COUNT_ALL,
	SQL_CONTACT_LIST,
	SQL_CONTACT_LIST_TAIL,
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
	SQL_IDEM_PURGE,
	SQL_ACCOUNT_INSERT,
	SQL_ACCOUNT_GET,
	SQL_SEND_CHECK,
	SQL_ACCOUNT_LIST,
	SQL_ACCOUNT_COUNT,
	SQL_ACCOUNT_BY_PHONE_ID,
	SQL_USER_INSERT,
	SQL_MESSAGE_QUEUE,
	SQL_MESSAGE_GET,
	SQL_MESSAGE_STATUS,
	SQL_CONVERSATION_GET,
	SQL_CONVERSATION_EXISTS,
	SQL_CONVERSATION_LOCK,
	SQL_CONVERSATION_UPDATE,
	SQL_CONVERSATION_OPEN_OTHER,
	SQL_CONVERSATION_LIST,
	SQL_CONVERSATION_COUNT,
	SQL_CONVERSATION_LIST_STATUS,
	SQL_CONVERSATION_COUNT_STATUS,
	SQL_CONVERSATION_LIST_ASSIGNED,
	SQL_CONVERSATION_COUNT_ASSIGNED,
	SQL_CONVERSATION_LIST_BOTH,
	SQL_CONVERSATION_COUNT_BOTH,
	SQL_CONVERSATION_MESSAGES,
	SQL_CONVERSATION_MESSAGES_COUNT,
	SQL_WEBHOOK_GET,
	SQL_WEBHOOK_LIST,
	SQL_WEBHOOK_COUNT,
	SQL_WEBHOOK_CREATE_LOCK,
	SQL_WEBHOOK_COUNT_LOCK,
	SQL_WEBHOOK_CREATE,
	SQL_WEBHOOK_LOCK,
	SQL_WEBHOOK_UPDATE,
	SQL_WEBHOOK_DELETE,
	SQL_WEBHOOK_TEST,
	SQL_WEBHOOK_DELIVERY_LIST,
	SQL_WEBHOOK_DELIVERY_COUNT,
	SQL_WEBHOOK_DELIVERY_LIST_STATUS,
	SQL_WEBHOOK_DELIVERY_COUNT_STATUS,
	SQL_WEBHOOK_DELIVERY_GET,
	SQL_WEBHOOK_DELIVERY_ATTEMPTS,
	SQL_WEBHOOK_DELIVERY_LOCK,
	SQL_WEBHOOK_REDELIVER,
	SQL_WEBHOOK_RECOVER,
	SQL_EVENT_EMIT,
	SQL_USER_GET,
	SQL_USER_LIST,
	SQL_USER_COUNT,
	SQL_STATUS_APPLY,
	SQL_INBOUND_MESSAGE,
	SQL_SPOOL_ACCOUNTS,
	SQL_SPOOL_LEASE,
	SQL_SPOOL_RELEASE,
	SQL_SPOOL_CLAIM,
	SQL_SPOOL_MARK_SENDING,
	SQL_SPOOL_SENT,
	SQL_SPOOL_FAILED,
	SQL_SPOOL_RETRY,
	SQL_SPOOL_REQUEUE,
	SQL_SPOOL_PAUSE,
	SQL_SPOOL_RECOVER,
	SQL_SPOOL_AMBIGUOUS,
	SQL_SPOOL_UNRESOLVED,
	SQL_WH_LANES,
	SQL_WH_LEASE,
	SQL_WH_RELEASE,
	SQL_WH_WEBHOOK,
	SQL_WH_CLAIM,
	SQL_WH_MARK,
	SQL_WH_BODIES,
	SQL_WH_RESULT,
	SQL_WH_SUCCEEDED,
	SQL_WH_PURGE_PICK,
	SQL_WH_PURGE_DELIVERIES,
	SQL_WH_PURGE_ATTEMPTS,
	SQL_WH_PURGE_EVENTS,
	SQL_WH_DELETED,
	SQL_WH_DEL_PICK,
	SQL_WH_DEL_ATTEMPTS,
	SQL_WH_DEL_DELIVERIES,
	SQL_WH_DEL_STATE,
	SQL_WH_DEL_WEBHOOK,
	/* [campaign-api] segments and campaigns: the API (segments.c,
	 * campaigns.c) */
	/* [/campaign-api] */
	/* [campaign-expand] campaigns: the spooler's expansion
	 * (queue_campaign.c) */
	/* [/campaign-expand] */
	/* [campaign-send] campaign messages in the message queue
	 * (queue_message.c) */
	SQL_CSEND_CLAIM,
	SQL_CSEND_CAMPAIGNS,
	SQL_CSEND_CONTACTS,
	SQL_CSEND_PARK,
	SQL_CSEND_STOP,
	/* [/campaign-send] */
	SQL_MIGRATION_LOCK,
	SQL_MIGRATION_UNLOCK,
	SQL_MIGRATION_LIST,
	SQL_MIGRATION_INSERT,
	SQL_MIGRATION_ROUTINES,
	SQL_MIGRATION_ROUTINE_SET,
	SQL__MAX
};

/*
 * Column layouts: the columns of the statements' results, in order, each
 * with its count (X__N), which the statement's entry in lib/sql.c names.
 * A statement of one column, or whose columns a comment in lib/sql.c
 * lists, has none here.
 */

/* SQL_AUTH_LOOKUP */
enum { AUTH_ID, AUTH_TENANT, AUTH_SCOPES, AUTH_HASH, AUTH_DEAD, AUTH_LIMIT,
	AUTH_EXPIRES, AUTH__N };
/* SQL_TENANT_GET */
enum { TEN_ID, TEN_NAME, TEN_PLAN, TEN_LIMIT, TEN_CREATED, TEN__N };
/* SQL_APIKEY_LIST; SQL_APIKEY_GET adds the key's tenant (KEY_TENANT). */
enum { KEY_ID, KEY_NAME, KEY_PREFIX_, KEY_SCOPES, KEY_LAST_USED, KEY_CREATED,
	KEY_EXPIRES, KEY_REVOKED, KEY__N, KEY_TENANT = KEY__N };
/* SQL_IDEM_GET */
enum { IDEM_HASH, IDEM_STATUS, IDEM_BODY, IDEM_STALE, IDEM__N };
/* SQL_ACCOUNT_GET, SQL_ACCOUNT_LIST: a WhatsApp account. */
enum { A_ID, A_DISPLAY, A_PHONE_ID, A_WABA, A_MPS, A_CREATED, A__N };
/* SQL_ACCOUNT_BY_PHONE_ID */
enum { ACC_ID, ACC_TENANT, ACC_SECRET, ACC__N };
/* SQL_USER_LIST */
enum { U_ID, U_NAME, U_EMAIL, U_CREATED, U__N };
/* SQL_CONTACT_GET_FOR_UPDATE: what an update compares and re-indexes,
 * and the contact's JSON. */
enum { CL_NAME, CL_PHONE, CL_EMAIL, CL_TAGS, CL_CUSTOM, CL_OPTED_OUT, CL_JSON,
	CL__N };
/* SQL_WEBHOOK_LOCK: a webhook's row, locked for a change. */
enum { WL_STATUS, WL_SECRET, WL__N };
/* SQL_WEBHOOK_DELIVERY_LOCK: a delivery, locked for a redeliver. */
enum { WD_STATUS, WD_HAS_DATA, WD__N };
/* SQL_SPOOL_ACCOUNTS: the message queue's lanes (a queue's lanes
 * statement starts with the lane's id: app/spooler/queue.h). */
enum { SA_ID, SA_PHONE_ID, SA_TOKEN, SA_MPS, SA__N };
/* SQL_SPOOL_CLAIM */
enum { SC_ID, SC_TO, SC_TYPE, SC_CONTENT, SC_ATTEMPTS, SC_AGE, SC_ERR_CODE,
	SC_ERR_TITLE, SC_ERR_MESSAGE, SC_CAMPAIGN, SC_CONTACT, SC__N };
/* SQL_WH_LANES (the webhooks queue's lanes) and SQL_WH_WEBHOOK: a
 * webhook's target, its sealed secret, the one a PUT replaced, and
 * whether that one still signs (WHL_: not the API's WL_). */
enum { WHL_ID, WHL_URL, WHL_SECRET, WHL_OLD_SECRET, WHL_OLD_VALID, WHL__N,
	WHL_TENANT = WHL__N,	/* SQL_WH_LANES only: the webhook's tenant */
	WHL__LANES };
/* SQL_WH_BODIES: a claimed delivery's attempt. */
enum { WB_ID, WB_ATTEMPTS, WB_ROUND_ATTEMPTS, WB_TYPE, WB_BODY, WB_LEFT_MS,
	WB__N };

const char	*sql_text(enum sql);
const char	*sql_name(enum sql);
/* True for statements safe to run again after a lost connection outside a
 * transaction (reads, and the rate-limit counter). */
bool		 sql_retryable(enum sql);
/* The statement's contract: its ? parameters, and the columns of its
 * (first) result, 0 for none. */
unsigned	 sql_params(enum sql);
unsigned	 sql_cols(enum sql);

/* [campaign-api] column layouts */
/* [/campaign-api] */
/* [campaign-expand] column layouts */
/* [/campaign-expand] */
/* [campaign-send] column layouts */
/* SQL_CSEND_CAMPAIGNS */
enum { CSCAMP_ID, CSCAMP_STATUS, CSCAMP__N };
/* SQL_CSEND_CONTACTS */
enum { CSCON_ID, CSCON_NAME, CSCON_PHONE, CSCON_EMAIL, CSCON_CUSTOM,
	CSCON_OPTED_OUT, CSCON__N };
/* [/campaign-send] */

#endif
