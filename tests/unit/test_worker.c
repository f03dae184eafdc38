/*
 * test_worker.c — a pool of its own (core/worker.h): with per_key jobs
 * of one key running, that key's next job waits while another key's
 * goes by it on a free thread; the held-back job starts once one of its
 * key ends; freeing the pool runs every job still queued, held back or
 * not; a job with no key is never held back. Jobs block on a gate the
 * test opens, so nothing depends on how fast the threads are.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "core/worker.h"
#include "unit.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct job {
	struct worker_job wj;
	int gate;    /* the test lets it end */
	int started; /* fn began */
	int ended;   /* fn returned */
	int done;    /* done ran */
};

static void job_fn(void *arg)
{
	struct job *j = arg;

	pthread_mutex_lock(&mu);
	j->started = 1;
	pthread_cond_broadcast(&cv);
	while (!j->gate)
		pthread_cond_wait(&cv, &mu);
	j->ended = 1;
	pthread_mutex_unlock(&mu);
}

static void job_done(void *arg)
{
	struct job *j = arg;

	pthread_mutex_lock(&mu);
	j->done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void job_init(struct job *j, uint32_t key, int gate)
{
	*j = (struct job){.gate = gate};
	j->wj = (struct worker_job){.fn = job_fn, .done = job_done, .arg = j, .key = key};
}

/* Waits (30 s at most: a pool that never runs it fails the check, it does
 * not hang the run) until *flag is set; 1 when it was. */
static int wait_for(const int *flag)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&mu);
	while (!*flag && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	int set = *flag;
	pthread_mutex_unlock(&mu);
	return set;
}

static int get(const int *flag)
{
	pthread_mutex_lock(&mu);
	int v = *flag;
	pthread_mutex_unlock(&mu);
	return v;
}

static void open_gate(struct job *j)
{
	pthread_mutex_lock(&mu);
	j->gate = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* A pool of two threads, one job a key, running a1 of key 1 (gate shut). */
static struct worker_pool *pool_running(struct job *a1)
{
	struct worker_pool *p = worker_pool_new("test-pool", 2, 1);

	job_init(a1, 1, 0);
	worker_pool_submit(p, &a1->wj);
	CHECK(wait_for(&a1->started));
	return p;
}

/* Key 1's second job waits, key 2's runs. */
static void test_fair_between_keys(void)
{
	struct job a1, a2, b1;
	struct worker_pool *p = pool_running(&a1);

	job_init(&a2, 1, 0);
	job_init(&b1, 2, 1);
	worker_pool_submit(p, &a2.wj);
	worker_pool_submit(p, &b1.wj);
	/* b1 came after a2 and still ran, on the thread a2 may not take. */
	CHECK(wait_for(&b1.done));
	CHECK(!get(&a2.started));
	/* a1's end lets a2 start. */
	open_gate(&a1);
	CHECK(wait_for(&a2.started));
	open_gate(&a2);
	CHECK(wait_for(&a2.done));
	worker_pool_free(&p);
	CHECK(p == NULL);
	CHECK(a1.done && a2.done && b1.done);
}

/* Freeing the pool runs what is queued, a job held back for its key
 * included (it starts once the running one ends); no key: never held. */
static void test_free_drains(void)
{
	struct job a1, a2, a3, n1;
	struct worker_pool *p = pool_running(&a1);

	job_init(&a2, 1, 1);
	job_init(&a3, 1, 1);
	job_init(&n1, 0, 1);
	worker_pool_submit(p, &a2.wj);
	worker_pool_submit(p, &a3.wj);
	worker_pool_submit(p, &n1.wj);
	CHECK(wait_for(&n1.done));
	CHECK(!get(&a2.started) && !get(&a3.started));
	open_gate(&a1);
	worker_pool_free(&p);
	CHECK(a1.done && a2.done && a3.done && n1.done);
}

/* No limit (per_key 0): jobs of one key fill every thread. */
static void test_no_limit(void)
{
	struct worker_pool *p = worker_pool_new("test-pool", 2, 0);
	struct job a1, a2;

	job_init(&a1, 1, 0);
	job_init(&a2, 1, 0);
	worker_pool_submit(p, &a1.wj);
	worker_pool_submit(p, &a2.wj);
	CHECK(wait_for(&a1.started));
	CHECK(wait_for(&a2.started));
	open_gate(&a1);
	open_gate(&a2);
	worker_pool_free(&p);
	CHECK(a1.done && a2.done);
}

int main(void)
{
	test_fair_between_keys();
	test_free_drains();
	test_no_limit();
	return unit_done("test_worker");
}
