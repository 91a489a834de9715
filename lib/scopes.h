/* API key scopes: a fixed set, stored as a bitmask (0 means every scope). */
#ifndef WZ_SCOPES_H
#define WZ_SCOPES_H
#include <stddef.h>
#include <stdint.h>

enum scope {
	SCOPE_MESSAGES_SEND,
	SCOPE_MESSAGES_READ,
	SCOPE_CONTACTS_READ,
	SCOPE_CONTACTS_WRITE,
	SCOPE_WEBHOOKS_MANAGE,
	SCOPE_ACCOUNT_READ,
	SCOPE_CONVERSATIONS_READ,
	SCOPE_CONVERSATIONS_WRITE,
	SCOPE_CAMPAIGNS_READ,
	SCOPE_CAMPAIGNS_WRITE,
	SCOPE__MAX
};

struct json_object;

extern const char *const scope_names[SCOPE__MAX];

/* The scope named by the len bytes at name, or -1. */
int		 scope_find(const char *name, size_t len);
/* Parses "a,b" or "a b" into a mask. Returns -1 naming the bad scope in
 * *bad (a pointer into s, not terminated) and its length in *badlen. */
int		 scopes_parse(const char *s, uint32_t *mask, const char **bad,
		    int *badlen);
/* A new json array of scope names. */
struct json_object *scopes_json(uint32_t mask);

#endif
