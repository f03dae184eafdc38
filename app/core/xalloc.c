/*
 * xalloc.c — allocation wrappers, the memory reserve, and fatal().
 * See xalloc.h.
 *
 * Design (issue 28, finding 1: an allocation failure in a session ends
 * that session with a temporary error, never the process). Hundreds of
 * call sites rely on xmalloc() never returning NULL, so the failure is
 * handled here, at the one place every allocation goes through:
 *
 *  - mem_reserve_init() (server start) maps RESERVE_SPACE of address
 *    space and touches the first RESERVE_BYTES, so the process holds those
 *    for real (see the two sizes below).
 *  - When malloc/calloc/realloc fails, the reserve is unmapped (given back
 *    to the system: its pages and its address space) and the allocation
 *    retried, both under one mutex so another thread's refill cannot take
 *    the space back in between; the calling thread is marked and the event
 *    memory_reserve_drawn logged. The caller never sees the failure.
 *  - An event loop checks the mark after each callback into a connection
 *    (conn.c): the connection being served is told goodbye with its
 *    protocol's temporary error (conn_ops.oom_goodbye: SMTP 421 4.3.0,
 *    IMAP "* BYE [UNAVAILABLE]", POP3 -ERR [SYS/TEMP]) and closed with
 *    reason=out_of_memory, which frees what it held. A mark left after a
 *    loop iteration (a timer, a store reply outside a connection
 *    callback) is logged and cleared: no session can be named for it.
 *  - Each loop, before it waits, calls mem_reserve_refill(): while the
 *    reserve is spent it tries to map it again, at most once a second
 *    (REFILL_DELAY_MS, also the wait after a draw, which gives the ended
 *    session time to free what it held), and logs memory_reserve_restored
 *    when it succeeds. An idle loop does not wake up for it: the next
 *    event on any loop retakes it.
 *  - While the reserve is spent, listeners shed new connections (net/
 *    listener.c): each is told its protocol's "busy" line and closed
 *    without a session being allocated, so a flood cannot spend the
 *    memory the reserve's draw freed and end the process.
 *  - Only a failure while the reserve is already spent (or was never
 *    taken: CLI commands, tests) and whose retry fails too ends the
 *    process, as before: event=out_of_memory, abort().
 *
 * Threads that serve no single session (the store writer, the worker
 * pool, libmicrohttpd's threads) are marked too but never look: the
 * request they were applying completes with the reserve's memory. For the
 * writer that is the choice on purpose: failing a half-applied write
 * transaction with a temporary error would need an unwind path through
 * LMDB for every request, while its per-request memory is bounded and
 * small next to the reserve. The loops take the reserve back.
 *
 * Thread safety: the reserve pointer is guarded by reserve_mu; the "spent"
 * flag is atomic so the loops' refill check costs one load; the mark is
 * thread-local.
 *
 * Caveats: the reserve helps an allocation smaller than itself; a bigger
 * one (or an allocator that needs a whole new segment larger than the
 * reserve) still fails after the retry and ends the process. Two sessions
 * failing before the reserve is retaken: the second one ends the process.
 * The session ended is the one being served when the reserve was drawn,
 * which is not necessarily the one that used the most memory (buffers and
 * message data, the big users, already fail per connection: buf.c,
 * spool.c). TERN_TEST_ALLOC_FAIL=N (test-only, not a user setting) makes
 * the first attempt of every allocation of exactly N bytes fail, so tests
 * can draw the reserve from one chosen session.
 */
#include "xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"

/* mimalloc in the static build (vendor/manifest); absent in the glibc
 * ASan build, whose allocator keeps freed memory in quarantine anyway. */
extern void mi_collect(_Bool force) __attribute__((weak));
#if __has_include(<mimalloc.h>)
#include <mimalloc.h>
#define HAVE_MIMALLOC_H 1
#endif

void mem_setup(void)
{
#ifdef HAVE_MIMALLOC_H
	/*
	 * Freed spans go back to the kernel 25 ms after they empty, not at
	 * once: with 0, every message's evaluator state (DMARC's 21 KB, SPF's
	 * 6 KB, DNS answers of 7 KB) faulted its pages in again, and port 25's
	 * checks cost a fifth of the c=20 rate (bench-auth: on/off 0.83 with
	 * 0, 0.95 with 25, same machine, back to back). Memory still goes back
	 * within a blink of a burst ending (test_memory).
	 */
	mi_option_set(mi_option_decommit_delay, 25);
#endif
}

void mem_release(void)
{
	if (mi_collect)
		mi_collect(1);
}

static _Thread_local int release_due;

void mem_release_soon(void)
{
	release_due = 1;
}

void mem_release_if_due(void)
{
	if (release_due) {
		release_due = 0;
		mem_release();
	}
}

/*
 * RESERVE_BYTES are touched (real memory, for a cgroup or the OOM killer);
 * RESERVE_SPACE is the address space held, the touched part at its start
 * and the rest PROT_NONE (no commit charge). The space matters under an
 * address-space limit (RLIMIT_AS, overcommit accounting): mimalloc maps
 * 32 MiB segments, aligned, so giving back 4 MiB would not let it map one.
 */
#define RESERVE_BYTES ((size_t)4 << 20)
#define RESERVE_SPACE ((size_t)96 << 20)
/* After a draw (or a refill that found no memory), the next refill waits
 * this long: no mmap per loop iteration under pressure. */
