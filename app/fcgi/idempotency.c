#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "crypto.h"
#include "idempotency.h"
#include "keyring.h"
#include "log.h"
#include "request.h"

/* A stored answer that shows a secret (a webhook's create answer) is
 * kept sealed under the master key, as the secret itself is: this prefix,
 * then base64 of the sealed text. */
#define SEALED_PREFIX	"wz-sealed:"

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

/* The answer as stored: sealed (in the pool) when it shows a secret;
 * NULL, after replying 503, when there is no master key to seal it. */
static const char *
stored_body(struct req *r, const char *text)
{
	const uint8_t *mk;
	size_t len = strlen(text), blen;
	uint8_t *sealed;
	char *out;

	if (!r->secret_out)
		return text;
	if ((mk = keyring_master(r->cfg)) == NULL) {
		r->out_text = NULL;
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The answer cannot be "
		    "kept for its Idempotency-Key: the server has no master "
		    "key.", NULL);
		return NULL;
	}
	sealed = pool_alloc(&r->pool, len + SECRET_OVERHEAD);
	blen = secret_seal(mk, text, len, sealed);
	out = pool_alloc(&r->pool, sizeof(SEALED_PREFIX) - 1 +
	    sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL));
	memcpy(out, SEALED_PREFIX, sizeof(SEALED_PREFIX) - 1);
	sodium_bin2base64(out + sizeof(SEALED_PREFIX) - 1,
	    sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL),
	    sealed, blen, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* A stored answer as sent: opened when sealed; NULL when it does not open
 * (the master key is gone or another). */
static const char *
opened_body(struct req *r, const char *body)
{
	const uint8_t *mk;
	size_t blen, n = strlen(body);
	uint8_t *bin;
	char *plain;

	if (strncmp(body, SEALED_PREFIX, sizeof(SEALED_PREFIX) - 1) != 0)
		return body;
	body += sizeof(SEALED_PREFIX) - 1;
	n -= sizeof(SEALED_PREFIX) - 1;
	bin = pool_alloc(&r->pool, n + 1);
	if ((mk = keyring_master(r->cfg)) == NULL ||
	    sodium_base642bin(bin, n, body, n, NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || blen < SECRET_OVERHEAD)
		return NULL;
	plain = pool_alloc(&r->pool, blen - SECRET_OVERHEAD + 1);
	if (secret_open(mk, bin, blen, plain) == -1)
		return NULL;
	return plain;
}

/* Replays a stored answer: status and body as first sent. */
static void
replay(struct req *r, int status, const char *body)
{
	if ((body = opened_body(r, body)) == NULL) {
		log_warnx("request %s: the answer kept for an Idempotency-Key "
		    "does not open under the master key", r->id);
		reply_error(r, ERR_SERVICE_UNAVAILABLE, "The answer kept for "
		    "this Idempotency-Key cannot be read.", NULL);
		return;
	}
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
	const char *key = r->idempotency_key, *body;
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
	if ((body = stored_body(r, reply_finish(r))) == NULL) {
		db_rollback(r->db);	/* nothing happened: 503 */
		return;
	}
	args[0] = DBA_INT(r->status);
	args[1] = DBA_STR(body);
	args[2] = DBA_INT(r->tenant_id);
	args[3] = DBA_STR(key);
	if ((rc = db_exec(r->db, SQL_IDEM_COMPLETE, args, 4, NULL, NULL)) ==
	    DB_OK && (rc = db_commit(r->db)) == DB_OK)
		return;
fail:
	db_rollback(r->db);
	reply_db(r, rc == DB_DUP ? DB_RETRY : rc);
}
