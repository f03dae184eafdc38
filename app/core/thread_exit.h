/*
 * thread_exit.h — run a function when the calling thread ends.
 *
 * Why. Some modules keep a per-thread cache in _Thread_local storage
 * (buffer storage, decoded DKIM keys, RSA key objects). C11 gives such
 * storage no destructor, so whatever it points to would outlive a thread
 * that ends: a leak, and for keys, secrets left in freed memory. POSIX
 * thread-specific data has destructors; this wraps one key of it so each
 * module only says what to run.
 *
 * A thread's functions run in the reverse order of registration when it
 * returns from its start routine or calls pthread_exit(), on that thread,
 * with its _Thread_local storage still valid. They do not run for the main
 * thread at exit(), nor on _exit() or a crash.
 */
#ifndef TERN_CORE_THREAD_EXIT_H
#define TERN_CORE_THREAD_EXIT_H

/* Registers fn for the calling thread. Returns 0, or -1 when the thread
 * already has THREAD_EXIT_MAX functions or no key could be made; fn then
 * never runs, so what it would free outlives the thread. */
int thread_at_exit(void (*fn)(void));

#define THREAD_EXIT_MAX 8

#endif
