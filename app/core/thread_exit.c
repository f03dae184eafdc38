/*
 * thread_exit.c — per-thread exit functions. See thread_exit.h.
 *
 * One process-wide pthread key; a thread's value for it is non-NULL once
 * it has registered a function, which is what makes the C library call
 * run_all() when that thread ends. The functions themselves live in the
 * thread's own _Thread_local array.
 */
#include "thread_exit.h"

#include <pthread.h>

static _Thread_local void (*fns[THREAD_EXIT_MAX])(void);
static _Thread_local unsigned nfns;

static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;

static void run_all(void *marker)
{
	(void)marker;
	while (nfns > 0)
		fns[--nfns]();
}

static void key_create(void)
{
	key_ok = pthread_key_create(&key, run_all) == 0;
}

int thread_at_exit(void (*fn)(void))
{
	pthread_once(&key_once, key_create);
	if (!key_ok || nfns >= THREAD_EXIT_MAX)
		return -1;
	if (nfns == 0 && pthread_setspecific(key, &nfns) != 0)
		return -1;
	fns[nfns++] = fn;
	return 0;
}
