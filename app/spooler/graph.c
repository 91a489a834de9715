/* The Graph API transport: libcurl multi, HTTP/1.1 keep-alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "graph.h"
#include "log.h"
#include "xmalloc.h"

#define RESP_MAX	(64 * 1024)	/* Meta's answers are a few hundred
					   bytes; the rest is dropped */

struct xfer {
	struct xfer	*prev, *next;	/* in flight */
	CURL		*easy;
	void		*ctx;
	char		*body;
	size_t		 bodylen;
	char		*resp;
	size_t		 resplen, respcap;
	char		 errbuf[CURL_ERROR_SIZE];
};

struct graph {
	CURLM		 *multi;
	struct xfer	 *active;	/* in flight */
	CURL		**idle;		/* easy handles kept for reuse */
	size_t		  nidle;
	size_t		  inflight;
	size_t		  max;
	long		  timeout_s;	/* a whole request, at most */
};

struct graph *
graph_new(size_t max, int timeout_s)
{
	struct graph *g = xcalloc(1, sizeof(*g));

	if ((g->multi = curl_multi_init()) == NULL)
		log_fatalx("curl_multi_init failed");
	g->max = max;
	g->timeout_s = timeout_s;
	g->idle = xcalloc(max, sizeof(*g->idle));
	curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max);
	curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max);
	curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, (long)max);
	/* HTTP/1.1: one request per connection at a time, no pipelining. */
	curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
	return g;
}

void
graph_free(struct graph *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->nidle; i++)
		curl_easy_cleanup(g->idle[i]);
	curl_multi_cleanup(g->multi);
	free(g->idle);
	free(g);
}

size_t
graph_inflight(const struct graph *g)
{
	return g->inflight;
}

size_t
graph_room(const struct graph *g)
{
	return g->max - g->inflight;
}

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, take;

	if (x->resplen >= RESP_MAX)
		return len;
	take = len < RESP_MAX - x->resplen ? len : RESP_MAX - x->resplen;
	if (x->resplen + take + 1 > x->respcap) {
		x->respcap = x->resplen + take + 1 < 1024 ? 1024 :
		    x->resplen + take + 1;
		x->resp = xreallocarray(x->resp, 1, x->respcap);
	}
	memcpy(x->resp + x->resplen, data, take);
	x->resplen += take;
	x->resp[x->resplen] = '\0';
	return len;
}

/* Options every request has; kept on the handle across reuses. */
static CURL *
easy_new(const struct graph *g)
{
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		log_fatalx("curl_easy_init failed");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)GRAPH_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, g->timeout_s);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "wazera-spooler/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	return e;
}

void
graph_start(struct graph *g, const char *url, struct curl_slist *headers,
    char *body, size_t len, void *ctx)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	CURLMcode mc;

	if (g->inflight >= g->max)
		log_fatalx("graph_start: %zu requests in flight already",
		    g->inflight);
	x->easy = g->nidle > 0 ? g->idle[--g->nidle] : easy_new(g);
	x->ctx = ctx;
	x->body = body;
	x->bodylen = len;
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if ((mc = curl_multi_add_handle(g->multi, x->easy)) != CURLM_OK)
		log_fatalx("curl_multi_add_handle: %s", curl_multi_strerror(mc));
	x->next = g->active;
	if (g->active != NULL)
		g->active->prev = x;
	g->active = x;
	g->inflight++;
}

void
graph_wait(struct graph *g, int timeout_ms, int wake_fd)
{
	struct curl_waitfd wfd = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };
	int running;

	curl_multi_poll(g->multi, wake_fd >= 0 ? &wfd : NULL,
	    wake_fd >= 0 ? 1 : 0, timeout_ms, NULL);
	curl_multi_perform(g->multi, &running);
}

/* True unless curl says the request cannot have left: no connection was
 * made, or nothing was written on it. */
static bool
xfer_maybe_sent(struct xfer *x, CURLcode rc)
{
	curl_off_t pre = 0, up = 0;
	long reqsize = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return false;
	default:
		break;
	}
	curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
	curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
	return pre > 0 || up > 0 || reqsize > 0;
}

/* Reports one transfer and puts its handle back on the free list. */
static void
xfer_finish(struct graph *g, struct xfer *x, CURLcode rc,
    void (*fn)(const struct graph_done *, void *), void *arg)
{
	struct graph_done d;

	memset(&d, 0, sizeof(d));
	d.ctx = x->ctx;
	d.curl_code = (int)rc;
	d.curl_ok = rc == CURLE_OK;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &d.http_status);
	d.maybe_sent = d.curl_ok || xfer_maybe_sent(x, rc);
	d.errtext = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
	d.body = x->resp != NULL ? x->resp : "";
	d.len = x->resplen;
	curl_multi_remove_handle(g->multi, x->easy);
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		g->active = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	g->inflight--;
	fn(&d, arg);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
	g->idle[g->nidle++] = x->easy;
	free(x->body);
	free(x->resp);
	free(x);
}

void
graph_collect(struct graph *g, void (*fn)(const struct graph_done *, void *),
    void *arg)
{
	struct CURLMsg *m;
	struct xfer *x;
	int left;

	while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_finish(g, x, m->data.result, fn, arg);
	}
}

void
graph_abort_all(struct graph *g, void (*fn)(const struct graph_done *, void *),
    void *arg)
{
	struct xfer *x;

	/* First whatever finished meanwhile, then the rest as unfinished. */
	graph_collect(g, fn, arg);
	while ((x = g->active) != NULL) {
		snprintf(x->errbuf, sizeof(x->errbuf),
		    "stopped with the request in flight");
		xfer_finish(g, x, CURLE_OPERATION_TIMEDOUT, fn, arg);
	}
}
