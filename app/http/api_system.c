/*
 * api_system.c — dashboard stats, recent log lines, settings, API tokens
 * and the outbound queue (list, retry now, delete).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin/admin_auth.h"
#include "admin/admin_meta.h"
#include "acme/acme.h"
#include "core/hostname.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/version.h"
#include "dns/dns.h"
#include "http/http_internal.h"
#include "net/tls.h"
#include "queue/queue.h"
#include "report/dmarc_reporter.h"
#include "store/store.h"
#include "store/store_queue.h"

static void count_domain(void *arg, const char *d)
{
	(void)d;
	(*(uint64_t *)arg)++;
}

static void count_account(void *arg, const struct store_account_info *info)
{
	(void)info;
	(*(uint64_t *)arg)++;
}

void api_stats(struct http_ctx *x)
{
	uint64_t domains = 0, accounts = 0, mapsize = 0, used = 0;
	struct metrics_hour hours[METRICS_HOURS];
	int64_t now = (int64_t)time(NULL);
	long q = http_queue_size(NULL);
	struct jw w;

	store_domain_list(http_store, count_domain, &domains);
	store_account_list(http_store, count_account, &accounts);
	store_map_info(http_store, &mapsize, &used);
	metrics_hours(now, hours);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kuint(&w, "accounts", accounts);
	jw_kuint(&w, "domains", domains);
	jw_key(&w, "queue");
	jw_obj_begin(&w);
	jw_kint(&w, "size", q < 0 ? 0 : q);
	jw_kbool(&w, "available", q >= 0);
	jw_obj_end(&w);
	jw_key(&w, "storage");
	jw_obj_begin(&w);
	jw_kuint(&w, "used", used);
	jw_kuint(&w, "map", mapsize);
	jw_obj_end(&w);
	jw_kint(&w, "uptime", now - http_started_at);
	jw_kstr(&w, "version", tern_version);
	jw_key(&w, "hours");
	jw_arr_begin(&w);
	for (int i = 0; i < METRICS_HOURS; i++) {
		jw_obj_begin(&w);
		jw_kint(&w, "start", hours[i].start);
		jw_kuint(&w, "received", hours[i].received);
		jw_kuint(&w, "sent", hours[i].sent);
		jw_kuint(&w, "rejected", hours[i].rejected);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
}

/* ---- logs ---- */

struct log_line {
	uint64_t seq;
	double time;
	enum log_level level;
	const char *module, *text;
};

struct log_filter {
	struct arena *a;
	const char *q;
	enum log_level min;
	uint64_t before; /* only records older than this seq; 0: all */
	struct log_line *v;
	size_t n;
};

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return 1;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

static void log_cb(void *arg, uint64_t seq, double t, enum log_level lvl, const char *module,
		   const char *text)
{
	struct log_filter *f = arg;
	if (lvl < f->min || (f->before && seq >= f->before) ||
	    (!contains_ci(text, f->q) && !contains_ci(module, f->q)))
		return;
	/* Copy: the ring's memory is only ours under its lock. */
	f->v[f->n++] = (struct log_line){ seq, t, lvl, arena_strdup(f->a, module),
					  arena_strdup(f->a, text) };
}

void api_logs(struct http_ctx *x)
{
	const char *q = http_query(x, "q"), *level = http_query(x, "level"),
		   *order = http_query(x, "order");
	struct log_filter f = { .a = x->arena, .q = q ? q : "", .min = LOG_DEBUG };
	uint64_t lim = 200;
	struct jw w;

	if (level && log_level_parse(level, &f.min) < 0) {
		http_problem(x, 400, "invalid_field", "level", "level must be debug, info, warn or error");
		return;
	}
	if (http_query_u64(x, "limit", 1, LOG_RING_SIZE, &lim) < 0 ||
	    http_query_u64(x, "before", 0, UINT64_MAX, &f.before) < 0)
		return;
	int newest = order && strcmp(order, "newest") == 0;
	if (order && !newest && strcmp(order, "oldest") != 0) {
		http_problem(x, 400, "invalid_field", "order", "order must be newest or oldest");
		return;
	}
	if (strlen(f.q) > 200) {
		http_problem(x, 400, "invalid_field", "q", "q is at most 200 characters");
		return;
	}
	f.v = arena_alloc(x->arena, LOG_RING_SIZE * sizeof(*f.v));
	log_ring_walk(log_cb, &f);
	size_t from = f.n > lim ? f.n - lim : 0;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "lines");
	jw_arr_begin(&w);
	for (size_t k = from; k < f.n; k++) {
		/* The same page either way; newest first for the log page. */
		size_t i = newest ? f.n - 1 - (k - from) : k;
		jw_obj_begin(&w);
		jw_kuint(&w, "seq", f.v[i].seq);
		jw_key(&w, "time");
		jw_double(&w, f.v[i].time);
		jw_kstr(&w, "level", log_level_name(f.v[i].level));
		jw_kstr(&w, "module", f.v[i].module);
		jw_kstr(&w, "text", f.v[i].text);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kbool(&w, "more", from > 0); /* older matching lines: ask with before= */
	jw_obj_end(&w);
}

