#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

static const char *log_name = "wazera";
static char	*log_path;		/* NULL: standard error */
static int	 log_fd = STDERR_FILENO;
static time_t	 log_checked;		/* last look for a rotation */

void
log_setname(const char *name)
{
	log_name = name;
}

static int
log_reopen(void)
{
	int fd;

	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_open(const char *path)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
	if (path == NULL || *path == '\0')
		return;
	log_path = xstrdup(path);
	if (log_reopen() == -1) {
		int e = errno;

		free(log_path);
		log_path = NULL;
		log_warnx("log file %s: %s; logging to standard error", path,
		    strerror(e));
	}
	log_checked = time(NULL);
}

/* logrotate moved the file away (or removed it): the next line goes to a
 * new file by the old name. Looked at once a second. */
static void
log_rotated(time_t now)
{
	struct stat a, b;

	if (log_path == NULL || now == log_checked)
		return;
	log_checked = now;
	if (stat(log_path, &a) == 0 && fstat(log_fd, &b) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return;
	(void)log_reopen();	/* else the old file, still open, goes on */
}

static void
log_vwrite(const char *level, const char *fmt, va_list ap)
{
	char msg[2048], ts[32];
	struct tm tm;
	time_t now = time(NULL);

	log_rotated(now);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One write per line so lines of concurrent workers do not interleave. */
	dprintf(log_fd, "%s %s[%d] %s: %s\n", ts, log_name, (int)getpid(),
	    level, msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("info", fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("warn", fmt, ap);
	va_end(ap);
}

void
log_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}
