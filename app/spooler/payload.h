/* The Graph API request body for one queued message (shared/cloud-api.md
 * section 1). Pure: no I/O, so it can be unit-tested and fuzzed alone. */
#ifndef WZ_SPOOLER_PAYLOAD_H
#define WZ_SPOOLER_PAYLOAD_H
#include <stddef.h>

struct ph_contact;

enum payload_rc {
	PAYLOAD_OK,
	PAYLOAD_INVALID,	/* the content cannot be sent (err says why) */
	PAYLOAD_MISSING,	/* a placeholder has no value and no fallback
				   (err holds it as written) */
	PAYLOAD_TOO_LONG,	/* a filled text parameter would pass
				   PAYLOAD_TEXT_MAX bytes */
};

/* The most bytes a text parameter may have once filled (Meta refuses
 * longer hydrated texts, 132005; the bound also keeps one contact's
 * values from growing a request without end). */
#define PAYLOAD_TEXT_MAX	32768
#define PAYLOAD_TEXT_MAX_S	"32,768"

/* Builds {"messaging_product":"whatsapp","recipient_type":"individual",
 * "to":to,"type":type,type:{...},"biz_opaque_callback_data":"wz:<id>"}
 * from the message's stored content (the API's `content` object as
 * accepted). Each type gets only the fields Meta takes for it; a
 * template's language is always sent in Meta's object form.
 * Returns the JSON text (free it), or NULL with the reason in err when
 * the content cannot be sent (an unknown type, a missing field). */
char	*payload_build(unsigned long long id, const char *to, const char *type,
	    const char *content, size_t len, char *err, size_t errsz);
/* The same, for a campaign's message to the contact who (NULL: as
 * payload_build): a template's text parameters (components[].parameters[]
 * of type "text") get the contact's values for their placeholders
 * (lib/placeholder.h: ph_fill), or their fallbacks. NULL with *rc
 * PAYLOAD_MISSING and the placeholder as written in err when one has
 * neither; NULL with PAYLOAD_TOO_LONG when a filled text would pass
 * PAYLOAD_TEXT_MAX; NULL with PAYLOAD_INVALID as payload_build's NULL. */
char	*payload_build_for(unsigned long long id, const char *to,
	    const char *type, const char *content, size_t len,
	    const struct ph_contact *who, enum payload_rc *rc, char *err,
	    size_t errsz);

#endif
