/*
 * jmap_mailbox_query.c — Mailbox/query and Mailbox/queryChanges
 * (RFC 8621 §2.3-2.4, RFC 8620 §5.5-5.6): filter conditions parentId,
 * name, role, hasAnyRole, isSubscribed combined by AND/OR/NOT; sorts by
 * sortOrder, name and parentId; sortAsTree and filterAsTree; position,
 * anchor, anchorOffset, limit and calculateTotal.
 *
 * queryChanges tells every mailbox the change log names since the old
 * state removed, and those in today's results added at their index (RFC
 * 8620 §5.6 lets removed hold ids the old results did not); email
 * changes, which move only counts, are none. A tree query (sortAsTree,
 * filterAsTree) is cannotCalculateChanges once any mailbox changed: a
 * parent's change moves or hides children that did not change.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "mime/mime_search.h"
#include "mime/mime_thread.h"
#include "store/store.h"

/* One FilterCondition for a mailbox (jmap_cond_fn; b NULL: checked only). */
static int mailbox_cond(struct jmap_call *c, const struct json_value *f, void *arg)
{
	const struct jmap_mailbox *b = arg;
	for (const struct json_value *m = f->first; m; m = m->next) {
		int ok = 1;
		if (!strcmp(m->key, "parentId")) {
			if (m->type != JSON_NULL && m->type != JSON_STRING)
				goto bad;
			if (b)
				ok = m->type == JSON_NULL
					 ? b->parent == 0
					 : b->parent && jmap_ref_num(c->r, m->str, 'M') == b->parent;
		} else if (!strcmp(m->key, "name")) {
			if (m->type != JSON_STRING)
				goto bad;
			if (b) {
				/* Contains, folded as IMAP SEARCH compares (NFC,
				 * full case fold). */
				size_t hn = strlen(b->leaf), nn = strlen(m->str);
				char *h = arena_alloc(c->r->a, MIME_SEARCH_FOLD_ROOM(hn)),
				     *n = arena_alloc(c->r->a, MIME_SEARCH_FOLD_ROOM(nn));
				memcpy(h, b->leaf, hn);
				memcpy(n, m->str, nn);
				h[mime_search_fold(h, hn)] = '\0';
				n[mime_search_fold(n, nn)] = '\0';
				ok = strstr(h, n) != NULL;
			}
		} else if (!strcmp(m->key, "role")) {
			if (m->type != JSON_NULL && m->type != JSON_STRING)
				goto bad;
			if (b)
				ok = m->type == JSON_NULL ? b->role[0] == '\0'
							  : strcasecmp(b->role, m->str) == 0;
		} else if (!strcmp(m->key, "hasAnyRole")) {
			if (m->type != JSON_BOOL)
				goto bad;
			ok = !b || (b->role[0] != '\0') == m->boolean;
		} else if (!strcmp(m->key, "isSubscribed")) {
			if (m->type != JSON_BOOL)
				goto bad;
			ok = !b || (b->subscribed != 0) == m->boolean;
		} else {
			jmap_error(c, "unsupportedFilter", m->key);
			return -1;
		}
		if (!ok)
			return 0;
	}
	return 1;
bad:
	jmap_bad_arg(c, "filter", "a filter condition of the wrong type");
	return -1;
}

struct sort_key {
	int prop; /* 0 sortOrder, 1 name, 2 parentId */
	int asc;
	int coll;    /* JMAP_COLLATION_* */
};

struct sorting {
	struct sort_key k[4];
	int n;
	struct jmap_mailboxes *m;
};

static struct sorting *sort_ctx;
static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER; /* sort_ctx is one */

/* Names ordered case-insensitively (RFC 8620 §5.5: the default
 * collation SHOULD be; i;unicode-casemap and i;ascii-casemap are): by
 * their i;unicode-casemap keys (mime_sortkey), as IMAP SORT orders, or
 * under i;ascii-numeric or i;ascii-casemap (only a-z folded, RFC 4790
 * §9.2) when the comparator names it; equal ones by octet. */
static int cmp_name(const char *a, const char *b, int coll)
{
	size_t na, nb;
	if (coll == JMAP_COLLATION_NUMERIC || coll == JMAP_COLLATION_ASCII) {
		int r = coll == JMAP_COLLATION_NUMERIC ? mime_collate_numeric(str_c(a), str_c(b))
						       : mime_collate(str_c(a), str_c(b));
		return r ? r : strcmp(a, b);
	}
	char *fa = mime_sortkey(a, strlen(a), &na), *fb = mime_sortkey(b, strlen(b), &nb);
	int r = mime_sortkey_cmp(str_make(fa, na), str_make(fb, nb));
	free(fa);
	free(fb);
	return r ? r : strcmp(a, b);
}

