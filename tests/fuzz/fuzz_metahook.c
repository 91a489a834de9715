/* libFuzzer target: Meta's webhook payloads as the route meets them,
 * unauthenticated: the byte-level check that reads the phone number ids
 * (metahook_scan), then, for what it lets through, the tree and
 * metahook_parse. Checks what the route relies on: every phone number id
 * a change carries in the tree was collected from the bytes (or some were
 * dropped), so no change can name an account whose secret was not tried. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "metahook.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
collected(const struct mh_pnids *pn, const char *pnid)
{
	size_t i;

	if (pnid == NULL || pn->dropped > 0)
		return;
	for (i = 0; i < pn->n; i++)
		if (strcmp(pn->id[i], pnid) == 0)
			return;
	abort();	/* a change names a number the scan did not see */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *root, *c;
	struct mh_pnids pn;
	struct mh_batch b;
	struct pool p;
	size_t i;

	if (metahook_scan((const char *)data, size, &pn) != JSONBODY_OK)
		return 0;
	if (pn.n > MH_PNIDS_MAX)
		abort();
	for (i = 0; i < pn.n; i++)
		if (strlen(pn.id[i]) > JSONBODY_STR_MAX)
			abort();
	if (jsonbody_build((const char *)data, size, &root) != JSONBODY_OK)
		abort();	/* the check passed it: json-c must too */
	pool_init(&p);
	if (metahook_parse(&p, root, &b) == 0) {
		for (i = 0; i < b.nmessages; i++) {
			collected(&pn, b.messages[i].phone_number_id);
			c = metahook_content(&b.messages[i]);
			(void)json_object_to_json_string(c);
			json_object_put(c);
		}
		for (i = 0; i < b.nstatuses; i++)
			collected(&pn, b.statuses[i].phone_number_id);
	}
	pool_free(&p);
	json_object_put(root);
	return 0;
}
