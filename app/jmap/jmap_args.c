/*
 * jmap_args.c — method errors, argument checks, ids and state strings
 * shared by every method, and the /set skeleton every type's /set is
 * built on (see jmap_private.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/hex.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 (RFC 8620 §1.3) */

void jmap_error(struct jmap_call *c, const char *type, const char *desc)
{
	if (c->err_type)
		return;
	c->err_type = type;
	c->err_desc = desc;
}

void jmap_bad_arg(struct jmap_call *c, const char *arg, const char *desc)
{
	if (c->err_type)
		return;
	jmap_error(c, "invalidArguments", desc);
	if (arg && c->nerr_props < 8)
		c->err_props[c->nerr_props++] = arg;
}

int jmap_id_valid(const char *s, size_t n)
{
	if (n < 1 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

const struct json_value *jmap_ids_unique(struct arena *a, const struct json_value *ids)
{
	const struct json_value *e, *f;

	/* At most JMAP_MAX_OBJECTS_IN_GET ids (checked before): quadratic is
	 * 125,000 comparisons at worst, and nothing is allocated when no id
	 * repeats, the usual case. */
	for (e = ids ? ids->first : NULL; e; e = e->next) {
		for (f = ids->first; f != e && strcmp(f->str, e->str); f = f->next)
			;
		if (f != e)
			break;
	}
	if (!e)
		return ids;
	struct json_value *u = arena_zalloc(a, sizeof *u), **tail = &u->first;
	u->type = JSON_ARRAY;
	for (e = ids->first; e; e = e->next) {
		for (f = ids->first; f != e && strcmp(f->str, e->str); f = f->next)
			;
		if (f != e)
			continue;
		struct json_value *n = arena_alloc(a, sizeof *n);
		*n = *e;
		n->next = NULL;
		*tail = n;
		tail = &n->next;
		u->count++;
	}
	return u;
}

static int is_int(const struct json_value *v, int64_t lo)
{
	return v->type == JSON_NUMBER && v->is_int && v->integer >= lo && v->integer <= MAX_SAFE_INT;
}

static int kind_ok(const struct json_value *v, enum jmap_kind k)
{
	switch (k) {
	case JA_ID: return v->type == JSON_STRING && jmap_id_valid(v->str, v->len);
	case JA_IDREF:
		return v->type == JSON_STRING &&
		       (v->str[0] == '#' ? jmap_id_valid(v->str + 1, v->len - 1)
					 : jmap_id_valid(v->str, v->len));
	case JA_STRING: return v->type == JSON_STRING;
	case JA_BOOL: return v->type == JSON_BOOL;
	case JA_UINT: return is_int(v, 0);
	case JA_INT: return is_int(v, -MAX_SAFE_INT);
	case JA_OBJECT: return v->type == JSON_OBJECT;
	case JA_IDMAP:
	case JA_IDREFMAP:
		/* A map's keys are Ids too (RFC 8620 §1.2, §5.3 "Id[Foo]"): a
		 * creation id outside them could never be referenced as "#id". */
		if (v->type != JSON_OBJECT)
			return 0;
		for (const struct json_value *m = v->first; m; m = m->next) {
			const char *key = m->key + (k == JA_IDREFMAP && m->key[0] == '#');
			if (!jmap_id_valid(key, strlen(key)))
				return 0;
		}
		return 1;
	case JA_ARRAY: return v->type == JSON_ARRAY;
	case JA_ANY: return 1;
	case JA_IDS:
	case JA_IDREFS:
	case JA_STRINGS:
		if (v->type != JSON_ARRAY)
			return 0;
		for (const struct json_value *e = v->first; e; e = e->next)
			if (!kind_ok(e, k == JA_STRINGS ? JA_STRING : JA_ID) &&
			    !(k == JA_IDREFS && e->type == JSON_STRING && e->str[0] == '#' &&
			      jmap_id_valid(e->str + 1, e->len - 1)))
				return 0;
		return 1;
	}
	return 0;
}

int jmap_args_check(struct jmap_call *c, const struct jmap_arg *args, size_t n)
{
	for (const struct json_value *m = c->args->first; m; m = m->next) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(m->key, args[i].name) == 0)
				break;
		if (i == n) {
			jmap_bad_arg(c, m->key, "unknown argument");
			return -1;
		}
		if (m->type == JSON_NULL ? !(args[i].flags & JA_NULLABLE) : !kind_ok(m, args[i].kind)) {
			jmap_bad_arg(c, m->key, "argument of the wrong type");
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct json_value *v = json_get(c->args, args[i].name);
		if ((args[i].flags & JA_REQUIRED) && !v) {
			jmap_bad_arg(c, args[i].name, "missing argument");
			return -1;
		}
		if (strcmp(args[i].name, "accountId") == 0 && v && v->type == JSON_STRING &&
		    jmap_id_num(v->str, 'A') != c->r->account) {
			jmap_error(c, "accountNotFound", NULL);
			return -1;
		}
	}
	return 0;
}

const struct json_value *jmap_arg(const struct jmap_call *c, const char *name)
{
	const struct json_value *v = json_get(c->args, name);
	return v && v->type != JSON_NULL ? v : NULL;
}

uint32_t jmap_id_num(const char *s, char prefix)
{
	int64_t n = s ? hex_objid_parse(s, strlen(s), prefix) : -1;

	return n < 0 ? 0 : (uint32_t)n;
}

void jmap_w_id(struct jw *w, char prefix, uint32_t n)
{
	char t[16];
	snprintf(t, sizeof t, "%c%08x", prefix, n);
	jw_str(w, t);
}

int jmap_state(struct jmap_call *c, char out[24])
{
	uint64_t ms;

	if (store_account_modseq(c->r->st, c->r->account, &ms) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return -1;
	}
	snprintf(out, 24, "%llu", (unsigned long long)ms);
	return 0;
}

int jmap_state_parse(const char *s, uint64_t *modseq_r)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 19 || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*modseq_r = v;
	return 0;
}

