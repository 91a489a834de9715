#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "crypto.h"

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
uuid_v4(char out[37])
{
	uint8_t b[16];
	char h[33];

	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	hex_encode(b, sizeof(b), h);
	memcpy(out, h, 8);
	out[8] = '-';
	memcpy(out + 9, h + 8, 4);
	out[13] = '-';
	memcpy(out + 14, h + 12, 4);
	out[18] = '-';
	memcpy(out + 19, h + 16, 4);
	out[23] = '-';
	memcpy(out + 24, h + 20, 12);
	out[36] = '\0';
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
