/* wazera-admin: the operator's CLI. Every create prints the new object as
 * one JSON line on stdout; errors go to stderr with a non-zero exit. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "housekeep.h"
#include "log.h"
#include "migrate.h"
#include "pool.h"
#include "scopes.h"
#include "text.h"
#include "validate.h"
#include "xmalloc.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static struct config cfg;
static struct pool pool;

static void __attribute__((noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("wazera-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The usage; on standard output with exit 0 when asked for (--help). */
static void __attribute__((noreturn))
usage_exit(int code)
{
	fputs("usage: wazera-admin [--config FILE] COMMAND\n"
	    "  init\n"
	    "  migrate\n"
	    "  check                (every statement fits the database)\n"
	    "  purge                (idempotency records past 24 h, expired sessions)\n"
	    "  status [--json]      (schema, queues, leases, what is stuck)\n"
	    "  tenant create --name N --plan starter|professional|enterprise "
	    "[--rate-limit N]\n"
	    "  apikey create --tenant ID [--name N] [--scopes a,b] "
	    "[--expires-at RFC3339]\n"
	    "  apikey revoke --id ID\n"
	    "  account create --tenant ID --phone-number-id P --waba-id W "
	    "--display-phone +E164\n"
	    "                 --access-token-file F|--access-token T\n"
	    "                 [--app-secret-file F|--app-secret S] [--mps N]\n"
	    "                 (F: a file whose first line is the secret; - for "
	    "standard input)\n"
	    "  user create --tenant ID --name N --email E [--role admin|agent]\n"
	    "              [--password-stdin]\n"
	    "  user password --id ID   (the new password on standard input)\n"
	    "                 (a password: the first line of standard input, "
	    "at least 10 characters)\n",
	    code == 0 ? stdout : stderr);
	exit(code);
}

static void __attribute__((noreturn))
usage(void)
{
	usage_exit(2);
}

static void
print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static struct db *
open_db(void)
{
	struct db *db = db_new(&cfg);

	if (db_connect(db) != DB_OK)
		die("cannot connect to the database: %s", db_errmsg(db));
	return db;
}

/* The database, once tenant is known to exist there (else it dies). */
static struct db *
open_db_tenant(int64_t tenant)
{
	struct db *db = open_db();
	struct db_arg a = DBA_INT(tenant);
	struct db_res res;
	enum db_rc rc;

	if ((rc = db_query_one(db, &pool, SQL_TENANT_GET, &a, 1, &res)) ==
	    DB_NOROW)
		die("no tenant with id %lld", (long long)tenant);
	if (rc != DB_OK)
		die("cannot read tenant %lld: %s", (long long)tenant,
		    db_errmsg(db));
	return db;
}

/* Options after the command words: --name value pairs. */
struct kv {
	const char *name;
	const char *val;
};

static void
parse_opts(int argc, char *argv[], struct kv *kv, size_t n)
{
	int i;
	size_t k;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL, *eq;
		size_t alen;

		if (strncmp(a, "--", 2) != 0)
			die("unexpected argument %s", a);
		a += 2;
		if ((eq = strchr(a, '=')) != NULL) {
			alen = (size_t)(eq - a);
			v = eq + 1;
		} else {
			alen = strlen(a);
			if (i + 1 >= argc)
				die("--%s needs a value", a);
			v = argv[++i];
		}
		for (k = 0; k < n; k++)
			if (strlen(kv[k].name) == alen &&
			    !strncmp(kv[k].name, a, alen))
				break;
		if (k == n)
			die("unknown option --%.*s", (int)alen, a);
		kv[k].val = v;
	}
}

static long long
parse_id(const char *what, const char *s)
{
	char *end;
	long long v;

	if (s == NULL)
		die("--%s is required", what);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < 1)
		die("--%s must be a positive integer", what);
	return v;
}

static int
cmd_init(int argc, char *argv[])
{
	uint8_t key[32];
	char hex[65];
	int fd;

	(void)argc;
	(void)argv;
	randombytes_buf(key, sizeof(key));
	hex_encode(key, sizeof(key), hex);
	sodium_memzero(key, sizeof(key));
	fd = open(cfg.master_key_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1) {
		if (errno == EEXIST) {
			fprintf(stderr, "wazera-admin: %s exists; keeping it\n",
			    cfg.master_key_file);
			return 0;
		}
		die("%s: %s", cfg.master_key_file, strerror(errno));
	}
	if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1)
		die("%s: %s", cfg.master_key_file, strerror(errno));
	close(fd);
	sodium_memzero(hex, sizeof(hex));
	fprintf(stderr, "wazera-admin: created %s\n", cfg.master_key_file);
	return 0;
}

static void
migrate_note(const char *what, const char *file)
{
	if (strcmp(what, "changed") == 0)
		fprintf(stderr, "wazera-admin: %s changed after it was "
		    "applied; put schema changes in a new file\n", file);
	else
		fprintf(stderr, "wazera-admin: %s %s\n", what, file);
}

