/*
 * api_accounts.c — /api/v1/accounts and /api/v1/aliases: mail accounts
 * (add, disable, delete, password reset, quota and usage, their aliases)
 * and aliases including catch-alls ("@domain"). Everything goes through
 * the store's admin functions, as the CLI does; password hashing inside
 * them is bounded by the HTTP side's hash semaphore.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "jmap/jmap_blob.h"
#include "store/store.h"

struct acct {
	uint32_t id;
	const char *email;
	uint64_t quota, used;
	uint32_t emails;
	int disabled;
	enum store_account_state state;
	const char *name;
};

/*
 * The accounts a request answers with: one page of the listing (ids above
 * after_id, at most limit; the store walks them in id order, so a page's
 * cursor is the last id) or only the one named only. Only those are kept,
 * so a store of 50,000 accounts costs a page's worth of memory.
 */
struct acct_list {
	struct arena *a;
	struct acct *v;
	size_t n, cap;
	const char *only; /* lower-case address, or NULL for a page */
	const char *q;    /* a page of these only: lower case, or NULL for all */
	uint64_t after_id, limit, total;
	int more; /* an account after the page */
};

/* Whether needle (lower case) is in hay, ASCII letters in any case. */
static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] && (hay[i] >= 'A' && hay[i] <= 'Z' ? hay[i] + 32 : hay[i]) == needle[i])
			i++;
		if (i == n)
			return 1;
	}
	return n == 0;
}

