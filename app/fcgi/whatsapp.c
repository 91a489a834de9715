/* Meta's webhooks: GET /whatsapp/webhook (the subscription check) and
 * POST /whatsapp/webhook (signed payloads). Statuses are applied to the
 * outbound messages they name, all of one payload in one transaction.
 * Meta retries anything but a 200 for a week, so a payload that is signed
 * but not for us (an unknown phone number) is acknowledged and ignored. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "handlers.h"
#include "jsonbody.h"
#include "keyring.h"
#include "log.h"
#include "metahook.h"
#include "request.h"

void
whatsapp_verify(struct req *r)
{
	const char *mode = query_get(&r->query, "hub.mode");
	const char *token = query_get(&r->query, "hub.verify_token");
	const char *challenge = query_get(&r->query, "hub.challenge");
	const char *want = r->cfg->verify_token;
	size_t n;

	if (mode == NULL || strcmp(mode, "subscribe") != 0 || token == NULL ||
	    challenge == NULL || *want == '\0' ||
	    (n = strlen(want)) != strlen(token) ||
	    sodium_memcmp(want, token, n) != 0) {
		reply_error(r, ERR_INSUFFICIENT_PERMISSIONS, "The verify token "
		    "does not match.", NULL);
		return;
	}
	reply_text(r, 200, challenge);
}

static bool
signature_ok(const char *secret, const char *body, size_t len,
    const char *header)
{
	const char *given = metahook_signature_hex(header);
	char want[65], lower[65];
	size_t i;

	if (given == NULL || secret == NULL)
		return false;
	for (i = 0; i < 64; i++)
		lower[i] = (char)tolower((unsigned char)given[i]);
	lower[64] = '\0';
	hmac_sha256_hex(secret, strlen(secret), body, len, want);
	return sodium_memcmp(want, lower, 64) == 0;
}

/* A phone number id of the payload: its account, and whether the body is
 * signed with that account's secret (its own app secret, else the
 * configured default). A change is applied only under a verified account,
 * so a payload signed for one tenant cannot write into another. */
struct hook_acct {
	const char	*pnid;
	int64_t		 id, tenant;	/* id 0: no account has it */
	bool		 verified;
};

/* A secret tried on this body and its verdict. The accounts of one Meta
 * app share its secret: each distinct secret costs one HMAC. */
struct tried {
	char	*secret;
	size_t	 len;
	bool	 opened;	/* an account's, opened into the pool */
	bool	 ok;
};

/* The account's own app secret opened into the pool (the caller wipes
 * it), or NULL: *has tells whether it has one (then it could not be
 * opened, or opened empty, and nothing verifies for the account: falling
 * back to the default secret would let that secret's holders write as
 * the account). */
static char *
own_secret(struct req *r, const struct db_res *row, const char *pnid,
    bool *has)
{
	const uint8_t *mk;
	char *plain;
	size_t n;

	if (!(*has = !db_isnull(row, 0, ACC_SECRET)))
		return NULL;
	n = db_len(row, 0, ACC_SECRET);
	plain = pool_alloc(&r->pool, n > SECRET_OVERHEAD ?
	    n - SECRET_OVERHEAD + 1 : 1);
	if ((mk = keyring_master(r->cfg)) != NULL && secret_open(mk,
	    (const uint8_t *)db_str(row, 0, ACC_SECRET), n, plain) == 0) {
		if (*plain != '\0')
			return plain;
	}
	log_warnx("request %s: the app secret of phone number %s cannot be "
	    "opened under the master key; its changes are ignored", r->id,
	    pnid);
	return NULL;
}

/* Whether secret signs the body; a secret tried before is not tried again
 * (and an opened copy of it is wiped at once). */
