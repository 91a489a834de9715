#include <string.h>

#include "event.h"

const char *const event_names[EV__MAX] = {
	[EV_CONTACT_CREATED] =		"contact.created",
	[EV_CONTACT_UPDATED] =		"contact.updated",
	[EV_CONVERSATION_CREATED] =	"conversation.created",
	[EV_CONVERSATION_CLOSED] =	"conversation.closed",
	[EV_MESSAGE_RECEIVED] =		"message.received",
	[EV_MESSAGE_SENT] =		"message.sent",
	[EV_MESSAGE_DELIVERED] =	"message.delivered",
	[EV_MESSAGE_READ] =		"message.read",
	[EV_MESSAGE_FAILED] =		"message.failed",
	[EV_CAMPAIGN_COMPLETED] =	"campaign.completed",
	[EV_WEBHOOK_TEST] =		"webhook.test",
};

bool
event_subscribable(enum event_type t)
{
	return t < EV__MAX && t != EV_WEBHOOK_TEST;
}

int
event_lookup(const char *name)
{
	int i;

	for (i = 0; i < EV__MAX; i++)
		if (event_subscribable((enum event_type)i) &&
		    !strcmp(event_names[i], name))
			return i;
	return -1;
}

enum db_rc
event_emit(struct db *db, int64_t tenant, enum event_type type,
    const char *data)
{
	struct db_arg a[3];

	a[0] = DBA_INT(tenant);
	a[1] = DBA_STR(event_names[type]);
	a[2] = DBA_STR(data);
	return db_exec(db, SQL_EVENT_EMIT, a, 3, NULL, NULL);
}
