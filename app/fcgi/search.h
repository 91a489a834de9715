/* The substring search index's side of a write (search.c). */
#ifndef WZ_SEARCH_H
#define WZ_SEARCH_H
#include <stddef.h>

struct req;

/* The JSON array text of the trigrams of the n texts (NULLs skipped), in
 * the request's pool, for the search index; repeats are left in (its
 * inserts ignore them). */
const char	*req_trigrams(struct req *, const char *const *texts, size_t n);

#endif
