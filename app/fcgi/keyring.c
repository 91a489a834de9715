/* The master key, loaded once per worker (keyring.h). */
#include <stdint.h>

#include "config.h"
#include "crypto.h"
#include "keyring.h"
#include "log.h"

static uint8_t master_key[MASTER_KEY_LEN];
static int master_state;	/* 0 not tried, 1 loaded, -1 unavailable */

const uint8_t *
keyring_master(const struct config *cfg)
{
	char err[512];

	if (master_state == 0) {
		if (masterkey_load(cfg->master_key_file, master_key, err,
		    sizeof(err)) == 0)
			master_state = 1;
		else {
			master_state = -1;
			log_warnx("master key: %s; account app secrets cannot be "
			    "used and webhook secrets cannot be sealed or opened",
			    err);
		}
	}
	return master_state == 1 ? master_key : NULL;
}