/* sql/schema/ and sql/routines/ brought to the database (lib/migrate.c).
 * Exit 1 when an applied schema file was edited since. */
static int
cmd_migrate(int argc, char *argv[])
{
	struct db *db = open_db();
	struct migrate_out out;
	char err[1024];

	(void)argc;
	(void)argv;
	if (migrate(db, &pool, cfg.sql_dir, migrate_note, &out, err,
	    sizeof(err)) != 0)
		die("%s", err);
	db_free(db);
	if (out.changed > 0) {
		fprintf(stderr, "wazera-admin: %d migration(s) applied, %d "
		    "routine file(s) applied; %d applied migration(s) differ "
		    "from their files\n", out.applied, out.routines,
		    out.changed);
		return 1;
	}
	fprintf(stderr, "wazera-admin: %d migration(s) applied, %d routine "
	    "file(s) applied, schema up to date\n", out.applied,
	    out.routines);
	return 0;
}

static void
check_report(const char *name, const char *problem)
{
	fprintf(stderr, "wazera-admin: %s: %s\n", name, problem);
}

/* Prepares every statement the programs run against the database (after
 * an upgrade: do these binaries and this schema fit?). Exit 1 when one
 * does not, naming it. */
static int
cmd_check(int argc, char *argv[])
{
	struct db *db = open_db();
	int bad;

	(void)argc;
	(void)argv;
	if ((bad = db_check_statements(db, check_report)) < 0)
		die("database unavailable: %s", db_errmsg(db));
	db_free(db);
	if (bad > 0) {
		fprintf(stderr, "wazera-admin: %d of %d statement(s) do not "
		    "fit the database\n", bad, SQL__MAX);
		return 1;
	}
	fprintf(stderr, "wazera-admin: all %d statements fit the database\n",
	    SQL__MAX);
	return 0;
}

static int
cmd_tenant_create(int argc, char *argv[])
{
	struct kv kv[] = { { "name", NULL }, { "plan", NULL },
	    { "rate-limit", NULL } };
	static const char *const plans[] = { "starter", "professional",
	    "enterprise" };
	struct db_arg a[3];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	uint64_t id;
	size_t i;

	parse_opts(argc, argv, kv, 3);
	if (kv[0].val == NULL || *kv[0].val == '\0')
		die("--name is required");
	if (strlen(kv[0].val) > 255 || !utf8_valid(kv[0].val, strlen(kv[0].val)))
		die("--name must be at most 255 characters of UTF-8");
	if (kv[1].val == NULL)
		die("--plan is required (starter, professional or enterprise)");
	for (i = 0; i < 3; i++)
		if (!strcmp(plans[i], kv[1].val))
			break;
	if (i == 3)
		die("--plan must be starter, professional or enterprise");
	a[0] = DBA_STR(kv[0].val);
	a[1] = DBA_STR(kv[1].val);
	if (kv[2].val != NULL) {
		long long limit = parse_id("rate-limit", kv[2].val);

		if (limit > 4000000000LL)
			die("--rate-limit is too large");
		a[2] = DBA_INT(limit);
	} else
		a[2] = DBA_NULL;
	db = open_db();
	if (db_exec(db, SQL_TENANT_INSERT, a, 3, NULL, &id) != DB_OK)
		die("cannot create the tenant: %s", db_errmsg(db));
	a[0] = DBA_INT(id);
	if (db_query_one(db, &pool, SQL_TENANT_GET, a, 1, &res) != DB_OK)
		die("cannot read the tenant back: %s", db_errmsg(db));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "name",
	    json_object_new_string(db_str(&res, 0, TEN_NAME)));
	json_object_object_add(o, "plan",
	    json_object_new_string(db_str(&res, 0, TEN_PLAN)));
	json_object_object_add(o, "rate_limit_per_minute",
	    json_object_new_int64(db_int(&res, 0, TEN_LIMIT)));
	json_object_object_add(o, "created_at",
	    json_object_new_string(db_str(&res, 0, TEN_CREATED)));
	print_json(o);
	db_free(db);
	return 0;
}

