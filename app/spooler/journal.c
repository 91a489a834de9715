/* The spooler's journal of results owed to the database.
 *
 * One file per spooler process, DIR/<holder>.journal, flock(2)ed by its
 * process for its whole life: several spoolers on one host share the
 * directory, never a file. A record is appended (one JSON line) when the
 * result is known, before it is written to the database; the file is
 * synced when records stay owed after a round's writes (spool.c says why
 * not before), and emptied whenever nothing is owed any more. A file no process holds belongs to a spooler that is
 * gone: the next spooler to start (or to look, every recovery pass) on
 * the host takes its records into its own file, syncs, and removes it.
 * Replaying a record twice is harmless: the writes check the message's
 * state (queue_message.c).
 *
 * The owner and an adopter race on a file only at its birth: the owner
 * checks after its flock that the path still names the file it locked,
 * and an adopter removes a file only while holding its lock. */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "journal.h"
#include "log.h"
#include "xmalloc.h"

#define SUFFIX		".journal"
#define LINE_DEPTH	4
#define QUEUE_MAX	255

struct journal {
	char	*dir;
	char	*name;		/* file name in dir */
	char	*path;
	int	 fd;
	bool	 dirty;		/* appended since the last sync */
	bool	 empty;		/* nothing in the file */
	bool	 own_read;	/* the earlier content was taken */
	bool	 failed;	/* an append or sync failed since last asked */
};

static const char *const kinds[] = {
	[REC_SENT] = "sent", [REC_FAILED] = "failed", [REC_RETRY] = "retry",
	[REC_REQUEUE] = "requeue", [REC_PAUSE] = "pause",
	[REC_AMBIGUOUS] = "ambiguous", [REC_WH_SUCCEEDED] = "wh_ok",
	[REC_WH_RETRY] = "wh_retry", [REC_WH_FAILED] = "wh_failed",
	[REC_WH_GONE] = "wh_gone", [REC_PARK] = "park",
};

void
rec_free(struct rec *r)
{
	if (r == NULL)
		return;
	free(r->wamid);
	free(r->title);
	free(r->message);
	free(r->holder);
	free(r->wclass);
	free(r->response);
	free(r);
}

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_object_add(o, k, json_object_new_string(v));
}

char *
journal_encode(const struct rec *r)
{
	struct json_object *o = json_object_new_object();
	char *line;

	if (r->queue != 0)
		json_object_object_add(o, "q",
		    json_object_new_int((int)r->queue));
	json_object_object_add(o, "k", json_object_new_string(kinds[r->kind]));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)r->id));
	if (r->has_code)
		json_object_object_add(o, "code",
		    json_object_new_int(r->code));
	if (r->delay_us != 0)
		json_object_object_add(o, "delay",
		    json_object_new_int64(r->delay_us));
	if (r->campaign != 0)
		json_object_object_add(o, "campaign",
		    json_object_new_int64((int64_t)r->campaign));
	add_str(o, "wamid", r->wamid);
	add_str(o, "title", r->title);
	add_str(o, "message", r->message);
	add_str(o, "holder", r->holder);
	if (r->attempt != 0)
		json_object_object_add(o, "attempt",
		    json_object_new_int(r->attempt));
	if (r->at_ms != 0)
		json_object_object_add(o, "at",
		    json_object_new_int64(r->at_ms));
	if (r->duration_ms != 0)
		json_object_object_add(o, "dur",
		    json_object_new_int64(r->duration_ms));
	add_str(o, "class", r->wclass);
	add_str(o, "resp", r->response);
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}

static char *
get_str(struct json_object *o, const char *k, bool *bad)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = true;
		return NULL;
	}
	return xstrdup(json_object_get_string(v));
}

