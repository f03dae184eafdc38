/*
 * worker.h — small pools of threads for CPU-heavy jobs.
 *
 * Event loops must not block: password hashing (argon2id, tens of ms and
 * 19 MiB), DKIM on big messages and the like run here instead. A job runs
 * fn(arg) on a pool thread, then done(arg) on the loop that submitted it
 * (through loop_post), so the session that waits sees the result on its own
 * thread.
 *
 * Two kinds of pool. The shared pool (worker_submit) takes short jobs of
 * every protocol: password checks, change feed reads for push, DKIM and
 * the like; each takes milliseconds. Work that may run for seconds and
 * that clients start at will (a JMAP Request over WebSocket: a 29 MB
 * Email/get, an Email/query over a big mailbox) runs on a pool of its own
 * (worker_pool_new), or it held every shared thread while logins and
 * push reads waited behind it. Such a pool is fair between keys (a job's
 * key: JMAP's account): at most per_key jobs of one key run at once, and
 * the others of that key wait while jobs of other keys go by them, so
 * one account's long requests never take every thread.
 *
 * Bounds: threads are fixed at the start; the queues are unbounded, but
 * each job belongs to a session (a connection) that submits one at a
 * time, so a queue holds at most one job per session.
 *
 * Caveats: fn must not touch loop-owned state; done runs even when the pool
 * is shutting down (workers drain the queue before exiting). A pool's
 * threads pick the oldest job they may run: with a per_key limit, finding
 * it costs a walk past the waiting jobs of keys at their limit.
 */
#ifndef TERN_CORE_WORKER_H
#define TERN_CORE_WORKER_H

#include <stdint.h>

struct loop;
struct worker_pool;

/*
 * Messages past this size have the work linear in their size (blob hash,
 * structure parse, copies) done on the pool rather than on the loop that
 * received them (inbound SMTP, submission's queue): it costs about 1.5 ms
 * per MiB here (BLAKE2b 1.1 ms, the parse and its record 0.3 ms), and on
 * a loop it held up every other session that loop serves (57 ms for a
 * 40 MiB message). Below it, the hop to a worker and back costs more than
 * the work.
 */
#define WORKER_MESSAGE_BYTES (1024 * 1024)

struct worker_job {
	void (*fn)(void *arg);   /* on a pool thread */
	void (*done)(void *arg); /* then on loop */
	void *arg;
	struct loop *loop;       /* NULL: done runs on the pool thread */
	struct worker_job *next_; /* private */
	uint32_t key;            /* a fair pool's: whose job (0: no one's, never held back) */
};

/* Starts the shared pool's n threads (n >= 1). Call once. */
void worker_pool_start(unsigned n);
/* Queues a job on the shared pool; the struct must live until done runs.
 * Thread-safe. */
void worker_submit(struct worker_job *job);
/* Runs every job queued on the shared pool, then stops and joins its threads. */
void worker_pool_stop(void);
/* Whether the shared pool runs (not in the CLI or in unit tests that start none). */
int worker_pool_running(void);

/*
 * A pool of its own: n threads (1..16) named name (at most 15 bytes
 * shown), at most per_key jobs of one key running at once (0: no limit).
 * Returns the pool, the caller's until worker_pool_free.
 */
struct worker_pool *worker_pool_new(const char *name, unsigned n, unsigned per_key);
/* Queues job on p (as worker_submit; job->key is whose it is). Thread-safe. */
void worker_pool_submit(struct worker_pool *p, struct worker_job *job);
/* Runs every job queued on *p, joins its threads, frees it, sets *p to NULL. */
void worker_pool_free(struct worker_pool **p);

#endif
