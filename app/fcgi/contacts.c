/* Contacts: GET/POST /contacts, GET/PUT/PATCH/DELETE /contacts/{id}. */
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "handlers.h"
#include "jsonbody.h"
#include "request.h"
#include "scopes.h"

#define SEARCH_MAX	255

/* The fields a contact accepts, in the order of vals[] below. */
enum { F_NAME, F_PHONE, F_EMAIL, F_TAGS, F_CUSTOM, F_OPTED_OUT, F__MAX };
static const struct field contact_fields[F__MAX] = {
	[F_NAME] =	{ "name", FT_STRING, FF_NULLABLE, 0, 255, NULL },
	[F_PHONE] =	{ "phone", FT_PHONE, FF_REQUIRED, 0, 0, NULL },
	[F_EMAIL] =	{ "email", FT_EMAIL, FF_NULLABLE, 0, 0, NULL },
	[F_TAGS] =	{ "tags", FT_TAGS, FF_NULLABLE, 0, 0, NULL },
	[F_CUSTOM] =	{ "custom_fields", FT_SCALARS, FF_NULLABLE, 0,
			    CUSTOM_FIELDS_MAX, NULL },
	[F_OPTED_OUT] =	{ "opted_out", FT_BOOL, 0, 0, 0, NULL },
};

/* A contact's values as a write takes them (its JSON, as the API shows
 * it, is contact_shapes' in sql/routines/shapes.sql). */
struct contact {
	const char	*name, *phone, *email;
	const char	*tags;		/* JSON text */
	const char	*custom;	/* JSON text */
	bool		 opted_out;
};

static struct json_object *
json_text(const char *text, bool array)
{
	struct json_object *o = text ? json_tokener_parse(text) : NULL;

	if (o == NULL)
		o = array ? json_object_new_array() : json_object_new_object();
	return o;
}

/* text in its canonical JSON form (as a write stores it), for comparing. */
static const char *
json_canon(struct req *r, const char *text, bool array)
{
	struct json_object *o = json_text(text, array);
	const char *out = req_json_text(r, o);

	json_object_put(o);
	return out;
}

static void
contact_from_row(const struct db_res *res, size_t i, struct contact *c)
{
	c->name = db_str(res, i, CL_NAME);
	c->phone = db_str(res, i, CL_PHONE);
	c->email = db_str(res, i, CL_EMAIL);
	c->tags = db_str(res, i, CL_TAGS);
	c->custom = db_str(res, i, CL_CUSTOM);
	c->opted_out = db_int(res, i, CL_OPTED_OUT) != 0;
}

/* The trigrams of a contact's name, phone and email, for the search index. */
static const char *
contact_trigrams(struct req *r, const struct contact *c)
{
	const char *texts[3] = { c->name, c->phone, c->email };

	return req_trigrams(r, texts, 3);
}

/* Applies validated fields to c. Empty strings clear name and email. */
static void
contact_apply(struct req *r, const struct fval *v, struct contact *c)
{
	if (v[F_NAME].present)
		c->name = v[F_NAME].isnull || v[F_NAME].slen == 0 ? NULL :
		    v[F_NAME].s;
	if (v[F_PHONE].present)
		c->phone = v[F_PHONE].s;
	if (v[F_EMAIL].present)
		c->email = v[F_EMAIL].isnull || v[F_EMAIL].slen == 0 ? NULL :
		    v[F_EMAIL].s;
	if (v[F_TAGS].present)
		c->tags = v[F_TAGS].isnull ? "[]" : req_json_text(r, v[F_TAGS].j);
	if (v[F_CUSTOM].present)
		c->custom = v[F_CUSTOM].isnull ? "{}" :
		    req_json_text(r, v[F_CUSTOM].j);
	if (v[F_OPTED_OUT].present)
		c->opted_out = v[F_OPTED_OUT].i != 0;
}

/* Parses the body into vals; empty email strings are not validated. */
static int
contact_parse(struct req *r, struct fval *vals, bool partial)
{
	struct json_object *e;
	struct verrs errs;

	/* "" means "no email", as form-based clients send it. */
	if (json_object_object_get_ex(r->json, "email", &e) &&
	    json_object_is_type(e, json_type_string) &&
	    json_object_get_string_len(e) == 0)
		json_object_object_add(r->json, "email", NULL);
	verrs_init(&errs);
	if (fields_parse(&r->pool, r->json, contact_fields, F__MAX, vals, &errs,
	    partial) > 0) {
		fvals_free(contact_fields, F__MAX, vals);
		reply_invalid(r, &errs);
		return -1;
	}
	return 0;
}

static bool
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return !strcmp(a, b);
}

