/* The spooler's HTTP client (app/spooler/http.c) against a real listener on
 * loopback: an answer captured (status, a bounded body, the headers asked
 * for), and the socket-open hook refusing an address, which fails the
 * request cleanly without a connection. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "tests.h"
#include "xmalloc.h"

#define ANSWER_BODY	"{\"answer\":\"forty-two and a long tail\"}"

/* A listener on 127.0.0.1 with a port of the kernel's choosing. */
static int
listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ne(fd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* In a child: accepts one connection and answers nreq requests on it,
 * each 200 with ANSWER_BODY if its body was "ping", else 400; the last
 * answer closes the connection. A request on another connection is never
 * answered. */
static pid_t
serve(int lfd, int nreq)
{
	char buf[4096], reply[512];
	size_t len = 0, used;
	const char *end, *cl;
	ssize_t n;
	pid_t pid;
	int fd, ok, i;

	if ((pid = fork()) != 0)
		return pid;
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(1);
	for (i = 0; i < nreq; i++) {
		for (;;) {
			buf[len] = '\0';
			if ((end = strstr(buf, "\r\n\r\n")) != NULL &&
			    (cl = strcasestr(buf, "Content-Length: ")) != NULL &&
			    cl < end && len >= (size_t)(end + 4 - buf) +
			    (size_t)atoi(cl + 16))
				break;
			if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
				_exit(1);
			len += (size_t)n;
		}
		used = (size_t)(end + 4 - buf) + (size_t)atoi(cl + 16);
		ok = strncmp(buf, "POST /hook ", 11) == 0 &&
		    strncmp(end + 4, "ping", 4) == 0 && atoi(cl + 16) == 4;
		snprintf(reply, sizeof(reply), "HTTP/1.1 %s\r\nContent-Type: "
		    "application/json\r\nX-Request-Id:  abc-123 \r\n"
		    "Content-Length: %zu\r\n%s\r\n%s", ok ? "200 OK" :
		    "400 Bad Request", strlen(ANSWER_BODY), i == nreq - 1 ?
		    "Connection: close\r\n" : "", ANSWER_BODY);
		if (write(fd, reply, strlen(reply)) != (ssize_t)strlen(reply))
			_exit(1);
		memmove(buf, buf + used, len - used);
		len -= used;
	}
	close(fd);
	_exit(0);
}

struct seen {
	int	 calls;
	char	 addr[64];
	bool	 refuse;
	bool	 done;
	struct http_done d;
	char	 body[256], errtext[CURL_ERROR_SIZE + 128], hdr0[64];
	char	 raddr[64];
	bool	 hdr1_null;
};

static int
check(const struct sockaddr *sa, socklen_t len, void *arg)
{
	struct seen *s = arg;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	ck_assert_uint_ge(len, sizeof(*sin));
	s->calls++;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, s->addr, sizeof(s->addr));
	return s->refuse ? -1 : 0;
}

static void
collect(const struct http_done *d, void *arg)
{
	struct seen *s = d->ctx;

	(void)arg;
	s->done = true;
	s->d = *d;
	snprintf(s->body, sizeof(s->body), "%.*s", (int)d->len, d->body);
	snprintf(s->errtext, sizeof(s->errtext), "%s", d->errtext);
	snprintf(s->hdr0, sizeof(s->hdr0), "%s",
	    d->headers[0] != NULL ? d->headers[0] : "(none)");
	s->hdr1_null = d->headers[1] == NULL;
	snprintf(s->raddr, sizeof(s->raddr), "%s",
	    d->refused_addr != NULL ? d->refused_addr : "");
	s->d.refused_addr = s->d.refused_why = NULL;	/* the client's */
}

static void
run_one(struct seen *s, int port, size_t body_max)
{
	static const char *const capture[] = { "x-request-id", "retry-after",
	    NULL };
	struct http_opts o;
	struct http_req r;
	struct http *h;
	char url[64];

	memset(&o, 0, sizeof(o));
	o.max = 4;
	o.max_per_host = 1;
	o.timeout_s = 10;
	o.body_max = body_max;
	o.capture = capture;
	h = http_new(&o);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	memset(&r, 0, sizeof(r));
	r.url = url;
	r.body = xstrdup("ping");
	r.len = 4;
	r.sock_check = check;
	r.sock_arg = s;
	r.ctx = s;
	http_start(h, &r);
	ck_assert_uint_eq(http_inflight(h), 1);
	ck_assert_uint_eq(http_room(h), 3);
	while (!s->done) {
		http_wait(h, 100, -1);
		http_collect(h, collect, s);
	}
	ck_assert_uint_eq(http_inflight(h), 0);
	http_free(h);
}

START_TEST(http_answer_captured)
{
	struct seen s;
	int lfd, port, status;
	pid_t pid;

	memset(&s, 0, sizeof(s));
	lfd = listener(&port);
	pid = serve(lfd, 1);
	run_one(&s, port, 16);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lfd);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_str_eq(s.addr, "127.0.0.1");
	ck_assert(s.d.curl_ok);
	ck_assert(!s.d.refused);
	ck_assert_int_eq(s.d.http_status, 200);
	/* The body bounded at 16 bytes; the header trimmed; one absent. */
	ck_assert_uint_eq(s.d.len, 16);
	ck_assert(s.d.truncated);
	ck_assert_str_eq(s.body, "{\"answer\":\"forty");
	ck_assert_str_eq(s.hdr0, "abc-123");
	ck_assert(s.hdr1_null);
}
END_TEST