static struct json_object *
nullable(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int
cmd_apikey_create(int argc, char *argv[])
{
	struct kv kv[] = { { "tenant", NULL }, { "name", NULL },
	    { "scopes", NULL }, { "expires-at", NULL } };
	char key[KEY_LEN + 1], prefix[KEY_DISPLAY_PREFIX + 1], exp[20];
	uint8_t hash[KEY_HASH_LEN];
	uint32_t mask = 0;
	struct db_arg a[6];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	uint64_t id;
	long long tenant;
	time_t t;

	parse_opts(argc, argv, kv, 4);
	tenant = parse_id("tenant", kv[0].val);
	if (kv[1].val && (strlen(kv[1].val) > 255 ||
	    !utf8_valid(kv[1].val, strlen(kv[1].val))))
		die("--name must be at most 255 characters of UTF-8");
	if (kv[2].val) {
		const char *bad;
		int badlen;
		if (scopes_parse(kv[2].val, &mask, &bad, &badlen) == -1)
			die("unknown scope '%.*s'", badlen, bad);
		/* No scope at all would be a key without restrictions. */
		if (mask == 0)
			die("--scopes must name at least one scope (leave it "
			    "out for a key without restrictions)");
	}
	if (kv[3].val) {
		if (time_parse_rfc3339(kv[3].val, &t) == -1)
			die("--expires-at must be an RFC 3339 time");
		time_sql(t, exp);
	}
	apikey_new(key, prefix, hash);
	a[0] = DBA_INT(tenant);
	a[1] = DBA_STR(kv[1].val);
	a[2] = DBA_STR(prefix);
	a[3] = DBA_BLOB(hash, sizeof(hash));
	a[4] = DBA_INT(mask);
	a[5] = kv[3].val ? DBA_STR(exp) : DBA_NULL;
	db = open_db_tenant(tenant);
	if (db_exec(db, SQL_APIKEY_INSERT, a, 6, NULL, &id) != DB_OK)
		die("cannot create the key: %s", db_errmsg(db));
	a[0] = DBA_INT(id);
	if (db_query_one(db, &pool, SQL_APIKEY_GET, a, 1, &res) != DB_OK)
		die("cannot read the key back: %s", db_errmsg(db));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "tenant_id", json_object_new_int64(tenant));
	json_object_object_add(o, "name", nullable(db_str(&res, 0, KEY_NAME)));
	json_object_object_add(o, "prefix", json_object_new_string(prefix));
	json_object_object_add(o, "scopes", scopes_json(mask));
	json_object_object_add(o, "created_at",
	    nullable(db_str(&res, 0, KEY_CREATED)));
	json_object_object_add(o, "expires_at",
	    nullable(db_str(&res, 0, KEY_EXPIRES)));
	json_object_object_add(o, "key", json_object_new_string(key));
	print_json(o);
	sodium_memzero(key, sizeof(key));
	db_free(db);
	return 0;
}

static int
cmd_apikey_revoke(int argc, char *argv[])
{
	struct kv kv[] = { { "id", NULL } };
	struct db_arg a[2];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	long long id;

	parse_opts(argc, argv, kv, 1);
	id = parse_id("id", kv[0].val);
	a[0] = DBA_NULL;
	a[1] = DBA_INT(id);
	db = open_db();
	/* Servers refuse the key on its next request (see app/fcgi/auth.c). */
	if (db_begin(db) != DB_OK || db_query_one(db, &pool, SQL_APIKEY_REVOKE,
	    a, 2, &res) != DB_OK || db_commit(db) != DB_OK)
		die("cannot revoke: %s", db_errmsg(db));
	if (db_int(&res, 0, 0) == 0)
		die("no API key with id %lld", id);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "revoked", json_object_new_boolean(1));
	print_json(o);
	db_free(db);
	return 0;
}

/* Deletes what has outlived its use now (the spooler does it about once a
 * minute): prints the rows deleted. */
static int
cmd_purge(int argc, char *argv[])
{
	struct json_object *o;
	struct db *db;
	uint64_t n = 0, purged = 0, removed = 0;

	parse_opts(argc, argv, NULL, 0);
	db = open_db();
	if (housekeep(db, &n) != DB_OK ||
	    housekeep_webhooks(db, &pool, cfg.webhooks_retention_days,
	    &purged, &removed) != DB_OK)
		die("cannot purge: %s", db_errmsg(db));
	o = json_object_new_object();
	json_object_object_add(o, "idempotency_keys",
	    json_object_new_int64((int64_t)n));
	json_object_object_add(o, "webhook_deliveries_purged",
	    json_object_new_int64((int64_t)purged));
	json_object_object_add(o, "webhook_rows_removed",
	    json_object_new_int64((int64_t)removed));
	print_json(o);
	db_free(db);
	return 0;
}

/* Seals a secret under the master key into a pool buffer. */
static struct db_arg
sealed(const uint8_t *mkey, const char *plain)
{
	size_t n = strlen(plain);
	uint8_t *out = pool_alloc(&pool, n + SECRET_OVERHEAD);

	return DBA_BLOB(out, secret_seal(mkey, plain, n, out));
}

#define TOKEN_MAX	2048	/* an access token, in bytes */
#define APP_SECRET_MAX	512

/* Reads a secret from the first line of path ("-": standard input) into
 * buf, which holds max + 2 bytes; the line's "\n" or "\r\n" is not part of
 * it. Dies (with buf wiped) when the file cannot be read, or the line is
 * empty, longer than max or holds a NUL. Reads one byte at a time with
 * read(2), so no stdio buffer keeps a copy and nothing past the line is
 * consumed. */
