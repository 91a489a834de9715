#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <json-c/json.h>

#include "auth.h"
#include "handlers.h"
#include "idempotency.h"
#include "jsonbody.h"
#include "request.h"
#include "router.h"
#include "scopes.h"
#include "session.h"

#define API_PREFIX	"/api/v1"
#define HANDLER_TRIES	5

/* The API, as the reference lists it. */
static const struct route routes[] = {
	{ "GET",    "/account/me",	SCOPE_ACCOUNT_READ,	tenant_get, 0, ROUTE_SCOPED },
	{ "GET",    "/api-keys",	SCOPE_ACCOUNT_READ,	apikey_list, 0, ROUTE_SCOPED },
	{ "POST",   "/api-keys",	.access = ROUTE_UNRESTRICTED,
	    .handler = apikey_create },
	{ "DELETE", "/api-keys/{id}",	.access = ROUTE_UNRESTRICTED,
	    .handler = apikey_revoke },

	{ "GET",    "/contacts",	SCOPE_CONTACTS_READ,	contact_list, 0, ROUTE_SCOPED },
	{ "POST",   "/contacts",	SCOPE_CONTACTS_WRITE,	contact_create, 0, ROUTE_SCOPED },
	{ "POST",   "/contacts/create",	SCOPE_CONTACTS_WRITE,	contact_create, 0, ROUTE_SCOPED },
	{ "GET",    "/contacts/{id}",	SCOPE_CONTACTS_READ,	contact_get, 0, ROUTE_SCOPED },
	{ "PUT",    "/contacts/{id}",	SCOPE_CONTACTS_WRITE,	contact_update, 0, ROUTE_SCOPED },
	{ "PATCH",  "/contacts/{id}",	SCOPE_CONTACTS_WRITE,	contact_update, 0, ROUTE_SCOPED },
	{ "DELETE", "/contacts/{id}",	SCOPE_CONTACTS_WRITE,	contact_delete, 0, ROUTE_SCOPED },

	{ "GET",    "/whatsapp-accounts", SCOPE_ACCOUNT_READ,	whatsapp_account_list, 0, ROUTE_SCOPED },
	{ "GET",    "/whatsapp-accounts/{id}", SCOPE_ACCOUNT_READ, whatsapp_account_get, 0, ROUTE_SCOPED },

	{ "POST",   "/messages/send",	SCOPE_MESSAGES_SEND,	message_send, 0, ROUTE_SCOPED },
	{ "POST",   "/messages/template", SCOPE_MESSAGES_SEND,	message_send_template, 0, ROUTE_SCOPED },
	{ "GET",    "/messages/{id}",	SCOPE_MESSAGES_READ,	message_get, 0, ROUTE_SCOPED },
	{ "GET",    "/messages/{id}/status", SCOPE_MESSAGES_READ, message_status, 0, ROUTE_SCOPED },

	{ "GET",    "/conversations",	SCOPE_CONVERSATIONS_READ, conversation_list, 0, ROUTE_SCOPED },
	{ "GET",    "/conversations/{id}", SCOPE_CONVERSATIONS_READ, conversation_get, 0, ROUTE_SCOPED },
	{ "PUT",    "/conversations/{id}", SCOPE_CONVERSATIONS_WRITE, conversation_update, 0, ROUTE_SCOPED },
	{ "PATCH",  "/conversations/{id}", SCOPE_CONVERSATIONS_WRITE, conversation_update, 0, ROUTE_SCOPED },
	{ "GET",    "/conversations/{id}/messages", SCOPE_CONVERSATIONS_READ, conversation_messages, 0, ROUTE_SCOPED },

	{ "GET",    "/webhooks",	SCOPE_WEBHOOKS_MANAGE,	webhook_list, 0, ROUTE_SCOPED },
	{ "POST",   "/webhooks",	SCOPE_WEBHOOKS_MANAGE,	webhook_create, 0, ROUTE_SCOPED },
	{ "GET",    "/webhooks/{id}",	SCOPE_WEBHOOKS_MANAGE,	webhook_get, 0, ROUTE_SCOPED },
	{ "PUT",    "/webhooks/{id}",	SCOPE_WEBHOOKS_MANAGE,	webhook_update, 0, ROUTE_SCOPED },
	{ "PATCH",  "/webhooks/{id}",	SCOPE_WEBHOOKS_MANAGE,	webhook_update, 0, ROUTE_SCOPED },
	{ "DELETE", "/webhooks/{id}",	SCOPE_WEBHOOKS_MANAGE,	webhook_delete, 0, ROUTE_SCOPED },
	{ "GET",    "/webhooks/{id}/deliveries", SCOPE_WEBHOOKS_MANAGE, webhook_deliveries, 0, ROUTE_SCOPED },
	{ "GET",    "/webhooks/{id}/deliveries/{id}", SCOPE_WEBHOOKS_MANAGE, webhook_delivery, 0, ROUTE_SCOPED },
	{ "POST",   "/webhooks/{id}/deliveries/{id}/redeliver", SCOPE_WEBHOOKS_MANAGE, webhook_redeliver, 0, ROUTE_SCOPED },
	{ "POST",   "/webhooks/{id}/test", SCOPE_WEBHOOKS_MANAGE, webhook_test, 0, ROUTE_SCOPED },
	{ "POST",   "/webhooks/{id}/recover", SCOPE_WEBHOOKS_MANAGE, webhook_recover, 0, ROUTE_SCOPED },

	{ "GET",    "/segments",	SCOPE_CAMPAIGNS_READ,	segment_list, 0, ROUTE_SCOPED },
	{ "POST",   "/segments",	SCOPE_CAMPAIGNS_WRITE,	segment_create, 0, ROUTE_SCOPED },
	{ "GET",    "/segments/{id}",	SCOPE_CAMPAIGNS_READ,	segment_get, 0, ROUTE_SCOPED },
	{ "PUT",    "/segments/{id}",	SCOPE_CAMPAIGNS_WRITE,	segment_update, 0, ROUTE_SCOPED },
	{ "PATCH",  "/segments/{id}",	SCOPE_CAMPAIGNS_WRITE,	segment_update, 0, ROUTE_SCOPED },
	{ "DELETE", "/segments/{id}",	SCOPE_CAMPAIGNS_WRITE,	segment_delete, 0, ROUTE_SCOPED },

	{ "GET",    "/campaigns",	SCOPE_CAMPAIGNS_READ,	campaign_list, 0, ROUTE_SCOPED },
	{ "POST",   "/campaigns",	SCOPE_CAMPAIGNS_WRITE,	campaign_create, 0, ROUTE_SCOPED },
	{ "GET",    "/campaigns/{id}",	SCOPE_CAMPAIGNS_READ,	campaign_get, 0, ROUTE_SCOPED },
	{ "POST",   "/campaigns/{id}/cancel", SCOPE_CAMPAIGNS_WRITE, campaign_cancel, 0, ROUTE_SCOPED },
	{ "GET",    "/campaigns/{id}/recipients", SCOPE_CAMPAIGNS_READ, campaign_recipients, 0, ROUTE_SCOPED },

	{ "GET",    "/users",		SCOPE_ACCOUNT_READ,	user_list, 0, ROUTE_SCOPED },

	{ "POST",   "/auth/login",	.access = ROUTE_SIGNIN,
	    .handler = auth_login },
	{ "POST",   "/auth/logout",	.access = ROUTE_SESSION,
	    .handler = auth_logout },
	{ "GET",    "/auth/me",		.access = ROUTE_SESSION,
	    .handler = auth_me },

	{ "GET",    "/health",		.access = ROUTE_PUBLIC,
	    .handler = health_get },
	{ "GET",    "/openapi.json",	.access = ROUTE_PUBLIC,
	    .handler = openapi_get },

	{ "GET",    "/whatsapp/webhook", .access = ROUTE_PUBLIC,
	    .handler = whatsapp_verify },
	{ "POST",   "/whatsapp/webhook", .access = ROUTE_PUBLIC,
	    .handler = whatsapp_webhook, .body_max = BODY_MAX_WEBHOOK },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Finds the route; on a path that matches with another method, replies 405
 * with Allow; on none, 404. */
static const struct route *
route_find(struct req *r)
{
	char allow[128] = "";
	int64_t ids[PATH_MAX_IDS];
	size_t i;

	for (i = 0; i < NROUTES; i++) {
		if (!path_match(routes[i].pattern, r->path, ids))
			continue;
		if (!strcmp(routes[i].method, r->method)) {
			memcpy(r->ids, ids, sizeof(ids));
			r->route = routes[i].pattern;
			return &routes[i];
		}
		if (strstr(allow, routes[i].method) == NULL) {
			if (*allow)
				strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
			strncat(allow, routes[i].method,
			    sizeof(allow) - strlen(allow) - 1);
		}
	}
	if (*allow) {
		reply_header(r, "Allow", "%s", allow);
		reply_error(r, ERR_METHOD_NOT_ALLOWED, pool_printf(&r->pool,
		    "The %s method is not supported for this route. "
		    "Supported methods: %s.", r->method, allow), NULL);
	} else
		reply_error(r, ERR_NOT_FOUND, "The requested resource was not "
		    "found.", NULL);
	return NULL;
}

/* The caller's scopes allow the route: a key without scope restrictions
 * or an admin's session (scopes 0) may call any but a session-only route,
 * a restricted key or an agent only a ROUTE_SCOPED route with its scope. */
static bool
scope_allows(const struct req *r, const struct route *rt)
{
	if (rt->access == ROUTE_SESSION)
		return r->session != NULL;
	if (r->scopes == 0)
		return true;
	if (rt->access != ROUTE_SCOPED)
		return false;
	return (r->scopes & (1u << rt->scope)) != 0;
}

static void
reply_forbidden(struct req *r, const struct route *rt)
{
	const char *msg;

	if (rt->access == ROUTE_SESSION)
		msg = "This route needs a dashboard session, not an API key.";
	else if (r->session != NULL)
		msg = rt->access == ROUTE_UNRESTRICTED ?
		    "Your role (agent) cannot do this; an admin can." :
		    pool_printf(&r->pool, "Your role (agent) lacks the %s "
		    "scope.", scope_names[rt->scope]);
	else
		msg = rt->access == ROUTE_UNRESTRICTED ?
		    "This action needs an API key without scope restrictions." :
		    pool_printf(&r->pool, "This API key lacks the %s scope.",
		    scope_names[rt->scope]);
	reply_error(r, ERR_INSUFFICIENT_PERMISSIONS, msg, NULL);
}

static int
parse_body(struct req *r)
{
	char path[256];

	switch (jsonbody_parse(r->body, r->bodylen, &r->json, path,
	    sizeof(path))) {
	case JSONBODY_OK:
		return 0;
	case JSONBODY_UTF8:
		reply_error(r, ERR_BAD_REQUEST, "The request body is not valid "
		    "UTF-8.", NULL);
		return -1;
	case JSONBODY_NOT_OBJECT:
		reply_error(r, ERR_BAD_REQUEST, "The request body must be a JSON "
		    "object.", NULL);
		return -1;
	case JSONBODY_RANGE:
		reply_invalid_field(r, *path ? path : "body", pool_printf(&r->pool,
		    "The %s field must be a number within 64-bit integer or "
		    "double range; send larger numbers as strings.",
		    *path ? path : "body"));
		return -1;
	case JSONBODY_COST:
		reply_error(r, ERR_BAD_REQUEST, "The request body has too many "
		    "JSON objects, arrays or values for its size.", NULL);
		return -1;
	case JSONBODY_SYNTAX:
		break;
	}
	reply_error(r, ERR_BAD_REQUEST, "The request body is not valid JSON.",
	    NULL);
	return -1;
}

/* Runs a handler, again after a deadlock or a lost connection. */
static void
run_handler(struct req *r, void (*handler)(struct req *))
{
	int tries, depth = db_depth(r->db);

	for (tries = 0; tries < HANDLER_TRIES; tries++) {
		/* Racing transactions that deadlocked must not meet again:
		 * wait a little, randomly, longer each time. */
		if (tries > 0)
			usleep(1000 * (unsigned)tries + randombytes_uniform(5000));
		r->retry = false;
		handler(r);
		while (db_depth(r->db) > depth)
			db_rollback(r->db);	/* a handler that forgot */
		if (!r->retry)
			return;
	}
	reply_db(r, DB_DOWN);
}

const struct route *
router_match(struct req *r)
{
	const struct route *rt;
	size_t plen = strlen(API_PREFIX), max;

	/* Larger than any route takes: not even read. */
	if (r->body == NULL) {
		reply_error(r, ERR_PAYLOAD_TOO_LARGE, "The request body is too "
		    "large.", NULL);
		return NULL;
	}
	if (strncmp(r->path, API_PREFIX, plen) != 0 ||
	    (r->path[plen] != '/' && r->path[plen] != '\0')) {
		reply_error(r, ERR_NOT_FOUND, "The requested resource was not "
		    "found.", NULL);
		return NULL;
	}
	r->path += plen;
	if ((rt = route_find(r)) == NULL)
		return NULL;
	max = rt->body_max ? rt->body_max : BODY_MAX;
	if (r->bodylen > max) {
		reply_error(r, ERR_PAYLOAD_TOO_LARGE, pool_printf(&r->pool,
		    "The request body must not exceed %zu MiB.", max >> 20), NULL);
		return NULL;
	}
	return rt;
}

void
router_dispatch(struct req *r)
{
	const struct route *rt;
	bool has_body;

	if ((rt = router_match(r)) == NULL)
		return;
	db_home(r->db);		/* database.hosts: back to this host's node */
	if (rt->access == ROUTE_PUBLIC) {
		run_handler(r, rt->handler);
		return;
	}
	if (rt->access == ROUTE_SIGNIN) {
		if (parse_body(r) == 0)
			run_handler(r, rt->handler);
		return;
	}
	if (auth_request(r) == -1)
		return;
	/* A session's writes carry its CSRF token (SPEC 10): a page of
	 * another site can make the browser send the cookie, not the
	 * header. */
	if (r->session != NULL && strcmp(r->method, "GET") != 0 &&
	    strcmp(r->method, "HEAD") != 0 && !session_csrf_ok(r)) {
		reply_error(r, ERR_CSRF, "The X-CSRF-Token header is missing or "
		    "does not match the session's token; reload the page.", NULL);
		return;
	}
	if (!scope_allows(r, rt)) {
		reply_forbidden(r, rt);
		return;
	}
	if (r->rl_remaining < 0) {
		/* Whole seconds until the window's end, rounded up (reset is
		 * a whole second: that is reset minus the current second),
		 * from the precise clock: time() may lag a tick behind it,
		 * which made the answer a second too long just after a
		 * second began. */
		struct timespec now;
		long long wait;

		clock_gettime(CLOCK_REALTIME, &now);
		wait = r->rl_reset - (long long)now.tv_sec;
		reply_header(r, "Retry-After", "%lld", wait > 0 ? wait : 1);
		r->rl_remaining = 0;
		reply_error(r, ERR_RATE_LIMIT, "Too many requests. Please retry "
		    "after the time given in Retry-After.", NULL);
		return;
	}
	has_body = !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") ||
	    !strcmp(r->method, "PATCH");
	if (has_body && parse_body(r) == -1)
		return;
	r->handler = rt->handler;
	/* Signing out is not replayed: another session of the tenant
	 * reusing the key would be told it was signed out. */
	run_handler(r, !strcmp(r->method, "POST") && r->idempotency_key != NULL &&
	    rt->access != ROUTE_SESSION ? idempotent_run : rt->handler);
}
