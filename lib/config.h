/* The INI configuration, read once at start from one declarative table. */
#ifndef WZ_CONFIG_H
#define WZ_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

struct config {
	char	*db_host;
	int	 db_port;
	char	*db_socket;
	char	*db_hosts;	/* "HOST:PORT,...": tried in turn; "" */
	char	*db_user;
	char	*db_password;
	char	*db_name;
	int	 db_connect_timeout;
	int	 db_statement_timeout;	/* the API's statements; 0: none */
	char	*graph_api_base;
	char	*verify_token;
	char	*app_secret;
	char	*master_key_file;
	char	*sql_dir;
	bool	 webhooks_allow_private_targets;
	int	 webhooks_retention_days;	/* succeeded deliveries' bodies */
	int	 webhooks_max_per_host;	/* deliveries in flight per host */
	/* Multiplies the webhook delivery schedule's times (the retry
	 * waits, the 24 h of retries, the 3 days before a failing webhook is
	 * disabled, the 24 h an old secret still signs): below 1 only for
	 * tests. */
	double	 webhooks_time_scale;
	int	 spooler_max_seconds;
	int	 spooler_resend_grace;
	int	 spooler_graph_timeout;	/* seconds for a whole request */
	char	*log_file;		/* "": standard error */
	bool	 log_requests;		/* a line per API request */
};

/* Fills cfg with defaults, then applies the INI text. Returns 0, or -1 with a
 * message naming the line in err and nothing left in cfg to free. */
int	 config_parse(struct config *, const char *text, char *err, size_t errsz);
/* Reads and parses a file. Same contract as config_parse. */
int	 config_load(struct config *, const char *path, char *err, size_t errsz);
/* The path to read: --config, else $WAZERA_CONFIG, else the system default. */
const char *config_path(const char *arg);
void	 config_free(struct config *);
/* Entry i of database.hosts ("HOST:PORT", an IPv6 address as
 * "[ADDR]:PORT"): the host into host (hsz bytes) and the port. Returns 0,
 * 1 past the last entry, or -1 when the entry is malformed. */
int	 config_db_host(const char *hosts, size_t i, char *host, size_t hsz,
	    unsigned *port);

#endif