static void
read_secret(const char *opt, const char *path, char *buf, size_t max)
{
	const char *why = NULL;
	size_t len = 0;
	ssize_t n;
	char c;
	int fd;

	if (!strcmp(path, "-"))
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die("--%s %s: %s", opt, path, strerror(errno));
	for (;;) {
		if ((n = read(fd, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			why = strerror(errno);
			break;
		}
		if (n == 0 || c == '\n')
			break;
		if (c == '\0') {
			why = "the secret holds a NUL byte";
			break;
		}
		if (len == max + 1) {	/* room for a '\r' to strip */
			why = "the first line is too long";
			break;
		}
		buf[len++] = c;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (why == NULL && len > 0 && buf[len - 1] == '\r')
		len--;
	if (why == NULL && len == 0)
		why = "the first line is empty";
	if (why == NULL && len > max)
		why = "the first line is too long";
	if (why != NULL) {
		sodium_memzero(buf, max + 2);
		die("--%s %s: %s (at most %zu characters)", opt, path, why, max);
	}
	buf[len] = '\0';
}

/* The secret given by --NAME (kv[0], the argument itself) or --NAME-file
 * (kv[1], read into buf of max + 2 bytes); NULL when neither was given. */
static const char *
secret_opt(const struct kv *kv, char *buf, size_t max)
{
	if (kv[0].val != NULL && kv[1].val != NULL)
		die("give --%s or --%s, not both", kv[0].name, kv[1].name);
	if (kv[1].val != NULL) {
		read_secret(kv[1].name, kv[1].val, buf, max);
		return buf;
	}
	if (kv[0].val != NULL && (*kv[0].val == '\0' ||
	    strlen(kv[0].val) > max))
		die("--%s must be 1 to %zu characters", kv[0].name, max);
	return kv[0].val;
}

static int
cmd_account_create(int argc, char *argv[])
{
	struct kv kv[] = { { "tenant", NULL }, { "phone-number-id", NULL },
	    { "waba-id", NULL }, { "display-phone", NULL },
	    { "access-token", NULL }, { "access-token-file", NULL },
	    { "app-secret", NULL }, { "app-secret-file", NULL },
	    { "mps", NULL } };
	uint8_t mkey[MASTER_KEY_LEN];
	char phone[PHONE_MAX + 1], err[512];
	char tokbuf[TOKEN_MAX + 2], secbuf[APP_SECRET_MAX + 2];
	const char *token, *secret;
	struct db_arg a[7];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	long long tenant, mps = 80;
	uint64_t id;
	enum db_rc rc;

	parse_opts(argc, argv, kv, nitems(kv));
	tenant = parse_id("tenant", kv[0].val);
	if (kv[1].val == NULL || !graph_id_valid(kv[1].val))
		die("--phone-number-id is required: Meta's phone number id "
		    "(letters, digits, _ and -, at most 64)");
	if (kv[2].val == NULL || !graph_id_valid(kv[2].val))
		die("--waba-id is required: the WhatsApp Business Account id");
	if (kv[3].val == NULL || phone_normalize(kv[3].val, strlen(kv[3].val),
	    phone) == -1)
		die("--display-phone is required, in E.164 (+ and 8-15 digits)");
	if (kv[4].val == NULL && kv[5].val == NULL)
		die("--access-token-file (or --access-token) is required");
	if (kv[5].val != NULL && kv[7].val != NULL && !strcmp(kv[5].val, "-") &&
	    !strcmp(kv[7].val, "-"))
		die("only one of --access-token-file and --app-secret-file can "
		    "be - (standard input)");
	if (kv[8].val != NULL) {
		char *end;
		errno = 0;
		mps = strtoll(kv[8].val, &end, 10);
		if (errno || *end != '\0' || mps < 0 || mps > 100000)
			die("--mps must be an integer from 0 (no limit) to 100000");
	}
	if ((kv[4].val != NULL && kv[5].val == NULL) ||
	    (kv[6].val != NULL && kv[7].val == NULL))
		fprintf(stderr, "wazera-admin: warning: a secret given on the "
		    "command line shows in ps and the shell's history; prefer "
		    "--access-token-file and --app-secret-file\n");
	token = secret_opt(&kv[4], tokbuf, TOKEN_MAX);
	secret = secret_opt(&kv[6], secbuf, APP_SECRET_MAX);
	if (masterkey_load(cfg.master_key_file, mkey, err, sizeof(err)) == -1)
		die("%s", err);
	a[0] = DBA_INT(tenant);
	db = open_db_tenant(tenant);
	a[1] = DBA_STR(kv[1].val);
	a[2] = DBA_STR(kv[2].val);
	a[3] = DBA_STR(phone);
	a[4] = sealed(mkey, token);
	a[5] = secret ? sealed(mkey, secret) : DBA_NULL;
	a[6] = DBA_INT(mps);
	sodium_memzero(mkey, sizeof(mkey));
	sodium_memzero(tokbuf, sizeof(tokbuf));
	sodium_memzero(secbuf, sizeof(secbuf));
	rc = db_exec(db, SQL_ACCOUNT_INSERT, a, 7, NULL, &id);
	if (rc == DB_DUP)
		die("phone number id %s is already registered", kv[1].val);
	if (rc != DB_OK)
		die("cannot create the account: %s", db_errmsg(db));
	a[1] = DBA_INT(id);
	if (db_query_one(db, &pool, SQL_ACCOUNT_GET, a, 2, &res) != DB_OK)
		die("cannot read the account back: %s", db_errmsg(db));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "tenant_id", json_object_new_int64(tenant));
	json_object_object_add(o, "display_phone",
	    nullable(db_str(&res, 0, A_DISPLAY)));
	json_object_object_add(o, "phone_number_id",
	    nullable(db_str(&res, 0, A_PHONE_ID)));
	json_object_object_add(o, "waba_id", nullable(db_str(&res, 0, A_WABA)));
	json_object_object_add(o, "mps",
	    json_object_new_int64(db_int(&res, 0, A_MPS)));
	json_object_object_add(o, "created_at",
	    nullable(db_str(&res, 0, A_CREATED)));
	print_json(o);
	db_free(db);
	return 0;
}

/* Takes a flag without a value (--password-stdin) out of argv. */
static bool
take_flag(int *argc, char *argv[], const char *flag)
{
	bool found = false;
	int i, j;

	for (i = j = 0; i < *argc; i++) {
		if (!strcmp(argv[i], flag))
			found = true;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	return found;
}

/* The password on the first line of standard input (SPEC 10), hashed into
 * hash; the plain text is wiped. Dies when it is not acceptable. */
static void
read_password(char hash[PASSWORD_HASH_LEN])
{
	char buf[PASSWORD_MAX + 2];
	const char *why;

	read_secret("password-stdin", "-", buf, PASSWORD_MAX);
	if ((why = password_problem(buf, strlen(buf))) != NULL) {
		sodium_memzero(buf, sizeof(buf));
		die("%s", why);
	}
	if (password_hash(buf, strlen(buf), hash) == -1) {
		sodium_memzero(buf, sizeof(buf));
		die("cannot hash the password: out of memory");
	}
	sodium_memzero(buf, sizeof(buf));
}

static struct json_object *
user_json(const struct db_res *res)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id",
	    json_object_new_int64(db_int(res, 0, UR_ID)));
	json_object_object_add(o, "tenant_id",
	    json_object_new_int64(db_int(res, 0, UR_TENANT)));
	json_object_object_add(o, "name", nullable(db_str(res, 0, UR_NAME)));
	json_object_object_add(o, "email", nullable(db_str(res, 0, UR_EMAIL)));
	json_object_object_add(o, "role", nullable(db_str(res, 0, UR_ROLE)));
	return o;
}

static int
cmd_user_create(int argc, char *argv[])
{
	struct kv kv[] = { { "tenant", NULL }, { "name", NULL },
	    { "email", NULL }, { "role", NULL } };
	char hash[PASSWORD_HASH_LEN];
	struct db_arg a[5];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	long long tenant;
	const char *role;
	bool with_password;
	uint64_t id;
	enum db_rc rc;

	with_password = take_flag(&argc, argv, "--password-stdin");
	parse_opts(argc, argv, kv, 4);
	tenant = parse_id("tenant", kv[0].val);
	if (kv[1].val == NULL || *kv[1].val == '\0' || strlen(kv[1].val) > 255 ||
	    !utf8_valid(kv[1].val, strlen(kv[1].val)))
		die("--name is required (at most 255 characters of UTF-8)");
	if (kv[2].val == NULL || !email_valid(kv[2].val, strlen(kv[2].val)))
		die("--email is required and must be a valid address");
	role = kv[3].val != NULL ? kv[3].val : "agent";
	if (strcmp(role, "admin") != 0 && strcmp(role, "agent") != 0)
		die("--role must be admin or agent");
	if (with_password)
		read_password(hash);
	a[0] = DBA_INT(tenant);
	db = open_db_tenant(tenant);
	a[1] = DBA_STR(kv[1].val);
	a[2] = DBA_STR(kv[2].val);
	a[3] = DBA_STR(role);
	a[4] = with_password ? DBA_STR(hash) : DBA_NULL;
	rc = db_exec(db, SQL_USER_CREATE, a, 5, NULL, &id);
	sodium_memzero(hash, sizeof(hash));
	if (rc == DB_DUP && strstr(db_errmsg(db), "users_login") != NULL)
		die("a user of another tenant signs in with the email %s",
		    kv[2].val);
	if (rc == DB_DUP)
		die("a user with email %s exists in tenant %lld", kv[2].val,
		    tenant);
	if (rc != DB_OK)
		die("cannot create the user: %s", db_errmsg(db));
	a[0] = DBA_INT((int64_t)id);
	if (db_query_one(db, &pool, SQL_USER_READ, a, 1, &res) != DB_OK)
		die("cannot read the user back: %s", db_errmsg(db));
	o = user_json(&res);
	print_json(o);
	db_free(db);
	return 0;
}

/* A new password from standard input; the user's sessions end. */
static int
cmd_user_password(int argc, char *argv[])
{
	struct kv kv[] = { { "id", NULL } };
	char hash[PASSWORD_HASH_LEN];
	struct db_arg a[2];
	struct db_res res;
	struct db *db;
	struct json_object *o;
	long long id;
	uint64_t n = 0;
	enum db_rc rc;

	(void)take_flag(&argc, argv, "--password-stdin");
	parse_opts(argc, argv, kv, 1);
	id = parse_id("id", kv[0].val);
	db = open_db();
	a[0] = DBA_INT(id);
	if ((rc = db_query_one(db, &pool, SQL_USER_READ, a, 1, &res)) !=
	    DB_OK) {
		const char *why = rc == DB_NOROW ? "no such user" :
		    db_errmsg(db);

		db_free(db);
		die("cannot read the user with id %lld: %s", id, why);
	}
	read_password(hash);
	a[0] = DBA_STR(hash);
	a[1] = DBA_INT(id);
	if ((rc = db_begin(db)) != DB_OK ||
	    (rc = db_exec(db, SQL_USER_SET_PASSWORD, a, 2, &n, NULL)) != DB_OK ||
	    (a[0] = DBA_INT(id), rc = db_exec(db, SQL_SESSION_DELETE_USER, a, 1,
	    NULL, NULL)) != DB_OK || (rc = db_commit(db)) != DB_OK) {
		const char *why = rc == DB_DUP ? pool_printf(&pool, "a user of "
		    "another tenant signs in with the email %s",
		    db_str(&res, 0, UR_EMAIL)) : pool_printf(&pool, "cannot set "
		    "the password: %s", db_errmsg(db));

		sodium_memzero(hash, sizeof(hash));
		db_rollback(db);
		db_free(db);
		die("%s", why);
	}
	sodium_memzero(hash, sizeof(hash));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(id));
	json_object_object_add(o, "password_set", json_object_new_boolean(1));
	print_json(o);
	db_free(db);
	return 0;
}

