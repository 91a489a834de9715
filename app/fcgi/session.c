/* Dashboard sessions (SPEC 10).
 *
 * Signing in: POST /auth/login checks an email and password against the
 * users' Argon2id hashes and sets a cookie holding 32 random bytes. Only
 * their BLAKE2b-256 is stored (sessions.id_hash), so the table opens no
 * session. Failures are throttled per email and per client address: each
 * attempt is counted before its password is checked, in one transaction
 * of two atomic upserts, and uncounted when it succeeds, so any number of
 * parallel guesses gets exactly as many checks as the limit allows.
 *
 * On the API: a request without an API key but with the cookie is the
 * session's user, with the role's scopes, counted against the user's rate
 * limit. Sessions are not cached in the worker: logging out, a new
 * password and a role change act on the next request. The CSRF token is
 * derived from the session id (BLAKE2b keyed with it), so it is never
 * stored and cannot be read from the database either. */
#include <sys/mman.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <json-c/json.h>

#include "auth.h"
#include "crypto.h"
#include "log.h"
#include "request.h"
#include "scopes.h"
#include "session.h"

#define COOKIE_NAME		"wz_session"
#define LOGIN_EMAIL_MAX		10	/* failures per email per window */
#define LOGIN_ADDR_MAX		50	/* per client address */

static const char *const role_names[] = { "admin", "agent", NULL };

uint32_t
role_scopes(enum role role)
{
	if (role == ROLE_ADMIN)
		return 0;
	return 1u << SCOPE_CONTACTS_READ | 1u << SCOPE_CONTACTS_WRITE |
	    1u << SCOPE_CONVERSATIONS_READ | 1u << SCOPE_CONVERSATIONS_WRITE |
	    1u << SCOPE_MESSAGES_SEND | 1u << SCOPE_MESSAGES_READ |
	    1u << SCOPE_CAMPAIGNS_READ;
}

