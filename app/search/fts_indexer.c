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
/* fts_indexer_test_pass(): called after each batch that was written. */
static void (*between_hook)(void *);
static void *between_arg;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int stopping, running;
static struct store *ix_st;

/*
 * A batch's terms. Each distinct term is an entry (found by an
 * open-addressing hash) with the chain of its emails' ids, which come in
 * id order, so a term's list needs no sorting; only the distinct terms
 * are sorted at the end. An entry remembers the message that last added
 * it, which keeps each message's terms distinct.
 */
struct term_ent {
	const char *t;
	uint32_t len;
	uint32_t head, tail; /* its chain in nodes, index + 1; 0: empty */
	uint32_t doc;        /* the batch's message that last added it */
};
struct node {
	uint32_t id, next; /* next: index + 1, 0 ends the chain */
};
/* What the message at hand added, to take it back (too many terms). */
struct touch {
	uint32_t ent, prev_tail;
};

struct batch {
	struct arena *a; /* term octets */
	struct term_ent *ent;
	size_t nent, entcap;
	uint32_t *slot; /* entry index + 1; 0 empty */
	size_t cap;
	struct node *nodes;
	size_t nnodes, nodecap;
	struct touch *touch;
	size_t ntouch, touchcap;
	int over;      /* the message at hand has too many terms */
	uint32_t doc;  /* its number in the batch, from 1 */
	uint32_t id;   /* its email id */
	const uint32_t *ids;
	size_t base;   /* ids[base] is the message being read */
	size_t done;   /* messages taken, in id order */
	int full;      /* BATCH_POSTS reached: later messages wait */
	uint32_t docs;
};

static uint64_t term_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void slots_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 4096;
	uint32_t *slot = xcalloc(cap, sizeof(*slot));
	for (size_t i = 0; i < b->nent; i++) {
		size_t h = (size_t)term_hash(b->ent[i].t, b->ent[i].len) & (cap - 1);
		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = (uint32_t)i + 1;
	}
	free(b->slot);
	b->slot = slot;
	b->cap = cap;
}

#define GROW(v, n, cap, first) \
	do { \
		if ((n) == (cap)) { \
			(cap) = (cap) ? (cap) * 2 : (first); \
			(v) = xrealloc((v), (cap) * sizeof(*(v))); \
		} \
	} while (0)

/* The entry of term p[0..n), made when new. */
static struct term_ent *entry(struct batch *b, const char *p, size_t n)
{
	if ((b->nent + 1) * 2 > b->cap)
		slots_grow(b);
	size_t h = (size_t)term_hash(p, n) & (b->cap - 1);
	for (; b->slot[h]; h = (h + 1) & (b->cap - 1)) {
		struct term_ent *e = &b->ent[b->slot[h] - 1];
		if (e->len == n && memcmp(e->t, p, n) == 0)
			return e;
	}
	GROW(b->ent, b->nent, b->entcap, 4096);
	char *t = arena_alloc(b->a, n);
	memcpy(t, p, n);
	b->ent[b->nent] = (struct term_ent){ .t = t, .len = (uint32_t)n };
	b->slot[h] = (uint32_t)++b->nent;
	return &b->ent[b->nent - 1];
}

static void add_term(void *arg, const char *p, size_t n)
{
	struct batch *b = arg;
	if (b->over)
		return;
	struct term_ent *e = entry(b, p, n);
	if (e->doc == b->doc)
		return; /* this message has it already */
	if (b->ntouch == FTS_DOC_TERMS_MAX) {
		b->over = 1;
		return;
	}
	GROW(b->nodes, b->nnodes, b->nodecap, 16384);
	GROW(b->touch, b->ntouch, b->touchcap, 1024);
	b->nodes[b->nnodes] = (struct node){ b->id, 0 };
	uint32_t k = (uint32_t)++b->nnodes;
	b->touch[b->ntouch++] = (struct touch){ (uint32_t)(e - b->ent), e->tail };
	if (e->tail)
		b->nodes[e->tail - 1].next = k;
	else
		e->head = k;
	e->tail = k;
	e->doc = b->doc;
}

/* Takes back what the message at hand added. */
static void untouch(struct batch *b)
{
	while (b->ntouch) {
		const struct touch *t = &b->touch[--b->ntouch];
		struct term_ent *e = &b->ent[t->ent];
		e->tail = t->prev_tail;
		if (t->prev_tail)
			b->nodes[t->prev_tail - 1].next = 0;
		else
			e->head = 0;
		b->nnodes--;
	}
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

	i += b->base;
	b->id = b->ids[i];
	b->doc++;
	b->ntouch = 0;
	b->over = 0;
	mime_cache_load(meta, metalen, d, len, ta, &t);
	mime_search_init(&ms, d, len, &t);
	mime_search_each_text(&ms, visit, b);
	mime_search_clear(&ms);
	arena_free(&ta);
	if (b->over) { /* too many to keep: a candidate of every search */
		untouch(b);
		b->over = 0;
		add_term(b, "\x01", 1);
	}
	b->docs++;
	b->done = i + 1;
	b->full = b->nnodes >= BATCH_POSTS;
}

static int ent_cmp(const void *x, const void *y)
{
	const struct term_ent *a = *(const struct term_ent *const *)x;
	const struct term_ent *b = *(const struct term_ent *const *)y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->t, b->t, n);
	return c ? c : a->len < b->len ? -1 : a->len > b->len;
}

