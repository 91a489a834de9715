#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "crypto.h"
#include "idempotency.h"
#include "request.h"

bool
idempotency_key_valid(const char *k)
{
	size_t n = strlen(k), i;

	if (n == 0 || n > 255)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return false;
	return true;
}

/* Replays a stored answer: status and body as first sent. */
static void
replay(struct req *r, int status, const char *body)
{
	/* The stored text is sent as it is; no JSON is built. */
	json_object_put(r->out);
	r->out = NULL;
	r->status = status;
	r->out_text = pool_strdup(&r->pool, body);
	reply_header(r, "Idempotent-Replayed", "true");
}

void
idempotent_run(struct req *r)
{
	const char *key = r->idempotency_key;
	uint8_t hash[32];
	crypto_hash_sha256_state st;
	struct db_res res;
	struct db_arg args[4];
	enum db_rc rc;
	int stale;

	if (!idempotency_key_valid(key)) {
		reply_error(r, ERR_BAD_REQUEST, "The Idempotency-Key header must be "
		    "1 to 255 printable ASCII characters.", NULL);
		return;
	}
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)r->method,
	    strlen(r->method) + 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)r->path,
	    strlen(r->path) + 1);
	if (r->bodylen > 0)
		crypto_hash_sha256_update(&st, (const uint8_t *)r->body,
		    r->bodylen);
	crypto_hash_sha256_final(&st, hash);
	args[0] = DBA_INT(r->tenant_id);
	args[1] = DBA_STR(key);
	args[2] = DBA_BLOB(hash, sizeof(hash));

	/* An expired record is removed, once, and the key taken afresh. */
	for (stale = 0; stale < 2; stale++) {
		if ((rc = db_begin(r->db)) != DB_OK)
			goto fail;
		/* A concurrent first request holds this row's lock until it
		 * commits, so a racing repeat waits here and then replays. */
		rc = db_exec(r->db, SQL_IDEM_INSERT, args, 3, NULL, NULL);
		if (rc != DB_DUP)
			break;
		if ((rc = db_query_one(r->db, &r->pool, SQL_IDEM_GET, args, 2,
		    &res)) != DB_OK)
			goto fail;
		if (!db_int(&res, 0, IDEM_STALE)) {
			db_rollback(r->db);
			if (db_len(&res, 0, IDEM_HASH) != sizeof(hash) ||
			    sodium_memcmp(db_str(&res, 0, IDEM_HASH), hash,
			    sizeof(hash)) != 0) {
				reply_error(r, ERR_CONFLICT, "This Idempotency-Key "
				    "was already used with a different request.",
				    NULL);
				return;
			}
			replay(r, (int)db_int(&res, 0, IDEM_STATUS),
			    db_str(&res, 0, IDEM_BODY));
			return;
		}
		if ((rc = db_exec(r->db, SQL_IDEM_DELETE, args, 2, NULL,
		    NULL)) != DB_OK || (rc = db_commit(r->db)) != DB_OK)
			goto fail;
	}
	if (rc != DB_OK)
		goto fail;	/* still a duplicate: taken again meanwhile */
	r->handler(r);
	if (r->retry || r->status >= 500) {
		/* Nothing happened: run again, or let the client retry. */
		db_rollback(r->db);
		return;
	}
	args[0] = DBA_INT(r->status);
	args[1] = DBA_STR(reply_finish(r));
	args[2] = DBA_INT(r->tenant_id);
	args[3] = DBA_STR(key);
	if ((rc = db_exec(r->db, SQL_IDEM_COMPLETE, args, 4, NULL, NULL)) ==
	    DB_OK && (rc = db_commit(r->db)) == DB_OK)
		return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_DUP ? DB_RETRY : rc);
}
