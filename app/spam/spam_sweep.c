/*
 * spam_sweep.c — the incremental sweep of an expiring meta table (the
 * greylist's grey/ records, the sent Message-IDs' sentid/ ones): each
 * sweep reads the next `visit` records after where the last one stopped
 * and deletes those the table's expired() says are past, so its cost is
 * bounded whatever the table's size. One sweep of a table at a time:
 * another one running, this one is skipped.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "spam/spam_private.h"
#include "store/store.h"

struct sweep {
	const struct spam_sweeper *sw;
	int64_t now;
	size_t n, max;
	char *names; /* max names of sw->name_max octets */
};

static void sweep_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct sweep *s = arg;
	size_t m = s->sw->name_max;
	if (s->n < s->max && strlen(name) < m && s->sw->expired(val, len, s->now))
		snprintf(s->names + s->n++ * m, m, "%s", name);
}

size_t spam_sweep(struct store *st, struct spam_sweeper *sw, int64_t now, size_t visit)
{
	struct sweep s = {sw, now, 0, visit, NULL};
	size_t done = 0;

	if (pthread_mutex_trylock(&sw->mu) != 0)
		return 0;
	s.names = xcalloc(visit ? visit : 1, sw->name_max);
	if (store_meta_list_page(st, sw->prefix, sw->cursor, sizeof sw->cursor, visit, sweep_cb,
	                         &s) == STORE_OK)
		for (size_t i = 0; i < s.n; i++)
			done += store_meta_del(st, s.names + i * sw->name_max) == STORE_OK;
	pthread_mutex_unlock(&sw->mu);
	free(s.names);
	return done;
}
