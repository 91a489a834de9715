/* libFuzzer target: the INI configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char *s = malloc(size + 1), err[256];

	memcpy(s, data, size);
	s[size] = '\0';
	(void)config_parse(&cfg, s, err, sizeof(err));
	config_free(&cfg);
	free(s);
	return 0;
}
