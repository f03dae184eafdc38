/*
 * jmap_mailbox_changes.c — Mailbox/changes (RFC 8621 §2.2, RFC 8620 §5.2).
 *
 * The change log names mailboxes directly (created, updated, destroyed:
 * a rename, a role, a subscription, a sort order) and through email
 * changes, which move the counts of the mailbox the entry names. A
 * keyword change names one membership of the email, but the counts of
 * every mailbox the email is in move, and a thread's unread state shows
 * in every mailbox the thread is in: those mailboxes are read from the
 * emails and threads as they are when asked. A step of keyword changes
 * that moved no count (its record says so, STORE_CHANGE_EMAIL_QUIET)
 * names no mailbox: a flag is no Mailbox property. updatedProperties is the
 * four counts when every mailbox told updated was named by email
 * changes alone, else null.
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
 *
 * In a shared account the log is the owner's; only the mailboxes the
 * user sees are told created or updated (write_ids). A grant given or
 * taken away writes a Mailbox update of its mailbox to it (store_acl.c):
 * the owner and every grantee see it updated (shareWith, myRights), and
 * the grantee whose grant it was (or every user, for anyone's) sees it
 * destroyed when "l" went, updated when it sees it now.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct mb_change {
	uint32_t id;
	unsigned created : 1, updated : 1, destroyed : 1, counts_only : 1;
	/* A grant of the user's (or anyone's) on it changed (a shared
	 * account's call only): told destroyed when the user sees it no
	 * more (write_ids). */
	unsigned grant : 1;
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

/* Emails or threads, each once, found by id through idx, each with the
 * mailboxes it is in now and (an email) its thread. */
struct known {
	uint32_t *id, *thread, **mbs;
	size_t *nmbs, n, cap;
	struct jmap_idx idx;
};

static size_t known_place(struct known *k, uint32_t id)
{
	int added;
	size_t i = jmap_idx_place(&k->idx, id, k->n, &added);

	if (!added)
		return i;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->id = xrealloc(k->id, k->cap * sizeof *k->id);
		k->thread = xrealloc(k->thread, k->cap * sizeof *k->thread);
		k->mbs = xrealloc(k->mbs, k->cap * sizeof *k->mbs);
		k->nmbs = xrealloc(k->nmbs, k->cap * sizeof *k->nmbs);
	}
	k->id[i] = id;
	k->thread[i] = 0;
	k->mbs[i] = NULL;
	k->nmbs[i] = 0;
	k->n++;
	return i;
}

/* Adds mailbox mb to entry i's, once. */
static void known_mb(struct known *k, size_t i, uint32_t mb)
{
	for (size_t m = 0; m < k->nmbs[i]; m++)
		if (k->mbs[i][m] == mb)
			return;
	if (!(k->nmbs[i] & (k->nmbs[i] + 1)) || !k->mbs[i]) /* 0, 1, 3, 7...: grow */
		k->mbs[i] = xrealloc(k->mbs[i], (k->nmbs[i] * 2 + 2) * sizeof **k->mbs);
	k->mbs[i][k->nmbs[i]++] = mb;
}

static void known_free(struct known *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->mbs[i]);
	free(k->id);
	free(k->thread);
	free(k->mbs);
	free(k->nmbs);
	jmap_idx_free(&k->idx);
}

struct walk {
	const struct jmap_request *r;
	struct mb_pos from, upto;
	uint64_t now, max;
	/* The emails the log names (created, updated; a destroyed one by its
	 * thread entry) and their threads: an email's change moves the
	 * counts of every mailbox it is in (a keyword change's entry names
	 * one) and, through unreadThreads (RFC 8621 §2: a thread is unread
	 * in each mailbox it is in when an email of it anywhere but the
	 * trash is unread), of every mailbox its thread is in. */
	struct known emails, threads;
	/* The step being read and the answer so far. */
	uint64_t cur;
	struct mset step, ans;
	int full; /* maxChanges reached: upto is where the answer ends */
};

static int note_cb(void *arg, const struct store_change *sc)
{
	struct walk *w = arg;

	if (sc->modseq > w->now)
		return 1;
	if (sc->kind == STORE_CHANGE_EMAIL_CREATED || sc->kind == STORE_CHANGE_EMAIL_UPDATED)
		known_place(&w->emails, sc->id);
	if (sc->kind == STORE_CHANGE_EMAIL_THREAD) {
		size_t i = known_place(&w->emails, sc->uid); /* may move thread[] */
		w->emails.thread[i] = sc->id;
		known_place(&w->threads, sc->id);
	}
	return 0;
}

