/*
 * metrics.c — counters and the hourly table. See metrics.h.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

static uint64_t counters[METRIC_COUNT];
static pthread_mutex_t hours_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_hour hours[METRICS_HOURS]; /* slot = hour number % METRICS_HOURS */

static void hour_add(enum metric m, uint64_t n)
{
	int64_t h = (int64_t)time(NULL) / 3600;
	struct metrics_hour *e = &hours[(uint64_t)h % METRICS_HOURS];

	pthread_mutex_lock(&hours_lock);
	if (e->start != h * 3600) {
		memset(e, 0, sizeof(*e));
		e->start = h * 3600;
	}
	if (m == METRIC_RECEIVED)
		e->received += n;
	else if (m == METRIC_SENT)
		e->sent += n;
	else
		e->rejected += n;
	pthread_mutex_unlock(&hours_lock);
}

void metrics_add(enum metric m, uint64_t n)
{
	if ((unsigned)m >= METRIC_COUNT)
		return;
	__atomic_add_fetch(&counters[m], n, __ATOMIC_RELAXED);
	if (m == METRIC_RECEIVED || m == METRIC_SENT || m == METRIC_REJECTED)
		hour_add(m, n);
}

void metrics_inc(enum metric m)
{
	metrics_add(m, 1);
}

uint64_t metrics_get(enum metric m)
{
	if ((unsigned)m >= METRIC_COUNT)
		return 0;
	return __atomic_load_n(&counters[m], __ATOMIC_RELAXED);
}

void metrics_hours(int64_t now, struct metrics_hour out[METRICS_HOURS])
{
	int64_t cur = now / 3600;

	pthread_mutex_lock(&hours_lock);
	for (int i = 0; i < METRICS_HOURS; i++) {
		int64_t h = cur - (METRICS_HOURS - 1) + i;
		const struct metrics_hour *e = &hours[(uint64_t)h % METRICS_HOURS];
		if (e->start == h * 3600)
			out[i] = *e;
		else
			out[i] = (struct metrics_hour){ .start = h * 3600 };
	}
	pthread_mutex_unlock(&hours_lock);
}
