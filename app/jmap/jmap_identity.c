/*
 * jmap_identity.c — Identity/get, /changes, /set (RFC 8621 §6).
 *
 * Every address the account may send from has an identity without being
 * asked: its own address and each alias whose target it is (the
 * addresses submission accepts in From). Their ids come from the address
 * ("I" and 16 hex digits of its hash), so they stay put; they cannot be
 * destroyed (mayDelete false: they go when the alias goes) but their
 * name, replyTo, bcc and signatures can be changed. An identity created
 * over JMAP must use one of those addresses (else forbiddenFrom) and may
 * be destroyed. What a client set is kept in meta, one record per
 * identity: "jmapident/ACCOUNT/ID" -> the identity as JSON (SCHEMA.md).
 *
 * State and /changes: snapshots of the identities as /get renders them
 * (jmap_typestate.c), so an alias added by the administrator is a change
 * too, and /changes is exact from any of the last JMAP_TS_KEEP states.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "store/store.h"

#define IDENT_MAX 100 /* identities per account, defaults included */

/* ---- the account's addresses ---- */

struct addrs {
	struct jmap_request *r;
	char *email;       /* the account's address */
	char *display;     /* its display name, "" when none */
	const char *v[IDENT_MAX];
	size_t n;
};

static void acct_cb(void *arg, const struct store_account_info *i)
{
	struct addrs *x = arg;
	if (i->id == x->r->account) {
		x->email = arena_strdup(x->r->a, i->email);
		x->display = arena_strdup(x->r->a, i->display_name ? i->display_name : "");
	}
}

static void alias_cb(void *arg, const char *alias, const char *target)
{
	struct addrs *x = arg;
	/* A catch-all ("@domain") is not an address to send from. */
	if (x->email && alias[0] != '@' && !strcasecmp(target, x->email) && x->n < IDENT_MAX)
		x->v[x->n++] = arena_strdup(x->r->a, alias);
}

int jmap_account_addresses(struct jmap_request *r, const char **email_r, const char **display_r,
			   const char ***v_r, size_t *n_r)
{
	struct addrs *x = arena_zalloc(r->a, sizeof *x);
	x->r = r;
	if (store_account_list(r->st, acct_cb, x) != STORE_OK || !x->email)
		return -1;
	x->v[x->n++] = x->email;
	if (store_alias_list(r->st, alias_cb, x) != STORE_OK)
		return -1;
	*email_r = x->email;
	*display_r = x->display;
	*v_r = x->v;
	*n_r = x->n;
	return 0;
}

int jmap_account_may_send(struct jmap_request *r, const char *addr)
{
	const char *email, *display, **v;
	size_t n;
	if (jmap_account_addresses(r, &email, &display, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(v[i], addr))
			return 1;
	return 0;
}

/* ---- identities ---- */

struct ident {
	char id[24];
	const char *email, *name, *text_sig, *html_sig;
	const struct json_value *reply_to, *bcc; /* NULL = null */
	int may_delete, stored;
};

struct idents {
	struct jmap_request *r;
	struct ident v[IDENT_MAX];
	size_t n;
};

static void default_id(const char *addr, char out[24])
{
	uint8_t h[8];
	char low[STORE_ADDR_MAX + 1];
	size_t i;
	for (i = 0; addr[i] && i < STORE_ADDR_MAX; i++)
		low[i] = (char)(addr[i] >= 'A' && addr[i] <= 'Z' ? addr[i] + 32 : addr[i]);
	low[i] = '\0';
	crypto_generichash(h, sizeof h, (const uint8_t *)low, i, NULL, 0);
	snprintf(out, 24, "I%02x%02x%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5],
		 h[6], h[7]);
}

static struct ident *find(struct idents *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].id, id))
			return &s->v[i];
	return NULL;
}

static const char *str_or(const struct json_value *o, const char *k, const char *dflt)
{
	const struct json_value *v = json_get(o, k);
	return v && v->type == JSON_STRING ? v->str : dflt;
}

static const struct json_value *arr_or_null(const struct json_value *o, const char *k)
{
	const struct json_value *v = json_get(o, k);
	return v && v->type == JSON_ARRAY ? v : NULL;
}

