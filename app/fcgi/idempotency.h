#ifndef WZ_IDEMPOTENCY_H
#define WZ_IDEMPOTENCY_H
#include <stdbool.h>

struct req;

/* An Idempotency-Key as taken: 1 to 255 printable ASCII characters. */
bool	idempotency_key_valid(const char *);

/* Runs the route's handler (req->handler) under the request's
 * Idempotency-Key: the first request with a key runs in one transaction
 * with the record of its answer; a repeat with the same method, path and
 * body replays that answer; a repeat with another body is a 409. Keys last
 * 24 hours per tenant. One attempt: a deadlock or a lost connection
 * anywhere in it sets req->retry, and the router's retry loop runs the
 * whole of it again. */
void	idempotent_run(struct req *);

#endif
