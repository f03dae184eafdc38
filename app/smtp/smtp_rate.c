/*
 * smtp_rate.c — the in-memory sliding window of smtp_rate.h.
 */
#include "smtp/smtp_rate.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/xalloc.h"

#define RATE_BUCKETS 1024

struct rate_entry {
	uint32_t account;
	unsigned head;  /* next slot to write */
	unsigned count; /* slots used (<= limit) */
	struct rate_entry *next;
	uint64_t times[]; /* limit slots: send times, oldest at head once full */
};

static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned rate_limit;
static struct rate_entry *buckets[RATE_BUCKETS];

void smtp_rate_free(void)
{
	pthread_mutex_lock(&rate_mu);
	for (unsigned i = 0; i < RATE_BUCKETS; i++) {
		struct rate_entry *e = buckets[i], *n;
		for (; e; e = n) {
			n = e->next;
			free(e);
		}
		buckets[i] = NULL;
	}
	pthread_mutex_unlock(&rate_mu);
}

void smtp_rate_init(unsigned per_hour)
{
	smtp_rate_free();
	rate_limit = per_hour;
}

static struct rate_entry *find(uint32_t account, int create)
{
	struct rate_entry **b = &buckets[(account * 2654435761u) % RATE_BUCKETS];
	for (struct rate_entry *e = *b; e; e = e->next)
		if (e->account == account)
			return e;
	if (!create)
		return NULL;
	struct rate_entry *e = xcalloc(1, sizeof(*e) + (size_t)rate_limit * sizeof(uint64_t));
	e->account = account;
	e->next = *b;
	*b = e;
	return e;
}

/* Sends within the window. The ring holds the last `limit` sends, so the
 * window is full exactly when it is full and its oldest is recent. */
static int window_full(const struct rate_entry *e, uint64_t now_ms)
{
	if (e->count < rate_limit)
		return 0;
	uint64_t oldest = e->times[e->head]; /* full ring: head is the oldest */
	return now_ms < oldest + SMTP_RATE_WINDOW_MS;
}

int smtp_rate_allowed(uint32_t account, uint64_t now_ms)
{
	int ok = 1;

	if (rate_limit == 0)
		return 1;
	pthread_mutex_lock(&rate_mu);
	struct rate_entry *e = find(account, 0);
	if (e && window_full(e, now_ms))
		ok = 0;
	pthread_mutex_unlock(&rate_mu);
	return ok;
}

void smtp_rate_record(uint32_t account, uint64_t now_ms)
{
	if (rate_limit == 0)
		return;
	pthread_mutex_lock(&rate_mu);
	struct rate_entry *e = find(account, 1);
	e->times[e->head] = now_ms;
	e->head = (e->head + 1) % rate_limit;
	if (e->count < rate_limit)
		e->count++;
	pthread_mutex_unlock(&rate_mu);
}