static bool
secret_verifies(struct req *r, struct tried *t, size_t *nt, char *secret,
    bool opened)
{
	size_t len = strlen(secret), k;

	for (k = 0; k < *nt; k++)
		if (t[k].len == len && sodium_memcmp(t[k].secret, secret,
		    len) == 0) {
			if (opened)
				sodium_memzero(secret, len);
			return t[k].ok;
		}
	t[k].secret = secret;
	t[k].len = len;
	t[k].opened = opened;
	t[k].ok = signature_ok(secret, r->body, r->bodylen, r->hub_signature);
	(*nt)++;
	return t[k].ok;
}

/* Looks up the account of each phone number id in pn and tells which ones
 * the body is signed for. *any: some secret that may sign this payload
 * does -- an account's, or the default when the payload names no number,
 * a number no account has, or more numbers than are looked up. Every
 * opened secret is wiped before returning. */
static enum db_rc
accounts_verify(struct req *r, const struct mh_pnids *pn,
    struct hook_acct *acc, bool *any)
{
	struct tried t[MH_PNIDS_MAX + 1];
	struct db_res row;
	struct db_arg a;
	char *secret;
	size_t i, nt = 0;
	bool has, want_default = pn->n == 0 || pn->dropped > 0;
	enum db_rc rc = DB_OK;

	*any = false;
	for (i = 0; i < pn->n; i++) {
		acc[i].pnid = pn->id[i];
		acc[i].id = acc[i].tenant = 0;
		acc[i].verified = false;
		a = DBA_STR(pn->id[i]);
		rc = db_query_one(r->db, &r->pool, SQL_ACCOUNT_BY_PHONE_ID, &a,
		    1, &row);
		if (rc == DB_NOROW) {
			rc = DB_OK;
			want_default = true;
			continue;
		}
		if (rc != DB_OK)
			goto out;
		acc[i].id = db_int(&row, 0, ACC_ID);
		acc[i].tenant = db_int(&row, 0, ACC_TENANT);
		if ((secret = own_secret(r, &row, pn->id[i], &has)) != NULL)
			acc[i].verified = secret_verifies(r, t, &nt, secret, true);
		else if (!has && *r->cfg->app_secret)
			acc[i].verified = secret_verifies(r, t, &nt,
			    r->cfg->app_secret, false);
		*any = *any || acc[i].verified;
	}
	if (want_default && *r->cfg->app_secret)
		*any = secret_verifies(r, t, &nt, r->cfg->app_secret, false) ||
		    *any;
	for (i = 0; *any && i < pn->n; i++)
		if (acc[i].id != 0 && !acc[i].verified)
			log_warnx("request %s: the payload is not signed with "
			    "the app secret of phone number %s; its changes "
			    "are ignored", r->id, acc[i].pnid);
out:
	for (i = 0; i < nt; i++)
		if (t[i].opened)
			sodium_memzero(t[i].secret, t[i].len);
	return rc;
}

/* The account a change names if the body is signed for it, else NULL,
 * counted in *unsigned_n (an account that did not sign) or *unknown (no
 * account, or not looked up: pn->dropped). */
static const struct hook_acct *
account_of(const struct hook_acct *acc, size_t n, const char *pnid,
    size_t *unsigned_n, size_t *unknown)
{
	size_t i;

	for (i = 0; pnid != NULL && i < n; i++)
		if (strcmp(acc[i].pnid, pnid) == 0 && acc[i].id != 0) {
			if (acc[i].verified)
				return &acc[i];
			(*unsigned_n)++;
			return NULL;
		}
	(*unknown)++;
	return NULL;
}

/* 1 for STOP or UNSUBSCRIBE, -1 for START, alone in the message (any
 * case, surrounding blanks ignored), else 0. */
static int
optout_keyword(const char *text)
{
	static const struct { const char *word; int v; } kw[] = {
		{ "stop", 1 }, { "unsubscribe", 1 }, { "start", -1 } };
	size_t n, i;

	if (text == NULL)
		return 0;
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' ||
	    text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (strlen(kw[i].word) == n && strncasecmp(text, kw[i].word, n) == 0)
			return kw[i].v;
	return 0;
}

