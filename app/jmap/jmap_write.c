/*
 * jmap_write.c — JMAP's keyword changes and removals through the store
 * writer's group commit.
 *
 * API requests run on HTTP job threads, which may block, so they used
 * the store's synchronous writes: one write transaction and one fsync
 * each, one after another on LMDB's writer lock. Under load (bench-jmap:
 * 10 clients setting keywords and moving) every Email/set then waited
 * for every other one's fsync. The asynchronous forms IMAP uses join the
 * writer thread's group commit, where concurrent writes share one
 * commit; these wrappers submit one (done on the writer thread: no loop)
 * and wait for it. Same results, same change-feed notification. A move
 * (Email/set's mailboxIds, one mailbox for another) is one copy with
 * the move flag: one commit, where a copy and an expunge were two.
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

int jmap_write_keywords(struct store *st, const struct store_kw_actor *as, uint32_t account,
			uint32_t mailbox, uint32_t uid, const char *set, const char *add,
			const char *remove, struct store_kw_result *res)
{
	struct waiter w = {LATCH_INIT, 0};
	if (set)
		store_email_keywords_as_async(st, NULL, as, account, mailbox, 0, &uid, 1, STORE_KW_SET,
					      set, 0, res, NULL, wake, &w);
	else
		store_email_keywords_patch_async(st, NULL, as, account, mailbox, &uid, 1, add, remove,
						 res, wake, &w);
	return wait_for(&w);
}

int jmap_write_expunge(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		       uint32_t uid)
{
	struct waiter w = {LATCH_INIT, 0};
	store_expunge_async(st, NULL, account, mailbox, uidvalidity, &uid, 1, NULL, NULL, wake, &w);
	return wait_for(&w);
}

int jmap_write_copy(struct store *st, uint32_t account, uint32_t from, uint32_t uidvalidity,
		    uint32_t uid, uint32_t to, int move, struct store_copy_result *r)
{
	struct waiter w = {LATCH_INIT, 0};
	/* The async form reads the uids until its commit: they live here. */
	store_email_copy_async(st, NULL, account, from, uidvalidity, &uid, 1, to, move, r, wake,
			       &w);
	return wait_for(&w);
}
