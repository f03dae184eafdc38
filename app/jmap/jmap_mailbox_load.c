/*
 * jmap_mailbox_load.c — an account's mailboxes as JMAP sees them, read
 * once per method: the store's list with each one's leaf name, parent and
 * counts (RFC 8621 §2.1). Shared by Mailbox/get, /query and /set.
 *
 * Shared accounts (jmap_share.c): a mailbox the user holds no "l" on is
 * not there (RFC 4314 §6), so a visible mailbox under one hangs from the
 * nearest ancestor the user sees, or is at the top (parentId null): RFC
 * 8621 §2 makes parentId a Mailbox the client can fetch, and names no
 * mailbox the user cannot see. The counts are the mailbox's own: its
 * emails are all readable or none ("r" is the mailbox's). Without "r"
 * (a mailbox looked up, not read) they are 0: what it holds is not the
 * user's to know, as IMAP's STATUS answers only with "r" (RFC 4314 §4).
 *
 * Counts: the store keeps them with every write (store_counts.c), so
 * loading them is one record per mailbox.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct jmap_mailbox *jmap_mailboxes_add(struct jmap_mailboxes *m)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct jmap_mailbox *nb = arena_zalloc(m->a, cap * sizeof *nb);
		if (m->n)
			memcpy(nb, m->v, m->n * sizeof *nb);
		m->v = nb;
		m->cap = cap;
	}
	struct jmap_mailbox *b = &m->v[m->n++];
	memset(b, 0, sizeof *b);
	b->rights = STORE_ACL_ALL; /* the owner's; jmap_mailboxes_view narrows */
	return b;
}

static void list_cb(void *arg, const struct store_mailbox_info *i)
{
	struct jmap_mailboxes *m = arg;
	struct jmap_mailbox *b = jmap_mailboxes_add(m);

	b->id = i->id;
	b->full = arena_strdup(m->a, i->name);
	const char *slash = strrchr(b->full, '/');
	b->leaf = slash ? slash + 1 : b->full;
	b->parent = i->parent;
	b->role = arena_strdup(m->a, i->role ? i->role : "");
	b->subscribed = i->subscribed;
	b->messages = i->messages;
	b->uidvalidity = i->uidvalidity;
	b->total = i->total_emails;
	b->unread = i->unread_emails;
	b->threads = i->total_threads;
	b->unread_threads = i->unread_threads;
	b->sort_order = i->sort_order;
}

int jmap_mailboxes_load(struct store *st, uint32_t account, struct arena *a,
			struct jmap_mailboxes *m)
{
	memset(m, 0, sizeof *m);
	m->a = a;
	return store_mailbox_list(st, account, list_cb, m) == STORE_OK ? 0 : -1;
}

struct subs_ctx {
	struct jmap_mailboxes *m;
	const char *prefix; /* "Shared/OWNER/" */
	size_t plen;
};

static void subs_cb(void *arg, const char *name)
{
	struct subs_ctx *x = arg;

	if (strncmp(name, x->prefix, x->plen) != 0)
		return;
	for (size_t i = 0; i < x->m->n; i++)
		if (strcmp(x->m->v[i].full, name + x->plen) == 0)
			x->m->v[i].subscribed = 1;
}

/* The nearest ancestor of b that the user sees, 0 when none; the walk is
 * bounded by the mailboxes (a parent chain never loops, but a broken
 * store must not hang a request). */
static uint32_t visible_parent(const struct jmap_request *r, struct jmap_mailboxes *m,
			       const struct jmap_mailbox *b)
{
	uint32_t p = b->parent;

	for (size_t steps = 0; p && steps < m->n; steps++) {
		if (jmap_rights(r, p))
			return p;
		const struct jmap_mailbox *a = jmap_mailbox_by_id(m, p);
		p = a ? a->parent : 0;
	}
	return 0;
}

int jmap_mailboxes_view(const struct jmap_request *r, struct jmap_mailboxes *m)
{
	return jmap_mailboxes_view_in(r, r->a, m);
}

int jmap_mailboxes_view_in(const struct jmap_request *r, struct arena *a,
			   struct jmap_mailboxes *m)
{
	char owner[320], prefix[340];
	size_t k = 0;

	if (jmap_mailboxes_load(r->st, r->account, a, m) < 0)
		return -1;
	if (!r->share)
		return 0;
	if (store_account_email(r->st, r->account, owner, sizeof owner) != STORE_OK)
		return -1;
	/* Parents first, while every mailbox is still in the list. */
	uint32_t *parent = arena_alloc(a, (m->n + 1) * sizeof *parent);
	for (size_t i = 0; i < m->n; i++)
		parent[i] = visible_parent(r, m, &m->v[i]);
	for (size_t i = 0; i < m->n; i++) {
		uint32_t rights = jmap_rights(r, m->v[i].id);
		if (!rights)
			continue;
		m->v[k] = m->v[i];
		m->v[k].parent = parent[i];
		m->v[k].rights = rights;
		m->v[k].subscribed = 0; /* the owner's is not the user's */
		if (!jmap_may_read(r, m->v[i].id)) {
			m->v[k].total = m->v[k].unread = 0;
			m->v[k].threads = m->v[k].unread_threads = 0;
		}
		k++;
	}
	m->n = k;
	snprintf(prefix, sizeof prefix, "%s/%s/", STORE_SHARED_ROOT, owner);
	struct subs_ctx x = {m, prefix, strlen(prefix)};
	return store_subscription_list(r->st, r->user, subs_cb, &x) == STORE_OK ? 0 : -1;
}

struct jmap_mailbox *jmap_mailbox_by_id(struct jmap_mailboxes *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}
