/* Outgoing webhooks' delivery policy (SPEC 6, the issue 11 design): what
 * an answer means, the retry schedule, Retry-After, the answer's excerpt.
 * Pure: no clock but the one passed in, no randomness but the jitter
 * passed in. queue_webhook.c applies it. */
#ifndef WZ_SPOOLER_WHPOLICY_H
#define WZ_SPOOLER_WHPOLICY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WH_TIMEOUT_S		10	/* a whole request: not scaled */
#define WH_CLAIM_EXPIRY_S	60	/* a claim's attempt is due again */
#define WH_FIRST_WAIT_MS	10000LL	/* after the first failure */
#define WH_ROUND_MS		(24LL * 3600 * 1000)	/* a round retries */
#define WH_DISABLE_MS		(3LL * 24 * 3600 * 1000) /* failing: off */
#define WH_EXCERPT_MAX		1024	/* the answer's bytes kept */

enum wh_verdict {
	WH_OK,		/* 2xx */
	WH_RETRY,	/* a failed attempt: again per the schedule */
	WH_GONE,	/* 410: the delivery fails, the webhook is disabled */
};

enum wh_class {
	WHC_NONE,	/* success */
	WHC_HTTP_STATUS,
	WHC_TIMEOUT,
	WHC_CONNECT,
	WHC_DNS,
	WHC_TLS,
	WHC_REFUSED,	/* the address check refused the target */
	WHC_REDIRECT,
	WHC_TRANSPORT,
};

/* webhook_attempts.error_class: NULL for WHC_NONE. */
const char	*wh_class_name(enum wh_class);
/* An answer: complete (curl_ok) with its status, or not with its
 * CURLcode; refused by the address check. */
enum wh_class	 wh_classify(bool curl_ok, int curl_code, bool refused,
		    long status, enum wh_verdict *);
/* The wait after failed attempt n (1-based) of a round: 10 s x 3^(n-1)
 * x (0.8 + 0.4 x jitter01) x scale, in ms (at least 1). */
int64_t		 wh_backoff_ms(unsigned n, double jitter01, double scale);
/* A Retry-After value (delay-seconds or an HTTP-date) as seconds from
 * now (0 for a date past); -1 when it is neither. */
long long	 wh_retry_after_s(const char *, time_t now);
/* After failed attempt n of a round whose end is left_ms away (<= 0:
 * reached): the wait before the next attempt in ms, cut to end at the
 * round's end; a Retry-After (seconds, -1: none) moves it within [wait,
 * 2 x wait]. -1: the round is over, the delivery fails. */
int64_t		 wh_next_wait_ms(unsigned n, double jitter01, double scale,
		    int64_t left_ms, long long retry_after_s);
/* The first WH_EXCERPT_MAX bytes at most of an answer as valid UTF-8
 * without NULs (each bad byte becomes U+FFFD), into out (WH_EXCERPT_MAX
 * + 1 bytes). Returns its length. */
size_t		 wh_excerpt(const char *, size_t, char *out);
/* The same for any text that goes into a record (an error, a class): at
 * most max bytes, cut only between characters, into out (max + 1). */
size_t		 wh_clean(const char *, size_t, char *out, size_t max);

#endif
