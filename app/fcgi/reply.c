/* The answer: the error codes and their statuses, the JSON envelopes
 * (data, a page of a list, an error), extra header lines, and the body as
 * text once the handler is done. */
#include <stdarg.h>
#include <stdio.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "log.h"
#include "request.h"

static const struct {
	const char	*name;
	int		 status;
} errs[ERR__MAX] = {
	[ERR_BAD_REQUEST] =		{ "BAD_REQUEST", 400 },
	[ERR_AUTHENTICATION] =		{ "AUTHENTICATION_ERROR", 401 },
	[ERR_KEY_REVOKED] =		{ "KEY_REVOKED", 401 },
	[ERR_INSUFFICIENT_PERMISSIONS] = { "INSUFFICIENT_PERMISSIONS", 403 },
	[ERR_CSRF] =			{ "CSRF_TOKEN_INVALID", 403 },
	[ERR_NOT_FOUND] =		{ "RESOURCE_NOT_FOUND", 404 },
	[ERR_METHOD_NOT_ALLOWED] =	{ "METHOD_NOT_ALLOWED", 405 },
	[ERR_CONFLICT] =		{ "CONFLICT", 409 },
	[ERR_PAYLOAD_TOO_LARGE] =	{ "PAYLOAD_TOO_LARGE", 413 },
	[ERR_VALIDATION] =		{ "VALIDATION_ERROR", 422 },
	[ERR_OUTSIDE_SERVICE_WINDOW] =	{ "OUTSIDE_SERVICE_WINDOW", 422 },
	[ERR_RATE_LIMIT] =		{ "RATE_LIMIT_EXCEEDED", 429 },
	[ERR_INTERNAL] =		{ "INTERNAL_ERROR", 500 },
	[ERR_WHATSAPP] =		{ "WHATSAPP_ERROR", 502 },
	[ERR_SERVICE_UNAVAILABLE] =	{ "SERVICE_UNAVAILABLE", 503 },
};

void
reply_header(struct req *r, const char *name, const char *fmt, ...)
{
	char val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	r->headers = pool_printf(&r->pool, "%s%s: %s\r\n",
	    r->headers ? r->headers : "", name, val);
}

static void
set_out(struct req *r, int status, struct json_object *out)
{
	json_object_put(r->out);
	r->out = out;
	r->status = status;
	r->out_text = NULL;
}

void
reply_data(struct req *r, int status, struct json_object *data)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "data", data);
	set_out(r, status, o);
}

void
reply_list(struct req *r, struct json_object *items, long long page,
    long long per_page, long long total)
{
	struct json_object *o = json_object_new_object(), *m;
	long long last = total <= 0 ? 1 : (total + per_page - 1) / per_page;

	m = json_object_new_object();
	json_object_object_add(m, "current_page", json_object_new_int64(page));
	json_object_object_add(m, "per_page", json_object_new_int64(per_page));
	json_object_object_add(m, "total", json_object_new_int64(total));
	json_object_object_add(m, "last_page", json_object_new_int64(last));
	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "data", items);
	json_object_object_add(o, "meta", m);
	set_out(r, 200, o);
}

void
reply_list_json(struct req *r, const struct db_res *res, long long page,
    long long per_page, long long total)
{
	struct json_object *items = json_object_new_array();
	size_t i;

	for (i = 0; i < res->nrows; i++)
		json_object_array_add(items, jsonbody_raw(db_str(res, i, 0)));
	reply_list(r, items, page, per_page, total);
}

void
reply_error(struct req *r, enum err_code code, const char *message,
    struct json_object *details)
{
	struct json_object *o = json_object_new_object(), *e;

	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(errs[code].name));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "details",
	    details ? details : json_object_new_object());
	json_object_object_add(o, "success", json_object_new_boolean(0));
	json_object_object_add(o, "error", e);
	set_out(r, errs[code].status, o);
}

void
reply_invalid(struct req *r, struct verrs *v)
{
	struct json_object *d = v->details;
	const char *msg = "The given data was invalid.";

	/* The first message doubles as the summary, as the seed shows. */
	json_object_object_foreach(d, k, list) {
		(void)k;
		msg = pool_strdup(&r->pool, json_object_get_string(
		    json_object_array_get_idx(list, 0)));
		break;
	}
	v->details = NULL;
	v->n = 0;
	reply_error(r, ERR_VALIDATION, msg, d);
}

void
reply_invalid_field(struct req *r, const char *field, const char *msg)
{
	struct verrs v;

	verrs_init(&v);
	verr_add(&v, field, "%s", msg);
	reply_invalid(r, &v);
}

void
reply_db(struct req *r, enum db_rc rc)
{
	struct json_object *d;

	if (rc == DB_RETRY) {
		r->retry = true;
		return;
	}
	if (rc == DB_SLOW) {
		/* database.statement_timeout stopped it: one request may not
		 * hold the database. */
		log_warnx("request %s: %s %s: stopped after the statement time "
		    "limit: %s", r->id, r->method, r->path, db_errmsg(r->db));
		reply_header(r, "Retry-After", "5");
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The request took too "
		    "long and was stopped; narrow it (a longer search term, a "
		    "filter) or try again later.", NULL);
		return;
	}
	if (rc == DB_DOWN) {
		log_warnx("request %s: database unavailable: %s", r->id,
		    db_errmsg(r->db));
		reply_header(r, "Retry-After", "5");
		reply_error(r, ERR_SERVICE_UNAVAILABLE,
		    "The service is temporarily unavailable.", NULL);
		return;
	}
	log_warnx("request %s: %s %s: database error %s", r->id, r->method,
	    r->path, db_errmsg(r->db));
	d = json_object_new_object();
	json_object_object_add(d, "request_id", json_object_new_string(r->id));
	reply_error(r, ERR_INTERNAL, "An internal error occurred.", d);
}

void
reply_text(struct req *r, int status, const char *text)
{
	json_object_put(r->out);
	r->out = NULL;
	r->status = status;
	r->out_text = pool_strdup(&r->pool, text);
	r->out_type = "text/plain; charset=utf-8";
}

void
reply_tenant_page(struct req *r, enum sql list, enum sql count,
    page_item item)
{
	struct json_object *items, *o;
	struct db_res res;
	struct db_arg a[3];
	long long page, per_page, total;
	enum db_rc rc;
	size_t i;

	if (req_paging(r, &page, &per_page) == -1)
		return;
	a[0] = DBA_INT(r->tenant_id);
	a[1] = DBA_INT(per_page);
	a[2] = DBA_INT((page - 1) * per_page);
	if ((rc = db_query(r->db, &r->pool, list, a, 3, &res)) != DB_OK) {
		reply_db(r, rc);
		return;
	}
	if (req_page_total(r, &res, page, per_page, count, a, 1, &total) == -1)
		return;
	items = json_object_new_array();
	for (i = 0; i < res.nrows; i++) {
		if ((o = item(r, &res, i, &rc)) == NULL) {
			json_object_put(items);
			reply_db(r, rc);
			return;
		}
		json_object_array_add(items, o);
	}
	reply_list(r, items, page, per_page, total);
}

const char *
reply_finish(struct req *r)
{
	if (r->out_text == NULL)
		r->out_text = req_json_text(r, r->out);
	return r->out_text;
}

struct json_object *
json_str_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}