int jmap_state_answerable(struct jmap_call *c, uint64_t since)
{
	uint64_t floor;
	/* A store error here is answered as a state too old: the client
	 * starts over, which is never wrong. */
	return store_changes_floor(c->r->st, c->r->account, &floor) == STORE_OK && since >= floor;
}

void jmap_begin(struct jmap_call *c)
{
	jw_obj_begin(&c->w);
	jw_key(&c->w, "accountId");
	jmap_w_id(&c->w, 'A', c->r->account);
}

const char *jmap_created_get(struct jmap_request *r, const char *cid)
{
	for (struct jmap_created *e = r->created; e; e = e->next)
		if (strcmp(e->cid, cid) == 0)
			return e->id;
	return NULL;
}

const char *jmap_id_ref(struct jmap_request *r, const char *s)
{
	return s[0] == '#' ? jmap_created_get(r, s + 1) : s;
}

uint32_t jmap_ref_num(struct jmap_request *r, const char *s, char prefix)
{
	return jmap_id_num(jmap_id_ref(r, s), prefix);
}

void jmap_created_put(struct jmap_request *r, const char *cid, const char *id)
{
	struct jmap_created *e = arena_alloc(r->a, sizeof *e), **tail = &r->created;

	e->cid = arena_strdup(r->a, cid);
	e->id = arena_strdup(r->a, id);
	e->next = NULL;
	while (*tail)
		tail = &(*tail)->next;
	*tail = e;
}

void jmap_w_set_error_open_n(struct jw *w, const char *type, const char *desc,
			     const char *const *props, size_t n)
{
	jw_obj_begin(w);
	jw_kstr(w, "type", type);
	if (desc)
		jw_kstr(w, "description", desc);
	if (n) {
		jw_key(w, "properties");
		jw_arr_begin(w);
		for (size_t i = 0; i < n; i++)
			jw_str(w, props[i]);
		jw_arr_end(w);
	}
}

void jmap_w_set_error_open(struct jw *w, const char *type, const char *desc, const char *prop)
{
	jmap_w_set_error_open_n(w, type, desc, &prop, prop != NULL);
}

void jmap_w_set_error(struct jw *w, const char *key, const char *type, const char *desc,
		      const char *prop)
{
	if (key)
		jw_key(w, key);
	jmap_w_set_error_open(w, type, desc, prop);
	jw_obj_end(w);
}

void jmap_bad_member(struct jmap_bad *b, const char *prop, const char *desc)
{
	if (!b->desc)
		b->desc = desc;
	if (!prop)
		return;
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		const char **v = arena_alloc(b->a, cap * sizeof *v);
		if (b->n)
			memcpy(v, b->v, b->n * sizeof *v);
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = prop;
}

