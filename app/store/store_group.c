/*
 * store_group.c — the synchronous-style writes (keywords, expunge, copy)
 * joined to the writer thread's group commit, for event loops.
 *
 * store_write() from a worker commits (and fsyncs) once per call, and the
 * worker waits for it. Under load IMAP sessions then queue their STORE and
 * EXPUNGE behind one fsync each. Here the same transaction function runs
 * inside the writer's batch as a hook-only request (store_delivery with
 * no accounts, see store.h), so concurrent sessions share one commit with
 * each other and with deliveries, and no thread waits: the completion is
 * posted to the caller's loop.
 *
 * Isolation: fn runs in a nested transaction of the batch. A STORE_* code
 * from fn (no such mailbox, a bad keyword...) aborts only that nested
 * transaction and becomes the request's result; an LMDB error fails the
 * batch as any delivery error does (MDB_MAP_FULL grows the map and the
 * whole batch, hooks included, runs again: fn resets its state on entry,
 * as it must for store_write()).
 *
 * store_write_grouped() is the same for a thread that may block (a worker
 * of the pool: JMAP's copies and moves, POP3's expunge at QUIT): fn joins
 * the writer's batch and the thread waits for its answer, which comes
 * once the batch is on disk, instead of committing and flushing on its
 * own beside the writer. Where joining could wait for itself it is
 * store_write(): no writer running (the CLI, tests), the writer thread,
 * or a caller inside a transaction (it holds the map lock the writer may
 * need to grow the map).
 */
#include <pthread.h>
#include <string.h>

#include "core/latch.h"
#include "store/store_private.h"

static int is_store_code(int rc)
{
	return rc <= STORE_ENOTFOUND && rc > STORE_ENOTFOUND - 100;
}

static int group_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct store_async *a = d->hook_arg;
	MDB_txn *child;
	int rc = mdb_txn_begin(st->env, txn, 0, &child);

	if (rc)
		return rc;
	rc = a->fn(st, child, a->ctx);
	if (rc == 0) {
		rc = mdb_txn_commit(child);
		a->result = STORE_OK;
		return rc;
	}
	mdb_txn_abort(child);
	if (is_store_code(rc)) {
		a->result = rc;
		return 0;
	}
	return rc;
}

static void group_done(struct store_delivery *d, void *arg)
{
	struct store_async *a = arg;

	if (d->result != STORE_OK)
		a->result = d->result; /* the batch failed: nothing committed */
	a->finish(a);
}

void store_async_submit(struct store *st, struct store_async *a, struct loop *loop)
{
	memset(&a->d, 0, sizeof(a->d));
	a->result = STORE_ETEMP;
	a->d.txn_hook = group_hook;
	a->d.hook_arg = a;
	a->d.loop = loop;
	a->d.done = group_done;
	a->d.arg = a;
	store_deliver(st, &a->d);
}

/* A request refused before it reached the store still completes on the loop. */
static int fail_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	return *(int *)ctx;
}

void store_async_fail(struct store *st, struct store_async *a, struct loop *loop, int *code)
{
	a->fn = fail_fn;
	a->ctx = code;
	store_async_submit(st, a, loop);
}

/* A worker waiting for its request (store_write_grouped). */
struct grouped {
	struct store_async a;
	struct latch done;
};

/* Runs on the writer thread (no loop: complete() calls done there). */
static void grouped_finish(struct store_async *as)
{
	latch_open(&((struct grouped *)as)->done);
}

int store_write_grouped(struct store *st, store_write_fn *fn, void *ctx)
{
	if (!st->writer_started || pthread_equal(pthread_self(), st->writer) ||
	    store_txn_held())
		return store_write(st, fn, ctx);
	struct grouped g = {.done = LATCH_INIT};
	g.a.fn = fn;
	g.a.ctx = ctx;
	g.a.finish = grouped_finish;
	store_async_submit(st, &g.a, NULL);
	latch_wait(&g.done);
	return g.a.result;
}
