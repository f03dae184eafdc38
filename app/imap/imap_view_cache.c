/*
 * imap_view_cache.c — recent mailbox snapshots kept across sessions. See
 * the header.
 *
 * A small array searched linearly (IMAP_VIEW_CACHE_ENTRIES entries, each
 * compared on three words): cheaper than a hash table at this size, and
 * eviction scans it for the oldest use anyway.
 */
#include "imap/imap_view_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct entry {
	struct store *st; /* 0 = free slot */
	uint32_t account, mailbox;
	uint64_t used;    /* use clock: LRU */
	struct imap_mailbox_view v;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry entries[IMAP_VIEW_CACHE_ENTRIES];
static uint64_t clock_;
static size_t total_msgs;

static struct entry *find(struct store *st, uint32_t account, uint32_t mailbox)
{
	for (size_t i = 0; i < IMAP_VIEW_CACHE_ENTRIES; i++)
		if (entries[i].st == st && entries[i].account == account &&
		    entries[i].mailbox == mailbox)
			return &entries[i];
	return NULL;
}

static void drop(struct entry *e)
{
	total_msgs -= e->v.count;
	imap_view_free(&e->v);
	memset(e, 0, sizeof(*e));
}

/* Frees room for n messages and one entry; the slot to use, or NULL. */
static struct entry *make_room(uint32_t n)
{
	for (;;) {
		struct entry *free_slot = NULL, *oldest = NULL;
		for (size_t i = 0; i < IMAP_VIEW_CACHE_ENTRIES; i++) {
			struct entry *e = &entries[i];
			if (!e->st) {
				if (!free_slot)
					free_slot = e;
			} else if (!oldest || e->used < oldest->used) {
				oldest = e;
			}
		}
		if (free_slot && total_msgs + n <= IMAP_VIEW_CACHE_MSGS)
			return free_slot;
		if (!oldest)
			return NULL;
		drop(oldest);
	}
}

void imap_view_cache_put(struct store *st, struct imap_mailbox_view *v)
{
	if (!st || !v->account || !v->mailbox || !v->uidvalidity ||
	    v->count > IMAP_VIEW_CACHE_MSGS / 4) {
		imap_view_free(v);
		return;
	}
	pthread_mutex_lock(&lock);
	struct entry *e = find(st, v->account, v->mailbox);
	if (e && e->v.modseq >= v->modseq) {
		e->used = ++clock_; /* as recent, and as new: keep it */
		pthread_mutex_unlock(&lock);
		imap_view_free(v);
		return;
	}
	if (e)
		drop(e);
	e = make_room(v->count);
	if (e) {
		e->st = st;
		e->account = v->account;
		e->mailbox = v->mailbox;
		e->used = ++clock_;
		/* Per-session settings do not travel with the snapshot, nor
		 * the keywords a session announced: SELECT lists them anew. */
		free(v->kwnames);
		v->kwnames = NULL;
		v->kwnames_len = v->kwnames_cap = v->kwnames_keep = 0;
		e->v = *v;
		e->v.readonly = 0;
		e->v.condstore = 0;
		e->v.qresync = 0;
		e->v.uidonly = 0;
		total_msgs += v->count;
		memset(v, 0, sizeof(*v));
	}
	pthread_mutex_unlock(&lock);
	imap_view_free(v); /* nothing left when cached */
}

int imap_view_cache_get(struct store *st, uint32_t account, uint32_t mailbox,
			struct imap_mailbox_view *v)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_lock(&lock);
	struct entry *e = find(st, account, mailbox);
	if (!e) {
		pthread_mutex_unlock(&lock);
		return 0;
	}
	e->used = ++clock_;
	*v = e->v;
	v->msgs = NULL;
	v->cap = v->count;
	if (v->count) {
		v->msgs = xmalloc((size_t)v->count * sizeof(*v->msgs));
		memcpy(v->msgs, e->v.msgs, (size_t)v->count * sizeof(*v->msgs));
		for (uint32_t i = 0; i < v->count; i++)
			if (v->msgs[i].kw)
				v->msgs[i].kw = xstrdup(v->msgs[i].kw);
	}
	pthread_mutex_unlock(&lock);
	return 1;
}

void imap_view_cache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < IMAP_VIEW_CACHE_ENTRIES; i++)
		if (entries[i].st)
			drop(&entries[i]);
	pthread_mutex_unlock(&lock);
}
