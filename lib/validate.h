/* Validation declared as data: a handler lists the fields it accepts with
 * their types and bounds; fields_parse() checks a JSON body against that
 * list, records a message per bad field (Laravel's wording, dotted paths for
 * nested fields) and hands back typed, normalised values. */
#ifndef WZ_VALIDATE_H
#define WZ_VALIDATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct pool;

#define PHONE_MAX	16	/* "+" and 15 digits */
#define TAGS_MAX	50
#define TAG_MAX_LEN	64
#define CUSTOM_FIELDS_MAX 50

/* Field errors: details maps each field to a list of messages. */
struct verrs {
	struct json_object	*details;	/* owned; NULL until first error */
	unsigned		 n;
};

void	 verrs_init(struct verrs *);
void	 verr_add(struct verrs *, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "custom_fields" -> "custom fields", as messages name fields. */
const char *field_label(struct pool *, const char *field);

enum ftype {
	FT_STRING,	/* min..max code points */
	FT_PHONE,	/* normalised to E.164 */
	FT_EMAIL,
	FT_TAGS,	/* array of strings, deduplicated */
	FT_SCALARS,	/* object of at most max scalar values */
	FT_BOOL,
	FT_INT,		/* min..max */
	FT_ENUM,	/* one of enums[] */
	FT_OBJECT,	/* any object, passed through */
	FT_ARRAY,	/* any array, passed through */
	FT_NUMBER,	/* a JSON number within min..max (as doubles) */
	FT_STRING_OR_OBJECT,	/* a string (min..max) or any object */
	FT_ID,		/* a non-empty string or a positive integer */
};

#define FF_REQUIRED	0x01	/* must be present (not enforced on PATCH) */
#define FF_NULLABLE	0x02	/* null is accepted */

struct field {
	const char		*name;
	enum ftype		 type;
	unsigned		 flags;
	long long		 min, max;
	const char *const	*enums;
};

struct fval {
	bool			 present;
	bool			 isnull;
	const char		*s;	/* strings, normalised phone */
	size_t			 slen;
	long long		 i;	/* ints, bools, enum index */
	double			 d;	/* FT_NUMBER */
	struct json_object	*j;	/* borrowed (arrays, objects); tags: owned by the pool's caller */
};

/* Checks body against fields[0..n) and fills vals[0..n). With partial,
 * FF_REQUIRED is not enforced (PATCH, PUT of an existing object). Returns
 * the number of errors recorded. The json objects in vals are borrowed from
 * body, except FT_TAGS, which is a new array the caller must put. */
unsigned fields_parse(struct pool *, struct json_object *body,
	    const struct field *fields, size_t n, struct fval *vals,
	    struct verrs *, bool partial);
/* As fields_parse, for an object nested at prefix ("content"): errors are
 * recorded and worded with dotted paths ("content.body"). */
unsigned fields_parse_at(struct pool *, struct json_object *obj,
	    const char *prefix, const struct field *fields, size_t n,
	    struct fval *vals, struct verrs *, bool partial);
void	 fvals_free(const struct field *, size_t, struct fval *);

/* Normalises a phone number to E.164 ('+' and 8-15 digits): strips spaces,
 * dashes, dots and parentheses, turns a leading 00 into +, and prefixes
 * digits alone with +. Returns 0, or -1 if it is not a phone number. */
int	 phone_normalize(const char *in, size_t len, char out[PHONE_MAX + 1]);
bool	 email_valid(const char *s, size_t len);
/* A Graph API id (phone number id, WABA id): 1-64 of [A-Za-z0-9_-], safe
 * in a URL path. */
bool	 graph_id_valid(const char *s);
/* A wamid as Meta makes them: 1-255 printable ASCII characters, no
 * blanks (messages.wamid is ASCII). */
bool	 wamid_valid(const char *s);

#endif
