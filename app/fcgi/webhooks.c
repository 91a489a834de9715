/* Outgoing webhooks (SPEC 6): GET/POST /webhooks, GET/PUT/PATCH/DELETE
 * /webhooks/{id}, its deliveries (list, detail, redeliver), the test ping
 * and recover. The deliveries themselves are the spooler's; a webhook's
 * secret is stored sealed under the master key (keyring.h) and shown only
 * in the answer to its create. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "event.h"
#include "handlers.h"
#include "jsonbody.h"
#include "keyring.h"
#include "log.h"
#include "request.h"

#define WEBHOOKS_MAX		25	/* per tenant, not deleted */
#define URL_MAX			2048
#define SECRET_MAX		255
#define SECRET_PREFIX		"whsec_"
#define SECRET_RANDOM		32	/* bytes of a generated secret */
#define SECRET_KEY_MAX		64	/* bytes a whsec_ secret decodes to */
#define EVENTS_ITEMS_MAX	100
#define RECOVER_DAYS		14
#define OLD_SECRET_S		86400	/* a replaced secret still signs */

/* The fields a webhook accepts, in the order of vals[] below. */
enum { W_URL, W_EVENTS, W_SECRET, W_STATUS, W__MAX };
static const char *const webhook_statuses[] = { "active", "disabled", NULL };
static const struct field webhook_fields[W__MAX] = {
	[W_URL] =	{ "url", FT_STRING, FF_REQUIRED, 0, 0, NULL },
	[W_EVENTS] =	{ "events", FT_ARRAY, FF_REQUIRED, 0, 0, NULL },
	[W_SECRET] =	{ "secret", FT_STRING, FF_NULLABLE, 0, 0, NULL },
	[W_STATUS] =	{ "status", FT_ENUM, 0, 0, 0, webhook_statuses },
};

/* The deliveries list's status filter. */
static const char *const delivery_statuses[] = { "pending", "succeeded",
	"failed", NULL };

/* What is wrong with a URL, or NULL: an absolute http or https URL of
 * printable ASCII, with a host (a name, an IPv4 or a bracketed IPv6
 * address) and no user information, at most URL_MAX characters. Private
 * and loopback hosts are accepted here: the spooler refuses them when it
 * delivers (after resolving the name), unless configured otherwise. */
static const char *
url_problem(const char *s, size_t len)
{
	const char *auth, *end, *p, *host;
	size_t i, digits;
	long port;

	if (len == 0)
		return "The url field is required.";
	if (len > URL_MAX)
		return "The url field must not be greater than 2048 characters.";
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return "The url field must be printable ASCII without "
			    "spaces or control characters: percent-encode other "
			    "characters, and write an international domain name "
			    "in punycode (xn--).";
	if (len > 8 && strncasecmp(s, "https://", 8) == 0)
		auth = s + 8;
	else if (len > 7 && strncasecmp(s, "http://", 7) == 0)
		auth = s + 7;
	else
		return "The url field must be an absolute http:// or https:// "
		    "URL.";
	end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return "The url field must not contain user information "
		    "(user:password@).";
	host = auth;
	if (*host == '[') {
		char ip6[64];
		const char *close = memchr(host, ']', (size_t)(end - host));
		unsigned char buf[16];

		if (close == NULL || (size_t)(close - host - 1) >= sizeof(ip6))
			return "The url field must have a valid host.";
		memcpy(ip6, host + 1, (size_t)(close - host - 1));
		ip6[close - host - 1] = '\0';
		if (inet_pton(AF_INET6, ip6, buf) != 1)
			return "The url field must have a valid host.";
		p = close + 1;
	} else {
		for (p = host; p < end && *p != ':'; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
			    *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '.' || *p == '_'))
				return "The url field must have a valid host.";
		if (p == host)
			return "The url field must have a host.";
	}
	if (p < end) {
		if (*p != ':')
			return "The url field must have a valid host.";
		port = 0;
		for (digits = 0, p++; p < end; p++, digits++) {
			if (*p < '0' || *p > '9' || digits >= 5)
				return "The url field must have a valid port.";
			port = port * 10 + (*p - '0');
		}
		if (digits == 0 || port < 1 || port > 65535)
			return "The url field must have a valid port.";
	}
	return NULL;
}

/* A given secret: 1..SECRET_MAX printable ASCII characters; one that
 * starts with whsec_ is a Standard Webhooks secret, whose remainder must
 * be base64 (standard, padded) of 1..SECRET_KEY_MAX bytes: the spooler
 * signs webhook-signature with those bytes. */
