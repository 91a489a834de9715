/* event.h: the event types and their names. */
#include <string.h>

#include "event.h"
#include "tests.h"

START_TEST(event_names_table)
{
	static const struct { enum event_type t; const char *name; } want[] = {
		{ EV_CONTACT_CREATED, "contact.created" },
		{ EV_CONTACT_UPDATED, "contact.updated" },
		{ EV_CONVERSATION_CREATED, "conversation.created" },
		{ EV_CONVERSATION_CLOSED, "conversation.closed" },
		{ EV_MESSAGE_RECEIVED, "message.received" },
		{ EV_MESSAGE_SENT, "message.sent" },
		{ EV_MESSAGE_DELIVERED, "message.delivered" },
		{ EV_MESSAGE_READ, "message.read" },
		{ EV_MESSAGE_FAILED, "message.failed" },
		{ EV_CAMPAIGN_COMPLETED, "campaign.completed" },
		{ EV_WEBHOOK_TEST, "webhook.test" },
	};
	size_t i, j, n = sizeof(want) / sizeof(want[0]);
	const char *dot;

	/* Every type has its name, each name once, and each enum value
	 * the name it is for. */
	ck_assert_uint_eq(EV__MAX, n);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(event_names[want[i].t], want[i].name);
	for (i = 0; i < EV__MAX; i++) {
		ck_assert_ptr_nonnull(event_names[i]);
		/* resource.change: lower case, one dot, as events.type
		 * (VARCHAR(64) ASCII) holds it. */
		ck_assert_uint_lt(strlen(event_names[i]), 64);
		ck_assert_uint_eq(strspn(event_names[i],
		    "abcdefghijklmnopqrstuvwxyz."), strlen(event_names[i]));
		dot = strchr(event_names[i], '.');
		ck_assert_ptr_nonnull(dot);
		ck_assert(dot != event_names[i] && dot[1] != '\0' &&
		    strchr(dot + 1, '.') == NULL);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(event_names[i], event_names[j]);
	}
}
END_TEST

START_TEST(event_subscribable_names)
{
	size_t i;

	/* SPEC 6's ten; the test ping's type is not one. */
	for (i = 0; i < EV__MAX; i++) {
		ck_assert(event_subscribable((enum event_type)i) ==
		    (i != EV_WEBHOOK_TEST));
		ck_assert_int_eq(event_lookup(event_names[i]),
		    i == EV_WEBHOOK_TEST ? -1 : (int)i);
	}
	ck_assert_int_eq(event_lookup("campaign.completed"),
	    EV_CAMPAIGN_COMPLETED);
	ck_assert_int_eq(event_lookup("webhook.test"), -1);
	ck_assert_int_eq(event_lookup("contact.created "), -1);
	ck_assert_int_eq(event_lookup(""), -1);
	ck_assert_int_eq(event_lookup("Contact.Created"), -1);
}
END_TEST

Suite *
event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_new("names");

	tcase_add_test(tc, event_names_table);
	tcase_add_test(tc, event_subscribable_names);
	suite_add_tcase(s, tc);
	return s;
}
