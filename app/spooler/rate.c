#include <stdint.h>
#include <stdlib.h>

#include "rate.h"
#include "xmalloc.h"

void
rate_init(struct rate *r, uint32_t mps, int64_t window_us)
{
	r->mps = mps;
	r->window_us = window_us;
	r->n = r->head = 0;
	r->t = mps > 0 ? xcalloc(mps, sizeof(*r->t)) : NULL;
	r->burst = mps / 20 > 0 ? mps / 20 : 1;
	r->slice_us = 50000;
}

/* Starts within the last slice, counted back from the newest (at most
 * burst of them are looked at). */
static uint32_t
rate_recent(const struct rate *r, int64_t now)
{
	uint32_t k = 0;

	while (k < r->n && k < r->burst &&
	    r->t[(r->head + r->n - 1 - k) % r->mps] > now - r->slice_us)
		k++;
	return k;
}

void
rate_free(struct rate *r)
{
	free(r->t);
	r->t = NULL;
}

/* Forgets the starts that left the window ending at now. */
static void
rate_expire(struct rate *r, int64_t now)
{
	while (r->n > 0 && r->t[r->head] <= now - r->window_us) {
		r->head = (r->head + 1) % r->mps;
		r->n--;
	}
}

uint32_t
rate_available(struct rate *r, int64_t now)
{
	uint32_t win, slice;

	if (r->mps == 0)
		return UINT32_MAX;
	rate_expire(r, now);
	win = r->mps - r->n;
	slice = r->burst - rate_recent(r, now);
	return win < slice ? win : slice;
}

void
rate_take(struct rate *r, int64_t now)
{
	if (r->mps == 0)
		return;
	rate_expire(r, now);
	if (r->n == r->mps)
		abort();	/* the caller did not ask first */
	r->t[(r->head + r->n) % r->mps] = now;
	r->n++;
}

int64_t
rate_next(struct rate *r, int64_t now)
{
	int64_t win, slice;

	if (rate_available(r, now) > 0)
		return now;
	win = r->n == r->mps ? r->t[r->head] + r->window_us : now;
	/* The slice is full: the oldest of its starts must leave it. */
	slice = rate_recent(r, now) == r->burst ?
	    r->t[(r->head + r->n - r->burst) % r->mps] + r->slice_us : now;
	return win > slice ? win : slice;
}
