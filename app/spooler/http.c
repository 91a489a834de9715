/* The spooler's HTTP client: libcurl multi, HTTP/1.1 keep-alive, handles
 * reused; the per-host connection cap, the socket-open hook and the
 * capture of answers (http.h). */
#include <sys/socket.h>

#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define HEADER_VALUE_MAX	1024	/* a captured header's value, at most */

struct xfer {
	struct xfer	*prev, *next;	/* in flight */
	struct http	*h;
	http_sock_check	 sock_check;
	void		*sock_arg;
	http_sock_why	 sock_why;
	const char	*why;
	CURL		*easy;
	void		*ctx;
	char		*body;
	char		*resp;
	size_t		 resplen, respcap;
	bool		 truncated;
	bool		 refused;
	char		*hdr[HTTP_CAPTURE_MAX];
	char		 refused_addr[INET6_ADDRSTRLEN + 16];
	char		 errbuf[CURL_ERROR_SIZE];
};

struct http {
	struct http_opts  o;
	size_t		  ncapture;
	CURLM		 *multi;
	CURLSH		 *checked;	/* the checked requests' connections */
	struct xfer	 *active;	/* in flight */
	CURL		**idle;		/* easy handles kept for reuse */
	size_t		  nidle;
	size_t		  inflight;
};

struct http *
http_new(const struct http_opts *o)
{
	struct http *h = xcalloc(1, sizeof(*h));
	size_t per_host = o->max_per_host > 0 ? o->max_per_host : o->max;

	h->o = *o;
	if (o->capture != NULL)
		while (o->capture[h->ncapture] != NULL)
			h->ncapture++;
	if (h->ncapture > HTTP_CAPTURE_MAX)
		log_fatalx("http_new: %zu headers to capture, at most %d",
		    h->ncapture, HTTP_CAPTURE_MAX);
	if ((h->multi = curl_multi_init()) == NULL)
		log_fatalx("curl_multi_init failed");
	h->idle = xcalloc(o->max, sizeof(*h->idle));
	/* Requests with an address check keep their connections in a cache
	 * of their own: a connection opened unchecked (the Graph API's) is
	 * never reused by a request that must be checked, and the reverse. */
	if ((h->checked = curl_share_init()) == NULL ||
	    curl_share_setopt(h->checked, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
		log_fatalx("curl_share_init failed");
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)o->max);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)per_host);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)o->max);
	/* HTTP/1.1: one request per connection at a time, no pipelining. */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
	return h;
}

void
http_free(struct http *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	curl_multi_cleanup(h->multi);
	curl_share_cleanup(h->checked);
	free(h->idle);
	free(h);
}

size_t
http_inflight(const struct http *h)
{
	return h->inflight;
}

size_t
http_room(const struct http *h)
{
	return h->o.max - h->inflight;
}

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, take, max = x->h->o.body_max;

	take = x->resplen >= max ? 0 : len < max - x->resplen ? len :
	    max - x->resplen;
	if (take < len)
		x->truncated = true;
	if (take == 0)
		return len;
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

