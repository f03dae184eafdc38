/*
 * jmap_principal.c — Principal/get, /changes, /query, /queryChanges and
 * /set (RFC 9670 §3): who a user can see and share with.
 *
 * Which principals. Every account of the server is an "individual"
 * principal, id "P" and its number, but a user sees only: itself; the
 * accounts of its own domain (the part of its address after "@") that
 * may sign in (a disabled or inactive account is no one to share with);
 * and the owners of the accounts shared with it (so that the session's
 * principalId of each names a principal it can read). Other domains'
 * users stay unseen: on a server with several customers' domains none
 * learns another's users.
 *
 * Properties: name is the display name (the address when there is
 * none), email the address, description and timeZone null,
 * capabilities {} (no data type here has a per-principal capability),
 * accounts the JMAP accounts of that principal the user has (its own
 * for itself, the shared one for an owner sharing with it; null for the
 * others), as the session shows them.
 *
 * State and /changes: snapshots of the principals as /get renders them
 * (jmap_typestate.c, type "princ"), so an account added, renamed or
 * sharing something new is a change, exact from any of the last
 * JMAP_TS_KEEP states. /queryChanges is cannotCalculateChanges: the
 * list is made again from the accounts at each call, with no log of
 * what entered or left a query's results, and running the query again
 * costs what /queryChanges would. /set refuses every change with a
 * forbidden SetError: principals are the server's accounts, which an
 * administrator makes (RFC 9670 §3.3 lets a server refuse them so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_typestate.h"
#include "store/store.h"

struct principal {
	uint32_t id;
	const char *email, *name;
	uint32_t shares; /* the union of the rights it gives the user; 0: none */
	int self;
	char pid[16];
};

struct principals {
	struct jmap_request *r;
	const char *domain; /* the user's, after "@" */
	struct jmap_shared_account *shared;
	size_t nshared;
	struct principal *v;
	size_t n, cap;
};

static uint32_t shares_of(const struct principals *p, uint32_t id)
{
	for (size_t i = 0; i < p->nshared; i++)
		if (p->shared[i].owner == id)
			return p->shared[i].rights;
	return 0;
}

static void acct_cb(void *arg, const struct store_account_info *i)
{
	struct principals *p = arg;
	const char *at = strrchr(i->email, '@');
	int self = i->id == p->r->user;
	uint32_t shares = shares_of(p, i->id);
	int same = at && p->domain && !strcasecmp(at + 1, p->domain) && !i->disabled;

	if (!self && !shares && !same)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		struct principal *nv = arena_alloc(p->r->a, cap * sizeof *nv);
		if (p->n)
			memcpy(nv, p->v, p->n * sizeof *nv);
		p->v = nv;
		p->cap = cap;
	}
	struct principal *x = &p->v[p->n++];
	x->id = i->id;
	x->email = arena_strdup(p->r->a, i->email);
	x->name = i->display_name && i->display_name[0] ? arena_strdup(p->r->a, i->display_name)
							 : x->email;
	x->shares = shares;
	x->self = self;
	snprintf(x->pid, sizeof x->pid, "P%08x", i->id);
}