static int cmp_mb(const void *pa, const void *pb)
{
	const struct jmap_mailbox *a = *(struct jmap_mailbox *const *)pa,
				  *b = *(struct jmap_mailbox *const *)pb;
	for (int i = 0; i < sort_ctx->n; i++) {
		int r = 0;
		switch (sort_ctx->k[i].prop) {
		case 0: r = a->sort_order < b->sort_order ? -1 : a->sort_order > b->sort_order; break;
		case 1: r = cmp_name(a->leaf, b->leaf, sort_ctx->k[i].coll); break;
		case 2: r = a->parent < b->parent ? -1 : a->parent > b->parent; break;
		}
		if (r)
			return sort_ctx->k[i].asc ? r : -r;
	}
	return a->id < b->id ? -1 : a->id > b->id;
}

/* A mailbox id and its index in a list, sorted by id to find a parent. */
struct id_at {
	uint32_t id;
	size_t i;
};

static int cmp_id_at(const void *pa, const void *pb)
{
	const struct id_at *a = pa, *b = pb;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The index of mailbox id in by[0..n), or none. */
static size_t id_find(const struct id_at *by, size_t n, uint32_t id, size_t none)
{
	struct id_at key = {id, 0};
	const struct id_at *f = n ? bsearch(&key, by, n, sizeof *by, cmp_id_at) : NULL;
	return f ? f->i : none;
}

static struct id_at *id_index(struct arena *a, struct jmap_mailbox *const *v, size_t n)
{
	struct id_at *by = arena_alloc(a, (n + 1) * sizeof *by);
	for (size_t i = 0; i < n; i++)
		by[i] = (struct id_at){v[i]->id, i};
	if (n)
		qsort(by, n, sizeof *by, cmp_id_at);
	return by;
}

/*
 * sortAsTree: in[0..n) (sorted) into out depth-first, each parent
 * followed by its children in their sorted order; a mailbox whose
 * parent is not among in is a root. n log n: each mailbox is appended
 * to its parent's list of children in one pass over the sorted list,
 * then the lists are walked with an explicit stack (no recursion however
 * deep the names go). Returns how many were written (n).
 */
static size_t tree_order(struct arena *a, struct jmap_mailbox **in, size_t n,
			 struct jmap_mailbox **out)
{
	const size_t none = (size_t)-1, root = n;
	struct id_at *by = id_index(a, in, n);
	size_t *first = arena_alloc(a, (n + 1) * sizeof *first),
	       *last = arena_alloc(a, (n + 1) * sizeof *last),
	       *next = arena_alloc(a, (n + 1) * sizeof *next),
	       *stack = arena_alloc(a, (n + 1) * sizeof *stack);
	size_t k = 0, depth = 0;

	for (size_t i = 0; i <= n; i++)
		first[i] = last[i] = next[i] = none;
	for (size_t i = 0; i < n; i++) {
		size_t p = in[i]->parent ? id_find(by, n, in[i]->parent, root) : root;
		if (p == i)
			p = root;
		if (first[p] == none)
			first[p] = i;
		else
			next[last[p]] = i;
		last[p] = i;
	}
	/* stack[d]: the next child to write at depth d. */
	stack[depth++] = first[root];
	while (depth) {
		size_t i = stack[depth - 1];
		if (i == none) {
			depth--;
			continue;
		}
		stack[depth - 1] = next[i];
		out[k++] = in[i];
		stack[depth++] = first[i];
	}
	return k;
}

/* filterAsTree: shown[i] when m's mailbox i and all its parents match.
 * Linear: each walk up stops at the first mailbox already decided. */
static void tree_filter(struct arena *a, struct jmap_mailboxes *m, const char *match, char *shown)
{
	struct jmap_mailbox **v = arena_alloc(a, (m->n + 1) * sizeof *v);
	for (size_t i = 0; i < m->n; i++)
		v[i] = &m->v[i];
	struct id_at *by = id_index(a, v, m->n);
	size_t *chain = arena_alloc(a, (m->n + 1) * sizeof *chain);
	char *known = arena_zalloc(a, m->n + 1);

	for (size_t i = 0; i < m->n; i++) {
		size_t nc = 0, j = i;
		int ok = 1;
		/* Up to a decided mailbox, a root, or a parent not listed. */
		while (!known[j] && nc < m->n) {
			chain[nc++] = j;
			size_t p = m->v[j].parent ? id_find(by, m->n, m->v[j].parent, m->n) : m->n;
			if (p == m->n || p == j)
				break;
			j = p;
		}
		if (known[j])
			ok = shown[j];
		/* From the top down: shown when it matches and its parent is. */
		while (nc) {
			size_t x = chain[--nc];
			ok = ok && match[x];
			shown[x] = (char)ok;
			known[x] = 1;
		}
	}
}

static const struct jmap_arg query_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},   {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},     {"position", JA_INT, 0},
    {"anchor", JA_IDREF, JA_NULLABLE},   {"anchorOffset", JA_INT, 0},
    {"limit", JA_UINT, JA_NULLABLE},     {"calculateTotal", JA_BOOL, 0},
    {"sortAsTree", JA_BOOL, 0},          {"filterAsTree", JA_BOOL, 0},
};

