#ifndef WZ_AUTH_H
#define WZ_AUTH_H

struct req;

/* Authenticates the request's key and counts it against the key's rate
 * limit, in one database round trip. Returns 0 with req->tenant_id,
 * key_id, scopes and the rate-limit figures set, or -1 after replying
 * 401, 429, 500 or 503. */
int	auth_request(struct req *);

#endif
