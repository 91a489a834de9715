/* Strict parsing of a request body into a json-c object. Pure, no I/O. */
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
};

/* Parses body[0..len). An empty (or all-whitespace) body is an empty object.
 * On JSONBODY_OK *out holds a new reference the caller puts. On
 * JSONBODY_RANGE path names the offending value ("custom_fields.x"). */
enum jsonbody_rc jsonbody_parse(const char *body, size_t len,
		    struct json_object **out, char *path, size_t pathsz);

#endif
