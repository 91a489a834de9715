#ifndef WZ_IDEMPOTENCY_H
#define WZ_IDEMPOTENCY_H

struct req;

/* Runs handler under the request's Idempotency-Key: the first request with
 * a key runs in one transaction with the record of its answer; a repeat
 * with the same method, path and body replays that answer; a repeat with
 * another body is a 409. Keys last 24 hours per tenant. */
void	idempotent_run(struct req *, void (*handler)(struct req *));

#endif
