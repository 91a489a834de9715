/* wazera-fcgi: the API as a FastCGI application.
 *
 * Under a process manager (mod_fcgid, spawn-fcgi) the listening socket is
 * fd 0 and this process serves it alone. Standalone (--listen), it binds
 * the socket itself, pre-forks --workers processes that accept on it,
 * restarts any that dies, and on SIGTERM lets each finish its request. */
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "request.h"
#include "router.h"
#include "session.h"

#define WORKERS_MAX	256

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t busy;
static mode_t socket_mode = 0660;

/* --help: on stdout, exit 0; a usage error: on stderr, exit 2. */
static void
usage(int status)
{
	fprintf(status == 0 ? stdout : stderr, "usage: wazera-fcgi "
	    "[--config FILE] [--listen PATH|HOST:PORT] [--workers N] "
	    "[--user USER]\n"
	    "                   [--socket-mode OCTAL]\n");
	exit(status);
}

#ifdef WZ_COVERAGE
void __gcov_dump(void);
#endif

/* A worker ends with _exit(): nothing of the master's (atexit handlers,
 * stdio buffers) runs twice. A coverage build writes its counts first. */
static void
worker_exit(void)
{
#ifdef WZ_COVERAGE
	__gcov_dump();
#endif
	_exit(0);
}

#ifdef WZ_COVERAGE
/* Writing the counts allocates, which a signal handler must not do (a
 * worker stopped inside malloc() hung in the allocator's lock). So the
 * handler only ends the loop: accept() fails on EINTR
 * (FCGI_FAIL_ACCEPT_ON_INTR), and a signal that came just before the
 * worker entered accept() is followed by a SIGALRM a second later that
 * interrupts it. The counts are written outside the handler. */
#define ACCEPT_FLAGS	FCGI_FAIL_ACCEPT_ON_INTR

static void
worker_sigalrm(int sig)
{
	(void)sig;
}

static void
worker_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
	if (!busy)
		alarm(1);
}
#else
#define ACCEPT_FLAGS	0

static void
worker_sigterm(int sig)
{
	(void)sig;
	stopping = 1;
	if (!busy)
		worker_exit();	/* idle in accept(): nothing to finish */
}
#endif

/* FCGX_GetStr for req_read_body. */
static int
fcgi_get(char *buf, int n, void *in)
{
	return FCGX_GetStr(buf, n, in);
}

static const char *
status_text(int s)
{
	switch (s) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static void
write_response(FCGX_Request *fr, struct req *r)
{
	const char *body = reply_finish(r);
	char head[1024];
	int n;

	if (r->rl_known) {
		reply_header(r, "X-RateLimit-Limit", "%lld", r->rl_limit);
		reply_header(r, "X-RateLimit-Remaining", "%lld",
		    r->rl_remaining > 0 ? r->rl_remaining : 0);
		reply_header(r, "X-RateLimit-Reset", "%lld", r->rl_reset);
	}
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "X-Request-Id: %s\r\n"
	    "Cache-Control: no-store\r\n", r->status, status_text(r->status),
	    r->out_type ? r->out_type : "application/json; charset=utf-8",
	    r->id);
	FCGX_PutStr(head, n, fr->out);
	if (r->headers != NULL)
		FCGX_PutS(r->headers, fr->out);
	FCGX_PutStr("\r\n", 2, fr->out);
	FCGX_PutStr(body, (int)strlen(body), fr->out);
}

static void
serve_one(FCGX_Request *fr, struct req *r)
{
	req_params(r, fr->envp);
	random_hex(r->id, 8);
	req_read_body(r, FCGX_GetParam("CONTENT_LENGTH", fr->envp), fcgi_get,
	    fr->in);
	if (req_decode_url(r, FCGX_GetParam("QUERY_STRING", fr->envp)) == 0)
		router_dispatch(r);
	write_response(fr, r);
}

