/* Meta's error codes and what the spooler does with each (shared/
 * cloud-api.md section 2, SPEC 4). Handling is based on error.code alone,
 * as Meta advises: the HTTP status only decides when there is no Graph
 * error body (a proxy's 502, a timeout). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "policy.h"
#include "text.h"
#include "validate.h"

#define R(c, a, b, n, w)	{ c, c, a, b, n, w, false }
#define RANGE(lo, hi, a, w)	{ lo, hi, a, 0, 0, w, false }
#define PERM(c, w)		R(c, POL_PERMANENT, 0, 0, w)
#define PAUSE(c, s, w)		R(c, POL_PAUSE_ACCOUNT, s, 0, w)
/* The same, and a campaign message that gets it stops its campaign. */
#define PERM_STOP(c, w)		{ c, c, POL_PERMANENT, 0, 0, w, true }
#define PAUSE_STOP(c, s, w)	{ c, c, POL_PAUSE_ACCOUNT, s, 0, w, true }

/* code(s), action, first backoff or pause in seconds, attempts before a
 * retried message fails, and whether it stops a campaign (SPEC 7: the
 * template paused or disabled, the account unable to send marketing).
 * Codes not here: a Graph error with HTTP 429 or 5xx is retried like
 * 131000, any other is permanent. 131049 (Meta's per-user marketing
 * limit) is permanent: the recipient fails, never retried. */
static const struct pol_rule rows[] = {
	PAUSE(0, 300,		"AuthException: the access token is invalid"),
	R(1, POL_RETRY, 1, 4,	"API unknown, possibly a server error"),
	R(2, POL_RETRY, 2, 12,	"API service temporarily down"),
	PERM(3,			"capability or permission missing"),
	R(4, POL_RETRY, 60, 10,	"app-level API call rate limit"),
	PERM(10,		"permission denied"),
	PERM(33,		"business phone number deleted"),
	PERM(100,		"invalid parameter"),
	PAUSE(190, 300,		"access token expired or invalid"),
	RANGE(200, 299, POL_PERMANENT, "API permission missing"),
	PAUSE_STOP(368, 3600,	"temporarily blocked for policy violations"),
	R(80007, POL_RETRY, 60, 10, "WABA rate limit reached"),
	PERM(130403,		"the business has blocked this user"),
	R(130429, POL_RETRY, 1, 15, "throughput (mps) limit reached"),
	PERM(130472,		"user is part of a marketing experiment"),
	PERM(130497,		"WABA may not message that country"),
	R(131000, POL_RETRY, 1, 5, "unknown error"),
	PERM(131005,		"access denied"),
	PERM(131008,		"required parameter missing"),
	PERM(131009,		"parameter value invalid"),
	R(131016, POL_RETRY, 2, 12, "service temporarily unavailable"),
	PERM(131021,		"recipient is the sender"),
	PERM(131026,		"message undeliverable"),
	PAUSE_STOP(131031, 3600,	"business account locked"),
	PERM(131037,		"number has no approved display name"),
	PAUSE(131042, 3600,	"payment or billing problem"),
	PERM(131045,		"number registration error"),
	PERM(131047,		"more than 24 h since the user last wrote"),
	PAUSE_STOP(131048, 3600,	"spam rate limit (quality)"),
	PERM(131049,		"not delivered for ecosystem health"),
	PERM(131050,		"user stopped marketing messages"),
	PERM(131051,		"unsupported message type"),
	PERM(131053,		"media upload error"),
	R(131056, POL_RETRY_RECIPIENT, 6, 10, "pair rate limit for this user"),
	R(131057, POL_RETRY, 60, 6, "account in maintenance mode"),
	PERM_STOP(131063,		"marketing templates disabled for the WABA"),
	PAUSE(131064, 3600,	"messaging limit (template violations)"),
	PERM(132000,		"template parameter count mismatch"),
	PERM(132001,		"template missing in that language"),
	PERM(132005,		"hydrated template text too long"),
	PERM(132007,		"template content violates policy"),
	PERM(132012,		"template parameter format mismatch"),
	PERM_STOP(132015,		"template paused"),
	PERM_STOP(132016,		"template disabled"),
	PERM(132068,		"flow blocked"),
	R(132069, POL_RETRY, 3600, 3, "flow throttled"),
	R(133004, POL_RETRY, 2, 12, "server temporarily unavailable"),
	PERM(133010,		"business phone number not registered"),
	PERM(135000,		"generic user error"),
};

