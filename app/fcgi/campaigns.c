/* Campaigns (SPEC 7): GET/POST /campaigns, GET /campaigns/{id}, POST
 * /campaigns/{id}/cancel and GET /campaigns/{id}/recipients. The API
 * writes a campaign (create, cancel); the spooler starts it at
 * scheduled_at, snapshots its segment's audience into its recipients,
 * queues and sends their messages and completes it. The stats are the
 * sums of campaign_counters (never a count of the recipients). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "handlers.h"
#include "jsonbody.h"
#include "placeholder.h"
#include "request.h"

#define COMPONENTS_MAX		20
#define COMPONENTS_BYTES	(16 * 1024)
#define PLACEHOLDERS_MAX	100	/* in all text parameters together */
#define SKEW_S			60	/* a scheduled_at this far back is now */

/* The fields a campaign accepts, in the order of vals[] below. */
enum { C_NAME, C_ACCOUNT, C_SEGMENT, C_TEMPLATE, C_LANGUAGE, C_COMPONENTS,
	C_SCHEDULED, C__MAX };
static const struct field campaign_fields[C__MAX] = {
	[C_NAME] =	{ "name", FT_STRING, FF_REQUIRED, 1, 255, NULL },
	[C_ACCOUNT] =	{ "whatsapp_account_id", FT_INT, FF_REQUIRED, 1,
			    INT64_MAX, NULL },
	[C_SEGMENT] =	{ "segment_id", FT_INT, FF_REQUIRED, 1, INT64_MAX,
			    NULL },
	[C_TEMPLATE] =	{ "template_name", FT_STRING, FF_REQUIRED, 1, 512,
			    NULL },
	[C_LANGUAGE] =	{ "template_language", FT_STRING_OR_OBJECT, 0, 1, 64,
			    NULL },
	[C_COMPONENTS] = { "template_components", FT_ARRAY, FF_NULLABLE, 0, 0,
			    NULL },
	[C_SCHEDULED] =	{ "scheduled_at", FT_STRING, FF_NULLABLE, 1, 64, NULL },
};

/* The statuses, for the lists' filters. */
static const char *const campaign_statuses[] = { "scheduled", "running",
	"completed", "cancelled", "failed", NULL };
static const char *const recipient_statuses[] = { "queued", "sent",
	"delivered", "read", "failed", NULL };

/* A template name as Meta allows it: lowercase letters, digits and
 * underscores. */
static bool
template_name_valid(const char *s)
{
	return s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_")] == '\0';
}

/* A language code as Meta's: "en", "pt_BR", "zh_Hant", "fil". */
static bool
language_valid(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"), m;

	if (n < 2 || n > 3)
		return false;
	if (s[n] == '\0')
		return true;
	if (s[n] != '_')
		return false;
	m = strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
	return m >= 2 && m <= 4 && s[n + 1 + m] == '\0';
}

/* The language as stored (its code), or NULL after recording the error. */
static const char *
language_parse(const struct fval *v, struct verrs *e)
{
	struct json_object *code;
	const char *s;

	if (!v->present || v->isnull)
		return "en";
	if (v->j != NULL) {
		if (!json_object_object_get_ex(v->j, "code", &code) ||
		    !json_object_is_type(code, json_type_string)) {
			verr_add(e, "template_language.code", "The "
			    "template_language.code field is required.");
			return NULL;
		}
		s = json_object_get_string(code);
		if (!language_valid(s)) {
			verr_add(e, "template_language.code", "The "
			    "template_language.code field must be a language "
			    "code such as en or en_US.");
			return NULL;
		}
		return s;
	}
	if (v->s == NULL)
		return NULL;	/* recorded by fields_parse */
	if (!language_valid(v->s)) {
		verr_add(e, "template_language", "The template language field "
		    "must be a language code such as en or en_US.");
		return NULL;
	}
	return v->s;
}

/* Checks the components: at most COMPONENTS_MAX objects with a string
 * type, every text parameter's placeholders valid (ph_check), at most
 * PLACEHOLDERS_MAX of them in all, the whole at most COMPONENTS_BYTES of
 * JSON (each is copied into every recipient's message). Returns their JSON text, or NULL after
 * recording errors. */