/* ---- settings ---- */

static void setting_obj(struct jw *w, const char *key, enum admin_setting s, const char *running)
{
	char v[256], stored[256];
	api_effective(s, running, v, sizeof(v));
	admin_setting_get(http_store, s, stored, sizeof(stored));
	jw_key(w, key);
	jw_obj_begin(w);
	jw_kstr(w, "value", v);
	jw_kstr(w, "stored", stored);
	jw_kstr(w, "running", running);
	jw_kbool(w, "locked", admin_setting_locked(s));
	jw_obj_end(w);
}

/* A list setting (one domain a line) as a JSON array. */
static void write_list(struct jw *w, const char *key, const char *name)
{
	char v[ADMIN_AUTH_LIST_MAX];
	admin_auth_get(http_store, name, v, sizeof v);
	jw_key(w, key);
	jw_arr_begin(w);
	for (char *p = v, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			jw_str(w, p);
			break;
		}
		if (nl > p)
			jw_strn(w, p, (size_t)(nl - p));
	}
	jw_arr_end(w);
}

/* Inbound authentication (admin/admin_auth.h): exceptions and postmaster. */
static void write_auth(struct jw *w)
{
	char pm[330];
	jw_key(w, "auth");
	jw_obj_begin(w);
	write_list(w, "dmarc_tolerated", ADMIN_AUTH_TOLERATED);
	write_list(w, "arc_trusted", ADMIN_AUTH_ARC_TRUSTED);
	admin_auth_get(http_store, ADMIN_AUTH_POSTMASTER, pm, sizeof pm);
	jw_kstr(w, "postmaster", pm);
	jw_obj_end(w);
}

/* PUT /settings: a list field (array of domain names), checked and
 * encoded into b (buf_init'ed with ADMIN_AUTH_LIST_MAX) for the item
 * *it storing it (val NULL for an empty list: a removal). 1 with *it
 * set, 0 when the body has no such field, or -1 after replying. */
static int put_list(struct http_ctx *x, const char *field, const char *name, struct buf *b,
		    struct store_meta_item *it)
{
	const struct json_value *v = json_get(x->json, field);
	const char *items[ADMIN_AUTH_LIST_ENTRIES];
	size_t n = 0;

	if (!v)
		return 0;
	if (v->type != JSON_ARRAY || v->count > ADMIN_AUTH_LIST_ENTRIES) {
		http_problem(x, 400, "invalid_field", field,
			     "field '%s' must be an array of at most %d domain names", field,
			     ADMIN_AUTH_LIST_ENTRIES);
		return -1;
	}
	for (const struct json_value *e = v->first; e; e = e->next) {
		if (e->type != JSON_STRING || strlen(e->str) != e->len) {
			http_problem(x, 400, "invalid_field", field, "field '%s' must hold strings", field);
			return -1;
		}
		items[n++] = e->str;
	}
	const char *bad;
	if (admin_auth_list_encode(items, n, b, &bad) != STORE_OK) {
		http_problem(x, 400, "invalid_field", field, "field '%s': '%s' is not a domain name", field,
			     bad ? bad : "");
		return -1;
	}
	*it = (struct store_meta_item){name, n ? buf_data(b) : NULL, buf_len(b)};
	return 1;
}

