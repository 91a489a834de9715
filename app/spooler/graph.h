/* The Graph API over the spooler's HTTP client (http.c): what is Meta's
 * and not HTTP's. An edge's URL under the configured base, the request
 * headers with an account's bearer token, and an answer read as Meta
 * means it (policy.c holds the table of Meta's error codes). */
#ifndef WZ_SPOOLER_GRAPH_H
#define WZ_SPOOLER_GRAPH_H
#include <stddef.h>

struct curl_slist;
struct http_done;
struct pol_outcome;

/* base/<node>/<edge> (graph_api_base without its trailing slashes);
 * NULL when node is not a Graph id (lib/validate.c: not usable in a
 * URL). Freed by the caller. */
char			*graph_url(const char *base, const char *node,
			    const char *edge);
/* The headers of a JSON POST with a bearer token; the token's copies are
 * wiped by graph_headers_free. */
struct curl_slist	*graph_headers(const char *token);
void			 graph_headers_free(struct curl_slist *);
/* Classifies a finished request by Meta's answer (policy_classify). */
void			 graph_classify(const struct http_done *,
			    struct pol_outcome *);

#endif
