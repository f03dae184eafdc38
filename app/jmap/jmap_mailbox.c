/*
 * jmap_mailbox.c — Mailbox/get, /changes, /query, /queryChanges
 * (RFC 8621 §2). Mailbox/set is in jmap_mailbox_set.c.
 *
 * Names: a JMAP mailbox has its own name and a parentId; the store keeps
 * IMAP's full names with "/" between levels, so name is the last level.
 * sortOrder is the store's (0 unless a client set one; IMAP has none).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

static const char *const props[] = {
    "id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails",
    "totalThreads", "unreadThreads", "myRights", "isSubscribed",
};
#define NPROPS (sizeof props / sizeof props[0])

void jmap_mailbox_w_rights(struct jw *w, const struct jmap_mailbox *b)
{
	int inbox = strcmp(b->role, "inbox") == 0;

	jw_obj_begin(w);
	jw_kbool(w, "mayReadItems", 1);
	jw_kbool(w, "mayAddItems", 1);
	jw_kbool(w, "mayRemoveItems", 1);
	jw_kbool(w, "maySetSeen", 1);
	jw_kbool(w, "maySetKeywords", 1);
	jw_kbool(w, "mayCreateChild", 1);
	jw_kbool(w, "mayRename", !inbox);
	jw_kbool(w, "mayDelete", !inbox);
	jw_kbool(w, "maySubmit", 1);
	jw_obj_end(w);
}

static void write_mailbox(struct jw *w, const struct jmap_mailbox *b, unsigned want)
{
	jw_obj_begin(w);
	for (size_t p = 0; p < NPROPS; p++) {
		if (!(want & (1u << p)))
			continue;
		jw_key(w, props[p]);
		switch (p) {
		case 0: jmap_w_id(w, 'M', b->id); break;
		case 1: jw_str(w, b->leaf); break;
		case 2:
			if (b->parent)
				jmap_w_id(w, 'M', b->parent);
			else
				jw_null(w);
			break;
		case 3:
			if (b->role[0])
				jw_str(w, b->role);
			else
				jw_null(w);
			break;
		case 4: jw_uint(w, b->sort_order); break;
		case 5: jw_uint(w, b->total); break;
		case 6: jw_uint(w, b->unread); break;
		case 7: jw_uint(w, b->threads); break;
		case 8: jw_uint(w, b->unread_threads); break;
		case 9: jmap_mailbox_w_rights(w, b); break;
		case 10: jw_bool(w, b->subscribed); break;
		}
	}
	jw_obj_end(w);
}

const struct json_value *jmap_mailbox_json(struct arena *a, const struct jmap_mailbox *b)
{
	struct buf buf;
	struct jw w;

	buf_init(&buf, 64 * 1024);
	jw_init(&w, &buf);
	write_mailbox(&w, b, (1u << NPROPS) - 1);
	const struct json_value *v = jmap_json_of(a, &w, &buf);
	buf_free(&buf);
	return v;
}

/* The properties argument as a bit set (id always); -1 with the error set. */
static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDS, JA_NULLABLE},
    {"properties", JA_STRINGS, JA_NULLABLE},
};

static int mb_found(void *arg, const char *id)
{
	return jmap_mailbox_by_id(arg, jmap_id_num(id, 'M')) != NULL;
}

void jmap_mailbox_get(struct jmap_call *c)
{
	struct jmap_mailboxes m;
	char state[24];
	struct jmap_get g;

	if (jmap_get_begin(c, get_args, 3, props, NPROPS, &g) < 0)
		return;
	unsigned want = jmap_get_mask(&g, props, NPROPS);
	/* The state first: a change between it and the read shows again. */
	if (jmap_state(c, state) < 0)
		return;
	if (jmap_mailboxes_load(c->r->st, c->r->account, c->r->a, &m) < 0) {
		jmap_error(c, "serverFail", "the store could not be read");
		return;
	}
	/* ids null lists every mailbox, past maxObjectsInGet too: clients
	 * learn the folder tree from this one call (RFC 8621 §2 has no
	 * other way), and an account may hold TERN_MAX_MAILBOXES (1,000 by
	 * default) of them. Still bounded: the store refuses mailboxes past
	 * that setting (65,535 at most), all of them are loaded above for
	 * explicit ids anyway, and the answer is held to the request's
	 * response budget (jmap_api.c). */
	jmap_get_list(c, state);
	if (!g.ids)
		for (size_t i = 0; i < m.n; i++)
			write_mailbox(&c->w, &m.v[i], want);
	for (const struct json_value *e = g.ids ? g.ids->first : NULL; e; e = e->next) {
		struct jmap_mailbox *b = jmap_mailbox_by_id(&m, jmap_id_num(e->str, 'M'));
		if (b)
			write_mailbox(&c->w, b, want);
	}
	jmap_get_end(c, &g, mb_found, &m);
}