static void
token_encode(const uint8_t bin[32], char out[SESSION_TOKEN_LEN + 1])
{
	sodium_bin2base64(out, SESSION_TOKEN_LEN + 1, bin, 32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The cookie's value: the first wz_session in the Cookie header, as 32
 * bytes in id. Returns -1 when there is none or it is not 43 base64url
 * characters. */
static int
cookie_session(const char *cookie, uint8_t id[SESSION_ID_LEN])
{
	const char *p = cookie, *v, *end;
	size_t binlen = 0, nl = strlen(COOKIE_NAME);

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (strncmp(p, COOKIE_NAME, nl) == 0 && p[nl] == '=') {
			v = p + nl + 1;
			if ((end ? (size_t)(end - v) : strlen(v)) !=
			    SESSION_TOKEN_LEN)
				return -1;
			if (sodium_base642bin(id, SESSION_ID_LEN, v,
			    SESSION_TOKEN_LEN, NULL, &binlen, NULL,
			    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
			    binlen != SESSION_ID_LEN)
				return -1;
			return 0;
		}
		p = end;
	}
	return -1;
}

bool
session_present(const struct req *r)
{
	const char *c = req_param(r, "HTTP_COOKIE");

	return c != NULL && strstr(c, COOKIE_NAME "=") != NULL;
}

static void
session_hash(const uint8_t id[SESSION_ID_LEN], uint8_t out[32])
{
	crypto_generichash(out, 32, id, SESSION_ID_LEN, NULL, 0);
}

static void
csrf_derive(const uint8_t id[SESSION_ID_LEN], char out[SESSION_TOKEN_LEN + 1])
{
	static const char what[] = "wazera csrf v1";
	uint8_t mac[32];

	crypto_generichash(mac, sizeof(mac), (const uint8_t *)what,
	    sizeof(what) - 1, id, SESSION_ID_LEN);
	token_encode(mac, out);
}

static enum role
role_parse(const char *s)
{
	return s != NULL && !strcmp(s, "admin") ? ROLE_ADMIN : ROLE_AGENT;
}

int
session_auth(struct req *r)
{
	struct session *s;
	uint8_t hash[32];
	struct db_arg arg;
	struct db_res res;
	uint64_t hits = 0;
	enum db_rc rc;

	s = pool_alloc(&r->pool, sizeof(*s));
	memset(s, 0, sizeof(*s));
	if (cookie_session(req_param(r, "HTTP_COOKIE"), s->id) == -1)
		goto expired;
	session_hash(s->id, hash);
	arg = DBA_BLOB(hash, sizeof(hash));
	rc = db_query_one(r->db, &r->pool, SQL_SESSION_LOOKUP, &arg, 1, &res);
	if (rc == DB_NOROW)
		goto expired;
	if (rc != DB_OK)
		goto fail;
	s->user_id = db_int(&res, 0, SES_USER);
	s->tenant_id = db_int(&res, 0, SES_TENANT);
	s->role = role_parse(db_str(&res, 0, SES_ROLE));
	s->name = db_str(&res, 0, SES_NAME);
	s->email = db_str(&res, 0, SES_EMAIL);
	csrf_derive(s->id, s->csrf);
	if (db_int(&res, 0, SES_STALE) &&
	    (rc = db_exec(r->db, SQL_SESSION_TOUCH, &arg, 1, NULL, NULL)) !=
	    DB_OK)
		goto fail;
	arg = DBA_INT(s->user_id);
	if ((rc = db_exec(r->db, SQL_USER_RATE_HIT, &arg, 1, NULL, &hits)) !=
	    DB_OK)
		goto fail;
	r->session = s;
	r->user_id = s->user_id;
	r->tenant_id = s->tenant_id;
	r->scopes = role_scopes(s->role);
	auth_rate(r, db_int(&res, 0, SES_LIMIT), hits);
	return 0;
expired:
	reply_error(r, ERR_AUTHENTICATION, "Your session has expired or is not "
	    "valid; sign in again.", NULL);
	return -1;
fail:
	reply_db(r, rc == DB_RETRY ? DB_DOWN : rc);
	return -1;
}

bool
session_csrf_ok(const struct req *r)
{
	const char *t = req_param(r, "HTTP_X_CSRF_TOKEN");
	size_t len;

	if (r->session == NULL || t == NULL)
		return false;
	len = strlen(t);
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	while (len > 0 && (*t == ' ' || *t == '\t')) {
		t++;
		len--;
	}
	return len == SESSION_TOKEN_LEN &&
	    sodium_memcmp(t, r->session->csrf, SESSION_TOKEN_LEN) == 0;
}

/* ---- signing in ------------------------------------------------------ */

/* The user and csrf_token, as login and /auth/me answer them. */
static void
reply_session(struct req *r, const struct session *s)
{
	struct json_object *o = json_object_new_object(), *u;

	u = json_object_new_object();
	json_object_object_add(u, "id", json_object_new_int64(s->user_id));
	json_object_object_add(u, "name", json_str_or_null(s->name));
	json_object_object_add(u, "email", json_str_or_null(s->email));
	json_object_object_add(u, "role",
	    json_object_new_string(role_names[s->role]));
	json_object_object_add(u, "tenant_id",
	    json_object_new_int64(s->tenant_id));
	json_object_object_add(o, "user", u);
	json_object_object_add(o, "csrf_token",
	    json_object_new_string(s->csrf));
	reply_data(r, 200, o);
}

/* The host part of "host[:port]" or "[v6]:port": its length. */
static size_t
host_len(const char *h)
{
	const char *e;

	if (*h == '[')
		return (e = strchr(h, ']')) != NULL ? (size_t)(e - h) + 1 :
		    strlen(h);
	return (e = strchr(h, ':')) != NULL ? (size_t)(e - h) : strlen(h);
}

/* A sign-in made by a page of another site (login CSRF). Browsers say
 * where a request comes from in Sec-Fetch-Site; older ones only in
 * Origin, compared with Host by host name: the port is left out, as
 * nginx's fastcgi_params passes Host without it. Requests with neither
 * (API clients, curl) pass. */
static bool
origin_foreign(const struct req *r)
{
	const char *o = req_param(r, "HTTP_ORIGIN"), *h;
	const char *site = req_param(r, "HTTP_SEC_FETCH_SITE");
	const char *host = req_param(r, "HTTP_HOST");
	size_t n;

	if (site != NULL)
		return strcmp(site, "same-origin") != 0 &&
		    strcmp(site, "none") != 0;
	if (o == NULL)
		return false;
	if ((h = strstr(o, "://")) == NULL || host == NULL)
		return true;
	h += 3;
	n = host_len(h);
	return n != host_len(host) || strncasecmp(h, host, n) != 0;
}

/* Came over TLS: the web server's HTTPS param ("on"). */
static bool
over_https(const struct req *r)
{
	const char *v = req_param(r, "HTTPS");

	return v != NULL && (strcasecmp(v, "on") == 0 || !strcmp(v, "1"));
}

/* The throttle's subjects: an email as the users' key compares it (every
 * spelling utf8mb4_general_ci takes for one email, case, accents and
 * trailing spaces, shares one count, and an email no user has is counted
 * the same way, so the counts tell nothing of who exists), and the
 * client's address (an IPv6 address by its /64, which one client usually
 * holds whole; an IPv4-mapped one as the IPv4 address it is). */
static void
subject_hash(const char *kind, const void *val, size_t len, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, val, len);
	crypto_generichash_final(&st, out, 32);
}

static void
subject_addr(const struct req *r, uint8_t out[32])
{
	const char *a = req_param(r, "REMOTE_ADDR");
	struct in6_addr in6;
	char buf[INET6_ADDRSTRLEN];

	if (a == NULL)
		a = "-";
	if (strchr(a, ':') != NULL && inet_pton(AF_INET6, a, &in6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&in6))
			a = inet_ntop(AF_INET, in6.s6_addr + 12, buf,
			    sizeof(buf)) != NULL ? buf : a;
		else {
			memset(in6.s6_addr + 8, 0, 8);
			if (inet_ntop(AF_INET6, &in6, buf, sizeof(buf)) != NULL)
				a = buf;
		}
	}
	subject_hash("addr", a, strlen(a), out);
}