#define REFILL_DELAY_MS 1000

static pthread_mutex_t reserve_mu = PTHREAD_MUTEX_INITIALIZER;
static void *reserve;            /* guarded by reserve_mu */
static atomic_int reserve_spent; /* 1 while given back */
static atomic_int reserve_taken; /* 1 once mem_reserve_init took it */
static _Thread_local int reserve_drawn_here;
static size_t test_fail_size; /* TERN_TEST_ALLOC_FAIL */
static uint64_t refill_after;   /* guarded by reserve_mu; ms, monotonic */

int (*xalloc_fail_hook)(size_t n, int retry);

static void *reserve_map(void)
{
	void *p = mmap(NULL, RESERVE_SPACE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, RESERVE_BYTES, PROT_READ | PROT_WRITE) < 0) {
		munmap(p, RESERVE_SPACE);
		return NULL;
	}
	memset(p, 0xa5, RESERVE_BYTES); /* held for real, not just promised */
	return p;
}

static int env_fail(size_t n, int retry)
{
	return n == test_fail_size && !retry;
}

void mem_reserve_init(void)
{
	const char *v = getenv("TERN_TEST_ALLOC_FAIL");

	if (v && *v) {
		test_fail_size = strtoull(v, NULL, 10);
		if (test_fail_size)
			xalloc_fail_hook = env_fail;
	}
	pthread_mutex_lock(&reserve_mu);
	if (!reserve)
		reserve = reserve_map();
	atomic_store(&reserve_spent, reserve == NULL);
	if (reserve)
		atomic_store(&reserve_taken, 1);
	pthread_mutex_unlock(&reserve_mu);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int mem_reserve_refill(void)
{
	int done = 0;

	if (!atomic_load_explicit(&reserve_spent, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&reserve_mu);
	if (!reserve && now_ms() >= refill_after) {
		if ((reserve = reserve_map()) != NULL) {
			atomic_store(&reserve_spent, 0);
			done = 1;
		} else {
			refill_after = now_ms() + REFILL_DELAY_MS; /* one try per period */
		}
	}
	pthread_mutex_unlock(&reserve_mu);
	if (done)
		log_info("core", NULL, "event=memory_reserve_restored bytes=%zu", RESERVE_BYTES);
	return done;
}

int mem_reserve_drawn(void)
{
	int d = reserve_drawn_here;
	reserve_drawn_here = 0;
	return d;
}

int mem_reserve_short(void)
{
	return atomic_load_explicit(&reserve_taken, memory_order_relaxed) &&
	       atomic_load_explicit(&reserve_spent, memory_order_relaxed);
}

int mem_reserve_held(void)
{
	pthread_mutex_lock(&reserve_mu);
	int held = reserve != NULL;
	pthread_mutex_unlock(&reserve_mu);
	return held;
}

static void oom(size_t n)
{
	log_error("core", NULL, "event=out_of_memory bytes=%zu reserve=spent", n);
	abort();
}

enum { A_MALLOC, A_CALLOC, A_REALLOC };

/* One attempt; n is the size asked for (for the hook and the log). */
static void *attempt(int kind, void *p, size_t a, size_t b, size_t n, int retry)
{
	if (xalloc_fail_hook && xalloc_fail_hook(n, retry))
		return NULL;
	switch (kind) {
	case A_CALLOC:
		return calloc(a ? a : 1, b ? b : 1);
	case A_REALLOC:
		return realloc(p, a ? a : 1); /* on failure p stays as it was */
	default:
		return malloc(a ? a : 1);
	}
}

/*
 * The allocation failed once: gives the reserve back and retries, both
 * under reserve_mu so that no other thread's refill takes the space back
 * in between (the allocator itself never calls in here). Ends the process
 * only when the retry fails too.
 */
static void *with_reserve(int kind, void *p, size_t a, size_t b, size_t n)
{
	void *r, *res;

	pthread_mutex_lock(&reserve_mu);
	res = reserve;
	reserve = NULL;
	if (res) {
		munmap(res, RESERVE_SPACE);
		atomic_store(&reserve_spent, 1);
		refill_after = now_ms() + REFILL_DELAY_MS;
	}
	r = attempt(kind, p, a, b, n, 1);
	pthread_mutex_unlock(&reserve_mu);
	if (!r)
		oom(n);
	if (res) {
		reserve_drawn_here = 1;
		log_error("core", NULL, "event=memory_reserve_drawn bytes=%zu reserve=%zu", n,
			  RESERVE_BYTES);
	}
	return r;
}

void *xmalloc(size_t n)
{
	void *p = attempt(A_MALLOC, NULL, n, 0, n, 0);
	return p ? p : with_reserve(A_MALLOC, NULL, n, 0, n);
}

void *xcalloc(size_t nmemb, size_t size)
{
	size_t n = nmemb * size;
	void *p = attempt(A_CALLOC, NULL, nmemb, size, n, 0);
	return p ? p : with_reserve(A_CALLOC, NULL, nmemb, size, n);
}

void *xrealloc(void *p, size_t n)
{
	void *q = attempt(A_REALLOC, p, n, 0, n, 0);
	return q ? q : with_reserve(A_REALLOC, p, n, 0, n);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void fatal(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("core", NULL, "event=fatal error=\"%s\"", msg);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("core", NULL, "event=invariant_broken error=\"%s\"", msg);
	abort();
}