struct rec *
journal_decode(const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o, *v;
	struct rec *r = NULL;
	bool bad = false;
	size_t i;

	if ((tok = json_tokener_new_ex(LINE_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))
		goto out;
	r = xcalloc(1, sizeof(*r));
	if (!json_object_object_get_ex(o, "k", &v) ||
	    !json_object_is_type(v, json_type_string))
		bad = true;
	else {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strcmp(json_object_get_string(v), kinds[i]) == 0)
				break;
		if (i == sizeof(kinds) / sizeof(kinds[0]))
			bad = true;
		r->kind = (enum rec_kind)i;
	}
	if (json_object_object_get_ex(o, "q", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > QUEUE_MAX)
			bad = true;
		else
			r->queue = (unsigned)json_object_get_int64(v);
	}
	if (!json_object_object_get_ex(o, "id", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		bad = true;
	else
		r->id = (unsigned long long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "code", &v)) {
		if (!json_object_is_type(v, json_type_int))
			bad = true;
		r->has_code = true;
		r->code = json_object_get_int(v);
	}
	if (json_object_object_get_ex(o, "delay", &v)) {
		if (!json_object_is_type(v, json_type_int))
			bad = true;
		r->delay_us = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(o, "campaign", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) <= 0)
			bad = true;
		else
			r->campaign = (unsigned long long)
			    json_object_get_int64(v);
	}
	r->wamid = get_str(o, "wamid", &bad);
	r->title = get_str(o, "title", &bad);
	r->message = get_str(o, "message", &bad);
	r->holder = get_str(o, "holder", &bad);
	if (json_object_object_get_ex(o, "attempt", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > INT_MAX)
			bad = true;
		else
			r->attempt = (int)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(o, "at", &v)) {
		if (!json_object_is_type(v, json_type_int))
			bad = true;
		r->at_ms = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(o, "dur", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > INT_MAX)
			bad = true;
		else
			r->duration_ms = (long)json_object_get_int64(v);
	}
	r->wclass = get_str(o, "class", &bad);
	r->response = get_str(o, "resp", &bad);
	if (bad) {
		rec_free(r);
		r = NULL;
	}
out:
	json_object_put(o);
	json_tokener_free(tok);
	return r;
}

/* ---- files ---------------------------------------------------------- */

/* The file name for a holder: its characters that are safe in a file
 * name, the others as '_'. */