/* Password checks at once on this host: each is ~64 MiB and a tenth of a
 * second of a core, in a worker the API needs too. The master makes an
 * anonymous file (memfd) before it forks; a check holds a POSIX record
 * lock on one of its first `slots` bytes (a lock dies with its process,
 * so a worker that crashed mid-check frees its slot). Without a master (started by
 * mod_fcgid or spawn-fcgi) the web server's process limit is the cap. */
#define CHECK_WAIT_MS	2000

static int check_fd = -1, check_slots;

void
session_checks_init(int slots)
{
	if ((check_fd = memfd_create("wazera-checks", MFD_CLOEXEC)) == -1) {
		log_warnx("memfd_create: %s; password checks are not capped",
		    strerror(errno));
		return;
	}
	check_slots = slots > 0 ? slots : 1;
}

static int
check_lock(int slot, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = slot;
	fl.l_len = 1;
	return fcntl(check_fd, F_SETLK, &fl);
}

/* A slot, or -1 when none came free within CHECK_WAIT_MS; with no slots
 * set up, slot 0 (not locked). */
static int
check_acquire(void)
{
	int i, waited;

	if (check_fd == -1)
		return 0;
	for (waited = 0; waited <= CHECK_WAIT_MS; waited += 10) {
		for (i = 0; i < check_slots; i++)
			if (check_lock(i, F_WRLCK) == 0)
				return i;
		usleep(10 * 1000);
	}
	return -1;
}

static void
check_release(int slot)
{
	if (check_fd != -1)
		(void)check_lock(slot, F_UNLCK);
}

/* Counts the attempt for both subjects. Returns 0 with the counts, or -1
 * after replying (a deadlock between racing attempts: r->retry, the
 * handler runs again and nothing was counted). */
static int
throttle_count(struct req *r, uint8_t subj[2][32], uint64_t n[2])
{
	struct db_arg a;
	enum db_rc rc;
	int i;

	if ((rc = db_begin(r->db)) != DB_OK)
		goto fail;
	for (i = 0; i < 2; i++) {
		a = DBA_BLOB(subj[i], 32);
		if ((rc = db_exec(r->db, SQL_THROTTLE_HIT, &a, 1, NULL,
		    &n[i])) != DB_OK)
			goto fail;
	}
	if ((rc = db_commit(r->db)) != DB_OK)
		goto fail;
	return 0;
fail:
	db_rollback(r->db);
	reply_db(r, rc);
	return -1;
}

/* Not a failure (a success, or no check made): uncounted (best effort; a
 * lost undo only brings a throttle nearer). */
static void
throttle_undo(struct req *r, uint8_t subj[2][32])
{
	struct db_arg a;
	int i;

	for (i = 0; i < 2; i++) {
		a = DBA_BLOB(subj[i], 32);
		(void)db_exec(r->db, SQL_THROTTLE_UNDO, &a, 1, NULL, NULL);
	}
}

static void
reply_throttled(struct req *r, uint8_t subj[2][32], const uint64_t n[2])
{
	long long wait = 1, w;
	struct db_arg a;
	struct db_res res;
	int i;

	for (i = 0; i < 2; i++) {
		if (n[i] <= (uint64_t)(i == 0 ? LOGIN_EMAIL_MAX : LOGIN_ADDR_MAX))
			continue;
		a = DBA_BLOB(subj[i], 32);
		if (db_query_one(r->db, &r->pool, SQL_THROTTLE_WAIT, &a, 1,
		    &res) == DB_OK && (w = db_int(&res, 0, 0)) > wait)
			wait = w;
	}
	reply_header(r, "Retry-After", "%lld", wait);
	reply_error(r, ERR_RATE_LIMIT, "Too many failed sign-ins. Please retry "
	    "after the time given in Retry-After.", NULL);
}

enum { L_EMAIL, L_PASSWORD, L__MAX };
static const struct field login_fields[L__MAX] = {
	[L_EMAIL] =	{ "email", FT_STRING, FF_REQUIRED, 1, 255, NULL },
	[L_PASSWORD] =	{ "password", FT_STRING, FF_REQUIRED, 1, PASSWORD_MAX,
	    NULL },
};

