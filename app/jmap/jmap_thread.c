/*
 * jmap_thread.c — Thread/get and Thread/changes (RFC 8621 §3). A thread
 * is the emails whose record carries its id (store_thread.c assigns them
 * at creation), oldest receivedAt first.
 *
 * Thread/get reads the thread index (store_thread_emails); ids null lists
 * every thread of the account's emails when there are at most
 * maxObjectsInGet (more: requestTooLarge, RFC 8620 §5.1). Thread/changes
 * follows the change log: a created email creates its thread (when its
 * thread id is its own id) or updates it; a destroyed email's record is
 * followed by its thread's (STORE_CHANGE_EMAIL_THREAD): that thread is
 * updated when emails are left in it, destroyed when none is (and
 * neither when it was also created in the range). A range holding a
 * destroy written before those thread entries existed answers
 * cannotCalculateChanges. More threads than maxChanges are told up to an
 * intermediate state (hasMoreChanges), inside one step when it alone
 * touches more (jmap_pos). An email moved or rekeyworded
 * leaves its thread unchanged (a Thread has only emailIds).
 *
 * In a shared account (jmap_share.c) a thread is the emails of it the
 * user may read, and Thread/changes follows those: an email created in
 * a mailbox the user may not read changes no thread for it, one moved
 * into or out of a mailbox it may read (an update naming one) may
 * change its thread's emailIds, which is updated when it still holds an
 * email the user may read, destroyed when not (it left the user's view).
 * A destroyed email's thread is told whatever its mailbox, as
 * Email/changes tells the email (an id a client does not know in
 * destroyed is harmless, RFC 8620 §5.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/xalloc.h"
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
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	g->v[g->n++] = (struct member){email, received};
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

struct missing {
	const char **v; /* the asked-for ids (their strings) with no thread */
	size_t n;
};

static int thread_found(void *arg, const char *id)
{
	const struct missing *m = arg;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i] == id)
			return 0;
	return 1;
}

static const char *const props[] = {"id", "emailIds"};

/* The distinct threads of the account's emails, in order, at most
 * JMAP_MAX_OBJECTS_IN_GET (more: over): a sorted array, so memory stays
 * that size whatever the account holds. */
struct thread_set {
	uint32_t *v;
	size_t n;
	int over;
	const struct jmap_request *r; /* only threads of emails it may read */
};

static void thread_set_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct thread_set *s = arg;

	(void)i;
	if (!b || s->over || !jmap_email_readable(s->r, b->members, b->nmembers))
		return;
	size_t lo = jmap_u32_lower(s->v, s->n, b->thread_id);
	if (lo < s->n && s->v[lo] == b->thread_id)
		return;
	if (s->n == JMAP_MAX_OBJECTS_IN_GET) {
		s->over = 1;
		return;
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
	s->v[lo] = b->thread_id;
	s->n++;
}

struct readable {
	const struct jmap_request *r;
	char *ok; /* per member */
};

static void readable_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct readable *x = arg;

	x->ok[i] = b && jmap_email_readable(x->r, b->members, b->nmembers);
}

/* In a shared account (jmap_share.c) a thread is the emails of it the
 * user may read: the others are dropped from g. 0 or -1 (store error). */
static int keep_readable(struct jmap_call *c, struct members *g)
{
	if (!c->r->share || !g->n)
		return 0;
	uint32_t *ids = xmalloc(g->n * sizeof *ids);
	struct readable x = {c->r, xmalloc(g->n)};
	for (size_t i = 0; i < g->n; i++)
		ids[i] = g->v[i].email;
	int rc = store_emails_get(c->r->st, c->r->account, ids, g->n, readable_cb, &x);
	size_t k = 0;
	for (size_t i = 0; rc == STORE_OK && i < g->n; i++)
		if (x.ok[i])
			g->v[k++] = g->v[i];
	if (rc == STORE_OK)
		g->n = k;
	free(ids);
	free(x.ok);
	return rc == STORE_OK ? 0 : -1;
}

/* Thread t into the list: 1, 0 when it holds no email (the user may
 * read), -1 with serverFail set. */
