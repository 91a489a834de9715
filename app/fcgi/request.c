/* Reading the request: its FastCGI params, body and URL, the values of its
 * query string (numbers, paging), and the tenant's row it names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "jsonbody.h"
#include "request.h"
#include "xmalloc.h"

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
	r->envp = envp;
}

const char *
req_param(const struct req *r, const char *name)
{
	return r->envp != NULL ? FCGX_GetParam(name, r->envp) : NULL;
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
req_reply_own(struct req *r, enum sql stmt, const char *what)
{
	struct db_res res;

	if (req_load_own(r, stmt, what, &res) == 0)
		reply_data(r, 200, jsonbody_raw(db_str(&res, 0, 0)));
}

const char *
req_json_text(struct req *r, struct json_object *o)
{
	return pool_strdup(&r->pool, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}