static char *
file_name(const char *holder)
{
	size_t i, n = strlen(holder);
	char *s = xmalloc(n + sizeof(SUFFIX));

	for (i = 0; i < n; i++) {
		char c = holder[i];
		s[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' ? c : '_';
	}
	if (s[0] == '.')
		s[0] = '_';
	memcpy(s + n, SUFFIX, sizeof(SUFFIX));
	return s;
}

/* The directory, created if missing; it must be ours and closed to
 * others (it may be under /tmp). */
static void
dir_ready(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		log_fatalx("journal directory %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) == -1)
		log_fatalx("journal directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 0022) != 0)
		log_fatalx("journal directory %s: not a directory of ours "
		    "closed to others", dir);
}

/* Whether fd is still the file at path (not removed by an adopter). */
static bool
still_there(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

struct journal *
journal_open(const char *dir, const char *holder)
{
	struct journal *j;
	struct stat st;
	char last;

	dir_ready(dir);		/* first: it may end the program */
	j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(dir);
	j->name = file_name(holder);
	xasprintf(&j->path, "%s/%s", dir, j->name);
	for (;;) {
		j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (j->fd == -1)
			log_fatalx("journal %s: %s", j->path, strerror(errno));
		if (flock(j->fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				log_fatalx("journal %s is held by another "
				    "spooler: two spoolers on this host with "
				    "holder %s", j->path, holder);
			log_fatalx("journal %s: %s", j->path, strerror(errno));
		}
		if (still_there(j->fd, j->path))
			break;
		close(j->fd);	/* taken and removed meanwhile: again */
	}
	j->empty = fstat(j->fd, &st) == 0 && st.st_size == 0;
	j->own_read = j->empty;
	/* A line torn by a crash must not swallow the next record. */
	if (!j->empty && (pread(j->fd, &last, 1, st.st_size - 1) != 1 ||
	    last != '\n') && write(j->fd, "\n", 1) != 1)
		log_warnx("journal %s: %s", j->path, strerror(errno));
	return j;
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

int
journal_append(struct journal *j, const struct rec *r)
{
	char *line = journal_encode(r);
	size_t len = strlen(line), off = 0;
	off_t before = lseek(j->fd, 0, SEEK_END);
	ssize_t n;
	int rc = 0;

	while (off < len) {
		if ((n = write(j->fd, line + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			log_warnx("journal %s: %s: message %llu's result is "
			    "kept in memory only", j->path, strerror(errno),
			    r->id);
			/* No half line for the next record to join. */
			if (before != -1 && ftruncate(j->fd, before) == -1)
				log_warnx("journal %s: %s", j->path,
				    strerror(errno));
			j->failed = true;
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	free(line);
	j->dirty = true;
	j->empty = false;
	return rc;
}

void
journal_sync(struct journal *j)
{
	if (!j->dirty)
		return;
	if (fdatasync(j->fd) == -1) {
		log_warnx("journal %s: sync: %s", j->path, strerror(errno));
		j->failed = true;
	}
	j->dirty = false;
}

int
journal_rewrite(struct journal *j, const struct rec *recs)
{
	const struct rec *r;
	char *tmp, *line;
	size_t len;
	int fd, rc = -1;

	xasprintf(&tmp, "%s/.%s.tmp", j->dir, j->name);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto out;
	for (r = recs; r != NULL; r = r->next) {
		line = journal_encode(r);
		len = strlen(line);
		if (write(fd, line, len) != (ssize_t)len) {
			free(line);
			goto out;
		}
		free(line);
	}
	if (fdatasync(fd) == -1 || rename(tmp, j->path) == -1)
		goto out;
	/* Our lock moves with the new file: an adopter waiting on the old
	 * one finds it gone (still_there) and skips it. */
	close(j->fd);
	j->fd = fd;
	fd = -1;
	j->dirty = false;
	j->empty = recs == NULL;
	rc = 0;
out:
	if (rc == -1) {
		log_warnx("journal %s: rewrite: %s", j->path, strerror(errno));
		(void)unlink(tmp);
	}
	if (fd != -1)
		close(fd);
	free(tmp);
	return rc;
}

off_t
journal_size(const struct journal *j)
{
	struct stat st;

	return fstat(j->fd, &st) == 0 ? st.st_size : 0;
}

void
journal_clear(struct journal *j)
{
	if (j->empty)
		return;
	if (ftruncate(j->fd, 0) == -1)
		log_warnx("journal %s: truncate: %s", j->path, strerror(errno));
	else
		j->empty = true;
	j->dirty = false;
}

/* The whole content of fd, NUL-terminated; NULL on a read error. */
static char *
read_all(int fd, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	ssize_t n;

	for (;;) {
		if (len + 1 >= cap) {
			buf = xreallocarray(buf, cap, 2);
			cap *= 2;
		}
		n = pread(fd, buf + len, cap - len - 1, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Calls fn for each record in fd's file. */
static unsigned long
read_records(int fd, const char *path, bool appended,
    void (*fn)(struct rec *, bool, void *), void *arg, bool *ok)
{
	unsigned long n = 0;
	size_t len, i, start;
	struct rec *r;
	char *buf;

	if ((buf = read_all(fd, &len)) == NULL) {
		log_warnx("journal %s: %s", path, strerror(errno));
		*ok = false;
		return 0;
	}
	for (start = i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		if (i > start) {
			if ((r = journal_decode(buf + start, i - start)) ==
			    NULL)
				log_warnx("journal %s: a line that does not "
				    "parse (torn by a crash?) skipped", path);
			else {
				fn(r, appended, arg);
				n++;
			}
		}
		start = i + 1;
	}
	free(buf);
	return n;
}

unsigned long
journal_adopt(struct journal *j, void (*fn)(struct rec *, bool, void *),
    void *arg)
{
	unsigned long n = 0, got;
	bool ok = true;
	struct dirent *de;
	size_t l, sl = strlen(SUFFIX);
	char *path;
	DIR *d;
	int fd;

	if (!j->own_read) {
		j->own_read = true;
		if ((got = read_records(j->fd, j->path, true, fn, arg,
		    &ok)) > 0)
			log_info("journal %s: %lu result(s) of an earlier run "
			    "taken over", j->path, got);
		n += got;
	}
	if ((d = opendir(j->dir)) == NULL) {
		log_warnx("journal directory %s: %s", j->dir, strerror(errno));
		return n;
	}
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, SUFFIX) != 0 ||
		    strcmp(de->d_name, j->name) == 0 || de->d_name[0] == '.')
			continue;
		xasprintf(&path, "%s/%s", j->dir, de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == -1 ||
		    !still_there(fd, path)) {
			/* Held by a live spooler, or taken by another. */
			if (fd != -1)
				close(fd);
			free(path);
			continue;
		}
		ok = true;
		j->failed = false;
		got = read_records(fd, path, false, fn, arg, &ok);
		journal_sync(j);
		if (got > 0)
			log_info("journal %s: %lu result(s) of a spooler that "
			    "is gone taken over", path, got);
		/* Removed only once every record is safe in our file; else
		 * left for a later pass (its records, taken twice, write the
		 * same outcomes twice). */
		if (!ok || j->failed)
			log_warnx("journal %s: kept: its records could not all "
			    "be saved in %s", path, j->path);
		else if (unlink(path) == -1)
			log_warnx("journal %s: %s", path, strerror(errno));
		close(fd);
		free(path);
		n += got;
	}
	closedir(d);
	return n;
}

void
journal_close(struct journal *j, bool empty)
{
	if (empty) {
		journal_clear(j);
		if (unlink(j->path) == -1)
			log_warnx("journal %s: %s", j->path, strerror(errno));
	} else
		journal_sync(j);
	close(j->fd);
	free(j->dir);
	free(j->name);
	free(j->path);
	free(j);
}
