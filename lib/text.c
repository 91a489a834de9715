#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

bool
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

size_t
utf8_length(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

void
utf8_truncate(char *s, size_t max)
{
	size_t n = 0;
	unsigned char *p = (unsigned char *)s;

	for (; *p != '\0'; p++) {
		if ((*p & 0xc0) == 0x80)
			continue;	/* continuation byte */
		if (n++ == max) {
			*p = '\0';
			return;
		}
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
url_decode(char *s, size_t len, bool plus)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			s[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (plus && s[i] == '+')
			s[o++] = ' ';
		else
			s[o++] = s[i];
	}
	s[o] = '\0';
	return (long)o;
}

bool
path_match(const char *pat, const char *path, int64_t ids[])
{
	int nid = 0;

	while (*pat != '\0') {
		if (*pat == '{') {
			int64_t v = 0;
			const char *start = path;

			while (*pat != '\0' && *pat != '}')
				pat++;
			if (*pat == '}')
				pat++;
			if (*path == '0')
				return false;	/* no leading zeros, no id 0 */
			while (*path >= '0' && *path <= '9') {
				if (v > (INT64_MAX - (*path - '0')) / 10)
					return false;	/* beyond 63 bits */
				v = v * 10 + (*path - '0');
				path++;
			}
			if (path == start || nid >= PATH_MAX_IDS)
				return false;
			ids[nid++] = v;
			continue;
		}
		if (*pat != *path)
			return false;
		pat++;
		path++;
	}
	/* A trailing slash is tolerated, as most routers do. */
	if (*path == '/' && path[1] == '\0')
		return true;
	return *path == '\0';
}

void
trigrams(const char *s, size_t len, void (*fn)(const char *, size_t, void *),
    void *arg)
{
	size_t starts[4], nstarts = 0, i;
	char buf[16];

	/* Slide a window of three code points over the text. */
	for (i = 0; i <= len; i++) {
		if (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (nstarts == 4) {
			memmove(starts, starts + 1, 3 * sizeof(starts[0]));
			nstarts = 3;
		}
		starts[nstarts++] = i;
		if (nstarts == 4) {
			size_t n = starts[3] - starts[0], k;
			if (n > sizeof(buf))
				continue;	/* not UTF-8: no trigram */
			for (k = 0; k < n; k++)
				buf[k] = (char)tolower((unsigned char)s[starts[0] + k]);
			fn(buf, n, arg);
		}
	}
}

void
time_rfc3339(time_t t, char out[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
time_sql(time_t t, char out[20])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
}

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
time_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, off = 0;
	const char *p;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 1970 || (mo = digits(s + 5, 2)) < 1 || mo > 12 ||
	    (d = digits(s + 8, 2)) < 1 || d > 31 || (h = digits(s + 11, 2)) < 0 ||
	    h > 23 || (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		off = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = digits(p + 1, 2), om = digits(p + 4, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = timegm(&tm) - off;
	/* timegm normalises 31 February; reject it. */
	{
		struct tm chk;
		time_t back = *out + off;
		gmtime_r(&back, &chk);
		if (chk.tm_mday != d)
			return -1;
	}
	return 0;
}
