/*
 * jmap_mailbox_changes.c — Mailbox/changes (RFC 8621 §2.2, RFC 8620 §5.2).
 *
 * The change log names mailboxes directly (created, updated, destroyed:
 * a rename, a role, a subscription, a sort order) and through email
 * changes, which move the counts of the mailbox the entry names. A
 * keyword change names one membership of the email, but the counts of
 * every mailbox the email is in move: those are read from the email as
 * it is when asked. updatedProperties is the four counts when every
 * mailbox told updated was named by email changes alone, else null.
 *
 * Paging (maxChanges). A place in the log is every change before step
 * N (one modseq) and, of step N's mailboxes, those whose id is at most
 * X: spelled "N" (the whole step) or "NmX". A step naming more mailboxes
 * than maxChanges (an IMAP RENAME of a parent with its children, a STORE
 * on emails each also in other mailboxes) is told in pages of mailboxes
 * in id order rather than refused with cannotCalculateChanges. By id and
 * not by count because the mailboxes of a keyword change are read when
 * asked: an email that moved between two pages changes the step's set,
 * and a count would then skip a mailbox the earlier page never told;
 * with ids every mailbox above X is still told (one the email left or
 * joined is named by the later change that moved it as well). "m" keeps
 * these apart from Email/changes' "N.K": each type refuses the other's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct mb_change {
	uint32_t id;
	unsigned created : 1, updated : 1, destroyed : 1, counts_only : 1;
};

/* Mailboxes, each once, found by id through idx (jmap_idx.c). */
struct mset {
	struct mb_change *v;
	size_t n, cap;
	struct jmap_idx idx;
};

static struct mb_change *mset_of(struct mset *s, uint32_t id)
{
	int added;
	size_t i = jmap_idx_place(&s->idx, id, s->n, &added);

	if (!added)
		return &s->v[i];
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n] = (struct mb_change){.id = id, .counts_only = 1};
	return &s->v[s->n++];
}

static void mset_clear(struct mset *s)
{
	jmap_idx_free(&s->idx);
	s->n = 0;
}

static void mset_free(struct mset *s)
{
	jmap_idx_free(&s->idx);
	free(s->v);
}

/* A place in the log: steps before step, and of step the mailboxes up
 * to id x (0: the whole step). */
struct mb_pos {
	uint64_t step;
	uint32_t x;
};

struct walk {
	struct mb_pos from, upto;
	uint64_t now, max;
	/* The emails of keyword changes, each once, and the mailboxes each
	 * is in now (by its place in kw). */
	uint32_t *kw;
	size_t nkw, capkw;
	struct jmap_idx kwidx;
	uint32_t **mbs;
	size_t *nmbs;
	/* The step being read and the answer so far. */
	uint64_t cur;
	struct mset step, ans;
	int full; /* maxChanges reached: upto is where the answer ends */
};

static int note_cb(void *arg, const struct store_change *sc)
{
	struct walk *w = arg;
	int added;

	if (sc->modseq > w->now)
		return 1;
	if (sc->kind != STORE_CHANGE_EMAIL_UPDATED)
		return 0;
	jmap_idx_place(&w->kwidx, sc->id, w->nkw, &added);
	if (!added)
		return 0;
	if (w->nkw == w->capkw) {
		w->capkw = w->capkw ? w->capkw * 2 : 64;
		w->kw = xrealloc(w->kw, w->capkw * sizeof *w->kw);
	}
	w->kw[w->nkw++] = sc->id;
	return 0;
}

static void mbs_cb(void *arg, size_t i, const struct store_email_brief *e)
{
	struct walk *w = arg;

	if (!e || !e->nmembers)
		return;
	w->mbs[i] = xmalloc(e->nmembers * sizeof **w->mbs);
	for (size_t k = 0; k < e->nmembers; k++) {
		const uint8_t *p = e->members + k * 8;
		w->mbs[i][w->nmbs[i]++] =
		    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct mb_change *)a)->id, y = ((const struct mb_change *)b)->id;
	return x < y ? -1 : x > y;
}

/* The step read (w->cur) joins the answer, in id order, as far as
 * maxChanges lets it; 1 when the answer is full. */
static int flush(struct walk *w)
{
	struct mset *s = &w->step;
	uint32_t last = 0;

	qsort(s->v, s->n, sizeof *s->v, by_id);
	for (size_t i = 0; i < s->n; i++) {
		const struct mb_change *e = &s->v[i];
		if (w->cur == w->from.step && w->from.x && e->id <= w->from.x)
			continue; /* told by the page that ended at from */
		if (w->max && w->ans.n == w->max && jmap_idx_find(&w->ans.idx, e->id) == SIZE_MAX) {
			if (last)
				w->upto = (struct mb_pos){w->cur, last};
			w->full = 1;
			return 1;
		}
		struct mb_change *a = mset_of(&w->ans, e->id);
		a->created |= e->created;
		a->updated |= e->updated;
		a->destroyed |= e->destroyed;
		a->counts_only &= e->counts_only;
		last = e->id;
	}
	w->upto = (struct mb_pos){w->cur, 0};
	mset_clear(s);
	return 0;
}