/* ---- Mailbox/changes ---- */

struct mb_change {
	uint32_t id;
	int created, updated, destroyed, counts_only;
};

/* The mailboxes in the order the log first names them (the answer's
 * order), found by id through idx (jmap_idx.c). */
struct changes {
	uint64_t upto;    /* entries above this modseq are left (0: none) */
	struct mb_change *v;
	size_t n, cap;
	struct jmap_idx idx;
	uint32_t *kw;     /* emails of keyword changes, each once */
	size_t nkw, capkw;
	struct jmap_idx kwidx;
};

static struct mb_change *change_of(struct changes *ch, uint32_t id)
{
	int added;
	size_t i = jmap_idx_place(&ch->idx, id, ch->n, &added);

	if (!added)
		return &ch->v[i];
	if (ch->n == ch->cap) {
		ch->cap = ch->cap ? ch->cap * 2 : 16;
		ch->v = xrealloc(ch->v, ch->cap * sizeof *ch->v);
	}
	ch->v[ch->n] = (struct mb_change){.id = id, .counts_only = 1};
	return &ch->v[ch->n++];
}

static void changes_free(struct changes *ch)
{
	free(ch->v);
	free(ch->kw);
	jmap_idx_free(&ch->idx);
	jmap_idx_free(&ch->kwidx);
}

/* Notes email (its keywords changed) for a read of the mailboxes it is
 * in: each email once, however often the log names it. */
static void kw_note(struct changes *ch, uint32_t email)
{
	int added;

	jmap_idx_place(&ch->kwidx, email, ch->nkw, &added);
	if (!added)
		return;
	if (ch->nkw == ch->capkw) {
		ch->capkw = ch->capkw ? ch->capkw * 2 : 64;
		ch->kw = xrealloc(ch->kw, ch->capkw * sizeof *ch->kw);
	}
	ch->kw[ch->nkw++] = email;
}

static int change_cb(void *arg, const struct store_change *sc)
{
	struct changes *ch = arg;

	if (ch->upto && sc->modseq > ch->upto)
		return 1;
	if (sc->kind == STORE_CHANGE_EMAIL_THREAD)
		return 0; /* names no mailbox */
	if (sc->kind >= STORE_CHANGE_MAILBOX_CREATED) {
		struct mb_change *m = change_of(ch, sc->id);
		m->created |= sc->kind == STORE_CHANGE_MAILBOX_CREATED;
		m->updated |= sc->kind == STORE_CHANGE_MAILBOX_UPDATED;
		m->destroyed |= sc->kind == STORE_CHANGE_MAILBOX_DESTROYED;
		m->counts_only = 0;
		return 0;
	}
	/* An email change moves the counts of the mailbox it names, and a
	 * keyword change those of every mailbox the email is in (the entry
	 * names one membership only): those are looked up after the walk. */
	change_of(ch, sc->mailbox)->updated = 1;
	if (sc->kind == STORE_CHANGE_EMAIL_UPDATED)
		kw_note(ch, sc->id);
	return 0;
}

/*
 * maxChanges: the last modseq up to which the mailboxes the answer names
 * stay within max. A keyword change's log entry names one membership of
 * the email, but the answer names every mailbox the email is in (their
 * unread counts move): the first pass counts what the entries name and
 * notes those emails, their mailboxes are read, and a second pass counts
 * them too, so the answer never names more than max (RFC 8620 5.2).
 */
struct bound {
	struct changes ids; /* only to count distinct mailboxes */
	uint64_t max, cur, upto;
	int over;
	struct changes *kw;       /* second pass: the emails the first noted */
	uint32_t **mbs;           /* ... and the mailboxes each is in, */
	size_t *nmbs;             /* by its place in kw->kw */
};

static int bound_cb(void *arg, const struct store_change *sc)
{
	struct bound *b = arg;

	if (sc->modseq != b->cur) {
		if (b->ids.n > b->max) {
			b->over = 1;
			return 1;
		}
		b->upto = b->cur;
		b->cur = sc->modseq;
	}
	if (sc->kind != STORE_CHANGE_EMAIL_THREAD)
		change_of(&b->ids, sc->kind >= STORE_CHANGE_MAILBOX_CREATED ? sc->id : sc->mailbox);
	if (sc->kind == STORE_CHANGE_EMAIL_UPDATED) {
		if (!b->kw) {
			kw_note(&b->ids, sc->id);
		} else {
			int added;
			struct changes *k = b->kw;
			size_t i = jmap_idx_place(&k->kwidx, sc->id, k->nkw, &added);
			for (size_t m = 0; i < k->nkw && m < b->nmbs[i]; m++)
				change_of(&b->ids, b->mbs[i][m]);
		}
	}
	return 0;
}

