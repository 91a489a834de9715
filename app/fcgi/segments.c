/* Segments (SPEC 7): GET/POST /segments, GET/PUT/PATCH/DELETE
 * /segments/{id}. A segment is a filter over the tenant's contacts by tag;
 * its contact_count is counted live, when asked, from contact_tags (whose
 * opted_out mirrors the contact's), so it is built here rather than in a
 * view. A campaign snapshots the same audience when it starts. */
#include <string.h>

#include <json-c/json.h>

#include "handlers.h"
#include "jsonbody.h"
#include "request.h"

/* The fields a segment accepts, in the order of vals[] below. */
enum { S_NAME, S_FILTER, S__MAX };
static const struct field segment_fields[S__MAX] = {
	[S_NAME] =	{ "name", FT_STRING, FF_REQUIRED, 1, 255, NULL },
	[S_FILTER] =	{ "filter", FT_OBJECT, FF_REQUIRED, 0, 0, NULL },
};
/* filter's fields: tags as a contact's (at most 50 of 1-64 characters,
 * duplicates dropped, order kept), [] meaning every contact; match any
 * (the default) or all. */
static const char *const matches[] = { "any", "all", NULL };
enum { SF_TAGS, SF_MATCH, SF__MAX };
static const struct field filter_fields[SF__MAX] = {
	[SF_TAGS] =	{ "tags", FT_TAGS, FF_REQUIRED, 0, 0, NULL },
	[SF_MATCH] =	{ "match", FT_ENUM, 0, 0, 0, matches },
};

/* A segment's values as a write takes them: NULL keeps the stored one. */
struct segment {
	const char	*name;
	const char	*tags;		/* JSON text */
	int		 match_all;	/* -1: keep */
};

/* Parses the body into s (partial: PUT and PATCH, where only the fields
 * present change; a filter present is a whole filter). Returns 0, or -1
 * after replying 422. */
static int
segment_parse(struct req *r, bool partial, struct segment *s)
{
	struct fval v[S__MAX], f[SF__MAX];
	struct verrs e;

	memset(s, 0, sizeof(*s));
	s->match_all = -1;
	memset(f, 0, sizeof(f));
	verrs_init(&e);
	fields_parse(&r->pool, r->json, segment_fields, S__MAX, v, &e, partial);
	if (v[S_NAME].s != NULL)
		s->name = v[S_NAME].s;
	if (v[S_FILTER].j != NULL) {
		fields_parse_at(&r->pool, v[S_FILTER].j, "filter", filter_fields,
		    SF__MAX, f, &e, false);
		if (f[SF_TAGS].j != NULL)
			s->tags = req_json_text(r, f[SF_TAGS].j);
		s->match_all = f[SF_MATCH].s != NULL && f[SF_MATCH].i == 1;
	}
	fvals_free(filter_fields, SF__MAX, f);
	fvals_free(segment_fields, S__MAX, v);
	if (e.n > 0) {
		reply_invalid(r, &e);
		return -1;
	}
	return 0;
}

/* The segment's audience now: its contacts not opted out. tags is the
 * stored JSON array. Returns DB_OK with *n set, or the database's error. */
static enum db_rc
audience_count(struct req *r, const char *tags, bool match_all, long long *n)
{
	struct json_object *arr = json_tokener_parse(tags);
	struct db_arg a[3];
	struct db_res res;
	enum db_rc rc;
	size_t len;

	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		return DB_ERR;		/* only Wazera writes the column */
	}
	len = json_object_array_length(arr);
	if (len == 0) {
		a[0] = DBA_INT(r->tenant_id);
		rc = db_query_one(r->db, &r->pool, SQL_AUDIENCE_EVERYONE, a, 1,
		    &res);
	} else if (len == 1) {
		a[0] = DBA_INT(r->tenant_id);
		a[1] = DBA_STR(json_object_get_string(
		    json_object_array_get_idx(arr, 0)));
		rc = db_query_one(r->db, &r->pool, SQL_AUDIENCE_TAG, a, 2, &res);
	} else {
		a[0] = DBA_STR(tags);
		a[1] = DBA_INT(r->tenant_id);
		a[2] = DBA_INT(len);
		rc = db_query_one(r->db, &r->pool, match_all ? SQL_AUDIENCE_ALL :
		    SQL_AUDIENCE_ANY, a, match_all ? 3 : 2, &res);
	}
	if (rc == DB_OK)
		*n = db_int(&res, 0, 0);
	json_object_put(arr);
	return rc;
}

/* Row i of res (SEG_* columns) as the API shows it, with its count; NULL
 * with *rc set on the database's error. */
static struct json_object *
segment_json(struct req *r, const struct db_res *res, size_t i,
    enum db_rc *rc)
{
	struct json_object *o, *filter, *tags;
	bool all = db_int(res, i, SEG_MATCH_ALL) != 0;
	long long n = 0;

