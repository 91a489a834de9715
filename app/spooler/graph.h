/* Requests to the Graph API over one libcurl multi handle: many in flight,
 * easy handles reused from a free list so connections stay alive
 * (curl's 10-at-a-time.c shows the loop). */
#ifndef WZ_SPOOLER_GRAPH_H
#define WZ_SPOOLER_GRAPH_H
#include <stdbool.h>
#include <stddef.h>

struct curl_slist;
struct graph;

/* One finished request, as graph_collect hands it over. */
struct graph_done {
	void		*ctx;		/* as given to graph_start */
	bool		 curl_ok;	/* a complete HTTP response arrived */
	int		 curl_code;	/* CURLcode */
	bool		 maybe_sent;	/* the whole request was written */
	const char	*errtext;	/* why, when !curl_ok */
	long		 http_status;
	const char	*body;		/* the response, NUL-terminated */
	size_t		 len;
};

#define GRAPH_CONNECT_TIMEOUT_S	5

/* max: requests in flight at most, in total and per host (so curl never
 * queues a request internally: one started here is on the wire);
 * timeout_s: a whole request's time at most (spooler.
 * graph_timeout_seconds), past which it ends unanswered. */
struct graph	*graph_new(size_t max, int timeout_s);
void		 graph_free(struct graph *);
size_t		 graph_inflight(const struct graph *);
size_t		 graph_room(const struct graph *);
/* Starts a POST of body (taken; freed when done) to url with headers
 * (borrowed: they must live until the request finishes). */
void		 graph_start(struct graph *, const char *url,
		    struct curl_slist *headers, char *body, size_t len,
		    void *ctx);
/* Waits up to timeout_ms for network activity or for wake_fd (-1: none)
 * to become readable, then moves the transfers along. */
void		 graph_wait(struct graph *, int timeout_ms, int wake_fd);
/* Calls fn for each finished request; the graph_done is valid only
 * during the call. */
void		 graph_collect(struct graph *,
		    void (*fn)(const struct graph_done *, void *), void *arg);
/* Stops every request in flight; fn sees each as unfinished (curl_ok
 * false, maybe_sent as far as the request got). */
void		 graph_abort_all(struct graph *,
		    void (*fn)(const struct graph_done *, void *), void *arg);

#endif
