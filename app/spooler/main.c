/* wazera-spooler: sends the outbound WhatsApp message queue through Meta's
 * Graph API, delivers the outgoing webhooks and expands due campaigns.
 *
 *   wazera-spooler [--config FILE] (--once | --loop | --drain)
 *       [--max-seconds N] [--holder NAME] [--lock-file PATH]
 *       [--max-inflight N] [--journal DIR] [--trace FILE]
 *
 * --once (cron, every minute) works for its time budget (spooler.
 * max_seconds, 55), looking for new work every 200 ms, then finishes the
 * requests in flight and exits. --drain exits as soon as nothing is due
 * and nothing is in flight. --loop runs until SIGTERM or SIGINT, which
 * stop new work, wait up to 10 s for the requests in flight (a second
 * signal: not at all), release the leases and exit 0.
 *
 * Any number of spoolers may run at once, on one host or many: they share
 * the work through the database (account leases and row locks: spool.c,
 * queue_message.c).
 * --lock-file PATH opts in to one spooler per lock file: an flock(2) on
 * PATH; --once then exits 0 at once when another holds it, --loop and
 * --drain wait for it.
 *
 * The holder name (the account leases' and claims' owner) is
 * host:pid:<16 random hex digits> unless --holder gives one: two
 * containers may share a host name and a pid.
 *
 * Results owed to the database are journaled in DIR/<holder>.journal
 * (journal.c): --journal DIR, by default /var/lib/wazera/spooler-<hash of
 * the config file's path> (${TMPDIR:-/tmp}/wazera-spooler-<uid>-<hash>
 * when /var/lib/wazera is not writable: not kept across a reboot). The
 * hash keeps the journals of configurations (databases) apart.
 *
 * --trace FILE appends a line for every request started: its start time
 * as the account's rate counted it (CLOCK_MONOTONIC seconds, the same
 * clock for every process of the host), "start", account id, message id,
 * attempt and holder. For tests and diagnosis: what the spooler did, not
 * when the other end saw it. */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "queues.h"
#include "spool.h"
#include "xmalloc.h"

#define HOLDER_MAX	128	/* whatsapp_accounts.lease_holder */
#define INFLIGHT_DEF	512
#define INFLIGHT_MAX	4096

/* The queues this spooler drives, in the journal's order (a record names
 * its queue by its place here: append, never reorder). */
static const struct queue_ops *const queues[] = {
	&queue_message,
	&queue_webhook,
	&queue_campaign,
};

static volatile sig_atomic_t signals;
static int wake[2] = { -1, -1 };

/* --help: on stdout, exit 0; a usage error: on stderr, exit 2. */
static void __attribute__((noreturn))
usage(int status)
{
	fputs("usage: wazera-spooler [--config FILE] (--once | --loop | "
	    "--drain)\n"
	    "                      [--max-seconds N] [--holder NAME] "
	    "[--lock-file PATH]\n"
	    "                      [--max-inflight N] [--journal DIR] "
	    "[--trace FILE]\n",
	    status == 0 ? stdout : stderr);
	exit(status);
}

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	signals++;
	if (wake[1] >= 0)
		(void)!write(wake[1], "x", 1);
	errno = saved;
}

static long
parse_num(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "wazera-spooler: --%s must be an integer from "
		    "%ld to %ld\n", opt, lo, hi);
		exit(2);
	}
	return v;
}

/* The default journal directory: one per configuration file on this
 * host. */
static char *
journal_default(const char *cfgpath)
{
	char abs[PATH_MAX], hex[17];
	uint8_t h[32];
	const char *dir = "/var/lib/wazera", *p = cfgpath;
	char *path;

	if (realpath(cfgpath, abs) != NULL)
		p = abs;
	sha256(p, strlen(p), h);
	hex_encode(h, 8, hex);
	if (access(dir, W_OK | X_OK) == 0) {
		xasprintf(&path, "%s/spooler-%s", dir, hex);
		return path;
	}
	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	xasprintf(&path, "%s/wazera-spooler-%ld-%s", dir, (long)geteuid(), hex);
	return path;
}

/* Takes the --lock-file lock. Returns the descriptor (kept open for the
 * life of the process), or -1 when --once finds it held or a signal came
 * while waiting: the caller exits 0. */
