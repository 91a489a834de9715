/* libFuzzer target: the body of POST /messages/send (and /messages/
 * template), after the strict parser: the envelope and each type's
 * content (send_parse, content_parse), then the Graph request the
 * spooler builds from what was stored (payload_build).
 *
 * Invariants, for a body accepted on either route:
 * - the stored text is the content as json-c writes it, a JSON object;
 * - a round trip: the stored content, parsed again and sent again in an
 *   envelope made of what was accepted, is accepted again with the same
 *   recipient, account, type and stored text (content_parse keeps what it
 *   made);
 * - as an answer (jsonbody_raw) the stored text is written as it is;
 * - the spooler can build its Graph request from it: JSON the strict
 *   parser accepts, to the same recipient, with the same type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "content.h"
#include "jsonbody.h"
#include "payload.h"
#include "pool.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *
str_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static void
check_accepted(struct pool *p, const struct send_body *sb)
{
	struct json_object *body, *c, *raw, *g;
	struct send_body again;
	struct verrs e;
	char phone[PHONE_MAX + 1], path[64], err[256], *out;
	const char *s;

	if ((unsigned)sb->type >= MT__MAX || sb->account < 1 ||
	    sb->to == NULL || sb->text == NULL ||
	    !json_object_is_type(sb->content, json_type_object) ||
	    phone_normalize(sb->to, strlen(sb->to), phone) != 0 ||
	    strcmp(phone, sb->to) != 0)
		abort();
	if (strcmp(sb->text, json_object_to_json_string_ext(sb->content,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) != 0)
		abort();

	/* Sent again as stored. */
	if (jsonbody_parse(sb->text, strlen(sb->text), &c, path,
	    sizeof(path)) != JSONBODY_OK)
		abort();
	body = json_object_new_object();
	json_object_object_add(body, "to", json_object_new_string(sb->to));
	json_object_object_add(body, "whatsapp_account_id",
	    json_object_new_int64(sb->account));
	json_object_object_add(body, "type",
	    json_object_new_string(msg_types[sb->type]));
	json_object_object_add(body, "content", c);
	verrs_init(&e);
	if (send_parse(p, body, false, &again, &e) != 0 ||
	    strcmp(again.to, sb->to) != 0 || again.account != sb->account ||
	    again.type != sb->type || strcmp(again.text, sb->text) != 0)
		abort();
	json_object_put(again.content);
	json_object_put(e.details);
	json_object_put(body);

	/* Answered as stored. */
	raw = jsonbody_raw(sb->text);
	if (strcmp(json_object_to_json_string(raw), sb->text) != 0)
		abort();
	json_object_put(raw);

	/* Sent to Meta. */
	out = payload_build(42, sb->to, msg_types[sb->type], sb->text,
	    strlen(sb->text), err, sizeof(err));
	if (out == NULL)
		abort();	/* accepted, but the spooler cannot send it */
	if (jsonbody_parse(out, strlen(out), &g, path, sizeof(path)) !=
	    JSONBODY_OK)
		abort();
	if ((s = str_at(g, "to")) == NULL || strcmp(s, sb->to) != 0 ||
	    (s = str_at(g, "type")) == NULL ||
	    strcmp(s, msg_types[sb->type]) != 0 ||
	    !json_object_object_get_ex(g, msg_types[sb->type], NULL))
		abort();
	json_object_put(g);
	free(out);
}

static void
one(const uint8_t *data, size_t size, bool template_alias)
{
	struct json_object *body;
	struct send_body sb;
	struct verrs e;
	struct pool p;
	char path[64];

	if (jsonbody_parse((const char *)data, size, &body, path,
	    sizeof(path)) != JSONBODY_OK)
		return;
	pool_init(&p);
	verrs_init(&e);
	if (send_parse(&p, body, template_alias, &sb, &e) == 0) {
		if (e.n != 0 || e.details != NULL)
			abort();
		check_accepted(&p, &sb);
		json_object_put(sb.content);
	} else if (e.n == 0 || e.details == NULL || sb.content != NULL)
		abort();
	json_object_put(e.details);
	pool_free(&p);
	json_object_put(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, false);
	one(data, size, true);
	return 0;
}
