/*
 * api_spam.c — the spam filter's settings, lists and recent decisions
 * (API.md "Spam"): GET/PUT /api/v1/spam, GET/PUT
 * /api/v1/spam/lists/{scope}, GET /api/v1/spam/recent, PUT
 * /api/v1/spam/phish and /api/v1/spam/hashes (a local list's feed file,
 * streamed).
 *
 * Everything is stored in meta (spam/spam_settings.h names the keys) and
 * read by the SMTP stage per message, so a change applies to the next
 * message without a restart. Values are checked here with the parsers
 * the stage uses (spam_dnsbl_parse, spam_list_valid), so a stored value
 * always parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/acme_http.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "http/http_internal.h"
#include "http/http_upload.h"
#include "spam/spam_dnsbl.h"
#include "spam/spam_learn.h"
#include "spam/spam_lists.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_phish.h"
#include "spam/spam_recent.h"
#include "spam/spam_settings.h"
#include "spam/spam_status.h"
#include "store/store.h"

#define LIST_ENTRIES_MAX 1000

/* A list's text (entries one a line) as a JSON array. */
static void write_lines(struct jw *w, const char *key, const char *text)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n)
			jw_strn(w, p, n);
		p += n + (p[n] == '\n');
	}
	jw_arr_end(w);
}

static void write_setting_lines(struct jw *w, const char *key, const char *name)
{
	char *text = xmalloc(SPAM_SETTING_TEXT_MAX);
	spam_setting_text(http_store, name, text, SPAM_SETTING_TEXT_MAX, NULL);
	write_lines(w, key, text);
	free(text);
}

static void write_zones(struct jw *w, const char *key, const char *name, const char *def)
{
	char *text = xmalloc(SPAM_SETTING_TEXT_MAX);
	int found;
	spam_setting_text(http_store, name, text, SPAM_SETTING_TEXT_MAX, &found);
	jw_kstr(w, key, found ? text : def);
	free(text);
}

/* "<name>_url" (the feed URL the server downloads) and "<name>" (the
 * stored list's size, time and source; {} when unreadable) of a local
 * list (spam_feed.h): "phish", "hashes". */
static void write_feed(struct jw *w, const struct spam_feed_kind *k)
{
	struct spam_feed_status fs;
	char url[1024], key[32];
	size_t ulen;
	if (store_meta_get(http_store, k->url_setting, url, sizeof url - 1, &ulen) != STORE_OK)
		ulen = 0;
	url[ulen] = '\0';
	snprintf(key, sizeof key, "%s_url", k->name);
	jw_kstr(w, key, url);
	jw_key(w, k->name);
	jw_obj_begin(w);
	if (spam_feed_status(http_store, k, &fs) == STORE_OK) {
		jw_kuint(w, "entries", fs.entries);
		jw_kint(w, "loaded_at", fs.loaded_at);
		jw_kstr(w, "source", fs.source);
	}
	jw_obj_end(w);
}