void
auth_login(struct req *r)
{
	struct fval v[L__MAX];
	struct verrs e;
	struct session *s;
	struct db_arg a[3];
	struct db_res res;
	uint8_t subj[2][32], hash[32];
	uint64_t n[2] = { 0, 0 };
	const char *pwhash = NULL;
	enum db_rc rc;
	bool ok;
	int slot;

	if (origin_foreign(r)) {
		reply_error(r, ERR_CSRF, "Sign-in requests from another site are "
		    "refused.", NULL);
		return;
	}
	verrs_init(&e);
	fields_parse(&r->pool, r->json, login_fields, L__MAX, v, &e, false);
	if (e.n > 0) {
		fvals_free(login_fields, L__MAX, v);
		reply_invalid(r, &e);
		return;
	}
	/* The user and the email's throttle key in one read; the count
	 * comes before the password's check. */
	a[0] = a[1] = DBA_STR(v[L_EMAIL].s);
	if ((rc = db_query_one(r->db, &r->pool, SQL_LOGIN_LOOKUP, a, 2,
	    &res)) != DB_OK) {
		reply_db(r, rc == DB_RETRY || rc == DB_NOROW ? DB_DOWN : rc);
		goto out;
	}
	subject_hash("email", db_str(&res, 0, UR_FOLD), db_len(&res, 0,
	    UR_FOLD), subj[0]);
	subject_addr(r, subj[1]);
	if (throttle_count(r, subj, n) == -1)
		goto out;
	if (n[0] > LOGIN_EMAIL_MAX || n[1] > LOGIN_ADDR_MAX) {
		reply_throttled(r, subj, n);
		goto out;
	}
	if (!db_isnull(&res, 0, UR_ID))
		pwhash = db_str(&res, 0, UR_HASH);
	if ((slot = check_acquire()) == -1) {
		throttle_undo(r, subj);
		reply_header(r, "Retry-After", "1");
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "Too many sign-ins at "
		    "once; try again in a second.", NULL);
		goto out;
	}
	/* Both ways cost one Argon2id check: an unknown email answers as
	 * slowly as a wrong password. */
	ok = password_verify(pwhash, v[L_PASSWORD].s, v[L_PASSWORD].slen);
	check_release(slot);
	if (!ok) {
		reply_error(r, ERR_AUTHENTICATION, "The email or password is "
		    "incorrect.", NULL);
		goto out;
	}
	throttle_undo(r, subj);
	s = pool_alloc(&r->pool, sizeof(*s));
	memset(s, 0, sizeof(*s));
	randombytes_buf(s->id, sizeof(s->id));
	session_hash(s->id, hash);
	s->user_id = db_int(&res, 0, UR_ID);
	s->tenant_id = db_int(&res, 0, UR_TENANT);
	s->role = role_parse(db_str(&res, 0, UR_ROLE));
	s->name = db_str(&res, 0, UR_NAME);
	s->email = db_str(&res, 0, UR_EMAIL);
	csrf_derive(s->id, s->csrf);
	a[0] = DBA_BLOB(hash, sizeof(hash));
	a[1] = DBA_INT(s->user_id);
	a[2] = DBA_INT(s->tenant_id);
	if ((rc = db_exec(r->db, SQL_SESSION_INSERT, a, 3, NULL, NULL)) !=
	    DB_OK) {
		reply_db(r, rc == DB_RETRY ? DB_DOWN : rc);
		goto out;
	}
	{
		char tok[SESSION_TOKEN_LEN + 1];

		token_encode(s->id, tok);
		reply_header(r, "Set-Cookie", COOKIE_NAME "=%s; Path=/; "
		    "HttpOnly; SameSite=Strict%s", tok,
		    over_https(r) ? "; Secure" : "");
		sodium_memzero(tok, sizeof(tok));
	}
	r->tenant_id = s->tenant_id;
	reply_session(r, s);
out:
	fvals_free(login_fields, L__MAX, v);
}

void
auth_logout(struct req *r)
{
	struct json_object *o;
	uint8_t hash[32];
	struct db_arg a;
	enum db_rc rc;

	session_hash(r->session->id, hash);
	a = DBA_BLOB(hash, sizeof(hash));
	if ((rc = db_exec(r->db, SQL_SESSION_DELETE, &a, 1, NULL, NULL)) !=
	    DB_OK) {
		reply_db(r, rc);
		return;
	}
	reply_header(r, "Set-Cookie", COOKIE_NAME "=; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=0%s", over_https(r) ? "; Secure" : "");
	o = json_object_new_object();
	json_object_object_add(o, "logged_out", json_object_new_boolean(1));
	reply_data(r, 200, o);
}

void
auth_me(struct req *r)
{
	reply_session(r, r->session);
}