START_TEST(http_refused_address_fails_cleanly)
{
	struct pollfd pfd;
	struct seen s;
	int lfd, port;

	memset(&s, 0, sizeof(s));
	s.refuse = true;
	lfd = listener(&port);
	run_one(&s, port, 1024);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_str_eq(s.addr, "127.0.0.1");
	ck_assert(!s.d.curl_ok);
	ck_assert(s.d.refused);
	ck_assert(!s.d.maybe_sent);		/* nothing left: retry is safe */
	ck_assert_int_eq(s.d.http_status, 0);
	ck_assert_uint_eq(s.d.len, 0);
	ck_assert_str_eq(s.errtext, "connection to 127.0.0.1 refused by the "
	    "address check");
	/* No connection reached the listener. */
	pfd.fd = lfd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	close(lfd);
}
END_TEST

/* Two requests to one host under a cap of one connection per host: the
 * second waits inside curl for the first's connection (the server answers
 * on that one connection only: a second one would never be answered). */
START_TEST(http_per_host_cap)
{
	static struct seen s[2];
	struct http_opts o;
	struct http_req r;
	struct http *h;
	char url[64];
	int lfd, port, status, i;
	pid_t pid;

	memset(s, 0, sizeof(s));
	lfd = listener(&port);
	pid = serve(lfd, 2);
	memset(&o, 0, sizeof(o));
	o.max = 4;
	o.max_per_host = 1;
	o.timeout_s = 20;
	o.body_max = 1024;
	h = http_new(&o);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		r.url = url;
		r.body = xstrdup("ping");
		r.len = 4;
		r.sock_check = check;
		r.sock_arg = &s[i];
		r.ctx = &s[i];
		http_start(h, &r);
	}
	ck_assert_uint_eq(http_inflight(h), 2);
	while (!s[0].done || !s[1].done) {
		http_wait(h, 100, -1);
		http_collect(h, collect, NULL);
	}
	http_free(h);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lfd);
	for (i = 0; i < 2; i++) {
		ck_assert(s[i].d.curl_ok);
		ck_assert_int_eq(s[i].d.http_status, 200);
		ck_assert_str_eq(s[i].body, ANSWER_BODY);
	}
	/* One connection opened, so the address was checked once. */
	ck_assert_int_eq(s[0].calls + s[1].calls, 1);
}
END_TEST

static const char *
why(const struct sockaddr *sa, socklen_t len)
{
	(void)sa;
	(void)len;
	return "a loopback address";
}

/* Starts one request of the client and waits for its end. */
static void
one(struct http *h, const char *url, struct seen *s, bool checked)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.url = url;
	r.body = xstrdup("ping");
	r.len = 4;
	if (checked) {
		r.sock_check = check;
		r.sock_arg = s;
		r.sock_why = why;
	}
	r.ctx = s;
	http_start(h, &r);
	while (!s->done) {
		http_wait(h, 100, -1);
		http_collect(h, collect, NULL);
	}
}

/* A connection opened without a check (the Graph API's) is never reused
 * by a checked request (a webhook's): checked requests keep their own
 * connection cache, so the check sees every connection they use; the
 * unchecked connection stays for unchecked requests. */
START_TEST(http_checked_requests_keep_their_own_connections)
{
	static struct seen s[3];
	struct http_opts o;
	struct http *h;
	char url[64];
	int lfd, port, status, i;
	pid_t pid;

	memset(s, 0, sizeof(s));
	lfd = listener(&port);
	pid = serve(lfd, 2);		/* two requests on one connection */
	memset(&o, 0, sizeof(o));
	o.max = 4;
	o.timeout_s = 20;
	o.body_max = 1024;
	h = http_new(&o);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
	one(h, url, &s[0], false);
	ck_assert(s[0].d.curl_ok);
	/* The kept-alive connection is not the checked request's: a new one
	 * is checked, and refused, with the address and the reason. */
	s[1].refuse = true;
	one(h, url, &s[1], true);
	ck_assert_int_eq(s[1].calls, 1);
	ck_assert(s[1].d.refused);
	ck_assert_str_eq(s[1].raddr, "127.0.0.1");
	ck_assert_str_eq(s[1].errtext, "connection to 127.0.0.1 refused by "
	    "the address check: a loopback address");
	/* The unchecked one reuses its connection (the server answers on
	 * that one only). */
	one(h, url, &s[2], false);
	ck_assert(s[2].d.curl_ok);
	ck_assert_int_eq(s[2].d.http_status, 200);
	http_free(h);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lfd);
	for (i = 0; i < 3; i += 2)
		ck_assert_int_eq(s[i].calls, 0);
}
END_TEST

Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_new("client");

	tcase_add_test(tc, http_answer_captured);
	tcase_add_test(tc, http_refused_address_fails_cleanly);
	tcase_add_test(tc, http_per_host_cap);
	tcase_add_test(tc, http_checked_requests_keep_their_own_connections);
	suite_add_tcase(s, tc);
	return s;
}
