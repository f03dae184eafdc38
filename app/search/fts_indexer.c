/*
 * fts_indexer.c — see fts_indexer.h.
 */
#include "search/fts_indexer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/mime_cache.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "search/fts.h"
#include "store/store.h"

/* Postings one batch may gather before it stops taking messages. */
#define BATCH_POSTS (512u * 1024)
/* Batches of one account before the next account's turn. */
#define ACCOUNT_TURN 8

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int stopping, running;
static int poked;
static struct store *ix_st;

/* One message's distinct terms: an open-addressing set of posting
 * indexes into the batch. */
struct doc_set {
	uint32_t *slot; /* posting index + 1; 0 empty */
	size_t cap, n;
	int over; /* more than FTS_DOC_TERMS_MAX terms */
};

struct batch {
	struct arena *a;   /* term octets */
	struct store_fts_post *v;
	size_t n, cap;
	const uint32_t *ids;
	size_t done;       /* messages taken, in id order */
	int full;          /* BATCH_POSTS reached: later messages wait */
	uint32_t docs;
	struct doc_set set;
	uint32_t id;       /* the message at hand */
};

static uint64_t term_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void set_grow(struct batch *b)
{
	struct doc_set *s = &b->set;
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint32_t *slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->slot[i])
			continue;
		const struct store_fts_post *p = &b->v[s->slot[i] - 1];
		size_t h = (size_t)term_hash(p->term, p->len) & (cap - 1);
		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = s->slot[i];
	}
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
}

static void push_post(struct batch *b, const char *p, size_t n)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4096;
		b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	char *t = arena_alloc(b->a, n);
	memcpy(t, p, n);
	b->v[b->n++] = (struct store_fts_post){ t, (uint32_t)n, b->id };
}

static void add_term(void *arg, const char *p, size_t n)
{
	struct batch *b = arg;
	struct doc_set *s = &b->set;
	if (s->over)
		return;
	if ((s->n + 1) * 2 > s->cap)
		set_grow(b);
	size_t h = (size_t)term_hash(p, n) & (s->cap - 1);
	for (; s->slot[h]; h = (h + 1) & (s->cap - 1)) {
		const struct store_fts_post *q = &b->v[s->slot[h] - 1];
		if (q->len == n && memcmp(q->term, p, n) == 0)
			return;
	}
	if (s->n == FTS_DOC_TERMS_MAX) {
		s->over = 1;
		return;
	}
	push_post(b, p, n);
	s->slot[h] = (uint32_t)b->n;
	s->n++;
}

static void visit(void *arg, struct str folded)
{
	fts_terms(folded.p, folded.len, add_term, arg);
}

static void doc_cb(void *arg, size_t i, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct batch *b = arg;
	if (b->full)
		return;
	struct arena *ta = arena_new(65536);
	struct mime_tree t = { 0 };
	struct mime_search ms;
	size_t start = b->n;

	b->id = b->ids[i];
	if (b->set.cap)
		memset(b->set.slot, 0, b->set.cap * sizeof(*b->set.slot));
	b->set.n = 0;
	b->set.over = 0;
	mime_cache_load(meta, metalen, d, len, ta, &t);
	mime_search_init(&ms, d, len, &t);
	mime_search_each_text(&ms, visit, b);
	mime_search_clear(&ms);
	arena_free(&ta);
	if (b->set.over) { /* too many to keep: a candidate of every search */
		b->n = start;
		push_post(b, "\x01", 1);
	}
	b->docs++;
	b->done = i + 1;
	b->full = b->n >= BATCH_POSTS;
}

static int post_cmp(const void *x, const void *y)
{
	const struct store_fts_post *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->term, b->term, n);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* One batch of the account's emails: 1 when more may wait, 0 when the
 * index is up with it, -1 on a store error. */
