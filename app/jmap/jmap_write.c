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
 * and wait for it. Same results, same change-feed notification.
 */
#include <pthread.h>

#include "jmap/jmap_private.h"
#include "store/store.h"

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, rc;
};

static void wake(void *arg, int rc)
{
	struct waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int wait_for(struct waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	return w->rc;
}

int jmap_write_keywords(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uid,
			enum store_kw_op op, const char *keywords, struct store_kw_result *res)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	store_email_keywords_async(st, NULL, account, mailbox, 0, &uid, 1, op, keywords, 0, res,
				   NULL, wake, &w);
	return wait_for(&w);
}

int jmap_write_expunge(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		       uint32_t uid)
{
	struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	store_expunge_async(st, NULL, account, mailbox, uidvalidity, &uid, 1, NULL, NULL, wake, &w);
	return wait_for(&w);
}