static const char *
components_parse(struct req *r, const struct fval *v, struct verrs *e)
{
	struct json_object *arr = v->j, *c, *t, *params, *p, *text;
	size_t n, i, j, nph = 0;
	unsigned before = e->n;
	const char *out, *at;
	char why[256];

	if (!v->present || v->isnull)
		return "[]";
	if (arr == NULL)
		return NULL;	/* recorded by fields_parse */
	if ((n = json_object_array_length(arr)) > COMPONENTS_MAX) {
		verr_add(e, "template_components", "The template components "
		    "field must not have more than %d items.", COMPONENTS_MAX);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(c, json_type_object)) {
			verr_add(e, pool_printf(&r->pool, "template_components.%zu",
			    i), "The template_components.%zu field must be an "
			    "object.", i);
			continue;
		}
		if (!json_object_object_get_ex(c, "type", &t) ||
		    !json_object_is_type(t, json_type_string)) {
			verr_add(e, pool_printf(&r->pool,
			    "template_components.%zu.type", i), "The "
			    "template_components.%zu.type field must be a "
			    "string.", i);
			continue;
		}
		if (!json_object_object_get_ex(c, "parameters", &params) ||
		    !json_object_is_type(params, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(params); j++) {
			p = json_object_array_get_idx(params, j);
			if (!json_object_is_type(p, json_type_object) ||
			    !json_object_object_get_ex(p, "type", &t) ||
			    !json_object_is_type(t, json_type_string) ||
			    strcmp(json_object_get_string(t), "text") != 0 ||
			    !json_object_object_get_ex(p, "text", &text) ||
			    !json_object_is_type(text, json_type_string))
				continue;
			if (ph_check(json_object_get_string(text), why,
			    sizeof(why)) == -1)
				verr_add(e, "template_components", "In "
				    "template_components.%zu.parameters.%zu.text: "
				    "%s", i, j, why);
			for (at = json_object_get_string(text);
			    (at = strstr(at, "{{")) != NULL; at += 2)
				nph++;
		}
	}
	if (e->n == before && nph > PLACEHOLDERS_MAX)
		verr_add(e, "template_components", "The template components "
		    "field must not have more than %d placeholders.",
		    PLACEHOLDERS_MAX);
	if (e->n != before)
		return NULL;
	out = req_json_text(r, arr);
	if (strlen(out) > COMPONENTS_BYTES) {
		verr_add(e, "template_components", "The template components "
		    "field must not be larger than %d KiB of JSON.",
		    COMPONENTS_BYTES / 1024);
		return NULL;
	}
	return out;
}

/* scheduled_at as the database takes it ("YYYY-MM-DD HH:MM:SS" UTC), NULL
 * for now (absent or null), or "" after recording the error. */
static const char *
scheduled_parse(struct req *r, const struct fval *v, struct verrs *e)
{
	char *out;
	time_t t;

	if (!v->present || v->isnull)
		return NULL;
	if (v->s == NULL)
		return "";	/* recorded by fields_parse */
	if (time_parse_rfc3339(v->s, &t) == -1) {
		verr_add(e, "scheduled_at", "The scheduled at field must be an "
		    "RFC 3339 time, e.g. 2026-03-15T10:00:00Z.");
		return "";
	}
	if (t < time(NULL) - SKEW_S) {
		verr_add(e, "scheduled_at", "The scheduled at field must be a "
		    "date in the future or now.");
		return "";
	}
	out = pool_alloc(&r->pool, 20);
	time_sql(t, out);
	return out;
}

