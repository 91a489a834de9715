/* crypto.h: API keys, hashes, HMAC, UUIDs, random hex. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "tests.h"

static bool
is_base62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static bool
is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

START_TEST(apikey_generate_shape)
{
	char k[KEY_LEN + 1], k2[KEY_LEN + 1];
	size_t i;

	ck_assert_uint_eq(KEY_LEN, 48);
	memset(k, 'X', sizeof(k));
	apikey_generate(k);
	ck_assert_uint_eq(strlen(k), 48);
	ck_assert_mem_eq(k, "wz_live_", 8);
	for (i = 8; i < KEY_LEN; i++)
		ck_assert_msg(is_base62(k[i]), "key char %zu is '%c'", i, k[i]);
	ck_assert(apikey_wellformed(k, strlen(k)));
	apikey_generate(k2);
	ck_assert_str_ne(k, k2);
	/* The display prefix is "wz_live_" and four more. */
	ck_assert_int_eq(KEY_DISPLAY_PREFIX, 12);
}
END_TEST

START_TEST(apikey_generate_covers_alphabet)
{
	int seen[256] = { 0 }, n = 0, c;
	char k[KEY_LEN + 1];
	int i;

	/* 40 000 draws: missing any of 62 symbols by chance is ~1e-280. */
	for (i = 0; i < 1000; i++) {
		size_t j;
		apikey_generate(k);
		for (j = 8; j < KEY_LEN; j++)
			seen[(unsigned char)k[j]]++;
	}
	for (c = 0; c < 256; c++)
		if (seen[c]) {
			ck_assert_msg(is_base62((char)c), "non-base62 '%c'", c);
			n++;
			/* Each symbol about 645 times; a bias would show. */
			ck_assert_msg(seen[c] > 400 && seen[c] < 900,
			    "'%c' drawn %d times", c, seen[c]);
		}
	ck_assert_int_eq(n, 62);
}
END_TEST

#define WF(lit)	apikey_wellformed((lit), sizeof(lit) - 1)

START_TEST(apikey_wellformed_checks)
{
	char k[200];

	strcpy(k, "wz_live_");
	memset(k + 8, 'a', 32);
	k[40] = '\0';
	ck_assert(apikey_wellformed(k, 40));		/* 32 random chars */
	ck_assert(!apikey_wellformed(k, 39));		/* 31 */
	memset(k + 8, 'Z', 120);
	k[128] = '\0';
	ck_assert(apikey_wellformed(k, 128));
	k[128] = 'Z';
	ck_assert(!apikey_wellformed(k, 129));
	ck_assert(WF("wz_live_0123456789abcdefghijklmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_test_0123456789abcdefghijklmnopqrstuvwxyzABCD"));
	ck_assert(!WF("WZ_LIVE_0123456789abcdefghijklmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_live-0123456789abcdefghijklmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_live_0123456789abcdefghij_lmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_live_0123456789abcdefghij-lmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_live_0123456789abcdefghij lmnopqrstuvwxyzABCD"));
	ck_assert(!WF("wz_live_0123456789abcdefghij\xc3\xa9mnopqrstuvwxyzAB"));
	ck_assert(!WF("wz_live_0123456789abcdefghij\0lmnopqrstuvwxyzABCD"));
	ck_assert(!WF(""));
	ck_assert(!WF("wz_live_"));
	ck_assert(!WF("Bearer wz_live_0123456789abcdefghijklmnopqrstuvwxyz"));
}
END_TEST

