/*
 * worker.c — thread pool for CPU-heavy jobs. See worker.h.
 */
#include "core/worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "core/loop.h"
#include "core/xalloc.h"

#define WORKERS_MAX 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct worker_job *head, **tail = &head;
static int stopping;
static unsigned nthreads;
static pthread_t threads[WORKERS_MAX];

static void *worker_main(void *unused)
{
	sigset_t all;

	(void)unused;
	prctl(PR_SET_NAME, "tern-worker", 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		pthread_mutex_lock(&lock);
		if (!head && !stopping) {
			/* Going idle: what the jobs used (a big message's
			 * structure, a password hash's 64 MiB) goes back to
			 * the system, not kept by an idle thread. */
			pthread_mutex_unlock(&lock);
			mem_release();
			pthread_mutex_lock(&lock);
		}
		while (!head && !stopping)
			pthread_cond_wait(&cond, &lock);
		struct worker_job *j = head;
		if (j) {
			head = j->next_;
			if (!head)
				tail = &head;
		}
		pthread_mutex_unlock(&lock);
		if (!j)
			return NULL; /* stopping and drained */
		j->fn(j->arg);
		if (j->loop)
			loop_post(j->loop, j->done, j->arg);
		else if (j->done)
			j->done(j->arg);
	}
}

void worker_pool_start(unsigned n)
{
	if (n < 1)
		n = 1;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0)
			fatal("cannot start worker thread");
	nthreads = n;
}

void worker_submit(struct worker_job *job)
{
	job->next_ = NULL;
	pthread_mutex_lock(&lock);
	*tail = job;
	tail = &job->next_;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void worker_pool_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	stopping = 0;
}

int worker_pool_running(void)
{
	pthread_mutex_lock(&lock);
	int running = nthreads > 0 && !stopping;
	pthread_mutex_unlock(&lock);
	return running;
}