void
campaign_create(struct req *r)
{
	struct fval v[C__MAX];
	struct verrs e;
	struct db_arg a[8];
	struct db_res res;
	const char *language, *components, *scheduled;
	uint64_t id = 0;
	enum db_rc rc;

	verrs_init(&e);
	fields_parse(&r->pool, r->json, campaign_fields, C__MAX, v, &e, false);
	if (v[C_TEMPLATE].s != NULL && !template_name_valid(v[C_TEMPLATE].s))
		verr_add(&e, "template_name", "The template name field must "
		    "contain only lowercase letters, digits and underscores.");
	language = language_parse(&v[C_LANGUAGE], &e);
	components = components_parse(r, &v[C_COMPONENTS], &e);
	scheduled = scheduled_parse(r, &v[C_SCHEDULED], &e);

	/* The account and the segment must be the tenant's: checked in the
	 * transaction that inserts, the segment share-locked against a
	 * delete racing this create. */
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	if (v[C_ACCOUNT].present && !v[C_ACCOUNT].isnull && v[C_ACCOUNT].i > 0) {
		a[1] = DBA_INT(v[C_ACCOUNT].i);
		rc = db_query_one(r->db, &r->pool, SQL_ACCOUNT_GET, a, 2, &res);
		if (rc == DB_NOROW)
			verr_add(&e, "whatsapp_account_id", "The selected whatsapp "
			    "account id is invalid.");
		else if (rc != DB_OK)
			goto fail;
	}
	if (v[C_SEGMENT].present && !v[C_SEGMENT].isnull && v[C_SEGMENT].i > 0) {
		a[1] = DBA_INT(v[C_SEGMENT].i);
		rc = db_query_one(r->db, &r->pool, SQL_CAMPAIGN_SEGMENT_SHARE, a,
		    2, &res);
		if (rc == DB_NOROW)
			verr_add(&e, "segment_id", "The selected segment id is "
			    "invalid.");
		else if (rc != DB_OK)
			goto fail;
	}
	if (e.n > 0) {
		db_rollback(r->db);
		fvals_free(campaign_fields, C__MAX, v);
		reply_invalid(r, &e);
		return;
	}
	a[1] = DBA_STR(v[C_NAME].s);
	a[2] = DBA_INT(v[C_ACCOUNT].i);
	a[3] = DBA_INT(v[C_SEGMENT].i);
	a[4] = DBA_STR(v[C_TEMPLATE].s);
	a[5] = DBA_STR(language);
	a[6] = DBA_STR(components);
	a[7] = DBA_STR(scheduled);
	if ((rc = db_exec(r->db, SQL_CAMPAIGN_CREATE, a, 8, NULL, &id)) !=
	    DB_OK)
		goto fail;
	a[1] = DBA_INT(id);
	if ((rc = db_query_one(r->db, &r->pool, SQL_CAMPAIGN_GET, a, 2,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	fvals_free(campaign_fields, C__MAX, v);
	reply_data(r, 201, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	fvals_free(campaign_fields, C__MAX, v);
	if (e.details != NULL)
		json_object_put(e.details);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

/* The index of s in list (NULL-terminated), or -1. */
static int
lookup(const char *const *list, const char *s)
{
	int k;

	for (k = 0; list[k] != NULL; k++)
		if (!strcmp(list[k], s))
			return k;
	return -1;
}

void
campaign_list(struct req *r)
{
	const char *status = query_get(&r->query, "status");
	struct db_res res;
	struct db_arg a[4];
	long long page, per_page, total;
	size_t na = 0;
	enum db_rc rc;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	if (status != NULL && *status == '\0')
		status = NULL;
	if (status != NULL && lookup(campaign_statuses, status) == -1) {
		reply_invalid_field(r, "status", "The selected status is invalid; "
		    "it must be scheduled, running, completed, cancelled or "
		    "failed.");
		return;
	}
	a[na++] = DBA_INT(r->tenant_id);
	if (status != NULL)
		a[na++] = DBA_STR(status);
	a[na] = DBA_INT(per_page);
	a[na + 1] = DBA_INT((page - 1) * per_page);
	if ((rc = db_query(r->db, &r->pool, status != NULL ?
	    SQL_CAMPAIGN_LIST_STATUS : SQL_CAMPAIGN_LIST, a, na + 2, &res)) !=
	    DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (req_page_total(r, &res, page, per_page, status != NULL ?
	    SQL_CAMPAIGN_COUNT_STATUS : SQL_CAMPAIGN_COUNT, a, na, &total) == -1)
		return;
	reply_list_json(r, &res, page, per_page, total);
}

void
campaign_get(struct req *r)
{
	req_reply_own(r, SQL_CAMPAIGN_GET, "Campaign");
}

/* Scheduled or running only. The campaign's row lock orders the cancel
 * with the spooler's batches: a batch that follows sees it cancelled and
 * stops; a started campaign's queued messages are then parked by the
 * spooler (phase parking). Unsent recipients stay queued. */
void
campaign_cancel(struct req *r)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct db_res res;
	const char *status;
	enum db_rc rc;

	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_CAMPAIGN_LOCK, "Campaign", &res) == -1) {
		db_rollback(r->db);
		return;
	}
	status = db_str(&res, 0, CK_STATUS);
	if (strcmp(status, "scheduled") != 0 && strcmp(status, "running") != 0) {
		db_rollback(r->db);
		reply_error(r, ERR_CONFLICT, pool_printf(&r->pool, "The campaign "
		    "is already %s.", status), NULL);
		return;
	}
	if ((rc = db_exec(r->db, SQL_CAMPAIGN_CANCEL, a, 2, NULL, NULL)) !=
	    DB_OK || (rc = db_query_one(r->db, &r->pool, SQL_CAMPAIGN_GET, a, 2,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_data(r, 200, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

/* The snapshot's recipients in contact id order; meta.total is the
 * counters' (the status's bucket, or the total). */
void
campaign_recipients(struct req *r)
{
	const char *status = query_get(&r->query, "status");
	struct db_res res, stats;
	struct db_arg a[5];
	long long page, per_page, total;
	size_t na = 0;
	enum db_rc rc;
	int k = -1;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	if (status != NULL && *status == '\0')
		status = NULL;
	if (status != NULL && (k = lookup(recipient_statuses, status)) == -1) {
		reply_invalid_field(r, "status", "The selected status is invalid; "
		    "it must be queued, sent, delivered, read or failed.");
		return;
	}
	if (req_load_own(r, SQL_CAMPAIGN_STATS, "Campaign", &stats) == -1)
		return;
	/* CS_QUEUED.. follow recipient_statuses' order. */
	total = db_int(&stats, 0, k == -1 ? CS_TOTAL : CS_QUEUED + k);
	memset(&res, 0, sizeof(res));
	if ((page - 1) * per_page < total) {
		a[na++] = DBA_INT(r->ids[0]);
		if (status != NULL)
			a[na++] = DBA_STR(status);
		a[na++] = DBA_INT(per_page);
		a[na++] = DBA_INT((page - 1) * per_page);
		a[na++] = DBA_INT(r->ids[0]);
		if ((rc = db_query(r->db, &r->pool, status != NULL ?
		    SQL_CAMPAIGN_RECIPIENTS_STATUS : SQL_CAMPAIGN_RECIPIENTS, a,
		    na, &res)) != DB_OK) {
			reply_db(r, rc);
			return;
		}
	}
	reply_list_json(r, &res, page, per_page, total);
}
