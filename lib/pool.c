#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "xmalloc.h"

#define POOL_CHUNK	(64 * 1024)

struct pool_chunk {
	struct pool_chunk	*next;
	size_t			 size;
	size_t			 used;
	max_align_t		 data[];
};

static struct pool_chunk *
chunk_new(size_t want)
{
	struct pool_chunk *c;
	size_t size = want > POOL_CHUNK ? want : POOL_CHUNK;

	c = xmalloc(sizeof(*c) + size);
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

void
pool_init(struct pool *p)
{
	p->first = p->head = chunk_new(POOL_CHUNK);
}

void *
pool_alloc(struct pool *p, size_t n)
{
	struct pool_chunk *c = p->head;
	const size_t align = sizeof(max_align_t);
	size_t off;

	if (n > SIZE_MAX - align)
		abort();
	off = (c->used + align - 1) & ~(align - 1);
	if (off > c->size || c->size - off < n) {
		c = chunk_new(n);
		c->next = p->head;
		p->head = c;
		off = 0;
	}
	c->used = off + n;
	return (char *)c->data + off;
}

void *
pool_calloc(struct pool *p, size_t nmemb, size_t size)
{
	void *v;

	if (size != 0 && nmemb > SIZE_MAX / size)
		abort();
	v = pool_alloc(p, nmemb * size);
	memset(v, 0, nmemb * size);
	return v;
}

char *
pool_strndup(struct pool *p, const char *s, size_t n)
{
	char *d = pool_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
pool_strdup(struct pool *p, const char *s)
{
	return pool_strndup(p, s, strlen(s));
}

char *
pool_printf(struct pool *p, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *d;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	d = pool_alloc(p, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

/* Frees every chunk but the first, so a worker's steady state allocates
 * nothing from malloc for ordinary requests. */
void
pool_reset(struct pool *p)
{
	struct pool_chunk *c, *next;

	for (c = p->head; c != p->first; c = next) {
		next = c->next;
		free(c);
	}
	p->head = p->first;
	p->first->used = 0;
}

void
pool_free(struct pool *p)
{
	pool_reset(p);
	free(p->first);
	p->first = p->head = NULL;
}
