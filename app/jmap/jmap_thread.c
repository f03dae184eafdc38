/*
 * jmap_thread.c — Thread/get and Thread/changes (RFC 8621 §3). A thread
 * is the emails whose record carries its id (store_thread.c assigns them
 * at creation), oldest receivedAt first.
 *
 * Thread/get reads the thread index (store_thread_emails). Thread/changes
 * follows the change log: a created email creates its thread (when its
 * thread id is its own id) or updates it; an email destroyed since leaves
 * no record of its thread, so such a range answers cannotCalculateChanges.
 * TODO(issue 36): the destroyed emails' threads kept for Thread/changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct member {
	uint32_t email;
	int64_t received;
};

struct members {
	struct member *v;
	size_t n, cap;
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	return x->email < y->email ? -1 : x->email > y->email;
}

static void member_cb(void *arg, uint32_t email, int64_t received)
{
	struct members *g = arg;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = realloc(g->v, g->cap * sizeof *g->v);
		if (!g->v)
			abort();
	}
	g->v[g->n++] = (struct member){email, received};
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

void jmap_thread_get(struct jmap_call *c)
{
	char state[24];

	if (jmap_args_check(c, get_args, 3) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "ids"), *pv = jmap_arg(c, "properties");
	int want_emails = !pv;
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next) {
		if (strcmp(e->str, "id") && strcmp(e->str, "emailIds")) {
			jmap_bad_arg(c, "properties", "unknown property");
			return;
		}
		want_emails |= !strcmp(e->str, "emailIds");
	}
	/* Listing every thread is not supported (RFC 8621 §3.1: ids null
	 * may be refused with requestTooLarge for types with many objects). */
	if (!ids || ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	if (jmap_state(c, state) < 0)
		return;
	jmap_begin(c);
	jw_kstr(&c->w, "state", state);
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
	const char **missing = arena_alloc(c->r->a, (ids->count + 1) * sizeof *missing);
	size_t nmissing = 0;
	struct members g = {0};
	for (const struct json_value *e = ids->first; e; e = e->next) {
		uint32_t t = jmap_id_num(e->str, 'T');
		g.n = 0;
		if (t && store_thread_emails(c->r->st, c->r->account, t, member_cb, &g) != STORE_OK) {
			free(g.v);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (!g.n) {
			missing[nmissing++] = e->str;
			continue;
		}
		qsort(g.v, g.n, sizeof *g.v, cmp_member);
		jw_obj_begin(&c->w);
		jw_key(&c->w, "id");
		jmap_w_id(&c->w, 'T', t);
		if (want_emails) {
			jw_key(&c->w, "emailIds");
			jw_arr_begin(&c->w);
			for (size_t i = 0; i < g.n; i++)
				jmap_w_id(&c->w, 'E', g.v[i].email);
			jw_arr_end(&c->w);
		}
		jw_obj_end(&c->w);
	}
	free(g.v);
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	jw_arr_begin(&c->w);
	for (size_t i = 0; i < nmissing; i++)
		jw_str(&c->w, missing[i]);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}

/* ---- Thread/changes ---- */

struct tchanges {
	uint32_t *created; /* email ids created since */
	size_t n, cap;
	int destroyed;
};

static int tchange_cb(void *arg, const struct store_change *sc)
{
	struct tchanges *t = arg;

	if (sc->kind == STORE_CHANGE_EMAIL_DESTROYED) {
		t->destroyed = 1;
		return 1;
	}
	if (sc->kind != STORE_CHANGE_EMAIL_CREATED)
		return 0;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->created = realloc(t->created, t->cap * sizeof *t->created);
		if (!t->created)
			abort();
	}
	t->created[t->n++] = sc->id;
	return 0;
}

struct tlist {
	uint32_t *thread; /* per created email: its thread, 0 gone */
	int *fresh;       /* the thread started with this email */
};

static void tlist_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct tlist *l = arg;
	l->thread[i] = b ? b->thread_id : 0;
	l->fresh[i] = b && b->thread_id == b->email_id;
}

static const struct jmap_arg changes_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"sinceState", JA_STRING, JA_REQUIRED},
    {"maxChanges", JA_UINT, JA_NULLABLE},
};

void jmap_thread_changes(struct jmap_call *c)
{
	char state[24];
	uint64_t since, now;

	if (jmap_args_check(c, changes_args, 3) < 0 || jmap_state(c, state) < 0)
		return;
	const struct json_value *mc = jmap_arg(c, "maxChanges");
	if (mc && mc->integer == 0) {
		jmap_bad_arg(c, "maxChanges", "maxChanges must be positive");
		return;
	}
	jmap_state_parse(state, &now);
	if (jmap_state_parse(jmap_arg(c, "sinceState")->str, &since) < 0 || since > now) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		return;
	}
	struct tchanges t = {0};
	if (store_changes_since(c->r->st, c->r->account, since, tchange_cb, &t) != STORE_OK) {
		free(t.created);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	if (t.destroyed) {
		free(t.created);
		jmap_error(c, "cannotCalculateChanges", "emails were destroyed since that state");
		return;
	}
	struct tlist l = {arena_zalloc(c->r->a, (t.n + 1) * sizeof *l.thread),
			  arena_zalloc(c->r->a, (t.n + 1) * sizeof *l.fresh)};
	if (t.n && store_emails_get(c->r->st, c->r->account, t.created, t.n, tlist_cb, &l) !=
		       STORE_OK) {
		free(t.created);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	free(t.created);
	/* Distinct threads: created when one of its emails started it. */
	size_t nd = 0;
	uint32_t *th = arena_alloc(c->r->a, (t.n + 1) * sizeof *th);
	int *cr = arena_zalloc(c->r->a, (t.n + 1) * sizeof *cr);
	for (size_t i = 0; i < t.n; i++) {
		size_t j;
		if (!l.thread[i])
			continue;
		for (j = 0; j < nd && th[j] != l.thread[i]; j++)
			;
		if (j == nd)
			th[nd++] = l.thread[i];
		cr[j] |= l.fresh[i];
	}
	if (mc && nd > (uint64_t)mc->integer) {
		jmap_error(c, "cannotCalculateChanges", "more than maxChanges threads changed");
		return;
	}
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", jmap_arg(c, "sinceState")->str);
	jw_kstr(&c->w, "newState", state);
	jw_kbool(&c->w, "hasMoreChanges", 0);
	for (int pass = 0; pass < 2; pass++) {
		jw_key(&c->w, pass ? "updated" : "created");
		jw_arr_begin(&c->w);
		for (size_t j = 0; j < nd; j++)
			if (cr[j] == !pass)
				jmap_w_id(&c->w, 'T', th[j]);
		jw_arr_end(&c->w);
	}
	jw_key(&c->w, "destroyed");
	jw_arr_begin(&c->w);
	jw_arr_end(&c->w);
	jw_obj_end(&c->w);
}
