/*
 * api_apppass.c — an account's app passwords through the REST API, for
 * administrators: list (name, created, last used), create (the secret is
 * in the 201 answer and nowhere else, ever), revoke. The same store
 * functions `tern account app-password` uses; the argon2id hash of a new
 * one is bounded by the HTTP side's hash semaphore like other passwords.
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "store/store.h"

static int account(struct http_ctx *x, uint32_t *id)
{
	if (store_account_id(http_store, x->param[0], id) == STORE_OK)
		return 0;
	http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
	return -1;
}

static void list_cb(void *arg, const struct store_apppass_info *i)
{
	struct jw *w = arg;
	jw_obj_begin(w);
	jw_kstr(w, "name", i->name);
	jw_kint(w, "created_at", i->created_at);
	jw_kint(w, "last_used", i->last_used);
	jw_obj_end(w);
}

void api_apppass_list(struct http_ctx *x)
{
	uint32_t id;
	struct jw w;
	if (account(x, &id) < 0)
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "app_passwords");
	jw_arr_begin(&w);
	store_apppass_list(http_store, id, list_cb, &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void api_apppass_add(struct http_ctx *x)
{
	static const struct json_field f[] = { { "name", JK_STRING, 1 } };
	char err[256], secret[STORE_APPPASS_SECRET_LEN + 1];
	uint32_t id;
	struct jw w;

	if (http_body_check(x, f, 1) < 0 || account(x, &id) < 0)
		return;
	const char *name = http_body_str(x, "name");
	if (!store_apppass_name_valid(name)) {
		http_problem(x, 400, "invalid_field", "name",
			     "a name is 1..%d characters, no control characters",
			     STORE_APPPASS_NAME_MAX);
		return;
	}
	http_hash_enter();
	int rc = store_apppass_add(http_store, id, name, secret, sizeof secret, err, sizeof err);
	http_hash_leave();
	if (rc == STORE_ELIMIT) {
		http_problem(x, 409, "limit", NULL, "%s", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=apppass_created ip=%s", x->ip);
	http_json_begin(x, &w, 201);
	jw_obj_begin(&w);
	jw_kstr(&w, "name", name);
	jw_kstr(&w, "password", secret);
	jw_obj_end(&w);
	explicit_bzero(secret, sizeof secret);
}

void api_apppass_del(struct http_ctx *x)
{
	char err[256];
	uint32_t id;
	if (account(x, &id) < 0)
		return;
	int rc = store_apppass_del(http_store, id, x->param[1], err, sizeof err);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=apppass_revoked ip=%s", x->ip);
	http_no_content(x);
}
