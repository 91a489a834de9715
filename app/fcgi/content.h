/* What POST /messages/send takes: the envelope (recipient, account, type)
 * and the content of each message type, validated into the object that is
 * stored and later sent. Pure: no request, no database, so the fuzz target
 * tests/fuzz/fuzz_content.c links it alone. */
#ifndef WZ_CONTENT_H
#define WZ_CONTENT_H
#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct pool;
struct verrs;

enum msg_type {
	MT_TEXT, MT_TEMPLATE, MT_IMAGE, MT_VIDEO, MT_AUDIO, MT_DOCUMENT,
	MT_STICKER, MT_LOCATION, MT_INTERACTIVE, MT__MAX
};
extern const char *const msg_types[MT__MAX + 1];

/* A send's body, validated. */
struct send_body {
	const char		*to;		/* E.164 (pool) */
	int64_t			 account;	/* whatsapp_account_id */
	enum msg_type		 type;
	struct json_object	*content;	/* owned: only the type's fields */
	const char		*text;		/* content as stored (pool) */
};

/* Validates content for its type into a new object holding only the
 * fields the type takes. NULL after recording errors in e (worded with
 * "content." paths). */
struct json_object *content_parse(struct pool *, enum msg_type,
		    struct json_object *in, struct verrs *e);
/* Validates a send's body (POST /messages/send; with template_alias,
 * /messages/template, where the type defaults to template and must be
 * it). May add "type" and "content" (the flat "message" spelling of a text)
 * to body. Returns the number of errors recorded in e; on none, sb holds
 * the send (its content owned by the caller), else sb->content is NULL. */
unsigned	 send_parse(struct pool *, struct json_object *body,
		    bool template_alias, struct send_body *sb, struct verrs *e);

#endif
