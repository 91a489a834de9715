/* libFuzzer target: request bodies through the strict JSON parser, the
 * contact field validators and Meta's webhook parser. Invariant (a round
 * trip): what jsonbody_parse accepts, json-c writes back (plain) and
 * jsonbody_parse accepts again, as an equal tree; only its memory check
 * may refuse the text, when the whitespace it lost had made room. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonbody.h"
#include "metahook.h"
#include "pool.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct field fields[] = {
	{ "name", FT_STRING, FF_NULLABLE, 0, 255, NULL },
	{ "phone", FT_PHONE, FF_REQUIRED, 0, 0, NULL },
	{ "email", FT_EMAIL, FF_NULLABLE, 0, 0, NULL },
	{ "tags", FT_TAGS, FF_NULLABLE, 0, 0, NULL },
	{ "custom_fields", FT_SCALARS, FF_NULLABLE, 0, 50, NULL },
	{ "opted_out", FT_BOOL, 0, 0, 0, NULL },
	{ "n", FT_INT, 0, -5, 5, NULL },
};

static void
round_trip(struct json_object *o, size_t size)
{
	const char *text = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN);
	struct json_object *back;
	enum jsonbody_rc rc;
	char path[64];

	rc = jsonbody_parse(text, strlen(text), &back, path, sizeof(path));
	if (rc == JSONBODY_COST && strlen(text) < size)
		return;
	if (rc != JSONBODY_OK || !json_object_equal(o, back))
		abort();
	json_object_put(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o;
	struct fval vals[sizeof(fields) / sizeof(fields[0])];
	struct verrs e;
	struct pool p;
	char path[64];

	if (jsonbody_parse((const char *)data, size, &o, path, sizeof(path)) !=
	    JSONBODY_OK)
		return 0;
	round_trip(o, size);
	pool_init(&p);
	verrs_init(&e);
	fields_parse(&p, o, fields, sizeof(fields) / sizeof(fields[0]), vals,
	    &e, size % 2);
	fvals_free(fields, sizeof(fields) / sizeof(fields[0]), vals);
	{
		struct mh_batch b;
		(void)metahook_parse(&p, o, &b);
	}
	json_object_put(e.details);
	pool_free(&p);
	json_object_put(o);
	return 0;
}