/* DMARC failure reports (report/dmarc_fail.h): on unless stored "off". */
static int failure_reports_on(void)
{
	char v[8];
	size_t n = 0;
	if (store_meta_get(http_store, DMARC_FAIL_SETTING, v, sizeof v - 1, &n) != STORE_OK)
		return 1;
	v[n] = '\0';
	return strcmp(v, "off") != 0;
}
static void write_settings(struct http_ctx *x)
{
	static const struct {
		const char *name;
		enum listen_kind k;
	} ls[] = {
		{ "smtp", LISTEN_SMTP }, { "submission", LISTEN_SUBMISSION },
		{ "submissions", LISTEN_SUBMISSIONS }, { "imap", LISTEN_IMAP },
		{ "imaps", LISTEN_IMAPS }, { "pop3", LISTEN_POP3 },
		{ "pop3s", LISTEN_POP3S }, { "http", LISTEN_HTTP },
		{ "https", LISTEN_HTTPS },
	};
	const struct config *c = http_cfg;
	char v[256], dom[256];
	struct jw w;

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	setting_obj(&w, "hostname", SETTING_HOSTNAME, hostname_now());
	/* The name is live (hostname.h) except in the certificate, which
	 * keeps the start-time name until a restart. */
	jw_key(&w, "hostname_status");
	jw_obj_begin(&w);
	jw_kbool(&w, "fqdn", hostname_is_fqdn(hostname_now()));
	jw_kstr(&w, "certificate_name", c->hostname);
	jw_kbool(&w, "restart_required", strcmp(hostname_now(), c->hostname) != 0);
	jw_obj_end(&w);
	jw_key(&w, "domain");
	jw_obj_begin(&w);
	api_primary_domain(dom, sizeof(dom));
	jw_kstr(&w, "value", dom);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_DOMAIN));
	jw_obj_end(&w);
	jw_key(&w, "relay");
	jw_obj_begin(&w);
	api_effective(SETTING_RELAY_HOST, c->relay_host, v, sizeof(v));
	jw_kstr(&w, "host", v);
	api_effective(SETTING_RELAY_USER, c->relay_user, v, sizeof(v));
	jw_kstr(&w, "user", v);
	api_effective(SETTING_RELAY_PASSWORD, c->relay_password, v, sizeof(v));
	jw_kbool(&w, "password_set", v[0] != 0);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_RELAY_HOST));
	jw_obj_end(&w);
	char rf[320];
	jw_key(&w, "dmarc_reports");
	jw_obj_begin(&w);
	if (admin_setting_locked(SETTING_DMARC_REPORT_FROM))
		snprintf(rf, sizeof(rf), "%s", c->dmarc_report_from);
	else if (admin_setting_get(http_store, SETTING_DMARC_REPORT_FROM, rf, sizeof(rf)) != STORE_OK)
		rf[0] = '\0';
	jw_kstr(&w, "from", rf);
	dmarc_reporter_from(c, http_store, rf, sizeof(rf));
	jw_kstr(&w, "effective", rf);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_DMARC_REPORT_FROM));
	jw_kbool(&w, "failure_reports", failure_reports_on());
	jw_obj_end(&w);
	jw_key(&w, "mta_sts");
	jw_obj_begin(&w);
	jw_kstr(&w, "mode", mta_sts_mode_name(admin_mta_sts_mode(http_store)));
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_MTA_STS_MODE));
	jw_obj_end(&w);
	jw_key(&w, "limits");
	jw_obj_begin(&w);
	jw_kuint(&w, "max_message_size", c->max_message_size);
	jw_kuint(&w, "smtp_max_connections", c->pools[POOL_SMTP].max);
	jw_kuint(&w, "smtp_max_connections_per_ip", c->pools[POOL_SMTP].per_ip);
	jw_kuint(&w, "smtp_max_recipients", c->max_recipients);
	jw_kuint(&w, "smtp_futurerelease_max", c->smtp_futurerelease_max_s); /* seconds; 0 off */
	jw_kuint(&w, "trash_retention_days", c->trash_retention_days); /* 0 off */
	jw_kuint(&w, "junk_retention_days", c->junk_retention_days);
	jw_kstr(&w, "queue_ip_strategy",
		dns_ip_strategy_name((enum dns_ip_strategy)c->queue_ip_strategy));
	jw_obj_end(&w);
	jw_key(&w, "listeners");
	jw_obj_begin(&w);
	for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
		uint16_t port = c->listen[ls[i].k].port;
		if (ls[i].k == LISTEN_HTTP && http_http_port())
			port = http_http_port();
		if (ls[i].k == LISTEN_HTTPS && http_https_port())
			port = http_https_port();
		jw_kuint(&w, ls[i].name, port);
	}
	jw_obj_end(&w);
	jw_key(&w, "tls");
	struct tls_conf *tc = tls_current();
	if (tc) {
		int64_t now = (int64_t)time(NULL), na = tls_conf_not_after(tc);
		jw_obj_begin(&w);
		jw_kstr(&w, "subject", tls_conf_subject(tc));
		jw_kstr(&w, "key", tls_conf_key_desc(tc));
		jw_kstr(&w, "source", tls_conf_source(tc));
		jw_kuint(&w, "chain", tls_conf_chain_len(tc));
		jw_kint(&w, "not_before", tls_conf_not_before(tc));
		jw_kint(&w, "not_after", na);
		/* Whole days left, rounded down: negative once it has passed (C's
		 * division rounds toward zero, so a day past said 0 days left). */
		int64_t left = na - now;
		jw_kint(&w, "days_left", left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
		jw_kstr(&w, "issuer", tls_conf_issuer(tc));
		jw_kstr(&w, "names", tls_conf_names(tc));
		jw_kbool(&w, "self_signed", tls_conf_self_signed(tc));
		jw_obj_end(&w);
		tls_conf_unref(&tc);
	} else {
		jw_null(&w);
	}
	struct acme_status as;
	acme_status_get(&as);
	jw_key(&w, "acme");
	jw_obj_begin(&w);
	jw_kbool(&w, "enabled", as.enabled);
	jw_kstr(&w, "state", as.enabled ? as.state : "off");
	jw_kstr(&w, "directory", as.directory);
	jw_kstr(&w, "challenge", as.challenge);
	jw_kstr(&w, "last_error", as.last_error);
	jw_kint(&w, "last_success", as.last_success);
	jw_kint(&w, "next_run", as.next_run);
	jw_obj_end(&w);
	write_auth(&w);
	jw_kbool(&w, "restart_required", api_restart_required());
	jw_obj_end(&w);
}