static int by_id(const void *a, const void *b)
{
	const struct principal *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The principals the user sees, by id. 0 or -1 (store error). */
static int principals_load(struct jmap_request *r, struct principals *p)
{
	char email[320];

	memset(p, 0, sizeof *p);
	p->r = r;
	if (store_account_email(r->st, r->user, email, sizeof email) != STORE_OK)
		return -1;
	const char *at = strrchr(email, '@');
	p->domain = at ? arena_strdup(r->a, at + 1) : NULL;
	if (jmap_shared_accounts(r->st, r->user, &p->shared, &p->nshared) < 0)
		return -1;
	int rc = store_account_list(r->st, acct_cb, p) == STORE_OK ? 0 : -1;
	free(p->shared);
	p->shared = NULL;
	if (p->n)
		qsort(p->v, p->n, sizeof *p->v, by_id);
	return rc;
}

int jmap_principals_visible(struct jmap_request *r, uint32_t **ids_r, size_t *n_r)
{
	struct principals p;

	if (principals_load(r, &p) < 0)
		return -1;
	uint32_t *v = arena_alloc(r->a, (p.n + 1) * sizeof *v);
	for (size_t i = 0; i < p.n; i++)
		v[i] = p.v[i].id;
	*ids_r = v;
	*n_r = p.n;
	return 0;
}

static const char *const props[] = {"id",	  "type",     "name",	      "description",
				    "email",	  "timeZone", "capabilities", "accounts"};
#define NPROPS (sizeof props / sizeof props[0])

static void w_principal(struct jw *w, const struct principal *x, unsigned want, uint32_t user)
{
	jw_obj_begin(w);
	for (size_t k = 0; k < NPROPS; k++) {
		if (!(want & (1u << k)))
			continue;
		jw_key(w, props[k]);
		switch (k) {
		case 0: jw_str(w, x->pid); break;
		case 1: jw_str(w, "individual"); break;
		case 2: jw_str(w, x->name); break;
		case 4: jw_str(w, x->email); break;
		case 6:
			jw_obj_begin(w);
			jw_obj_end(w);
			break;
		case 7:
			if (!x->self && !x->shares) {
				jw_null(w);
				break;
			}
			char acc[16];
			snprintf(acc, sizeof acc, "A%08x", x->id);
			jw_obj_begin(w);
			jw_key(w, acc);
			jmap_w_account_object(w, user, x->id, x->email, x->self ? STORE_ACL_ALL : x->shares);
			jw_obj_end(w);
			break;
		default: jw_null(w); break; /* description, timeZone */
		}
	}
	jw_obj_end(w);
}

static struct jmap_ts_obj *ts_objs(struct jmap_call *c, struct principals *p)
{
	struct jmap_ts_obj *v = arena_zalloc(c->r->a, (p->n + 1) * sizeof *v);
	struct buf b;
	struct jw w;

	buf_init(&b, 1024 * 1024);
	for (size_t i = 0; i < p->n; i++) {
		buf_reset(&b);
		jw_init(&w, &b);
		w_principal(&w, &p->v[i], (1u << NPROPS) - 1, c->r->user);
		jmap_ts_digest(&v[i], p->v[i].pid, buf_data(&b), buf_len(&b));
	}
	buf_free(&b);
	return v;
}

/* The state of the principals p holds (a snapshot of their renderings). */
static void principals_state(struct jmap_call *c, struct principals *p, char out[24])
{
	jmap_ts_state(c->r, "princ", ts_objs(c, p), p->n, out);
}

static const struct principal *find(const struct principals *p, const char *id)
{
	uint32_t n = jmap_id_num(id, 'P');
	size_t lo = 0, hi = p->n;

	while (n && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->v[mid].id == n)
			return strcmp(p->v[mid].pid, id) ? NULL : &p->v[mid];
		if (p->v[mid].id < n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int found(void *arg, const char *id)
{
	return find(arg, id) != NULL;
}

/* The call's principals, or NULL with serverFail set. */
static struct principals *load_or_fail(struct jmap_call *c)
{
	struct principals *p = arena_alloc(c->r->a, sizeof *p);

	if (principals_load(c->r, p) < 0) {
		jmap_error(c, "serverFail", "the store could not be read");
		return NULL;
	}
	return p;
}

void jmap_principal_get(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED},
	    {"ids", JA_IDREFS, JA_NULLABLE},
	    {"properties", JA_STRINGS, JA_NULLABLE},
	};
	struct jmap_get g;
	struct principals *p;
	char state[24];

	if (jmap_get_begin(c, args, 3, props, NPROPS, &g) < 0 || !(p = load_or_fail(c)))
		return;
	unsigned want = jmap_get_mask(&g, props, NPROPS);
	principals_state(c, p, state);
	jmap_get_list(c, state);
	if (!g.ids)
		for (size_t i = 0; i < p->n; i++)
			w_principal(&c->w, &p->v[i], want, c->r->user);
	for (const struct json_value *e = g.ids ? g.ids->first : NULL; e; e = e->next) {
		const struct principal *x = find(p, e->str);
		if (x)
			w_principal(&c->w, x, want, c->r->user);
	}
	jmap_get_end(c, &g, found, p);
}

void jmap_principal_changes(struct jmap_call *c)
{
	struct principals *p = load_or_fail(c);

	if (p)
		jmap_ts_changes(c, "princ", ts_objs(c, p), p->n);
}

/* ---- Principal/query ---- */

static int has_text(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/* RFC 9670 §3.4's FilterCondition (jmap_cond_fn; arg NULL: checked
 * only). Text matches are case-insensitive substrings, as the RFC's
 * "looks for the text". */
static int principal_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	const struct principal *x = arg;

	for (const struct json_value *p = f->first; p; p = p->next) {
		const char *k = p->key;
		int ok;
		if (!strcmp(k, "accountIds")) {
			if (p->type != JSON_ARRAY) {
				jmap_bad_arg(c, "filter", "accountIds is a list of ids");
				return -1;
			}
			ok = 0;
			for (const struct json_value *e = p->first; e; e = e->next) {
				if (e->type != JSON_STRING) {
					jmap_bad_arg(c, "filter", "accountIds is a list of ids");
					return -1;
				}
				ok |= x && (x->self || x->shares) && jmap_id_num(e->str, 'A') == x->id;
			}
		} else if (!strcmp(k, "email") || !strcmp(k, "name") || !strcmp(k, "text") ||
			   !strcmp(k, "type") || !strcmp(k, "timeZone")) {
			if (p->type != JSON_STRING) {
				jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
				return -1;
			}
			if (!x)
				continue;
			if (k[0] == 'e')
				ok = has_text(x->email, p->str);
			else if (k[0] == 'n')
				ok = has_text(x->name, p->str);
			else if (k[0] == 't' && k[1] == 'e')
				ok = has_text(x->name, p->str) || has_text(x->email, p->str);
			else if (k[1] == 'y')
				ok = !strcmp(p->str, "individual");
			else
				ok = 0; /* no principal has a timeZone */
		} else {
			jmap_error(c, "unsupportedFilter", k);
			return -1;
		}
		if (x && !ok)
			return 0;
	}
	return 1;
}

/* Sorting: "name" and "email" (RFC 9670 names none; these are what a
 * picker lists by), case-insensitive, then by id; descending is the
 * ascending order turned round. */
static int id_order(const struct principal *x, const struct principal *y)
{
	return x->id < y->id ? -1 : x->id > y->id;
}

static int by_name(const void *a, const void *b)
{
	const struct principal *x = *(const struct principal *const *)a,
			       *y = *(const struct principal *const *)b;
	int d = strcasecmp(x->name, y->name);
	return d ? d : id_order(x, y);
}

static int by_email(const void *a, const void *b)
{
	const struct principal *x = *(const struct principal *const *)a,
			       *y = *(const struct principal *const *)b;
	int d = strcasecmp(x->email, y->email);
	return d ? d : id_order(x, y);
}

static int is_anchor(void *arg, size_t i, const char *anchor)
{
	const struct principal *const *v = arg;
	return !strcmp(v[i]->pid, anchor);
}

void jmap_principal_query(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED}, {"filter", JA_OBJECT, JA_NULLABLE},
	    {"sort", JA_ARRAY, JA_NULLABLE},   {"position", JA_INT, 0},
	    {"anchor", JA_ID, JA_NULLABLE},    {"anchorOffset", JA_INT, 0},
	    {"limit", JA_UINT, JA_NULLABLE},   {"calculateTotal", JA_BOOL, 0},
	};
	int key = 0, desc = 0;

	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0)
		return;
	const struct json_value *sort = jmap_arg(c, "sort"), *filter = jmap_arg(c, "filter");
	/* The first comparator decides; ties go by id. */
	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return;
		}
		int k = !strcmp(p->str, "name") ? 1 : !strcmp(p->str, "email") ? 2 : 0;
		if (!k) {
			jmap_error(c, "unsupportedSort", p->str);
			return;
		}
		if (jmap_comparator_collation(c, e) < 0)
			return;
		if (!key) {
			key = k;
			desc = asc && asc->type == JSON_BOOL && !asc->boolean;
		}
	}
	if (jmap_filter_check(c, filter, principal_cond) < 0)
		return;
	struct principals *p = load_or_fail(c);
	char state[24];
	if (!p)
		return;
	principals_state(c, p, state);
	const struct principal **hit = arena_alloc(c->r->a, (p->n + 1) * sizeof *hit);
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		int r = filter ? jmap_filter_match(c, filter, principal_cond, &p->v[i]) : 1;
		if (r < 0)
			return;
		if (r)
			hit[n++] = &p->v[i];
	}
	if (key)
		qsort(hit, n, sizeof *hit, key == 1 ? by_name : by_email);
	for (size_t i = 0; desc && i < n / 2; i++) {
		const struct principal *t = hit[i];
		hit[i] = hit[n - 1 - i];
		hit[n - 1 - i] = t;
	}
	size_t pos, end;
	if (jmap_query_window(c, n, is_anchor, hit, &pos, &end) < 0)
		return;
	jmap_query_begin(c, state, 0, pos);
	for (size_t i = pos; i < end; i++)
		jw_str(&c->w, hit[i]->pid);
	jmap_query_end(c, n);
}

