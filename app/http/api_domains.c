/*
 * api_domains.c — /api/v1/domains: list, add (with DKIM keys), remove,
 * the DNS records to publish and their live check, the DKIM keys and the
 * import of one made elsewhere.
 * Adding and the records reuse admin/admin_domain.c, as `tern domain` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_domain.h"
#include "core/hostname.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "http/dns_check.h"
#include "http/http_internal.h"
#include "store/store.h"

struct names {
	struct arena *a;
	const char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *s)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		const char **v = arena_alloc(ns->a, cap * sizeof(*v));
		if (ns->n)
			memcpy(v, ns->v, ns->n * sizeof(*v));
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n++] = arena_strdup(ns->a, s);
}

/*
 * The domains a request answers with (a page of the listing, or one) and
 * their numbers of accounts and aliases, counted in one walk of each
 * without keeping the names: a store of 50,000 accounts costs a page's
 * worth of memory.
 */
struct dom_page {
	struct names names; /* in store order (byte order) */
	unsigned *accounts, *aliases;
	const char *after;
	uint64_t limit, total;
	int more;
	char last_alias[STORE_ADDR_MAX + 1];
};

static void domain_cb(void *arg, const char *d)
{
	struct dom_page *p = arg;
	p->total++;
	if (p->after && strcmp(d, p->after) <= 0)
		return;
	if (p->names.n == p->limit) {
		p->more = 1;
		return;
	}
	names_add(&p->names, d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index in the page of the domain of addr, or -1. */
static long page_index(const struct dom_page *p, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (!at)
		return -1;
	const char *d = at + 1;
	const char **hit = bsearch(&d, p->names.v, p->names.n, sizeof(*p->names.v), cmp_str);
	return hit ? hit - p->names.v : -1;
}

static void account_cb(void *arg, const struct store_account_info *info)
{
	struct dom_page *p = arg;
	long i = page_index(p, info->email);
	if (i >= 0)
		p->accounts[i]++;
}

/* One count per alias: the store lists an alias once per target, in a row. */
static void alias_cb(void *arg, const char *alias, const char *target)
{
	struct dom_page *p = arg;

	(void)target;
	if (strcmp(p->last_alias, alias) == 0)
		return;
	snprintf(p->last_alias, sizeof p->last_alias, "%s", alias);
	long i = page_index(p, alias);
	if (i >= 0)
		p->aliases[i]++;
}

/* Lowercased domain parameter, or NULL after a 404. */
static const char *domain_param(struct http_ctx *x)
{
	char *d = arena_alloc(x->arena, 256);
	if (!x->param[0] || str_lower_into(str_c(x->param[0]), d, 256) != 0 ||
	    store_domain_is_local(http_store, d) != 1) {
		http_problem(x, 404, "not_found", NULL, "no domain %.100s", x->param[0] ? x->param[0] : "");
		return NULL;
	}
	return d;
}

static void write_domain(struct jw *w, const struct dom_page *p, size_t i, const char *primary)
{
	const char *d = p->names.v[i];
	struct dkim_keys k;

	jw_obj_begin(w);
	jw_kstr(w, "name", d);
	jw_kbool(w, "primary", strcmp(d, primary) == 0);
	jw_kuint(w, "accounts", p->accounts[i]);
	jw_kuint(w, "aliases", p->aliases[i]);
	jw_key(w, "dkim");
	jw_arr_begin(w);
	if (store_dkim_get(http_store, d, &k) == STORE_OK) {
		for (unsigned j = 0; j < k.n; j++)
			jw_str(w, k.key[j].selector);
		dkim_keys_wipe(&k);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

/* Counts the accounts and aliases of the page's domains. The page's names
 * are in byte order (the store's), as bsearch needs. */
static void gather(struct http_ctx *x, struct dom_page *p)
{
	size_t n = p->names.n ? p->names.n : 1;
	p->accounts = arena_alloc(x->arena, n * sizeof(*p->accounts));
	p->aliases = arena_alloc(x->arena, n * sizeof(*p->aliases));
	memset(p->accounts, 0, n * sizeof(*p->accounts));
	memset(p->aliases, 0, n * sizeof(*p->aliases));
	if (!p->names.n)
		return;
	qsort(p->names.v, p->names.n, sizeof(*p->names.v), cmp_str);
	store_account_list(http_store, account_cb, p);
	store_alias_list(http_store, alias_cb, p);
}

/* GET /domains: a page in name order; the cursor is the last name. */
void api_domains_list(struct http_ctx *x)
{
	struct http_page pg;
	struct dom_page p = { .names = { .a = x->arena } };
	char primary[256];
	struct jw w;

	if (http_page_args(x, &pg) < 0)
		return;
	p.after = pg.after;
	p.limit = pg.limit;
	if (store_domain_list(http_store, domain_cb, &p) != STORE_OK) {
		http_store_problem(x, STORE_ETEMP, "cannot list domains");
		return;
	}
	gather(x, &p);
	api_primary_domain(primary, sizeof(primary));
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "domains");
	jw_arr_begin(&w);
	for (size_t i = 0; i < p.names.n; i++)
		write_domain(&w, &p, i, primary);
	jw_arr_end(&w);
	http_page_end(&w, p.total, p.more && p.names.n ? p.names.v[p.names.n - 1] : NULL);
	jw_obj_end(&w);
}

static void one_domain(struct http_ctx *x, const char *d, int status)
{
	struct dom_page p = { .names = { .a = x->arena } };
	char primary[256];
	struct jw w;

	names_add(&p.names, d);
	gather(x, &p);
	api_primary_domain(primary, sizeof(primary));
	http_json_begin(x, &w, status);
	write_domain(&w, &p, 0, primary);
}

void api_domains_add(struct http_ctx *x)
{
	static const struct json_field f[] = { { "name", JK_STRING, 1 } };
	char err[256], d[256];
	struct dkim_keys k;

	if (http_body_check(x, f, 1) < 0)
		return;
	if (str_lower_into(str_c(http_body_str(x, "name")), d, sizeof(d)) != 0) {
		http_problem(x, 400, "invalid_field", "name", "field 'name' is too long");
		return;
	}
	int rc = admin_domain_add(http_store, d, &k, err, sizeof(err));
	dkim_keys_wipe(&k);
	if (rc == STORE_EINVAL) {
		http_problem(x, 400, "invalid_field", "name", "field 'name' must be a domain name (%s)", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=domain_added domain=%s ip=%s", d, x->ip);
	one_domain(x, d, 201);
}

void api_domain_get(struct http_ctx *x)
{
	const char *d = domain_param(x);
	if (d)
		one_domain(x, d, 200);
}

void api_domain_del(struct http_ctx *x)
{
	char err[256];
	const char *d = domain_param(x);
	if (!d)
		return;
	int rc = store_domain_del(http_store, d, err, sizeof(err));
	if (rc == STORE_EEXIST) {
		http_problem(x, 409, "in_use", NULL, "%s", err);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	log_info("http", NULL, "event=domain_deleted domain=%s ip=%s", d, x->ip);
	http_no_content(x);
}

/* The records of a domain, and (for a check) what DNS answered for each. */
struct dns_view {
	const char *domain, *host; /* in the request's arena */
	struct admin_dns *d;
	struct dns_result *res; /* NULL: no check */
};

static void dns_view_write(struct http_ctx *x, void *arg)
{
	struct dns_view *v = arg;
	struct admin_dns *d = v->d;
	struct dns_result *res = v->res;
	struct jw w;

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "domain", v->domain);
	jw_kstr(&w, "hostname", v->host);
	jw_key(&w, "records");
	jw_arr_begin(&w);
	for (size_t i = 0; i < d->n; i++) {
		jw_obj_begin(&w);
		jw_kstr(&w, "type", d->rec[i].type);
		jw_kstr(&w, "name", d->rec[i].name);
		jw_kstr(&w, "value", d->rec[i].value);
		jw_kstr(&w, "purpose", d->rec[i].purpose);
		if (res) {
			jw_key(&w, "check");
			jw_obj_begin(&w);
			jw_kstr(&w, "status", dns_status_name(res[i].status));
			jw_key(&w, "found");
			jw_arr_begin(&w);
			for (int j = 0; j < res[i].nfound; j++)
				jw_str(&w, res[i].found[j]);
			jw_arr_end(&w);
			jw_obj_end(&w);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "notes");
	jw_arr_begin(&w);
	jw_str(&w, d->note_first);
	jw_str(&w, d->note_last);
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(res);
	free(d);
}

/* The lookups, on http_defer's thread: the daemon's thread is not held. */
static void dns_view_check(void *arg)
{
	struct dns_view *v = arg;
	dns_check(v->d, http_cfg->dns_servers, v->res);
}

void api_dns_object(struct http_ctx *x, const char *domain, int check)
{
	struct dkim_keys k;
	char err[256], host[256];

	int rc = admin_domain_keys(http_store, domain, &k, err, sizeof(err));
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	snprintf(host, sizeof host, "%s", hostname_now());
	struct dns_view *v = arena_zalloc(x->arena, sizeof(*v));
	v->domain = arena_strdup(x->arena, domain);
	v->host = arena_strdup(x->arena, host);
	v->d = xmalloc(sizeof(*v->d));
	admin_dns_records(http_cfg, http_store, host, domain, &k, v->d);
	dkim_keys_wipe(&k);
	if (check) {
		v->res = xcalloc(v->d->n ? v->d->n : 1, sizeof(*v->res));
		if (http_defer(x, dns_view_check, dns_view_write, v) == 0)
			return;
		dns_view_check(v); /* HTTP_DEFER_MAX checks at once: this one here */
	}
	dns_view_write(x, v);
}

void api_domain_dns(struct http_ctx *x)
{
	const char *d = domain_param(x);
	if (d)
		api_dns_object(x, d, 0);
}

void api_domain_dns_check(struct http_ctx *x)
{
	const char *d = domain_param(x);
	if (d)
		api_dns_object(x, d, 1);
}

/* One key as GET /domains/{name}/dkim lists it: its public half only. */
static void write_key(struct http_ctx *x, struct jw *w, const char *domain,
		      const struct dkim_key *k)
{
	struct admin_dns_record *r = arena_zalloc(x->arena, sizeof(*r));
	int ok = admin_dkim_record(domain, k, r) == 0;

	jw_kstr(w, "selector", k->selector);
	jw_kstr(w, "algorithm", dkim_alg_name(k->alg));
	jw_kint(w, "created", k->created_at);
	jw_kstr(w, "record_name",
		ok ? r->name : arena_printf(x->arena, "%s._domainkey.%s.", k->selector, domain));
	jw_kstr(w, "record_value", ok ? r->value : "");
}

static void write_keys(struct http_ctx *x, const char *domain, const struct dkim_keys *k)
{
	struct jw w;

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "keys");
	jw_arr_begin(&w);
	for (unsigned i = 0; i < k->n; i++) {
		jw_obj_begin(&w);
		write_key(x, &w, domain, &k->key[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

void api_domain_dkim(struct http_ctx *x)
{
	struct dkim_keys k;
	char err[256];
	const char *d = domain_param(x);

	if (!d)
		return;
	int rc = admin_domain_keys(http_store, d, &k, err, sizeof(err));
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	write_keys(x, d, &k);
	dkim_keys_wipe(&k);
}

/* POST /domains/{name}/dkim/import: a key made elsewhere (admin_domain.h).
 * The key is never written back nor logged; the answer is the imported
 * key as GET /dkim lists it, with a warning for a 1024-bit RSA key. */
void api_domain_dkim_import(struct http_ctx *x)
{
	static const struct json_field f[] = { { "selector", JK_STRING, 1 }, { "key", JK_STRING, 1 } };
	struct dkim_keys *k;
	char err[512];
	unsigned which;
	int weak;
	const char *d = domain_param(x);

	if (!d || http_body_check(x, f, 2) < 0)
		return;
	const char *sel = http_body_str(x, "selector"), *pem = http_body_str(x, "key");
	k = xmalloc(sizeof(*k));
	int rc = admin_domain_dkim_import(http_store, d, sel, pem, strlen(pem), k, &which, &weak,
					  err, sizeof(err));
	if (rc == STORE_EINVAL) {
		http_problem(x, 400, "invalid_field",
			     dkim_selector_ok(sel) && strncmp(err, "selector", 8) != 0 ? "key" : "selector",
			     "%s", err);
	} else if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
	} else {
		struct jw w;
		log_info("http", NULL, "event=dkim_key_imported domain=%s selector=%s ip=%s", d,
			 k->key[which].selector, x->ip);
		http_json_begin(x, &w, 200);
		jw_obj_begin(&w);
		write_key(x, &w, d, &k->key[which]);
		if (weak)
			jw_kstr(&w, "warning", ADMIN_DKIM_WEAK_TEXT);
		jw_obj_end(&w);
	}
	dkim_keys_wipe(k);
	free(k);
}