static int w_thread(struct jmap_call *c, uint32_t t, int want_emails, struct members *g)
{
	g->n = 0;
	if (t && (store_thread_emails(c->r->st, c->r->account, t, member_cb, g) != STORE_OK ||
		  keep_readable(c, g) < 0)) {
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	if (!g->n)
		return 0;
	qsort(g->v, g->n, sizeof *g->v, cmp_member);
	jw_obj_begin(&c->w);
	jw_key(&c->w, "id");
	jmap_w_id(&c->w, 'T', t);
	if (want_emails) {
		jw_key(&c->w, "emailIds");
		jw_arr_begin(&c->w);
		for (size_t i = 0; i < g->n; i++)
			jmap_w_id(&c->w, 'E', g->v[i].email);
		jw_arr_end(&c->w);
	}
	jw_obj_end(&c->w);
	return 1;
}

void jmap_thread_get(struct jmap_call *c)
{
	char state[24];
	struct jmap_get gt;
	struct thread_set all = {0};

	if (jmap_get_begin(c, get_args, 3, props, 2, &gt) < 0)
		return;
	int want_emails = jmap_get_wants(&gt, "emailIds");
	if (jmap_state(c, state) < 0)
		return;
	/* ids null: every thread, when there are at most maxObjectsInGet
	 * (RFC 8620 §5.1), as Email/get lists every email. */
	if (!gt.ids) {
		all.v = arena_alloc(c->r->a, JMAP_MAX_OBJECTS_IN_GET * sizeof *all.v);
		all.r = c->r;
		if (store_emails_all(c->r->st, c->r->account, thread_set_cb, &all) != STORE_OK) {
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (all.over) {
			jmap_error(c, "requestTooLarge", NULL);
			return;
		}
	}
	jmap_get_list(c, state);
	size_t nids = gt.ids ? gt.ids->count : 0;
	struct missing miss = {arena_alloc(c->r->a, (nids + 1) * sizeof *miss.v), 0};
	struct members g = {0};
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < all.n; i++)
		rc = w_thread(c, all.v[i], want_emails, &g);
	for (const struct json_value *e = gt.ids ? gt.ids->first : NULL; rc >= 0 && e; e = e->next)
		if ((rc = w_thread(c, jmap_id_num(e->str, 'T'), want_emails, &g)) == 0)
			miss.v[miss.n++] = e->str;
	free(g.v);
	if (rc >= 0)
		jmap_get_end(c, &gt, thread_found, &miss);
}

/* ---- Thread/changes ---- */

struct tchanges {
	struct jmap_pos from, to; /* the changes read: those after from, up to to */
	struct jmap_step step;
	uint32_t *created; /* email ids created since */
	size_t n, cap;
	uint32_t *touched; /* threads of emails destroyed since */
	size_t nt, capt;
	/* In a shared account the call's request (else NULL), and the
	 * emails an update in a mailbox the user may read named. */
	const struct jmap_request *r;
	uint32_t *moved;
	size_t nm, capm;
	uint32_t last_destroyed;
	size_t unresolved; /* destroys without their thread entry (older records) */
	/* The places the answer may end at, in order: inside a step after
	 * each of its emails but the last, then the step's end. */
	struct jmap_pos *pos;
	size_t np, capp;
	uint64_t last; /* the step of the last change read */
};

static void push_pos(struct tchanges *t, uint64_t modseq, uint64_t skip)
{
	if (t->np == t->capp) {
		t->capp = t->capp ? t->capp * 2 : 64;
		t->pos = xrealloc(t->pos, t->capp * sizeof *t->pos);
	}
	t->pos[t->np++] = (struct jmap_pos){modseq, skip};
}

static void push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = x;
}

