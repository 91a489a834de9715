#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xmalloc.h"

#ifndef WZ_SQLDIR
#define WZ_SQLDIR "/usr/local/share/wazera/sql"
#endif

enum config_type { CT_STR, CT_INT, CT_BOOL, CT_DBL };

struct config_key {
	const char	*name;		/* section.key, or key at top level */
	enum config_type type;
	size_t		 off;
	const char	*def;
	long		 min, max;
};

#define S(n, f, d)		{ n, CT_STR, offsetof(struct config, f), d, 0, 0 }
#define I(n, f, d, lo, hi)	{ n, CT_INT, offsetof(struct config, f), d, lo, hi }
#define B(n, f, d)		{ n, CT_BOOL, offsetof(struct config, f), d, 0, 1 }
/* A fraction above 0, at most 1 (min and max unused). */
#define F(n, f, d)		{ n, CT_DBL, offsetof(struct config, f), d, 0, 1 }

static const struct config_key keys[] = {
	S("database.host",		db_host,	"localhost"),
	I("database.port",		db_port,	"3306", 1, 65535),
	S("database.socket",		db_socket,	""),
	S("database.hosts",		db_hosts,	""),
	S("database.user",		db_user,	"wazera"),
	S("database.password",		db_password,	""),
	S("database.name",		db_name,	"wazera"),
	I("database.connect_timeout",	db_connect_timeout, "3", 1, 60),
	I("database.statement_timeout",	db_statement_timeout, "5", 0, 3600),
	S("graph_api_base",		graph_api_base,	"https://graph.facebook.com/v25.0"),
	S("verify_token",		verify_token,	""),
	S("app_secret",			app_secret,	""),
	S("master_key_file",		master_key_file, "/etc/wazera/master.key"),
	S("sql_dir",			sql_dir,	WZ_SQLDIR),
	B("webhooks.allow_private_targets", webhooks_allow_private_targets, "false"),
	I("webhooks.retention_days",	webhooks_retention_days, "30", 1, 3650),
	I("webhooks.max_per_host",	webhooks_max_per_host, "32", 1, 1024),
	F("webhooks.time_scale",	webhooks_time_scale, "1"),
	I("spooler.max_seconds",	spooler_max_seconds, "55", 1, 3600),
	I("spooler.resend_grace_seconds", spooler_resend_grace, "600", 1, 86400),
	I("spooler.graph_timeout_seconds", spooler_graph_timeout, "30", 1, 300),
	S("log.file",			log_file,	""),
	B("log.requests",		log_requests,	"true"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static int
config_set(struct config *cfg, const struct config_key *k, const char *v,
    char *err, size_t errsz, int line)
{
	char *end, **sp;
	double d;
	long n;

	switch (k->type) {
	case CT_STR:
		sp = (char **)((char *)cfg + k->off);
		free(*sp);
		*sp = xstrdup(v);
		return 0;
	case CT_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end != '\0' || n < k->min || n > k->max) {
			snprintf(err, errsz, "line %d: %s must be an integer "
			    "from %ld to %ld", line, k->name, k->min, k->max);
			return -1;
		}
		*(int *)((char *)cfg + k->off) = (int)n;
		return 0;
	case CT_DBL:
		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end != '\0' || !(d > 0 && d <= 1)) {
			snprintf(err, errsz, "line %d: %s must be a number above "
			    "0, at most 1", line, k->name);
			return -1;
		}
		memcpy((char *)cfg + k->off, &d, sizeof(d));
		return 0;
	case CT_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") ||
		    !strcmp(v, "1"))
			*(bool *)((char *)cfg + k->off) = true;
		else if (!strcmp(v, "false") || !strcmp(v, "no") ||
		    !strcmp(v, "off") || !strcmp(v, "0"))
			*(bool *)((char *)cfg + k->off) = false;
		else {
			snprintf(err, errsz, "line %d: %s must be true or false",
			    line, k->name);
			return -1;
		}
		return 0;
	}
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_parse(struct config *cfg, const char *text, char *err, size_t errsz)
{
	char section[64] = "", name[160], *buf, *line, *next, *eq, *k, *v;
	size_t i, vl;
	int lineno = 0, rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if (config_set(cfg, &keys[i], keys[i].def, err, errsz, 0) == -1) {
			config_free(cfg);
			return -1;
		}

	buf = xstrdup(text);
	for (line = buf; line != NULL && rc == 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			size_t l = strlen(line);
			if (line[l - 1] != ']' || l - 2 >= sizeof(section)) {
				snprintf(err, errsz, "line %d: bad section", lineno);
				rc = -1;
				break;
			}
			memcpy(section, line + 1, l - 2);
			section[l - 2] = '\0';
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			snprintf(err, errsz, "line %d: expected key = value",
			    lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		vl = strlen(v);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v[vl - 1] = '\0';
			v++;
		}
		if (*section)
			snprintf(name, sizeof(name), "%s.%s", section, k);
		else
			snprintf(name, sizeof(name), "%s", k);
		for (i = 0; i < NKEYS; i++)
			if (!strcmp(keys[i].name, name))
				break;
		if (i == NKEYS) {
			snprintf(err, errsz, "line %d: unknown key %s", lineno,
			    name);
			rc = -1;
			break;
		}
		rc = config_set(cfg, &keys[i], v, err, errsz, lineno);
	}
	free(buf);
	if (rc == 0 && cfg->db_hosts != NULL && *cfg->db_hosts != '\0') {
		char host[256];
		unsigned port;
		int r;

		for (i = 0; (r = config_db_host(cfg->db_hosts, i, host,
		    sizeof(host), &port)) == 0; i++)
			;
		if (r == -1) {
			snprintf(err, errsz, "database.hosts: entry %zu is not "
			    "HOST:PORT (an IPv6 address as [ADDR]:PORT)", i + 1);
			rc = -1;
		}
	}
	if (rc == -1)
		config_free(cfg);
	return rc;
}

