/*
 * idle_spin.c — the poll-before-sleep rule of idle_spin.h. Pure state, no
 * clock and no system calls: loop.c measures and polls.
 */
#include "idle_spin.h"

void idle_spin_init(struct idle_spin *s, uint32_t window_us)
{
	s->window_us = window_us;
	s->armed = 0;
}

uint32_t idle_spin_window_for(long ncpus)
{
	return ncpus > 1 ? IDLE_SPIN_WINDOW_US : 0;
}

int idle_spin_armed(const struct idle_spin *s)
{
	return s->armed;
}

void idle_spin_polled(struct idle_spin *s, int caught)
{
	s->armed = s->window_us && caught;
}

void idle_spin_slept(struct idle_spin *s, uint64_t slept_us, int events)
{
	s->armed = s->window_us && events && slept_us <= s->window_us;
}
