/* A per-request arena: everything a request allocates comes from here and
 * is released at once by pool_reset() when the response is finished. */
#ifndef WZ_POOL_H
#define WZ_POOL_H
#include <stddef.h>

struct pool_chunk;

struct pool {
	struct pool_chunk	*head;	/* current chunk */
	struct pool_chunk	*first;	/* kept across resets */
};

void	 pool_init(struct pool *);
void	*pool_alloc(struct pool *, size_t);
void	*pool_calloc(struct pool *, size_t, size_t);
char	*pool_strndup(struct pool *, const char *, size_t);
char	*pool_strdup(struct pool *, const char *);
char	*pool_printf(struct pool *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 pool_reset(struct pool *);
void	 pool_free(struct pool *);

#endif
