/*
 * queue_sched.c — the scheduler of the outbound queue. See queue.h.
 * (First slice: the entry points; delivery follows.)
 */
#include "queue/queue.h"

#include <stdatomic.h>

static atomic_int kicked;

int queue_sched_start(const struct config *cfg, struct store *st, struct loop *loop)
{
	(void)cfg;
	(void)st;
	(void)loop;
	return 0;
}

void queue_sched_kick(void)
{
	atomic_store(&kicked, 1);
}

void queue_sched_stop(void)
{
}

unsigned queue_sched_active(void)
{
	return 0;
}