/* ---- status ---------------------------------------------------------- */

static struct json_object *
jstr(const struct db_res *res, size_t i, size_t col)
{
	return db_isnull(res, i, col) ? NULL :
	    json_object_new_string(db_str(res, i, col));
}

static struct json_object *
jint(const struct db_res *res, size_t i, size_t col)
{
	return db_isnull(res, i, col) ? NULL :
	    json_object_new_int64(db_int(res, i, col));
}

static struct db_res
status_read(struct db *db, enum sql stmt)
{
	struct db_res res;

	if (db_query(db, &pool, stmt, NULL, 0, &res) != DB_OK)
		die("cannot read the status (%s): %s", sql_name(stmt),
		    db_errmsg(db));
	return res;
}

/* A status list's columns as JSON fields: a number or a string. */
struct status_col {
	const char	*name;
	size_t		 col;
	bool		 num;
};

static const struct status_col lease_cols[] = {
	{ "kind", LS_KIND, false }, { "id", LS_ID, true },
	{ "holder", LS_HOLDER, false }, { "until", LS_UNTIL, false },
};
static const struct status_col webhook_cols[] = {
	{ "id", SW_ID, true }, { "tenant_id", SW_TENANT, true },
	{ "url", SW_URL, false }, { "status", SW_STATUS, false },
	{ "disabled_reason", SW_REASON, false },
	{ "failing_since", SW_FAILING, false },
	{ "pending", SW_PENDING, true },
};
static const struct status_col paused_cols[] = {
	{ "id", SP_ID, true }, { "tenant_id", SP_TENANT, true },
	{ "display_phone", SP_PHONE, false },
	{ "paused_until", SP_UNTIL, false },
};

