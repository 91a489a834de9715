/* libFuzzer target: a request as the web server hands it over, up to where
 * the database is needed: the FastCGI params (req_params: method, URI or
 * SCRIPT_NAME and PATH_INFO, the headers the API reads), the body as
 * CONTENT_LENGTH says (req_read_body), the URL's decoding and query
 * (req_decode_url), then route and method (router_match); the API key's
 * header (auth_key) and the Idempotency-Key's check.
 *
 * Input: NAME=VALUE params separated by NUL bytes, up to two NULs in a
 * row; what follows is the body stream.
 *
 * Invariants: the key is a part of the header it came from, without
 * trailing blanks; an Idempotency-Key taken is 1-255 printable ASCII
 * characters. The body is never longer than what was sent, nor than
 * CONTENT_LENGTH, nor than the largest body any route takes, and is
 * NUL-terminated; a body that was not kept is past that limit. A decoded
 * path is valid UTF-8 without NULs. A route found has the request's
 * method, matches the path left below /api/v1, takes the body's size, and
 * every id it read is a positive number written in the path; no answer is
 * set yet. No route means an answer: 404, 405 (with Allow) or 413. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "auth.h"
#include "crypto.h"
#include "idempotency.h"
#include "request.h"
#include "router.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PARAMS_MAX	64

struct stream {
	const char	*p;
	size_t		 left;
};

static int
get(char *buf, int n, void *arg)
{
	struct stream *s = arg;
	size_t k = (size_t)n < s->left ? (size_t)n : s->left;

	memcpy(buf, s->p, k);
	s->p += k;
	s->left -= k;
	return (int)k;
}

static bool
inside(const char *p, size_t len, const char *hdr)
{
	return hdr != NULL && p >= hdr && p + len <= hdr + strlen(hdr);
}

static void
check_headers(const struct req *r)
{
	const char *k, *i;
	size_t len = 0;

	if ((k = auth_key(r, &len)) != NULL) {
		if ((!inside(k, len, r->authorization) &&
		    !inside(k, len, r->x_api_key)) ||
		    (len > 0 && (k[len - 1] == ' ' || k[len - 1] == '\t')))
			abort();
		(void)apikey_wellformed(k, len);
	}
	if ((i = r->idempotency_key) != NULL && idempotency_key_valid(i)) {
		if (strlen(i) < 1 || strlen(i) > 255)
			abort();
		for (; *i != '\0'; i++)
			if (*i < 0x21 || *i > 0x7e)
				abort();
	}
}

static void
check_route(struct req *r, const struct route *rt)
{
	int64_t ids[PATH_MAX_IDS];
	size_t i, nids = 0, max;
	const char *c;
	char num[24];

	if (strcmp(rt->method, r->method) != 0 ||
	    !path_match(rt->pattern, r->path, ids) ||
	    r->status != 0 || r->out != NULL)
		abort();
	max = rt->body_max ? rt->body_max : BODY_MAX;
	if (r->bodylen > max)
		abort();
	for (c = rt->pattern; (c = strchr(c, '{')) != NULL; c++)
		nids++;
	for (i = 0; i < nids; i++) {
		snprintf(num, sizeof(num), "%" PRId64, r->ids[i]);
		if (r->ids[i] <= 0 || r->ids[i] != ids[i] ||
		    strstr(r->path, num) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *envp[PARAMS_MAX + 1], *p, *end;
	const struct route *rt;
	const char *cl;
	struct stream in;
	struct req r;
	size_t n = 0, sent;

	/* The params: NUL-terminated strings up to an empty one. */
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	for (p = copy; p < end && *p != '\0' && n < PARAMS_MAX;
	    p += strlen(p) + 1)
		envp[n++] = p;
	envp[n] = NULL;
	if (p < end && *p == '\0')
		p++;
	in.p = p < end ? p : end;
	in.left = sent = (size_t)(end - in.p);

	memset(&r, 0, sizeof(r));
	pool_init(&r.pool);
	req_params(&r, envp);
	if (r.method == NULL || r.path == NULL)
		abort();
	check_headers(&r);
	cl = FCGX_GetParam("CONTENT_LENGTH", envp);
	req_read_body(&r, cl, get, &in);
	if (r.body == NULL) {
		if (r.bodylen <= BODY_MAX_WEBHOOK)
			abort();
	} else {
		if (r.bodylen > BODY_MAX_WEBHOOK || r.bodylen > sent ||
		    r.body[r.bodylen] != '\0' ||
		    memcmp(r.body, in.p - (sent - in.left), r.bodylen) != 0)
			abort();
		if (cl != NULL && *cl != '\0' &&
		    (long long)r.bodylen > strtoll(cl, NULL, 10) &&
		    r.bodylen > 0)
			abort();
	}
	if (req_decode_url(&r, FCGX_GetParam("QUERY_STRING", envp)) == 0) {
		if (!utf8_valid(r.path, strlen(r.path)))
			abort();
		if ((rt = router_match(&r)) != NULL)
			check_route(&r, rt);
		else if (r.out == NULL || (r.status != 404 && r.status != 405 &&
		    r.status != 413) || (r.status == 405 && (r.headers == NULL ||
		    strncmp(r.headers, "Allow: ", 7) != 0)))
			abort();
	} else if (r.status != 400 || r.out == NULL)
		abort();
	/* The answer must serialise (write_response's first step). */
	if (r.out != NULL && reply_finish(&r) == NULL)
		abort();
	json_object_put(r.out);
	pool_free(&r.pool);
	free(copy);
	return 0;
}