void api_settings_get(struct http_ctx *x)
{
	write_settings(x);
}

void api_settings_put(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "hostname", JK_STRING, 0 },
		{ "relay_host", JK_STRING, 0 },
		{ "relay_user", JK_STRING, 0 },
		{ "relay_password", JK_STRING, 0 },
		{ "dmarc_report_from", JK_STRING, 0 },
		{ "dmarc_failure_reports", JK_BOOL, 0 },
		{ "dmarc_tolerated", JK_ANY, 0 },
		{ "arc_trusted", JK_ANY, 0 },
		{ "postmaster", JK_STRING, 0 },
		{ "mta_sts_mode", JK_STRING, 0 },
		{ "password", JK_STRING, 0 }, /* the admin password: a new relay host */
	};
	if (http_body_check(x, f, sizeof f / sizeof f[0]) < 0)
		return;
	const char *df = http_body_str(x, "dmarc_report_from");
	if (df) {
		const char *at = strrchr(df, '@');
		if (admin_setting_locked(SETTING_DMARC_REPORT_FROM)) {
			http_problem(x, 409, "locked", "dmarc_report_from",
				     "the DMARC report address is set by TERN_DMARC_REPORT_FROM");
			return;
		}
		if (df[0] && strcmp(df, "off") != 0 &&
		    (at == NULL || at == df || strlen(df) > 254 || strpbrk(df, " \t<>,;\"") ||
		     store_domain_is_local(http_store, at + 1) != 1)) {
			http_problem(x, 400, "invalid_field", "dmarc_report_from",
				     "field 'dmarc_report_from' must be an address of a served domain, "
				     "\"off\", or empty for the default");
			return;
		}
	}
	const char *sm = http_body_str(x, "mta_sts_mode");
	if (sm) {
		if (admin_setting_locked(SETTING_MTA_STS_MODE)) {
			http_problem(x, 409, "locked", "mta_sts_mode",
				     "the MTA-STS mode is set by TERN_MTA_STS_MODE");
			return;
		}
		if (strcmp(sm, "testing") != 0 && strcmp(sm, "enforce") != 0) {
			http_problem(x, 400, "invalid_field", "mta_sts_mode",
				     "field 'mta_sts_mode' must be \"testing\" or \"enforce\"");
			return;
		}
	}
	const char *h = http_body_str(x, "hostname");
	if (h) {
		if (admin_setting_locked(SETTING_HOSTNAME)) {
			http_problem(x, 409, "locked", "hostname", "the host name is set by TERN_HOSTNAME");
			return;
		}
		if (!hostname_syntax_ok(h) || !hostname_is_fqdn(h)) {
			http_problem(x, 400, "invalid_field", "hostname",
				     "field 'hostname' must be a host name such as mail.example.com");
			return;
		}
	}
	/*
	 * Every field is checked before any is stored: a 400 for the last
	 * one used to leave the relay and the lists before it changed, the
	 * client told that nothing was. Then all of them go into one write
	 * transaction: stored one by one, a kill or a full disk between two
	 * left some changed and the rest not, the client told that the PUT
	 * failed. What the running server takes from them (the host name)
	 * follows the commit only.
	 */
	char sealed[3][ADMIN_SECRET_SEALED_MAX], hlow[256], dlow[320], pmlow[330];
	struct store_meta_item it[10];
	struct buf lists[2];
	size_t n = 0;
	int rc = STORE_OK, r;

	buf_init(&lists[0], ADMIN_AUTH_LIST_MAX);
	buf_init(&lists[1], ADMIN_AUTH_LIST_MAX);
	if ((r = put_list(x, "dmarc_tolerated", ADMIN_AUTH_TOLERATED, &lists[0], &it[n])) < 0)
		goto out;
	n += (size_t)r;
	if ((r = put_list(x, "arc_trusted", ADMIN_AUTH_ARC_TRUSTED, &lists[1], &it[n])) < 0)
		goto out;
	n += (size_t)r;
	const char *pm = http_body_str(x, "postmaster");
	if (pm) {
		uint32_t id;
		rc = str_lower_into(str_c(pm), pmlow, sizeof pmlow) < 0
			     ? STORE_EINVAL
			     : store_account_id(http_store, pmlow, &id);
		if (rc == STORE_ENOTFOUND || rc == STORE_EINVAL) {
			http_problem(x, 400, "invalid_field", "postmaster",
				     "field 'postmaster' must be an existing account");
			goto out;
		}
		if (rc != STORE_OK) {
			http_store_problem(x, rc, "cannot read the accounts");
			goto out;
		}
		it[n++] = (struct store_meta_item){ADMIN_AUTH_POSTMASTER, pmlow, strlen(pmlow)};
	}
	if (api_relay_items(x, "relay_host", "relay_user", "relay_password", "password", sealed, it,
			    &n) < 0)
		goto out;
	if (h) {
		str_lower_into(str_c(h), hlow, sizeof(hlow));
		admin_setting_item(http_store, SETTING_HOSTNAME, hlow, NULL, 0, &it[n++]);
	}
	if (df) {
		const char *at = strrchr(df, '@');
		snprintf(dlow, sizeof(dlow), "%s", df);
		if (at) /* the domain in lower case, as the store keeps names */
			str_lower_into(str_c(at), dlow + (at - df), sizeof(dlow) - (size_t)(at - df));
		admin_setting_item(http_store, SETTING_DMARC_REPORT_FROM, dlow, NULL, 0, &it[n++]);
	}
	const struct json_value *fr = json_get(x->json, "dmarc_failure_reports");
	if (fr) {
		const char *v = fr->boolean ? "on" : "off";
		it[n++] = (struct store_meta_item){DMARC_FAIL_SETTING, v, strlen(v)};
	}
	if (sm) /* not a secret: nothing to seal, so no error */
		admin_setting_item(http_store, SETTING_MTA_STS_MODE, sm, NULL, 0, &it[n++]);
	rc = n ? store_meta_put_all(http_store, it, n) : STORE_OK;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the settings");
		goto out;
	}
	if (h) {
		hostname_set(hlow); /* live; the certificate takes it at the next start */
		log_info("http", NULL, "event=hostname_changed hostname=%s ip=%s", hlow, x->ip);
	}
	log_info("http", NULL, "event=settings_changed ip=%s", x->ip);
	write_settings(x);
