/*
 * test_xalloc.c — the memory reserve (core/xalloc.c): a failed allocation
 * draws the reserve, is retried and succeeds, marks only its own thread;
 * the reserve is taken again; a failure with the reserve spent (or a retry
 * that fails too) still ends the process. Failures are injected with
 * xalloc_fail_hook: ASan's allocator cannot be made to fail on cue.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "unit.h"

#define ODD 12347 /* a size nothing else here asks for */

static int fail_first(size_t n, int retry)
{
	return n == ODD && !retry;
}

static int fail_always(size_t n, int retry)
{
	(void)retry;
	return n == ODD;
}

/* Runs fn in a child; returns the signal it died of (0 if it exited). */
static int dies_of(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/* A refill waits a second after a draw (REFILL_DELAY_MS). */
static void wait_refill(void)
{
	usleep(1100 * 1000);
}

static void alloc_odd(void)
{
	free(xmalloc(ODD));
}

static void *other_thread(void *arg)
{
	int *drawn = arg;
	void *p = xmalloc(ODD);
	drawn[0] = mem_reserve_drawn();
	drawn[1] = mem_reserve_drawn();
	free(p);
	return NULL;
}

int main(void)
{
	/* No reserve taken (CLI commands, before the server starts): a
	 * failure whose retry fails too ends the process as it always did. */
	xalloc_fail_hook = fail_always;
	CHECK(!mem_reserve_held());
	CHECK_EQ_INT(dies_of(alloc_odd), SIGABRT);
	xalloc_fail_hook = fail_first;
	free(xmalloc(ODD)); /* the retry found memory: nothing drawn */
	CHECK_EQ_INT(mem_reserve_drawn(), 0);

	mem_reserve_init();
	CHECK(mem_reserve_held());
	CHECK_EQ_INT(mem_reserve_refill(), 0); /* already held */

	/* Other sizes are untouched and draw nothing. */
	free(xmalloc(100));
	CHECK_EQ_INT(mem_reserve_drawn(), 0);
	CHECK(mem_reserve_held());

	/* A failure draws the reserve; the retry succeeds; the thread is
	 * marked once. */
	char *p = xmalloc(ODD);
	CHECK(p != NULL);
	memset(p, 'x', ODD);
	CHECK_EQ_INT(mem_reserve_drawn(), 1);
	CHECK_EQ_INT(mem_reserve_drawn(), 0);
	CHECK(!mem_reserve_held());
	free(p);

	/* Spent: a failure whose retry fails too ends the process. */
	xalloc_fail_hook = fail_always;
	CHECK_EQ_INT(dies_of(alloc_odd), SIGABRT);
	xalloc_fail_hook = fail_first;

	/* Taken again once memory is there, but not at once: the session
	 * that drew it gets time to free what it held. */
	CHECK_EQ_INT(mem_reserve_refill(), 0);
	CHECK(!mem_reserve_held());
	wait_refill();
	CHECK_EQ_INT(mem_reserve_refill(), 1);
	CHECK(mem_reserve_held());
	CHECK_EQ_INT(mem_reserve_refill(), 0);

	/* calloc and realloc the same way; realloc keeps the contents. */
	unsigned char *z = xcalloc(1, ODD);
	CHECK(z != NULL);
	int zero = 1;
	for (size_t i = 0; i < ODD; i++)
		zero &= z[i] == 0;
	CHECK(zero);
	CHECK_EQ_INT(mem_reserve_drawn(), 1);
	free(z);
	wait_refill();
	CHECK_EQ_INT(mem_reserve_refill(), 1);

	char *r = xmalloc(10);
	memcpy(r, "ninebytes", 10);
	r = xrealloc(r, ODD);
	CHECK_EQ_STR(r, "ninebytes");
	CHECK_EQ_INT(mem_reserve_drawn(), 1);
	free(r);
	wait_refill();
	CHECK_EQ_INT(mem_reserve_refill(), 1);

	/* The mark belongs to the thread that drew. */
	pthread_t t;
	int drawn[2] = { -1, -1 };
	pthread_create(&t, NULL, other_thread, drawn);
	pthread_join(t, NULL);
	CHECK_EQ_INT(drawn[0], 1);
	CHECK_EQ_INT(drawn[1], 0);
	CHECK_EQ_INT(mem_reserve_drawn(), 0);
	CHECK(!mem_reserve_held());
	wait_refill();
	CHECK_EQ_INT(mem_reserve_refill(), 1);

	/* A retry that fails too, reserve or not, ends the process. */
	xalloc_fail_hook = fail_always;
	CHECK_EQ_INT(dies_of(alloc_odd), SIGABRT);

	/* TERN_TEST_ALLOC_FAIL installs the first-attempt failure. */
	xalloc_fail_hook = NULL;
	setenv("TERN_TEST_ALLOC_FAIL", "12347", 1);
	mem_reserve_init();
	CHECK(xalloc_fail_hook != NULL);
	free(xmalloc(ODD));
	CHECK_EQ_INT(mem_reserve_drawn(), 1);
	wait_refill();
	CHECK_EQ_INT(mem_reserve_refill(), 1);

	return unit_done("test_xalloc");
}
