/*
 * jmap_idx.c — an index by id into a caller's list (jmap_private.h):
 * open addressing with linear probing, grown (every id placed again)
 * when half full, so a lookup costs a few probes whatever the length.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "jmap/jmap_private.h"

struct jmap_idx_slot {
	uint32_t id;
	size_t place; /* in the caller's list, + 1; 0: free */
};

static size_t hash(uint32_t id, size_t nslot)
{
	return (size_t)(id * 2654435761u) & (nslot - 1);
}

static void put(struct jmap_idx_slot *slot, size_t nslot, uint32_t id, size_t place)
{
	size_t h = hash(id, nslot);

	while (slot[h].place)
		h = (h + 1) & (nslot - 1);
	slot[h] = (struct jmap_idx_slot){id, place + 1};
}

size_t jmap_idx_find(const struct jmap_idx *x, uint32_t id)
{
	if (x->nslot)
		for (size_t h = hash(id, x->nslot); x->slot[h].place; h = (h + 1) & (x->nslot - 1))
			if (x->slot[h].id == id)
				return x->slot[h].place - 1;
	return SIZE_MAX;
}

size_t jmap_idx_place(struct jmap_idx *x, uint32_t id, size_t n, int *added_r)
{
	size_t at = jmap_idx_find(x, id);

	*added_r = 0;
	if (at != SIZE_MAX)
		return at;
	if ((x->n + 1) * 2 > x->nslot) {
		size_t nslot = x->nslot ? x->nslot * 2 : 128;
		struct jmap_idx_slot *slot = xcalloc(nslot, sizeof *slot);
		for (size_t i = 0; i < x->nslot; i++)
			if (x->slot[i].place)
				put(slot, nslot, x->slot[i].id, x->slot[i].place - 1);
		free(x->slot);
		x->slot = slot;
		x->nslot = nslot;
	}
	put(x->slot, x->nslot, id, n);
	x->n++;
	*added_r = 1;
	return n;
}

void jmap_idx_free(struct jmap_idx *x)
{
	free(x->slot);
	x->slot = NULL;
	x->nslot = x->n = 0;
}
