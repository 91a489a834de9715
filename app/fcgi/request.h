/* One request: what it asked, who asked, and the answer being built. Every
 * allocation hangs off req->pool and is released after the response. The
 * functions here read the request (request.c); the answer is built with
 * reply.h's. */
#ifndef WZ_REQUEST_H
#define WZ_REQUEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "pool.h"
#include "query.h"
#include "text.h"
#include "validate.h"

/* What a handler uses beside the request: its answers (reply.h) and the
 * search index's trigrams (search.h). */
#include "reply.h"
#include "search.h"

struct config;
struct json_object;
struct session;

#define BODY_MAX	(1024 * 1024)		/* API routes */
#define BODY_MAX_WEBHOOK (3 * 1024 * 1024)	/* Meta's largest batch */

struct req {
	struct pool		 pool;
	struct db		*db;
	const struct config	*cfg;
	char			 id[17];	/* request id, in logs and 500s */

	/* What was asked. */
	const char		*method;
	const char		*path;		/* below /api/v1 */
	const char		*route;		/* the matched route's pattern */
	struct query		 query;
	const char		*body;
	size_t			 bodylen;
	struct json_object	*json;		/* parsed body (owned) */
	int64_t			 ids[PATH_MAX_IDS];
	const char		*authorization;
	const char		*x_api_key;
	const char		*idempotency_key;
	const char		*hub_signature;	/* X-Hub-Signature-256 */
	char			**envp;		/* every FastCGI param: read
						   where needed (req_param) */

	/* Who asked (after authentication). */
	int64_t			 tenant_id;
	int64_t			 key_id;	/* 0 for a session */
	int64_t			 user_id;	/* a session's user, else 0 */
	const struct session	*session;	/* the session, else NULL */
	uint32_t		 scopes;	/* 0: all, unrestricted */
	bool			 rl_known;
	long long		 rl_limit, rl_remaining, rl_reset;

	/* The answer. */
	int			 status;
	struct json_object	*out;		/* whole response body (owned) */
	const char		*out_text;	/* serialised, set when finished */
	const char		*out_type;	/* Content-Type if not JSON */
	char			*headers;	/* extra header lines (pool) */
	bool			 retry;		/* run the handler again */
	bool			 secret_out;	/* the answer shows a secret:
						   an Idempotency-Key record
						   keeps it sealed */
	void			(*handler)(struct req *); /* the route's */
};

/* The request as the FastCGI params (envp) give it: method (GET when
 * absent), path (REQUEST_URI up to the query, else SCRIPT_NAME and
 * PATH_INFO; still URL-encoded, a copy in the pool), Authorization,
 * X-API-Key, Idempotency-Key and X-Hub-Signature-256; envp is kept for
 * req_param. */
void	 req_params(struct req *, char **envp);
/* A FastCGI param of the request ("HTTP_COOKIE"), or NULL: for what only
 * some routes read, so the others do not look for it. */
const char *req_param(const struct req *, const char *name);
/* Reads the body with get (up to n bytes into buf; the count, 0 at the
 * end), as much as CONTENT_LENGTH (cl, may be NULL) says, or to the end
 * without one (not for GET and HEAD). A body larger than
 * BODY_MAX_WEBHOOK is not kept: body NULL, bodylen past the limit (the
 * router answers 413). */
void	 req_read_body(struct req *, const char *cl,
	    int (*get)(char *, int, void *), void *arg);
/* Decodes req_params' path in place and parses the query string (qs, may
 * be NULL). Returns 0, or -1 after replying 400 (a malformed URL, a NUL
 * or invalid UTF-8 in the path or the query). */
int	 req_decode_url(struct req *, const char *qs);
/* A decimal whole number within lo..hi (digits only, as in a query
 * string) into *out. Returns 0, or -1 if s is not one. */
int	 req_parse_int(const char *s, long long lo, long long hi,
	    long long *out);

/* Reads page and per_page from the query. Returns -1 after replying 422. */
int	 req_paging(struct req *, long long *page, long long *per_page);
/* The total of a list whose page (page, per_page) res holds: in hand when
 * the first page is not full, else counted by stmt with its n arguments a.
 * Returns 0, or -1 after replying the database's error. */
int	 req_page_total(struct req *, const struct db_res *res, long long page,
	    long long per_page, enum sql stmt, const struct db_arg *a,
	    size_t n, long long *total);
/* Reads the tenant's row r->ids[0] with stmt, which takes (tenant, id).
 * Returns 0, or -1 after replying 404 "<what> not found." or the
 * database's error. */
int	 req_load_own(struct req *, enum sql stmt, const char *what,
	    struct db_res *);
/* GET of one of the tenant's resources whose shape (SQL view) stmt reads
 * as its first column: 200 with it, or as req_load_own. */
void	 req_reply_own(struct req *, enum sql stmt, const char *what);
/* o as compact JSON text (no escaped slashes) in the request's pool: for
 * a statement's argument. */
const char	*req_json_text(struct req *, struct json_object *o);

#endif
