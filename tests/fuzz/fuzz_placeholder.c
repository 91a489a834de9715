/* libFuzzer target: campaign placeholders (lib/placeholder.c), checked in
 * a client's template_components text (POST /campaigns) and filled with a
 * contact's values (the spooler).
 *
 * Input: byte 0 the bound on the filled text (x 16 bytes), then the text
 * up to the first NUL, then the contact's name (the rest).
 *
 * Invariants: a text ph_check accepts fills to NULL (a placeholder without
 * value or fallback: missing names a placeholder of the text, as valid
 * UTF-8 when the text is; or too long) or to a string of at most the
 * bound; a text without "{{" fills to itself when it fits; the check's
 * reason is NUL-terminated and, for valid UTF-8 text, valid UTF-8. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "placeholder.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *custom;
	struct ph_contact c;
	char *text, *name, *out, err[256], missing[64];
	size_t max, tlen;
	bool toolong, valid;

	if (size < 1)
		return 0;
	max = (size_t)data[0] * 16;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	tlen = strlen(text);
	name = tlen + 1 < size - 1 ? text + tlen + 1 : NULL;
	valid = utf8_valid(text, tlen);
	custom = json_tokener_parse("{\"a\":\"x\",\"n\":12,\"b\":false,"
	    "\"z\":null}");
	c.name = name;
	c.phone = "+4915112345678";
	c.email = NULL;
	c.custom = custom;
	err[0] = '\0';
	if (ph_check(text, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || (valid && !utf8_valid(err, strlen(err))))
			abort();
	} else {
		missing[0] = '\0';
		out = ph_fill(text, &c, max, missing, sizeof(missing),
		    &toolong);
		if (out == NULL) {
			if (!toolong && (strncmp(missing, "{{", 2) != 0 ||
			    strstr(text, missing) == NULL ||
			    (valid && !utf8_valid(missing, strlen(missing)))))
				abort();
		} else {
			if (strlen(out) > max)
				abort();
			if (!ph_has(text) && strcmp(out, text) != 0)
				abort();
			free(out);
		}
	}
	json_object_put(custom);
	free(text);
	return 0;
}
