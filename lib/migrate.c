/* The migration engine: sql/schema/ applied once per file, sql/routines/
 * applied again whenever a file's text changes (migrate.h). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "migrate.h"
#include "pool.h"
#include "xmalloc.h"

/* Before the baseline, the schema was eleven numbered files (001_core ...
 * 011_account_pause), squashed into schema/001_baseline.sql before the
 * first release. A database those files migrated to their end holds the
 * baseline already. */
#define LEGACY_LAST	"011_account_pause"
#define LEGACY_FIRST	"001_core"
#define BASELINE	"001_baseline"

struct sqlfile {
	char	*name;		/* "001_baseline.sql" */
	char	*text;
	size_t	 len;
	char	 sum[65];	/* SHA-256, hex */
};

struct files {
	struct sqlfile	*v;
	size_t		 n;
};

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sqlfile *)a)->name,
	    ((const struct sqlfile *)b)->name);
}

static void
files_free(struct files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].text);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

static char *
read_all(const char *path, size_t *len)
{
	FILE *f;
	char *buf;
	long n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The *.sql files of dir/sub, in name order, read with their checksums.
 * numbered: only names that start with a digit (schema files). */
static int
files_read(const char *dir, const char *sub, bool numbered,
    struct files *out, char *err, size_t errlen)
{
	char *path;
	DIR *d;
	const struct dirent *de;
	uint8_t sum[32];
	size_t i;

	out->v = NULL;
	out->n = 0;
	xasprintf(&path, "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || strcmp(de->d_name + l - 4, ".sql") != 0 ||
		    de->d_name[0] == '.' ||
		    (numbered && (de->d_name[0] < '0' || de->d_name[0] > '9')))
			continue;
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n].name = xstrdup(de->d_name);
		out->v[out->n].text = NULL;
		out->n++;
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), name_cmp);
	for (i = 0; i < out->n; i++) {
		struct sqlfile *f = &out->v[i];
		char *fp;

		xasprintf(&fp, "%s/%s", path, f->name);
		if ((f->text = read_all(fp, &f->len)) == NULL) {
			fail(err, errlen, "%s: %s", fp, strerror(errno));
			free(fp);
			free(path);
			files_free(out);
			return -1;
		}
		free(fp);
		sha256(f->text, f->len, sum);
		hex_encode(sum, sizeof(sum), f->sum);
	}
	free(path);
	return 0;
}