static const char *
secret_problem(const char *s, size_t len)
{
	unsigned char key[SECRET_MAX];
	size_t i, n = 0;
	int rc;

	if (len < 1 || len > SECRET_MAX)
		return "The secret field must be between 1 and 255 characters.";
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return "The secret field must be printable ASCII without "
			    "spaces.";
	if (len >= sizeof(SECRET_PREFIX) - 1 && !strncmp(s, SECRET_PREFIX,
	    sizeof(SECRET_PREFIX) - 1)) {
		rc = sodium_base642bin(key, sizeof(key), s + 6, len - 6, NULL,
		    &n, NULL, sodium_base64_VARIANT_ORIGINAL);
		sodium_memzero(key, sizeof(key));
		if (rc != 0 || n < 1 || n > SECRET_KEY_MAX)
			return "The secret field starts with whsec_, so the rest "
			    "must be base64 (with padding) of 1 to 64 bytes.";
	}
	return NULL;
}

/* The events array as stored: the subscribable names given, each once,
 * comma-separated in lib/event.c's order; NULL after recording errors. */
static const char *
events_parse(struct req *r, struct json_object *arr, struct verrs *e)
{
	bool want[EV__MAX];
	size_t n = json_object_array_length(arr), i;
	unsigned before = e->n;
	char *out, *o;
	int k;

	if (n == 0) {
		verr_add(e, "events", "The events field must have at least 1 "
		    "item.");
		return NULL;
	}
	if (n > EVENTS_ITEMS_MAX) {
		verr_add(e, "events", "The events field must not have more than "
		    "%d items.", EVENTS_ITEMS_MAX);
		return NULL;
	}
	memset(want, 0, sizeof(want));
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		char *path = pool_printf(&r->pool, "events.%zu", i);
		char known[512] = "";

		if (!json_object_is_type(v, json_type_string)) {
			verr_add(e, path, "The %s field must be a string.", path);
			continue;
		}
		if ((k = event_lookup(json_object_get_string(v))) == -1) {
			for (k = 0; k < EV__MAX; k++)
				if (event_subscribable((enum event_type)k)) {
					if (*known)
						strncat(known, ", ", sizeof(known) -
						    strlen(known) - 1);
					strncat(known, event_names[k],
					    sizeof(known) - strlen(known) - 1);
				}
			verr_add(e, path, "The selected %s is invalid; the events "
			    "are %s.", path, known);
			continue;
		}
		want[k] = true;
	}
	if (e->n != before)
		return NULL;
	o = out = pool_alloc(&r->pool, 1024);
	for (k = 0; k < EV__MAX; k++) {
		if (!want[k])
			continue;
		if (o != out)
			*o++ = ',';
		strcpy(o, event_names[k]);	/* all of them fit in 1024 */
		o += strlen(o);
	}
	return out;
}

/* Parses and checks the body into v, and the events into *events (NULL
 * when absent). Returns 0, or -1 after replying 422. */
static int
webhook_parse(struct req *r, struct fval *v, bool partial,
    const char **events)
{
	struct verrs e;
	const char *msg;

	*events = NULL;
	verrs_init(&e);
	fields_parse(&r->pool, r->json, webhook_fields, W__MAX, v, &e, partial);
	if (v[W_URL].s != NULL && (msg = url_problem(v[W_URL].s,
	    v[W_URL].slen)) != NULL)
		verr_add(&e, "url", "%s", msg);
	if (v[W_EVENTS].j != NULL)
		*events = events_parse(r, v[W_EVENTS].j, &e);
	if (v[W_SECRET].s != NULL && (msg = secret_problem(v[W_SECRET].s,
	    v[W_SECRET].slen)) != NULL)
		verr_add(&e, "secret", "%s", msg);
	/* null asks for a generated secret on create; a change names one. */
	if (partial && v[W_SECRET].isnull)
		verr_add(&e, "secret", "The secret field must be a string.");
	fvals_free(webhook_fields, W__MAX, v);
	if (e.n > 0) {
		reply_invalid(r, &e);
		return -1;
	}
	return 0;
}

/* The master key for sealing or opening a secret; NULL after replying
 * 503 (the cause is in the log, once per worker: keyring.c). */
static const uint8_t *
master_or_503(struct req *r)
{
	const uint8_t *mk = keyring_master(r->cfg);

	if (mk == NULL) {
		log_warnx("request %s: webhook secret: no master key (%s), "
		    "answered 503", r->id, r->cfg->master_key_file);
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "Webhook secrets cannot "
		    "be stored right now: the server's master key is "
		    "unavailable.", NULL);
	}
	return mk;
}

