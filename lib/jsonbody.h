/* Strict parsing of a request body into a json-c object, in two steps a
 * caller may separate: a byte-level check (syntax, UTF-8, number ranges,
 * the memory the tree would take, and optionally the string values found
 * at one place in the document), then json-c builds the tree. Pure, no
 * I/O. */
#ifndef WZ_JSONBODY_H
#define WZ_JSONBODY_H
#include <stddef.h>

struct json_object;

#define JSONBODY_MAX_DEPTH	32

enum jsonbody_rc {
	JSONBODY_OK = 0,
	JSONBODY_SYNTAX,	/* not JSON, trailing bytes, too deep */
	JSONBODY_UTF8,		/* invalid UTF-8 */
	JSONBODY_NOT_OBJECT,	/* valid JSON, but not an object */
	JSONBODY_RANGE,		/* an integer beyond 64 bits */
	JSONBODY_COST,		/* its tree would take too much memory */
};

/* json-c gives every object a hash table and every array 32 slots before
 * anything is stored in them: "{}," costs about 800 bytes, 270 times its
 * text. The check estimates the tree's memory from counts of objects,
 * arrays, members, elements and text (weights measured on json-c 0.16) and
 * refuses a body whose tree would take more than
 * JSONBODY_COST_FACTOR * len + JSONBODY_COST_BASE bytes. Meta's statuses
 * cost 11-15 times their text, 50 one-letter tags 25 times; the base lets
 * any small body through. */
#define JSONBODY_COST_FACTOR	32
#define JSONBODY_COST_BASE	(256 * 1024)

/* Collecting string values during the check: those whose place matches
 * path (object keys; "*" matches any element of an array), e.g. {"entry",
 * "*", "id"}. Each distinct value is kept once, decoded, in v[0..n), up to
 * max values; values longer than JSONBODY_STR_MAX bytes, holding a NUL, or
 * new beyond max are not kept but counted in dropped. A value found under
 * a key that json-c replaces by a later duplicate is still kept: what the
 * tree holds there is always kept or dropped. */
#define JSONBODY_STR_MAX	64
struct jsonbody_strs {
	const char *const	*path;
	size_t			 depth;		/* entries in path */
	char			(*v)[JSONBODY_STR_MAX + 1];
	size_t			 max;
	size_t			 n, dropped;	/* set by the check */
};

/* Parses body[0..len): jsonbody_check, then jsonbody_build. An empty (or
 * all-whitespace) body is an empty object. On JSONBODY_OK *out holds a new
 * reference the caller puts. On JSONBODY_RANGE path names the offending
 * value ("custom_fields.x"). */
enum jsonbody_rc jsonbody_parse(const char *body, size_t len,
		    struct json_object **out, char *path, size_t pathsz);
/* The check alone, without allocating more than a fixed state; strs (may
 * be NULL) collects string values as described above. */
enum jsonbody_rc jsonbody_check(const char *body, size_t len,
		    struct jsonbody_strs *strs, char *path, size_t pathsz);
/* The tree of a body jsonbody_check accepted (JSONBODY_OK or
 * JSONBODY_SYNTAX if json-c disagrees, which it should not). */
enum jsonbody_rc jsonbody_build(const char *body, size_t len,
		    struct json_object **out);

/* A json-c value that serialises as text itself, unparsed: JSON the
 * server wrote (a stored message's content), put into an answer without
 * building its tree, which may take far more memory than its text. text
 * is copied; NULL or not starting with '{' gives {}. */
struct json_object *jsonbody_raw(const char *text);
#endif