/* The batch's postings sorted by term, then id (store_fts_apply), into
 * *v_r (malloc'ed); their number. */
static size_t postings(struct batch *b, struct store_fts_post **v_r)
{
	struct term_ent **order = xmalloc((b->nent + 1) * sizeof(*order));
	struct store_fts_post *v = xmalloc((b->nnodes + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < b->nent; i++)
		order[i] = &b->ent[i];
	qsort(order, b->nent, sizeof(*order), ent_cmp);
	for (size_t i = 0; i < b->nent; i++)
		for (uint32_t k = order[i]->head; k; k = b->nodes[k - 1].next)
			v[n++] = (struct store_fts_post){ order[i]->t, order[i]->len, b->nodes[k - 1].id };
	free(order);
	*v_r = v;
	return n;
}

static void batch_free(struct batch *b)
{
	free(b->ent);
	free(b->slot);
	free(b->nodes);
	free(b->touch);
	arena_free(&b->a);
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long)((b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000);
}

/*
 * One batch of the account's emails: 1 when the batch stopped short of
 * what the account held when it looked (FTS_INDEX_BATCH ids, or
 * BATCH_POSTS postings), 0 when it took all of that (or nothing was
 * new), -1 on a store error; *indexed_r set when it wrote. Mail that
 * came while the batch was read and written waits for the next tick:
 * were it "more", a steady stream of deliveries would have the indexer
 * chase it with a batch of a few messages at a time, each rewriting the
 * last chunk of every term it holds in a commit of its own
 * (fts_indexer.h).
 */
static int index_batch(uint32_t account, uint32_t emails, int *indexed_r)
{
	uint32_t through, docs, upto, ids[FTS_INDEX_BATCH];
	size_t n;

	if (store_fts_state(ix_st, account, &through, &docs) != STORE_OK)
		return -1;
	/* docs UINT32_MAX, an index of an older text version, is past it */
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

	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t1 = t0;
	struct batch b = { .a = arena_new(256u * 1024), .ids = ids };
	struct store_fts_post *v = NULL;
	size_t nv = 0;
	/* One read transaction a message: a reader held for the whole batch
	 * (over a second for 36 large messages under ASan) keeps LMDB from
	 * reusing the pages commits free meanwhile, so data.mdb grows under
	 * deliveries, and near a full disk the floor's count of free pages
	 * (store_reserve.c) was more than could be had. */
	rc = STORE_OK;
	for (b.base = 0; b.base < n && !b.full && rc == STORE_OK; b.base++)
		rc = store_emails_content(ix_st, account, ids + b.base, 1, NULL, doc_cb, &b);
	if (rc != STORE_OK) {
		rc = STORE_ETEMP;
	} else {
		if (b.full && b.done < n)
			upto = ids[b.done] - 1; /* the rest in the next batch */
		nv = postings(&b, &v);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rc = store_fts_apply(ix_st, account, through, upto, b.docs, v, nv);
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	if (rc == STORE_OK)
		log_debug("fts", NULL,
			  "event=fts_indexed account=%u emails=%u through=%u postings=%zu read_ms=%ld "
			  "write_ms=%ld",
			  account, b.docs, upto, nv, ms_between(&t0, &t1), ms_between(&t1, &t2));
	else if (rc == STORE_EFULL)
		log_debug("fts", NULL, "event=fts_waiting_for_room account=%u", account);
	else if (rc != STORE_EEXIST && rc != STORE_ENOTFOUND)
		log_warn("fts", NULL, "event=fts_index_failed account=%u", account);
	int short_of = n == FTS_INDEX_BATCH || (b.full && b.done < n);
	free(v);
	batch_free(&b);
	if (rc == STORE_EEXIST || rc == STORE_ENOTFOUND || rc == STORE_EFULL)
		return 0; /* the next tick tries again */
	if (rc == STORE_OK) {
		*indexed_r = 1;
		if (between_hook)
			between_hook(between_arg);
	}
	return rc == STORE_OK ? short_of : -1;
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

/* One turn over every account: 1 when some work is left (a backlog
 * past ACCOUNT_TURN batches); *worked set when some batch was indexed. */
static int pass(int *worked)
{
	struct acct_list l = { 0 };
	int more = 0;
	if (store_account_list(ix_st, list_cb, &l) != STORE_OK)
		return 0;
	for (size_t i = 0; i < l.n && !atomic_load(&stopping); i++) {
		int r = 1;
		for (int k = 0; k < ACCOUNT_TURN && r == 1 && !atomic_load(&stopping); k++) {
			r = index_batch(l.id[i], l.emails[i], worked);
		}
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
	int worked = 0;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		pthread_mutex_unlock(&mu);
		int more = pass(&worked);
		if (worked && !more) {
			/* Done for now: what the batches held (a big message's
			 * text, decoded) goes back to the system. */
			mem_release();
			worked = 0;
		}
		pthread_mutex_lock(&mu);
		if (!more && !stopping) {
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

int fts_indexer_test_pass(struct store *st, void (*between)(void *), void *arg)
{
	int worked = 0;

	ix_st = st;
	between_hook = between;
	between_arg = arg;
	int more = pass(&worked);
	between_hook = NULL;
	between_arg = NULL;
	return more;
}

int fts_indexer_running(void)
{
	return atomic_load(&running);
}