/* Not in the table: transport errors, 429/5xx and unknown codes on them. */
static const struct pol_rule transient = { -1, -1, POL_RETRY, 1, 12,
	"transient error", false };

const struct pol_rule *
policy_rule(int code)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (code >= rows[i].lo && code <= rows[i].hi)
			return &rows[i];
	return NULL;
}

/* Turns each byte that does not start a well-formed UTF-8 sequence into
 * '?'. json-c's UTF-8 check lets overlong forms through; the utf8mb4
 * columns refuse them, and a result the database refuses is kept and
 * tried again, for ever. */
static void
utf8_scrub(char *s)
{
	size_t i = 0, len = strlen(s), n;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (n > 1 && (n > len - i || !utf8_valid(s + i, n))) {
			s[i] = '?';
			n = 1;
		}
		i += n;
	}
}

static void
set_text(char *dst, size_t dstsz, size_t maxcp, const char *src)
{
	snprintf(dst, dstsz, "%s", src != NULL ? src : "");
	/* snprintf may have cut a sequence: drop a trailing partial one. */
	if (strlen(dst) == dstsz - 1) {
		size_t l = dstsz - 1, k = l;
		while (k > 0 && ((unsigned char)dst[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)dst[k - 1] & 0x80)) {
			unsigned char lead = (unsigned char)dst[k - 1];
			size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
			if (l - (k - 1) < want)
				dst[k - 1] = '\0';
		}
	}
	utf8_scrub(dst);
	utf8_truncate(dst, maxcp);
}

/* The start of a body that is not Graph JSON (an HTML error page, say),
 * as printable ASCII: it may be in any encoding. */
