/*
 * jmap_ws.c — JMAP over WebSocket (RFC 8887 §4.3), the JMAP half: what a
 * client's message is and what we answer. The framing and the connection
 * are app/http's (ws_frame.c, http_push.c).
 *
 * A message is a JSON object with "@type":
 * - "Request": a Request object (RFC 8620 §3.3) with an optional "id";
 *   it runs as an HTTP API request does (its Response written into the
 *   spool as it is made, jmap_api_spooled) and is answered by a Response
 *   with "@type":"Response" and "requestId" (the id, when given), or by
 *   a RequestError: the problem an HTTP request would get (type,
 *   status, detail, limit) with "@type" and "requestId";
 * - "WebSocketPushEnable" (dataTypes: null or type names; pushState) and
 *   "WebSocketPushDisable": handed back to the transport.
 * Anything else, or a message that is not JSON, is a RequestError
 * (notRequest, notJSON); so is a Request whose id is no String, and a
 * WebSocketPushEnable whose members are not of their types or whose
 * dataTypes names a type we do not know (as Stalwart refuses it).
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/*
 * out holds an object "{...}": it becomes {"@type":T,"requestId":id,...}.
 * Built in a second buffer of out's ceiling, so a body near that ceiling
 * or a long id makes it fail whole (-1, out unchanged) rather than leave
 * a head without its body; 0 when done.
 */
static int tag(struct buf *out, const char *type, const char *id)
{
	struct buf t;
	struct jw w;
	size_t n = buf_len(out);

	buf_init(&t, out->max);
	jw_init(&w, &t);
	jw_obj_begin(&w);
	jw_kstr(&w, "@type", type);
	if (id)
		jw_kstr(&w, "requestId", id);
	/* t is '{' and its members; the body goes on after its '{'. */
	if (jw_failed(&w) || n < 2 || (n > 2 && buf_append_c(&t, ",") < 0) ||
	    buf_append(&t, buf_data(out) + 1, n - 1) < 0) {
		buf_free(&t);
		return -1;
	}
	buf_free(out);
	*out = t;
	return 0;
}

static void request_error(struct buf *out, const char *type, const char *limit, const char *id,
			  const char *detail)
{
	jmap_problem(out, 400, type, limit, detail);
	if (tag(out, "RequestError", id) < 0) {
		/* Only an id near out's ceiling gets here: answered without it. */
		jmap_problem(out, 400, type, limit, detail);
		tag(out, "RequestError", NULL);
	}
}

/* Removes the members "@type" and "id" (a Request object has neither). */
static struct json_value *strip(struct json_value *req, struct arena *a)
{
	struct json_value *copy = arena_alloc(a, sizeof *copy), **pp;

	*copy = *req;
	pp = &copy->first;
	for (struct json_value *m = req->first; m; m = m->next) {
		if (!strcmp(m->key, "@type") || !strcmp(m->key, "id")) {
			copy->count--;
			continue;
		}
		*pp = m;
		pp = &m->next;
	}
	*pp = NULL;
	return copy;
}

/* A WebSocketPushEnable's members are of their types (RFC 8887
 * §4.3.5.2): dataTypes null or a list of data type names, pushState a
 * String (null taken as absent, as some clients send it). Another was
 * taken for "every type", unanswered, where the client meant something
 * else; a name we do not know was dropped unseen, as a PushSubscription's
 * was (jmap_push_type_list, which both read). The types' mask, or -1. */
static long push_enable_types(const struct json_value *dt, const struct json_value *ps)
{
	if (ps && ps->type != JSON_NULL && ps->type != JSON_STRING)
		return -1;
	return jmap_push_type_list(dt);
}

void jmap_ws_message(struct store *st, const struct jmap_who *who, const char *client_ip,
		     const char *text, size_t len, int busy, struct arena *a, struct buf *out,
		     struct spool *sink, struct jmap_ws_verdict *v)
{
	char err[128], d[200];
	size_t values = JMAP_JSON_VALUES_MAX;
	int over;