int
config_db_host(const char *hosts, size_t i, char *host, size_t hsz,
    unsigned *port)
{
	const char *p = hosts, *e, *colon, *h;
	size_t hl;
	char *end;
	long v;

	while (i > 0 && (p = strchr(p, ',')) != NULL) {
		p++;
		i--;
	}
	if (p == NULL)
		return 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return i == 0 && p == hosts ? 1 : -1;
	e = strchr(p, ',');
	if (e == NULL)
		e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	/* The port follows the last colon; "[v6]:port" keeps its brackets
	 * off the host. */
	for (colon = e; colon > p && *colon != ':'; colon--)
		;
	if (*colon != ':' || colon == p || colon + 1 == e)
		return -1;
	h = p;
	hl = (size_t)(colon - p);
	if (*h == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return -1;
		h++;
		hl -= 2;
	} else if (memchr(h, ':', hl) != NULL)
		return -1;
	if (hl == 0 || hl >= hsz)
		return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno != 0 || end != e || v < 1 || v > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)v;
	return 0;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f;
	char *text;
	long len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    len > 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, errsz, "%s: cannot read", path);
		fclose(f);
		return -1;
	}
	text = xmalloc((size_t)len + 1);
	if (fread(text, 1, (size_t)len, f) != (size_t)len) {
		snprintf(err, errsz, "%s: short read", path);
		free(text);
		fclose(f);
		return -1;
	}
	text[len] = '\0';
	fclose(f);
	rc = config_parse(cfg, text, err, errsz);
	if (rc == -1) {
		/* Prefix the file name to the line number. */
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s: %s", path, err);
		snprintf(err, errsz, "%s", tmp);
	}
	free(text);
	return rc;
}

const char *
config_path(const char *arg)
{
	const char *env;

	if (arg != NULL && *arg != '\0')
		return arg;
	if ((env = getenv("WAZERA_CONFIG")) != NULL && *env != '\0')
		return env;
	return "/etc/wazera/wazera.conf";
}

void
config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].type == CT_STR) {
			char **sp = (char **)((char *)cfg + keys[i].off);
			free(*sp);
			*sp = NULL;
		}
}
