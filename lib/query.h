/* Query strings: "a=1&b=x%20y" into decoded pairs. Pure, no I/O. */
#ifndef WZ_QUERY_H
#define WZ_QUERY_H
#include <stdbool.h>
#include <stddef.h>

struct pool;

struct query_pair {
	const char	*key;
	const char	*val;
};

struct query {
	struct query_pair	*pairs;
	size_t			 n;
};

/* Parses qs into q, allocating from pool. Returns 0, or -1 if an escape is
 * malformed or a key or value is not valid UTF-8 (a 400 for the caller). */
int		 query_parse(struct pool *, const char *qs, struct query *q);
/* The last value of key, or NULL if absent. */
const char	*query_get(const struct query *, const char *key);

#endif