void jmap_bad_add(struct jmap_bad *b, const char *prop, const char *desc)
{
	for (size_t i = 0; prop && i < b->n; i++)
		if (!strcmp(b->v[i], prop))
			return;
	jmap_bad_member(b, prop, desc);
}

void jmap_w_set_error_bad(struct jw *w, const char *key, const struct jmap_bad *b)
{
	if (key)
		jw_key(w, key);
	jmap_w_set_error_open_n(w, "invalidProperties", b->desc, b->v, b->n);
	jw_obj_end(w);
}

void jmap_w_set_err(struct jw *w, const char *key, const struct jmap_set_err *e)
{
	jw_key(w, key);
	if (e->bad.n)
		jmap_w_set_error_open_n(w, e->type, e->desc, e->bad.v, e->bad.n);
	else
		jmap_w_set_error_open(w, e->type, e->desc, e->prop);
	if (e->ninvalid) {
		jw_key(w, "invalidRecipients");
		jw_arr_begin(w);
		for (size_t i = 0; i < e->ninvalid; i++)
			jw_strn(w, e->invalid[i]->str, e->invalid[i]->len);
		jw_arr_end(w);
	}
	if (e->limit_name)
		jw_kuint(w, e->limit_name, e->limit);
	jw_obj_end(w);
}

void jmap_w_raw_or_null(struct jw *w, const char *key, const struct buf *b, int any)
{
	jw_key(w, key);
	if (any)
		jw_rawn(w, buf_data(b), buf_len(b));
	else
		jw_null(w);
}

/* ---- the /get skeleton ---- */

int jmap_get_begin(struct jmap_call *c, const struct jmap_arg *args, size_t n,
		   const char *const *known, size_t nknown, struct jmap_get *g)
{
	if (jmap_args_check(c, args, n) < 0)
		return -1;
	g->ids = jmap_arg(c, "ids");
	g->props = jmap_arg(c, "properties");
	for (const struct json_value *e = g->props ? g->props->first : NULL; e; e = e->next) {
		size_t k;
		for (k = 0; k < nknown && strcmp(known[k], e->str); k++)
			;
		if (k == nknown) {
			jmap_bad_arg(c, "properties", "unknown property");
			return -1;
		}
	}
	if (g->ids && g->ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return -1;
	}
	g->ids = jmap_ids_unique(c->r->a, g->ids);
	return 0;
}

int jmap_get_wants(const struct jmap_get *g, const char *p)
{
	if (!g->props || !strcmp(p, "id"))
		return 1;
	for (const struct json_value *e = g->props->first; e; e = e->next)
		if (!strcmp(e->str, p))
			return 1;
	return 0;
}

unsigned jmap_get_mask(const struct jmap_get *g, const char *const *known, size_t n)
{
	unsigned m = 0;
	for (size_t k = 0; k < n; k++)
		if (jmap_get_wants(g, known[k]))
			m |= 1u << k;
	return m | 1u;
}

int jmap_get_has_id(const struct jmap_get *g, const char *id)
{
	if (!g->ids)
		return 1;
	for (const struct json_value *e = g->ids->first; e; e = e->next)
		if (!strcmp(e->str, id))
			return 1;
	return 0;
}

void jmap_get_list(struct jmap_call *c, const char *state)
{
	if (state) {
		jmap_begin(c);
		jw_kstr(&c->w, "state", state);
	} else {
		jw_obj_begin(&c->w);
	}
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
}

void jmap_get_end(struct jmap_call *c, const struct jmap_get *g,
		  int (*found)(void *arg, const char *id), void *arg)
{
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	jw_arr_begin(&c->w);
	for (const struct json_value *e = g->ids ? g->ids->first : NULL; e; e = e->next)
		if (!found || !found(arg, e->str))
			jw_str(&c->w, e->str);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

/* ---- the head of /changes ---- */

int jmap_changes_begin(struct jmap_call *c, char state[24], uint64_t *since_r, uint64_t *now_r,
		       uint64_t *max_r)
{
	return jmap_changes_begin_at(c, NULL, state, since_r, now_r, max_r);
}

int jmap_changes_begin_at(struct jmap_call *c, const char *since, char state[24],
			  uint64_t *since_r, uint64_t *now_r, uint64_t *max_r)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},
	    {"sinceState", JA_STRING, JA_REQUIRED},
	    {"maxChanges", JA_UINT, JA_NULLABLE},
	};
	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0 || jmap_state(c, state) < 0)
		return -1;
	const struct json_value *mc = jmap_arg(c, "maxChanges");
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return -1;
	}
	*max_r = mc ? (uint64_t)mc->integer : 0;
	jmap_state_parse(state, now_r);
	if (jmap_state_parse(since ? since : jmap_arg(c, "sinceState")->str, since_r) < 0 ||
	    *since_r > *now_r ||
	    !jmap_state_answerable(c, *since_r)) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return -1;
	}
	return 0;
}

