/*
 * api_apppass.c — an account's app passwords through the REST API, for
 * administrators: list (name, created, last used), create (the secret is
 * in the 201 answer and nowhere else, ever), revoke. The portal's JMAP
 * bearer tokens are the same records with the JMAP scope (auth/bearer.h):
 * the same handlers with a scope, the token in the 201 answer once; the
 * administrator makes, lists and revokes them on the account's own
 * route (/accounts/{email}/jmap-tokens) with the same handlers. The same store
 * functions `tern account app-password` uses; the argon2id hash of a new
 * one is bounded by the HTTP side's hash semaphore like other passwords.
 * A session creates one only with its current password (the portal's the
 * account's, the admin's the admin's: http_session_password_check): it
 * outlives a change of the password. An admin bearer token is not asked.
 */
#include <stdio.h>
#include <string.h>

#include "auth/bearer.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "store/store.h"

struct list_ctx {
	struct jw *w;
	int scope; /* -1: all, with their scope */
};

static void list_cb(void *arg, const struct store_apppass_info *i)
{
	struct list_ctx *c = arg;
	if (c->scope >= 0 && (int)i->scope != c->scope)
		return;
	jw_obj_begin(c->w);
	jw_kstr(c->w, "name", i->name);
	jw_kint(c->w, "created_at", i->created_at);
	jw_kint(c->w, "last_used", i->last_used);
	if (c->scope < 0)
		jw_kstr(c->w, "scope", i->scope == STORE_APPPASS_JMAP ? "jmap" : "mail");
	jw_obj_end(c->w);
}

static void list(struct http_ctx *x, int scope, const char *key)
{
	uint32_t id;
	struct jw w;
	struct list_ctx c = {&w, scope};
	if (http_account_param(x, &id) < 0)
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, key);
	jw_arr_begin(&w);
	store_apppass_list(http_store, id, list_cb, &c);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

static void add(struct http_ctx *x, enum store_apppass_scope scope)
{
	static const struct json_field f[] = { { "name", JK_STRING, 1 }, { "password", JK_STRING, 0 } };
	char err[256], secret[STORE_APPPASS_SECRET_LEN + 1], token[BEARER_TOKEN_MAX];
	uint32_t id;
	struct jw w;

	if (http_body_check(x, f, 2) < 0 || http_account_param(x, &id) < 0)
		return;
	const char *name = http_body_str(x, "name");
	if (!store_apppass_name_valid(name)) {
		http_problem(x, 400, "invalid_field", "name",
			     "a name is 1..%d characters, no control characters",
			     STORE_APPPASS_NAME_MAX);
		return;
	}
	/* A new secret outlives a change of the password: a session alone
	 * (perhaps a stolen cookie) is not enough. The portal's takes the
	 * account's password, the admin's the admin's; an admin bearer
	 * token is not asked. */
	if (http_session_password_check(x, "password") < 0)
		return;
	http_hash_enter();
	int rc = store_apppass_add_scoped(http_store, id, scope, name, secret, sizeof secret, err,
					  sizeof err);
	http_hash_leave();
	if (rc == STORE_ELIMIT) {
		http_problem(x, 409, "limit", NULL, "%s", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	/* Who made it: the account in its portal, or the administrator. */
	log_info("http", NULL, "event=%s_created account_id=%u by=%s ip=%s",
		 scope == STORE_APPPASS_JMAP ? "jmap_token" : "apppass", id,
		 x->account_email ? "account" : "admin", x->ip);
	http_json_begin(x, &w, 201);
	jw_obj_begin(&w);
	jw_kstr(&w, "name", name);
	if (scope == STORE_APPPASS_JMAP) {
		/* The token names its account (auth/bearer.h); cannot fail:
		 * the buffer is sized for it. */
		bearer_token_format(id, secret, token, sizeof token);
		jw_kstr(&w, "token", token);
		explicit_bzero(token, sizeof token);
	} else {
		jw_kstr(&w, "password", secret);
	}
	jw_obj_end(&w);
	explicit_bzero(secret, sizeof secret);
}

static void del(struct http_ctx *x, int scope)
{
	char err[256];
	uint32_t id;
	if (http_account_param(x, &id) < 0)
		return;
	int rc = store_apppass_del_scoped(http_store, id, scope, x->param[1], err, sizeof err);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=%s_revoked ip=%s",
		 scope == STORE_APPPASS_JMAP ? "jmap_token" : "apppass", x->ip);
	http_no_content(x);
}

/* The administrator's routes: every secret of the account, its scope
 * said; a revocation takes a token as well. */
void api_apppass_list(struct http_ctx *x)
{
	list(x, -1, "app_passwords");
}

void api_apppass_add(struct http_ctx *x)
{
	add(x, STORE_APPPASS_MAIL);
}

void api_apppass_del(struct http_ctx *x)
{
	del(x, -1);
}

/* The portal's routes: its app passwords, and apart its JMAP tokens. */
void api_apppass_list_mail(struct http_ctx *x)
{
	list(x, STORE_APPPASS_MAIL, "app_passwords");
}

void api_apppass_del_mail(struct http_ctx *x)
{
	del(x, STORE_APPPASS_MAIL);
}

void api_jmap_token_list(struct http_ctx *x)
{
	list(x, STORE_APPPASS_JMAP, "tokens");
}

void api_jmap_token_add(struct http_ctx *x)
{
	add(x, STORE_APPPASS_JMAP);
}

void api_jmap_token_del(struct http_ctx *x)
{
	del(x, STORE_APPPASS_JMAP);
}