static uint32_t member_mb(const struct store_email_brief *e, size_t k)
{
	const uint8_t *p = e->members + k * 8;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void emails_cb(void *arg, size_t i, const struct store_email_brief *e)
{
	struct walk *w = arg;

	if (!e)
		return;
	w->emails.thread[i] = e->thread_id;
	for (size_t k = 0; k < e->nmembers; k++)
		known_mb(&w->emails, i, member_mb(e, k));
}

/* The emails of every thread noted, and each one's thread's place. */
struct thread_emails {
	uint32_t *ids;
	size_t *of, n, cap, cur;
};

static void thread_email_cb(void *arg, uint32_t email, int64_t received_at)
{
	struct thread_emails *te = arg;
	(void)received_at;
	if (te->n == te->cap) {
		te->cap = te->cap ? te->cap * 2 : 64;
		te->ids = xrealloc(te->ids, te->cap * sizeof *te->ids);
		te->of = xrealloc(te->of, te->cap * sizeof *te->of);
	}
	te->ids[te->n] = email;
	te->of[te->n++] = te->cur;
}

struct thread_mbs {
	struct walk *w;
	struct thread_emails *te;
};

static void thread_mbs_cb(void *arg, size_t i, const struct store_email_brief *e)
{
	struct thread_mbs *tm = arg;
	for (size_t k = 0; e && k < e->nmembers; k++)
		known_mb(&tm->w->threads, tm->te->of[i], member_mb(e, k));
}

/* Reads what the walk noted: the emails' mailboxes and threads, then
 * the mailboxes of those threads. STORE_OK or a store error. */
static int read_known(struct store *st, uint32_t account, struct walk *w)
{
	int rc = STORE_OK;
	struct thread_emails te = {0};

	if (w->emails.n)
		rc = store_emails_get(st, account, w->emails.id, w->emails.n, emails_cb, w);
	for (size_t i = 0; rc == STORE_OK && i < w->emails.n; i++)
		if (w->emails.thread[i])
			known_place(&w->threads, w->emails.thread[i]);
	for (size_t t = 0; rc == STORE_OK && t < w->threads.n; t++) {
		te.cur = t;
		rc = store_thread_emails(st, account, w->threads.id[t], thread_email_cb, &te);
	}
	if (rc == STORE_OK && te.n) {
		struct thread_mbs tm = {w, &te};
		rc = store_emails_get(st, account, te.ids, te.n, thread_mbs_cb, &tm);
	}
	free(te.ids);
	free(te.of);
	return rc;
}

/* Marks the mailboxes of entry id of k (when known) updated in s. */
static void mark(struct mset *s, const struct known *k, uint32_t id)
{
	size_t i = jmap_idx_find(&k->idx, id);
	for (size_t m = 0; i != SIZE_MAX && m < k->nmbs[i]; m++)
		mset_of(s, k->mbs[i][m])->updated = 1;
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
		a->grant |= e->grant;
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
	if (sc->kind == STORE_CHANGE_EMAIL_THREAD) {
		mark(&w->step, &w->threads, sc->id); /* an email of it destroyed */
		return 0;
	}
	if (sc->kind == STORE_CHANGE_EMAIL_QUIET) {
		/* The step's keyword changes moved no count: no mailbox changed
		 * for them. They come first in a record, so a copy or removal
		 * of the same write (store_update.c) is marked after this. */
		mset_clear(&w->step);
		return 0;
	}
	if (sc->kind > STORE_CHANGE_EMAIL_THREAD)
		return 0; /* a kind this reader does not know */
	if (sc->kind >= STORE_CHANGE_MAILBOX_CREATED) {
		struct mb_change *m = mset_of(&w->step, sc->id);
		m->created |= sc->kind == STORE_CHANGE_MAILBOX_CREATED;
		m->updated |= sc->kind == STORE_CHANGE_MAILBOX_UPDATED;
		m->destroyed |= sc->kind == STORE_CHANGE_MAILBOX_DESTROYED;
		m->grant |= jmap_share_grant_mine(w->r, sc);
		m->counts_only = 0;
		return 0;
	}
	mset_of(&w->step, sc->mailbox)->updated = 1;
	if (sc->kind != STORE_CHANGE_EMAIL_DESTROYED) {
		size_t i = jmap_idx_find(&w->emails.idx, sc->id);
		mark(&w->step, &w->emails, sc->id);
		if (i != SIZE_MAX && w->emails.thread[i])
			mark(&w->step, &w->threads, w->emails.thread[i]);
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

/* In a shared account (jmap_share.c) a mailbox the user does not see
 * now is neither created nor updated for it; destroyed is told whatever
 * the grant was, as the grant goes with the mailbox, and for a mailbox a
 * grant of the user's changed that it sees no more ("l" taken away).
 * A change of counts alone is not told for a mailbox the user sees but
 * may not read ("l" without "r"): its counts are 0 for it whatever the
 * mailbox holds (jmap_mailbox_load.c), and telling them changed would
 * say that mail came or went.
 * One it sees after a grant change is told updated, not created: the
 * log does not tell whether it saw it before (its "l" may have come
 * from anyone's grant as well as its own), and RFC 8620 §5.2 lets
 * updated name an id the client never had (the client fetches it)
 * where created would make a second copy of one it had. */
static void write_ids(const struct jmap_request *r, struct jw *w, const char *key,
		      const struct mset *s, int which)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < s->n; i++) {
		const struct mb_change *m = &s->v[i];
		int show = which == 0	? m->created && !m->destroyed && jmap_rights(r, m->id)
			   : which == 1 ? !m->created && !m->destroyed && m->updated &&
					      jmap_rights(r, m->id) &&
					      (!m->counts_only || jmap_may_read(r, m->id))
					: (m->destroyed && !m->created) ||
						  (m->grant && !m->created && !m->destroyed &&
						   !jmap_rights(r, m->id));
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
	w.r = c->r;
	w.upto = w.from;
	rc = store_changes_since(c->r->st, c->r->account, since, note_cb, &w);
	if (rc == STORE_OK)
		rc = read_known(c->r->st, c->r->account, &w);
	if (rc == STORE_OK)
		rc = store_changes_since(c->r->st, c->r->account, since, step_cb, &w);
	if (rc == STORE_OK && !w.full && (!w.step.n || !flush(&w)))
		w.upto = (struct mb_pos){w.now, 0};
	known_free(&w.emails);
	known_free(&w.threads);
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
	write_ids(c->r, &c->w, "created", &w.ans, 0);
	write_ids(c->r, &c->w, "updated", &w.ans, 1);
	write_ids(c->r, &c->w, "destroyed", &w.ans, 2);
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
