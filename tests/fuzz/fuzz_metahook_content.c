/* libFuzzer target: what the webhook stores of an inbound message. A
 * payload the strict parser accepts goes through metahook_parse, and
 * metahook_content is called on every message. Invariants: the content is
 * a JSON object whose text (as the route stores it, req_json_text's
 * flags) the strict parser accepts again (it may only refuse it for its
 * memory when the payload's whitespace made room for it), and building it
 * leaves the payload as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "metahook.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root, *c, *back;
	struct mh_batch b;
	struct pool p;
	char *before, path[64];
	const char *text;
	enum jsonbody_rc rc;
	size_t i;

	if (jsonbody_parse((const char *)data, size, &root, path,
	    sizeof(path)) != JSONBODY_OK)
		return 0;
	pool_init(&p);
	before = strdup(json_object_to_json_string_ext(root, FLAGS));
	if (before == NULL)
		abort();
	if (metahook_parse(&p, root, &b) == 0) {
		for (i = 0; i < b.nmessages; i++) {
			c = metahook_content(&b.messages[i]);
			if (!json_object_is_type(c, json_type_object))
				abort();
			text = json_object_to_json_string_ext(c, FLAGS);
			rc = jsonbody_parse(text, strlen(text), &back, path,
			    sizeof(path));
			if (rc == JSONBODY_OK) {
				if (!json_object_equal(c, back))
					abort();
				json_object_put(back);
			} else if (rc != JSONBODY_COST || strlen(text) >= size)
				abort();
			json_object_put(c);
		}
	}
	if (strcmp(before, json_object_to_json_string_ext(root, FLAGS)) != 0)
		abort();	/* the payload was changed */
	free(before);
	pool_free(&p);
	json_object_put(root);
	return 0;
}