void api_spam_get(struct http_ctx *x)
{
	struct spam_settings *set = xmalloc(sizeof *set);
	struct jw w;
	char name[160];

	spam_settings_load(http_store, set, NULL);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kbool(&w, "enabled", set->enabled);
	jw_key(&w, "junk");
	jw_double(&w, set->th.tag);
	jw_key(&w, "reject");
	jw_double(&w, set->th.reject_on ? set->th.reject : 0);
	jw_key(&w, "discard");
	jw_double(&w, set->th.discard_on ? set->th.discard : 0);
	write_zones(&w, "dnsbl", "setting/spam_dnsbl", SPAM_DNSBL_DEFAULT);
	write_zones(&w, "uribl", "setting/spam_uribl", SPAM_URIBL_DEFAULT);
	write_zones(&w, "hashbl", "setting/spam_hashbl", "");
	jw_kbool(&w, "greylist", set->greylist);
	jw_kint(&w, "greylist_delay", set->greylist_delay);
	jw_kbool(&w, "reputation", set->reputation);
	char *good = xstrdup(set->greylist_good);
	for (char *p = good; *p; p++)
		if (*p == ' ' || *p == ',')
			*p = '\n';
	write_lines(&w, "greylist_good", good);
	free(good);
	write_setting_lines(&w, "traps", "setting/spam_traps");
	spam_list_name(1, "*", name, sizeof name);
	write_setting_lines(&w, "allow", name);
	spam_list_name(0, "*", name, sizeof name);
	write_setting_lines(&w, "block", name);
	write_feed(&w, &spam_phish_kind);
	write_feed(&w, &spam_hashes_kind);
	struct spam_model_status ms;
	jw_key(&w, "classifier");
	jw_obj_begin(&w);
	if (spam_model_status(http_store, 0, &ms) == 0) {
		jw_kuint(&w, "spam", ms.spam);
		jw_kuint(&w, "ham", ms.ham);
		jw_kuint(&w, "tokens", ms.tokens);
		jw_kuint(&w, "bytes", ms.bytes);
		jw_kbool(&w, "usable", ms.usable);
		jw_kuint(&w, "min_learned", ms.min_learned);
		jw_kuint(&w, "grams_spam", ms.grams_spam);
		jw_kuint(&w, "grams_ham", ms.grams_ham);
		jw_kuint(&w, "grams_min", ms.grams_min);
		jw_kbool(&w, "grams_fitted", ms.grams_fitted);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	free(set);
}

/* An array of strings into canonical list text; -1 after answering 400. */
static int list_text(struct http_ctx *x, const char *field, const struct json_value *v, char *out,
		     size_t outsz, int addresses_only)
{
	struct buf b;
	char err[160];
	if (v->type != JSON_ARRAY || v->count > LIST_ENTRIES_MAX) {
		http_problem(x, 400, "invalid_field", field,
			     "field '%s' must be an array of at most %d strings", field, LIST_ENTRIES_MAX);
		return -1;
	}
	buf_init(&b, SPAM_LIST_MAX);
	for (const struct json_value *e = v->first; e; e = e->next) {
		if (e->type != JSON_STRING || strlen(e->str) != e->len || !e->len ||
		    strpbrk(e->str, " \t\r\n,") || (addresses_only && !strchr(e->str + 1, '@'))) {
			buf_free(&b);
			http_problem(x, 400, "invalid_field", field, "field '%s': '%s' is not valid", field,
				     e->type == JSON_STRING ? e->str : "");
			return -1;
		}
		/* A valid entry that does not fit: the list is too long, not
		 * the entry wrong (it was blamed). */
		if (buf_printf(&b, "%s\n", e->str) < 0) {
			buf_free(&b);
			http_problem(x, 400, "invalid_field", field,
				     "field '%s' is over %d bytes (one entry a line)", field, SPAM_LIST_MAX);
			return -1;
		}
	}
	buf_append(&b, "", 1);
	int rc = spam_list_valid(buf_data(&b), err, sizeof err) ? spam_list_canon(buf_data(&b), out, outsz) : -1;
	buf_free(&b);
	if (rc < 0) {
		http_problem(x, 400, "invalid_field", field, "field '%s': %s", field,
			     err[0] ? err : "too long");
		return -1;
	}
	return 0;
}

static int put_text(struct http_ctx *x, const char *name, const char *text)
{
	int rc = text[0] ? store_meta_put(http_store, name, text, strlen(text), 0)
			 : store_meta_del(http_store, name);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
		http_store_problem(x, rc, "cannot store the setting");
		return -1;
	}
	return 0;
}

/*
 * The put_* helpers check one field of a PUT; with store set they store
 * it too. A PUT calls its chain twice, checking every field first, so a
 * 400 for one leaves all of them as they were (as PUT /settings does).
 */
static int put_number(struct http_ctx *x, const char *field, const char *name, double max,
		      int store)
{
	const struct json_value *v = json_get(x->json, field);
	char t[64];
	if (!v)
		return 0;
	if (v->type != JSON_NUMBER || !(v->number >= 0 && v->number <= max)) {
		http_problem(x, 400, "invalid_field", field, "field '%s' must be a number from 0 to %g",
			     field, max);
		return -1;
	}
	if (!store)
		return 0;
	snprintf(t, sizeof t, "%g", v->number);
	return store_meta_put(http_store, name, t, strlen(t), 0) == STORE_OK
		       ? 0
		       : (http_store_problem(x, STORE_ETEMP, "cannot store the setting"), -1);
}

static int put_bool(struct http_ctx *x, const char *field, const char *name, int store)
{
	const struct json_value *v = json_get(x->json, field);
	if (!v || !store)
		return 0;
	return put_text(x, name, v->boolean ? "on" : "off");
}