/* Stores one inbound message for the account. */
static enum db_rc
inbound_store(struct req *r, int64_t tenant, int64_t acct,
    const struct mh_message *m)
{
	struct json_object *content;
	struct db_arg a[11];
	struct db_res res;
	char phone[PHONE_MAX + 1], at[20], now_sql[20];
	const char *profile = m->profile_name, *type = m->type;
	enum db_rc rc;
	time_t now, t_at;

	if (phone_normalize(m->from, strlen(m->from), phone) == -1) {
		log_warnx("request %s: inbound %s from an unusable number; "
		    "ignored", r->id, m->wamid);
		return DB_OK;
	}
	if (profile != NULL && utf8_length(profile, strlen(profile)) > 255)
		profile = NULL;
	if (strlen(type) > 16)
		type = "unsupported";
	/* When the customer wrote, which starts the 24-hour window; never
	 * later than now, so that no timestamp opens it for longer. */
	now = time(NULL);
	t_at = m->timestamp > 0 && m->timestamp < (long long)now ?
	    (time_t)m->timestamp : now;
	time_sql(t_at, at);
	time_sql(now, now_sql);
	content = metahook_content(m);
	a[0] = DBA_INT(tenant);
	a[1] = DBA_INT(acct);
	a[2] = DBA_STR(phone);
	a[3] = DBA_STR(profile);
	a[4] = DBA_STR(m->wamid);
	a[5] = DBA_STR(type);
	a[6] = DBA_STR(req_json_text(r, content));
	a[7] = DBA_STR(at);
	a[8] = DBA_STR(req_trigrams(r, (const char *const[]){ phone, profile },
	    2));
	a[9] = DBA_INT(strcmp(type, "text") == 0 ? optout_keyword(m->text) : 0);
	a[10] = DBA_STR(now_sql);
	rc = db_query(r->db, &r->pool, SQL_INBOUND_MESSAGE, a, 11, &res);
	json_object_put(content);
	return rc;
}

/* Stores a signed payload's messages and statuses in one transaction:
 * DB_OK committed, else the failure (the caller rolls back). The counts
 * start from 0 on each call. */
static enum db_rc
hook_store(struct req *r, const struct mh_batch *b,
    const struct hook_acct *acc, size_t nacc, size_t *received,
    size_t *applied, size_t *unsigned_n, size_t *unknown)
{
	const struct hook_acct *ha;
	struct db_arg a[7];
	struct db_res res;
	enum db_rc rc;
	size_t i;

	*received = *applied = *unsigned_n = *unknown = 0;
	if ((rc = db_begin(r->db)) != DB_OK)
		return rc;
	for (i = 0; i < b->nmessages; i++) {
		const struct mh_message *m = &b->messages[i];

		if ((ha = account_of(acc, nacc, m->phone_number_id,
		    unsigned_n, unknown)) == NULL)
			continue;
		if ((rc = inbound_store(r, ha->tenant, ha->id, m)) != DB_OK)
			return rc;
		(*received)++;
	}
	for (i = 0; i < b->nstatuses; i++) {
		const struct mh_status *st = &b->statuses[i];

		if ((ha = account_of(acc, nacc, st->phone_number_id,
		    unsigned_n, unknown)) == NULL)
			continue;
		a[0] = DBA_INT(ha->id);
		a[1] = DBA_STR(st->wamid);
		a[2] = st->callback_id ? DBA_INT(st->callback_id) : DBA_NULL;
		a[3] = DBA_STR(st->status);
		a[4] = st->err_code ? DBA_INT(st->err_code) : DBA_NULL;
		a[5] = DBA_STR(st->err_title);
		a[6] = DBA_STR(st->err_message);
		if ((rc = db_query(r->db, &r->pool, SQL_STATUS_APPLY, a, 7,
		    &res)) != DB_OK)
			return rc;
		(*applied)++;
	}
	return db_commit(r->db);
}

