#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <sodium.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "pool.h"
#include "xmalloc.h"

#define DB_MAX_ARGS	48
#define DB_RETRIES	2
#define DB_AWAY_S	300	/* on another node: back to the first after */
#define DB_CONFLICTS	16	/* deadlocks of one statement outside a
				   transaction, run again (db_run) */

struct db {
	const struct config	*cfg;
	MYSQL			*conn;
	MYSQL_STMT		*stmts[SQL__MAX];
	bool			 in_tx;
	int			 depth;		/* nesting: savepoints above 1 */
	int			 stmt_timeout;	/* seconds; 0: none */
	bool			 spooler_shards;
	size_t			 host_idx;	/* database.hosts: the one to try first */
	size_t			 nhosts;	/* in database.hosts; 0: not set */
	time_t			 away_since;	/* on another than the first */
	unsigned		 last_errno;
	char			 last_error[512];
};

struct db_arg
DBA_STR(const char *s)
{
	if (s == NULL)
		return DBA_NULL;
	return (struct db_arg){ .t = DBA_STR_T, .p = s, .n = strlen(s) };
}

struct db *
db_new(const struct config *cfg)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->cfg = cfg;
	return db;
}

static void
db_disconnect(struct db *db)
{
	size_t i;

	for (i = 0; i < SQL__MAX; i++)
		if (db->stmts[i] != NULL) {
			mysql_stmt_close(db->stmts[i]);
			db->stmts[i] = NULL;
		}
	if (db->conn != NULL) {
		mysql_close(db->conn);
		db->conn = NULL;
	}
	db->in_tx = false;
	db->depth = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

bool
db_in_tx(const struct db *db)
{
	return db->in_tx;
}

const char *
db_errmsg(const struct db *db)
{
	return db->last_error;
}

static void
db_seterr(struct db *db, unsigned no, const char *msg)
{
	snprintf(db->last_error, sizeof(db->last_error), "%u: %s", no, msg);
	db->last_errno = no;
}

void
db_use_spooler_shards(struct db *db)
{
	db->spooler_shards = true;
	db_disconnect(db);	/* the next connection runs under it */
}

void
db_set_statement_timeout(struct db *db, int seconds)
{
	db->stmt_timeout = seconds;
	db_disconnect(db);	/* the next connection runs under it */
}

/* One connection attempt to host:port (or the socket). NULL with the
 * error recorded when it fails. */
static MYSQL *
db_try(struct db *db, const char *host, unsigned port, const char *socket)
{
	const struct config *c = db->cfg;
	unsigned int timeout = (unsigned)c->db_connect_timeout, rw = 30;
	char init[384];
	MYSQL *m;

	if ((m = mysql_init(NULL)) == NULL)
		log_fatalx("mysql_init failed");
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* With database.hosts (a Galera cluster), reads and transactions
	 * first wait for every write the cluster committed before them to
	 * be applied on this node: a client that wrote through one node
	 * reads its write through any other (wsrep_sync_wait bit 1); and
	 * a statement outside a transaction that loses certification is
	 * run again by the server first (then by db_run). */
	snprintf(init, sizeof(init), "SET time_zone = '+00:00', sql_mode = "
	    "'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,"
	    "ERROR_FOR_DIVISION_BY_ZERO', max_statement_time = %d, "
	    "@wz_counter_shard = %s%s", db->stmt_timeout, db->spooler_shards ?
	    "16 + CONNECTION_ID() % 16" : "NULL", db->nhosts > 0 ?
	    ", wsrep_sync_wait = 1, wsrep_retry_autocommit = 4" : "");
	mysql_options(m, MYSQL_INIT_COMMAND, init);
	if (mysql_real_connect(m, host, c->db_user, c->db_password,
	    c->db_name, port, socket,
	    CLIENT_FOUND_ROWS | CLIENT_MULTI_RESULTS) == NULL) {
		db_seterr(db, mysql_errno(m), mysql_error(m));
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* database.hosts: each in turn from the one that answered last (or the
 * next one, when its connection was lost), so a worker whose node went
 * away reconnects to the next (a Galera cluster's nodes, issue 15); else
 * database.host, port and socket. */
enum db_rc
db_connect(struct db *db)
{
	const struct config *c = db->cfg;
	char host[256];
	unsigned port;
	size_t n, k;
	MYSQL *m = NULL;

	if (db->conn != NULL)
		return DB_OK;
	if (c->db_hosts != NULL && *c->db_hosts != '\0') {
		for (n = 0; config_db_host(c->db_hosts, n, host, sizeof(host),
		    &port) == 0; n++)
			;
		db->nhosts = n;
		for (k = 0; k < n && m == NULL; k++) {
			size_t i = (db->host_idx + k) % n;

			if (config_db_host(c->db_hosts, i, host, sizeof(host),
			    &port) != 0)
				continue;
			if ((m = db_try(db, host, port, NULL)) != NULL) {
				db->host_idx = i;
				db->away_since = i == 0 ? 0 : time(NULL);
			}
		}
	} else
		m = db_try(db, c->db_host, (unsigned)c->db_port,
		    *c->db_socket ? c->db_socket : NULL);
	if (m == NULL)
		return DB_DOWN;
	db->conn = m;
	db->in_tx = false;
	return DB_OK;
}

/* The connection is gone, or its server cannot serve it: a Galera node
 * that left the Primary component (or has not joined it yet) answers
 * every statement with 1047, "WSREP has not yet prepared node for
 * application use", until it is back. */
void
db_home(struct db *db)
{
	if (db->nhosts > 0 && db->host_idx != 0 && db->conn != NULL &&
	    !db->in_tx && time(NULL) - db->away_since >= DB_AWAY_S) {
		db_disconnect(db);
		db->host_idx = 0;
	}
}

static bool
err_is_lost(unsigned e)
{
	return e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST ||
	    e == CR_CONNECTION_ERROR || e == CR_CONN_HOST_ERROR ||
	    e == ER_CONNECTION_KILLED || e == 4031 /* idle timeout */ ||
	    e == ER_SERVER_SHUTDOWN || e == CR_SERVER_LOST_EXTENDED ||
	    e == ER_UNKNOWN_COM_ERROR;
}

/* Drops a connection that is lost; the next connects to the next of
 * database.hosts first (the lost one is tried last). */
static void
db_lost(struct db *db)
{
	db_disconnect(db);
	if (db->nhosts > 0)
		db->host_idx = (db->host_idx + 1) % db->nhosts;
}

/* Maps an error to an outcome, disconnecting on a lost connection. */
static enum db_rc
db_classify(struct db *db, unsigned e, const char *msg)
{
	db_seterr(db, e, msg);
	if (e == ER_DUP_ENTRY || e == ER_DUP_ENTRY_WITH_KEY_NAME)
		return DB_DUP;
	if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
		return DB_RETRY;
	if (e == ER_STATEMENT_TIMEOUT)
		return DB_SLOW;
	if (err_is_lost(e)) {
		bool was_tx = db->in_tx;
		db_lost(db);
		return was_tx ? DB_RETRY : DB_DOWN;
	}
	return DB_ERR;
}

static MYSQL_STMT *
db_prepare(struct db *db, enum sql id, enum db_rc *rc)
{
	MYSQL_STMT *st;
	const char *text = sql_text(id);

	if (db->stmts[id] != NULL)
		return db->stmts[id];
	if ((*rc = db_connect(db)) != DB_OK)
		return NULL;
	if ((st = mysql_stmt_init(db->conn)) == NULL)
		log_fatalx("mysql_stmt_init failed");
	if (mysql_stmt_prepare(st, text, strlen(text)) != 0) {
		*rc = db_classify(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		log_warnx("prepare %s: %s", sql_name(id), db->last_error);
		mysql_stmt_close(st);
		return NULL;
	}
	/* The statement against its contract (lib/sql.c). A CALL's columns
	 * are known only when its result arrives (db_query). */
	if (mysql_stmt_param_count(st) != sql_params(id) ||
	    (strncmp(text, "CALL ", 5) != 0 &&
	    mysql_stmt_field_count(st) != sql_cols(id))) {
		snprintf(db->last_error, sizeof(db->last_error), "%lu "
		    "parameter(s) and %u column(s), its contract says %u and "
		    "%u", mysql_stmt_param_count(st),
		    mysql_stmt_field_count(st), sql_params(id), sql_cols(id));
		log_warnx("prepare %s: %s", sql_name(id), db->last_error);
		mysql_stmt_close(st);
		*rc = DB_ERR;
		return NULL;
	}
	db->stmts[id] = st;
	return st;
}

int
db_check_statements(struct db *db, void (*report)(const char *name,
    const char *problem))
{
	enum db_rc rc;
	int bad = 0, id;

	for (id = 0; id < SQL__MAX; id++) {
		if (db_prepare(db, (enum sql)id, &rc) != NULL)
			continue;
		if (rc == DB_DOWN)
			return -1;
		report(sql_name((enum sql)id), db->last_error);
		bad++;
	}
	return bad;
}

/* Binds args and executes. On success the statement may hold a result. */
static enum db_rc
db_run(struct db *db, enum sql id, const struct db_arg *args, size_t nargs,
    MYSQL_STMT **out)
{
	MYSQL_BIND bind[DB_MAX_ARGS];
	my_bool nulls[DB_MAX_ARGS];
	unsigned long lens[DB_MAX_ARGS];
	MYSQL_STMT *st;
	enum db_rc rc = DB_ERR;
	size_t i;
	unsigned e;
	int attempt, conflicts = 0;
	/* Whether it runs in a transaction, as it was before any attempt: a
	 * connection lost in one ends the transaction (db_classify clears
	 * in_tx), and running the statement again in autocommit would carry
	 * on as if the work before it had not been rolled back. */
	const bool tx = db->in_tx;

	if (nargs > DB_MAX_ARGS || nargs != sql_params(id))
		log_fatalx("%s: %zu arguments, its contract says %u",
		    sql_name(id), nargs, sql_params(id));
	for (attempt = 0; attempt <= DB_RETRIES; attempt++) {
		/* Full jitter, growing: up to 1, 2, 4 … 32 ms. */
		if (conflicts > 0)
			usleep(100 + (useconds_t)randombytes_uniform(1000u <<
			    (conflicts < 5 ? conflicts : 5)));
		if ((st = db_prepare(db, id, &rc)) == NULL) {
			if (rc == DB_DOWN && !tx && attempt < DB_RETRIES)
				continue;
			return rc;
		}
		memset(bind, 0, sizeof(bind[0]) * (nargs ? nargs : 1));
		for (i = 0; i < nargs; i++) {
			const struct db_arg *a = &args[i];
			nulls[i] = 0;
			bind[i].is_null = &nulls[i];
			switch (a->t) {
			case DBA_NULL_T:
				nulls[i] = 1;
				bind[i].buffer_type = MYSQL_TYPE_NULL;
				break;
			case DBA_INT_T:
				bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
				bind[i].buffer = (void *)&a->i;
				break;
			case DBA_STR_T:
			case DBA_BLOB_T:
				bind[i].buffer_type = a->t == DBA_STR_T ?
				    MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
				bind[i].buffer = (void *)a->p;
				bind[i].buffer_length = a->n;
				lens[i] = a->n;
				bind[i].length = &lens[i];
				break;
			}
		}
		if (nargs > 0 && mysql_stmt_bind_param(st, bind) != 0)
			log_fatalx("%s: bind: %s", sql_name(id),
			    mysql_stmt_error(st));
		if (mysql_stmt_execute(st) == 0) {
			*out = st;
			return DB_OK;
		}
		e = mysql_stmt_errno(st);
		rc = db_classify(db, e, mysql_stmt_error(st));
		if (rc == DB_DUP)
			return rc;
		if (rc == DB_ERR)
			log_warnx("%s: %s", sql_name(id), db->last_error);
		/* Outside a transaction a deadlock rolled back this statement
		 * alone (not a CALL: a procedure in autocommit commits
		 * statement by statement): run it again, after a short random
		 * wait, up to DB_CONFLICTS times. On a Galera cluster that is
		 * also a write that lost certification to another node's on
		 * the same row (a hot key's rate counter hit through several
		 * nodes at once). */
		if (!tx && e == ER_LOCK_DEADLOCK && !sql_is_call(id) &&
		    ++conflicts < DB_CONFLICTS) {
			attempt--;
			continue;
		}
		/* Outside a transaction a statement marked retryable runs
		 * again after a reconnect or a deadlock. */
		if (tx || !sql_retryable(id) ||
		    (rc != DB_DOWN && rc != DB_RETRY))
			return rc;
	}
	return rc;
}

/* Reads any further results (a CALL ends with a status result) and
 * answers how the statement ended: a procedure can fail after a result
 * it sent, and on a Galera cluster a transaction can be aborted by
 * another node's write (1213) at any moment, its error coming in the
 * CALL's last result; taken for a success, the COMMIT that follows
 * would commit nothing and report success. */
static enum db_rc
db_drain(struct db *db, MYSQL_STMT *st)
{
	int n;

	mysql_stmt_free_result(st);
	while (mysql_stmt_more_results(st)) {
		if ((n = mysql_stmt_next_result(st)) > 0)
			return db_classify(db, mysql_stmt_errno(st),
			    mysql_stmt_error(st));
		if (n < 0)
			break;
		mysql_stmt_free_result(st);
	}
	return DB_OK;
}

enum db_rc
db_exec(struct db *db, enum sql id, const struct db_arg *args, size_t nargs,
    uint64_t *affected, uint64_t *insert_id)
{
	MYSQL_STMT *st;
	enum db_rc rc;

	if ((rc = db_run(db, id, args, nargs, &st)) != DB_OK)
		return rc;
	if (affected != NULL)
		*affected = mysql_stmt_affected_rows(st);
	if (insert_id != NULL)
		*insert_id = mysql_stmt_insert_id(st);
	return db_drain(db, st);
}

/* Each row's cells are sized by their own lengths: the columns are bound to
 * a small scratch buffer each, and a longer value is fetched again into a
 * buffer of its exact size (sizing every row by the column's longest value
 * in the result made 100 rows with one 1 MiB value cost 100 MiB). */
#define DB_SCRATCH	256

enum db_rc
db_query(struct db *db, struct pool *pool, enum sql id,
    const struct db_arg *args, size_t nargs, struct db_res *res)
{
	MYSQL_STMT *st;
	MYSQL_RES *meta;
	MYSQL_BIND *bind, one;
	my_bool *nulls;
	unsigned long *lens;
	char *scratch;
	enum db_rc rc;
	size_t c, r, nc;
	int frc;

	memset(res, 0, sizeof(*res));
	if ((rc = db_run(db, id, args, nargs, &st)) != DB_OK)
		return rc;
	if (mysql_stmt_store_result(st) != 0) {
		rc = db_classify(db, mysql_stmt_errno(st), mysql_stmt_error(st));
		log_warnx("%s: store: %s", sql_name(id), db->last_error);
		return rc;
	}
	if ((meta = mysql_stmt_result_metadata(st)) == NULL)
		return db_drain(db, st);
	nc = mysql_num_fields(meta);
	mysql_free_result(meta);
	if (nc != sql_cols(id)) {
		snprintf(db->last_error, sizeof(db->last_error), "%zu "
		    "column(s), its contract says %u", nc, sql_cols(id));
		log_warnx("%s: %s", sql_name(id), db->last_error);
		(void)db_drain(db, st);
		return DB_ERR;
	}
	res->ncols = nc;
	res->nrows = (size_t)mysql_stmt_num_rows(st);
	res->cell = pool_calloc(pool, res->nrows * nc + 1, sizeof(char *));
	res->len = pool_calloc(pool, res->nrows * nc + 1, sizeof(unsigned long));
	bind = pool_calloc(pool, nc, sizeof(*bind));
	nulls = pool_calloc(pool, nc, sizeof(*nulls));
	lens = pool_calloc(pool, nc, sizeof(*lens));
	scratch = pool_calloc(pool, nc, DB_SCRATCH);
	for (c = 0; c < nc; c++) {
		bind[c].buffer_type = MYSQL_TYPE_STRING;
		bind[c].buffer = scratch + c * DB_SCRATCH;
		bind[c].buffer_length = DB_SCRATCH;
		bind[c].length = &lens[c];
		bind[c].is_null = &nulls[c];
	}
	if (nc > 0 && mysql_stmt_bind_result(st, bind) != 0)
		log_fatalx("%s: bind result: %s", sql_name(id),
		    mysql_stmt_error(st));
	for (r = 0; r < res->nrows; r++) {
		frc = mysql_stmt_fetch(st);
		if (frc == MYSQL_NO_DATA) {
			res->nrows = r;
			break;
		}
		if (frc != 0 && frc != MYSQL_DATA_TRUNCATED) {
			rc = db_classify(db, mysql_stmt_errno(st),
			    mysql_stmt_error(st));
			return rc == DB_OK ? DB_ERR : rc;
		}
		for (c = 0; c < nc; c++) {
			unsigned long l = lens[c];
			char *b;

			if (nulls[c]) {
				res->cell[r * nc + c] = NULL;
				res->len[r * nc + c] = 0;
				continue;
			}
			b = pool_alloc(pool, (size_t)l + 1);
			if (l < DB_SCRATCH)
				memcpy(b, bind[c].buffer, l);
			else {
				memset(&one, 0, sizeof(one));
				one.buffer_type = MYSQL_TYPE_STRING;
				one.buffer = b;
				one.buffer_length = l + 1;
				if (mysql_stmt_fetch_column(st, &one,
				    (unsigned)c, 0) != 0)
					log_fatalx("%s: column %zu: %s",
					    sql_name(id), c, mysql_stmt_error(st));
			}
			b[l] = '\0';
			res->cell[r * nc + c] = b;
			res->len[r * nc + c] = l;
		}
	}
	if ((rc = db_drain(db, st)) != DB_OK)
		res->nrows = 0;
	return rc;
}

enum db_rc
db_query_one(struct db *db, struct pool *pool, enum sql id,
    const struct db_arg *args, size_t nargs, struct db_res *res)
{
	enum db_rc rc;

	if ((rc = db_query(db, pool, id, args, nargs, res)) != DB_OK)
		return rc;
	return res->nrows == 0 ? DB_NOROW : DB_OK;
}

static enum db_rc
db_simple(struct db *db, const char *q)
{
	enum db_rc rc;

	if ((rc = db_connect(db)) != DB_OK)
		return rc;
	if (mysql_real_query(db->conn, q, strlen(q)) != 0)
		return db_classify(db, mysql_errno(db->conn),
		    mysql_error(db->conn));
	return DB_OK;
}

/* Transactions nest: the outermost level is a real transaction, inner
 * levels are savepoints, so an inner rollback undoes only its own work. */
enum db_rc
db_begin(struct db *db)
{
	enum db_rc rc;
	char q[64];
	int attempt;

	if (db->in_tx) {
		snprintf(q, sizeof(q), "SAVEPOINT wz_%d", db->depth);
		if ((rc = db_simple(db, q)) == DB_OK)
			db->depth++;
		return rc;
	}
	for (attempt = 0; attempt <= DB_RETRIES; attempt++) {
		if ((rc = db_simple(db, "START TRANSACTION")) == DB_OK) {
			db->in_tx = true;
			db->depth = 1;
			return DB_OK;
		}
		/* With database.hosts a lock wait timeout here is a node that
		 * could not apply the cluster's writes within Galera's causal
		 * read timeout (wsrep_sync_wait): another node. */
		if (rc == DB_RETRY && db->nhosts > 0 &&
		    db->last_errno == ER_LOCK_WAIT_TIMEOUT) {
			db_lost(db);
			rc = DB_DOWN;
		}
		if (rc != DB_DOWN)
			return rc;
	}
	return rc;
}

enum db_rc
db_commit(struct db *db)
{
	enum db_rc rc;
	char q[64];

	if (db->depth > 1) {
		db->depth--;
		snprintf(q, sizeof(q), "RELEASE SAVEPOINT wz_%d", db->depth);
		rc = db_simple(db, q);
		/* No such savepoint: the transaction around it was rolled
		 * back under us (on Galera, another node's write aborted
		 * it): run it again. */
		if (rc == DB_ERR && db->last_errno == ER_SP_DOES_NOT_EXIST)
			rc = DB_RETRY;
		return rc;
	}
	if (db->conn == NULL)
		rc = DB_RETRY;	/* lost before: the server rolled it back */
	else if (mysql_real_query(db->conn, "COMMIT", 6) == 0)
		rc = DB_OK;
	else {
		unsigned e = mysql_errno(db->conn);

		rc = db_classify(db, e, mysql_error(db->conn));
		/* Lost while committing: the outcome is unknown (the server,
		 * or the cluster it replicated to, may have committed), so
		 * the work must not run again as if it had not happened.
		 * So is a Galera node's failure to replicate it (1180, the
		 * node left the cluster meanwhile). A certification failure
		 * (1213) did roll it back. */
		if (err_is_lost(e) || e == ER_ERROR_DURING_COMMIT)
			rc = DB_DOWN;
	}
	db->in_tx = false;
	db->depth = 0;
	return rc;
}

void
db_rollback(struct db *db)
{
	char q[64];

	if (db->conn != NULL && db->depth > 1) {
		db->depth--;
		snprintf(q, sizeof(q), "ROLLBACK TO SAVEPOINT wz_%d", db->depth);
		(void)db_simple(db, q);
		return;
	}
	if (db->conn != NULL && db->in_tx)
		(void)db_simple(db, "ROLLBACK");
	db->in_tx = false;
	db->depth = 0;
}

int
db_depth(const struct db *db)
{
	return db->depth;
}

enum db_rc
db_script(struct db *db, const char *sql, size_t len)
{
	enum db_rc rc;
	int status;

	if ((rc = db_connect(db)) != DB_OK)
		return rc;
	mysql_set_server_option(db->conn, MYSQL_OPTION_MULTI_STATEMENTS_ON);
	status = mysql_real_query(db->conn, sql, len);
	for (;;) {
		if (status != 0) {
			rc = db_classify(db, mysql_errno(db->conn),
			    mysql_error(db->conn));
			break;
		}
		MYSQL_RES *r = mysql_store_result(db->conn);
		if (r != NULL)
			mysql_free_result(r);
		if ((status = mysql_next_result(db->conn)) == -1) {
			rc = DB_OK;
			break;
		}
	}
	if (db->conn != NULL)
		mysql_set_server_option(db->conn,
		    MYSQL_OPTION_MULTI_STATEMENTS_OFF);
	return rc;
}

const char *
db_str(const struct db_res *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cell[row * r->ncols + col];
}

long long
db_int(const struct db_res *r, size_t row, size_t col)
{
	const char *s = db_str(r, row, col);

	return s == NULL ? 0 : strtoll(s, NULL, 10);
}

size_t
db_len(const struct db_res *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		return 0;
	return r->len[row * r->ncols + col];
}

bool
db_isnull(const struct db_res *r, size_t row, size_t col)
{
	return db_str(r, row, col) == NULL;
}

char *
db_ids_json(struct pool *pool, const struct db_res *res)
{
	size_t i, len = 0, cap = res->nrows * 21 + 3;
	char *s = pool_alloc(pool, cap);

	s[len++] = '[';
	for (i = 0; i < res->nrows; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%llu",
		    i ? "," : "", (unsigned long long)db_int(res, i, 0));
	s[len++] = ']';
	s[len] = '\0';
	return s;
}