out:
	buf_free(&lists[0]);
	buf_free(&lists[1]);
}

/* ---- tokens ---- */

static void token_json(struct jw *w, const struct admin_token_info *t)
{
	jw_kstr(w, "id", t->id);
	jw_kstr(w, "name", t->name);
	jw_kint(w, "created", t->created);
	jw_kstr(w, "scope", admin_token_scope_name(t->scope));
	jw_kint(w, "expires", t->expires);
}

/* A page of tokens (API.md "Pages"): the store lists them in id order,
 * so the cursor is the last id. */
struct token_page {
	struct jw *w;
	const char *after;
	uint64_t limit, n, total;
	char last[16];
	int more;
};

static void token_cb(void *arg, const struct admin_token_info *t)
{
	struct token_page *p = arg;
	p->total++;
	if (p->after && strcmp(t->id, p->after) <= 0)
		return;
	if (p->n == p->limit) {
		p->more = 1;
		return;
	}
	p->n++;
	snprintf(p->last, sizeof p->last, "%s", t->id);
	jw_obj_begin(p->w);
	token_json(p->w, t);
	jw_obj_end(p->w);
}

void api_tokens_list(struct http_ctx *x)
{
	struct http_page pg;
	struct jw w;

	if (http_page_args(x, &pg) < 0)
		return;
	struct token_page p = { .w = &w, .after = pg.after, .limit = pg.limit };
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "tokens");
	jw_arr_begin(&w);
	int rc = admin_token_list(http_store, token_cb, &p);
	jw_arr_end(&w);
	http_page_end(&w, p.total, p.more ? p.last : NULL);
	jw_obj_end(&w);
	if (rc != STORE_OK)
		http_store_problem(x, rc, "cannot read the tokens");
}

