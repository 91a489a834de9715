/* The API's handlers, one file per resource. A handler runs after routing,
 * authentication, scope and rate-limit checks, with req->json parsed for
 * POST, PUT and PATCH; it sets the answer with a reply_*() call. */
#ifndef WZ_HANDLERS_H
#define WZ_HANDLERS_H

struct req;

/* tenant.c: the tenant, which the API calls the account */
void	tenant_get(struct req *);

/* apikeys.c */
void	apikey_list(struct req *);
void	apikey_create(struct req *);
void	apikey_revoke(struct req *);

/* contacts.c */
void	contact_list(struct req *);
void	contact_create(struct req *);
void	contact_get(struct req *);
void	contact_update(struct req *);
void	contact_delete(struct req *);

/* whatsapp_accounts.c: the tenant's WhatsApp business numbers */
void	whatsapp_account_list(struct req *);
void	whatsapp_account_get(struct req *);

/* messages.c */
void	message_send(struct req *);
void	message_send_template(struct req *);
void	message_get(struct req *);
void	message_status(struct req *);

/* conversations.c */
void	conversation_list(struct req *);
void	conversation_get(struct req *);
void	conversation_messages(struct req *);
void	conversation_update(struct req *);

/* webhooks.c: outgoing webhooks and their deliveries */
void	webhook_list(struct req *);
void	webhook_create(struct req *);
void	webhook_get(struct req *);
void	webhook_update(struct req *);
void	webhook_delete(struct req *);
void	webhook_deliveries(struct req *);
void	webhook_delivery(struct req *);
void	webhook_test(struct req *);
void	webhook_redeliver(struct req *);
void	webhook_recover(struct req *);

/* health.c, openapi.c: public routes for operators and developers */
void	health_get(struct req *);
void	openapi_get(struct req *);

/* segments.c: filters over the contacts, a campaign's audience */
void	segment_list(struct req *);
void	segment_create(struct req *);
void	segment_get(struct req *);
void	segment_update(struct req *);
void	segment_delete(struct req *);

/* campaigns.c */
void	campaign_list(struct req *);
void	campaign_create(struct req *);
void	campaign_get(struct req *);
void	campaign_cancel(struct req *);
void	campaign_recipients(struct req *);

/* users.c */
void	user_list(struct req *);

/* whatsapp.c: Meta's webhooks */
void	whatsapp_verify(struct req *);
void	whatsapp_webhook(struct req *);

#endif
