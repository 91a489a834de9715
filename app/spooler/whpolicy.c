/* Outgoing webhooks' delivery policy (whpolicy.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "text.h"
#include "whpolicy.h"

const char *
wh_class_name(enum wh_class c)
{
	switch (c) {
	case WHC_NONE:
		break;
	case WHC_HTTP_STATUS:
		return "http_status";
	case WHC_TIMEOUT:
		return "timeout";
	case WHC_CONNECT:
		return "connect";
	case WHC_DNS:
		return "dns";
	case WHC_TLS:
		return "tls";
	case WHC_REFUSED:
		return "refused_target";
	case WHC_REDIRECT:
		return "redirect";
	case WHC_TRANSPORT:
		return "transport";
	}
	return NULL;
}

enum wh_class
wh_classify(bool curl_ok, int curl_code, bool refused, long status,
    enum wh_verdict *v)
{
	*v = WH_RETRY;
	if (refused)
		return WHC_REFUSED;
	if (curl_ok) {
		if (status >= 200 && status <= 299) {
			*v = WH_OK;
			return WHC_NONE;
		}
		if (status == 410)
			*v = WH_GONE;
		return status >= 300 && status <= 399 ? WHC_REDIRECT :
		    WHC_HTTP_STATUS;
	}
	switch (curl_code) {
	case CURLE_OPERATION_TIMEDOUT:
		return WHC_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return WHC_DNS;
	case CURLE_COULDNT_CONNECT:
		return WHC_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return WHC_TLS;
	default:
		return WHC_TRANSPORT;
	}
}

int64_t
wh_backoff_ms(unsigned n, double jitter01, double scale)
{
	double ms = (double)WH_FIRST_WAIT_MS;
	unsigned i;

	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 > 1)
		jitter01 = 1;
	for (i = 1; i < n && ms < 1e13; i++)
		ms *= 3;
	ms *= (0.8 + 0.4 * jitter01) * scale;
	if (ms > 1e13)
		ms = 1e13;
	return ms < 1 ? 1 : (int64_t)ms;
}

long long
wh_retry_after_s(const char *v, time_t now)
{
	struct tm tm;
	const char *end;
	long long n = 0;
	time_t t;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		for (; isdigit((unsigned char)*v); v++)
			if ((n = n * 10 + (*v - '0')) > 100000000LL)
				n = 100000000LL;
		while (*v == ' ' || *v == '\t')
			v++;
		return *v == '\0' ? n : -1;
	}
	/* IMF-fixdate (RFC 9110 5.6.7), the one form senders must use. */
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* Capped as a number of seconds is (a date centuries ahead). */
	if (t <= now)
		return 0;
	return t - now > (time_t)100000000 ? 100000000LL :
	    (long long)(t - now);
}

int64_t
wh_next_wait_ms(unsigned n, double jitter01, double scale, int64_t left_ms,
    long long retry_after_s)
{
	int64_t wait, ra;

	if (left_ms <= 0)
		return -1;
	wait = wh_backoff_ms(n, jitter01, scale);
	if (retry_after_s >= 0) {
		ra = retry_after_s > 1000000000LL ? 1000000000000LL :
		    retry_after_s * 1000;
		wait = ra < wait ? wait : ra > 2 * wait ? 2 * wait : ra;
	}
	return wait > left_ms ? left_ms : wait;
}

/* The length of the valid UTF-8 sequence at s (len bytes left), 0 if
 * none. */
static size_t
seq_len(const unsigned char *s, size_t len)
{
	size_t n = *s < 0x80 ? 1 : *s >= 0xc2 && *s <= 0xdf ? 2 :
	    *s >= 0xe0 && *s <= 0xef ? 3 : *s >= 0xf0 && *s <= 0xf4 ? 4 : 0;

	if (n == 0 || n > len || (n == 1 && *s == 0))
		return 0;
	return utf8_valid((const char *)s, n) ? n : 0;
}

size_t
wh_clean(const char *in, size_t len, char *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, n;

	while (i < len) {
		if ((n = seq_len(s + i, len - i)) == 0) {
			if (o + 3 > max)
				break;
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return o;
}

size_t
wh_excerpt(const char *in, size_t len, char *out)
{
	return wh_clean(in, len, out, WH_EXCERPT_MAX);
}
