/* The Graph API's specifics on top of http.c: URLs, the bearer token,
 * and the reading of Meta's answers (graph.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "graph.h"
#include "http.h"
#include "log.h"
#include "policy.h"
#include "validate.h"
#include "xmalloc.h"

char *
graph_url(const char *base, const char *node, const char *edge)
{
	size_t bl = strlen(base);
	char *url;

	if (!graph_id_valid(node))
		return NULL;
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	xasprintf(&url, "%.*s/%s/%s", (int)bl, base, node, edge);
	return url;
}

struct curl_slist *
graph_headers(const char *token)
{
	struct curl_slist *h = NULL;
	char *auth;

	xasprintf(&auth, "Authorization: Bearer %s", token);
	h = curl_slist_append(h, auth);
	sodium_memzero(auth, strlen(auth));
	free(auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");	/* no 100-continue wait */
	if (h == NULL)
		log_fatalx("curl_slist_append failed");
	return h;
}

void
graph_headers_free(struct curl_slist *headers)
{
	struct curl_slist *h;

	for (h = headers; h != NULL; h = h->next)
		sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

void
graph_classify(const struct http_done *d, struct pol_outcome *o)
{
	struct pol_input in;

	in.curl_ok = d->curl_ok;
	in.maybe_sent = d->maybe_sent;
	in.errtext = d->errtext;
	in.http_status = d->http_status;
	in.body = d->body;
	in.len = d->len;
	policy_classify(&in, o);
}
