#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto.h"
#include "text.h"

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int
crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void
apikey_generate(char out[KEY_LEN + 1])
{
	size_t i, n = sizeof(KEY_PREFIX) - 1;

	memcpy(out, KEY_PREFIX, n);
	/* Uniform: randombytes_uniform rejects the biased tail. */
	for (i = 0; i < KEY_RANDOM_LEN; i++)
		out[n + i] = base62[randombytes_uniform(62)];
	out[KEY_LEN] = '\0';
}

void
apikey_new(char key[KEY_LEN + 1], char prefix[KEY_DISPLAY_PREFIX + 1],
    uint8_t hash[KEY_HASH_LEN])
{
	apikey_generate(key);
	apikey_hash(key, KEY_LEN, hash);
	memcpy(prefix, key, KEY_DISPLAY_PREFIX);
	prefix[KEY_DISPLAY_PREFIX] = '\0';
}

bool
apikey_wellformed(const char *s, size_t len)
{
	size_t i, n = sizeof(KEY_PREFIX) - 1;

	if (len < n + 32 || len > 128 || memcmp(s, KEY_PREFIX, n) != 0)
		return false;
	for (i = n; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

void
apikey_hash(const char *key, size_t len, uint8_t out[KEY_HASH_LEN])
{
	crypto_generichash(out, KEY_HASH_LEN, (const unsigned char *)key, len,
	    NULL, 0);
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
random_hex(char *out, size_t nbytes)
{
	uint8_t buf[64];

	if (nbytes > sizeof(buf))
		abort();	/* a caller's bug */
	randombytes_buf(buf, nbytes);
	hex_encode(buf, nbytes, out);
}

void
hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
    char out[65])
{
	uint8_t md[32];
	unsigned int mdlen = sizeof(md);

	HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen);
	hex_encode(md, 32, out);
}

void
sha256(const void *data, size_t len, uint8_t out[32])
{
	SHA256(data, len, out);
}

int
masterkey_load(const char *path, uint8_t key[MASTER_KEY_LEN], char *err,
    size_t errsz)
{
	char hex[2 * MASTER_KEY_LEN + 2];
	size_t binlen = 0, n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s (run wazera-admin init)", path,
		    strerror(errno));
		return -1;
	}
	n = fread(hex, 1, sizeof(hex), f);
	fclose(f);
	while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
		n--;
	if (n != 2 * MASTER_KEY_LEN || sodium_hex2bin(key, MASTER_KEY_LEN, hex,
	    n, NULL, &binlen, NULL) != 0 || binlen != MASTER_KEY_LEN) {
		sodium_memzero(hex, sizeof(hex));
		snprintf(err, errsz, "%s: not a master key (64 hex characters)",
		    path);
		return -1;
	}
	sodium_memzero(hex, sizeof(hex));
	return 0;
}

size_t
secret_seal(const uint8_t key[MASTER_KEY_LEN], const char *plain, size_t len,
    uint8_t *out)
{
	randombytes_buf(out, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
	    (const unsigned char *)plain, len, out, key);
	return len + SECRET_OVERHEAD;
}

int
secret_open(const uint8_t key[MASTER_KEY_LEN], const uint8_t *in, size_t inlen,
    char *out)
{
	if (inlen < SECRET_OVERHEAD)
		return -1;
	if (crypto_secretbox_open_easy((unsigned char *)out,
	    in + crypto_secretbox_NONCEBYTES, inlen - crypto_secretbox_NONCEBYTES,
	    in, key) != 0)
		return -1;
	out[inlen - SECRET_OVERHEAD] = '\0';
	return 0;
}

void
webhook_sig_hex(const char *secret, const void *body, size_t len,
    char out[WEBHOOK_SIG_HEX_LEN])
{
	memcpy(out, "sha256=", 7);
	hmac_sha256_hex(secret, strlen(secret), body, len, out + 7);
}

int
webhook_sig_std(const char *secret, const char *id, long long ts,
    const void *body, size_t len, char out[WEBHOOK_SIG_STD_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t key[64], md[crypto_auth_hmacsha256_BYTES];
	const uint8_t *k = (const uint8_t *)secret;
	size_t klen = strlen(secret);
	const char *end;
	char tsbuf[32];

	if (strncmp(secret, "whsec_", 6) == 0) {
		if (sodium_base642bin(key, sizeof(key), secret + 6, klen - 6,
		    NULL, &klen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    *end != '\0' || klen == 0) {
			sodium_memzero(key, sizeof(key));
			return -1;
		}
		k = key;
	}
	snprintf(tsbuf, sizeof(tsbuf), ".%lld.", ts);
	crypto_auth_hmacsha256_init(&st, k, klen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)tsbuf,
	    strlen(tsbuf));
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, md);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, WEBHOOK_SIG_STD_LEN - 3, md, sizeof(md),
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

const char *
password_problem(const char *pw, size_t len)
{
	size_t i, cps = 0;

	if (len > PASSWORD_MAX)
		return "The password must be at most 1024 bytes.";
	if (!utf8_valid(pw, len))
		return "The password must be valid UTF-8.";
	for (i = 0; i < len; i++)
		if (((unsigned char)pw[i] & 0xc0) != 0x80)
			cps++;
	if (cps < PASSWORD_MIN)
		return "The password must be at least 10 characters.";
	return NULL;
}

int
password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_LEN])
{
	return crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 ? 0 : -1;
}

static char dummy_hash[PASSWORD_HASH_LEN];

void
password_dummy_init(void)
{
	char junk[32];

	/* From a password nobody knows. */
	if (dummy_hash[0] != '\0')
		return;
	randombytes_buf(junk, sizeof(junk));
	if (password_hash(junk, sizeof(junk), dummy_hash) == -1)
		dummy_hash[0] = '\0';
	sodium_memzero(junk, sizeof(junk));
}

bool
password_verify(const char *hash, const char *pw, size_t len)
{
	if (hash == NULL) {
		int spent;

		password_dummy_init();
		/* Never a match: nobody knows the password. */
		spent = crypto_pwhash_str_verify(dummy_hash, pw, len);
		(void)spent;
		return false;
	}
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}
