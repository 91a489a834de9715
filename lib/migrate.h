/* The migration engine (wazera-admin migrate): the database brought to the
 * schema and routines of a sql/ directory.
 *
 *   sql/schema/NNN_name.sql   applied once each, in name order, recorded
 *                             in schema_migrations with the SHA-256 of the
 *                             text; never edited afterwards (an edit is
 *                             reported, not applied): a change to a table
 *                             is a new file.
 *   sql/routines/AREA.sql     procedures, functions, triggers and views,
 *                             each in its current version only (CREATE OR
 *                             REPLACE); a file is applied again whenever
 *                             its SHA-256 differs from the one recorded in
 *                             schema_routines (Flyway's repeatable
 *                             migrations), after the schema files.
 *
 * All of it under one database lock, so concurrent runs wait for each
 * other and each change is applied once. */
#ifndef WZ_MIGRATE_H
#define WZ_MIGRATE_H
#include <stddef.h>

struct db;
struct pool;

struct migrate_out {
	int	 applied;	/* schema files applied by this run */
	int	 routines;	/* routine files applied by this run */
	int	 changed;	/* applied schema files edited since */
};

/* Called for each file acted on, with its path under the sql directory
 * ("schema/001_baseline.sql") and what: "applied", "applied again
 * (changed)" (a routine file), "changed" (an applied schema file edited
 * since: not applied), or "recorded (...)" (the baseline of a database
 * migrated before it). */
typedef void	(*migrate_note_fn)(const char *what, const char *file);

/* Brings the database to dir. 0, or -1 with the reason in err (the file
 * and the server's message). A failed routine file is not recorded, so
 * the next run applies it again. */
int	 migrate(struct db *, struct pool *, const char *dir, migrate_note_fn,
	    struct migrate_out *, char *err, size_t errlen);

/* The newest schema file of dir ("004_campaigns" for
 * schema/004_campaigns.sql) into out; 0, or -1 when there is none or the
 * directory cannot be read (errno). */
int	 migrate_latest(const char *dir, char *out, size_t outlen);

#endif