static int
lock_take(const char *path, bool wait)
{
	bool said = false;
	char pid[32];
	int fd, n;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		log_fatalx("lock file %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			log_fatalx("lock file %s: %s", path, strerror(errno));
		if (!wait || signals > 0) {
			close(fd);
			return -1;
		}
		if (!said)
			log_info("another spooler holds %s; waiting", path);
		said = true;
		usleep(500 * 1000);
	}
	/* For the operator: who holds it. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)n, 0);
	return fd;
}

/* Enough descriptors for the connections in flight: 2 x max + 64. The
 * requests in flight hold at most max sockets, but http.c keeps two
 * connection caches (unchecked requests' and the address-checked
 * webhook requests', apart so that a connection opened without the check
 * is never reused for one), each of which may hold up to max idle
 * connections beside those in use; 64 more for the database, the
 * journal, logs and curl's own (resolver, wakeups). When the limit
 * cannot be raised that far, fewer requests in flight. */
#define FD_SPARE	64

static size_t
fd_budget(size_t want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want * 2 + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return want;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max >= need ? need : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need) {
		size_t n = rl.rlim_cur > FD_SPARE + 64 ?
		    (size_t)(rl.rlim_cur - FD_SPARE) / 2 : 32;

		log_warnx("only %llu file descriptors: %zu requests in "
		    "flight at most", (unsigned long long)rl.rlim_cur, n);
		return n < want ? n : want;
	}
	return want;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	  required_argument, NULL, 'c' },
		{ "once",	  no_argument,	     NULL, 'o' },
		{ "loop",	  no_argument,	     NULL, 'l' },
		{ "drain",	  no_argument,	     NULL, 'd' },
		{ "max-seconds",  required_argument, NULL, 's' },
		{ "holder",	  required_argument, NULL, 'H' },
		{ "lock-file",	  required_argument, NULL, 'L' },
		{ "max-inflight", required_argument, NULL, 'i' },
		{ "journal",	  required_argument, NULL, 'j' },
		{ "trace",	  required_argument, NULL, 't' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config cfg;
	struct spool_opts o;
	struct sigaction sa;
	const char *cfgarg = NULL, *cfgpath;
	char *lockpath = NULL, *journal = NULL, *trace = NULL;
	char holder[HOLDER_MAX + 1];
	char host[256], err[512], rnd[17];
	uint8_t rb[8];
	long max_seconds = -1;
	int ch, modes = 0, lockfd = -1, rc;

	log_setname("wazera-spooler");
	/* libcurl's transfer buffers come and go by the thousand; with
	 * glibc's default, growing thresholds the freed space stays in the
	 * heap as fragments, and RSS creeps up over a long run. Fixed
	 * thresholds hand large blocks back (measured: +1 MiB per 20,000
	 * messages before, +0.2 MiB after). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	memset(&o, 0, sizeof(o));
	o.max_inflight = INFLIGHT_DEF;
	holder[0] = '\0';
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgarg = optarg;
			break;
		case 'o':
			o.mode = SPOOL_ONCE;
			modes++;
			break;
		case 'l':
			o.mode = SPOOL_LOOP;
			modes++;
			break;
		case 'd':
			o.mode = SPOOL_DRAIN;
			modes++;
			break;
		case 's':
			max_seconds = parse_num("max-seconds", optarg, 1, 86400);
			break;
		case 'H':
			if (*optarg == '\0' || strlen(optarg) > HOLDER_MAX) {
				fprintf(stderr, "wazera-spooler: --holder must "
				    "be 1 to %d characters\n", HOLDER_MAX);
				exit(2);
			}
			snprintf(holder, sizeof(holder), "%s", optarg);
			break;
		case 'L':
			free(lockpath);
			lockpath = xstrdup(optarg);
			break;
		case 'i':
			o.max_inflight = (size_t)parse_num("max-inflight",
			    optarg, 1, INFLIGHT_MAX);
			break;
		case 'j':
			if (*optarg == '\0')
				usage(2);
			free(journal);
			journal = xstrdup(optarg);
			break;
		case 't':
			if (*optarg == '\0')
				usage(2);
			free(trace);
			trace = xstrdup(optarg);
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc || modes != 1)
		usage(2);

	cfgpath = config_path(cfgarg);
	if (config_load(&cfg, cfgpath, err, sizeof(err)) == -1) {
		fprintf(stderr, "wazera-spooler: config: %s\n", err);
		return 1;
	}
	log_open(cfg.log_file);
	if (crypto_init() == -1)
		log_fatalx("libsodium failed to initialise");
	if (max_seconds > 0)
		o.max_seconds = (int)max_seconds;
	else if (o.mode == SPOOL_ONCE)
		o.max_seconds = cfg.spooler_max_seconds;
	if (holder[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		randombytes_buf(rb, sizeof(rb));
		hex_encode(rb, sizeof(rb), rnd);
		snprintf(holder, sizeof(holder), "%.90s:%ld:%s", host,
		    (long)getpid(), rnd);
	}
	o.holder = holder;
	if (journal == NULL)
		journal = journal_default(cfgpath);
	o.journal_dir = journal;
	o.cfg = &cfg;
	o.signals = &signals;
	o.max_inflight = fd_budget(o.max_inflight);
	o.trace_fd = -1;
	o.queues = queues;
	o.nqueues = sizeof(queues) / sizeof(queues[0]);
	/* A regular file of its own: no symlink followed (cron runs us as
	 * root, and the path may be in a shared directory), no FIFO to block
	 * on, no terminal. */
	if (trace != NULL && (o.trace_fd = open(trace, O_WRONLY | O_APPEND |
	    O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
	    0600)) == -1)
		log_fatalx("trace file %s: %s", trace, strerror(errno));
	if (o.trace_fd != -1) {
		struct stat st;
		if (fstat(o.trace_fd, &st) == -1 || !S_ISREG(st.st_mode))
			log_fatalx("trace file %s: not a regular file", trace);
	}

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1)
		log_fatalx("pipe: %s", strerror(errno));
	o.wake_fd = wake[0];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if (lockpath != NULL &&
	    (lockfd = lock_take(lockpath, o.mode != SPOOL_ONCE)) == -1) {
		free(lockpath);
		free(journal);
		free(trace);
		if (o.trace_fd != -1)
			close(o.trace_fd);
		config_free(&cfg);
		return 0;
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		log_fatalx("curl_global_init failed");
	rc = spool_run(&o);
	curl_global_cleanup();
	if (lockfd != -1)
		close(lockfd);
	close(wake[0]);
	close(wake[1]);
	if (o.trace_fd != -1)
		close(o.trace_fd);
	free(lockpath);
	free(journal);
	free(trace);
	config_free(&cfg);
	return rc;
}