/* Every row of a status statement as an object of the columns named. */
static struct json_object *
status_rows(struct db *db, enum sql stmt, const struct status_col *cols,
    size_t ncols)
{
	struct db_res res = status_read(db, stmt);
	struct json_object *arr = json_object_new_array();
	size_t i, c;

	for (i = 0; i < res.nrows; i++) {
		struct json_object *row = json_object_new_object();

		for (c = 0; c < ncols; c++)
			json_object_object_add(row, cols[c].name, cols[c].num ?
			    jint(&res, i, cols[c].col) :
			    jstr(&res, i, cols[c].col));
		json_object_array_add(arr, row);
	}
	return arr;
}

/* A queue's depth: its counts under the names given (NULL: not shown),
 * the oldest due item and its age. */
static struct json_object *
status_queue(struct db *db, enum sql stmt, const char *due,
    const char *later, const char *parked, const char *inflight)
{
	const char *names[] = { due, later, parked, inflight };
	struct db_res res = status_read(db, stmt);
	struct json_object *o = json_object_new_object();
	size_t c;

	for (c = 0; c < 4; c++)
		if (names[c] != NULL)
			json_object_object_add(o, names[c], jint(&res, 0, c));
	json_object_object_add(o, "oldest_due_at", jstr(&res, 0, QS_OLDEST));
	json_object_object_add(o, "oldest_due_age_seconds",
	    jint(&res, 0, QS_AGE));
	return o;
}