/* Keeps the values of the headers asked for; a new status line (an
 * interim answer was followed by the final one) starts afresh. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, i, nl, vl;
	const char *v, *end = data + len;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		for (i = 0; i < HTTP_CAPTURE_MAX; i++) {
			free(x->hdr[i]);
			x->hdr[i] = NULL;
		}
		return len;
	}
	for (i = 0; i < x->h->ncapture; i++) {
		nl = strlen(x->h->o.capture[i]);
		if (len <= nl || data[nl] != ':' ||
		    strncasecmp(data, x->h->o.capture[i], nl) != 0)
			continue;
		for (v = data + nl + 1; v < end && (*v == ' ' || *v == '\t');
		    v++)
			;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			end--;
		vl = (size_t)(end - v);
		if (vl > HEADER_VALUE_MAX)
			vl = HEADER_VALUE_MAX;
		free(x->hdr[i]);
		x->hdr[i] = xmalloc(vl + 1);
		memcpy(x->hdr[i], v, vl);
		x->hdr[i][vl] = '\0';
		break;
	}
	return len;
}

/* Every connection the client opens passes here: the caller's check sees
 * the address the socket is for. */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;

	(void)purpose;
	if (x->sock_check(&a->addr, a->addrlen, x->sock_arg) == -1) {
		x->refused = true;
		x->why = x->sock_why != NULL ? x->sock_why(&a->addr,
		    a->addrlen) : NULL;
		if (getnameinfo(&a->addr, a->addrlen, x->refused_addr,
		    sizeof(x->refused_addr), NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(x->refused_addr, sizeof(x->refused_addr),
			    "an address of family %d", a->family);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Options every request has; kept on the handle across reuses. */
static CURL *
easy_new(const struct http *h)
{
	CURL *e;

	if ((e = curl_easy_init()) == NULL)
		log_fatalx("curl_easy_init failed");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
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
	if (h->ncapture > 0)
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	return e;
}

void
http_start(struct http *h, const struct http_req *r)
{
	struct xfer *x = xcalloc(1, sizeof(*x));
	CURLMcode mc;

	if (h->inflight >= h->o.max)
		log_fatalx("http_start: %zu requests in flight already",
		    h->inflight);
	x->h = h;
	x->easy = h->nidle > 0 ? h->idle[--h->nidle] : easy_new(h);
	x->ctx = r->ctx;
	x->body = r->body;
	curl_easy_setopt(x->easy, CURLOPT_URL, r->url);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, (long)(r->timeout_s > 0 ?
	    r->timeout_s : h->o.timeout_s));
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)r->len);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	if (h->ncapture > 0)
		curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	/* Reset on every start: the handle's last request may have had
	 * another check, or none (then curl opens sockets its own way). */
	x->sock_check = r->sock_check;
	x->sock_arg = r->sock_arg;
	x->sock_why = r->sock_why;
	curl_easy_setopt(x->easy, CURLOPT_SHARE,
	    r->sock_check != NULL ? h->checked : NULL);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION,
	    r->sock_check != NULL ? on_opensocket : NULL);
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETDATA,
	    r->sock_check != NULL ? x : NULL);
	/* A checked request goes to its host directly: through a proxy
	 * (https_proxy in the environment) the check would see only the
	 * proxy's address. */
	curl_easy_setopt(x->easy, CURLOPT_PROXY,
	    r->sock_check != NULL ? "" : NULL);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if ((mc = curl_multi_add_handle(h->multi, x->easy)) != CURLM_OK)
		log_fatalx("curl_multi_add_handle: %s", curl_multi_strerror(mc));
	x->next = h->active;
	if (h->active != NULL)
		h->active->prev = x;
	h->active = x;
	h->inflight++;
}

void
http_wait(struct http *h, int timeout_ms, int wake_fd)
{
	struct curl_waitfd wfd = { .fd = wake_fd, .events = CURL_WAIT_POLLIN };
	int running;

	curl_multi_poll(h->multi, wake_fd >= 0 ? &wfd : NULL,
	    wake_fd >= 0 ? 1 : 0, timeout_ms, NULL);
	curl_multi_perform(h->multi, &running);
}

/* True unless curl says the request cannot have left: no connection was
 * made, or nothing was written on it. */
static bool
xfer_maybe_sent(struct xfer *x, CURLcode rc)
{
	curl_off_t pre = 0, up = 0;
	long reqsize = 0;

	if (x->refused)
		return false;
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
xfer_finish(struct http *h, struct xfer *x, CURLcode rc,
    void (*fn)(const struct http_done *, void *), void *arg)
{
	struct http_done d;
	curl_off_t total = 0;
	size_t i;

	memset(&d, 0, sizeof(d));
	d.ctx = x->ctx;
	d.curl_code = (int)rc;
	d.curl_ok = rc == CURLE_OK;
	d.refused = x->refused && !d.curl_ok;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &d.http_status);
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total);
	d.total_ms = (long)(total / 1000);
	d.maybe_sent = d.curl_ok || xfer_maybe_sent(x, rc);
	if (d.refused) {
		snprintf(x->errbuf, sizeof(x->errbuf), "connection to %s "
		    "refused by the address check%s%s", x->refused_addr,
		    x->why != NULL ? ": " : "", x->why != NULL ? x->why : "");
		d.refused_addr = x->refused_addr;
		d.refused_why = x->why;
	}
	d.errtext = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
	d.body = x->resp != NULL ? x->resp : "";
	d.len = x->resplen;
	d.truncated = x->truncated;
	for (i = 0; i < HTTP_CAPTURE_MAX; i++)
		d.headers[i] = x->hdr[i];
	curl_multi_remove_handle(h->multi, x->easy);
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		h->active = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	h->inflight--;
	fn(&d, arg);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
	h->idle[h->nidle++] = x->easy;
	for (i = 0; i < HTTP_CAPTURE_MAX; i++)
		free(x->hdr[i]);
	free(x->body);
	free(x->resp);
	free(x);
}

void
http_collect(struct http *h, void (*fn)(const struct http_done *, void *),
    void *arg)
{
	struct CURLMsg *m;
	struct xfer *x;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		xfer_finish(h, x, m->data.result, fn, arg);
	}
}

void
http_abort_all(struct http *h, void (*fn)(const struct http_done *, void *),
    void *arg)
{
	struct xfer *x;

	/* First whatever finished meanwhile, then the rest as unfinished. */
	http_collect(h, fn, arg);
	while ((x = h->active) != NULL) {
		snprintf(x->errbuf, sizeof(x->errbuf),
		    "stopped with the request in flight");
		xfer_finish(h, x, CURLE_OPERATION_TIMEDOUT, fn, arg);
	}
}
