/*
 * jmap_mailbox_load.c — an account's mailboxes as JMAP sees them, read
 * once per method: the store's list with each one's leaf name, parent and
 * counts (RFC 8621 §2.1). Shared by Mailbox/get, /query and /set.
 *
 * Counts: the store keeps them with every write (store_counts.c), so
 * loading them is one record per mailbox.
 */
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
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

struct jmap_mailbox *jmap_mailbox_by_id(struct jmap_mailboxes *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}
