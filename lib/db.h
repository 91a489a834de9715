/* A thin, strict wrapper over MariaDB prepared statements. Each process
 * (FastCGI worker, spooler, admin) owns one connection; statements from the
 * sql[] table are prepared on first use and kept until the connection is
 * lost, after which the wrapper reconnects and prepares them again. */
#ifndef WZ_DB_H
#define WZ_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sql.h"

struct config;
struct pool;

/* Outcomes a caller must tell apart. */
enum db_rc {
	DB_OK = 0,
	DB_NOROW,	/* a one-row query found nothing */
	DB_DUP,		/* a unique constraint was violated */
	DB_RETRY,	/* deadlock, lock timeout or lost connection inside a
			   transaction: roll back and run the transaction again */
	DB_DOWN,	/* the server cannot be reached */
	DB_SLOW,	/* the statement ran past the connection's time limit */
	DB_ERR,		/* anything else: a bug or a broken schema */
};

enum db_atype { DBA_NULL_T, DBA_INT_T, DBA_STR_T, DBA_BLOB_T };

struct db_arg {
	enum db_atype	 t;
	long long	 i;
	const void	*p;
	size_t		 n;
};

#define DBA_NULL	((struct db_arg){ .t = DBA_NULL_T })
#define DBA_INT(v)	((struct db_arg){ .t = DBA_INT_T, .i = (long long)(v) })
#define DBA_BLOB(v, l)	((struct db_arg){ .t = DBA_BLOB_T, .p = (v), .n = (l) })
/* A string, or SQL NULL when s is NULL. */
struct db_arg	 DBA_STR(const char *s);

/* Rows of one result, every column as text (NULL pointer for SQL NULL),
 * allocated from the caller's pool. */
struct db_res {
	size_t		  nrows;
	size_t		  ncols;
	char		**cell;		/* nrows * ncols */
	unsigned long	 *len;
};

struct db;

struct db	*db_new(const struct config *);
void		 db_free(struct db *);
/* Every statement of the connection (the current one is closed) runs
 * under MariaDB's max_statement_time: past it, DB_SLOW. 0: no limit (the
 * default; stored procedures are never limited by MariaDB). */
void		 db_set_statement_timeout(struct db *, int seconds);
/* The connection counts its campaign counter changes in shards 16-31
 * (@wz_counter_shard; sql/routines/campaigns.sql), apart from the API's
 * 0-15: a spooler writing many results in one transaction then never
 * waits for a counter row that an API transaction holds while waiting
 * for one of those messages. */
void		 db_use_spooler_shards(struct db *);
/* With database.hosts: a connection to another node than the first (the
 * host's own) for 5 minutes is closed between transactions, so the next
 * statement tries the first again; else nothing. Called before each
 * request and each spooler round. */
void		 db_home(struct db *);
/* Connects if not connected. DB_OK or DB_DOWN. */
enum db_rc	 db_connect(struct db *);

/* Runs a statement that returns no rows. affected and insert_id may be
 * NULL. affected counts matched rows (CLIENT_FOUND_ROWS). */
enum db_rc	 db_exec(struct db *, enum sql, const struct db_arg *, size_t,
		    uint64_t *affected, uint64_t *insert_id);
/* Runs a statement and stores all rows of its first result in res. */
enum db_rc	 db_query(struct db *, struct pool *, enum sql,
		    const struct db_arg *, size_t, struct db_res *res);
/* As db_query, but DB_NOROW when there is no row. */
enum db_rc	 db_query_one(struct db *, struct pool *, enum sql,
		    const struct db_arg *, size_t, struct db_res *res);

enum db_rc	 db_begin(struct db *);
/* DB_RETRY: rolled back (a deadlock, or a Galera certification failure:
 * run the transaction again); DB_DOWN: the connection was lost while
 * committing, so the outcome is unknown: the work may have been
 * committed and must not be run again blindly. */
enum db_rc	 db_commit(struct db *);
void		 db_rollback(struct db *);
bool		 db_in_tx(const struct db *);
int		 db_depth(const struct db *);
/* Prepares every statement of lib/sql.c and checks it against its
 * contract; report(name, problem) for each that fails. The number of
 * failures, or -1 when the server cannot be reached. */
int		 db_check_statements(struct db *, void (*report)(const char *,
		    const char *));
/* Runs trusted SQL text with several statements (migrations only). */
enum db_rc	 db_script(struct db *, const char *sql, size_t len);

const char	*db_str(const struct db_res *, size_t row, size_t col);
long long	 db_int(const struct db_res *, size_t row, size_t col);
/* The first column's ids of every row as a JSON array ("[1,2]"), in the
 * pool: the list a statement joins with JSON_TABLE. */
char		*db_ids_json(struct pool *, const struct db_res *);
size_t		 db_len(const struct db_res *, size_t row, size_t col);
bool		 db_isnull(const struct db_res *, size_t row, size_t col);

/* The last server error, for logs only. */
const char	*db_errmsg(const struct db *);

#endif
