/* libFuzzer target: API key scope lists (wazera-admin apikey create
 * --scopes, the stored scopes). Invariants: an accepted list, written back
 * from its mask (scopes_json's names joined by "," and by " "), parses to
 * the same mask, and has no bits beyond the known scopes; a refused one
 * names a bad scope inside the input: a non-empty token, without a
 * separator, that is no scope's name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "scopes.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
round_trip(uint32_t mask, const char *sep)
{
	struct json_object *a = scopes_json(mask);
	char buf[512] = "";
	const char *bad = NULL;
	uint32_t again;
	size_t i;
	int badlen = 0;

	for (i = 0; i < json_object_array_length(a); i++) {
		if (i > 0)
			strcat(buf, sep);
		strcat(buf, json_object_get_string(
		    json_object_array_get_idx(a, i)));
	}
	json_object_put(a);
	if (scopes_parse(buf, &again, &bad, &badlen) != 0 || again != mask)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const char *bad = NULL;
	uint32_t mask;
	size_t len;
	int badlen = -1, i;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	if (scopes_parse(s, &mask, &bad, &badlen) == 0) {
		if (mask >> SCOPE__MAX != 0)
			abort();
		round_trip(mask, ",");
		round_trip(mask, " ");
	} else {
		if (bad == NULL || bad < s || badlen <= 0 ||
		    (size_t)badlen > len || bad + badlen > s + len ||
		    memchr(bad, ',', (size_t)badlen) != NULL ||
		    memchr(bad, ' ', (size_t)badlen) != NULL)
			abort();
		for (i = 0; i < SCOPE__MAX; i++)
			if (strlen(scope_names[i]) == (size_t)badlen &&
			    memcmp(scope_names[i], bad, (size_t)badlen) == 0)
				abort();
	}
	free(s);
	return 0;
}