int
migrate_latest(const char *dir, char *out, size_t outlen)
{
	char *path;
	DIR *d;
	const struct dirent *de;
	char best[256] = "", name[256];

	xasprintf(&path, "%s/schema", dir);
	d = opendir(path);
	free(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 5 || l - 4 >= sizeof(best) ||
		    strcmp(de->d_name + l - 4, ".sql") != 0 ||
		    de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 4), de->d_name);
		if (strcmp(name, best) > 0)
			memcpy(best, name, sizeof(best));
	}
	closedir(d);
	if (best[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	snprintf(out, outlen, "%s", best);
	return 0;
}

/* The row of `name` in a (name, checksum) result, or -1. */
static long
row_of(const struct db_res *res, const char *name)
{
	size_t k;

	for (k = 0; k < res->nrows; k++)
		if (strcmp(db_str(res, k, 0), name) == 0)
			return (long)k;
	return -1;
}

static int
record(struct db *db, enum sql stmt, const char *name, const char *sum,
    char *err, size_t errlen)
{
	struct db_arg b[2];

	b[0] = DBA_STR(name);
	b[1] = DBA_STR(sum);
	if (db_exec(db, stmt, b, 2, NULL, NULL) != DB_OK)
		return fail(err, errlen, "%s: %s", name, db_errmsg(db));
	return 0;
}

/* A database the numbered files migrated: to their end, it holds the
 * baseline, which is recorded as applied; part of the way, it cannot be
 * brought here. 1: recorded, 0: not such a database, -1: error. */
static int
legacy(struct db *db, const struct db_res *done, const struct files *schema,
    char *err, size_t errlen)
{
	size_t i;

	if (row_of(done, BASELINE) != -1 || row_of(done, LEGACY_FIRST) == -1)
		return 0;
	if (row_of(done, LEGACY_LAST) == -1)
		return fail(err, errlen, "this database was migrated by the "
		    "numbered sql files of an earlier Wazera but not to their "
		    "end (%s); finish that version's migrate first",
		    LEGACY_LAST);
	for (i = 0; i < schema->n; i++)
		if (strncmp(schema->v[i].name, BASELINE ".sql",
		    sizeof(BASELINE ".sql")) == 0)
			return record(db, SQL_MIGRATION_INSERT, BASELINE,
			    schema->v[i].sum, err, errlen) == 0 ? 1 : -1;
	return 0;
}

static int
run(struct db *db, struct pool *pool, const char *dir, migrate_note_fn note,
    struct migrate_out *out, char *err, size_t errlen)
{
	struct files schema, routines;
	struct db_res done, rdone, fit;
	char version[256], file[300];
	size_t i;
	long k;
	int rc = -1, l;

	if (files_read(dir, "schema", true, &schema, err, errlen) != 0)
		return -1;
	if (files_read(dir, "routines", false, &routines, err, errlen) != 0) {
		files_free(&schema);
		return -1;
	}
	if (db_query(db, pool, SQL_MIGRATION_LIST, NULL, 0, &done) != DB_OK ||
	    db_query(db, pool, SQL_MIGRATION_ROUTINES, NULL, 0, &rdone) !=
	    DB_OK) {
		fail(err, errlen, "schema_migrations: %s", db_errmsg(db));
		goto out;
	}
	if ((l = legacy(db, &done, &schema, err, errlen)) == -1)
		goto out;
	if (l == 1) {
		note("recorded (the numbered files of an earlier Wazera made "
		    "it)", "schema/" BASELINE ".sql");
		if (db_query(db, pool, SQL_MIGRATION_LIST, NULL, 0, &done) !=
		    DB_OK) {
			fail(err, errlen, "schema_migrations: %s",
			    db_errmsg(db));
			goto out;
		}
	}
	for (i = 0; i < schema.n; i++) {
		const struct sqlfile *f = &schema.v[i];

		snprintf(version, sizeof(version), "%.*s",
		    (int)(strlen(f->name) - 4), f->name);
		snprintf(file, sizeof(file), "schema/%s", f->name);
		if ((k = row_of(&done, version)) != -1) {
			if (!db_isnull(&done, (size_t)k, 1) &&
			    strcmp(db_str(&done, (size_t)k, 1), f->sum) != 0) {
				note("changed", file);
				out->changed++;
			}
			continue;
		}
		if (db_script(db, f->text, f->len) != DB_OK) {
			fail(err, errlen, "%s: %s", file, db_errmsg(db));
			goto out;
		}
		if (record(db, SQL_MIGRATION_INSERT, version, f->sum, err,
		    errlen) != 0)
			goto out;
		note("applied", file);
		out->applied++;
	}
	for (i = 0; i < routines.n; i++) {
		const struct sqlfile *f = &routines.v[i];

		snprintf(file, sizeof(file), "routines/%s", f->name);
		if ((k = row_of(&rdone, f->name)) != -1 &&
		    strcmp(db_str(&rdone, (size_t)k, 1), f->sum) == 0)
			continue;
		if (db_script(db, f->text, f->len) != DB_OK) {
			fail(err, errlen, "%s: %s", file, db_errmsg(db));
			goto out;
		}
		if (record(db, SQL_MIGRATION_ROUTINE_SET, f->name, f->sum, err,
		    errlen) != 0)
			goto out;
		note(k == -1 ? "applied" : "applied again (changed)", file);
		out->routines++;
	}
	/* The rate counters' engine for this server: MEMORY, or InnoDB
	 * under Galera (sql/routines/counters.sql; a sql directory of an
	 * older release has no such file). */
	for (i = 0; i < routines.n; i++)
		if (strcmp(routines.v[i].name, "counters.sql") == 0)
			break;
	if (i < routines.n && db_query_one(db, pool, SQL_COUNTERS_FIT, NULL,
	    0, &fit) != DB_OK) {
		fail(err, errlen, "wz_counters_fit: %s", db_errmsg(db));
		goto out;
	}
	if (i < routines.n && db_int(&fit, 0, 0) > 0)
		note("converted the rate counters to the engine this server "
		    "needs (InnoDB with wsrep on, else MEMORY):",
		    "routines/counters.sql");
	rc = 0;
out:
	files_free(&schema);
	files_free(&routines);
	return rc;
}

int
migrate(struct db *db, struct pool *pool, const char *dir,
    migrate_note_fn note, struct migrate_out *out, char *err, size_t errlen)
{
	static const char create[] =
	    "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version VARCHAR(255) NOT NULL PRIMARY KEY, "
	    "applied_at DATETIME NOT NULL, checksum CHAR(64) NULL) "
	    "ENGINE = InnoDB; "
	    "ALTER TABLE schema_migrations "
	    "ADD COLUMN IF NOT EXISTS checksum CHAR(64) NULL; "
	    "CREATE TABLE IF NOT EXISTS schema_routines ("
	    "file VARCHAR(255) NOT NULL PRIMARY KEY, "
	    "checksum CHAR(64) NOT NULL, applied_at DATETIME NOT NULL) "
	    "ENGINE = InnoDB";
	struct db_res lock;
	int rc;

	memset(out, 0, sizeof(*out));
	if (db_script(db, create, strlen(create)) != DB_OK)
		return fail(err, errlen, "schema_migrations: %s",
		    db_errmsg(db));
	if (db_query_one(db, pool, SQL_MIGRATION_LOCK, NULL, 0, &lock) !=
	    DB_OK || db_isnull(&lock, 0, 0) || db_int(&lock, 0, 0) != 1)
		return fail(err, errlen, "cannot take the migration lock "
		    "(another migrate has held it for 60 s): %s",
		    db_errmsg(db));
	rc = run(db, pool, dir, note, out, err, errlen);
	(void)db_query(db, pool, SQL_MIGRATION_UNLOCK, NULL, 0, &lock);
	return rc;
}
