#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "metahook.h"
#include "pool.h"

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
	}
	(void)pool;
}

int
metahook_parse(struct pool *pool, struct json_object *root, struct mh_batch *b)
{
	struct json_object *entries, *changes, *value, *meta, *sts;
	const char *obj = str_at(root, "object"), *pnid;
	size_t i, j, k, cap = 0;

	memset(b, 0, sizeof(*b));
	if (obj == NULL || strcmp(obj, "whatsapp_business_account") != 0 ||
	    (entries = arr_at(root, "entry")) == NULL)
		return -1;
	/* Count first, to allocate once. */
	for (i = 0; i < json_object_array_length(entries); i++) {
		changes = arr_at(json_object_array_get_idx(entries, i), "changes");
		for (j = 0; changes && j < json_object_array_length(changes); j++)
			if (json_object_object_get_ex(json_object_array_get_idx(
			    changes, j), "value", &value) &&
			    (sts = arr_at(value, "statuses")) != NULL)
				cap += json_object_array_length(sts);
	}
	b->statuses = pool_calloc(pool, cap + 1, sizeof(*b->statuses));
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
			if (pnid != NULL && b->first_phone_number_id == NULL)
				b->first_phone_number_id = pnid;
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
				if (b->statuses[b->nstatuses].wamid != NULL &&
				    b->statuses[b->nstatuses].status != NULL)
					b->nstatuses++;
			}
		}
	}
	return 0;
}

const char *
metahook_signature_hex(const char *h)
{
	if (h == NULL || strncasecmp(h, "sha256=", 7) != 0 || strlen(h) != 71)
		return NULL;
	return h + 7;
}
