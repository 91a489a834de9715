/* Per-recipient values in a campaign's template parameters (SPEC 7):
 * "Hello {{contact.name|there}}" names a field of the contact, with an
 * optional fallback after a bar, filled for each recipient when its
 * message is sent. Pure text, no I/O: the API checks a campaign's texts
 * with ph_check, the spooler fills them with ph_fill.
 *
 * A placeholder is "{{", optional spaces, a field, optional spaces, then
 * optionally "|" and the fallback (any text without "}}", kept as is),
 * then "}}". Fields: contact.name, contact.phone, contact.email,
 * contact.custom_fields.KEY (KEY 1-64 bytes without "|", "}" or a
 * space). A placeholder is at most PH_LEN_MAX bytes from "{{" to "}}".
 * Every "{{" in a text must open a valid placeholder. */
#ifndef WZ_PLACEHOLDER_H
#define WZ_PLACEHOLDER_H
#include <stdbool.h>
#include <stddef.h>

#define PH_LEN_MAX	256	/* bytes of one placeholder, braces included */

struct json_object;

/* A recipient's values. NULL or "" is no value; custom is the contact's
 * custom_fields object (NULL: none). */
struct ph_contact {
	const char		*name;
	const char		*phone;
	const char		*email;
	struct json_object	*custom;
};

/* True if s holds "{{" (a text worth checking or filling). */
bool	 ph_has(const char *s);
/* 0 if every placeholder of s is valid; else -1 and the reason, a
 * sentence naming the bad placeholder, in err. */
int	 ph_check(const char *s, char *err, size_t errlen);
/* s with each placeholder replaced by the contact's value (a custom
 * field's string as is, a number or boolean as JSON writes it), or by
 * its fallback when the value is missing, null or empty. A new string
 * (free it) of at most max bytes, or NULL: when a placeholder has
 * neither a value nor a fallback, missing holds it as written
 * ("{{contact.name}}", cut to fit on a character boundary) and *toolong
 * is false; when the result would pass max bytes, *toolong is true. s
 * must pass ph_check (an invalid placeholder is kept as text). */
char	*ph_fill(const char *s, const struct ph_contact *c, size_t max,
	    char *missing, size_t missinglen, bool *toolong);

#endif
