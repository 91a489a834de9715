/* Conversations: GET /conversations, GET/PUT/PATCH /conversations/{id} and
 * GET /conversations/{id}/messages. Sends and inbound messages open them;
 * the API reads them, assigns them to a user of the tenant and moves them
 * between open, pending and closed. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "event.h"
#include "handlers.h"
#include "jsonbody.h"
#include "pool.h"
#include "request.h"

/* The latest messages GET /conversations/{id} includes. */
#define CONV_MESSAGES	100

enum conv_status { CS_OPEN, CS_PENDING, CS_CLOSED, CS__MAX };
static const char *const conv_statuses[CS__MAX + 1] = {
	[CS_OPEN] = "open", [CS_PENDING] = "pending", [CS_CLOSED] = "closed",
	[CS__MAX] = NULL,
};

/* Columns of SQL_CONVERSATION_LOCK. */
enum { L_STATUS, L_ASSIGNED, L_CONTACT, L_ACCOUNT };

/* What PUT and PATCH accept; fields absent stay as they are. */
enum { F_STATUS, F_ASSIGNED, F__MAX };
static const struct field conv_fields[F__MAX] = {
	[F_STATUS] =	{ "status", FT_ENUM, 0, 0, 0, conv_statuses },
	[F_ASSIGNED] =	{ "assigned_to", FT_INT, FF_NULLABLE, 1, INT64_MAX,
			    NULL },
};

/*
 * GET /conversations?status=&assigned_to=&page=&per_page=
 * Newest activity first: last_message_at DESC, then id DESC (a
 * conversation without messages yet comes after all others). An empty
 * filter is no filter, as for contacts' search; an assigned_to of another
 * tenant's user matches nothing.
 */