/* A stored record over (or beside) the defaults. */
static void stored_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct idents *s = arg;
	const char *id = strrchr(name, '/');
	char err[64];
	if (!id)
		return;
	id++;
	struct json_value *o = json_parse(val, len, s->r->a, err, sizeof err);
	if (!o || o->type != JSON_OBJECT)
		return;
	struct ident *x = find(s, id);
	if (!x) {
		if (s->n == IDENT_MAX)
			return;
		x = &s->v[s->n++];
		memset(x, 0, sizeof *x);
		snprintf(x->id, sizeof x->id, "%s", id);
		x->email = str_or(o, "email", "");
		x->may_delete = 1;
	}
	x->stored = 1;
	x->name = str_or(o, "name", x->name);
	x->text_sig = str_or(o, "textSignature", "");
	x->html_sig = str_or(o, "htmlSignature", "");
	x->reply_to = arr_or_null(o, "replyTo");
	x->bcc = arr_or_null(o, "bcc");
}

static int idents_load(struct jmap_request *r, struct idents *s)
{
	const char *email, *display, **v;
	size_t n;
	char prefix[48];

	memset(s, 0, sizeof *s);
	s->r = r;
	if (jmap_account_addresses(r, &email, &display, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ident *x = &s->v[s->n++];
		default_id(v[i], x->id);
		x->email = v[i];
		x->name = display;
		x->text_sig = x->html_sig = "";
	}
	snprintf(prefix, sizeof prefix, "jmapident/%u/", r->account);
	return store_meta_list(r->st, prefix, stored_cb, s) == STORE_OK ? 0 : -1;
}

/* An EmailAddress[] or null as kept: every address with both its
 * properties (RFC 8621 §4.1.2.3: name is String|null), so one the
 * client gave as {"email": ...} alone reads back with "name": null. */
static void w_addrs(struct jw *w, const char *key, const struct json_value *v)
{
	jw_key(w, key);
	if (!v) {
		jw_null(w);
		return;
	}
	jw_arr_begin(w);
	for (const struct json_value *e = v->first; e; e = e->next) {
		const struct json_value *n = json_get(e, "name"), *m = json_get(e, "email");
		jw_obj_begin(w);
		jw_key(w, "name");
		if (n && n->type == JSON_STRING)
			jw_strn(w, n->str, n->len);
		else
			jw_null(w);
		jw_key(w, "email");
		if (m && m->type == JSON_STRING) /* always: addrs_valid checked it */
			jw_strn(w, m->str, m->len);
		else
			jw_str(w, "");
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void w_ident(struct jw *w, const struct ident *x, int with_id)
{
	jw_obj_begin(w);
	if (with_id) {
		jw_kstr(w, "id", x->id);
		jw_kbool(w, "mayDelete", x->may_delete);
	}
	jw_kstr(w, "name", x->name);
	jw_kstr(w, "email", x->email);
	w_addrs(w, "replyTo", x->reply_to);
	w_addrs(w, "bcc", x->bcc);
	jw_kstr(w, "textSignature", x->text_sig);
	jw_kstr(w, "htmlSignature", x->html_sig);
	jw_obj_end(w);
}

/* x as /get renders it, parsed into r's arena (what a patch's paths
 * walk); NULL when it could not be. */
static const struct json_value *ident_json(struct jmap_request *r, const struct ident *x)
{
	struct buf b;
	struct jw w;
	char err[64];
	buf_init(&b, 1024 * 1024);
	jw_init(&w, &b);
	w_ident(&w, x, 1);
	const struct json_value *v =
	    jw_failed(&w) ? NULL : json_parse(buf_data(&b), buf_len(&b), r->a, err, sizeof err);
	buf_free(&b);
	return v;
}

/* The identities as /get renders them (jmap_typestate.h). */
static struct jmap_ts_obj *ts_objs(struct jmap_request *r, struct idents *s)
{
	struct jmap_ts_obj *v = arena_zalloc(r->a, (s->n + 1) * sizeof *v);
	struct buf b;
	struct jw w;
	buf_init(&b, 1024 * 1024);
	for (size_t i = 0; i < s->n; i++) {
		buf_reset(&b);
		jw_init(&w, &b);
		w_ident(&w, &s->v[i], 1);
		jmap_ts_digest(&v[i], s->v[i].id, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
	return v;
}

static void state_of(struct jmap_request *r, struct idents *s, char out[24])
{
	jmap_ts_state(r, "ident", ts_objs(r, s), s->n, out);
}

static int save(struct jmap_request *r, const struct ident *x)
{
	struct buf b;
	struct jw w;
	char key[64];
	buf_init(&b, 1024 * 1024);
	jw_init(&w, &b);
	w_ident(&w, x, 0);
	snprintf(key, sizeof key, "jmapident/%u/%s", r->account, x->id);
	int rc = jw_failed(&w) ? STORE_EINVAL : store_meta_put(r->st, key, buf_data(&b), buf_len(&b), 0);
	buf_free(&b);
	return rc;
}

const char *jmap_identity_email(struct jmap_request *r, const char *id)
{
	struct idents *s = arena_alloc(r->a, sizeof *s);
	if (idents_load(r, s) < 0)
		return NULL;
	struct ident *x = find(s, id);
	return x ? x->email : NULL;
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static const char *const props[] = {"id",      "name",          "email",         "replyTo",
				    "bcc",     "textSignature", "htmlSignature", "mayDelete"};

static int ident_found(void *arg, const char *id)
{
	return find(arg, id) != NULL;
}

void jmap_identity_get(struct jmap_call *c)
{
	struct idents *s = arena_alloc(c->r->a, sizeof *s);
	char state[24];
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, sizeof get_args / sizeof get_args[0], props,
			   sizeof props / sizeof props[0], &g) < 0)
		return;
	if (idents_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, state);
	jmap_get_list(c, state);
	for (size_t i = 0; i < s->n; i++) {
		const struct ident *x = &s->v[i];
		if (!jmap_get_has_id(&g, x->id))
			continue;
		struct buf one;
		struct jw w;
		char err[64];
		buf_init(&one, 1024 * 1024);
		jw_init(&w, &one);
		w_ident(&w, x, 1);
		/* Only the properties asked for (id always). */
		struct json_value *o = json_parse(buf_data(&one), buf_len(&one), c->r->a, err, sizeof err);
		jw_obj_begin(&c->w);
		for (const struct json_value *m = o ? o->first : NULL; m; m = m->next) {
			if (jmap_get_wants(&g, m->key)) {
				jw_key(&c->w, m->key);
				jw_value(&c->w, m);
			}
		}
		jw_obj_end(&c->w);
		buf_free(&one);
	}
	jmap_get_end(c, &g, ident_found, s);
}

void jmap_identity_changes(struct jmap_call *c)
{
	struct idents *s = arena_alloc(c->r->a, sizeof *s);

	if (idents_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	jmap_ts_changes(c, "ident", ts_objs(c->r, s), s->n);
}

/* ---- Identity/set ---- */

/* An EmailAddress[] or null; 1 when valid. Each email must be one
 * mailbox (RFC 8621 §6: they become Reply-To and Bcc of what is sent). */
static int addrs_valid(const struct json_value *v)
{
	if (v->type == JSON_NULL)
		return 1;
	if (v->type != JSON_ARRAY)
		return 0;
	for (const struct json_value *e = v->first; e; e = e->next) {
		const struct json_value *n = json_get(e, "name"), *m = json_get(e, "email");
		if (e->type != JSON_OBJECT || !m || m->type != JSON_STRING ||
		    !jmap_addr_valid(m->str, m->len) ||
		    (n && n->type != JSON_STRING && n->type != JSON_NULL))
			return 0;
		for (const struct json_value *k = e->first; k; k = k->next)
			if (strcmp(k->key, "name") && strcmp(k->key, "email"))
				return 0;
	}
	return 1;
}

/* An identity is kept as one meta value, which store_meta_put takes up
 * to 64 KiB. */
#define IDENT_STORED_MAX 65536

/* When x, as save() writes it, is over IDENT_STORED_MAX, names in bad
 * the properties of o that made it so (each over a 64th of the limit, or
 * every one it gives when none is), so the client hears which to shorten
 * rather than serverFail. */
static void too_large(const struct ident *x, const struct json_value *o, struct jmap_bad *bad)
{
	static const char *const vars[] = {"name", "textSignature", "htmlSignature", "replyTo",
					   "bcc"};
	static const char why[] = "the Identity would be over the 64 KiB the server keeps of one";
	struct buf b;
	struct jw w;

	buf_init(&b, 1024 * 1024);
	jw_init(&w, &b);
	w_ident(&w, x, 0);
	int big = jw_failed(&w) || buf_len(&b) > IDENT_STORED_MAX;
	for (int pass = 0; big && pass < 2 && !bad->n; pass++)
		for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
			const struct json_value *p = json_get(o, vars[i]);
			if (!p)
				continue;
			buf_reset(&b);
			jw_init(&w, &b);
			jw_value(&w, p);
			if (pass || jw_failed(&w) || buf_len(&b) > IDENT_STORED_MAX / 64)
				jmap_bad_member(bad, vars[i], why);
		}
	buf_free(&b);
}

/* Applies the properties of o to x; every bad one goes into bad (RFC
 * 8620 §5.3: invalidProperties names them all), x is then not to be
 * saved. */
static void apply(struct ident *x, const struct json_value *o, int create, struct jmap_bad *bad)
{
	for (const struct json_value *p = o->first; p; p = p->next) {
		const char *k = p->key;
		if (!strcmp(k, "name") || !strcmp(k, "textSignature") || !strcmp(k, "htmlSignature")) {
			/* null is the default, "" for these (RFC 8620 §5.3,
			 * RFC 8621 §6): in a patch, and on create as when
			 * left out (a client sends its whole object). */
			if (p->type != JSON_STRING && p->type != JSON_NULL) {
				jmap_bad_member(bad, k, "a String");
				continue;
			}
			const char *val = p->type == JSON_NULL ? "" : p->str;
			if (k[0] == 'n')
				x->name = val;
			else if (k[0] == 't')
				x->text_sig = val;
			else
				x->html_sig = val;
		} else if (!strcmp(k, "replyTo") || !strcmp(k, "bcc")) {
			if (!addrs_valid(p)) {
				jmap_bad_member(bad, k, "an EmailAddress list or null");
				continue;
			}
			if (k[0] == 'r')
				x->reply_to = p->type == JSON_NULL ? NULL : p;
			else
				x->bcc = p->type == JSON_NULL ? NULL : p;
		} else if (!strcmp(k, "email")) {
			/* Immutable: given again unchanged on update is fine. */
			if (p->type != JSON_STRING || (!create && strcasecmp(p->str, x->email)))
				jmap_bad_member(bad, k,
						create ? "a String" : "email cannot be changed");
			else
				x->email = p->str;
		} else if (!strcmp(k, "id")) {
			/* Server-set: on update, fine when sent as it is (RFC
			 * 8620 §5.3). */
			if (create || p->type != JSON_STRING || strcmp(p->str, x->id))
				jmap_bad_member(bad, k, "set by the server");
		} else if (!strcmp(k, "mayDelete")) {
			if (create || p->type != JSON_BOOL || !p->boolean != !x->may_delete)
				jmap_bad_member(bad, k, "set by the server");
		} else {
			jmap_bad_member(bad, k, "not an Identity property");
		}
	}
	if (!bad->n)
		too_large(x, o, bad);
}

static void set_error(struct jw *w, const char *key, const char *type, const char *prop,
		      const char *desc)
{
	jmap_w_set_error(w, key, type, desc, prop);
}

static const struct jmap_arg set_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},   {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_NULLABLE},  {"update", JA_IDREFMAP, JA_NULLABLE},
    {"destroy", JA_IDREFS, JA_NULLABLE},
};

void jmap_identity_set(struct jmap_call *c)
{
	struct idents *s = arena_alloc(c->r->a, sizeof *s);
	char old[24], now[24];
	struct jmap_set set;

	if (jmap_set_begin(c, set_args, sizeof set_args / sizeof set_args[0], &set) < 0)
		return;
	if (idents_load(c->r, s) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	state_of(c->r, s, old);
	if (jmap_set_if_in_state(c, old) < 0)
		return;
	jmap_set_open(&set, 1024 * 1024);
	struct jw *cw = &set.w[JMAP_SET_CREATED], *uw = &set.w[JMAP_SET_UPDATED],
		  *dw = &set.w[JMAP_SET_DESTROYED], *nc = &set.w[JMAP_SET_NOT_CREATED],
		  *nu = &set.w[JMAP_SET_NOT_UPDATED], *nd = &set.w[JMAP_SET_NOT_DESTROYED];
	for (const struct json_value *e = set.create ? set.create->first : NULL; e; e = e->next) {
		struct ident x = {.name = "", .text_sig = "", .html_sig = "", .may_delete = 1,
				  .stored = 1};
		struct jmap_bad bad = {.a = c->r->a};
		if (e->type != JSON_OBJECT) {
			set_error(nc, e->key, "invalidProperties", NULL, "an Identity is an object");
			continue;
		}
		apply(&x, e, 1, &bad);
		if (!x.email && !json_get(e, "email"))
			jmap_bad_add(&bad, "email", "email is required");
		if (bad.n) {
			jmap_w_set_error_bad(nc, e->key, &bad);
			continue;
		}
		int may = jmap_account_may_send(c->r, x.email);
		if (may != 1) {
			set_error(nc, e->key, may < 0 ? "serverFail" : "forbiddenFrom", NULL,
				  may < 0 ? NULL : "not an address of this account");
			continue;
		}
		if (s->n == IDENT_MAX) {
			set_error(nc, e->key, "overQuota", NULL, "too many identities");
			continue;
		}
		uint8_t rnd[8];
		randombytes_buf(rnd, sizeof rnd);
		snprintf(x.id, sizeof x.id, "I%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		int src = save(c->r, &x);
		if (src != STORE_OK) {
			set_error(nc, e->key, jmap_store_fail_type(src, 1), NULL,
				  jmap_store_fail_desc(src));
			continue;
		}
		s->v[s->n++] = x;
		jmap_created_put(c->r, e->key, arena_strdup(c->r->a, x.id));
		jw_key(cw, e->key);
		jw_obj_begin(cw);
		jw_kstr(cw, "id", x.id);
		jw_kbool(cw, "mayDelete", 1);
		/* And the defaults of what the client left out, or gave
		 * as null where the default is "" (RFC 8620 §5.3). */
		static const char *const dflt[] = {"name", "textSignature", "htmlSignature",
						   "replyTo", "bcc"};
		for (size_t k = 0; k < sizeof dflt / sizeof dflt[0]; k++) {
			const struct json_value *given = json_get(e, dflt[k]);
			if (given && (k >= 3 || given->type != JSON_NULL))
				continue;
			jw_key(cw, dflt[k]);
			if (k < 3)
				jw_str(cw, "");
			else
				jw_null(cw);
		}
		jw_obj_end(cw);
	}
	for (const struct json_value *e = set.update ? set.update->first : NULL; e; e = e->next) {
		const char *id = jmap_id_ref(c->r, e->key);
		struct ident *x = id ? find(s, id) : NULL;
		if (!x) {
			set_error(nu, id ? id : e->key, "notFound", NULL, NULL);
			continue;
		}
		struct ident y = *x;
		const char *why = "a PatchObject is an object";
		if (e->type != JSON_OBJECT ||
		    jmap_patch_check(c->r->a, ident_json(c->r, x), e, &why) < 0) {
			set_error(nu, id, "invalidPatch", NULL, why);
			continue;
		}
		struct jmap_bad bad = {.a = c->r->a};
		apply(&y, e, 0, &bad);
		if (bad.n) {
			jmap_w_set_error_bad(nu, id, &bad);
			continue;
		}
		y.stored = 1;
		int src = save(c->r, &y);
		if (src != STORE_OK) {
			set_error(nu, id, jmap_store_fail_type(src, 0), NULL,
				  jmap_store_fail_desc(src));
			continue;
		}
		*x = y;
		jw_key(uw, id);
		jw_null(uw);
	}
	for (const struct json_value *e = set.destroy ? set.destroy->first : NULL; e; e = e->next) {
		const char *id = jmap_id_ref(c->r, e->str);
		struct ident *x = id ? find(s, id) : NULL;
		char key[64];
		if (!x) {
			set_error(nd, id ? id : e->str, "notFound", NULL, NULL);
			continue;
		}
		if (!x->may_delete) {
			set_error(nd, id, "forbidden",
				  NULL, "the account's own addresses keep their identity");
			continue;
		}
		snprintf(key, sizeof key, "jmapident/%u/%s", c->r->account, x->id);
		int src = store_meta_del(c->r->st, key);
		if (src != STORE_OK) {
			set_error(nd, id, jmap_store_fail_type(src, 0), NULL,
				  jmap_store_fail_desc(src));
			continue;
		}
		jw_str(dw, id);
		*x = s->v[--s->n];
	}
	state_of(c->r, s, now);
	jmap_set_end(c, &set, old, now);
}
