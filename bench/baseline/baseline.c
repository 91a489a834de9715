/* baseline: the least a C FastCGI program can do for GET /contacts/{id}.
 *
 * A yardstick for bench/api, not part of Wazera: N pre-forked workers in a
 * libfcgi FCGX_Accept_r loop on one unix socket, each with one MariaDB
 * connection and one prepared point select of the contact by id (the real
 * app's columns), the row written out with json-c in the API's shape.
 * No authentication, no rate limit, no routing beyond taking the id from
 * the end of the path (/baseline/contacts/{id}).
 *
 *   cc -O2 -o baseline baseline.c $(pkg-config --cflags --libs json-c libmariadb) -lfcgi
 *   BASELINE_DB_PASSWORD=... ./baseline SOCKET WORKERS DB_SOCKET DB_USER DB_NAME
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>
#include <mysql.h>

#define QUERY \
	"SELECT id, name, phone, email, tags, custom_fields, opted_out, " \
	"DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'), " \
	"DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%sZ') " \
	"FROM contacts WHERE id = ?"

enum { C_ID, C_NAME, C_PHONE, C_EMAIL, C_TAGS, C_CF, C_OPT, C_CREATED,
    C_UPDATED, NCOLS };
static const char *names[NCOLS] = { "id", "name", "phone", "email", "tags",
    "custom_fields", "opted_out", "created_at", "updated_at" };
/* Text columns may be large (custom_fields is MEDIUMTEXT); a yardstick
 * fetching bench data needs no more than this. */
#define COLMAX	65536

static const char *db_sock, *db_user, *db_pass, *db_name;

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "baseline: %s: %s\n", what, msg);
	exit(1);
}

static void
reply(FCGX_Request *fr, int status, const char *body)
{
	FCGX_FPrintF(fr->out, "Status: %d\r\nContent-Type: application/json; "
	    "charset=utf-8\r\n\r\n", status);
	FCGX_PutS(body, fr->out);
}

static void
worker(int fd)
{
	static char buf[NCOLS][COLMAX];
	unsigned long len[NCOLS];
	my_bool isnull[NCOLS];
	MYSQL_BIND param, res[NCOLS];
	unsigned long long id;
	long long opted;
	FCGX_Request fr;
	MYSQL_STMT *st;
	MYSQL *db;
	int i, rc;

	if ((db = mysql_init(NULL)) == NULL ||
	    mysql_real_connect(db, NULL, db_user, db_pass, db_name, 0, db_sock,
	    0) == NULL)
		die("connect", mysql_error(db));
	if ((st = mysql_stmt_init(db)) == NULL ||
	    mysql_stmt_prepare(st, QUERY, strlen(QUERY)) != 0)
		die("prepare", mysql_error(db));

	memset(&param, 0, sizeof(param));
	param.buffer_type = MYSQL_TYPE_LONGLONG;
	param.buffer = &id;
	param.is_unsigned = 1;
	memset(res, 0, sizeof(res));
	for (i = 0; i < NCOLS; i++) {
		res[i].buffer_type = MYSQL_TYPE_STRING;
		res[i].buffer = buf[i];
		res[i].buffer_length = COLMAX;
		res[i].length = &len[i];
		res[i].is_null = &isnull[i];
	}
	res[C_ID].buffer_type = MYSQL_TYPE_LONGLONG;
	res[C_ID].buffer = &id;
	res[C_OPT].buffer_type = MYSQL_TYPE_LONGLONG;
	res[C_OPT].buffer = &opted;
	if (mysql_stmt_bind_param(st, &param) != 0 ||
	    mysql_stmt_bind_result(st, res) != 0)
		die("bind", mysql_stmt_error(st));

	FCGX_InitRequest(&fr, fd, 0);
	while (FCGX_Accept_r(&fr) >= 0) {
		const char *uri = FCGX_GetParam("REQUEST_URI", fr.envp);
		const char *slash = uri ? strrchr(uri, '/') : NULL;
		json_object *o, *data;
		char *end = NULL;

		id = slash ? strtoull(slash + 1, &end, 10) : 0;
		if (id == 0 || (*end != '\0' && *end != '?')) {
			reply(&fr, 400, "{\"success\":false}");
			goto next;
		}
		if (mysql_stmt_execute(st) != 0) {
			fprintf(stderr, "baseline: %s\n", mysql_stmt_error(st));
			reply(&fr, 500, "{\"success\":false}");
			goto next;
		}
		rc = mysql_stmt_fetch(st);
		mysql_stmt_free_result(st);
		if (rc == MYSQL_NO_DATA) {
			reply(&fr, 404, "{\"success\":false}");
			goto next;
		}
		if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
			reply(&fr, 500, "{\"success\":false}");
			goto next;
		}
		data = json_object_new_object();
		json_object_object_add(data, names[C_ID], json_object_new_int64((int64_t)id));
		for (i = C_NAME; i < NCOLS; i++) {
			json_object *v;
			if (i == C_OPT)
				v = json_object_new_boolean(opted != 0);
			else if (isnull[i])
				v = NULL;
			else if (i == C_TAGS || i == C_CF) {
				buf[i][len[i] < COLMAX ? len[i] : COLMAX - 1] = '\0';
				v = json_tokener_parse(buf[i]);
			} else
				v = json_object_new_string_len(buf[i],
				    (int)(len[i] < COLMAX ? len[i] : COLMAX));
			json_object_object_add(data, names[i], v);
		}
		o = json_object_new_object();
		json_object_object_add(o, "success", json_object_new_boolean(1));
		json_object_object_add(o, "data", data);
		reply(&fr, 200, json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
next:
		FCGX_Finish_r(&fr);
	}
	mysql_stmt_close(st);
	mysql_close(db);
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(int argc, char *argv[])
{
	sigset_t set, old;
	pid_t pids[64];
	int fd, i, n;

	if (argc != 6)
		die("usage", "baseline SOCKET WORKERS DB_SOCKET DB_USER DB_NAME "
		    "(password in $BASELINE_DB_PASSWORD)");
	n = atoi(argv[2]);
	if (n < 1 || n > 64)
		die("usage", "WORKERS is 1 to 64");
	db_sock = argv[3];
	db_user = argv[4];
	db_name = argv[5];
	db_pass = getenv("BASELINE_DB_PASSWORD");
	if (mysql_library_init(0, NULL, NULL) != 0 || FCGX_Init() != 0)
		die("init", "library initialisation failed");
	unlink(argv[1]);
	if ((fd = FCGX_OpenSocket(argv[1], 1024)) < 0)
		die("listen", argv[1]);
	chmod(argv[1], 0660);
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1)
			die("fork", strerror(errno));
		if (pids[i] == 0) {
			signal(SIGTERM, SIG_DFL);
			worker(fd);
			_exit(0);
		}
	}
	/* SIGTERM: stop the workers (mid-request is fine for a yardstick). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stopping)
		sigsuspend(&old);
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(argv[1]);
	return 0;
}