static void
ascii_excerpt(char *dst, size_t max, const char *src, size_t len)
{
	size_t i, n = 0;

	for (i = 0; src != NULL && i < len && n < max; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
}

static void
set_rule(struct pol_outcome *o, const struct pol_rule *r)
{
	o->action = r->action;
	o->base_s = r->base_s;
	o->max_attempts = r->max_attempts;
	o->stop_campaign = r->stop_campaign;
}

static const char *
str_field(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Parses a response body: NULL unless it is a JSON object. */
static struct json_object *
parse_body(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (body == NULL || len == 0 || len > 1024 * 1024)
		return NULL;
	if ((tok = json_tokener_new_ex(32)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Reads Meta's error object: code, the title (what follows "(#code) " in
 * message, else error_user_title, else message) and the message
 * (error_data.details, else error_user_msg, else message). Returns false
 * when there is no error object with an integer code. */
static bool
read_error(struct json_object *root, struct pol_outcome *o)
{
	struct json_object *err, *code, *data;
	const char *msg, *title, *details;
	char prefix[32];
	size_t pl;

	if (root == NULL || !json_object_object_get_ex(root, "error", &err) ||
	    !json_object_is_type(err, json_type_object) ||
	    !json_object_object_get_ex(err, "code", &code) ||
	    !json_object_is_type(code, json_type_int))
		return false;
	o->has_code = true;
	o->code = (int)json_object_get_int64(code);
	msg = str_field(err, "message");
	title = NULL;
	if (msg != NULL) {
		pl = (size_t)snprintf(prefix, sizeof(prefix), "(#%d) ", o->code);
		if (!strncmp(msg, prefix, pl))
			title = msg + pl;
	}
	if (title == NULL)
		title = str_field(err, "error_user_title");
	if (title == NULL)
		title = msg;
	details = NULL;
	if (json_object_object_get_ex(err, "error_data", &data))
		details = str_field(data, "details");
	if (details == NULL)
		details = str_field(err, "error_user_msg");
	if (details == NULL)
		details = msg;
	set_text(o->title, sizeof(o->title), POL_TITLE_MAX,
	    title != NULL ? title : "Graph API error");
	set_text(o->message, sizeof(o->message), POL_MESSAGE_MAX,
	    details != NULL ? details : "");
	return true;
}

/* messages[0].id of a success answer, or NULL. */
static const char *
read_wamid(struct json_object *root)
{
	struct json_object *arr, *first;

	if (root == NULL || !json_object_object_get_ex(root, "messages", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) < 1)
		return NULL;
	first = json_object_array_get_idx(arr, 0);
	return str_field(first, "id");
}

void
policy_classify(const struct pol_input *in, struct pol_outcome *o)
{
	struct json_object *root;
	const struct pol_rule *r;
	const char *wamid;
	long st = in->http_status;

	memset(o, 0, sizeof(*o));
	o->http_status = in->curl_ok ? st : 0;
	if (!in->curl_ok) {
		/* No answer. Only a request that never left whole is safe to
		 * send again: Meta has no idempotency key. */
		set_rule(o, &transient);
		if (in->maybe_sent)
			o->action = POL_AMBIGUOUS;
		set_text(o->title, sizeof(o->title), POL_TITLE_MAX,
		    in->maybe_sent ? "No answer from the Graph API" :
		    "Cannot reach the Graph API");
		ascii_excerpt(o->message, 512, in->errtext,
		    in->errtext != NULL ? strlen(in->errtext) : 0);
		return;
	}
	root = parse_body(in->body, in->len);
	if (st >= 200 && st <= 299 && (wamid = read_wamid(root)) != NULL) {
		o->action = POL_SENT;
		/* messages.wamid is ASCII, at most 255: anything else is
		 * stored as no wamid rather than refused. */
		if (wamid_valid(wamid))
			snprintf(o->wamid, sizeof(o->wamid), "%s", wamid);
		goto out;
	}
	if (read_error(root, o)) {
		if ((r = policy_rule(o->code)) != NULL)
			set_rule(o, r);
		else if (st == 429 || st >= 500)
			set_rule(o, &transient);
		else
			o->action = POL_PERMANENT;
		goto out;
	}
	if (st >= 200 && st <= 299) {
		/* Accepted, though the answer is unreadable: the message went
		 * out; sending it again would duplicate it. */
		o->action = POL_SENT;
		goto out;
	}
	/* No Graph error: a proxy, a load balancer or a wrong base URL. */
	set_rule(o, &transient);
	snprintf(o->title, sizeof(o->title), "HTTP %ld from the Graph API", st);
	ascii_excerpt(o->message, 200, in->body, in->len);
out:
	json_object_put(root);
}

int64_t
policy_backoff_us(const struct pol_outcome *o, int attempt, double r01)
{
	double s, cap, floor_s = 0;
	int n = attempt < 1 ? 1 : attempt > 30 ? 30 : attempt;
	int base = o->base_s > 0 ? o->base_s : 1;

	if (o->action == POL_RETRY_RECIPIENT) {
		/* Meta: 4^X seconds after each failure to the same user. */
		s = 1;
		while (n-- > 0)
			s *= 4;
		floor_s = base;
	} else {
		s = base;
		while (--n > 0)
			s *= 2;
	}
	cap = base > POL_BACKOFF_CAP_S ? base : POL_BACKOFF_CAP_S;
	if (s > cap)
		s = cap;
	s *= 0.8 + 0.4 * r01;
	if (s < floor_s)
		s = floor_s;
	return (int64_t)(s * 1e6);
}

bool
policy_give_up(const struct pol_outcome *o, int attempt, long long age_s)
{
	int max = o->max_attempts > 0 ? o->max_attempts : POL_MAX_ATTEMPTS;

	if (max > POL_MAX_ATTEMPTS)
		max = POL_MAX_ATTEMPTS;
	return attempt >= max || age_s >= POL_MAX_AGE_S;
}
