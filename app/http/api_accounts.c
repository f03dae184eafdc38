/*
 * api_accounts.c — /api/v1/accounts and /api/v1/aliases: mail accounts
 * (add, disable, delete, password reset, quota and usage, their aliases)
 * and aliases including catch-alls ("@domain"). Everything goes through
 * the store's admin functions, as the CLI does; password hashing inside
 * them is bounded by the HTTP side's hash semaphore.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "store/store.h"

struct acct {
	const char *email;
	uint64_t quota, used;
	uint32_t emails;
	int disabled;
	enum store_account_state state;
	const char *name;
};

struct acct_list {
	struct arena *a;
	struct acct *v;
	size_t n, cap;
};

static void acct_cb(void *arg, const struct store_account_info *info)
{
	struct acct_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct acct *v = arena_alloc(l->a, cap * sizeof(*v));
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct acct){ arena_strdup(l->a, info->email), info->quota, info->used,
				      info->emails, info->disabled, info->state,
				      arena_strdup(l->a, info->display_name) };
}

struct pair {
	const char *alias, *target;
};
struct pair_list {
	struct arena *a;
	struct pair *v;
	size_t n, cap;
};

static void pair_cb(void *arg, const char *alias, const char *target)
{
	struct pair_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct pair *v = arena_alloc(l->a, cap * sizeof(*v));
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct pair){ arena_strdup(l->a, alias), arena_strdup(l->a, target) };
}

static void write_account(struct jw *w, const struct acct *a, const struct pair_list *aliases)
{
	jw_obj_begin(w);
	jw_kstr(w, "email", a->email);
	jw_kuint(w, "quota", a->quota);
	jw_kuint(w, "used", a->used);
	jw_kuint(w, "emails", a->emails);
	jw_kbool(w, "disabled", a->disabled);
	jw_kstr(w, "state", store_account_state_name(a->state));
	jw_kstr(w, "display_name", a->name);
	jw_key(w, "aliases");
	jw_arr_begin(w);
	for (size_t i = 0; i < aliases->n; i++)
		if (strcmp(aliases->v[i].target, a->email) == 0)
			jw_str(w, aliases->v[i].alias);
	jw_arr_end(w);
	jw_obj_end(w);
}

static int load(struct http_ctx *x, struct acct_list *accts, struct pair_list *aliases)
{
	*accts = (struct acct_list){ .a = x->arena };
	*aliases = (struct pair_list){ .a = x->arena };
	if (store_account_list(http_store, acct_cb, accts) != STORE_OK ||
	    store_alias_list(http_store, pair_cb, aliases) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot read accounts");
		return -1;
	}
	return 0;
}

/* Answers with the account named email (any case); 404 when none. */
static void answer_account(struct http_ctx *x, const char *email, int status)
{
	struct acct_list accts;
	struct pair_list aliases;
	char low[320];
	struct jw w;

	if (load(x, &accts, &aliases) < 0)
		return;
	if (str_lower_into(str_c(email), low, sizeof(low)) == 0)
		for (size_t i = 0; i < accts.n; i++)
			if (strcmp(accts.v[i].email, low) == 0) {
				http_json_begin(x, &w, status);
				write_account(&w, &accts.v[i], &aliases);
				return;
			}
	http_problem(x, 404, "not_found", NULL, "no account %.100s", email);
}

