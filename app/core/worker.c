/*
 * worker.c — thread pools for CPU-heavy jobs. See worker.h.
 *
 * One queue per pool, oldest first. A thread takes the oldest job whose
 * key has fewer than per_key jobs running (each thread says whose job it
 * runs: at most WORKERS_MAX to count). A job held back that way waits
 * until one of its key ends, which wakes every idle thread to look again.
 */
#include "core/worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "core/loop.h"
#include "core/xalloc.h"

#define WORKERS_MAX 16

struct worker_thread {
	struct worker_pool *pool;
	pthread_t t;
	int busy;     /* running a job */
	uint32_t key; /* whose, when busy */
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct worker_job *head, **tail;
	int stopping;
	unsigned nthreads;
	unsigned per_key;
	char name[16];
	struct worker_thread threads[WORKERS_MAX];
};

static struct worker_pool shared = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.tail = &shared.head,
	.name = "tern-worker",
};

/* Jobs of key running in p (its lock held). */
static unsigned running(const struct worker_pool *p, uint32_t key)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->nthreads; i++)
		n += p->threads[i].busy && p->threads[i].key == key;
	return n;
}

/* Unlinks and returns the oldest job p may start now, or NULL (lock held). */
static struct worker_job *take(struct worker_pool *p)
{
	struct worker_job **pp = &p->head, *j;

	for (; (j = *pp); pp = &j->next_) {
		if (!p->per_key || !j->key || running(p, j->key) < p->per_key)
			break;
	}
	if (!j)
		return NULL;
	*pp = j->next_;
	if (!*pp)
		p->tail = pp;
	return j;
}

static void *worker_main(void *arg)
{
	struct worker_thread *self = arg;
	struct worker_pool *p = self->pool;
	sigset_t all;

	prctl(PR_SET_NAME, p->name, 0, 0, 0);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct worker_job *j = take(p);
		if (!j && !p->stopping) {
			/* Going idle: what the jobs used (a big message's
			 * structure, a password hash's 19 MiB) goes back to
			 * the system, not kept by an idle thread. */
			pthread_mutex_unlock(&p->lock);
			mem_release();
			pthread_mutex_lock(&p->lock);
			while (!(j = take(p)) && !p->stopping)
				pthread_cond_wait(&p->cond, &p->lock);
		}
		if (!j && !p->head)
			break; /* stopping and drained */
		if (!j) {
			/* Stopping, but what is left waits for a job of its
			 * key to end: that one wakes us. */
			pthread_cond_wait(&p->cond, &p->lock);
			continue;
		}
		self->busy = 1;
		self->key = j->key;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		uint32_t key = j->key;
		if (j->loop)
			loop_post(j->loop, j->done, j->arg);
		else if (j->done)
			j->done(j->arg);
		pthread_mutex_lock(&p->lock);
		self->busy = 0;
		/* A job of this key held back may start now, on any thread. */
		if (p->per_key && key && p->head)
			pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void start_threads(struct worker_pool *p, unsigned n)
{
	if (n < 1)
		n = 1;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++) {
		p->threads[i] = (struct worker_thread){.pool = p};
		if (pthread_create(&p->threads[i].t, NULL, worker_main, &p->threads[i]) != 0)
			fatal("cannot start worker thread");
	}
	p->nthreads = n;
	pthread_mutex_unlock(&p->lock);
}

static void submit(struct worker_pool *p, struct worker_job *job)
{
	job->next_ = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = job;
	p->tail = &job->next_;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void stop_threads(struct worker_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	unsigned n = p->nthreads;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i].t, NULL);
	pthread_mutex_lock(&p->lock);
	p->nthreads = 0;
	p->stopping = 0;
	pthread_mutex_unlock(&p->lock);
}

void worker_pool_start(unsigned n)
{
	start_threads(&shared, n);
}

void worker_submit(struct worker_job *job)
{
	submit(&shared, job);
}

void worker_pool_stop(void)
{
	stop_threads(&shared);
}

int worker_pool_running(void)
{
	pthread_mutex_lock(&shared.lock);
	int running = shared.nthreads > 0 && !shared.stopping;
	pthread_mutex_unlock(&shared.lock);
	return running;
}

struct worker_pool *worker_pool_new(const char *name, unsigned n, unsigned per_key)
{
	struct worker_pool *p = xcalloc(1, sizeof *p);

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	p->per_key = per_key;
	snprintf(p->name, sizeof p->name, "%s", name);
	start_threads(p, n);
	return p;
}

void worker_pool_submit(struct worker_pool *p, struct worker_job *job)
{
	submit(p, job);
}

void worker_pool_free(struct worker_pool **pp)
{
	struct worker_pool *p = *pp;

	if (!p)
		return;
	stop_threads(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}