void
conversation_list(struct req *r)
{
	const char *status = query_get(&r->query, "status");
	const char *assigned = query_get(&r->query, "assigned_to");
	struct db_res res;
	struct db_arg a[5];
	struct verrs errs;
	long long page, per_page, user = 0, total;
	enum sql list, count;
	size_t na = 0, nc;
	int st = -1;
	enum db_rc rc;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	verrs_init(&errs);
	if (status != NULL && *status != '\0') {
		for (st = 0; st < CS__MAX; st++)
			if (!strcmp(status, conv_statuses[st]))
				break;
		if (st == CS__MAX)
			verr_add(&errs, "status", "The selected status is "
			    "invalid: use open, pending or closed.");
	}
	if (assigned != NULL && *assigned != '\0' &&
	    req_parse_int(assigned, 1, LLONG_MAX, &user) == -1)
		verr_add(&errs, "assigned_to", "The assigned to field must "
		    "be a positive integer (a user id).");
	if (errs.n > 0) {
		reply_invalid(r, &errs);
		return;
	}

	a[na++] = DBA_INT(r->tenant_id);
	if (user > 0)
		a[na++] = DBA_INT(user);
	if (st >= 0)
		a[na++] = DBA_STR(conv_statuses[st]);
	nc = na;
	a[na++] = DBA_INT(per_page);
	a[na++] = DBA_INT((page - 1) * per_page);
	if (user > 0 && st >= 0) {
		list = SQL_CONVERSATION_LIST_BOTH;
		count = SQL_CONVERSATION_COUNT_BOTH;
	} else if (user > 0) {
		list = SQL_CONVERSATION_LIST_ASSIGNED;
		count = SQL_CONVERSATION_COUNT_ASSIGNED;
	} else if (st >= 0) {
		list = SQL_CONVERSATION_LIST_STATUS;
		count = SQL_CONVERSATION_COUNT_STATUS;
	} else {
		list = SQL_CONVERSATION_LIST;
		count = SQL_CONVERSATION_COUNT;
	}

	if ((rc = db_query(r->db, &r->pool, list, a, na, &res)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (req_page_total(r, &res, page, per_page, count, a, nc, &total) == -1)
		return;
	reply_list_json(r, &res, page, per_page, total);
}

/* GET /conversations/{id}: the conversation and its latest
 * CONV_MESSAGES messages, oldest first (by id: the order they were
 * stored). Older ones: GET /conversations/{id}/messages. The answer is the
 * conversation's JSON with "messages" added before its closing brace, the
 * texts as the views give them (no tree is built). */
void
conversation_get(struct req *r)
{
	struct db_res res, m;
	struct db_arg a[4];
	const char *conv;
	size_t i, n, len;
	enum db_rc rc;
	char *out, *p;

	if (req_load_own(r, SQL_CONVERSATION_GET, "Conversation", &res) == -1)
		return;
	a[0] = DBA_INT(r->ids[0]);
	a[1] = DBA_INT(CONV_MESSAGES);
	a[2] = DBA_INT(0);
	a[3] = DBA_INT(r->tenant_id);
	if ((rc = db_query(r->db, &r->pool, SQL_CONVERSATION_MESSAGES, a, 4,
	    &m)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	conv = db_str(&res, 0, 0);
	len = db_len(&res, 0, 0);
	if (len < 2 || conv[len - 1] != '}') {
		reply_db(r, DB_ERR);	/* not an object: a broken view */
		return;
	}
	n = len + sizeof(", \"messages\": []}");
	for (i = 0; i < m.nrows; i++) {
		if (db_isnull(&m, i, 0)) {
			reply_db(r, DB_ERR);	/* a broken view */
			return;
		}
		n += db_len(&m, i, 0) + 2;
	}
	p = out = pool_alloc(&r->pool, n);
	memcpy(p, conv, len - 1);
	p += len - 1;
	p = stpcpy(p, ", \"messages\": [");
	for (i = m.nrows; i-- > 0; ) {	/* read newest first */
		if (i + 1 < m.nrows)
			p = stpcpy(p, ", ");
		memcpy(p, db_str(&m, i, 0), db_len(&m, i, 0));
		p += db_len(&m, i, 0);
	}
	strcpy(p, "]}");
	reply_data(r, 200, jsonbody_raw(out));
}

/* GET /conversations/{id}/messages?page&per_page: newest first. */
void
conversation_messages(struct req *r)
{
	struct db_res res;
	struct db_arg a[4];
	long long page, per_page, total;
	enum db_rc rc;

	if (req_paging(r, &page, &per_page) == -1 ||
	    req_load_own(r, SQL_CONVERSATION_EXISTS, "Conversation", &res) ==
	    -1)
		return;
	a[0] = DBA_INT(r->ids[0]);
	a[1] = DBA_INT(per_page);
	a[2] = DBA_INT((page - 1) * per_page);
	a[3] = DBA_INT(r->tenant_id);
	if ((rc = db_query(r->db, &r->pool, SQL_CONVERSATION_MESSAGES, a, 4,
	    &res)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (req_page_total(r, &res, page, per_page,
	    SQL_CONVERSATION_MESSAGES_COUNT, a, 1, &total) == -1)
		return;
	reply_list_json(r, &res, page, per_page, total);
}

/* 409 for a reopening that the unique key refused: names the conversation
 * of the contact and account that is not closed, when it is still there. */
static void
reply_reopen_conflict(struct req *r, long long contact, long long account)
{
	struct db_arg a[3] = { DBA_INT(r->tenant_id), DBA_INT(contact),
	    DBA_INT(account) };
	struct json_object *d = NULL;
	struct db_res res;

	if (db_query_one(r->db, &r->pool, SQL_CONVERSATION_OPEN_OTHER, a, 3,
	    &res) == DB_OK) {
		d = json_object_new_object();
		json_object_object_add(d, "conversation_id",
		    json_object_new_int64(db_int(&res, 0, 0)));
	}
	reply_error(r, ERR_CONFLICT, "This contact already has a conversation "
	    "that is not closed on this WhatsApp account; close it before "
	    "reopening this one.", d);
}

/*
 * PUT and PATCH /conversations/{id}: status and assigned_to (a user of the
 * tenant, or null to unassign); fields present change, absent ones stay.
 * Nothing changed: no write. Closing records conversation.closed with the
 * conversation in the same transaction. Reopening (to open or pending)
 * while the contact has another conversation not closed on the account:
 * 409, the unique key conversations_open deciding, so a racing send or
 * inbound message cannot slip a second one in.
 */
void
conversation_update(struct req *r)
{
	struct fval v[F__MAX];
	struct verrs errs;
	struct db_arg a[5];
	struct db_res lk, u, res;
	const char *status, *old_status, *json;
	long long assigned, old_assigned, contact, account;
	bool assigned_null, old_null, changed, closing;
	char now[20];
	enum db_rc rc;

	verrs_init(&errs);
	if (fields_parse(&r->pool, r->json, conv_fields, F__MAX, v, &errs,
	    true) > 0) {
		reply_invalid(r, &errs);
		return;
	}
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_CONVERSATION_LOCK, "Conversation", &lk) == -1) {
		db_rollback(r->db);
		return;
	}
	a[0] = DBA_INT(r->tenant_id);
	old_status = db_str(&lk, 0, L_STATUS);
	old_null = db_isnull(&lk, 0, L_ASSIGNED);
	old_assigned = old_null ? 0 : db_int(&lk, 0, L_ASSIGNED);
	contact = db_int(&lk, 0, L_CONTACT);
	account = db_int(&lk, 0, L_ACCOUNT);

	status = v[F_STATUS].present ? conv_statuses[v[F_STATUS].i] :
	    old_status;
	assigned_null = old_null;
	assigned = old_assigned;
	if (v[F_ASSIGNED].present) {
		assigned_null = v[F_ASSIGNED].isnull;
		assigned = assigned_null ? 0 : v[F_ASSIGNED].i;
	}
	if (!assigned_null && (old_null || assigned != old_assigned)) {
		a[1] = DBA_INT(assigned);
		rc = db_query_one(r->db, &r->pool, SQL_USER_GET, a, 2, &u);
		if (rc == DB_NOROW) {
			db_rollback(r->db);
			reply_invalid_field(r, "assigned_to", "The selected "
			    "assigned to is invalid: no such user.");
			return;
		}
		if (rc != DB_OK)
			goto fail;
	}
	changed = strcmp(status, old_status) != 0 ||
	    assigned_null != old_null || assigned != old_assigned;
	closing = !strcmp(status, "closed") && strcmp(old_status, "closed");

	time_sql(time(NULL), now);
	if (changed) {
		a[0] = DBA_STR(status);
		a[1] = assigned_null ? DBA_NULL : DBA_INT(assigned);
		a[2] = DBA_STR(now);
		a[3] = DBA_INT(r->tenant_id);
		a[4] = DBA_INT(r->ids[0]);
		rc = db_exec(r->db, SQL_CONVERSATION_UPDATE, a, 5, NULL, NULL);
		if (rc == DB_DUP) {
			db_rollback(r->db);
			reply_reopen_conflict(r, contact, account);
			return;
		}
		if (rc != DB_OK)
			goto fail;
	}
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(r->ids[0]);
	if ((rc = db_query_one(r->db, &r->pool, SQL_CONVERSATION_GET, a, 2,
	    &res)) != DB_OK)
		goto fail;
	json = db_str(&res, 0, 0);
	if (!changed) {
		db_rollback(r->db);
		reply_data(r, 200, jsonbody_raw(json));
		return;
	}
	if (closing && (rc = event_emit(r->db, r->tenant_id,
	    EV_CONVERSATION_CLOSED, json)) != DB_OK)
		goto fail;
	if ((rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_data(r, 200, jsonbody_raw(json));
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW || rc == DB_DUP ? DB_ERR : rc);
}
