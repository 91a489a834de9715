#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "metahook.h"
#include "pool.h"
#include "text.h"
#include "validate.h"

static const char *
str_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *
arr_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

/* "wz:<id>" as the spooler sets it; anything else is someone else's. */
static uint64_t
callback_id(const char *s)
{
	char *end;
	unsigned long long v;

	if (s == NULL || strncmp(s, "wz:", 3) != 0 || s[3] < '1' || s[3] > '9')
		return 0;
	v = strtoull(s + 3, &end, 10);
	return *end == '\0' ? v : 0;
}

/* A copy of s in pool, cut after max code points; NULL stays NULL. */
static const char *
capped(struct pool *pool, const char *s, size_t max)
{
	char *c;

	if (s == NULL)
		return NULL;
	c = pool_strdup(pool, s);
	utf8_truncate(c, max);
	return c;
}

static bool
status_known(const char *s)
{
	static const char *const known[] = { "sent", "delivered", "read",
	    "failed", "played" };
	size_t i;

	for (i = 0; s != NULL && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(s, known[i]) == 0)
			return true;
	return false;
}

static void
parse_status(struct pool *pool, struct json_object *st, const char *pnid,
    struct mh_status *out)
{
	struct json_object *errs, *e0, *v, *d;

	memset(out, 0, sizeof(*out));
	out->phone_number_id = pnid;
	out->wamid = str_at(st, "id");
	out->status = str_at(st, "status");
	out->callback_id = callback_id(str_at(st, "biz_opaque_callback_data"));
	if ((errs = arr_at(st, "errors")) != NULL &&
	    json_object_array_length(errs) > 0 &&
	    json_object_is_type(e0 = json_object_array_get_idx(errs, 0),
	    json_type_object)) {
		if (json_object_object_get_ex(e0, "code", &v))
			out->err_code = json_object_get_int(v);
		out->err_title = str_at(e0, "title");
		if (out->err_title == NULL)
			out->err_title = str_at(e0, "message");
		if (json_object_object_get_ex(e0, "error_data", &d))
			out->err_message = str_at(d, "details");
		if (out->err_message == NULL)
			out->err_message = str_at(e0, "message");
		out->err_title = capped(pool, out->err_title, MH_TITLE_MAX);
		out->err_message = capped(pool, out->err_message,
		    MH_MESSAGE_MAX);
	}
}

static const char *
profile_of(struct json_object *value, const char *wa_id)
{
	struct json_object *cs = arr_at(value, "contacts"), *c, *p;
	size_t i;

	for (i = 0; cs && i < json_object_array_length(cs) &&
	    i < MH_PROFILES_MAX; i++) {
		c = json_object_array_get_idx(cs, i);
		if (wa_id != NULL && str_at(c, "wa_id") != NULL &&
		    strcmp(str_at(c, "wa_id"), wa_id) != 0)
			continue;
		if (json_object_object_get_ex(c, "profile", &p))
			return str_at(p, "name");
	}
	return NULL;
}

static void
parse_message(struct json_object *m, const char *pnid,
    struct mh_message *out)
{
	struct json_object *t;
	const char *ts;

	memset(out, 0, sizeof(*out));
	out->phone_number_id = pnid;
	out->object = m;
	out->from = str_at(m, "from");
	out->wamid = str_at(m, "id");
	out->type = str_at(m, "type");
	if ((ts = str_at(m, "timestamp")) != NULL)
		out->timestamp = strtoll(ts, NULL, 10);
	if (json_object_object_get_ex(m, "text", &t))
		out->text = str_at(t, "body");
}

struct json_object *
metahook_content(const struct mh_message *m)
{
	struct json_object *v, *c, *out;

	out = json_object_new_object();
	if (m->type != NULL && json_object_object_get_ex(m->object, m->type,
	    &v) && json_object_is_type(v, json_type_object)) {
		/* A copy of its members: what is added below must not go into
		 * the payload's own object, nor into itself (a type named
		 * "context", "referral" or "errors" would add the object to
		 * itself: json-c refuses, and its reference leaks). */
		json_object_object_foreach(v, k, val) {
			json_object_object_add(out, k, json_object_get(val));
		}
	} else if (m->type != NULL && json_object_object_get_ex(m->object,
	    m->type, &v))
		json_object_object_add(out, m->type, json_object_get(v));
	/* unsupported messages carry their errors beside the type */
	if (json_object_object_get_ex(m->object, "errors", &v) &&
	    !json_object_object_get_ex(out, "errors", NULL))
		json_object_object_add(out, "errors", json_object_get(v));
	if (json_object_object_get_ex(m->object, "context", &c))
		json_object_object_add(out, "context", json_object_get(c));
	if (json_object_object_get_ex(m->object, "referral", &c))
		json_object_object_add(out, "referral", json_object_get(c));
	return out;
}