void api_accounts_list(struct http_ctx *x)
{
	struct acct_list accts;
	struct pair_list aliases;
	struct jw w;

	if (load(x, &accts, &aliases) < 0)
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "accounts");
	jw_arr_begin(&w);
	for (size_t i = 0; i < accts.n; i++)
		write_account(&w, &accts.v[i], &aliases);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void api_account_create(struct http_ctx *x, const char *email, const char *password,
			uint64_t quota, const char *name, const char *current)
{
	char err[256];

	if (http_password_ok(x, "password", password) < 0)
		return;
	if (name && !store_display_name_valid(name)) {
		http_problem(x, 400, "invalid_field", "display_name",
			     "field 'display_name' must be at most %d octets without control characters",
			     STORE_DISPLAY_NAME_MAX);
		return;
	}
	/* A new account's password is a lasting way in (mail, and relaying
	 * through submission), and an alias can then send anyone's mail
	 * there: an admin session (perhaps a stolen cookie) makes one only
	 * with the admin password. */
	if (current && http_session_password_check(x, current) < 0)
		return;
	http_hash_enter();
	int rc = store_account_add(http_store, email, password, quota, NULL, err, sizeof(err));
	http_hash_leave();
	if (rc == STORE_EINVAL) {
		http_problem(x, 400, "invalid_field", "email", "field 'email' must be an address (%s)", err);
		return;
	}
	if (rc == STORE_ENOTFOUND) {
		http_problem(x, 404, "not_found", "email", "%s (add the domain first)", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	/* A name that cannot be set now (the account just went away) is
	 * not worth failing the creation for: the answer shows what is. */
	if (name && name[0])
		store_account_set_name(http_store, email, name, err, sizeof(err));
	log_info("http", NULL, "event=account_added ip=%s", x->ip);
	answer_account(x, email, 201);
}

void api_accounts_add(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "email", JK_STRING, 1 },
		{ "password", JK_STRING, 1 },
		{ "quota", JK_INT, 0 },
		{ "display_name", JK_STRING, 0 },
		{ "current", JK_STRING, 0 },
	};
	if (http_body_check(x, f, 5) < 0)
		return;
	/* The admin password goes in "current": "password" is the new
	 * account's. */
	const struct json_value *q = json_get(x->json, "quota");
	api_account_create(x, http_body_str(x, "email"), http_body_str(x, "password"),
			   q ? (uint64_t)q->integer : 0, http_body_str(x, "display_name"), "current");
}

void api_account_get(struct http_ctx *x)
{
	answer_account(x, x->param[0], 200);
}

/* 0 when the account exists, else -1 after a 404. */
static int must_exist(struct http_ctx *x, const char *email)
{
	uint32_t id;
	if (store_account_id(http_store, email, &id) == STORE_OK)
		return 0;
	http_problem(x, 404, "not_found", NULL, "no account %.100s", email);
	return -1;
}

void api_account_patch(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "quota", JK_INT, 0 },
		{ "disabled", JK_BOOL, 0 },
		{ "state", JK_STRING, 0 },
		{ "display_name", JK_STRING, 0 },
	};
	char err[256];
	const char *email = x->param[0];
	enum store_account_state state = STORE_ACCOUNT_ACTIVE;

	if (http_body_check(x, f, 4) < 0 || must_exist(x, email) < 0)
		return;
	const struct json_value *q = json_get(x->json, "quota"), *d = json_get(x->json, "disabled");
	const char *sw = http_body_str(x, "state"), *name = http_body_str(x, "display_name");
	if (sw && store_account_state_parse(sw, &state) != 0) {
		http_problem(x, 400, "invalid_field", "state",
			     "field 'state' must be active, cannot_sign_in or inactive");
		return;
	}
	if (name && !store_display_name_valid(name)) {
		http_problem(x, 400, "invalid_field", "display_name",
			     "field 'display_name' must be at most %d octets without control characters",
			     STORE_DISPLAY_NAME_MAX);
		return;
	}
	int rc = STORE_OK;
	if (q)
		rc = store_account_set_quota(http_store, email, (uint64_t)q->integer, err, sizeof(err));
	/* "disabled" is the older word for the first two states; "state" wins. */
	if (rc == STORE_OK && d && !sw)
		rc = store_account_set_disabled(http_store, email, d->boolean, err, sizeof(err));
	if (rc == STORE_OK && sw)
		rc = store_account_set_state(http_store, email, state, err, sizeof(err));
	if (rc == STORE_OK && name)
		rc = store_account_set_name(http_store, email, name, err, sizeof(err));
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	answer_account(x, email, 200);
}

void api_account_del(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 0 } };
	char err[256];

	/* The account's mail goes for good: the router asked a session for
	 * the admin password, in "password", as for every DELETE (R_REAUTH). */
	if (http_body_check(x, f, 1) < 0)
		return;
	int rc = store_account_del(http_store, x->param[0], err, sizeof(err));
	if (rc == STORE_EINVAL)
		rc = STORE_ENOTFOUND;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=account_deleted ip=%s", x->ip);
	http_no_content(x);
}