static int sort_parse(struct jmap_call *c, struct sorting *s)
{
	const struct json_value *sort = jmap_arg(c, "sort");

	for (const struct json_value *e = sort ? sort->first : NULL; e; e = e->next) {
		const struct json_value *p = json_get(e, "property"), *asc = json_get(e, "isAscending"),
					*coll = json_get(e, "collation");
		if (e->type != JSON_OBJECT || !p || p->type != JSON_STRING ||
		    (asc && asc->type != JSON_BOOL) || (coll && coll->type != JSON_STRING)) {
			jmap_bad_arg(c, "sort", "a Comparator has a property");
			return -1;
		}
		int prop = !strcmp(p->str, "sortOrder") ? 0 : !strcmp(p->str, "name") ? 1
			   : !strcmp(p->str, "parentId") ? 2 : -1;
		if (prop < 0 || s->n == 4) {
			jmap_error(c, "unsupportedSort", p->str);
			return -1;
		}
		int cl = jmap_comparator_collation(c, e);
		if (cl < 0)
			return -1;
		s->k[s->n++] = (struct sort_key){prop, asc ? asc->boolean : 1, cl};
	}
	return 0;
}

static int is_anchor(void *arg, size_t i, const char *anchor)
{
	struct jmap_mailbox **hit = arg;
	return hit[i]->id == jmap_id_num(anchor, 'M');
}

/* The query's mailboxes (filter, sort, filterAsTree, sortAsTree; the
 * arguments checked) in order into *hit_r and *n_r, in the request's
 * arena; 0, or -1 with the error set. */
static int mailbox_run(struct jmap_call *c, struct sorting *s, struct jmap_mailbox ***hit_r,
		       size_t *n_r)
{
	struct jmap_mailboxes m;
	if (jmap_mailboxes_view(c->r, &m) < 0) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	const struct json_value *filter = jmap_arg(c, "filter"), *v;
	if (jmap_filter_check(c, filter, mailbox_cond) < 0)
		return -1;
	int as_tree = (v = jmap_arg(c, "sortAsTree")) && v->boolean;
	int filter_tree = (v = jmap_arg(c, "filterAsTree")) && v->boolean;
	struct jmap_mailbox **all = arena_alloc(c->r->a, (m.n + 1) * sizeof *all),
			    **hit = arena_alloc(c->r->a, (m.n + 1) * sizeof *hit);
	char *match = arena_zalloc(c->r->a, m.n + 1);
	size_t n = 0;

	for (size_t i = 0; i < m.n; i++) {
		int r = filter ? jmap_filter_match(c, filter, mailbox_cond, &m.v[i]) : 1;
		if (r < 0)
			return -1;
		match[i] = (char)r;
	}
	/* filterAsTree: a mailbox shows only when its parents all match. */
	char *shown = match;
	if (filter_tree) {
		shown = arena_zalloc(c->r->a, m.n + 1);
		tree_filter(c->r->a, &m, match, shown);
	}
	for (size_t i = 0; i < m.n; i++)
		if (shown[i])
			hit[n++] = &m.v[i];
	pthread_mutex_lock(&sort_mu);
	sort_ctx = s;
	qsort(hit, n, sizeof *hit, cmp_mb);
	pthread_mutex_unlock(&sort_mu);
	if (as_tree) {
		n = tree_order(c->r->a, hit, n, all);
		memcpy(hit, all, n * sizeof *hit);
	}
	*hit_r = hit;
	*n_r = n;
	return 0;
}