static const char *
ostr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return "-";
	return json_object_get_string(v);
}

static void
status_print_queue(const char *name, struct json_object *q)
{
	char other[96] = "", oldest[96] = "-";
	struct json_object_iterator it, end;
	size_t n = 0;
	int col = 0;

	/* The first two counts are due and later; the rest go to "other". */
	it = json_object_iter_begin(q);
	end = json_object_iter_end(q);
	printf("  %-20s", name);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);

		if (!strncmp(k, "oldest_", 7))
			continue;
		if (col++ < 2)
			printf(" %8s", v ? json_object_get_string(v) : "0");
		else if (n < sizeof(other))
			n += (size_t)snprintf(other + n, sizeof(other) - n,
			    "%s%s %s", n ? ", " : "", v ?
			    json_object_get_string(v) : "0", k);
	}
	if (strcmp(ostr(q, "oldest_due_at"), "-"))
		snprintf(oldest, sizeof(oldest), "%s (%s s ago)",
		    ostr(q, "oldest_due_at"), ostr(q, "oldest_due_age_seconds"));
	printf("  %-24s %s\n", other[0] ? other : "-", oldest);
}

/* What an operator looks at first: the schema, the spoolers' queues and
 * leases, and what is stuck (webhooks disabled or failing, accounts Meta
 * paused). A table, or one JSON object with --json. Read only, without
 * locks: safe on a busy database. */
static int
cmd_status(int argc, char *argv[])
{
	struct json_object *o, *schema, *queues, *arr;
	struct db_res res;
	struct db *db;
	char avail[256];
	bool json = false, uptodate;
	const char *current = NULL;
	size_t i;
	int k;

	for (k = 0; k < argc; k++) {
		if (!strcmp(argv[k], "--json"))
			json = true;

		else
			die("unknown option %s", argv[k]);
	}
	db = open_db();
	o = json_object_new_object();

	schema = json_object_new_object();
	if (db_query_one(db, &pool, SQL_HEALTH_SCHEMA, NULL, 0, &res) ==
	    DB_OK && !db_isnull(&res, 0, 0))
		current = db_str(&res, 0, 0);
	uptodate = current != NULL;
	json_object_object_add(schema, "current", current == NULL ? NULL :
	    json_object_new_string(current));
	json_object_object_add(schema, "expected",
	    json_object_new_string(WZ_SCHEMA_EXPECTED));
	if (current != NULL && strcmp(current, WZ_SCHEMA_EXPECTED) < 0)
		uptodate = false;
	if (migrate_latest(cfg.sql_dir, avail, sizeof(avail)) == 0) {
		json_object_object_add(schema, "available",
		    json_object_new_string(avail));
		if (current != NULL && strcmp(current, avail) < 0)
			uptodate = false;
	} else
		json_object_object_add(schema, "available", NULL);
	json_object_object_add(schema, "up_to_date",
	    json_object_new_boolean(uptodate));
	json_object_object_add(o, "schema", schema);
	if (current == NULL) {
		/* Never migrated: nothing else to read. */
		if (json)
			print_json(o);
		else {
			printf("schema: not migrated (run wazera-admin "
			    "migrate)\n");
			json_object_put(o);
		}
		db_free(db);
		return 0;
	}

	queues = json_object_new_object();
	json_object_object_add(queues, "messages", status_queue(db,
	    SQL_STATUS_MESSAGES, "due", "later", "parked", "sending"));
	json_object_object_add(queues, "webhook_deliveries", status_queue(db,
	    SQL_STATUS_DELIVERIES, "due", "later", NULL, "in_flight"));
	json_object_object_add(queues, "campaigns", status_queue(db,
	    SQL_STATUS_CAMPAIGNS, "due", "later", "stopping", NULL));
	json_object_object_add(o, "queues", queues);

	json_object_object_add(o, "leases", status_rows(db,
	    SQL_STATUS_LEASES, lease_cols, nitems(lease_cols)));
	json_object_object_add(o, "webhooks", status_rows(db,
	    SQL_STATUS_WEBHOOKS, webhook_cols, nitems(webhook_cols)));
	json_object_object_add(o, "paused_accounts", status_rows(db,
	    SQL_STATUS_PAUSED, paused_cols, nitems(paused_cols)));
	db_free(db);

	if (json) {
		print_json(o);
		return 0;
	}
	printf("schema: %s (this build expects %s; %s has %s)%s\n", current,
	    WZ_SCHEMA_EXPECTED, cfg.sql_dir, ostr(schema, "available"),
	    uptodate ? "" : " -- run wazera-admin migrate");
	printf("\n  %-20s %8s %8s  %-24s %s\n", "queue", "due", "later",
	    "other", "oldest due");
	status_print_queue("messages", json_object_object_get(queues,
	    "messages"));
	status_print_queue("webhook deliveries", json_object_object_get(queues,
	    "webhook_deliveries"));
	status_print_queue("campaigns", json_object_object_get(queues,
	    "campaigns"));

	arr = json_object_object_get(o, "leases");
	printf("\nspooler leases: %zu\n", json_object_array_length(arr));
	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *l = json_object_array_get_idx(arr, i);

		printf("  %-8s %-8s held by %s until %s\n", ostr(l, "kind"),
		    ostr(l, "id"), ostr(l, "holder"), ostr(l, "until"));
	}
	arr = json_object_object_get(o, "webhooks");
	printf("\nwebhooks disabled or failing: %zu\n",
	    json_object_array_length(arr));
	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *w = json_object_array_get_idx(arr, i);

		if (!strcmp(ostr(w, "status"), "disabled"))
			printf("  webhook %s (tenant %s) %s: disabled (%s), %s "
			    "pending\n", ostr(w, "id"), ostr(w, "tenant_id"),
			    ostr(w, "url"), ostr(w, "disabled_reason"),
			    ostr(w, "pending"));
		else
			printf("  webhook %s (tenant %s) %s: failing since %s, "
			    "%s pending\n", ostr(w, "id"), ostr(w, "tenant_id"),
			    ostr(w, "url"), ostr(w, "failing_since"),
			    ostr(w, "pending"));
	}
	arr = json_object_object_get(o, "paused_accounts");
	printf("\naccounts paused by Meta: %zu\n", json_object_array_length(arr));
	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *a = json_object_array_get_idx(arr, i);

		printf("  account %s (tenant %s, %s) until %s\n", ostr(a, "id"),
		    ostr(a, "tenant_id"), ostr(a, "display_phone"),
		    ostr(a, "paused_until"));
	}
	json_object_put(o);
	return 0;
}

