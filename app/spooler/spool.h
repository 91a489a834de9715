/* The spooler's loop: drives its queues (queue.h; the outbound messages
 * are the first) until its mode says to stop: leases their lanes, claims
 * due work within each lane's rate, sends it over one HTTP client and
 * records the answers. */
#ifndef WZ_SPOOLER_SPOOL_H
#define WZ_SPOOLER_SPOOL_H
#include <signal.h>
#include <stddef.h>

struct config;
struct queue_ops;

enum spool_mode {
	SPOOL_ONCE,	/* work for max_seconds, then finish and exit */
	SPOOL_LOOP,	/* until a signal */
	SPOOL_DRAIN,	/* until nothing is due and nothing in flight */
};

struct spool_opts {
	const struct config	*cfg;
	enum spool_mode		 mode;
	const char		*holder;	/* lease holder name */
	const char		*journal_dir;	/* journal.c */
	int			 max_seconds;	/* 0: no time budget */
	size_t			 max_inflight;
	int			 wake_fd;	/* readable after a signal */
	int			 trace_fd;	/* --trace; -1: none */
	volatile sig_atomic_t	*signals;	/* SIGTERM/SIGINT received */
	const struct queue_ops	*const *queues;	/* the queues driven; the
						   order is the journal's */
	size_t			 nqueues;
};

/* Runs until the mode says to stop. Returns the process exit status: 0,
 * or 1 when the master key cannot be read. */
int	 spool_run(const struct spool_opts *);

#endif