void jmap_mailbox_query(struct jmap_call *c)
{
	struct sorting s = {.n = 0};
	struct jmap_mailbox **hit;
	char state[24];
	size_t n, pos, end;

	if (jmap_args_check(c, query_args, sizeof query_args / sizeof query_args[0]) < 0 ||
	    sort_parse(c, &s) < 0 || jmap_state(c, state) < 0 || mailbox_run(c, &s, &hit, &n) < 0 ||
	    jmap_query_window(c, n, is_anchor, hit, &pos, &end) < 0)
		return;
	jmap_query_begin(c, state, 1, pos);
	for (size_t i = pos; i < end; i++)
		jmap_w_id(&c->w, 'M', hit[i]->id);
	jmap_query_end(c, n);
}

static const struct jmap_arg qc_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},     {"filter", JA_OBJECT, JA_NULLABLE},
    {"sort", JA_ARRAY, JA_NULLABLE},       {"sinceQueryState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE},  {"upToId", JA_ID, JA_NULLABLE},
    {"calculateTotal", JA_BOOL, 0},        {"sortAsTree", JA_BOOL, 0},
    {"filterAsTree", JA_BOOL, 0},
};

/* The mailboxes the change log names since the old state (created,
 * renamed, given a role, a subscription or a sort order, destroyed):
 * what a query's filter and sort read. Email changes move only counts,
 * which no filter or sort reads. */
struct mb_changed {
	uint32_t *ids;
	size_t n, cap;
	struct arena *a;
	/* In a shared account (jmap_share.c): a mailbox without "l" is
	 * none for the user, its changes untold; a destroyed one is told
	 * whatever (its grant went with it), an id alone, as
	 * Mailbox/changes tells it, and so is one whose "l" a grant change
	 * of the user's took away (removed from the results: it is in none
	 * now). NULL in the user's own. */
	const struct jmap_request *r;
};

static int mb_changed_cb(void *arg, const struct store_change *sc)
{
	struct mb_changed *ch = arg;
	if (sc->kind != STORE_CHANGE_MAILBOX_CREATED && sc->kind != STORE_CHANGE_MAILBOX_UPDATED &&
	    sc->kind != STORE_CHANGE_MAILBOX_DESTROYED)
		return 0;
	if (ch->r && sc->kind != STORE_CHANGE_MAILBOX_DESTROYED &&
	    !(jmap_rights(ch->r, sc->id) & STORE_ACL_L) && !jmap_share_grant_mine(ch->r, sc))
		return 0;
	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? 2 * ch->cap : 16;
		uint32_t *v = arena_alloc(ch->a, cap * sizeof *v);
		if (ch->n)
			memcpy(v, ch->ids, ch->n * sizeof *v);
		ch->ids = v;
		ch->cap = cap;
	}
	ch->ids[ch->n++] = sc->id;
	return 0;
}

void jmap_mailbox_query_changes(struct jmap_call *c)
{
	struct sorting s = {.n = 0};
	struct mb_changed ch = {.a = c->r->a, .r = c->r->share ? c->r : NULL};
	struct jmap_mailbox **hit;
	const struct json_value *v;
	char state[24];
	uint64_t since, now;
	size_t n;

	if (jmap_args_check(c, qc_args, sizeof qc_args / sizeof qc_args[0]) < 0 ||
	    sort_parse(c, &s) < 0 || jmap_state(c, state) < 0)
		return;
	jmap_state_parse(state, &now);
	if (jmap_state_parse(jmap_arg(c, "sinceQueryState")->str, &since) < 0 || since > now ||
	    !jmap_state_answerable(c, since)) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return;
	}
	if (store_changes_since(c->r->st, c->r->account, since, mb_changed_cb, &ch) != STORE_OK) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	/* In a tree a moved parent takes its children along (sortAsTree),
	 * one that stops matching hides them (filterAsTree), though they
	 * did not change themselves. */
	if (ch.n && (((v = jmap_arg(c, "sortAsTree")) && v->boolean) ||
		     ((v = jmap_arg(c, "filterAsTree")) && v->boolean))) {
		jmap_error(c, "cannotCalculateChanges", "a mailbox changed under a tree query");
		return;
	}
	if (mailbox_run(c, &s, &hit, &n) < 0)
		return;
	uint32_t *res = arena_alloc(c->r->a, (n + 1) * sizeof *res);
	for (size_t i = 0; i < n; i++)
		res[i] = hit[i]->id;
	jmap_query_changes_end(c, state, 'M', ch.ids, ch.n, res, n);
}
