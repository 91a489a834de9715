#ifndef WZ_AUTH_H
#define WZ_AUTH_H
#include <stddef.h>
#include <stdint.h>

struct req;

/* The key from "Authorization: Bearer <key>", else "X-API-Key": a pointer
 * into that header, its length without trailing blanks in *len; NULL when
 * there is none. */
const char *auth_key(const struct req *, size_t *len);

/* Authenticates the request's key and counts it against the key's rate
 * limit, in one database round trip; without a key, its dashboard session
 * (session.h) against its user's. Returns 0 with req->tenant_id, key_id
 * or session, scopes and the rate-limit figures set, or -1 after replying
 * 401, 500 or 503. */
int	auth_request(struct req *);
/* The request's rate-limit figures (the X-RateLimit-* headers and the
 * router's 429): its limit per minute and the window's count, this
 * request included. */
void	auth_rate(struct req *, long long limit, uint64_t hits);

#endif
