#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "log.h"
#include "request.h"
#include "xmalloc.h"

static const struct {
	const char	*name;
	int		 status;
} errs[ERR__MAX] = {
	[ERR_BAD_REQUEST] =		{ "BAD_REQUEST", 400 },
	[ERR_AUTHENTICATION] =		{ "AUTHENTICATION_ERROR", 401 },
	[ERR_KEY_REVOKED] =		{ "KEY_REVOKED", 401 },
	[ERR_INSUFFICIENT_PERMISSIONS] = { "INSUFFICIENT_PERMISSIONS", 403 },
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
req_header(struct req *r, const char *name, const char *fmt, ...)
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
		req_header(r, "Retry-After", "5");
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The request took too "
		    "long and was stopped; narrow it (a longer search term, a "
		    "filter) or try again later.", NULL);
		return;
	}
	if (rc == DB_DOWN) {
		log_warnx("request %s: database unavailable: %s", r->id,
		    db_errmsg(r->db));
		req_header(r, "Retry-After", "5");
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

const char *
req_finish_body(struct req *r)
{
	if (r->out_text == NULL)
		r->out_text = req_json_text(r, r->out);
	return r->out_text;
}

int
req_parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
req_paging(struct req *r, long long *page, long long *per_page)
{
	const char *p = query_get(&r->query, "page");
	const char *pp = query_get(&r->query, "per_page");
	struct verrs v;

	verrs_init(&v);
	*page = 1;
	*per_page = 25;
	if (p != NULL && req_parse_int(p, 1, 1000000000, page) == -1)
		verr_add(&v, "page", "The page field must be an integer of at "
		    "least 1.");
	if (pp != NULL && req_parse_int(pp, 1, 100, per_page) == -1)
		verr_add(&v, "per_page", "The per page field must be an integer "
		    "between 1 and 100.");
	if (v.n > 0) {
		reply_invalid(r, &v);
		return -1;
	}
	return 0;
}

void
reply_tenant_page(struct req *r, enum sql list, enum sql count,
    struct json_object *(*item)(const struct db_res *, size_t))
{
	struct json_object *items;
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
	for (i = 0; i < res.nrows; i++)
		json_object_array_add(items, item(&res, i));
	reply_list(r, items, page, per_page, total);
}

int
req_page_total(struct req *r, const struct db_res *res, long long page,
    long long per_page, enum sql stmt, const struct db_arg *a, size_t n,
    long long *total)
{
	struct db_res cnt;
	enum db_rc rc;

	if (page == 1 && (long long)res->nrows < per_page) {
		*total = (long long)res->nrows;	/* the count is in hand */
		return 0;
	}
	if ((rc = db_query(r->db, &r->pool, stmt, a, n, &cnt)) != DB_OK) {
		reply_db(r, rc);
		return -1;
	}
	*total = db_int(&cnt, 0, 0);	/* no row: 0 */
	return 0;
}

struct json_object *
json_str_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

const char *
req_json_text(struct req *r, struct json_object *o)
{
	return pool_strdup(&r->pool, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void
trigram_add(const char *t, size_t len, void *arg)
{
	json_object_array_add(arg, json_object_new_string_len(t, (int)len));
}

const char *
req_trigrams(struct req *r, const char *const *texts, size_t n)
{
	struct json_object *arr = json_object_new_array();
	const char *out;
	size_t i;

	for (i = 0; i < n; i++)
		if (texts[i] != NULL)
			trigrams(texts[i], strlen(texts[i]), trigram_add, arr);
	out = req_json_text(r, arr);
	json_object_put(arr);
	return out;
}

int
req_load_own(struct req *r, enum sql stmt, const char *what,
    struct db_res *res)
{
	struct db_arg a[2] = { DBA_INT(r->tenant_id), DBA_INT(r->ids[0]) };
	enum db_rc rc;

	rc = db_query_one(r->db, &r->pool, stmt, a, 2, res);
	if (rc == DB_NOROW) {
		reply_error(r, ERR_NOT_FOUND, pool_printf(&r->pool,
		    "%s not found.", what), NULL);
		return -1;
	}
	if (rc != DB_OK) {
		reply_db(r, rc);
		return -1;
	}
	return 0;
}

void
req_params(struct req *r, char **envp)
{
	const char *uri, *q;

	r->method = FCGX_GetParam("REQUEST_METHOD", envp);
	if (r->method == NULL)
		r->method = "GET";
	uri = FCGX_GetParam("REQUEST_URI", envp);
	if (uri == NULL || *uri == '\0') {
		const char *sn = FCGX_GetParam("SCRIPT_NAME", envp);
		const char *pi = FCGX_GetParam("PATH_INFO", envp);
		uri = pool_printf(&r->pool, "%s%s", sn ? sn : "", pi ? pi : "");
	}
	q = strchr(uri, '?');
	r->path = pool_strndup(&r->pool, uri, q ? (size_t)(q - uri) :
	    strlen(uri));
	r->authorization = FCGX_GetParam("HTTP_AUTHORIZATION", envp);
	r->x_api_key = FCGX_GetParam("HTTP_X_API_KEY", envp);
	r->idempotency_key = FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", envp);
	r->hub_signature = FCGX_GetParam("HTTP_X_HUB_SIGNATURE_256", envp);
}

void
req_read_body(struct req *r, const char *cl, int (*get)(char *, int, void *),
    void *arg)
{
	long long want;
	char *buf;
	size_t len = 0, cap;
	int n;

	r->body = "";
	r->bodylen = 0;
	if (cl != NULL && *cl != '\0') {
		if ((want = strtoll(cl, NULL, 10)) <= 0)
			return;
		if (want > BODY_MAX_WEBHOOK) {
			r->body = NULL;
			r->bodylen = (size_t)want;
			return;
		}
		buf = pool_alloc(&r->pool, (size_t)want + 1);
		n = get(buf, (int)want, arg);
		buf[n > 0 ? n : 0] = '\0';
		r->body = buf;
		r->bodylen = n > 0 ? (size_t)n : 0;
		return;
	}
	/* No length (a chunked body some servers pass on as is): read to the
	 * end, one byte past the limit at most. */
	if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
		return;
	cap = 16384;
	buf = xmalloc(cap);
	while ((n = get(buf + len, (int)(cap - len), arg)) > 0) {
		len += (size_t)n;
		if (len > BODY_MAX_WEBHOOK)
			break;
		if (len == cap) {
			cap = cap * 2 > BODY_MAX_WEBHOOK + 1 ? BODY_MAX_WEBHOOK + 1 :
			    cap * 2;
			buf = xreallocarray(buf, 1, cap);
		}
	}
	if (len > BODY_MAX_WEBHOOK) {
		r->body = NULL;
		r->bodylen = len;
	} else if (len > 0) {
		r->body = pool_strndup(&r->pool, buf, len);
		r->bodylen = len;
	}
	free(buf);
}

int
req_decode_url(struct req *r, const char *qs)
{
	char *path = (char *)r->path;	/* req_params' copy, in the pool */
	long plen;

	plen = url_decode(path, strlen(path), false);
	if (plen < 0 || memchr(path, '\0', (size_t)plen) != NULL ||
	    !utf8_valid(path, (size_t)plen) || query_parse(&r->pool, qs,
	    &r->query) == -1) {
		reply_error(r, ERR_BAD_REQUEST, "The URL is malformed or not "
		    "valid UTF-8.", NULL);
		return -1;
	}
	return 0;
}
