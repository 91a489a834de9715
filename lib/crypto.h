/* Keys, hashes and random identifiers. */
#ifndef WZ_CRYPTO_H
#define WZ_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_PREFIX		"wz_live_"
#define KEY_RANDOM_LEN		40	/* base62 characters, ~238 bits */
#define KEY_LEN			(sizeof(KEY_PREFIX) - 1 + KEY_RANDOM_LEN)
#define KEY_DISPLAY_PREFIX	12	/* "wz_live_" and four more */
#define KEY_HASH_LEN		32

/* Must be called once before any other function here. Returns -1 on failure. */
int	 crypto_init(void);
/* Writes a new API key (KEY_LEN characters and a NUL) to out. */
void	 apikey_generate(char out[KEY_LEN + 1]);
/* A new key (apikey_generate), its display prefix and its hash: what a
 * key's row keeps, and the key to show once. */
void	 apikey_new(char key[KEY_LEN + 1], char prefix[KEY_DISPLAY_PREFIX + 1],
	    uint8_t hash[KEY_HASH_LEN]);
/* True if s has the shape of an API key (prefix, then 32+ base62). */
bool	 apikey_wellformed(const char *s, size_t len);
/* BLAKE2b-256 of the key: keys carry enough entropy that a fast hash is
 * safe, and lookups stay cheap on every request. */
void	 apikey_hash(const char *key, size_t len, uint8_t out[KEY_HASH_LEN]);
/* Random lowercase hex string of 2*nbytes characters (nbytes <= 64). */
void	 random_hex(char *out, size_t nbytes);
void	 hex_encode(const uint8_t *, size_t, char *out);
/* HMAC-SHA256 of data under key, as 64 hex characters and a NUL. */
void	 hmac_sha256_hex(const void *key, size_t keylen, const void *data,
	    size_t len, char out[65]);
/* SHA-256 of data. */
void	 sha256(const void *data, size_t len, uint8_t out[32]);

#define MASTER_KEY_LEN		32
#define SECRET_OVERHEAD		40	/* nonce and MAC of a sealed secret */

/* Reads the master key file (64 hex characters, as `wazera-admin init`
 * writes it). Returns 0, or -1 with a message in err. */
int	 masterkey_load(const char *path, uint8_t key[MASTER_KEY_LEN],
	    char *err, size_t errsz);
/* Encrypts plain (secretbox, random nonce) into out, which must hold
 * len + SECRET_OVERHEAD bytes. Returns the sealed length. */
size_t	 secret_seal(const uint8_t key[MASTER_KEY_LEN], const char *plain,
	    size_t len, uint8_t *out);
/* Decrypts a sealed secret into out, which must hold inlen -
 * SECRET_OVERHEAD + 1 bytes, and NUL-terminates it. Returns 0, or -1 if it
 * is forged, truncated or sealed under another key. */
int	 secret_open(const uint8_t key[MASTER_KEY_LEN], const uint8_t *in,
	    size_t inlen, char *out);

/* Outgoing webhooks' signatures (SPEC 6). X-Wazera-Signature:
 * "sha256=" and the hex HMAC-SHA256 of the body under the secret string
 * as given. */
#define WEBHOOK_SIG_HEX_LEN	(7 + 64 + 1)
void	 webhook_sig_hex(const char *secret, const void *body, size_t len,
	    char out[WEBHOOK_SIG_HEX_LEN]);
/* Standard Webhooks (standardwebhooks.com): "v1," and the base64
 * HMAC-SHA256 of "<id>.<ts>.<body>"; the key is the base64-decoded rest
 * of a "whsec_" secret, else the secret's bytes. -1 when a whsec_
 * secret's rest is not base64 of 1..64 bytes. */
#define WEBHOOK_SIG_STD_LEN	(3 + 44 + 1)
int	 webhook_sig_std(const char *secret, const char *id, long long ts,
	    const void *body, size_t len, char out[WEBHOOK_SIG_STD_LEN]);


/* Dashboard passwords (SPEC 10): at least PASSWORD_MIN code points of
 * UTF-8, at most PASSWORD_MAX bytes, stored as libsodium's
 * crypto_pwhash_str (Argon2id, interactive limits: ~64 MiB and a tenth of
 * a second per hash or check). */
#define PASSWORD_MIN		10
#define PASSWORD_MAX		1024
#define PASSWORD_HASH_LEN	128	/* crypto_pwhash_STRBYTES */
/* NULL when the password is acceptable, else why not. */
const char *password_problem(const char *pw, size_t len);
/* Returns 0, or -1 when out of memory. */
int	 password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_LEN]);
/* Makes the dummy hash password_verify(NULL, ...) checks against, so the
 * first unknown email of a process costs no more than the next (workers
 * call it when they start). */
void	 password_dummy_init(void);
/* True when pw matches hash. With hash NULL, spends the time of a check
 * against a hash of the same cost and answers false, so a caller that
 * found no user answers as slowly as one that did. */
bool	 password_verify(const char *hash, const char *pw, size_t len);
#endif