START_TEST(apikey_hash_blake2b)
{
	uint8_t h1[KEY_HASH_LEN], h2[KEY_HASH_LEN];
	char hex[2 * KEY_HASH_LEN + 1];
	const char *k = "wz_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD";

	ck_assert_int_eq(KEY_HASH_LEN, 32);
	apikey_hash(k, strlen(k), h1);
	apikey_hash(k, strlen(k), h2);
	ck_assert_mem_eq(h1, h2, KEY_HASH_LEN);
	hex_encode(h1, KEY_HASH_LEN, hex);
	/* BLAKE2b-256 (Python: hashlib.blake2b(k, digest_size=32)). */
	ck_assert_str_eq(hex,
	    "f5eddf8a45e5d1c07edd8ec795d5b7bf8ea12e39b3493048a6eb6d0c01089225");
	apikey_hash("", 0, h1);
	hex_encode(h1, KEY_HASH_LEN, hex);
	ck_assert_str_eq(hex,
	    "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	apikey_hash("abcX", 3, h1);
	hex_encode(h1, KEY_HASH_LEN, hex);
	ck_assert_str_eq(hex,
	    "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
	/* One character apart: unrelated hashes. */
	apikey_hash("wz_live_abcdefghijklmnopqrstuvwxyz0123456789ABCE", 48, h2);
	apikey_hash(k, 48, h1);
	ck_assert(memcmp(h1, h2, KEY_HASH_LEN) != 0);
}
END_TEST

START_TEST(hmac_rfc4231)
{
	uint8_t key[131];
	char out[65];

	/* RFC 4231 test case 1. */
	memset(key, 0x0b, 20);
	hmac_sha256_hex(key, 20, "Hi There", 8, out);
	ck_assert_str_eq(out,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* Test case 2: a key shorter than the output. */
	hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, out);
	ck_assert_str_eq(out,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* Test case 6: a key longer than the block size. */
	memset(key, 0xaa, sizeof(key));
	hmac_sha256_hex(key, sizeof(key),
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54, out);
	ck_assert_str_eq(out,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	ck_assert_uint_eq(strlen(out), 64);
}
END_TEST

START_TEST(sha256_and_hex)
{
	uint8_t md[32];
	char hex[65];
	static const uint8_t bytes[] = { 0x00, 0xff, 0x1a, 0xa1, 0x09 };

	sha256("abc", 3, md);
	hex_encode(md, sizeof(md), hex);
	ck_assert_str_eq(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_encode(bytes, sizeof(bytes), hex);
	ck_assert_str_eq(hex, "00ff1aa109");
	hex_encode(bytes, 0, hex);
	ck_assert_str_eq(hex, "");
}
END_TEST

START_TEST(random_hex_shape)
{
	char a[129], b[129];

	memset(a, 'X', sizeof(a));
	random_hex(a, 16);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert(is_lower_hex(a, 32));
	random_hex(b, 16);
	ck_assert_str_ne(a, b);
	random_hex(a, 32);
	ck_assert_uint_eq(strlen(a), 64);
	ck_assert(is_lower_hex(a, 64));
	random_hex(a, 64);
	ck_assert_uint_eq(strlen(a), 128);
	ck_assert(is_lower_hex(a, 128));
	random_hex(a, 1);
	ck_assert_uint_eq(strlen(a), 2);
	random_hex(a, 0);
	ck_assert_str_eq(a, "");
}
END_TEST

/* The master key file as `wazera-admin init` writes it, and what an
 * operator's editor or a broken copy may leave there. */
static int
load_text(const char *text, uint8_t key[MASTER_KEY_LEN], char *err,
    size_t errsz)
{
	char path[] = "/tmp/wz-unit-mkey-XXXXXX";
	int fd = mkstemp(path), rc;

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	rc = masterkey_load(path, key, err, errsz);
	if (rc == -1) {
		/* The message names the file. */
		ck_assert_ptr_nonnull(strstr(err, path));
		ck_assert_ptr_nonnull(strstr(err, ": not a master key (64 hex "
		    "characters)"));
	}
	unlink(path);
	return rc;
}

#define HEX64	"000102030405060708090a0b0c0d0e0f" \
		"101112131415161718191a1b1c1d1e1f"

START_TEST(masterkey_files)
{
	static const char *const bad[] = {
		"", "\n", "00",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		HEX64 "0",
		HEX64 "\nextra",
		"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		" " HEX64,
	};
	uint8_t key[MASTER_KEY_LEN];
	char err[512];
	size_t i;

	ck_assert_int_eq(load_text(HEX64, key, err, sizeof(err)), 0);
	for (i = 0; i < MASTER_KEY_LEN; i++)
		ck_assert_uint_eq(key[i], i);
	ck_assert_int_eq(load_text(HEX64 "\n", key, err, sizeof(err)), 0);
	ck_assert_int_eq(load_text(HEX64 "\r\n", key, err, sizeof(err)), 0);
	ck_assert_int_eq(load_text("000102030405060708090A0B0C0D0E0F"
	    "101112131415161718191A1B1C1D1E1F\n", key, err, sizeof(err)), 0);
	ck_assert_uint_eq(key[31], 0x1f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(load_text(bad[i], key, err, sizeof(err)) == -1,
		    "loaded: %s", bad[i]);
	ck_assert_int_eq(masterkey_load("/nonexistent/wz/master.key", key, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/wz/master.key: No such file or "
	    "directory (run wazera-admin init)");
}
END_TEST

START_TEST(secrets_sealed_and_opened)
{
	uint8_t k1[MASTER_KEY_LEN], k2[MASTER_KEY_LEN], sealed[128], again[128];
	char out[128];
	const char *plain = "app-secret-\xc3\xa9";
	size_t n, m;

	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	n = secret_seal(k1, plain, strlen(plain), sealed);
	ck_assert_uint_eq(n, strlen(plain) + SECRET_OVERHEAD);
	ck_assert_int_eq(secret_open(k1, sealed, n, out), 0);
	ck_assert_str_eq(out, plain);
	/* A fresh nonce each time: the same secret seals differently. */
	m = secret_seal(k1, plain, strlen(plain), again);
	ck_assert_uint_eq(m, n);
	ck_assert(memcmp(sealed, again, n) != 0);
	/* Another key, a flipped bit, a cut: refused. */
	ck_assert_int_eq(secret_open(k2, sealed, n, out), -1);
	sealed[n - 1] ^= 1;
	ck_assert_int_eq(secret_open(k1, sealed, n, out), -1);
	sealed[n - 1] ^= 1;
	ck_assert_int_eq(secret_open(k1, sealed, n - 1, out), -1);
	ck_assert_int_eq(secret_open(k1, sealed, SECRET_OVERHEAD - 1, out), -1);
	/* The empty secret: sealed to the overhead alone, opened empty. */
	n = secret_seal(k1, "", 0, sealed);
	ck_assert_uint_eq(n, SECRET_OVERHEAD);
	ck_assert_int_eq(secret_open(k1, sealed, n, out), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Outgoing webhooks' signatures. The Standard Webhooks vector is the
 * one its libraries' tests publish (standard-webhooks/standard-webhooks,
 * libraries/go/webhook_test.go, TestWebhookSign); the others were computed
 * with Python's hmac module. */
START_TEST(webhook_signatures)
{
	const char *body = "{\"id\": \"e\", \"event\": \"contact.created\"}";
	const char *tv = "{\"test\": 2432232314}";
	char hex[WEBHOOK_SIG_HEX_LEN], std[WEBHOOK_SIG_STD_LEN];

	webhook_sig_hex("my-secret", body, strlen(body), hex);
	ck_assert_str_eq(hex, "sha256=e78f401ef4e860f092b816d499c1ac65390d8e2"
	    "efcdfb2f925be8fe3ad68ae2b");
	/* X-Wazera-Signature keys with the whsec_ string as given. */
	webhook_sig_hex("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", tv,
	    strlen(tv), hex);
	ck_assert_str_eq(hex, "sha256=80ec8a89ce3cd22133a1066caecb4d04fea7467"
	    "657c8514d717ec42c38a5c94c");
	ck_assert_int_eq(webhook_sig_std(
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	    "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, tv, strlen(tv), std), 0);
	ck_assert_str_eq(std, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* Not whsec_: the secret's bytes are the key. */
	ck_assert_int_eq(webhook_sig_std("my-secret", "42", 1700000000LL, body,
	    strlen(body), std), 0);
	ck_assert_str_eq(std, "v1,lsf72PozkYYIJzxSUeEVBbBWg+4VRTIf0ziVLpeDFhU=");
	/* A whsec_ secret whose rest is not base64, or empty. */
	ck_assert_int_eq(webhook_sig_std("whsec_not*base64", "1", 1, "", 0,
	    std), -1);
	ck_assert_int_eq(webhook_sig_std("whsec_", "1", 1, "", 0, std), -1);
}
END_TEST

Suite *
crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_new("crypto");

	tcase_add_test(tc, apikey_generate_shape);
	tcase_add_test(tc, apikey_generate_covers_alphabet);
	tcase_add_test(tc, apikey_wellformed_checks);
	tcase_add_test(tc, apikey_hash_blake2b);
	tcase_add_test(tc, hmac_rfc4231);
	tcase_add_test(tc, sha256_and_hex);
	tcase_add_test(tc, random_hex_shape);
	tcase_add_test(tc, masterkey_files);
	tcase_add_test(tc, secrets_sealed_and_opened);
	tcase_add_test(tc, webhook_signatures);
	suite_add_tcase(s, tc);
	return s;
}