static int step_cb(void *arg, const struct store_change *sc)
{
	struct walk *w = arg;

	if (sc->modseq > w->now)
		return 1;
	if (sc->modseq != w->cur) {
		if (w->step.n && flush(w))
			return 1;
		w->cur = sc->modseq;
	}
	if (sc->kind == STORE_CHANGE_EMAIL_THREAD)
		return 0; /* names no mailbox */
	if (sc->kind >= STORE_CHANGE_MAILBOX_CREATED) {
		struct mb_change *m = mset_of(&w->step, sc->id);
		m->created |= sc->kind == STORE_CHANGE_MAILBOX_CREATED;
		m->updated |= sc->kind == STORE_CHANGE_MAILBOX_UPDATED;
		m->destroyed |= sc->kind == STORE_CHANGE_MAILBOX_DESTROYED;
		m->counts_only = 0;
		return 0;
	}
	mset_of(&w->step, sc->mailbox)->updated = 1;
	if (sc->kind == STORE_CHANGE_EMAIL_UPDATED) {
		size_t i = jmap_idx_find(&w->kwidx, sc->id);
		for (size_t k = 0; i != SIZE_MAX && k < w->nmbs[i]; k++)
			mset_of(&w->step, w->mbs[i][k])->updated = 1;
	}
	return 0;
}

/* "N" or "NmX" (N, X > 0); 0 or -1. */
static int pos_parse(const char *s, struct mb_pos *p)
{
	struct jmap_pos jp;

	if (jmap_pos_parse_sep(s, 'm', &jp) < 0 || jp.skip > UINT32_MAX)
		return -1;
	*p = (struct mb_pos){jp.step, (uint32_t)jp.skip};
	return 0;
}

static void write_ids(struct jw *w, const char *key, const struct mset *s, int which)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < s->n; i++) {
		const struct mb_change *m = &s->v[i];
		int show = which == 0   ? m->created && !m->destroyed
			   : which == 1 ? !m->created && !m->destroyed && m->updated
					: m->destroyed && !m->created;
		if (show)
			jmap_w_id(w, 'M', m->id);
	}
	jw_arr_end(w);
}

void jmap_mailbox_changes(struct jmap_call *c)
{
	char state[24], newstate[48];
	uint64_t since;
	struct walk w = {0};
	const struct json_value *ss = jmap_arg(c, "sinceState");
	int rc;

	/* A place inside a step is checked as the state before that step. */
	if (ss && ss->type == JSON_STRING && pos_parse(ss->str, &w.from) == 0 && w.from.x) {
		char head[24];
		snprintf(head, sizeof head, "%llu", (unsigned long long)(w.from.step - 1));
		if (jmap_changes_begin_at(c, head, state, &since, &w.now, &w.max) < 0)
			return;
		if (w.from.step > w.now) {
			jmap_error(c, "cannotCalculateChanges", NULL);
			return;
		}
	} else {
		if (jmap_changes_begin(c, state, &since, &w.now, &w.max) < 0)
			return;
		w.from = (struct mb_pos){since, 0};
	}
	w.upto = w.from;
	rc = store_changes_since(c->r->st, c->r->account, since, note_cb, &w);
	if (rc == STORE_OK && w.nkw) {
		w.mbs = xcalloc(w.nkw, sizeof *w.mbs);
		w.nmbs = xcalloc(w.nkw, sizeof *w.nmbs);
		rc = store_emails_get(c->r->st, c->r->account, w.kw, w.nkw, mbs_cb, &w);
	}
	if (rc == STORE_OK)
		rc = store_changes_since(c->r->st, c->r->account, since, step_cb, &w);
	if (rc == STORE_OK && !w.full && (!w.step.n || !flush(&w)))
		w.upto = (struct mb_pos){w.now, 0};
	for (size_t i = 0; i < w.nkw; i++)
		free(w.mbs ? w.mbs[i] : NULL);
	free(w.mbs);
	free(w.nmbs);
	free(w.kw);
	jmap_idx_free(&w.kwidx);
	mset_free(&w.step);
	if (rc != STORE_OK) {
		mset_free(&w.ans);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	if (w.upto.x)
		snprintf(newstate, sizeof newstate, "%llum%u", (unsigned long long)w.upto.step,
			 (unsigned)w.upto.x);
	else
		snprintf(newstate, sizeof newstate, "%llu", (unsigned long long)w.upto.step);

	/* updatedProperties: the counts alone when nothing else changed. */
	int only_counts = 0;
	for (size_t i = 0; i < w.ans.n; i++) {
		const struct mb_change *m = &w.ans.v[i];
		if (!m->created && !m->destroyed && m->updated) {
			if (!m->counts_only) {
				only_counts = 0;
				break;
			}
			only_counts = 1;
		}
	}
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", ss->str);
	jw_kstr(&c->w, "newState", newstate);
	jw_kbool(&c->w, "hasMoreChanges", w.upto.step != w.now || w.upto.x);
	write_ids(&c->w, "created", &w.ans, 0);
	write_ids(&c->w, "updated", &w.ans, 1);
	write_ids(&c->w, "destroyed", &w.ans, 2);
	jw_key(&c->w, "updatedProperties");
	if (only_counts) {
		jw_arr_begin(&c->w);
		jw_str(&c->w, "totalEmails");
		jw_str(&c->w, "unreadEmails");
		jw_str(&c->w, "totalThreads");
		jw_str(&c->w, "unreadThreads");
		jw_arr_end(&c->w);
	} else {
		jw_null(&c->w);
	}
	jw_obj_end(&c->w);
	mset_free(&w.ans);
}
