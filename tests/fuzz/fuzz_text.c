/* libFuzzer target: query strings, URL decoding, path patterns, trigrams,
 * phone numbers, email addresses, RFC 3339 times. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "query.h"
#include "text.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
count(const char *t, size_t len, void *arg)
{
	(void)t;
	*(size_t *)arg += len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), phone[PHONE_MAX + 1];
	int64_t ids[PATH_MAX_IDS];
	struct query q;
	struct pool p;
	size_t n = 0;
	time_t t;

	memcpy(s, data, size);
	s[size] = '\0';
	pool_init(&p);
	(void)query_parse(&p, s, &q);
	(void)path_match("/contacts/{id}/x/{id}", s, ids);
	(void)phone_normalize(s, strlen(s), phone);
	(void)email_valid(s, strlen(s));
	(void)time_parse_rfc3339(s, &t);
	if (utf8_valid(s, size))
		trigrams(s, size, count, &n);
	(void)url_decode(s, strlen(s), true);
	pool_free(&p);
	free(s);
	return 0;
}