/* Seals secret into the pool; *n its length. */
static const uint8_t *
seal(struct req *r, const uint8_t *mk, const char *secret, size_t *n)
{
	size_t len = strlen(secret);
	uint8_t *out = pool_alloc(&r->pool, len + SECRET_OVERHEAD);

	*n = secret_seal(mk, secret, len, out);
	return out;
}

static struct json_object *
raw_item(struct req *r, const struct db_res *res, size_t i, enum db_rc *rc)
{
	(void)r;
	(void)rc;
	return jsonbody_raw(db_str(res, i, 0));
}

void
webhook_list(struct req *r)
{
	reply_tenant_page(r, SQL_WEBHOOK_LIST, SQL_WEBHOOK_COUNT, raw_item);
}

void
webhook_get(struct req *r)
{
	req_reply_own(r, SQL_WEBHOOK_GET, "Webhook");
}

void
webhook_create(struct req *r)
{
	struct fval v[W__MAX];
	struct json_object *o;
	struct db_arg a[5];
	struct db_res res;
	const uint8_t *mk, *sealed;
	const char *events, *secret;
	unsigned char rnd[SECRET_RANDOM];
	char gen[sizeof(SECRET_PREFIX) - 1 +
	    sodium_base64_ENCODED_LEN(SECRET_RANDOM,
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t n;
	enum db_rc rc;

	if (webhook_parse(r, v, false, &events) == -1)
		return;
	if ((mk = master_or_503(r)) == NULL)
		return;
	if (v[W_SECRET].s != NULL)
		secret = v[W_SECRET].s;
	else {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(gen, SECRET_PREFIX, sizeof(SECRET_PREFIX) - 1);
		sodium_bin2base64(gen + sizeof(SECRET_PREFIX) - 1,
		    sizeof(gen) - (sizeof(SECRET_PREFIX) - 1), rnd, sizeof(rnd),
		    sodium_base64_VARIANT_ORIGINAL);
		sodium_memzero(rnd, sizeof(rnd));
		secret = gen;
	}
	sealed = seal(r, mk, secret, &n);

	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_CREATE_LOCK, a, 1,
	    &res)) != DB_OK || (rc = db_query_one(r->db, &r->pool,
	    SQL_WEBHOOK_COUNT_LOCK, a, 1, &res)) != DB_OK)
		goto fail;
	if (db_int(&res, 0, 0) >= WEBHOOKS_MAX) {
		db_rollback(r->db);
		sodium_memzero(gen, sizeof(gen));
		reply_error(r, ERR_CONFLICT, pool_printf(&r->pool, "A tenant "
		    "may have at most %d webhooks; delete one first.",
		    WEBHOOKS_MAX), NULL);
		return;
	}
	a[1] = DBA_STR(v[W_URL].s);
	a[2] = DBA_STR(events);
	a[3] = DBA_BLOB(sealed, n);
	a[4] = DBA_STR(v[W_STATUS].s != NULL ? v[W_STATUS].s : "active");
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_CREATE, a, 5,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	if ((o = json_tokener_parse(db_str(&res, 0, 0))) == NULL) {
		rc = DB_ERR;
		goto fail;
	}
	json_object_object_add(o, "secret", json_object_new_string(secret));
	sodium_memzero(gen, sizeof(gen));
	reply_data(r, 201, o);
	r->secret_out = true;
	return;
fail:
	db_rollback(r->db);
	sodium_memzero(gen, sizeof(gen));
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

/* Seconds a replaced secret still signs: 24 h times webhooks.time_scale,
 * at least one. */
static long long
old_secret_seconds(const struct config *cfg)
{
	long long s = (long long)(OLD_SECRET_S * cfg->webhooks_time_scale +
	    0.5);

	return s < 1 ? 1 : s;
}

/* Whether sealed (the row's secret_enc) opens to secret: then a PUT that
 * names it again changes nothing (and keeps the old secret, if any). */
static bool
same_secret(struct req *r, const uint8_t *mk, const struct db_res *row,
    const char *secret)
{
	size_t n = db_len(row, 0, WL_SECRET), len = strlen(secret);
	char *plain;
	bool same;

	if (n <= SECRET_OVERHEAD || n - SECRET_OVERHEAD != len)
		return false;
	plain = pool_alloc(&r->pool, len + 1);
	same = secret_open(mk, (const uint8_t *)db_str(row, 0, WL_SECRET), n,
	    plain) == 0 && sodium_memcmp(plain, secret, len) == 0;
	sodium_memzero(plain, len + 1);
	return same;
}