void jmap_principal_query_changes(struct jmap_call *c)
{
	jmap_query_changes_refused(c, "query the principals again");
}

static const char set_why[] = "principals are the server's accounts: an administrator's";

/* An update or destroy of principal id: forbidden, or notFound for an
 * id the user cannot see. */
static void refuse(struct jw *w, const struct principals *p, const char *id)
{
	if (find(p, id))
		jmap_w_set_error(w, id, "forbidden", set_why, NULL);
	else
		jmap_w_set_error(w, id, "notFound", NULL, NULL);
}

/* RFC 9670 §3.3: "A server MUST reject any change it doesn't allow with
 * a forbidden SetError": each object its own SetError, in a standard
 * /set answer (ifInState checked first). An id the user cannot see is
 * notFound, as /get has it. */
void jmap_principal_set(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {
	    {"accountId", JA_ID, JA_REQUIRED}, {"ifInState", JA_STRING, JA_NULLABLE},
	    {"create", JA_IDMAP, JA_NULLABLE}, {"update", JA_IDREFMAP, JA_NULLABLE},
	    {"destroy", JA_IDREFS, JA_NULLABLE},
	};
	struct jmap_set s;
	struct principals *p;
	char state[24];

	if (jmap_set_begin(c, args, sizeof args / sizeof args[0], &s) < 0 || !(p = load_or_fail(c)))
		return;
	principals_state(c, p, state);
	if (jmap_set_if_in_state(c, state) < 0)
		return;
	jmap_set_open(&s, JMAP_RESPONSE_MAX / 4);
	for (const struct json_value *o = s.create ? s.create->first : NULL; o; o = o->next)
		jmap_w_set_error(&s.w[JMAP_SET_NOT_CREATED], o->key, "forbidden", set_why, NULL);
	for (const struct json_value *o = s.update ? s.update->first : NULL; o; o = o->next)
		refuse(&s.w[JMAP_SET_NOT_UPDATED], p, o->key);
	for (const struct json_value *o = s.destroy ? s.destroy->first : NULL; o; o = o->next)
		refuse(&s.w[JMAP_SET_NOT_DESTROYED], p, o->str);
	jmap_set_end(c, &s, state, state);
}