void
contact_create(struct req *r)
{
	struct fval vals[F__MAX];
	struct contact c;
	struct db_arg a[9];
	struct db_res res;
	char now[20];
	enum db_rc rc;

	if (contact_parse(r, vals, false) == -1)
		return;
	memset(&c, 0, sizeof(c));
	c.tags = "[]";
	c.custom = "{}";
	contact_apply(r, vals, &c);
	time_sql(time(NULL), now);
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_STR(c.name);
	a[2] = DBA_STR(c.phone);
	a[3] = DBA_STR(c.email);
	a[4] = DBA_STR(c.tags);
	a[5] = DBA_STR(c.custom);
	a[6] = DBA_INT(c.opted_out);
	a[7] = DBA_STR(now);
	a[8] = DBA_STR(contact_trigrams(r, &c));
	if ((rc = db_query_one(r->db, &r->pool, SQL_CONTACT_CREATE, a, 9,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	fvals_free(contact_fields, F__MAX, vals);
	reply_data(r, 201, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	fvals_free(contact_fields, F__MAX, vals);
	if (rc == DB_DUP)
		reply_invalid_field(r, "phone", "The phone has already been taken.");
	else
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

void
contact_get(struct req *r)
{
	req_reply_own(r, SQL_CONTACT_GET, "Contact");
}

void
contact_update(struct req *r)
{
	struct fval vals[F__MAX];
	struct db_res res;
	struct db_arg a[11];
	struct contact old, c;
	char now[20];
	enum db_rc rc;

	if (contact_parse(r, vals, true) == -1)
		return;
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_CONTACT_GET_FOR_UPDATE, "Contact", &res) == -1) {
		db_rollback(r->db);
		fvals_free(contact_fields, F__MAX, vals);
		return;
	}
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(r->ids[0]);
	contact_from_row(&res, 0, &old);
	/* Tags and custom fields compare as their canonical JSON text. */
	old.tags = json_canon(r, old.tags, true);
	old.custom = json_canon(r, old.custom, false);
	c = old;
	contact_apply(r, vals, &c);
	if (streq(c.name, old.name) && streq(c.phone, old.phone) &&
	    streq(c.email, old.email) && streq(c.tags, old.tags) &&
	    streq(c.custom, old.custom) && c.opted_out == old.opted_out) {
		/* Nothing changed: no write, no event. */
		db_rollback(r->db);
		fvals_free(contact_fields, F__MAX, vals);
		reply_data(r, 200, jsonbody_raw(db_str(&res, 0, CL_JSON)));
		return;
	}
	time_sql(time(NULL), now);
	a[2] = DBA_STR(c.name);
	a[3] = DBA_STR(c.phone);
	a[4] = DBA_STR(c.email);
	a[5] = DBA_STR(c.tags);
	a[6] = DBA_STR(c.custom);
	a[7] = DBA_INT(c.opted_out);
	a[8] = DBA_STR(now);
	a[9] = DBA_STR(contact_trigrams(r, &old));
	a[10] = DBA_STR(contact_trigrams(r, &c));
	if ((rc = db_query_one(r->db, &r->pool, SQL_CONTACT_UPDATE, a, 11,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	fvals_free(contact_fields, F__MAX, vals);
	reply_data(r, 200, jsonbody_raw(db_str(&res, 0, 0)));
	return;
fail:
	db_rollback(r->db);
	fvals_free(contact_fields, F__MAX, vals);
	if (rc == DB_DUP)
		reply_invalid_field(r, "phone", "The phone has already been taken.");
	else
		reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

void
contact_delete(struct req *r)
{
	struct db_arg a[3] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct json_object *o;
	struct db_res res;
	struct contact c;
	enum db_rc rc;

	/* The stored values name the trigram rows to remove. */
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_CONTACT_GET_FOR_UPDATE, "Contact", &res) == -1) {
		db_rollback(r->db);
		return;
	}
	contact_from_row(&res, 0, &c);
	a[2] = DBA_STR(contact_trigrams(r, &c));
	if ((rc = db_query_one(r->db, &r->pool, SQL_CONTACT_DELETE, a, 3,
	    &res)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(r->ids[0]));
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	reply_data(r, 200, o);
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

/* "%term%" with LIKE's wildcards escaped. */
static const char *
like_pattern(struct req *r, const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *p = pool_alloc(&r->pool, 2 * n + 3);

	p[o++] = '%';
	for (i = 0; i < n; i++) {
		if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
			p[o++] = '\\';
		p[o++] = s[i];
	}
	p[o++] = '%';
	p[o] = '\0';
	return p;
}

struct tri_pick {
	char	 t[3][16];
	size_t	 n;		/* trigrams seen */
	char	 all[256][16];
};

static void
tri_collect(const char *t, size_t len, void *arg)
{
	struct tri_pick *p = arg;

	if (p->n < 256 && len < 16) {
		memcpy(p->all[p->n], t, len);
		p->all[p->n][len] = '\0';
	}
	p->n++;
}

/* A page of all the tenant's contacts, newest first: a[0] the tenant, a[1]
 * and a[2] the limit and offset. The total comes first, from the tenant's
 * counter; a page past the middle is read from the oldest end, so no page
 * skips more than half of the tenant's key (page 4,000 of 100,000 contacts
 * skips 0 entries instead of 99,975). Returns 0, or -1 after replying. */
static int
list_all(struct req *r, struct db_arg *a, long long page, long long per_page,
    struct db_res *res, long long *total)
{
	struct db_res cnt;
	long long off = (page - 1) * per_page, n;
	enum sql list = SQL_CONTACT_LIST;
	enum db_rc rc;

	if ((rc = db_query(r->db, &r->pool, SQL_CONTACT_COUNT_ALL, a, 1,
	    &cnt)) != DB_OK) {
		reply_db(r, rc);
		return -1;
	}
	*total = cnt.nrows > 0 ? db_int(&cnt, 0, 0) : 0;
	if (off >= *total) {
		memset(res, 0, sizeof(*res));	/* past the end */
		return 0;
	}
	if (off > *total / 2) {
		n = *total - off < per_page ? *total - off : per_page;
		a[1] = DBA_INT(n);
		a[2] = DBA_INT(*total - off - n);
		list = SQL_CONTACT_LIST_TAIL;
	}
	if ((rc = db_query(r->db, &r->pool, list, a, 3, res)) != DB_OK) {
		reply_db(r, rc);
		return -1;
	}
	return 0;
}

void
contact_list(struct req *r)
{
	const char *search = query_get(&r->query, "search");
	const char *tag = query_get(&r->query, "tag");
	struct db_res res;
	struct db_arg a[16];
	struct verrs errs;
	long long page, per_page, total;
	enum sql list, count;
	size_t na = 0, nc;
	enum db_rc rc;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	if (search != NULL && *search == '\0')
		search = NULL;
	if (tag != NULL && *tag == '\0')
		tag = NULL;
	verrs_init(&errs);
	if (search != NULL && utf8_length(search, strlen(search)) > SEARCH_MAX)
		verr_add(&errs, "search", "The search field must not be greater "
		    "than %d characters.", SEARCH_MAX);
	if (tag != NULL && utf8_length(tag, strlen(tag)) > TAG_MAX_LEN)
		verr_add(&errs, "tag", "The tag field must not be greater than %d "
		    "characters.", TAG_MAX_LEN);
	if (errs.n > 0) {
		reply_invalid(r, &errs);
		return;
	}

	if (search == NULL && tag == NULL) {
		list = SQL_CONTACT_LIST;
		count = SQL_CONTACT_COUNT_ALL;
		a[na++] = DBA_INT(r->tenant_id);
		nc = na;
	} else if (search == NULL) {
		list = SQL_CONTACT_LIST_TAG;
		count = SQL_CONTACT_COUNT_TAG;
		a[na++] = DBA_INT(r->tenant_id);
		a[na++] = DBA_STR(tag);
		nc = na;
	} else {
		struct tri_pick *tp = pool_calloc(&r->pool, 1, sizeof(*tp));
		const char *like = like_pattern(r, search);

		trigrams(search, strlen(search), tri_collect, tp);
		if (tp->n == 0) {
			/* Under three characters: no trigram to use. */
			list = SQL_CONTACT_LIST_SCAN;
			count = SQL_CONTACT_COUNT_SCAN;
			a[na++] = DBA_INT(r->tenant_id);
		} else {
			size_t k = tp->n < 256 ? tp->n : 256;
			/* First, middle and last: spread over the term. */
			list = SQL_CONTACT_LIST_TRI;
			count = SQL_CONTACT_COUNT_TRI;
			a[na++] = DBA_STR(tp->all[k / 2]);
			a[na++] = DBA_STR(tp->all[k - 1]);
			a[na++] = DBA_INT(r->tenant_id);
			a[na++] = DBA_STR(tp->all[0]);
		}
		a[na++] = DBA_STR(like);
		/* Phones are stored as '+' and digits: a term with anything
		 * else cannot match one, and LIKE NULL costs nothing a row. */
		a[na++] = DBA_STR(search[strspn(search, "+0123456789")] ?
		    NULL : like);
		a[na++] = DBA_STR(like);
		a[na++] = DBA_STR(tag);
		a[na++] = DBA_STR(tag);
		nc = na;
	}
	a[na++] = DBA_INT(per_page);
	a[na++] = DBA_INT((page - 1) * per_page);

	if (list == SQL_CONTACT_LIST) {
		if (list_all(r, a, page, per_page, &res, &total) == -1)
			return;
	} else {
		if ((rc = db_query(r->db, &r->pool, list, a, na, &res)) !=
		    DB_OK) {
			reply_db(r, rc);
			return;
		}
		if (req_page_total(r, &res, page, per_page, count, a, nc,
		    &total) == -1)
			return;
	}
	reply_list_json(r, &res, page, per_page, total);
}