void
webhook_update(struct req *r)
{
	struct fval v[W__MAX];
	struct db_res lock, res;
	struct db_arg a[7];
	const uint8_t *mk = NULL, *sealed = NULL;
	const char *events, *secret;
	size_t n = 0;
	enum db_rc rc;

	if (webhook_parse(r, v, true, &events) == -1)
		return;
	if (!v[W_URL].present && !v[W_EVENTS].present &&
	    !v[W_SECRET].present && !v[W_STATUS].present) {
		webhook_get(r);		/* nothing to change */
		return;
	}
	if ((secret = v[W_SECRET].s) != NULL &&
	    (mk = master_or_503(r)) == NULL)
		return;
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_WEBHOOK_LOCK, "Webhook", &lock) == -1) {
		db_rollback(r->db);
		return;
	}
	if (secret != NULL && !same_secret(r, mk, &lock, secret))
		sealed = seal(r, mk, secret, &n);
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(r->ids[0]);
	a[2] = DBA_STR(v[W_URL].s);
	a[3] = DBA_STR(events);
	a[4] = sealed != NULL ? DBA_BLOB(sealed, n) : DBA_NULL;
	a[5] = DBA_STR(v[W_STATUS].s);
	a[6] = DBA_INT(old_secret_seconds(r->cfg));
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_UPDATE, a, 7,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_data(r, 200, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

void
webhook_delete(struct req *r)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct json_object *o;
	uint64_t n = 0;
	enum db_rc rc;

	if ((rc = db_exec(r->db, SQL_WEBHOOK_DELETE, a, 2, &n, NULL)) !=
	    DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (n == 0) {
		reply_error(r, ERR_NOT_FOUND, "Webhook not found.", NULL);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(r->ids[0]));
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	reply_data(r, 200, o);
}

void
webhook_deliveries(struct req *r)
{
	const char *status = query_get(&r->query, "status");
	struct db_res res;
	struct db_arg a[5];
	long long page, per_page, total;
	size_t na = 0;
	enum db_rc rc;
	int k;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	if (status != NULL && *status == '\0')
		status = NULL;
	if (status != NULL) {
		for (k = 0; delivery_statuses[k] != NULL; k++)
			if (!strcmp(delivery_statuses[k], status))
				break;
		if (delivery_statuses[k] == NULL) {
			reply_invalid_field(r, "status", "The selected status is "
			    "invalid; it must be pending, succeeded or failed.");
			return;
		}
	}
	if (req_load_own(r, SQL_WEBHOOK_GET, "Webhook", &res) == -1)
		return;
	a[na++] = DBA_INT(r->tenant_id);
	a[na++] = DBA_INT(r->ids[0]);
	if (status != NULL)
		a[na++] = DBA_STR(status);
	a[na] = DBA_INT(per_page);
	a[na + 1] = DBA_INT((page - 1) * per_page);
	if ((rc = db_query(r->db, &r->pool, status != NULL ?
	    SQL_WEBHOOK_DELIVERY_LIST_STATUS : SQL_WEBHOOK_DELIVERY_LIST, a,
	    na + 2, &res)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (req_page_total(r, &res, page, per_page, status != NULL ?
	    SQL_WEBHOOK_DELIVERY_COUNT_STATUS : SQL_WEBHOOK_DELIVERY_COUNT, a,
	    na, &total) == -1)
		return;
	reply_list_json(r, &res, page, per_page, total);
}

/* The delivery (r->ids[1]) of the webhook (r->ids[0]) with its attempts:
 * "attempts" is the list of the latest 100, oldest first, and
 * "attempt_count" the number the list shows as "attempts". */
void
webhook_delivery(struct req *r)
{
	struct db_arg a[3] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]),
	    DBA_INT(r->ids[1]) };
	struct json_object *o, *list, *count;
	struct db_res res, att;
	enum db_rc rc;
	size_t i;

	rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_DELIVERY_GET, a, 3, &res);
	if (rc == DB_NOROW) {
		reply_error(r, ERR_NOT_FOUND, "Delivery not found.", NULL);
		return;
	}
	if (rc != DB_OK) {
		reply_db(r, rc);
		return;
	}
	a[1] = DBA_INT(r->ids[1]);
	if ((rc = db_query(r->db, &r->pool, SQL_WEBHOOK_DELIVERY_ATTEMPTS, a, 2,
	    &att)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	if ((o = json_tokener_parse(db_str(&res, 0, 0))) == NULL) {
		reply_db(r, DB_ERR);
		return;
	}
	list = json_object_new_array();
	for (i = 0; i < att.nrows; i++)
		json_object_array_add(list, jsonbody_raw(db_str(&att, i, 0)));
	if (json_object_object_get_ex(o, "attempts", &count))
		count = json_object_get(count);
	else
		count = json_object_new_int(0);
	json_object_object_add(o, "attempts", list);
	json_object_object_add(o, "attempt_count", count);
	reply_data(r, 200, o);
}

/* In a transaction: locks the tenant's webhook r->ids[0]. Returns 0 if it
 * is active, else -1 after rolling back and replying 404, 409 (disabled)
 * or the database's error. */
static int
lock_active(struct req *r)
{
	struct db_res lock;
	enum db_rc rc;

	if ((rc = db_begin(r->db)) != DB_OK) {
		reply_db(r, rc);
		return -1;
	}
	if (req_load_own(r, SQL_WEBHOOK_LOCK, "Webhook", &lock) == -1) {
		db_rollback(r->db);
		return -1;
	}
	if (strcmp(db_str(&lock, 0, WL_STATUS), "active") != 0) {
		db_rollback(r->db);
		reply_error(r, ERR_CONFLICT, "The webhook is disabled; enable it "
		    "first.", NULL);
		return -1;
	}
	return 0;
}

void
webhook_test(struct req *r)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct db_res res;
	enum db_rc rc;

	if (lock_active(r) == -1)
		return;
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_TEST, a, 2,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK) {
		db_rollback(r->db);
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
		return;
	}
	reply_data(r, 202, jsonbody_raw(db_str(&res, 0, 0)));
}

