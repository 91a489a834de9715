/* GET /api/v1/openapi.json: the OpenAPI 3.1 document of this API
 * (docs/openapi.yaml, as docs/openapi.json), built into the binary
 * (openapi-doc.c, made from docs/openapi.json by the Makefile), so what is
 * served is what this build implements. Public; the document itself, not
 * in the envelope. */
#include <json-c/json.h>

#include "handlers.h"
#include "request.h"

extern const char wz_openapi_json[];

void
openapi_get(struct req *r)
{
	json_object_put(r->out);
	r->out = NULL;
	r->status = 200;
	r->out_text = wz_openapi_json;
}
