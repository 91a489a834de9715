/* libFuzzer target: what the webhooks queue reads of a receiver's answer
 * (whpolicy.c): the Retry-After header, the answer's excerpt kept in the
 * attempt log, and the next wait built from them.
 *
 * Input: byte 0 the attempt number, byte 1 the jitter, bytes 2-5 the time
 * left in the round (ms, big-endian, signed), then the bytes (the header's
 * value up to the first NUL, and the whole as an answer's body).
 *
 * Invariants: Retry-After is -1 or within [0, 1e8] seconds; the excerpt is
 * valid UTF-8 without NULs, at most WH_EXCERPT_MAX bytes, and the input
 * itself when that is short valid UTF-8 without NULs; the wait is -1 only
 * when no time is left, else within [1, left] and, when not cut by the
 * round's end, within [wait, 2 x wait] of the backoff. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"
#include "whpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[WH_EXCERPT_MAX + 1], *hdr;
	const char *p = (const char *)data + 6;
	size_t n, len;
	long long ra;
	int64_t left, wait, base;
	unsigned attempt;
	double jitter;

	if (size < 6)
		return 0;
	attempt = data[0] % 40;
	jitter = data[1] / 255.0;
	left = (int32_t)((uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
	    (uint32_t)data[4] << 8 | data[5]);
	len = size - 6;
	hdr = malloc(len + 1);
	if (hdr == NULL)
		return 0;
	memcpy(hdr, p, len);
	hdr[len] = '\0';
	ra = wh_retry_after_s(hdr, (time_t)1764950000);
	if (ra < -1 || ra > 100000000LL)
		abort();
	n = wh_excerpt(p, len, out);
	if (n > WH_EXCERPT_MAX || strlen(out) != n || !utf8_valid(out, n))
		abort();
	if (len <= WH_EXCERPT_MAX && strlen(hdr) == len &&
	    utf8_valid(p, len) && (n != len || memcmp(out, p, len) != 0))
		abort();
	wait = wh_next_wait_ms(attempt, jitter, 0.001, left, ra);
	base = wh_backoff_ms(attempt, jitter, 0.001);
	if (left <= 0 ? wait != -1 : wait < 1 || wait > left)
		abort();
	if (left > 0 && wait < left && (wait < base || wait > 2 * base))
		abort();
	free(hdr);
	return 0;
}
