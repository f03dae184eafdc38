/*
 * api_forward.c — an account's forwarding to outside addresses through
 * the REST API (GET/PUT /api/v1/accounts/{email}/forwarding, and the
 * portal's /api/v1/me/forwarding through api_me.c): up to
 * STORE_FORWARD_MAX addresses and whether the account keeps a copy. The
 * store validates (store_forward.c); the forwarding itself is the alias
 * forwarding's mechanism (SRS, ARC) on port 25. A session sets it only
 * with its current password (the portal's the account's, the admin's the
 * admin's), unless turning it off; an admin bearer token is not asked.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "store/store.h"

static void write_forward(struct http_ctx *x, const struct store_account_forward *f)
{
	struct jw w;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "addresses");
	jw_arr_begin(&w);
	for (size_t i = 0; i < f->n; i++)
		jw_str(&w, f->to[i]);
	jw_arr_end(&w);
	jw_kbool(&w, "keep", f->n ? f->keep : 1);
	jw_obj_end(&w);
}

void api_forward_get(struct http_ctx *x)
{
	struct store_account_forward f;
	uint32_t id;
	if (http_account_param(x, &id) < 0)
		return;
	int rc = store_account_forward_get(http_store, id, &f);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	write_forward(x, &f);
}

void api_forward_put(struct http_ctx *x)
{
	static const struct json_field fields[] = {
		{ "addresses", JK_ANY, 1 },
		{ "keep", JK_BOOL, 0 },
		{ "password", JK_STRING, 0 },
	};
	struct store_account_forward f = { .keep = 1 };
	char err[256];
	uint32_t id;

	if (http_body_check(x, fields, 3) < 0 || http_account_param(x, &id) < 0)
		return;
	const struct json_value *a = json_get(x->json, "addresses");
	if (a->type != JSON_ARRAY || a->count > STORE_FORWARD_MAX) {
		http_problem(x, 400, "invalid_field", "addresses",
			     "field 'addresses' must be an array of at most %d addresses",
			     STORE_FORWARD_MAX);
		return;
	}
	for (const struct json_value *e = a->first; e; e = e->next) {
		if (e->type != JSON_STRING || strlen(e->str) != e->len ||
		    e->len > STORE_ADDR_MAX) {
			http_problem(x, 400, "invalid_field", "addresses",
				     "field 'addresses' must hold addresses");
			return;
		}
		memcpy(f.to[f.n++], e->str, e->len + 1);
	}
	const struct json_value *k = json_get(x->json, "keep");
	if (k)
		f.keep = k->boolean;
	/* Forwarding anywhere (every target is outside our domains) takes
	 * the session's current password (the account's in the portal, the
	 * admin's on the admin's route): it would go on receiving the mail
	 * after the password changed, so a stolen session cookie alone must
	 * not set it. Turning it off needs none, nor an admin bearer token. */
	if (f.n && http_session_password_check(x, "password") < 0)
		return;
	int rc = store_account_forward_set(http_store, id, &f, err, sizeof err);
	if (rc == STORE_EINVAL) {
		http_problem(x, 400, "invalid_field", "addresses", "%s", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=forwarding_set account_id=%u addresses=%zu keep=%d ip=%s", id,
		 f.n, f.keep, x->ip);
	if (store_account_forward_get(http_store, id, &f) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "store error, see the log");
		return;
	}
	write_forward(x, &f);
}
