/* Messages per second for one account: a sliding record of the start
 * times of the last mps requests. A request may start only when fewer than
 * mps started in the window before it, so no window of that length ever
 * holds more than mps starts (a token bucket refilled continuously would
 * allow up to twice its capacity in one second). Starts are also paced:
 * at most a twentieth of mps in any 50 ms, so a second's allowance is not
 * spent in one burst whose requests, spread by connection set-up at the
 * far end, could crowd into the next second's window there. Pure, no I/O. */
#ifndef WZ_SPOOLER_RATE_H
#define WZ_SPOOLER_RATE_H
#include <stdint.h>

struct rate {
	uint32_t	 mps;		/* 0: no limit */
	int64_t		 window_us;
	uint32_t	 n;		/* starts recorded, oldest at head */
	uint32_t	 head;
	int64_t		*t;		/* mps slots */
	uint32_t	 burst;		/* starts allowed per slice */
	int64_t		 slice_us;
};

/* window_us is one second plus a guard for the jitter between a start
 * here and its arrival at Meta. */
void	 rate_init(struct rate *, uint32_t mps, int64_t window_us);
void	 rate_free(struct rate *);
/* Requests that may start at now (UINT32_MAX without a limit). */
uint32_t rate_available(struct rate *, int64_t now);
/* Records a start at now. The caller checked rate_available first. */
void	 rate_take(struct rate *, int64_t now);
/* When the next request may start: now if one may, else the time the
 * oldest recorded start leaves the window. */
int64_t	 rate_next(struct rate *, int64_t now);

#endif