void
whatsapp_webhook(struct req *r)
{
	struct json_object *root = NULL, *o;
	struct mh_pnids pn;
	struct hook_acct acc[MH_PNIDS_MAX];
	struct mh_batch b;
	size_t applied = 0, unknown = 0, received = 0, unsigned_n = 0;
	enum db_rc rc;
	enum jsonbody_rc jrc;
	int tries;
	bool any;

	/* The raw bytes only: no tree is built before the signature holds,
	 * so an unsigned body costs no more memory than its text. Unsigned
	 * garbage and signed garbage alike: nothing stored. */
	if ((jrc = metahook_scan(r->body, r->bodylen, &pn)) != JSONBODY_OK) {
		reply_error(r, ERR_BAD_REQUEST, jrc == JSONBODY_COST ?
		    "The payload has too many JSON objects, arrays or values "
		    "for its size." : "The payload is not a JSON object.", NULL);
		return;
	}
	any = false;
	if (metahook_signature_hex(r->hub_signature) != NULL &&
	    (rc = accounts_verify(r, &pn, acc, &any)) != DB_OK) {
		reply_db(r, rc);	/* 503: Meta retries; not a 401 */
		return;
	}
	if (!any) {
		reply_error(r, ERR_AUTHENTICATION, "The X-Hub-Signature-256 "
		    "header is missing or does not match the payload.", NULL);
		return;
	}
	if (pn.dropped > 0)
		log_warnx("request %s: %zu phone number id(s) beyond the first "
		    "%d or longer than %d bytes not looked up; their changes are "
		    "ignored", r->id, pn.dropped, MH_PNIDS_MAX, JSONBODY_STR_MAX);
	if (jsonbody_build(r->body, r->bodylen, &root) != JSONBODY_OK) {
		reply_error(r, ERR_BAD_REQUEST, "The payload is not a JSON object.",
		    NULL);
		return;
	}
	if (metahook_parse(&r->pool, root, &b) != 0) {
		log_info("request %s: webhook for another object; ignored", r->id);
		goto ok;
	}
	/* A deadlock (a campaign's counters: the spooler writes results
	 * while Meta reports statuses) rolled the transaction back: it is
	 * tried again, up to three times, rather than answered 503. */
	for (tries = 0; ; tries++) {
		rc = hook_store(r, &b, acc, pn.n, &received, &applied,
		    &unsigned_n, &unknown);
		if (rc == DB_OK)
			break;
		db_rollback(r->db);
		if (rc != DB_RETRY || tries == 2)
			goto fail;
	}
	if (unknown > 0)
		log_info("request %s: %zu message(s) or status(es) for unknown "
		    "phone numbers ignored", r->id, unknown);
	if (unsigned_n > 0)
		log_warnx("request %s: %zu message(s) or status(es) for phone "
		    "numbers whose app secret did not sign the payload ignored",
		    r->id, unsigned_n);
	if (b.nskipped > 0)
		log_warnx("request %s: %zu message(s) or status(es) not "
		    "stored: no usable wamid or type, a status Wazera does "
		    "not know, or no sender's phone number (a user Meta names "
		    "only by from_user_id)", r->id, b.nskipped);
	if (b.nover > 0)
		log_warnx("request %s: %zu message(s) or status(es) beyond %d "
		    "of each in one payload ignored", r->id, b.nover,
		    MH_ITEMS_MAX);
ok:
	json_object_put(root);
	o = json_object_new_object();
	json_object_object_add(o, "messages", json_object_new_int64(
	    (int64_t)received));
	json_object_object_add(o, "statuses", json_object_new_int64(
	    (int64_t)applied));
	reply_data(r, 200, o);
	return;
fail:
	json_object_put(root);
	reply_db(r, rc);
}
