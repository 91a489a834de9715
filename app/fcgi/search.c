/* The substring search index's side of a write: the trigrams of a row's
 * texts, as the JSON array its statements take (contacts by phone, name and
 * email; a contact made by a send or an inbound message). */
#include <string.h>

#include <json-c/json.h>

#include "request.h"

static void
trigram_add(const char *t, size_t len, void *arg)
{
	json_object_array_add(arg, json_object_new_string_len(t, (int)len));
}

const char *
req_trigrams(struct req *r, const char *const *texts, size_t n)
{
	struct json_object *arr = json_object_new_array();
	const char *out;
	size_t i;

	for (i = 0; i < n; i++)
		if (texts[i] != NULL)
			trigrams(texts[i], strlen(texts[i]), trigram_add, arr);
	out = req_json_text(r, arr);
	json_object_put(arr);
	return out;
}