/* The request's line in the log, after its answer went out: who asked
 * (tenant, "-" before authentication), which route (its pattern, never the
 * path or the query, which may carry ids or tokens), the status and the
 * time taken. The method only as a plain token. */
static void
log_request(const struct req *r, const char *m, const struct timespec *t0)
{
	struct timespec t1;
	double ms;
	size_t i, n = strlen(m);

	for (i = 0; i < n; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			break;
	if (n == 0 || n > 16 || i < n)
		m = "?";
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
	if (r->tenant_id > 0)
		log_info("request id=%s tenant=%lld %s %s %d %.1fms", r->id,
		    (long long)r->tenant_id, m, r->route ? r->route : "-",
		    r->status, ms);
	else
		log_info("request id=%s tenant=- %s %s %d %.1fms", r->id, m,
		    r->route ? r->route : "-", r->status, ms);
}

/* Serves requests on fd until told to stop. */
static void
worker_loop(const struct config *cfg, int fd)
{
	FCGX_Request fr;
	struct req r;
	struct db *db;
	struct timespec t0;
	char method[24];

#ifdef WZ_COVERAGE
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = worker_sigalrm;
		sigaction(SIGALRM, &sa, NULL);
	}
#endif
	password_dummy_init();
	db = db_new(cfg);
	/* No API request may hold the database longer (issue 8). */
	db_set_statement_timeout(db, cfg->db_statement_timeout);
	if (db_connect(db) != DB_OK)
		log_warnx("database unavailable at start: %s", db_errmsg(db));
	if (FCGX_InitRequest(&fr, fd, ACCEPT_FLAGS) != 0)
		log_fatalx("FCGX_InitRequest failed");
	memset(&r, 0, sizeof(r));
	pool_init(&r.pool);
	while (!stopping) {
		busy = 0;
		if (stopping || FCGX_Accept_r(&fr) < 0)
			break;
		busy = 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r.db = db;
		r.cfg = cfg;
		serve_one(&fr, &r);
		/* The method lives in the params FCGX_Finish_r frees. */
		snprintf(method, sizeof(method), "%s", r.method ? r.method :
		    "");
		FCGX_Finish_r(&fr);
		if (cfg->log_requests)
			log_request(&r, method, &t0);
		json_object_put(r.json);
		json_object_put(r.out);
		pool_reset(&r.pool);
		{
			struct pool keep = r.pool;
			memset(&r, 0, sizeof(r));
			r.pool = keep;
		}
	}
	pool_free(&r.pool);
	db_free(db);
}

/* A whole number in base within lo..hi, else a fatal error naming opt. */
static long
option_number(const char *s, int base, long lo, long hi, const char *opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		log_fatalx(base == 8 ? "%s must be an octal mode, %lo to %lo" :
		    "%s must be %ld to %ld", opt, lo, hi);
	return v;
}

/* Binds and listens on a socket path or HOST:PORT (HOST empty or "*": every
 * address; an IPv6 address in brackets). Not FCGX_OpenSocket(): on a
 * failure that exit()s with errno as the status, past our log. */
static int
listen_socket(const char *addr, bool is_path)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_un sun;
	char host[256];
	const char *colon, *h;
	size_t hlen;
	int fd = -1, one = 1, e;
	bool bracketed = false;
	mode_t old_mask;

	if (is_path) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(addr) >= sizeof(sun.sun_path))
			log_fatalx("cannot listen on %s: the path is longer than "
			    "%zu bytes", addr, sizeof(sun.sun_path) - 1);
		memcpy(sun.sun_path, addr, strlen(addr) + 1);
		/* Born with its mode: nobody connects in the moment
		 * before the chmod() that follows. */
		old_mask = umask(~socket_mode & 0777);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    listen(fd, 1024) == -1)
			log_fatalx("cannot listen on %s: %s", addr,
			    strerror(errno));
		umask(old_mask);
		return fd;
	}
	colon = strrchr(addr, ':');
	h = addr;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
		bracketed = true;
	}
	if (hlen >= sizeof(host))
		log_fatalx("cannot listen on %s: the host name is too long", addr);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	/* IPv4 unless an IPv6 address is given in brackets, as libfcgi's
	 * FCGX_OpenSocket did: "localhost:9000" must not become ::1 only
	 * where the resolver puts it first, with nginx dialling 127.0.0.1. */
	hints.ai_family = bracketed ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(hlen == 0 || !strcmp(host, "*") ? NULL : host,
	    colon + 1, &hints, &res)) != 0)
		log_fatalx("cannot listen on %s: %s", addr, gai_strerror(e));
	errno = 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol)) == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	freeaddrinfo(res);
	if (fd == -1)
		log_fatalx("cannot listen on %s: %s", addr, strerror(errno));
	return fd;
}

