/* The queues there are: one struct queue_ops per module (queue.h). */
#ifndef WZ_SPOOLER_QUEUES_H
#define WZ_SPOOLER_QUEUES_H

struct queue_ops;

extern const struct queue_ops queue_message;	/* queue_message.c */
extern const struct queue_ops queue_webhook;	/* queue_webhook.c */
extern const struct queue_ops queue_campaign;	/* queue_campaign.c */

#endif