void jmap_query_changes_refused(struct jmap_call *c, const char *why)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},	  {"filter", JA_OBJECT, JA_NULLABLE},
	    {"sort", JA_ARRAY, JA_NULLABLE},	  {"sinceQueryState", JA_STRING, JA_REQUIRED},
	    {"maxChanges", JA_UINT, JA_NULLABLE}, {"upToId", JA_ID, JA_NULLABLE},
	    {"calculateTotal", JA_BOOL, 0},
	};

	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0)
		return;
	jmap_error(c, "cannotCalculateChanges", why);
}

int jmap_pos_parse(const char *s, struct jmap_pos *p)
{
	return jmap_pos_parse_sep(s, '.', p);
}

int jmap_pos_parse_sep(const char *s, int sep, struct jmap_pos *p)
{
	char head[24];
	const char *dot = strchr(s, sep);

	p->skip = 0;
	if (!dot)
		return jmap_state_parse(s, &p->step);
	if ((size_t)(dot - s) >= sizeof head)
		return -1;
	memcpy(head, s, (size_t)(dot - s));
	head[dot - s] = 0;
	if (jmap_state_parse(head, &p->step) < 0 || jmap_state_parse(dot + 1, &p->skip) < 0 ||
	    !p->step || !p->skip)
		return -1;
	return 0;
}

void jmap_pos_format(const struct jmap_pos *p, char out[48])
{
	if (p->skip)
		snprintf(out, 48, "%llu.%llu", (unsigned long long)p->step,
			 (unsigned long long)p->skip);
	else
		snprintf(out, 48, "%llu", (unsigned long long)p->step);
}

size_t jmap_step_place(struct jmap_step *s, uint64_t modseq, uint32_t email)
{
	int added;
	if (modseq != s->cur) {
		jmap_idx_free(&s->idx);
		memset(&s->idx, 0, sizeof s->idx);
		s->n = 0;
		s->cur = modseq;
	}
	size_t i = jmap_idx_place(&s->idx, email, s->n, &added);
	s->n += added;
	return i;
}

int jmap_pos_after(const struct jmap_pos *p, uint64_t modseq, size_t i)
{
	return modseq > p->step || (modseq == p->step && p->skip && i >= p->skip);
}

int jmap_changes_begin_pos(struct jmap_call *c, char state[24], struct jmap_pos *from,
			   uint64_t *since_r, uint64_t *now_r, uint64_t *max_r)
{
	const struct json_value *ss = jmap_arg(c, "sinceState");

	if (ss && ss->type == JSON_STRING && jmap_pos_parse(ss->str, from) == 0 && from->skip) {
		char head[24];
		snprintf(head, sizeof head, "%llu", (unsigned long long)(from->step - 1));
		if (jmap_changes_begin_at(c, head, state, since_r, now_r, max_r) < 0)
			return -1;
		if (from->step > *now_r) {
			jmap_error(c, "cannotCalculateChanges", NULL);
			return -1;
		}
		return 0;
	}
	if (jmap_changes_begin(c, state, since_r, now_r, max_r) < 0)
		return -1;
	*from = (struct jmap_pos){*since_r, 0};
	return 0;
}

/* ---- the /query answer ---- */

/* String sorts compare as IMAP SORT does (mime_sortkey's
 * i;unicode-casemap keys, mime_sortkey_cmp) unless i;ascii-numeric
 * (mime_collate_numeric) or i;ascii-casemap (RFC 4790 §9.2: only a-z fold,
 * other octets compare as they are; mime_collate) is named. An unknown
 * one is refused rather than ignored. */
