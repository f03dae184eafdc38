/*
 * idle_spin.h — whether an event loop polls for a moment before it sleeps.
 *
 * Why. A loop that runs out of events sleeps in epoll_wait(). Waking it
 * again costs its own thread a context switch and, when its CPU has gone
 * idle, costs the thread that wakes it an inter-processor interrupt. On a
 * virtual machine both are exits to the hypervisor: tens of microseconds,
 * paid by the loop and by whoever sent it the event (a peer on loopback, the
 * store writer posting a commit). Under load the next event often comes
 * sooner than that, and a loop that sleeps between events spends more on
 * sleeping than on the events.
 *
 * The rule. A loop polls (epoll_wait with no timeout, yielding the CPU
 * between tries) for at most the window before it sleeps, and only while
 * its recent waits were short:
 *   - armed when a sleep ended with events within the window: had the loop
 *     polled, it would have caught them without sleeping;
 *   - kept armed while a poll catches an event;
 *   - disarmed when a poll runs out its window, or a sleep lasts longer
 *     than the window or ends without events (a timer).
 * So an idle or lightly loaded server never polls: its sleeps are long. A
 * busy one polls, and a poll that catches nothing costs one window before
 * the loop sleeps as before. The window is about what one sleep and wake-up
 * costs, so a wasted poll costs about what the sleep it tried to avoid
 * would have (the classic bound for spinning before blocking). The yield
 * between tries lets any other runnable thread on that CPU (a peer, the
 * store writer) go first. With one CPU there is no one to poll for: the
 * window is 0 and the loop never polls.
 */
#ifndef TERN_CORE_IDLE_SPIN_H
#define TERN_CORE_IDLE_SPIN_H

#include <stdint.h>

/* The longest poll before sleeping, in microseconds. */
#define IDLE_SPIN_WINDOW_US 50u

struct idle_spin {
	uint32_t window_us; /* 0: never poll */
	int armed;
};

/* window_us 0 disables polling for good. */
void idle_spin_init(struct idle_spin *s, uint32_t window_us);

/* The window for a machine with ncpus CPUs online: 0 with one (or unknown). */
uint32_t idle_spin_window_for(long ncpus);

/* Whether to poll before the next sleep. */
int idle_spin_armed(const struct idle_spin *s);

/* A poll ended: it caught an event (caught != 0) or ran out its window. */
void idle_spin_polled(struct idle_spin *s, int caught);

/* A sleep ended after slept_us, with events (events != 0) or without. */
void idle_spin_slept(struct idle_spin *s, uint64_t slept_us, int events);

#endif