/* parse: spam_dnsbl_parse or spam_hashbl_parse */
static int put_zones(struct http_ctx *x, const char *field, const char *name,
		     int (*parse)(const char *, struct spam_dnsbl_conf *, char *, size_t), int store)
{
	const struct json_value *v = json_get(x->json, field);
	struct spam_dnsbl_conf *conf;
	char err[160];
	if (!v)
		return 0;
	if (v->type != JSON_STRING || strlen(v->str) != v->len || v->len >= SPAM_SETTING_TEXT_MAX) {
		http_problem(x, 400, "invalid_field", field, "field '%s' must be a string", field);
		return -1;
	}
	conf = xmalloc(sizeof *conf);
	int rc = parse(v->str, conf, err, sizeof err);
	free(conf);
	if (rc < 0) {
		http_problem(x, 400, "invalid_field", field, "field '%s': %s", field, err);
		return -1;
	}
	if (!store)
		return 0;
	/* Stored even when empty: "" means no zones, absent the defaults. */
	rc = store_meta_put(http_store, name, v->str, v->len, 0);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the setting");
		return -1;
	}
	return 0;
}

static int put_list_field(struct http_ctx *x, const char *field, const char *name, int addresses,
			  int store)
{
	const struct json_value *v = json_get(x->json, field);
	if (!v)
		return 0;
	char *text = xmalloc(SPAM_LIST_MAX);
	int rc = list_text(x, field, v, text, SPAM_LIST_MAX, addresses);
	if (rc == 0 && store)
		rc = put_text(x, name, text);
	free(text);
	return rc;
}

static int put_feed_url(struct http_ctx *x, const struct spam_feed_kind *k, int store);

/* PUT /spam's fields, in the order a 400 names the first bad one. */
static int spam_put_fields(struct http_ctx *x, const char *allow, const char *block, int store)
{
	/* The zone lists first: the likeliest typo. */
	if (put_zones(x, "dnsbl", "setting/spam_dnsbl", spam_dnsbl_parse, store) < 0 ||
	    put_zones(x, "uribl", "setting/spam_uribl", spam_dnsbl_parse, store) < 0 ||
	    put_zones(x, "hashbl", "setting/spam_hashbl", spam_hashbl_parse, store) < 0 ||
	    put_number(x, "junk", "setting/spam_junk", 1000, store) < 0 ||
	    put_number(x, "reject", "setting/spam_reject", 1000, store) < 0 ||
	    put_number(x, "discard", "setting/spam_discard", 1000, store) < 0 ||
	    put_number(x, "greylist_delay", "setting/spam_greylist_delay", 86400, store) < 0 ||
	    put_bool(x, "enabled", "setting/spam_filter", store) < 0 ||
	    put_bool(x, "greylist", "setting/spam_greylist", store) < 0 ||
	    put_bool(x, "reputation", "setting/spam_reputation", store) < 0 ||
	    put_list_field(x, "greylist_good", "setting/spam_greylist_good", 0, store) < 0 ||
	    put_list_field(x, "traps", "setting/spam_traps", 1, store) < 0 ||
	    put_list_field(x, "allow", allow, 0, store) < 0 ||
	    put_list_field(x, "block", block, 0, store) < 0 ||
	    put_feed_url(x, &spam_phish_kind, store) < 0 || put_feed_url(x, &spam_hashes_kind, store) < 0)
		return -1;
	return 0;
}

void api_spam_put(struct http_ctx *x)
{
	static const struct json_field f[] = {
	    {"enabled", JK_BOOL, 0},     {"junk", JK_ANY, 0},           {"reject", JK_ANY, 0},
	    {"discard", JK_ANY, 0},      {"dnsbl", JK_STRING, 0},       {"uribl", JK_STRING, 0},
	    {"greylist", JK_BOOL, 0},    {"greylist_delay", JK_INT, 0}, {"greylist_good", JK_ANY, 0},
	    {"traps", JK_ANY, 0},        {"allow", JK_ANY, 0},          {"block", JK_ANY, 0},
	    {"reputation", JK_BOOL, 0},  {"phish_url", JK_STRING, 0},   {"hashbl", JK_STRING, 0},
	    {"hashes_url", JK_STRING, 0},
	};
	char allow[64], block[64];
	if (http_body_check(x, f, sizeof f / sizeof f[0]) < 0)
		return;
	spam_list_name(1, "*", allow, sizeof allow);
	spam_list_name(0, "*", block, sizeof block);
	if (spam_put_fields(x, allow, block, 0) < 0 || spam_put_fields(x, allow, block, 1) < 0)
		return;
	api_spam_get(x);
}

