/* The one ordered chain every request goes through: size limit, route and
 * method, authentication, scope, rate limit, body parsing, idempotency,
 * handler. */
#ifndef WZ_ROUTER_H
#define WZ_ROUTER_H
#include <stddef.h>

#include "scopes.h"

struct req;

/* Who may call a route. */
enum route_access {
	ROUTE_SCOPED,		/* an API key with the route's scope, or one
				   without scope restrictions; a session whose
				   role has the scope */
	ROUTE_UNRESTRICTED,	/* an API key without scope restrictions, or
				   an admin's session */
	ROUTE_PUBLIC,		/* anyone: Meta calls these, authenticated by
				   the verify token or the payload's signature
				   in the handler; not rate limited */
	ROUTE_SIGNIN,		/* anyone, with a JSON body: POST /auth/login,
				   throttled by its handler */
	ROUTE_SESSION,		/* a dashboard session only (SPEC 10) */
};

struct route {
	const char		*method;
	const char		*pattern;
	enum scope		 scope;		/* with ROUTE_SCOPED */
	void			(*handler)(struct req *);
	size_t			 body_max;	/* 0: BODY_MAX */
	enum route_access	 access;
};

/* Fills in req's answer. The request fields (method, path, query, body,
 * headers) must be set; body may be NULL with bodylen > BODY_MAX to say
 * the body was too large to read. */
void	router_dispatch(struct req *);
/* router_dispatch's steps before authentication, which need no database:
 * the body's size (413 when it was not read), the API prefix, the route
 * and method (404, 405 with Allow), the route's body limit (413). Returns
 * the route, with req->path below the prefix and req->ids set from it, or
 * NULL after replying. */
const struct route *router_match(struct req *);

#endif
