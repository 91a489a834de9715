#include <string.h>

#include "pool.h"
#include "query.h"
#include "text.h"

int
query_parse(struct pool *pool, const char *qs, struct query *q)
{
	size_t cap = 1, i, len;
	const char *p;
	char *buf, *part, *next, *eq;
	long kl, vl;

	q->pairs = NULL;
	q->n = 0;
	if (qs == NULL || *qs == '\0')
		return 0;
	for (p = qs; *p; p++)
		if (*p == '&')
			cap++;
	if (cap > 256)
		return -1;
	q->pairs = pool_calloc(pool, cap, sizeof(*q->pairs));
	len = strlen(qs);
	buf = pool_strndup(pool, qs, len);
	for (part = buf, i = 0; part != NULL; part = next) {
		if ((next = strchr(part, '&')) != NULL)
			*next++ = '\0';
		if (*part == '\0')
			continue;
		if ((eq = strchr(part, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = part + strlen(part);
		if ((kl = url_decode(part, strlen(part), true)) < 0 ||
		    (vl = url_decode(eq, strlen(eq), true)) < 0)
			return -1;
		if (!utf8_valid(part, (size_t)kl) || !utf8_valid(eq, (size_t)vl) ||
		    memchr(part, '\0', (size_t)kl) != NULL ||
		    memchr(eq, '\0', (size_t)vl) != NULL)
			return -1;
		q->pairs[i].key = part;
		q->pairs[i].val = eq;
		i++;
	}
	q->n = i;
	return 0;
}

const char *
query_get(const struct query *q, const char *key)
{
	const char *v = NULL;
	size_t i;

	for (i = 0; i < q->n; i++)
		if (!strcmp(q->pairs[i].key, key))
			v = q->pairs[i].val;
	return v;
}