/* A local list's feed URL ("phish_url", "hashes_url"): https (the one
 * client tern has), "" for none. The server downloads it within seconds
 * and then every few hours. */
static int put_feed_url(struct http_ctx *x, const struct spam_feed_kind *k, int store)
{
	char field[32], host[256];
	snprintf(field, sizeof field, "%s_url", k->name);
	const struct json_value *v = json_get(x->json, field);
	unsigned port;
	const char *path;
	if (!v)
		return 0;
	if (v->type != JSON_STRING || strlen(v->str) != v->len || v->len >= 1024 ||
	    strpbrk(v->str, " \t\r\n\"") ||
	    (v->len && acme_url_split(v->str, host, sizeof host, &port, &path) < 0)) {
		http_problem(x, 400, "invalid_field", field,
			     "field '%s' must be an https:// URL of at most 1023 characters, or \"\"",
			     field);
		return -1;
	}
	return store ? put_text(x, k->url_setting, v->str) : 0;
}

/* ---- PUT /spam/phish, /spam/hashes: a feed file replaces a local list ---- */

static int feed_admit(struct http_ctx *x, void *arg, uint64_t *max_r)
{
	(void)x;
	(void)arg;
	*max_r = SPAM_FEED_BYTES_MAX;
	return 0;
}

static void feed_done(struct http_ctx *x, void *arg, const char *data, size_t len,
		      const uint8_t id[32])
{
	const struct spam_feed_kind *k = arg;
	struct spam_feed f;
	char source[SPAM_FEED_SOURCE_MAX];
	struct jw w;
	(void)id;
	const char *name = http_query(x, "name");
	snprintf(source, sizeof source, "upload %.200s", name && name[0] ? name : "feed");
	for (char *p = source; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '_';
	k->parse(data, len, &f);
	int rc = spam_feed_store(http_store, k, &f, source);
	if (rc != STORE_OK) {
		spam_feed_free(&f);
		http_store_problem(x, rc, "cannot store the list");
		return;
	}
	log_info("http", NULL, "event=%s_list_uploaded ip=%s entries=%zu bad=%zu dropped=%zu",
		 k->name, x->ip, f.n, f.bad, f.dropped);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kuint(&w, "entries", f.n);
	jw_kuint(&w, "bad", f.bad);
	jw_kuint(&w, "dropped", f.dropped);
	write_feed(&w, k);
	jw_obj_end(&w);
	spam_feed_free(&f);
}

static const struct http_upload_ops feed_ops = {
	.admit = feed_admit,
	.done = feed_done,
};

/* At the request header (a streamed route; the router checked the session). */
void api_spam_phish_put(struct http_ctx *x)
{
	(void)http_upload_start(x, &feed_ops, (void *)&spam_phish_kind);
}

void api_spam_hashes_put(struct http_ctx *x)
{
	(void)http_upload_start(x, &feed_ops, (void *)&spam_hashes_kind);
}

/* The scope of /spam/lists/{scope}: "global", a served domain, or an
 * account's address. 0 with the meta scope in out, or -1 after 404. */
static int scope_of(struct http_ctx *x, char *out, size_t outsz)
{
	const char *p = x->param[0];
	uint32_t id;
	if (strcmp(p, "global") == 0) {
		snprintf(out, outsz, "*");
		return 0;
	}
	if (strchr(p, '@')) {
		if (store_account_id(http_store, p, &id) == STORE_OK) {
			snprintf(out, outsz, "u%u", id);
			return 0;
		}
	} else if (store_domain_is_local(http_store, p) == 1 && strlen(p) < outsz) {
		snprintf(out, outsz, "%s", p);
		for (char *c = out; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		return 0;
	}
	http_problem(x, 404, "not_found", NULL, "no such account or domain: %s", p);
	return -1;
}

static void write_scope_lists(struct http_ctx *x, const char *scope)
{
	struct jw w;
	char name[160];
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "scope", x->param[0]);
	spam_list_name(1, scope, name, sizeof name);
	write_setting_lines(&w, "allow", name);
	spam_list_name(0, scope, name, sizeof name);
	write_setting_lines(&w, "block", name);
	jw_obj_end(&w);
}

void api_spam_lists_get(struct http_ctx *x)
{
	char scope[300];
	if (scope_of(x, scope, sizeof scope) == 0)
		write_scope_lists(x, scope);
}

void api_spam_lists_put(struct http_ctx *x)
{
	static const struct json_field f[] = {{"allow", JK_ANY, 0}, {"block", JK_ANY, 0}};
	char scope[300], allow[160], block[160];
	if (http_body_check(x, f, 2) < 0 || scope_of(x, scope, sizeof scope) < 0)
		return;
	if (spam_list_name(1, scope, allow, sizeof allow) < 0 ||
	    spam_list_name(0, scope, block, sizeof block) < 0) {
		http_problem(x, 400, "invalid_field", NULL, "the scope's name is too long");
		return;
	}
	/* Both checked before either is stored: a 400 changes nothing. */
	for (int store = 0; store <= 1; store++)
		if (put_list_field(x, "allow", allow, 0, store) < 0 ||
		    put_list_field(x, "block", block, 0, store) < 0)
			return;
	write_scope_lists(x, scope);
}

void api_spam_recent(struct http_ctx *x)
{
	struct spam_recent *r = xmalloc(SPAM_RECENT_MAX * sizeof *r);
	size_t n = spam_recent_list(r, SPAM_RECENT_MAX);
	struct jw w;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "decisions");
	jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		jw_kuint(&w, "seq", r[i].seq);
		jw_kint(&w, "at", r[i].at);
		jw_kstr(&w, "ip", r[i].ip);
		jw_kstr(&w, "mail_from", r[i].mail_from);
		jw_kstr(&w, "rcpt", r[i].rcpt);
		jw_key(&w, "score");
		jw_double(&w, r[i].score);
		jw_kstr(&w, "action", r[i].action);
		jw_kbool(&w, "trainable", r[i].email != 0);
		jw_key(&w, "rules");
		jw_arr_begin(&w);
		for (char *p = r[i].rules; *p;) {
			size_t m = strcspn(p, " ");
			jw_strn(&w, p, m);
			p += m + (p[m] == ' ');
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(r);
}

struct raw {
	char *data;
	size_t len;
};

static void raw_copy(void *arg, const char *data, size_t len)
{
	struct raw *r = arg;
	r->data = xmalloc(len ? len : 1);
	memcpy(r->data, data, len);
	r->len = len;
}

/* POST /api/v1/spam/recent/{seq}/train {"spam": true|false}: the Spam
 * page's buttons. Trains the first recipient's model with the stored
 * message of that decision, as the user moving it into or out of Junk
 * would (spam_learn_message: once per message, the opposite lesson
 * forgotten first, the users' votes for the global model). The message
 * stays where it is. */
void api_spam_recent_train(struct http_ctx *x)
{
	static const struct json_field f[] = {{"spam", JK_BOOL, 1}};
	struct spam_recent d;
	uint64_t seq;
	if (http_body_check(x, f, 1) < 0)
		return;
	if (http_decimal(x->param[0], 0, UINT64_MAX, &seq) < 0 || spam_recent_get(seq, &d) != 0) {
		http_problem(x, 404, "not_found", NULL, "no recent decision %s", x->param[0]);
		return;
	}
	if (!d.email) {
		http_problem(x, 409, "not_stored", NULL,
			     "decision %s has no stored message (refused, discarded or not a user's)",
			     x->param[0]);
		return;
	}
	int is_spam = json_get(x->json, "spam")->boolean;
	struct raw r = {0};
	if (store_email_raw(http_store, d.account, d.email, raw_copy, &r) != STORE_OK || !r.data) {
		free(r.data);
		http_problem(x, 404, "not_found", NULL, "the message of decision %s is gone", x->param[0]);
		return;
	}
	const char *what = "";
	int rc = spam_learn_message(http_store, d.account, d.email, r.data, r.len, is_spam, &what);
	free(r.data);
	if (rc) {
		http_problem(x, 503, "temporary", NULL, "the lesson was not stored; try again");
		return;
	}
	log_info("spam", NULL, "event=learned account=%u email=%u kind=%s what=%s reason=admin",
		 d.account, d.email, is_spam ? "spam" : "ham", what);
	struct jw w;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "learned", is_spam ? "spam" : "ham");
	jw_kstr(&w, "what", what);
	jw_obj_end(&w);
}
