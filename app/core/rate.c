/*
 * rate.c — the in-memory sliding windows of rate.h.
 */
#include "core/rate.h"

#include <stdlib.h>

#include "core/xalloc.h"

struct rate_entry {
	uint64_t key;
	unsigned head;  /* next slot to write */
	unsigned count; /* slots used (<= limit) */
	struct rate_entry *next;
	uint64_t times[]; /* limit slots: event times, oldest at head once full */
};

static void ensure(struct rate_table *t)
{
	if (!t->ready) {
		pthread_mutex_init(&t->mu, NULL);
		t->ready = 1;
	}
}

void rate_table_free(struct rate_table *t)
{
	ensure(t);
	pthread_mutex_lock(&t->mu);
	for (unsigned i = 0; i < RATE_BUCKETS; i++) {
		struct rate_entry *e = t->buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
		t->buckets[i] = NULL;
	}
	pthread_mutex_unlock(&t->mu);
}

void rate_table_init(struct rate_table *t, unsigned limit)
{
	rate_table_free(t);
	t->limit = limit;
}

static struct rate_entry *find(struct rate_table *t, uint64_t key, int create)
{
	uint64_t h = key * 0x9E3779B97F4A7C15u;
	struct rate_entry **b = &t->buckets[(h >> 32) % RATE_BUCKETS];
	for (struct rate_entry *e = *b; e; e = e->next)
		if (e->key == key)
			return e;
	if (!create)
		return NULL;
	struct rate_entry *e = xcalloc(1, sizeof(*e) + (size_t)t->limit * sizeof(uint64_t));
	e->key = key;
	e->next = *b;
	*b = e;
	return e;
}

/* The ring holds the last `limit` events, so the window is full exactly
 * when the ring is full and its oldest is recent. */
static int window_full(const struct rate_table *t, const struct rate_entry *e, uint64_t now_ms)
{
	if (e->count < t->limit)
		return 0;
	uint64_t oldest = e->times[e->head]; /* full ring: head is the oldest */
	return now_ms < oldest + RATE_WINDOW_MS;
}

int rate_table_allowed(struct rate_table *t, uint64_t key, uint64_t now_ms)
{
	int ok = 1;

	if (t->limit == 0)
		return 1;
	ensure(t);
	pthread_mutex_lock(&t->mu);
	struct rate_entry *e = find(t, key, 0);
	if (e && window_full(t, e, now_ms))
		ok = 0;
	pthread_mutex_unlock(&t->mu);
	return ok;
}

void rate_table_record(struct rate_table *t, uint64_t key, uint64_t now_ms)
{
	if (t->limit == 0)
		return;
	ensure(t);
	pthread_mutex_lock(&t->mu);
	struct rate_entry *e = find(t, key, 1);
	e->times[e->head] = now_ms;
	e->head = (e->head + 1) % t->limit;
	if (e->count < t->limit)
		e->count++;
	pthread_mutex_unlock(&t->mu);
}
