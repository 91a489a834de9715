/* Pure text helpers: UTF-8, URL decoding, path patterns, trigrams, time. */
#ifndef WZ_TEXT_H
#define WZ_TEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool	 utf8_valid(const char *s, size_t len);
/* Number of code points in a valid UTF-8 string. */
size_t	 utf8_length(const char *s, size_t len);
/* Cuts valid UTF-8 s after max code points, in place. */
void	 utf8_truncate(char *s, size_t max);
/* Decodes %XX and '+' (when plus is true) in place; returns the new length
 * or -1 for a malformed escape. The result may contain NUL bytes. */
long	 url_decode(char *s, size_t len, bool plus);

/* Matches a path such as "/contacts/12" against a pattern such as
 * "/contacts/{id}". Each {id} takes a positive decimal integer that fits in
 * 63 bits and is stored in ids[]. Returns true on a match. */
#define PATH_MAX_IDS 4
bool	 path_match(const char *pattern, const char *path, int64_t ids[]);

/* Trigrams of one field for the substring index: the text is folded to
 * lower case (ASCII; the database's collation folds the rest the same way
 * on both sides), then every run of three code points is one trigram.
 * Calls fn(tri, len, arg) for each, duplicates included. Texts of fewer
 * than three code points give none. s must be valid UTF-8 (callers check);
 * other bytes give no trigram where they stand. */
void	 trigrams(const char *s, size_t len,
	    void (*fn)(const char *, size_t, void *), void *arg);

/* Formats t as RFC 3339 UTC ("2026-03-15T10:00:00Z") or as a MariaDB
 * DATETIME literal ("2026-03-15 10:00:00"). */
void	 time_rfc3339(time_t t, char out[21]);
void	 time_sql(time_t t, char out[20]);
/* Parses RFC 3339 with Z or an offset; returns -1 if malformed. */
int	 time_parse_rfc3339(const char *s, time_t *out);

#endif