	memset(v, 0, sizeof *v);
	v->kind = JMAP_WS_REPLY;
	buf_reset(out);
	struct json_value *msg = json_parse_capped(text, len, a, &values, &over, err, sizeof err);
	if (!msg && over) {
		snprintf(d, sizeof d, "the message holds more than %d JSON values",
			 JMAP_JSON_VALUES_MAX);
		request_error(out, "limit", "maxSizeRequest", NULL, d);
		return;
	}
	if (!msg) {
		snprintf(d, sizeof d, "the message is not valid JSON: %s", err);
		request_error(out, "notJSON", NULL, NULL, d);
		return;
	}
	const struct json_value *t = msg->type == JSON_OBJECT ? json_get(msg, "@type") : NULL;
	const char *type = t && t->type == JSON_STRING ? t->str : "";
	if (!strcmp(type, "WebSocketPushEnable") || !strcmp(type, "WebSocketPushDisable")) {
		if (type[13] == 'D') {
			v->kind = JMAP_WS_PUSH_DISABLE;
			return;
		}
		const struct json_value *dt = json_get(msg, "dataTypes"), *ps = json_get(msg, "pushState");
		long types = push_enable_types(dt, ps);
		if (types < 0) {
			request_error(out, "notRequest", NULL, NULL,
				      "dataTypes is null or a list of data type names this server "
				      "pushes, pushState a String (RFC 8887 section 4.3.5.2)");
			return;
		}
		v->kind = JMAP_WS_PUSH_ENABLE;
		v->types = (unsigned)types;
		if (ps && ps->type == JSON_STRING &&
		    jmap_push_state_parse(ps->str, ps->len, &v->push_state, &v->push_own,
					  &v->push_state_own) == 0)
			v->has_push_state = 1;
		/* What the client is taken to know from now, read here (a
		 * worker) rather than on the transport's loop: the modseq,
		 * what changed since its pushState, its own types' states. */
		v->now_ok = store_account_modseq(st, who->account, &v->now_modseq) == STORE_OK;
		if (v->now_ok && v->has_push_state && v->push_state < v->now_modseq)
			v->now_ok = jmap_push_changed(st, who->account, v->push_state, &v->now_changed,
						      &v->now_upto) == 0;
		if (v->now_ok && v->types & JMAP_TYPES_OWN) {
			struct jmap_who base = {.account = who->account};
			v->now_own_ok = jmap_push_own_states(st, &base, v->types & JMAP_TYPES_OWN,
							     &v->now_own) == 0;
		}
		return;
	}
	const struct json_value *idv = msg->type == JSON_OBJECT ? json_get(msg, "id") : NULL;
	const char *id = idv && idv->type == JSON_STRING ? idv->str : NULL;
	if (strcmp(type, "Request") != 0 || (idv && !id)) {
		request_error(out, "notRequest", NULL, id,
			      idv && !id ? "a Request's id is a String (RFC 8887 section 4.3.2)"
					 : "the message is not a Request, WebSocketPushEnable or "
					   "WebSocketPushDisable object (RFC 8887 section 4.3)");
		return;
	}
	if (busy) {
		/* What HTTP answers then (api_jmap.c). */
		request_error(out, "limit", "maxConcurrentRequests", id,
			      "too many requests at once for this account");
		return;
	}
	/* Tagged as the Response is written, so the tagged message is what
	 * JMAP_RESPONSE_MAX bounds, and it goes to sink as HTTP's does. */
	const char *head[] = {"@type", "Response", id ? "requestId" : NULL, id, NULL};
	int status = jmap_api_request(st, who, client_ip, strip(msg, a), a, out, sink, head);
	if (status == 503)
		v->kind = JMAP_WS_SPOOL_FAILED;
	else if (status != 200 && tag(out, "RequestError", id) < 0)
		request_error(out, "limit", "maxSizeResponse", id, "the response is too large");
}
