/* Dashboard sessions (SPEC 10): signing in and out, and a session as one
 * step of the request chain (auth.c calls session_auth when a request
 * carries no API key). */
#ifndef WZ_SESSION_H
#define WZ_SESSION_H
#include <stdbool.h>
#include <stdint.h>

struct req;

#define SESSION_ID_LEN		32	/* random bytes */
#define SESSION_TOKEN_LEN	43	/* base64url without padding */

enum role { ROLE_ADMIN, ROLE_AGENT };

struct session {
	uint8_t		 id[SESSION_ID_LEN];
	int64_t		 user_id;
	int64_t		 tenant_id;
	enum role	 role;
	const char	*name;		/* pool */
	const char	*email;		/* pool */
	char		 csrf[SESSION_TOKEN_LEN + 1];
};

/* The scopes of a role: 0 (every one, unrestricted) for admins. */
uint32_t role_scopes(enum role);

/* True when the request carries a wz_session cookie. */
bool	session_present(const struct req *);
/* Authenticates the request's session and counts it against its user's
 * rate limit. Returns 0 with req->session, tenant_id, user_id, scopes and
 * the rate-limit figures set, or -1 after replying 401, 500 or 503. */
int	session_auth(struct req *);
/* The request's X-CSRF-Token is its session's token. */
bool	session_csrf_ok(const struct req *);

/* The host's cap on password checks at once (slots), set up by the
 * pre-forking master before it forks. */
void	session_checks_init(int slots);

/* POST /auth/login, POST /auth/logout, GET /auth/me. */
void	auth_login(struct req *);
void	auth_logout(struct req *);
void	auth_me(struct req *);

#endif
