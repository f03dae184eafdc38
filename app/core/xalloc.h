/*
 * xalloc.h — allocation that cannot fail, and fatal errors.
 *
 * The wrappers never return NULL, so callers carry no NULL checks for
 * allocation (Dovecot's i_malloc). A failure draws the process's memory
 * reserve and retries; the thread is marked and its event loop ends the
 * session it was serving (see the design in xalloc.c). Only a failure with
 * the reserve already spent aborts, with a log line.
 * fatal() is for broken invariants and start-up failures.
 */
#ifndef TERN_CORE_XALLOC_H
#define TERN_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * Gives memory the calling thread's allocator holds freed back to the
 * operating system now, instead of keeping it for reuse. Worth its cost
 * (a walk over the thread's heap) after a big transient use: a large
 * message, a password hash. The allocator does this by itself only on
 * later allocation activity, which a thread going idle never has.
 */
void mem_release(void);
/*
 * Called once at server start: freed memory is given back as soon as a
 * whole span of it is free, not after mimalloc's default 25 ms, which
 * comes only with later allocation activity (an idle thread keeps it).
 * Measured: 50 dropped 8 MB DATA streams left RssAnon at ~11 MB (idle
 * 1 MB) before, 3.7 MB after; CPU per 10 KiB message within noise.
 */
void mem_setup(void);
/*
 * Asks for a mem_release() on this thread once its current work is done:
 * an event loop calls mem_release_if_due() before it waits, so memory
 * freed after the call (a closing connection's buffers) goes back too.
 */
void mem_release_soon(void);
void mem_release_if_due(void);
/* A use at least this big is worth a mem_release() when it ends. */
#define MEM_RELEASE_AFTER ((size_t)1 << 20)

/*
 * The memory reserve (xalloc.c). mem_reserve_init(): at server start, takes
 * it (and reads the test-only TERN_TEST_ALLOC_FAIL). mem_reserve_drawn():
 * 1 once if this thread's allocation drew the reserve since the last call.
 * mem_reserve_refill(): takes the reserve again if it is spent and memory
 * is there, trying at most once a second (and not within a second of the
 * draw); 1 when it did. mem_reserve_held(): 1 while it is held.
 * mem_reserve_short(): 1 while the reserve taken at start is given back
 * (memory is short: listeners shed new connections); one atomic load,
 * never 1 in a process that never took a reserve.
 */
void mem_reserve_init(void);
int mem_reserve_drawn(void);
int mem_reserve_refill(void);
int mem_reserve_held(void);
int mem_reserve_short(void);
/* Test hook: when set and it returns 1, the attempt (retry 0: the first,
 * 1: the one after the reserve was drawn) fails as if malloc had. */
extern int (*xalloc_fail_hook)(size_t n, int retry);

/* Logs "fatal ..." and exits with status 1 (or 2 when code is 2). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Like fatal(), for broken invariants: aborts so a core dump exists. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
