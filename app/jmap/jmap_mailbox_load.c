/*
 * jmap_mailbox_load.c — an account's mailboxes as JMAP sees them, read
 * once per method: the store's list with each one's leaf name, parent and
 * counts (RFC 8621 §2.1). Shared by Mailbox/get, /query and /set.
 *
 * Counts: one pass over the account's emails, each counted once per
 * mailbox it is in (a message IMAP copied into the same mailbox twice
 * counts once), unread when it lacks $seen, and its thread counted once
 * per mailbox. TODO(issue 36): per-mailbox counters kept by the writer.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "jmap/jmap_mailbox.h"
#include "store/store.h"

static void list_cb(void *arg, const struct store_mailbox_info *i)
{
	struct jmap_mailboxes *m = arg;

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
	b->id = i->id;
	b->full = arena_strdup(m->a, i->name);
	const char *slash = strrchr(b->full, '/');
	b->leaf = slash ? slash + 1 : b->full;
	b->parent = i->parent;
	b->role = arena_strdup(m->a, i->role ? i->role : "");
	b->subscribed = i->subscribed;
	b->messages = i->messages;
	b->uidvalidity = i->uidvalidity;
}

struct pair {
	uint32_t mailbox, thread;
	int unread;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->mailbox != y->mailbox)
		return x->mailbox < y->mailbox ? -1 : 1;
	return x->thread < y->thread ? -1 : x->thread > y->thread;
}

struct counting {
	struct jmap_mailboxes *m;
	struct pair *p;
	size_t n, cap;
};

static void count_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct counting *c = arg;
	(void)i;
	if (!b)
		return;
	int unread = !store_keywords_has(b->keywords, b->keywords_len, "$seen");
	for (size_t k = 0; k < b->nmembers; k++) {
		uint32_t mb = (uint32_t)b->members[k * 8] << 24 | (uint32_t)b->members[k * 8 + 1] << 16 |
			      (uint32_t)b->members[k * 8 + 2] << 8 | b->members[k * 8 + 3];
		int dup = 0;
		for (size_t j = 0; j < k && !dup; j++)
			dup = memcmp(b->members + j * 8, b->members + k * 8, 4) == 0;
		if (dup)
			continue;
		struct jmap_mailbox *x = jmap_mailbox_by_id(c->m, mb);
		if (!x)
			continue;
		x->total++;
		x->unread += unread;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->p = realloc(c->p, c->cap * sizeof *c->p);
			if (!c->p)
				abort();
		}
		c->p[c->n++] = (struct pair){mb, b->thread_id, unread};
	}
}

int jmap_mailboxes_load(struct store *st, uint32_t account, struct arena *a, int counts,
			struct jmap_mailboxes *m)
{
	memset(m, 0, sizeof *m);
	m->a = a;
	if (store_mailbox_list(st, account, list_cb, m) != STORE_OK)
		return -1;
	if (!counts)
		return 0;
	struct counting c = {.m = m};
	int rc = store_emails_all(st, account, count_cb, &c);
	if (rc == STORE_OK && c.n) {
		qsort(c.p, c.n, sizeof *c.p, cmp_pair);
		for (size_t i = 0; i < c.n;) {
			size_t j = i;
			int unread = 0;
			while (j < c.n && c.p[j].mailbox == c.p[i].mailbox && c.p[j].thread == c.p[i].thread)
				unread |= c.p[j++].unread;
			struct jmap_mailbox *x = jmap_mailbox_by_id(m, c.p[i].mailbox);
			x->threads++;
			x->unread_threads += unread;
			i = j;
		}
	}
	free(c.p);
	return rc == STORE_OK ? 0 : -1;
}

struct jmap_mailbox *jmap_mailbox_by_id(struct jmap_mailboxes *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}
