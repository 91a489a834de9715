/* Meta's webhook payloads (shared/cloud-api.md section 4), parsed into
 * flat lists. Pure: no I/O. Every entry, change and status of a batch is
 * visited; parts that are not understood are skipped, never fatal. */
#ifndef WZ_METAHOOK_H
#define WZ_METAHOOK_H
#include <stddef.h>
#include <stdint.h>

#include "jsonbody.h"

struct json_object;
struct pool;

/* What a failed status's error keeps (messages.error_title is VARCHAR(255)). */
#define MH_TITLE_MAX	255
#define MH_MESSAGE_MAX	1024

struct mh_status {
	const char	*phone_number_id;	/* metadata of its change */
	const char	*wamid;
	const char	*status;	/* sent, delivered, read, failed, played */
	uint64_t	 callback_id;	/* from "wz:<id>", 0 if none */
	int		 err_code;	/* failed: errors[0] */
	const char	*err_title;	/* at most MH_TITLE_MAX code points */
	const char	*err_message;	/* at most MH_MESSAGE_MAX */
};

/* One inbound message. */
struct mh_message {
	const char		*phone_number_id;	/* metadata of its change */
	const char		*from;		/* wa_id: digits */
	const char		*wamid;
	const char		*type;
	long long		 timestamp;	/* unix seconds, 0 if absent */
	const char		*profile_name;	/* from value.contacts[] */
	const char		*text;		/* text.body, for keywords */
	struct json_object	*object;	/* the message object (borrowed) */
};

struct mh_batch {
	struct mh_status	*statuses;
	size_t			 nstatuses;
	struct mh_message	*messages;
	size_t			 nmessages;
	/* Messages and statuses left out: no usable wamid or type, a status
	 * Wazera does not know, or no phone number ("from"), as for a user
	 * with a username Meta names only by a business-scoped user id
	 * (from_user_id), which no contact has. */
	size_t			 nskipped;
	/* Messages and statuses beyond MH_ITEMS_MAX of each, not looked at. */
	size_t			 nover;
};

/* Messages, and statuses, one payload may carry: Meta sends a few at a
 * time; a signed payload of tens of thousands would hold a worker and a
 * transaction for minutes. */
#define MH_ITEMS_MAX	1000
/* value.contacts[] entries looked at for a sender's profile name (Meta
 * sends one per sender). */
#define MH_PROFILES_MAX	100

/* The distinct phone number ids a payload's changes name (every
 * entry[].changes[].value.metadata.phone_number_id), read from the raw
 * bytes before any tree is built, so that the secrets that must verify
 * the payload are known while it costs no more than its text. At most
 * MH_PNIDS_MAX are kept; dropped counts the others (and values longer
 * than JSONBODY_STR_MAX bytes, which no account has). */
#define MH_PNIDS_MAX	64
struct mh_pnids {
	char	 id[MH_PNIDS_MAX][JSONBODY_STR_MAX + 1];
	size_t	 n, dropped;
};

/* jsonbody_check of a raw payload, collecting its phone number ids. */
enum jsonbody_rc metahook_scan(const char *body, size_t len,
		    struct mh_pnids *);

/* The content stored for an inbound message: the object named after its
 * type (or {"<type>": value} when that is not an object), with the reply
 * context and the referral added when present. A new reference. */
struct json_object *metahook_content(const struct mh_message *);

/* Parses a payload (a JSON object) into b, allocating from pool. Returns 0,
 * or -1 if it is not a whatsapp_business_account payload. */
int	metahook_parse(struct pool *, struct json_object *root,
	    struct mh_batch *b);
/* The hex digest of "sha256=<hex>" (case-insensitive prefix), or NULL. */
const char *metahook_signature_hex(const char *header);

#endif