/* The commands: a noun alone (no arguments) or a noun and a verb, and
 * what runs them with the arguments after those words. */
static const struct command {
	const char	*noun;
	const char	*verb;
	int		(*run)(int, char *[]);
} commands[] = {
	{ "init",	NULL,		cmd_init },
	{ "migrate",	NULL,		cmd_migrate },
	{ "check",	NULL,		cmd_check },
	{ "purge",	NULL,		cmd_purge },
	{ "status",	NULL,		cmd_status },
	{ "tenant",	"create",	cmd_tenant_create },
	{ "apikey",	"create",	cmd_apikey_create },
	{ "apikey",	"revoke",	cmd_apikey_revoke },
	{ "account",	"create",	cmd_account_create },
	{ "user",	"create",	cmd_user_create },
	{ "user",	"password",	cmd_user_password },
};

int
main(int argc, char *argv[])
{
	const struct command *c;
	const char *cfgarg = NULL;
	char err[512];
	int rc, i;

	log_setname("wazera-admin");
	argv++;
	argc--;
	while (argc > 0 && !strncmp(argv[0], "--config", 8)) {
		if (argv[0][8] == '=')
			cfgarg = argv[0] + 9;
		else if (argv[0][8] == '\0' && argc > 1) {
			cfgarg = argv[1];
			argv++;
			argc--;
		} else
			usage();
		argv++;
		argc--;
	}
	if (argc < 1)
		usage();
	/* --help anywhere (wazera-admin account create --help): the usage,
	 * before the config is read (there may be none yet). */
	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || (i == 0 &&
		    !strcmp(argv[i], "-h")))
			usage_exit(0);
	if (config_load(&cfg, config_path(cfgarg), err, sizeof(err)) == -1)
		die("config: %s", err);
	if (crypto_init() == -1)
		die("libsodium failed to initialise");
	pool_init(&pool);
	for (c = commands; c < commands + nitems(commands); c++) {
		if (strcmp(argv[0], c->noun))
			continue;
		if (c->verb == NULL && (argc == 1 ||
		    (c->run == cmd_status && argv[1][0] == '-')))
			break;
		if (c->verb != NULL && argc >= 2 && !strcmp(argv[1], c->verb))
			break;
	}
	if (c == commands + nitems(commands))
		usage();
	rc = c->verb == NULL ? c->run(argc - 1, argv + 1) :
	    c->run(argc - 2, argv + 2);
	pool_free(&pool);
	config_free(&cfg);
	return rc;
}