static int index_batch(uint32_t account, uint32_t emails)
{
	uint32_t through, docs, upto, ids[FTS_INDEX_BATCH];
	size_t n;

	if (store_fts_state(ix_st, account, &through, &docs) != STORE_OK)
		return -1;
	if (docs > 2 * (uint64_t)emails + 10000) {
		log_info("fts", NULL, "event=fts_rebuild account=%u indexed=%u emails=%u", account, docs,
			 emails);
		if (store_fts_drop(ix_st, account) != STORE_OK)
			return -1;
		through = 0;
	}
	int rc = store_fts_todo(ix_st, account, through, ids, FTS_INDEX_BATCH, &n, &upto);
	if (rc == STORE_ENOTFOUND)
		return 0; /* deleted meanwhile */
	if (rc != STORE_OK)
		return -1;
	if (n == 0 && upto == through)
		return 0;

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct batch b = { .a = arena_new(256u * 1024), .ids = ids };
	if (n && store_emails_content(ix_st, account, ids, n, NULL, doc_cb, &b) != STORE_OK) {
		rc = STORE_ETEMP;
	} else {
		if (b.full && b.done < n)
			upto = ids[b.done] - 1; /* the rest in the next batch */
		qsort(b.v, b.n, sizeof(*b.v), post_cmp);
		rc = store_fts_apply(ix_st, account, through, upto, b.docs, b.v, b.n);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == STORE_OK)
		log_debug("fts", NULL, "event=fts_indexed account=%u emails=%u through=%u postings=%zu ms=%ld",
			  account, b.docs, upto, b.n,
			  (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	else if (rc != STORE_EEXIST && rc != STORE_ENOTFOUND)
		log_warn("fts", NULL, "event=fts_index_failed account=%u", account);
	free(b.v);
	free(b.set.slot);
	arena_free(&b.a);
	if (rc == STORE_EEXIST || rc == STORE_ENOTFOUND)
		return 0;
	return rc == STORE_OK ? 1 : -1;
}

struct acct_list {
	uint32_t *id, *emails;
	size_t n, cap;
};

static void list_cb(void *arg, const struct store_account_info *info)
{
	struct acct_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->id = xrealloc(l->id, l->cap * sizeof(*l->id));
		l->emails = xrealloc(l->emails, l->cap * sizeof(*l->emails));
	}
	l->id[l->n] = info->id;
	l->emails[l->n++] = info->emails;
}

/* One turn over every account: 1 when some work is left. */
static int pass(void)
{
	struct acct_list l = { 0 };
	int more = 0;
	if (store_account_list(ix_st, list_cb, &l) != STORE_OK)
		return 0;
	for (size_t i = 0; i < l.n && !atomic_load(&stopping); i++) {
		int r = 1;
		for (int k = 0; k < ACCOUNT_TURN && r == 1 && !atomic_load(&stopping); k++)
			r = index_batch(l.id[i], l.emails[i]);
		more |= r == 1;
	}
	free(l.id);
	free(l.emails);
	return more;
}

static void *indexer_main(void *arg)
{
	(void)arg;
	/* Behind the loops and the workers: searches and deliveries first. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&mu);
	while (!stopping) {
		poked = 0;
		pthread_mutex_unlock(&mu);
		int more = pass();
		pthread_mutex_lock(&mu);
		if (!more && !poked && !stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += FTS_INDEX_IDLE_S;
			pthread_cond_timedwait(&cv, &mu, &ts);
		}
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int fts_indexer_start(struct store *st)
{
	ix_st = st;
	stopping = 0;
	if (pthread_create(&thread, NULL, indexer_main, NULL) != 0) {
		log_error("fts", NULL, "event=fts_not_started reason=\"pthread_create failed\"");
		return -1;
	}
	atomic_store(&running, 1);
	return 0;
}

void fts_indexer_stop(void)
{
	if (!atomic_load(&running))
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	atomic_store(&running, 0);
}

int fts_indexer_running(void)
{
	return atomic_load(&running);
}

void fts_indexer_poke(void)
{
	pthread_mutex_lock(&mu);
	poked = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}
