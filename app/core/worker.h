/*
 * worker.h — a small pool of threads for CPU-heavy jobs.
 *
 * Event loops must not block: password hashing (argon2id, tens of ms and
 * 19 MiB), DKIM on big messages and the like run here instead. A job runs
 * fn(arg) on a pool thread, then done(arg) on the loop that submitted it
 * (through loop_post), so the session that waits sees the result on its own
 * thread. The pool is bounded in threads; the queue is unbounded, but each
 * job belongs to a session that submits one at a time.
 *
 * Caveats: fn must not touch loop-owned state; done runs even when the pool
 * is shutting down (workers drain the queue before exiting).
 */
#ifndef TERN_CORE_WORKER_H
#define TERN_CORE_WORKER_H

struct loop;

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
};

/* Starts n threads (n >= 1). Call once. */
void worker_pool_start(unsigned n);
/* Queues a job; the struct must live until done runs. Thread-safe. */
void worker_submit(struct worker_job *job);
/* Runs every queued job, then stops and joins the threads. */
void worker_pool_stop(void);
/* Whether the pool runs (not in the CLI or in unit tests that start none). */
int worker_pool_running(void);

#endif
