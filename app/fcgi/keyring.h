/* The master key of wazera-fcgi, shared by everything that seals or opens
 * a secret (accounts' app secrets in whatsapp.c, webhooks' signing
 * secrets in webhooks.c). */
#ifndef WZ_KEYRING_H
#define WZ_KEYRING_H
#include <stdint.h>

struct config;

/* The master key (cfg->master_key_file), loaded on first use by this
 * worker and kept; NULL when it cannot be loaded, which is logged once
 * per worker (a worker does not try again: restart the server once the
 * file is fixed). */
const uint8_t	*keyring_master(const struct config *);

#endif
