/*
 * latch.h — one thread waits until another says "done", once.
 *
 * Job threads (JMAP requests, report sending, the store's grouped writes)
 * hand a request to a thread that answers through a callback (the store
 * writer, the queue) and must block until it has: the callback opens the
 * latch, the job thread waits on it. The latch lives on the waiter's
 * stack and must outlive latch_open, which is why the waiter, not the
 * opener, is the last to touch it (pthread_cond_signal under the lock).
 */
#ifndef TERN_CORE_LATCH_H
#define TERN_CORE_LATCH_H

#include <pthread.h>

struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open;
};

#define LATCH_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void latch_open(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	l->open = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static inline void latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	while (!l->open)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

#endif