int
metahook_parse(struct pool *pool, struct json_object *root, struct mh_batch *b)
{
	struct json_object *entries, *changes, *value, *meta, *sts, *msgs;
	const char *obj = str_at(root, "object"), *pnid;
	size_t i, j, k, cap = 0, mcap = 0;

	memset(b, 0, sizeof(*b));
	if (obj == NULL || strcmp(obj, "whatsapp_business_account") != 0 ||
	    (entries = arr_at(root, "entry")) == NULL)
		return -1;
	/* Count first, to allocate once. */
	for (i = 0; i < json_object_array_length(entries); i++) {
		changes = arr_at(json_object_array_get_idx(entries, i), "changes");
		for (j = 0; changes && j < json_object_array_length(changes); j++) {
			if (!json_object_object_get_ex(json_object_array_get_idx(
			    changes, j), "value", &value))
				continue;
			if ((sts = arr_at(value, "statuses")) != NULL)
				cap += json_object_array_length(sts);
			if ((msgs = arr_at(value, "messages")) != NULL)
				mcap += json_object_array_length(msgs);
		}
	}
	if (cap > MH_ITEMS_MAX) {
		b->nover += cap - MH_ITEMS_MAX;
		cap = MH_ITEMS_MAX;
	}
	if (mcap > MH_ITEMS_MAX) {
		b->nover += mcap - MH_ITEMS_MAX;
		mcap = MH_ITEMS_MAX;
	}
	b->statuses = pool_calloc(pool, cap + 1, sizeof(*b->statuses));
	b->messages = pool_calloc(pool, mcap + 1, sizeof(*b->messages));
	for (i = 0; i < json_object_array_length(entries); i++) {
		changes = arr_at(json_object_array_get_idx(entries, i), "changes");
		for (j = 0; changes && j < json_object_array_length(changes); j++) {
			if (!json_object_object_get_ex(json_object_array_get_idx(
			    changes, j), "value", &value) ||
			    !json_object_is_type(value, json_type_object))
				continue;
			pnid = NULL;
			if (json_object_object_get_ex(value, "metadata", &meta))
				pnid = str_at(meta, "phone_number_id");
			msgs = arr_at(value, "messages");
			for (k = 0; msgs && k < json_object_array_length(msgs) &&
			    b->nmessages < mcap; k++) {
				struct json_object *m = json_object_array_get_idx(
				    msgs, k);
				struct mh_message *mm = &b->messages[b->nmessages];
				if (!json_object_is_type(m, json_type_object))
					continue;
				parse_message(m, pnid, mm);
				if (wamid_valid(mm->wamid) && mm->from != NULL &&
				    mm->type != NULL) {
					mm->profile_name = profile_of(value,
					    mm->from);
					b->nmessages++;
				} else
					b->nskipped++;
			}
			if ((sts = arr_at(value, "statuses")) == NULL)
				continue;
			for (k = 0; k < json_object_array_length(sts) &&
			    b->nstatuses < cap; k++) {
				struct json_object *st = json_object_array_get_idx(
				    sts, k);
				if (!json_object_is_type(st, json_type_object))
					continue;
				parse_status(pool, st, pnid,
				    &b->statuses[b->nstatuses]);
				if (wamid_valid(b->statuses[b->nstatuses].wamid) &&
				    status_known(b->statuses[b->nstatuses].status))
					b->nstatuses++;
				else
					b->nskipped++;
			}
		}
	}
	return 0;
}

enum jsonbody_rc
metahook_scan(const char *body, size_t len, struct mh_pnids *out)
{
	static const char *const path[] = { "entry", "*", "changes", "*",
	    "value", "metadata", "phone_number_id" };
	struct jsonbody_strs strs = { path, sizeof(path) / sizeof(path[0]),
	    out->id, MH_PNIDS_MAX, 0, 0 };
	enum jsonbody_rc rc;

	rc = jsonbody_check(body, len, &strs, NULL, 0);
	out->n = strs.n;
	out->dropped = strs.dropped;
	return rc;
}

const char *
metahook_signature_hex(const char *h)
{
	if (h == NULL || strncasecmp(h, "sha256=", 7) != 0 || strlen(h) != 71)
		return NULL;
	return h + 7;
}