void api_tokens_add(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "name", JK_STRING, 1 },
		{ "scope", JK_STRING, 0 },
		{ "expires", JK_INT, 0 },
		{ "password", JK_STRING, 0 },
	};
	char token[ADMIN_TOKEN_MAX], id[16];
	struct admin_token_info t = { .scope = ADMIN_TOKEN_ADMIN };
	struct jw w;

	if (http_body_check(x, f, 4) < 0)
		return;
	const char *scope = http_body_str(x, "scope");
	const struct json_value *exp = json_get(x->json, "expires");
	if (scope && admin_token_scope_parse(scope, &t.scope) < 0) {
		http_problem(x, 400, "invalid_field", "scope", "field 'scope' must be \"admin\" or \"read\"");
		return;
	}
	t.created = (int64_t)time(NULL);
	t.expires = exp ? (int64_t)exp->integer : 0;
	if (t.expires < 0 || (t.expires && t.expires <= t.created)) {
		http_problem(x, 400, "invalid_field", "expires",
			     "field 'expires' must be 0 (never) or a time in the future (seconds since the epoch)");
		return;
	}
	/* A token outlives a change of the admin password and every session:
	 * a session makes one only with the admin password, so a stolen
	 * cookie alone cannot. A request with a token (admin scope) already
	 * holds lasting access and is not asked. */
	if (x->auth == AUTH_SESSION && http_current_password_check(x) < 0)
		return;
	t.name = http_body_str(x, "name");
	int rc = admin_token_add(http_store, t.name, t.scope, t.expires, token, id);
	if (rc == STORE_EINVAL) {
		http_problem(x, 400, "invalid_field", "name",
			     "field 'name' must be 1 to %d printable characters", ADMIN_TOKEN_NAME_MAX);
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the token");
		return;
	}
	t.id = id;
	log_info("http", NULL, "event=token_added id=%s scope=%s expires=%lld ip=%s", id,
		 admin_token_scope_name(t.scope), (long long)t.expires, x->ip);
	http_json_begin(x, &w, 201);
	jw_obj_begin(&w);
	token_json(&w, &t);
	jw_kstr(&w, "token", token);
	jw_obj_end(&w);
}

void api_token_del(struct http_ctx *x)
{
	/* The password R_REAUTH checked, nothing else (API.md: unknown fields are 400). */
	static const struct json_field f[] = { { "password", JK_STRING, 0 } };
	if (http_body_check(x, f, 1) < 0)
		return;
	int rc = admin_token_del(http_store, x->param[0]);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "no such token");
		return;
	}
	char qi[200];
	log_info("http", NULL, "event=token_deleted id=%s ip=%s", log_q(x->param[0], qi, sizeof qi),
		 x->ip);
	http_no_content(x);
}

