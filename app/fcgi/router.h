/* The one ordered chain every request goes through: size limit, route and
 * method, authentication, scope, rate limit, body parsing, idempotency,
 * handler. */
#ifndef WZ_ROUTER_H
#define WZ_ROUTER_H

struct req;

/* Fills in req's answer. The request fields (method, path, query, body,
 * headers) must be set; body may be NULL with bodylen > BODY_MAX to say
 * the body was too large to read. */
void	router_dispatch(struct req *);

#endif