static void
drop_privileges(const char *user, const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		log_fatalx("cannot become %s: %s", user, strerror(errno));
	if (pw->pw_uid != 0 && (setuid(0) != -1 || getuid() == 0))
		log_fatalx("dropping privileges to %s did not stick", user);
}

/* Forks a worker serving fd. Returns its pid, or -1 with errno set. */
static pid_t
spawn_worker(const struct config *cfg, int fd)
{
	pid_t pid;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		struct sigaction sa;
		/* A worker outliving a killed master would hold the socket. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = worker_sigterm;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		sigset_t set;
		sigemptyset(&set);
		sigprocmask(SIG_SETMASK, &set, NULL);
		worker_loop(cfg, fd);
		worker_exit();
	}
	return pid;
}

static void
master_sig(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGCHLD only has to interrupt the master's wait (see run_master). */
static void
master_sigchld(int sig)
{
	(void)sig;
}

/* Seconds on a clock that never jumps. */
static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* One worker slot of the master: the worker's pid, or -1 while the slot is
 * empty, and when the slot may be filled next. */
struct slot {
	pid_t	pid;
	time_t	started;
	time_t	due;
};

/* Fills every empty slot that is due. A failed fork (EAGAIN at the
 * process limit, ENOMEM) is retried a second later: a slot is never given
 * up, so the master gets back to nworkers once forks work again. */
static void
master_fill(const struct config *cfg, int fd, struct slot *slots, int n,
    time_t now)
{
	int i;

	for (i = 0; i < n; i++) {
		if (slots[i].pid > 0 || slots[i].due > now)
			continue;
		if ((slots[i].pid = spawn_worker(cfg, fd)) == -1) {
			log_warnx("fork for worker slot %d: %s; retrying in 1 s",
			    i, strerror(errno));
			slots[i].due = now + 1;
		} else
			slots[i].started = now;
	}
}

/* Reaps every worker that exited and empties its slot. One that died
 * within a second of its start is replaced a second later, so a worker
 * dying at once, again and again, is throttled. */
static void
master_reap(struct slot *slots, int n, time_t now)
{
	pid_t pid;
	int i, status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++)
			if (slots[i].pid == pid)
				break;
		if (i == n)
			continue;
		slots[i].pid = -1;
		slots[i].due = now - slots[i].started < 1 ? now + 1 : now;
		if (!stopping)
			log_warnx("worker %d exited (status %d); restarting",
			    (int)pid, status);
	}
}