/* ---- queue ---- */

static const char *rcpt_state(unsigned st)
{
	return st == SQ_SENT ? "sent" : st == SQ_FAILED ? "failed" : "pending";
}

static void queue_entry_cb(void *arg, const struct store_queue_entry *e)
{
	struct jw *w = arg;
	const char *last_error = "";

	jw_obj_begin(w);
	jw_key(w, "id");
	jw_uint(w, e->id);
	jw_kstr(w, "from", e->sender);
	jw_key(w, "to");
	jw_arr_begin(w);
	for (size_t i = 0; i < e->nrcpts; i++)
		jw_str(w, e->rcpts[i].addr);
	jw_arr_end(w);
	jw_kuint(w, "size", e->size);
	jw_kuint(w, "attempts", e->attempts);
	jw_kint(w, "next_attempt", e->next_attempt);
	jw_kbool(w, "held", e->next_attempt == SQ_HELD_AT);
	jw_kint(w, "created", e->created_at);
	jw_kint(w, "priority", e->priority); /* MT-PRIORITY (RFC 6710), as tern queue list */
	jw_key(w, "recipients");
	jw_arr_begin(w);
	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct store_queue_rcpt *r = &e->rcpts[i];
		if (r->state == SQ_PENDING && r->status[0] && !last_error[0])
			last_error = r->status;
		jw_obj_begin(w);
		jw_kstr(w, "address", r->addr);
		jw_kstr(w, "state", rcpt_state(r->state));
		jw_kstr(w, "status", r->status);
		jw_kstr(w, "remote", r->remote);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_kstr(w, "last_error", last_error);
	jw_obj_end(w);
}

/*
 * A page of the listing (API.md "Queue"): at most limit entries and about
 * QUEUE_PAGE_BYTES of JSON, so that a queue of tens of thousands (a
 * remote domain down for days) is listed quickly and within HTTP_RESP_MAX
 * instead of the whole queue being decoded into one answer that does not
 * fit. An entry holds at most SQ_RCPTS_MAX recipients, so one entry stays
 * far below HTTP_RESP_MAX.
 */
#define QUEUE_PAGE_DEFAULT 100
#define QUEUE_PAGE_MAX 1000
#define QUEUE_PAGE_BYTES (1024 * 1024)

struct queue_page {
	struct jw *w;
	struct buf *out;
	const char *domain; /* a recipient's domain the entries must have, or NULL */
	uint64_t limit, n;
	uint64_t last; /* id of the last entry written */
	int more;      /* an entry after last matches */
};

static int entry_has_domain(const struct store_queue_entry *e, const char *domain)
{
	for (size_t i = 0; i < e->nrcpts; i++) {
		const char *at = strrchr(e->rcpts[i].addr, '@');
		if (at && strcasecmp(at + 1, domain) == 0)
			return 1;
	}
	return 0;
}

static int queue_page_cb(void *arg, const struct store_queue_entry *e)
{
	struct queue_page *pg = arg;

	if (pg->domain && !entry_has_domain(e, pg->domain))
		return 0;
	if (pg->n == pg->limit || buf_len(pg->out) >= QUEUE_PAGE_BYTES) {
		pg->more = 1;
		return 1;
	}
	struct jw before = *pg->w;
	size_t len = buf_len(pg->out);
	queue_entry_cb(pg->w, e);
	if (jw_failed(pg->w) && pg->n > 0) {
		/* It did not fit after the others: it opens the next page. */
		*pg->w = before;
		pg->out->len = len;
		pg->more = 1;
		return 1;
	}
	pg->n++;
	pg->last = e->id;
	return jw_failed(pg->w);
}

