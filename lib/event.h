/* Events: every state change that webhooks report, recorded in the
 * transaction of the change itself (the events table). The types are a
 * fixed set; the routines in sql/routines emit them through wz_event_emit,
 * and C, where it records one itself, through event_emit(). */
#ifndef WZ_EVENT_H
#define WZ_EVENT_H
#include <stdbool.h>
#include <stdint.h>

#include "db.h"

enum event_type {
	EV_CONTACT_CREATED,
	EV_CONTACT_UPDATED,
	EV_CONVERSATION_CREATED,
	EV_CONVERSATION_CLOSED,
	EV_MESSAGE_RECEIVED,
	EV_MESSAGE_SENT,
	EV_MESSAGE_DELIVERED,
	EV_MESSAGE_READ,
	EV_MESSAGE_FAILED,
	EV_CAMPAIGN_COMPLETED,
	/* The test ping of POST /webhooks/{id}/test: recorded for one
	 * webhook, never fanned out, not subscribable. */
	EV_WEBHOOK_TEST,
	EV__MAX
};

/* The name an event carries (events.type, a delivery's "event"). */
extern const char *const event_names[EV__MAX];

/* Whether a webhook may subscribe to the type (every type but
 * EV_WEBHOOK_TEST: SPEC 6's list). */
bool		 event_subscribable(enum event_type);
/* The subscribable type named name, or -1. */
int		 event_lookup(const char *name);

/* Records an event of the tenant with data (JSON text: the resource as
 * the API shows it now) through wz_event_emit, in the caller's
 * transaction. */
enum db_rc	 event_emit(struct db *, int64_t tenant, enum event_type,
		    const char *data);

#endif
