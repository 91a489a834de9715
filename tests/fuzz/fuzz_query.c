/* libFuzzer target: query strings, parsed before a request is
 * authenticated. Every pair query_parse returns is valid UTF-8 without a
 * NUL inside its length, and query_get finds each key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "query.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct query q;
	struct pool p;
	size_t i;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	pool_init(&p);
	if (query_parse(&p, s, &q) == 0) {
		if (q.n > 256)
			abort();
		for (i = 0; i < q.n; i++) {
			const struct query_pair *qp = &q.pairs[i];
			if (!utf8_valid(qp->key, strlen(qp->key)) ||
			    !utf8_valid(qp->val, strlen(qp->val)) ||
			    query_get(&q, qp->key) == NULL)
				abort();
		}
	}
	pool_free(&p);
	free(s);
	return 0;
}