const char *const jmap_collations[] = {"i;ascii-casemap", "i;ascii-numeric", "i;unicode-casemap",
				       NULL};

int jmap_comparator_collation(struct jmap_call *c, const struct json_value *comparator)
{
	const struct json_value *v =
	    comparator->type == JSON_OBJECT ? json_get(comparator, "collation") : NULL;

	if (!v)
		return JMAP_COLLATION_DEFAULT;
	if (v->type != JSON_STRING) {
		jmap_bad_arg(c, "sort", "a collation is a string");
		return -1;
	}
	for (int i = 0; jmap_collations[i]; i++)
		if (!strcmp(v->str, jmap_collations[i]))
			return i == 0 ? JMAP_COLLATION_ASCII
			       : i == 1 ? JMAP_COLLATION_NUMERIC : JMAP_COLLATION_DEFAULT;
	jmap_error(c, "unsupportedSort", "a collation the server does not know");
	return -1;
}

int jmap_query_window(struct jmap_call *c, size_t n,
		      int (*is_anchor)(void *arg, size_t i, const char *anchor), void *arg,
		      size_t *pos_r, size_t *end_r)
{
	const struct json_value *v, *anchor = jmap_arg(c, "anchor");
	int64_t pos = (v = jmap_arg(c, "position")) ? v->integer : 0;

	if (anchor) {
		/* "#cid": the object made earlier in the request (§5.3). */
		const char *id = jmap_id_ref(c->r, anchor->str);
		size_t at = 0;
		while (id && at < n && !is_anchor(arg, at, id))
			at++;
		if (!id)
			at = n;
		if (at == n) {
			jmap_error(c, "anchorNotFound", NULL);
			return -1;
		}
		pos = (int64_t)at + ((v = jmap_arg(c, "anchorOffset")) ? v->integer : 0);
	} else if (pos < 0) {
		pos += (int64_t)n;
	}
	if (pos < 0)
		pos = 0;
	/* §5.5: past the end the ids are empty, "but this is not an error";
	 * the position answered stays the index the client asked for (it
	 * is "the index of the first id to return"), not the total. */
	if (pos >= (int64_t)n) {
		*pos_r = *end_r = (size_t)pos;
		return 0;
	}
	/* limit is an UnsignedInt (jmap_args_check): no overflow past n. */
	uint64_t lim = (v = jmap_arg(c, "limit")) ? (uint64_t)v->integer : n;
	*pos_r = (size_t)pos;
	*end_r = lim < n - (size_t)pos ? (size_t)pos + (size_t)lim : n;
	return 0;
}

void jmap_query_begin(struct jmap_call *c, const char *state, int can_changes, size_t pos)
{
	jmap_begin(c);
	jw_kstr(&c->w, "queryState", state);
	jw_kbool(&c->w, "canCalculateChanges", can_changes);
	jw_kint(&c->w, "position", (int64_t)pos);
	jw_key(&c->w, "ids");
	jw_arr_begin(&c->w);
}

void jmap_query_end(struct jmap_call *c, size_t n)
{
	const struct json_value *v;

	jw_arr_end(&c->w);
	if ((v = jmap_arg(c, "calculateTotal")) && v->boolean)
		jw_kint(&c->w, "total", (int64_t)n);
	jw_obj_end(&c->w);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

size_t jmap_u32_sort_unique(uint32_t *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof *v, cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

int jmap_u32_has(const uint32_t *v, size_t n, uint32_t x)
{
	/* bsearch wants a base even for no elements (UBSan: nonnull). */
	return n && bsearch(&x, v, n, sizeof *v, cmp_u32) != NULL;
}

size_t jmap_u32_lower(const uint32_t *v, size_t n, uint32_t x)
{
	const uint32_t *base = v;

	while (n) {
		size_t half = n / 2;
		if (v[half] < x) {
			v += half + 1;
			n -= half + 1;
		} else {
			n = half;
		}
	}
	return (size_t)(v - base);
}

void jmap_query_changes_end(struct jmap_call *c, const char *state, char prefix, uint32_t *changed,
			    size_t nc, const uint32_t *res, size_t n)
{
	const struct json_value *v, *mc = jmap_arg(c, "maxChanges");

	nc = jmap_u32_sort_unique(changed, nc);
	size_t nadded = 0;
	for (size_t i = 0; i < n; i++)
		nadded += (size_t)jmap_u32_has(changed, nc, res[i]);
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return;
	}
	if (mc && nc + nadded > (uint64_t)mc->integer) {
		jmap_error(c, "tooManyChanges", NULL);
		return;
	}
	jmap_begin(c);
	jw_kstr(&c->w, "oldQueryState", jmap_arg(c, "sinceQueryState")->str);
	jw_kstr(&c->w, "newQueryState", state);
	if ((v = jmap_arg(c, "calculateTotal")) && v->boolean)
		jw_kint(&c->w, "total", (int64_t)n);
	jw_key(&c->w, "removed");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < nc; i++)
		jmap_w_id(&c->w, prefix, changed[i]);
	jw_arr_end(&c->w);
	jw_key(&c->w, "added");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < n; i++) {
		if (!jmap_u32_has(changed, nc, res[i]))
			continue;
		jw_obj_begin(&c->w);
		jw_key(&c->w, "id");
		jmap_w_id(&c->w, prefix, res[i]);
		jw_kuint(&c->w, "index", i);
		jw_obj_end(&c->w);
	}
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

