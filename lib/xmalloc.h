/* Allocation wrappers that never return NULL: running out of memory is a
 * broken invariant for a server process, so they abort loudly. */
#ifndef WZ_XMALLOC_H
#define WZ_XMALLOC_H
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