static int
run_master(const struct config *cfg, const char *listen_addr, int nworkers,
    const char *user)
{
	struct slot slots[WORKERS_MAX];
	struct sigaction sa;
	sigset_t block, waitmask;
	struct timespec ts;
	int fd, i, status, alive;
	bool is_path = strchr(listen_addr, '/') != NULL;
	time_t now, next;
	pid_t pid;

	if (!is_path && strchr(listen_addr, ':') == NULL)
		log_fatalx("--listen takes a socket path or HOST:PORT");
	if (is_path)
		unlink(listen_addr);
	fd = listen_socket(listen_addr, is_path);
	if (is_path && chmod(listen_addr, socket_mode) == -1)
		log_fatalx("chmod %s: %s", listen_addr, strerror(errno));
	if (user != NULL) {
		/* The socket belongs to the user we become, so the web
		 * server in its group can connect and we can remove it. */
		struct passwd *pw = getpwnam(user);
		if (pw == NULL)
			log_fatalx("unknown user %s", user);
		if (is_path && chown(listen_addr, pw->pw_uid, pw->pw_gid) == -1)
			log_fatalx("chown %s: %s", listen_addr, strerror(errno));
		drop_privileges(user, pw);
	}

	/* The signals that end the wait stay blocked outside pselect(), so
	 * none slips in between a check and the wait (workers unblock them
	 * in spawn_worker). */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGCHLD);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = master_sigchld;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* Half the workers at most check passwords at once: the rest serve
	 * the API whatever sign-ins cost (session.c). */
	session_checks_init(nworkers > 1 ? nworkers / 2 : 1);
	now = mono_now();
	for (i = 0; i < nworkers; i++) {
		slots[i].pid = -1;
		slots[i].started = slots[i].due = now;
	}
	master_fill(cfg, fd, slots, nworkers, now);
	log_info("listening on %s with %d workers", listen_addr, nworkers);
	while (!stopping) {
		now = mono_now();
		master_reap(slots, nworkers, now);
		if (stopping)
			break;
		master_fill(cfg, fd, slots, nworkers, now);
		/* Sleep until a signal, or until the next empty slot is due. */
		next = now + 3600;
		for (i = 0; i < nworkers; i++)
			if (slots[i].pid <= 0 && slots[i].due < next)
				next = slots[i].due;
		ts.tv_sec = next > now ? next - now : 0;
		ts.tv_nsec = 0;
		if (pselect(0, NULL, NULL, NULL, &ts, &waitmask) == -1 &&
		    errno != EINTR)
			log_warnx("pselect: %s", strerror(errno));
	}
	alive = 0;
	for (i = 0; i < nworkers; i++)
		if (slots[i].pid > 0) {
			kill(slots[i].pid, SIGTERM);
			alive++;
		}
	log_info("draining %d workers", alive);
	while (alive > 0) {
		pid = waitpid(-1, &status, 0);
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < nworkers; i++)
			if (slots[i].pid == pid) {
				slots[i].pid = -1;
				alive--;
			}
	}
	close(fd);
	if (is_path)
		unlink(listen_addr);
	log_info("stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "listen",	required_argument, NULL, 'l' },
		{ "workers",	required_argument, NULL, 'w' },
		{ "user",	required_argument, NULL, 'u' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfgarg = NULL, *listen_addr = NULL, *user = NULL;
	struct config cfg;
	char err[512];
	int ch, workers = 4, rc;

	log_setname("wazera-fcgi");
	while ((ch = getopt_long(argc, argv, "c:l:w:u:m:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgarg = optarg;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'w':
			workers = (int)option_number(optarg, 10, 1, WORKERS_MAX,
			    "--workers");
			break;
		case 'u':
			user = optarg;
			break;
		case 'm':
			socket_mode = (mode_t)option_number(optarg, 8, 0, 0777,
			    "--socket-mode");
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (config_load(&cfg, config_path(cfgarg), err, sizeof(err)) == -1)
		log_fatalx("config: %s", err);
	log_open(cfg.log_file);
	if (crypto_init() == -1)
		log_fatalx("libsodium failed to initialise");
	if (FCGX_Init() != 0)
		log_fatalx("FCGX_Init failed");
	if (listen_addr != NULL)
		rc = run_master(&cfg, listen_addr, workers, user);
	else {
		/* Under a process manager: the socket is fd 0. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = worker_sigterm;
		sigaction(SIGTERM, &sa, NULL);
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
		worker_loop(&cfg, 0);
		rc = 0;
	}
	config_free(&cfg);
	return rc;
}