static int tchange_cb(void *arg, const struct store_change *sc)
{
	struct tchanges *t = arg;

	if (sc->modseq > t->to.step)
		return 1;
	if (sc->kind != STORE_CHANGE_EMAIL_DESTROYED && sc->kind != STORE_CHANGE_EMAIL_THREAD &&
	    sc->kind != STORE_CHANGE_EMAIL_CREATED && !(t->r && sc->kind == STORE_CHANGE_EMAIL_UPDATED))
		return 0;
	if (t->r && (sc->kind == STORE_CHANGE_EMAIL_CREATED || sc->kind == STORE_CHANGE_EMAIL_UPDATED) &&
	    !jmap_may_read(t->r, sc->mailbox))
		return 0; /* in a mailbox the user does not read */
	/* A thread entry goes with its email (its uid). */
	uint32_t email = sc->kind == STORE_CHANGE_EMAIL_THREAD ? sc->uid : sc->id;
	size_t had = sc->modseq == t->step.cur ? t->step.n : 0;
	size_t i = jmap_step_place(&t->step, sc->modseq, email);
	if (!jmap_pos_after(&t->from, sc->modseq, i) || jmap_pos_after(&t->to, sc->modseq, i))
		return 0;
	if (t->last && sc->modseq != t->last)
		push_pos(t, t->last, 0);
	t->last = sc->modseq;
	/* A new email of the step: the answer may end before it. */
	if (i == had && i > (sc->modseq == t->from.step ? t->from.skip : 0))
		push_pos(t, sc->modseq, i);
	if (sc->kind == STORE_CHANGE_EMAIL_DESTROYED) {
		t->last_destroyed = sc->id;
		t->unresolved++;
	} else if (sc->kind == STORE_CHANGE_EMAIL_THREAD) {
		if (t->unresolved && sc->uid == t->last_destroyed)
			t->unresolved--;
		push_u32(&t->touched, &t->nt, &t->capt, sc->id);
	} else if (sc->kind == STORE_CHANGE_EMAIL_UPDATED) {
		push_u32(&t->moved, &t->nm, &t->capm, sc->id);
	} else {
		push_u32(&t->created, &t->n, &t->cap, sc->id);
	}
	return 0;
}

static void tchanges_free(struct tchanges *t)
{
	free(t->created);
	free(t->touched);
	free(t->moved);
	free(t->pos);
}

struct tlist {
	uint32_t *thread; /* per created email: its thread, 0 gone */
};

static void tlist_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct tlist *l = arg;
	l->thread[i] = b ? b->thread_id : 0;
}

static void count_cb(void *arg, uint32_t email, int64_t received)
{
	(void)email;
	(void)received;
	(*(size_t *)arg)++;
}

/* The emails of thread th the call may read (all in the user's own
 * account) into *n_r: 0, or -1 (store error). */
static int thread_size(struct jmap_call *c, uint32_t th, size_t *n_r)
{
	struct members g = {0};

	if (!c->r->share)
		return store_thread_emails(c->r->st, c->r->account, th, count_cb, n_r) == STORE_OK ? 0
											   : -1;
	int rc = store_thread_emails(c->r->st, c->r->account, th, member_cb, &g) == STORE_OK
		     ? keep_readable(c, &g)
		     : -1;
	*n_r = g.n;
	free(g.v);
	return rc;
}

/* What happened to each thread touched since (see the top of the file):
 * 0 created, 1 updated, 2 destroyed, -1 nothing to tell. */
enum { T_CREATED, T_UPDATED, T_DESTROYED };

/* The threads' fates from the changes after from up to to. */
struct tfates {
	uint32_t *th; /* distinct threads, ascending (arena) */
	int *what;    /* T_* or -1, per thread (arena) */
	size_t nd, ntell;
	struct jmap_pos *pos; /* tchanges' places, the caller's to free */
	size_t np;
};

/* 0, or -1 with serverFail or cannotCalculateChanges set on c. */
static int thread_fates(struct jmap_call *c, uint64_t since, struct jmap_pos from,
			struct jmap_pos to, struct tfates *f)
{
	struct tchanges t = {.from = from, .to = to, .r = c->r->share ? c->r : NULL};
	int moved = jmap_share_reads_moved(c->r, since, to.step);
	if (moved) {
		jmap_share_reads_error(c, moved);
		return -1;
	}
	int rc = store_changes_since(c->r->st, c->r->account, since, tchange_cb, &t);
	if (t.last)
		push_pos(&t, t.last, 0);
	jmap_idx_free(&t.step.idx);

