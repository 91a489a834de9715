/* A general HTTP client for the spooler's queues: many requests in flight
 * over one libcurl multi handle, easy handles reused from a free list so
 * connections stay alive (curl's 10-at-a-time.c shows the loop), a cap on
 * connections per host, a hook that sees every address before a socket
 * is opened to it (and may refuse it), and each answer captured: status,
 * a bounded body, the headers asked for. Knows nothing of any API: the
 * Graph API's URLs, token and errors are graph.c's. */
#ifndef WZ_SPOOLER_HTTP_H
#define WZ_SPOOLER_HTTP_H
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>

struct curl_slist;
struct http;

#define HTTP_CONNECT_TIMEOUT_S	5
#define HTTP_CAPTURE_MAX	8	/* response headers captured, at most */

/* Whether a connection may be opened to an address (after resolution:
 * the socket goes to this very address, so a name that resolves anew
 * cannot slip past). 0: open it; -1: refuse it, and the request fails
 * without a connection (http_done.refused). Only new connections pass
 * here: one kept alive is reused for the same host and port, so requests
 * that need a check must not share a host with requests that have none. */
typedef int	(*http_sock_check)(const struct sockaddr *, socklen_t,
		    void *arg);
/* Why an address was refused, for the error text ("a loopback
 * address"). */
typedef const char *(*http_sock_why)(const struct sockaddr *, socklen_t);

struct http_opts {
	size_t		 max;		/* requests in flight at most */
	size_t		 max_per_host;	/* connections per host; 0: max
					   (then no request ever waits inside
					   curl: one started is on the wire) */
	int		 timeout_s;	/* a whole request, unless the request
					   says otherwise */
	size_t		 body_max;	/* response bytes kept; the rest is
					   dropped (http_done.truncated) */
	const char	*const *capture; /* response header names to keep
					   (NULL-terminated, at most
					   HTTP_CAPTURE_MAX); NULL: none */
};

/* One request. */
struct http_req {
	const char		*url;
	struct curl_slist	*headers;	/* borrowed: must live until
						   the request finishes */
	char			*body;		/* POSTed; taken (freed when
						   done) */
	size_t			 len;
	int			 timeout_s;	/* 0: the client's */
	http_sock_check		 sock_check;	/* NULL: every address.
						   Checked requests share
						   connections only with
						   each other (their own
						   cache), never with
						   unchecked ones. */
	void			*sock_arg;
	http_sock_why		 sock_why;	/* NULL: no reason given */
	void			*ctx;		/* handed back in http_done */
};

/* One finished request, as http_collect hands it over. */
struct http_done {
	void		*ctx;		/* as given in http_req */
	bool		 curl_ok;	/* a complete HTTP response arrived */
	int		 curl_code;	/* CURLcode */
	bool		 maybe_sent;	/* the whole request was written */
	bool		 refused;	/* sock_check refused the address */
	const char	*refused_addr;	/* which (numeric), when refused */
	const char	*refused_why;	/* sock_why's reason, or NULL */
	const char	*errtext;	/* why, when !curl_ok */
	long		 http_status;
	const char	*body;		/* the response, NUL-terminated */
	size_t		 len;
	bool		 truncated;	/* longer than body_max */
	long		 total_ms;	/* the request's time */
	const char	*headers[HTTP_CAPTURE_MAX]; /* values of the captured
					   headers, as opts.capture orders
					   them; NULL: not in the answer */
};

struct http	*http_new(const struct http_opts *);
void		 http_free(struct http *);
size_t		 http_inflight(const struct http *);
size_t		 http_room(const struct http *);
/* Starts a request (a POST of its body). */
void		 http_start(struct http *, const struct http_req *);
/* Waits up to timeout_ms for network activity or for wake_fd (-1: none)
 * to become readable, then moves the transfers along. */
void		 http_wait(struct http *, int timeout_ms, int wake_fd);
/* Calls fn for each finished request; the http_done is valid only during
 * the call. */
void		 http_collect(struct http *,
		    void (*fn)(const struct http_done *, void *), void *arg);
/* Stops every request in flight; fn sees each as unfinished (curl_ok
 * false, maybe_sent as far as the request got). */
void		 http_abort_all(struct http *,
		    void (*fn)(const struct http_done *, void *), void *arg);

#endif
