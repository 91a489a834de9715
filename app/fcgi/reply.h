/* The answer to a request: each reply_*() sets req's status and body,
 * replacing any answer set before, and takes ownership of the json objects
 * passed in. The error codes and their statuses are the API reference's. */
#ifndef WZ_REPLY_H
#define WZ_REPLY_H
#include <stddef.h>

#include "db.h"

struct json_object;
struct req;
struct verrs;

enum err_code {
	ERR_BAD_REQUEST,
	ERR_AUTHENTICATION,
	ERR_KEY_REVOKED,
	ERR_INSUFFICIENT_PERMISSIONS,
	ERR_CSRF,
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

void	 reply_data(struct req *, int status, struct json_object *data);
void	 reply_list(struct req *, struct json_object *items, long long page,
	    long long per_page, long long total);
/* A list page whose rows' first column is each item's JSON (a shape's
 * json), passed through unparsed. */
void	 reply_list_json(struct req *, const struct db_res *, long long page,
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
/* The tenant's rows of a list, one page of them: list takes (tenant,
 * limit, offset) and count takes (tenant); item turns a row into JSON, or
 * gives NULL with the database's failure in *rc (an item that reads more
 * of the database: a segment's live count). */
typedef struct json_object *(*page_item)(struct req *, const struct db_res *,
	    size_t, enum db_rc *);
void	 reply_tenant_page(struct req *, enum sql list, enum sql count,
	    page_item item);
/* Adds a header line to the answer (kept by later replies). */
void	 reply_header(struct req *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Serialises req->out into req->out_text, once the answer is final. */
const char *reply_finish(struct req *);

/* A JSON string, or JSON null for NULL (a column that is NULL). */
struct json_object *json_str_or_null(const char *);

#endif
