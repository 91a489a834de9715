/* The API's handlers, one file per resource. A handler runs after routing,
 * authentication, scope and rate-limit checks, with req->json parsed for
 * POST, PUT and PATCH; it sets the answer with a reply_*() call. */
#ifndef WZ_HANDLERS_H
#define WZ_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

struct db_res;
struct json_object;
struct req;

/* tenant.c: the tenant, which the API calls the account */
void	tenant_get(struct req *);

/* apikeys.c */
void	apikey_list(struct req *);
void	apikey_revoke(struct req *);

/* contacts.c */
void	contact_list(struct req *);
void	contact_create(struct req *);
void	contact_get(struct req *);
void	contact_update(struct req *);
void	contact_delete(struct req *);
/* A contact as a send or an inbound message makes it (id 0, no email, tags
 * or fields), as the API shows it: the data of contact.created, whose id
 * the procedure sets. */
struct json_object *contact_new_json(const char *phone, const char *name,
	    const char *now);

/* whatsapp_accounts.c: the tenant's WhatsApp business numbers */
void	whatsapp_account_list(struct req *);
void	whatsapp_account_get(struct req *);

/* messages.c */
void	message_send(struct req *);
void	message_send_template(struct req *);
void	message_get(struct req *);
void	message_status(struct req *);
struct json_object *message_json(const struct db_res *, size_t);
/* A message as the API shows it, from its parts (content is taken over;
 * no error yet): a send's answer, message.received's data. */
struct json_object *message_new_json(int64_t id, int64_t conversation,
	    int64_t contact, int64_t account, const char *direction,
	    const char *type, struct json_object *content, const char *status,
	    const char *wamid, const char *created_at, const char *updated_at);

/* conversations.c */
void	conversation_list(struct req *);
void	conversation_get(struct req *);
void	conversation_messages(struct req *);
void	conversation_update(struct req *);
/* A conversation just opened (id and contact id 0, contact name null), as
 * the API shows it: the data of conversation.created. */
struct json_object *conversation_new_json(const char *phone, int64_t account,
	    const char *last_message_at, const char *now);

/* users.c */
void	user_list(struct req *);

/* whatsapp.c: Meta's webhooks */
void	whatsapp_verify(struct req *);
void	whatsapp_webhook(struct req *);

#endif