void
webhook_redeliver(struct req *r)
{
	struct db_arg a[3] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]),
	    DBA_INT(r->ids[1]) };
	struct db_res res;
	enum db_rc rc;

	if (lock_active(r) == -1)
		return;
	rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_DELIVERY_LOCK, a, 3,
	    &res);
	if (rc == DB_NOROW) {
		db_rollback(r->db);
		reply_error(r, ERR_NOT_FOUND, "Delivery not found.", NULL);
		return;
	}
	if (rc != DB_OK)
		goto fail;
	if (!strcmp(db_str(&res, 0, WD_STATUS), "pending")) {
		db_rollback(r->db);
		reply_error(r, ERR_CONFLICT, "The delivery is pending already: "
		    "its next attempt is scheduled.", NULL);
		return;
	}
	if (db_int(&res, 0, WD_HAS_DATA) == 0) {
		db_rollback(r->db);
		reply_error(r, ERR_CONFLICT, "The delivery's payload was removed "
		    "by retention; it cannot be sent again.", NULL);
		return;
	}
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_REDELIVER, a, 3,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_data(r, 202, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

static const struct field recover_fields[] = {
	{ "since", FT_STRING, FF_REQUIRED, 0, 64, NULL },
};

void
webhook_recover(struct req *r)
{
	struct fval v[1];
	struct verrs e;
	struct json_object *o;
	struct db_arg a[3];
	struct db_res res;
	char since_sql[20];
	time_t since, now = time(NULL);
	enum db_rc rc;

	verrs_init(&e);
	fields_parse(&r->pool, r->json, recover_fields, 1, v, &e, false);
	if (v[0].s != NULL) {
		if (time_parse_rfc3339(v[0].s, &since) == -1)
			verr_add(&e, "since", "The since field must be an RFC 3339 "
			    "time, e.g. 2026-03-15T10:00:00Z.");
		else if (since > now)
			verr_add(&e, "since", "The since field must not be in the "
			    "future.");
		else if (since < now - RECOVER_DAYS * 86400)
			verr_add(&e, "since", "The since field must be at most %d "
			    "days back.", RECOVER_DAYS);
	}
	fvals_free(recover_fields, 1, v);
	if (e.n > 0) {
		reply_invalid(r, &e);
		return;
	}
	time_sql(since, since_sql);
	if (lock_active(r) == -1)
		return;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(r->ids[0]);
	a[2] = DBA_STR(since_sql);
	if ((rc = db_query_one(r->db, &r->pool, SQL_WEBHOOK_RECOVER, a, 3,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK) {
		db_rollback(r->db);
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int64(db_int(&res,
	    0, 0)));
	reply_data(r, 202, o);
}