/* ---- the /set skeleton ---- */

int jmap_set_begin(struct jmap_call *c, const struct jmap_arg *args, size_t n, struct jmap_set *s)
{
	memset(s, 0, sizeof *s);
	if (jmap_args_check(c, args, n) < 0)
		return -1;
	s->create = jmap_arg(c, "create");
	s->update = jmap_arg(c, "update");
	s->destroy = jmap_arg(c, "destroy");
	if ((s->create ? s->create->count : 0) + (s->update ? s->update->count : 0) +
		(s->destroy ? s->destroy->count : 0) >
	    JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return -1;
	}
	/* An id destroyed twice is one destroy: the second found it gone
	 * and the answer named it in destroyed and in notDestroyed
	 * (notFound) both. */
	s->destroy = jmap_ids_unique(c->r->a, s->destroy);
	return 0;
}

int jmap_set_if_in_state(struct jmap_call *c, const char *old)
{
	const struct json_value *ifs = jmap_arg(c, "ifInState");
	if (ifs && strcmp(ifs->str, old) != 0) {
		jmap_error(c, "stateMismatch", NULL);
		return -1;
	}
	return 0;
}

void jmap_set_open(struct jmap_set *s, size_t max)
{
	for (int i = 0; i < JMAP_SET_N; i++) {
		buf_init(&s->b[i], max);
		jw_init(&s->w[i], &s->b[i]);
		if (i == JMAP_SET_DESTROYED)
			jw_arr_begin(&s->w[i]);
		else
			jw_obj_begin(&s->w[i]);
	}
	s->open = 1;
}

void jmap_set_free(struct jmap_set *s)
{
	for (int i = 0; s->open && i < JMAP_SET_N; i++)
		buf_free(&s->b[i]);
	s->open = 0;
}

void jmap_w_map_or_null(struct jw *w, const char *key, const struct buf *b)
{
	jw_key(w, key);
	if (buf_len(b) <= 2)
		jw_null(w);
	else
		jw_rawn(w, buf_data(b), buf_len(b));
}

void jmap_set_end(struct jmap_call *c, struct jmap_set *s, const char *old, const char *now)
{
	static const char *const names[JMAP_SET_N] = {"created",    "updated",    "destroyed",
						      "notCreated", "notUpdated", "notDestroyed"};
	if (old) {
		jmap_begin(c);
		jw_kstr(&c->w, "oldState", old);
		jw_kstr(&c->w, "newState", now);
	} else {
		jw_obj_begin(&c->w);
	}
	for (int i = 0; i < JMAP_SET_N; i++) {
		if (i == JMAP_SET_DESTROYED)
			jw_arr_end(&s->w[i]);
		else
			jw_obj_end(&s->w[i]);
		jmap_w_map_or_null(&c->w, names[i], &s->b[i]);
	}
	jw_obj_end(&c->w);
	jmap_set_free(s);
}

const char *jmap_store_fail_type(int rc, int create)
{
	if (rc == STORE_EFULL)
		return create ? "overQuota" : "serverUnavailable";
	return "serverFail";
}

const char *jmap_store_fail_desc(int rc)
{
	return rc == STORE_EFULL ? "the server's storage is full" : NULL;
}