/* The paging parameters (limit, after, domain); -1 after a 400. */
static int queue_page_args(struct http_ctx *x, struct queue_page *pg, uint64_t *after_r)
{
	const char *domain = http_query(x, "domain");

	pg->limit = QUEUE_PAGE_DEFAULT;
	*after_r = 0;
	if (http_query_u64(x, "limit", 1, QUEUE_PAGE_MAX, &pg->limit) < 0 ||
	    http_query_u64(x, "after", 0, UINT64_MAX, after_r) < 0)
		return -1;
	if (domain && (!domain[0] || strlen(domain) > 255 || strchr(domain, '@'))) {
		http_problem(x, 400, "invalid_field", "domain", "domain must be a domain name");
		return -1;
	}
	pg->domain = domain;
	return 0;
}

/* GET /queue with limit, after or domain: one page, the queue's size and
 * the cursor of the next page. */
static void queue_list_page(struct http_ctx *x)
{
	struct queue_page pg = { 0 };
	struct jw w;
	uint64_t after, total = 0, held = 0;

	if (queue_page_args(x, &pg, &after) < 0)
		return;
	int rc = store_queue_count(http_store, &total, &held);
	http_json_begin(x, &w, 200);
	pg.w = &w;
	pg.out = &x->out;
	jw_obj_begin(&w);
	jw_key(&w, "messages");
	jw_arr_begin(&w);
	if (rc == STORE_OK)
		rc = store_queue_walk(http_store, after, queue_page_cb, &pg);
	jw_arr_end(&w);
	/* next is a string, as every other listing's (API.md "Pages"): a
	 * client keeps one cursor type for all of them. */
	char next[24];
	snprintf(next, sizeof next, "%llu", (unsigned long long)pg.last);
	http_page_end(&w, total, pg.more ? next : NULL);
	/* Held entries (a restore's) never expire: counted here, so a page
	 * of the web admin says they wait whichever page they are on. */
	jw_kuint(&w, "held", held);
	jw_obj_end(&w);
	if (rc != STORE_OK)
		http_store_problem(x, rc, "cannot read the queue");
	else if (jw_failed(&w))
		http_problem(x, 503, "temporary", NULL, "queue entry %llu is too large to list",
			     (unsigned long long)pg.last);
}

void api_queue_list(struct http_ctx *x)
{
	struct jw w;

	if (http_query(x, "limit") || http_query(x, "after") || http_query(x, "domain")) {
		queue_list_page(x);
		return;
	}
	/* Without paging parameters: the whole queue, as before paging came
	 * (API.md), for the scripts that read it so. */
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "messages");
	jw_arr_begin(&w);
	int rc = store_queue_list(http_store, queue_entry_cb, &w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (rc != STORE_OK)
		http_store_problem(x, rc, "cannot read the queue");
	else if (jw_failed(&w))
		http_problem(x, 503, "temporary", NULL,
			     "the queue is too long to list at once: ask for pages with limit and after");
}

/* The queue entry id in the path (decimal, >= 1), or 0 after a 404. */
static uint64_t queue_id(struct http_ctx *x)
{
	uint64_t id;
	if (str_to_u64(str_c(x->param[0]), UINT64_MAX, &id) < 0 || id == 0) {
		http_problem(x, 404, "not_found", NULL, "no queue entry %.40s", x->param[0]);
		return 0;
	}
	return id;
}

void api_queue_retry(struct http_ctx *x)
{
	size_t n = 0;
	uint64_t id = queue_id(x);
	if (!id || http_body_check(x, NULL, 0) < 0)
		return;
	int rc = store_queue_flush(http_store, id, &n);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "no such queue entry");
		return;
	}
	queue_sched_kick();
	log_info("http", NULL, "event=queue_retry id=%llu ip=%s", (unsigned long long)id, x->ip);
	http_no_content(x);
}

void api_queue_del(struct http_ctx *x)
{
	size_t n = 0;
	uint64_t id = queue_id(x);
	if (!id)
		return;
	int rc = store_queue_del(http_store, id, &n);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "no such queue entry");
		return;
	}
	log_info("http", NULL, "event=queue_deleted id=%llu ip=%s", (unsigned long long)id, x->ip);
	http_no_content(x);
}

long http_queue_size(long *held_r)
{
	uint64_t n = 0, held = 0;
	/* Counted by the store, not by reading every entry: the dashboard
	 * and /metrics ask often, and a long queue is when they matter. */
	int rc = store_queue_count(http_store, &n, held_r ? &held : NULL);
	if (held_r)
		*held_r = rc == STORE_OK ? (long)held : 0;
	return rc == STORE_OK ? (long)n : -1;
}
