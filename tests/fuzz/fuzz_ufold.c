/*
 * fuzz_ufold.c — core/ufold.h on any octets: folding in place (from
 * ufold_room's room) gives what folding into a second buffer gives, at
 * most UFOLD_GROWTH times as long; folding again changes nothing; the
 * character lengths ufold_char_len reports add up to both lengths;
 * ufold_fit's prefix folds within the room it was given.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ufold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out = malloc(UFOLD_GROWTH * size + 1), *p = malloc(UFOLD_GROWTH * size + 1);
	size_t l = ufold(in, size, out);
	assert(l <= UFOLD_GROWTH * size);
	size_t room = ufold_room(in, size);
	assert(room >= size && room <= UFOLD_GROWTH * size + (size == 0));
	memcpy(p, in, size);
	assert(ufold_inplace(p, size) == l && !memcmp(p, out, l));
	assert(ufold_inplace(p, l) == l && !memcmp(p, out, l));
	size_t i = 0, o = 0;
	while (i < size) {
		size_t cl, f = ufold_char_len(in + i, size - i, &cl);
		assert(cl >= 1 && cl <= 4 && f >= 1 && f <= UFOLD_MAP_MAX);
		i += cl;
		o += f;
	}
	assert(i == size && o == l);
	size_t r = size / 2 + (size ? data[0] % (size + 1) : 0);
	size_t k = ufold_fit(in, size, r);
	assert(k <= size && ufold_room(in, k) <= r);
	free(out);
	free(p);
	return 0;
}