	if ((*rc = audience_count(r, db_str(res, i, SEG_TAGS), all, &n)) !=
	    DB_OK)
		return NULL;
	if ((tags = json_tokener_parse(db_str(res, i, SEG_TAGS))) == NULL)
		tags = json_object_new_array();
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(db_int(res, i,
	    SEG_ID)));
	json_object_object_add(o, "name", json_object_new_string(db_str(res, i,
	    SEG_NAME)));
	filter = json_object_new_object();
	json_object_object_add(filter, "tags", tags);
	json_object_object_add(filter, "match", json_object_new_string(all ?
	    "all" : "any"));
	json_object_object_add(o, "filter", filter);
	json_object_object_add(o, "contact_count", json_object_new_int64(n));
	json_object_object_add(o, "created_at", json_object_new_string(
	    db_str(res, i, SEG_CREATED)));
	json_object_object_add(o, "updated_at", json_object_new_string(
	    db_str(res, i, SEG_UPDATED)));
	return o;
}

/* Replies with the tenant's segment id (status on success). */
static void
reply_segment(struct req *r, int64_t id, int status)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(id) };
	struct json_object *o;
	struct db_res res;
	enum db_rc rc;

	rc = db_query_one(r->db, &r->pool, SQL_SEGMENT_GET, a, 2, &res);
	if (rc == DB_NOROW) {
		reply_error(r, ERR_NOT_FOUND, "Segment not found.", NULL);
		return;
	}
	if (rc != DB_OK || (o = segment_json(r, &res, 0, &rc)) == NULL) {
		reply_db(r, rc);
		return;
	}
	reply_data(r, status, o);
}

void
segment_list(struct req *r)
{
	reply_tenant_page(r, SQL_SEGMENT_LIST, SQL_SEGMENT_COUNT, segment_json);
}

void
segment_get(struct req *r)
{
	reply_segment(r, r->ids[0], 200);
}

void
segment_create(struct req *r)
{
	struct segment s;
	struct db_arg a[4];
	uint64_t id = 0;
	enum db_rc rc;

	if (segment_parse(r, false, &s) == -1)
		return;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_STR(s.name);
	a[2] = DBA_STR(s.tags);
	a[3] = DBA_INT(s.match_all == 1);
	if ((rc = db_exec(r->db, SQL_SEGMENT_CREATE, a, 4, NULL, &id)) !=
	    DB_OK) {
		reply_db(r, rc);
		return;
	}
	reply_segment(r, (int64_t)id, 201);
}

/* A change of the filter waits for no campaign but one taking its
 * snapshot now: its audience must come from one filter (409 until the
 * snapshot is taken). A scheduled campaign takes the filter it finds when
 * it starts. */
void
segment_update(struct req *r)
{
	struct segment s;
	struct db_arg a[5];
	struct db_res res;
	uint64_t n = 0;
	enum db_rc rc;

	if (segment_parse(r, true, &s) == -1)
		return;
	if (s.name == NULL && s.tags == NULL) {
		reply_segment(r, r->ids[0], 200);	/* nothing to change */
		return;
	}
	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_SEGMENT_LOCK, "Segment", &res) == -1) {
		db_rollback(r->db);
		return;
	}
	a[0] = DBA_INT(r->ids[0]);
	if (s.tags != NULL) {
		if ((rc = db_query_one(r->db, &r->pool, SQL_SEGMENT_SNAPSHOTTING,
		    a, 1, &res)) != DB_OK)
			goto fail;
		if (db_int(&res, 0, 0) > 0) {
			db_rollback(r->db);
			reply_error(r, ERR_CONFLICT, "A running campaign is taking "
			    "its audience from this segment's filter now; change "
			    "the filter once its snapshot is taken.", NULL);
			return;
		}
	}
	a[0] = DBA_STR(s.name);
	a[1] = DBA_STR(s.tags);
	a[2] = s.match_all == -1 ? DBA_NULL : DBA_INT(s.match_all);
	a[3] = DBA_INT(r->tenant_id);
	a[4] = DBA_INT(r->ids[0]);
	if ((rc = db_exec(r->db, SQL_SEGMENT_UPDATE, a, 5, &n, NULL)) !=
	    DB_OK || (rc = db_commit(r->db)) != DB_OK)
		goto fail;
	reply_segment(r, r->ids[0], 200);
	return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_NOROW ? DB_ERR : rc);
}

/* A segment a scheduled or running campaign needs stays: the campaign
 * reads its filter when it starts and while it snapshots. */
void
segment_delete(struct req *r)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	struct json_object *o;
	struct db_res res;
	enum db_rc rc;

	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	if (req_load_own(r, SQL_SEGMENT_LOCK, "Segment", &res) == -1) {
		db_rollback(r->db);
		return;
	}
	if ((rc = db_query_one(r->db, &r->pool, SQL_SEGMENT_IN_USE, a + 1, 1,
	    &res)) != DB_OK)
		goto fail;
	if (db_int(&res, 0, 0) > 0) {
		db_rollback(r->db);
		reply_error(r, ERR_CONFLICT, "The segment is used by a scheduled "
		    "or running campaign; cancel the campaign or wait until it "
		    "finishes.", NULL);
		return;
	}
	if ((rc = db_exec(r->db, SQL_SEGMENT_DELETE, a, 2, NULL, NULL)) !=
	    DB_OK || (rc = db_commit(r->db)) != DB_OK)
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