static void acct_cb(void *arg, const struct store_account_info *info)
{
	struct acct_list *l = arg;
	/* A search (q) is a listing of its own: its total counts what
	 * matches, and its pages walk those only. */
	if (l->q && !contains_ci(info->email, l->q) &&
	    !(info->display_name && contains_ci(info->display_name, l->q)))
		return;
	l->total++;
	if (l->only ? strcmp(info->email, l->only) != 0 : info->id <= l->after_id)
		return;
	if (!l->only && l->n == l->limit) {
		l->more = 1;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct acct *v = arena_alloc(l->a, cap * sizeof(*v));
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct acct){ info->id, arena_strdup(l->a, info->email), info->quota, info->used,
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
	/* Keep only the aliases whose target is one of these (sorted), when
	 * set: those of a page of accounts. */
	const char **targets;
	size_t ntargets;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void pair_cb(void *arg, const char *alias, const char *target)
{
	struct pair_list *l = arg;
	if (l->targets && !bsearch(&target, l->targets, l->ntargets, sizeof(*l->targets), cmp_str))
		return;
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

/* Fills accts (set up by the caller: a page, or only) and the aliases
 * whose target is one of them. */
static int load(struct http_ctx *x, struct acct_list *accts, struct pair_list *aliases)
{
	accts->a = x->arena;
	*aliases = (struct pair_list){ .a = x->arena };
	if (store_account_list(http_store, acct_cb, accts) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot read accounts");
		return -1;
	}
	if (accts->n == 0)
		return 0;
	aliases->targets = arena_alloc(x->arena, accts->n * sizeof(*aliases->targets));
	for (size_t i = 0; i < accts->n; i++)
		aliases->targets[i] = accts->v[i].email;
	aliases->ntargets = accts->n;
	qsort(aliases->targets, accts->n, sizeof(*aliases->targets), cmp_str);
	if (store_alias_list(http_store, pair_cb, aliases) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot read accounts");
		return -1;
	}
	return 0;
}

/* Answers with the account named email (any case); 404 when none. */
static void answer_account(struct http_ctx *x, const char *email, int status)
{
	struct acct_list accts = { 0 };
	struct pair_list aliases;
	char low[320];
	struct jw w;

	if (str_lower_into(str_c(email), low, sizeof(low)) == 0) {
		accts.only = low;
		if (load(x, &accts, &aliases) < 0)
			return;
		if (accts.n) {
			http_json_begin(x, &w, status);
			write_account(&w, &accts.v[0], &aliases);
			return;
		}
	}
	http_problem(x, 404, "not_found", NULL, "no account %.100s", email);
}

/* GET /accounts: a page in id order (the order they were added); the
 * cursor is the last account's id. q: only the accounts whose address or
 * display name holds it (any case), so that one of thousands is found
 * without walking the pages. */
void api_accounts_list(struct http_ctx *x)
{
	struct http_page pg;
	struct acct_list accts = { 0 };
	struct pair_list aliases;
	struct jw w;
	char next[24], q[STORE_ADDR_MAX + 1];

	if (http_page_args(x, &pg) < 0)
		return;
	accts.limit = pg.limit;
	const char *query = http_query(x, "q");
	if (query && *query) {
		if (str_lower_into(str_c(query), q, sizeof q) < 0) {
			http_problem(x, 400, "invalid_field", "q", "q must be at most %d characters", STORE_ADDR_MAX);
			return;
		}
		accts.q = q;
	}
	if (pg.after && str_to_u64(str_c(pg.after), UINT32_MAX, &accts.after_id) < 0) {
		http_problem(x, 400, "invalid_field", "after", "after must be the next of a page");
		return;
	}
	if (load(x, &accts, &aliases) < 0)
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "accounts");
	jw_arr_begin(&w);
	size_t i;
	for (i = 0; i < accts.n; i++) {
		struct jw before = w;
		size_t len = buf_len(&x->out);
		write_account(&w, &accts.v[i], &aliases);
		if (jw_failed(&w) && i > 0) {
			/* It did not fit after the others: it opens the next page. */
			w = before;
			x->out.len = len;
			break;
		}
	}
	jw_arr_end(&w);
	snprintf(next, sizeof next, "%u", i ? accts.v[i - 1].id : 0);
	http_page_end(&w, accts.total, accts.more || i < accts.n ? next : NULL);
	jw_obj_end(&w);
	if (jw_failed(&w))
		http_problem(x, 503, "temporary", NULL, "account %s is too large to list",
			     accts.v[0].email);
}

void api_account_create(struct http_ctx *x, const char *current)
{
	static const struct json_field f[] = {
		{ "email", JK_STRING, 1 },
		{ "password", JK_STRING, 1 },
		{ "quota", JK_INT, 0 },
		{ "display_name", JK_STRING, 0 },
		{ "current", JK_STRING, 0 },
	};
	char err[256];

	if (http_body_check(x, f, 5) < 0)
		return;
	const struct json_value *q = json_get(x->json, "quota");
	const char *email = http_body_str(x, "email"), *password = http_body_str(x, "password");
	const char *name = http_body_str(x, "display_name");
	uint64_t quota = q ? (uint64_t)q->integer : 0;
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
	/* The admin password goes in "current": "password" is the new
	 * account's. */
	api_account_create(x, "current");
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
	uint32_t id;
	int rc = store_account_del_id(http_store, x->param[0], &id, err, sizeof(err));
	if (rc == STORE_EINVAL)
		rc = STORE_ENOTFOUND;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	jmap_upload_drop_account(http_cfg->data_dir, id);
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

/*
 * A page of aliases: the store lists them in byte order of the alias,
 * once per target in a row; the page keeps the targets of at most limit
 * aliases after the cursor (the last alias of the page before).
 */
struct alias_page {
	struct pair_list l;
	const char *after;
	uint64_t limit, n, total;
	char last[STORE_ADDR_MAX + 1]; /* the alias seen last, any page */
	int more;
};

static void alias_page_cb(void *arg, const char *alias, const char *target)
{
	struct alias_page *p = arg;
	int first = strcmp(p->last, alias) != 0;

	if (first) {
		p->total++;
		snprintf(p->last, sizeof p->last, "%s", alias);
	}
	if (p->after && strcmp(alias, p->after) <= 0)
		return;
	if (first) {
		if (p->n == p->limit) {
			p->more = 1;
			return;
		}
		p->n++;
	} else if (p->n == 0 || strcmp(p->l.v[p->l.n - 1].alias, alias) != 0) {
		return; /* a target of an alias past the page */
	}
	pair_cb(&p->l, alias, target);
}

void api_aliases_list(struct http_ctx *x)
{
	struct http_page pg;
	struct alias_page p = { .l = { .a = x->arena } };
	struct jw w;

	if (http_page_args(x, &pg) < 0)
		return;
	p.after = pg.after;
	p.limit = pg.limit;
	if (store_alias_list(http_store, alias_page_cb, &p) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot read aliases");
		return;
	}
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "aliases");
	jw_arr_begin(&w);
	/* Alias by alias, so that one that does not fit opens the next page. */
	const char *last = NULL;
	int cut = 0;
	for (size_t i = 0; i < p.l.n;) {
		size_t j = i + 1;
		while (j < p.l.n && strcmp(p.l.v[j].alias, p.l.v[i].alias) == 0)
			j++;
		struct jw before = w;
		size_t len = buf_len(&x->out);
		write_alias(&w, &p.l, i, j);
		if (jw_failed(&w) && last) {
			w = before;
			x->out.len = len;
			cut = 1;
			break;
		}
		last = p.l.v[i].alias;
		i = j;
	}
	jw_arr_end(&w);
	http_page_end(&w, p.total, p.more || cut ? last : NULL);
	jw_obj_end(&w);
	if (jw_failed(&w))
		http_problem(x, 503, "temporary", NULL, "alias %s is too large to list", p.l.v[0].alias);
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
	/* A local target must exist, or the alias takes mail that bounces. */
	int rc = store_alias_add_known(http_store, alias, target, err, sizeof(err));
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