	memset(f, 0, sizeof *f);
	if (rc != STORE_OK || t.unresolved) {
		tchanges_free(&t);
		if (rc != STORE_OK)
			jmap_error(c, "serverFail", NULL);
		else
			jmap_error(c, "cannotCalculateChanges",
				   "emails were destroyed since that state by an older version");
		return -1;
	}
	struct tlist l = {arena_zalloc(c->r->a, (t.n + 1) * sizeof *l.thread)};
	struct tlist lm = {arena_zalloc(c->r->a, (t.nm + 1) * sizeof *lm.thread)};
	if ((t.n && store_emails_get(c->r->st, c->r->account, t.created, t.n, tlist_cb, &l) !=
			STORE_OK) ||
	    (t.nm && store_emails_get(c->r->st, c->r->account, t.moved, t.nm, tlist_cb, &lm) !=
			 STORE_OK)) {
		tchanges_free(&t);
		jmap_error(c, "serverFail", NULL);
		return -1;
	}
	/* Distinct threads: of the emails created (still there) and of those
	 * destroyed. A thread's id is its first email's: it was created in
	 * the range when that email was. */
	size_t nd = 0;
	uint32_t *th = arena_alloc(c->r->a, (t.n + t.nt + t.nm + 1) * sizeof *th);
	int *what = arena_zalloc(c->r->a, (t.n + t.nt + t.nm + 1) * sizeof *what);
	for (size_t i = 0; i < t.n + t.nt; i++) {
		uint32_t x = i < t.n ? l.thread[i] : t.touched[i - t.n];
		if (x)
			th[nd++] = x;
	}
	for (size_t i = 0; i < t.nm; i++)
		if (lm.thread[i])
			th[nd++] = lm.thread[i];
	nd = jmap_u32_sort_unique(th, nd);
	size_t ncreated = jmap_u32_sort_unique(t.created, t.n);
	for (size_t j = 0; j < nd; j++) {
		size_t members = 0;
		if (thread_size(c, th[j], &members) < 0) {
			tchanges_free(&t);
			jmap_error(c, "serverFail", NULL);
			return -1;
		}
		int born = jmap_u32_has(t.created, ncreated, th[j]);
		what[j] = members ? (born ? T_CREATED : T_UPDATED) : (born ? -1 : T_DESTROYED);
		f->ntell += what[j] >= 0;
	}
	free(t.created);
	free(t.touched);
	free(t.moved);
	f->th = th;
	f->what = what;
	f->nd = nd;
	f->pos = t.pos;
	f->np = t.np;
	return 0;
}

void jmap_thread_changes(struct jmap_call *c)
{
	char state[24], newstate[48];
	uint64_t since, now, max;
	struct jmap_pos from, upto;
	struct tfates f;

	if (jmap_changes_begin_pos(c, state, &from, &since, &now, &max) < 0)
		return;
	upto = (struct jmap_pos){now, 0};
	if (thread_fates(c, since, from, upto, &f) < 0)
		return;
	/*
	 * More than maxChanges: the answer up to an intermediate place, the
	 * latest of the range whose answer fits (RFC 8620 §5.2), found by
	 * bisection over the places the range may end at (the end of each
	 * step, and inside one after each of its emails: a later one
	 * touches as many threads or more). The fates are today's, as for
	 * the whole range: a thread created and emptied later is told
	 * destroyed in a later page (a client ignores a destroyed id it
	 * never had). Only a single email touching more threads than
	 * maxChanges (none does: an email has one thread) could not be
	 * told.
	 */
	if (max && f.ntell > max) {
		struct jmap_pos *pos = f.pos;
		size_t lo = 0, hi = f.np; /* pos[lo - 1] fits; pos[hi..) do not */
		f.pos = NULL;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			struct tfates g;
			if (thread_fates(c, since, from, pos[mid], &g) < 0) {
				free(pos);
				return;
			}
			free(g.pos);
			if (g.ntell <= max)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo) {
			free(pos);
			jmap_error(c, "cannotCalculateChanges",
				   "a single change touches more than maxChanges threads");
			return;
		}
		upto = pos[lo - 1];
		free(pos);
		if (thread_fates(c, since, from, upto, &f) < 0)
			return;
	}
	free(f.pos);
	jmap_pos_format(&upto, newstate);
	int more = upto.step != now || upto.skip;
	static const char *const names[] = {"created", "updated", "destroyed"};
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", jmap_arg(c, "sinceState")->str);
	jw_kstr(&c->w, "newState", more ? newstate : state);
	jw_kbool(&c->w, "hasMoreChanges", more);
	for (int pass = T_CREATED; pass <= T_DESTROYED; pass++) {
		jw_key(&c->w, names[pass]);
		jw_arr_begin(&c->w);
		for (size_t j = 0; j < f.nd; j++)
			if (f.what[j] == pass)
				jmap_w_id(&c->w, 'T', f.th[j]);
		jw_arr_end(&c->w);
	}
	jw_obj_end(&c->w);
}