static void bound_mbs_cb(void *arg, size_t i, const struct store_email_brief *e)
{
	struct bound *b = arg;

	if (!e || !e->nmembers)
		return;
	b->mbs[i] = xmalloc(e->nmembers * sizeof **b->mbs);
	for (size_t k = 0; k < e->nmembers; k++) {
		const uint8_t *p = e->members + k * 8;
		b->mbs[i][b->nmbs[i]++] =
		    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
}

/* The bound for max from since into *upto_r (unchanged when everything
 * since fits); 1 when a single change names more than max mailboxes, -1
 * on a store error. */
static int bound_find(struct jmap_call *c, uint64_t since, uint64_t max, uint64_t *upto_r)
{
	struct bound b = {.max = max, .cur = since, .upto = since};
	int rc = store_changes_since(c->r->st, c->r->account, since, bound_cb, &b);
	int res = 0;

	if (rc == STORE_OK && b.ids.nkw) {
		struct bound b2 = {.max = max, .cur = since, .upto = since, .kw = &b.ids};
		b2.mbs = xcalloc(b.ids.nkw, sizeof *b2.mbs);
		b2.nmbs = xcalloc(b.ids.nkw, sizeof *b2.nmbs);
		rc = store_emails_get(c->r->st, c->r->account, b.ids.kw, b.ids.nkw, bound_mbs_cb,
				      &b2);
		if (rc == STORE_OK)
			rc = store_changes_since(c->r->st, c->r->account, since, bound_cb, &b2);
		for (size_t i = 0; i < b.ids.nkw; i++)
			free(b2.mbs[i]);
		free(b2.mbs);
		free(b2.nmbs);
		changes_free(&b.ids);
		b.ids = b2.ids;
		b.over = b2.over;
		b.upto = b2.upto;
	}
	if (rc != STORE_OK)
		res = -1;
	else if (b.over || b.ids.n > b.max)
		res = b.upto == since ? 1 : (*upto_r = b.upto, 0);
	changes_free(&b.ids);
	return res;
}

static void email_mbs_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct changes *ch = arg;
	(void)i;
	for (size_t k = 0; b && k < b->nmembers; k++) {
		const uint8_t *p = b->members + k * 8;
		change_of(ch, (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
		    ->updated = 1;
	}
}

static void write_ids(struct jw *w, const char *key, const struct mb_change *v, size_t n, int which)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		const struct mb_change *m = &v[i];
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
	char state[24], newstate[24];
	uint64_t since, now, upto, max;

	if (jmap_changes_begin(c, state, &since, &now, &max) < 0)
		return;
	upto = now;
	if (max) {
		int rc = bound_find(c, since, max, &upto);
		if (rc < 0) {
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (rc > 0) {
			jmap_error(c, "cannotCalculateChanges",
				   "a single change names more than maxChanges mailboxes");
			return;
		}
	}
	struct changes ch = {.upto = upto};
	if (store_changes_since(c->r->st, c->r->account, since, change_cb, &ch) != STORE_OK ||
	    (ch.nkw && store_emails_get(c->r->st, c->r->account, ch.kw, ch.nkw, email_mbs_cb, &ch) !=
			   STORE_OK)) {
		changes_free(&ch);
		jmap_error(c, "serverFail", NULL);
		return;
	}
	snprintf(newstate, sizeof newstate, "%llu", (unsigned long long)upto);

	/* updatedProperties: the counts alone when nothing else changed. */
	int only_counts = 0;
	for (size_t i = 0; i < ch.n; i++)
		if (!ch.v[i].created && !ch.v[i].destroyed && ch.v[i].updated) {
			if (!ch.v[i].counts_only) {
				only_counts = 0;
				break;
			}
			only_counts = 1;
		}
	jmap_begin(c);
	jw_kstr(&c->w, "oldState", jmap_arg(c, "sinceState")->str);
	jw_kstr(&c->w, "newState", newstate);
	jw_kbool(&c->w, "hasMoreChanges", upto != now);
	write_ids(&c->w, "created", ch.v, ch.n, 0);
	write_ids(&c->w, "updated", ch.v, ch.n, 1);
	write_ids(&c->w, "destroyed", ch.v, ch.n, 2);
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
	changes_free(&ch);
}
