/*
 * jmap_write.c — JMAP's changes of an email's keywords and mailboxes
 * through the store writer's group commit.
 *
 * API requests run on HTTP job threads, which may block, so they used
 * the store's synchronous writes: one write transaction and one fsync
 * each, one after another on LMDB's writer lock. Under load (bench-jmap:
 * 10 clients setting keywords and moving) every Email/set then waited
 * for every other one's fsync. The asynchronous forms IMAP uses join the
 * writer thread's group commit, where concurrent writes share one
 * commit; the wrapper submits one (done on the writer thread: no loop)
 * and wait for it. Same results, same change-feed notification. One
 * email's whole change (Email/set: keywords, new mailboxes, mailboxes
 * left; or its destroy) is one store_email_update_async(): one
 * transaction and one modseq, all of it written or none (RFC 8620 §5.3).
 * A move (one mailbox for another) is a copy with the move flag in it.
 */

#include "core/latch.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

struct waiter {
	struct latch done;
	int rc; /* written before the latch opens, read after */
};

static void wake(void *arg, int rc)
{
	struct waiter *w = arg;
	w->rc = rc;
	latch_open(&w->done);
}

static int wait_for(struct waiter *w)
{
	latch_wait(&w->done);
	return w->rc;
}

int jmap_write_update(struct store *st, const struct store_email_update *u)
{
	struct waiter w = {LATCH_INIT, 0};
	/* The async form reads u until its commit: it lives here. */
	store_email_update_async(st, NULL, u, NULL, wake, &w);
	return wait_for(&w);
}
