#include <string.h>

#include <json-c/json.h>

#include "scopes.h"

const char *const scope_names[SCOPE__MAX] = {
	[SCOPE_MESSAGES_SEND] =		"messages:send",
	[SCOPE_MESSAGES_READ] =		"messages:read",
	[SCOPE_CONTACTS_READ] =		"contacts:read",
	[SCOPE_CONTACTS_WRITE] =	"contacts:write",
	[SCOPE_WEBHOOKS_MANAGE] =	"webhooks:manage",
	[SCOPE_ACCOUNT_READ] =		"account:read",
	[SCOPE_CONVERSATIONS_READ] =	"conversations:read",
	[SCOPE_CONVERSATIONS_WRITE] =	"conversations:write",
	[SCOPE_CAMPAIGNS_READ] =	"campaigns:read",
	[SCOPE_CAMPAIGNS_WRITE] =	"campaigns:write",
};

int
scope_find(const char *name, size_t len)
{
	int i;

	for (i = 0; i < SCOPE__MAX; i++)
		if (strlen(scope_names[i]) == len &&
		    !memcmp(scope_names[i], name, len))
			return i;
	return -1;
}

int
scopes_parse(const char *s, uint32_t *mask, const char **bad, int *badlen)
{
	const char *p = s, *start;
	size_t len;
	int i;

	*mask = 0;
	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',' && *p != ' ')
			p++;
		len = (size_t)(p - start);
		if ((i = scope_find(start, len)) == -1) {
			*bad = start;
			*badlen = (int)len;
			return -1;
		}
		*mask |= 1u << i;
	}
	return 0;
}

struct json_object *
scopes_json(uint32_t mask)
{
	struct json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < SCOPE__MAX; i++)
		if (mask & (1u << i))
			json_object_array_add(a,
			    json_object_new_string(scope_names[i]));
	return a;
}
