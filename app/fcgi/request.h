/* One request: what it asked, who asked, and the answer being built. Every
 * allocation hangs off req->pool and is released after the response. */
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

struct config;
struct json_object;

#define BODY_MAX	(1024 * 1024)		/* API routes */
#define BODY_MAX_WEBHOOK (3 * 1024 * 1024)	/* Meta's largest batch */

enum err_code {
	ERR_BAD_REQUEST,
	ERR_AUTHENTICATION,
	ERR_KEY_REVOKED,
	ERR_INSUFFICIENT_PERMISSIONS,
	ERR_NOT_FOUND,
	ERR_METHOD_NOT_ALLOWED,
	ERR_CONFLICT,
	ERR_PAYLOAD_TOO_LARGE,
	ERR_VALIDATION,
	ERR_OUTSIDE_SERVICE_WINDOW,
	ERR_RATE_LIMIT,
	ERR_INTERNAL,
	ERR_WHATSAPP,
	ERR_SERVICE_UNAVAILABLE,
	ERR__MAX
};

struct req {
	struct pool		 pool;
	struct db		*db;
	const struct config	*cfg;
	char			 id[17];	/* request id, in logs and 500s */

	/* What was asked. */
	const char		*method;
	const char		*path;		/* below /api/v1 */
	struct query		 query;
	const char		*body;
	size_t			 bodylen;
	struct json_object	*json;		/* parsed body (owned) */
	int64_t			 ids[PATH_MAX_IDS];
	const char		*authorization;
	const char		*x_api_key;
	const char		*idempotency_key;
	const char		*hub_signature;	/* X-Hub-Signature-256 */

	/* Who asked (after authentication). */
	int64_t			 tenant_id;
	int64_t			 key_id;
	uint32_t		 scopes;
	bool			 rl_known;
	long long		 rl_limit, rl_remaining, rl_reset;

	/* The answer. */
	int			 status;
	struct json_object	*out;		/* whole response body (owned) */
	const char		*out_text;	/* serialised, set when finished */
	const char		*out_type;	/* Content-Type if not JSON */
	char			*headers;	/* extra header lines (pool) */
	bool			 retry;		/* run the handler again */
	void			(*handler)(struct req *); /* the route's */
};

/* The request as the FastCGI params (envp) give it: method (GET when
 * absent), path (REQUEST_URI up to the query, else SCRIPT_NAME and
 * PATH_INFO; still URL-encoded, a copy in the pool), Authorization,
 * X-API-Key, Idempotency-Key and X-Hub-Signature-256. */
void	 req_params(struct req *, char **envp);
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
void	 req_header(struct req *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Replies: each replaces any answer set before. They take ownership of
 * the json objects passed in. */
void	 reply_data(struct req *, int status, struct json_object *data);
void	 reply_list(struct req *, struct json_object *items, long long page,
	    long long per_page, long long total);
void	 reply_error(struct req *, enum err_code, const char *message,
	    struct json_object *details);
/* 422 with the recorded field errors; frees them. */
void	 reply_invalid(struct req *, struct verrs *);
/* 422 for one field. */
void	 reply_invalid_field(struct req *, const char *field, const char *msg);
/* Maps a database outcome that the handler did not expect: DB_RETRY asks
 * the router to run the handler again, DB_DOWN and DB_SLOW (the statement
 * time limit) are a 503, the rest a 500. */
void	 reply_db(struct req *, enum db_rc);
/* A plain-text answer (Meta's subscription check). */
void	 reply_text(struct req *, int status, const char *text);
/* Serialises req->out into req->out_text. */
const char *req_finish_body(struct req *);
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
/* The tenant's rows of a list, one page of them: list takes (tenant,
 * limit, offset) and count takes (tenant); item turns a row into JSON. */
void	 reply_tenant_page(struct req *, enum sql list, enum sql count,
	    struct json_object *(*item)(const struct db_res *, size_t));
/* Reads the tenant's row r->ids[0] with stmt, which takes (tenant, id).
 * Returns 0, or -1 after replying 404 "<what> not found." or the
 * database's error. */
int	 req_load_own(struct req *, enum sql stmt, const char *what,
	    struct db_res *);
/* A JSON string, or JSON null for NULL (a column that is NULL). */
struct json_object *json_str_or_null(const char *);
/* o as compact JSON text (no escaped slashes) in the request's pool: for
 * a statement's argument. */
const char	*req_json_text(struct req *, struct json_object *o);
/* The JSON array text of the trigrams of the n texts (NULLs skipped), for
 * the search index; repeats are left in (its inserts ignore them). */
const char	*req_trigrams(struct req *, const char *const *texts, size_t n);

#endif
