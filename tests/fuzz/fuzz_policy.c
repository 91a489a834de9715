/* libFuzzer target: the Graph API's answers as the spooler classifies them
 * (policy_classify: the error body, the wamid of a success), then the
 * backoff and give-up decisions on the outcome.
 *
 * Input: byte 0 flags (bit 0: a complete HTTP response arrived, bit 1: the
 * whole request was written), bytes 1-2 the HTTP status (big-endian,
 * modulo 1000), byte 3 the backoff's jitter, then the response body (also
 * the transport's error text when no response arrived).
 *
 * Invariants: the outcome is one of the defined actions, with the backoff
 * base and attempts of its table row (or of the transient row, or none);
 * a wamid only comes from a 2xx answer and is a valid one; title and
 * message are valid UTF-8 within their limits; the backoff stays within
 * the cap (or the row's longer base) times the jitter, never below a
 * recipient's floor; give-up holds at the attempt and age limits;
 * classifying twice gives the same outcome. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "text.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_text(const char *s, size_t size, size_t maxcp)
{
	size_t n = strnlen(s, size);

	if (n == size || !utf8_valid(s, n) || utf8_length(s, n) > maxcp)
		abort();
}

static void
check_row(const struct pol_outcome *o)
{
	const struct pol_rule *r = o->has_code ? policy_rule(o->code) : NULL;

	if (r != NULL) {
		if (o->action != r->action || o->base_s != r->base_s ||
		    o->max_attempts != r->max_attempts)
			abort();
		return;
	}
	switch (o->action) {
	case POL_SENT:
	case POL_PERMANENT:
		if (o->base_s != 0 || o->max_attempts != 0)
			abort();
		break;
	case POL_RETRY:
	case POL_AMBIGUOUS:
		/* the transient row */
		if (o->base_s != 1 || o->max_attempts != 12)
			abort();
		break;
	case POL_RETRY_RECIPIENT:
	case POL_PAUSE_ACCOUNT:
		abort();	/* only from a table row */
	}
	if (o->base_s < 0 || o->base_s > 3600 || o->max_attempts < 0 ||
	    o->max_attempts > POL_MAX_ATTEMPTS)
		abort();
}

static void
check_backoff(const struct pol_outcome *o, double r01)
{
	static const int attempts[] = { -1, 0, 1, 2, 3, 5, 8, 12, 20, 30, 31,
	    1000 };
	int base = o->base_s > 0 ? o->base_s : 1;
	double cap = base > POL_BACKOFF_CAP_S ? base : POL_BACKOFF_CAP_S;
	int64_t us;
	size_t i;

	for (i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		us = policy_backoff_us(o, attempts[i], r01);
		if (us <= 0 || (double)us > cap * 1.2 * 1e6 + 1)
			abort();
		if (o->action == POL_RETRY_RECIPIENT && us < (int64_t)base * 1000000)
			abort();
	}
	if (!policy_give_up(o, POL_MAX_ATTEMPTS, 0) ||
	    !policy_give_up(o, 1, POL_MAX_AGE_S) ||
	    (o->max_attempts > 1 && policy_give_up(o, 1, 0)) ||
	    (o->max_attempts > 0 && !policy_give_up(o, o->max_attempts, 0)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pol_outcome o, again;
	struct pol_input in;
	char *body, *errtext;
	double r01;
	size_t len;

	if (size < 4)
		return 0;
	len = size - 4;
	/* Exactly len bytes: a read past the body is ASan's to see. */
	body = malloc(len > 0 ? len : 1);
	errtext = malloc(len + 1);
	if (body == NULL || errtext == NULL)
		abort();
	memcpy(body, data + 4, len);
	memcpy(errtext, data + 4, len);
	errtext[len] = '\0';
	memset(&in, 0, sizeof(in));
	in.curl_ok = data[0] & 1;
	in.maybe_sent = (data[0] & 2) != 0;
	in.errtext = data[0] & 4 ? NULL : errtext;
	in.http_status = (long)((data[1] << 8 | data[2]) % 1000);
	in.body = len > 0 || (data[0] & 8) ? body : NULL;
	in.len = len;
	r01 = data[3] / 256.0;

	policy_classify(&in, &o);
	if ((unsigned)o.action > POL_AMBIGUOUS)
		abort();
	if (o.http_status != (in.curl_ok ? in.http_status : 0))
		abort();
	if (!in.curl_ok && (o.has_code || o.action != (in.maybe_sent ?
	    POL_AMBIGUOUS : POL_RETRY)))
		abort();
	if (o.action == POL_SENT && (!in.curl_ok || in.http_status < 200 ||
	    in.http_status > 299))
		abort();
	if (o.wamid[0] != '\0' && (o.action != POL_SENT ||
	    strnlen(o.wamid, sizeof(o.wamid)) == sizeof(o.wamid) ||
	    !wamid_valid(o.wamid)))
		abort();
	check_text(o.title, sizeof(o.title), POL_TITLE_MAX);
	check_text(o.message, sizeof(o.message), POL_MESSAGE_MAX);
	check_row(&o);
	check_backoff(&o, r01);

	policy_classify(&in, &again);
	if (memcmp(&o, &again, sizeof(o)) != 0)
		abort();
	free(body);
	free(errtext);
	return 0;
}
