/*
 * imap_dg_cache.c — the downgrade size differences (imap_dg_cache.h):
 * a direct-mapped table, slot chosen by a hash of account and email id.
 */
#include "imap/imap_dg_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct slot {
	uintptr_t st; /* 0: a free slot */
	uint32_t account, email_id;
	int32_t delta;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots; /* IMAP_DG_CACHE_SLOTS, from the first put */

static struct slot *slot_of(uint32_t account, uint32_t email_id)
{
	uint64_t h = ((uint64_t)account << 32 | email_id) * 0x9E3779B97F4A7C15ull;
	return &slots[(h >> 32) % IMAP_DG_CACHE_SLOTS];
}

int imap_dg_cache_get(const struct store *st, uint32_t account, uint32_t email_id, int64_t *delta_r)
{
	int found = 0;

	pthread_mutex_lock(&mu);
	if (slots) {
		const struct slot *e = slot_of(account, email_id);
		if (e->st == (uintptr_t)st && e->account == account && e->email_id == email_id) {
			*delta_r = e->delta;
			found = 1;
		}
	}
	pthread_mutex_unlock(&mu);
	return found;
}

void imap_dg_cache_put(const struct store *st, uint32_t account, uint32_t email_id, int64_t delta)
{
	if (!st || delta > INT32_MAX || delta < INT32_MIN)
		return;
	pthread_mutex_lock(&mu);
	if (!slots)
		slots = xcalloc(IMAP_DG_CACHE_SLOTS, sizeof *slots);
	*slot_of(account, email_id) =
		(struct slot){ (uintptr_t)st, account, email_id, (int32_t)delta };
	pthread_mutex_unlock(&mu);
}

void imap_dg_cache_clear(void)
{
	pthread_mutex_lock(&mu);
	free(slots);
	slots = NULL;
	pthread_mutex_unlock(&mu);
}