void api_account_password(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 1 },
					       { "current", JK_STRING, 0 } };
	char err[256];
	const char *email = x->param[0];

	if (http_body_check(x, f, 2) < 0 || must_exist(x, email) < 0)
		return;
	const char *pw = http_body_str(x, "password");
	/* The password set here lets its setter read the account's mail
	 * after the admin password changed: an admin session sets it only
	 * with the admin password, in "current". */
	if (http_password_ok(x, "password", pw) < 0 || http_session_password_check(x, "current") < 0)
		return;
	http_hash_enter();
	int rc = store_account_passwd(http_store, email, pw, err, sizeof(err));
	http_hash_leave();
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	http_no_content(x);
}

/* ---- aliases ---- */

static void write_alias(struct jw *w, const struct pair_list *l, size_t from, size_t to)
{
	jw_obj_begin(w);
	jw_kstr(w, "alias", l->v[from].alias);
	jw_key(w, "targets");
	jw_arr_begin(w);
	for (size_t i = from; i < to; i++)
		jw_str(w, l->v[i].target);
	jw_arr_end(w);
	jw_kbool(w, "catch_all", l->v[from].alias[0] == '@');
	jw_obj_end(w);
}

/* Writes the alias objects (all, or only the one named only). 1 if any. */
static int write_aliases(struct jw *w, const struct pair_list *l, const char *only)
{
	int any = 0;
	for (size_t i = 0; i < l->n;) {
		size_t j = i + 1;
		while (j < l->n && strcmp(l->v[j].alias, l->v[i].alias) == 0)
			j++;
		if (!only || strcmp(only, l->v[i].alias) == 0) {
			write_alias(w, l, i, j);
			any = 1;
		}
		i = j;
	}
	return any;
}

void api_aliases_list(struct http_ctx *x)
{
	struct pair_list l = { .a = x->arena };
	struct jw w;

	if (store_alias_list(http_store, pair_cb, &l) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot read aliases");
		return;
	}
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "aliases");
	jw_arr_begin(&w);
	write_aliases(&w, &l, NULL);
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void api_aliases_add(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "alias", JK_STRING, 1 },
		{ "target", JK_STRING, 1 },
		{ "password", JK_STRING, 0 },
	};
	char err[256], low[320];
	struct pair_list l = { .a = x->arena };
	struct jw w;

	if (http_body_check(x, f, 3) < 0)
		return;
	const char *alias = http_body_str(x, "alias"), *target = http_body_str(x, "target");
	/* A target outside our domains is forwarding: an admin session
	 * (perhaps a stolen cookie) adds one only with the admin password,
	 * or it would go on receiving the mail after that changed. Local
	 * targets (and malformed ones, which the store refuses) need none. */
	const char *at = strrchr(target, '@');
	if (at && at[1] && store_domain_is_local(http_store, at + 1) != 1 &&
	    http_session_password_check(x, "password") < 0)
		return;
	int rc = store_alias_add(http_store, alias, target, err, sizeof(err));
	if (rc == STORE_EINVAL) {
		/* store_alias_add() names the alias in its message when that is
		 * what is wrong; else the target is (malformed, or not local). */
		http_problem(x, 400, "invalid_field",
			     strncmp(err, "invalid alias", 13) == 0 ? "alias" : "target", "%s", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=alias_added ip=%s", x->ip);
	str_lower_into(str_c(alias), low, sizeof(low));
	store_alias_list(http_store, pair_cb, &l);
	http_json_begin(x, &w, 201);
	if (!write_aliases(&w, &l, low))
		jw_null(&w);
}

void api_alias_del(struct http_ctx *x)
{
	char err[256];
	const char *target = http_query(x, "target");
	int rc = store_alias_del(http_store, x->param[0], target && *target ? target : NULL, err,
				 sizeof(err));
	if (rc == STORE_EINVAL)
		rc = STORE_ENOTFOUND;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	http_no_content(x);
}
