/*
 * test_msort.c — the merge sort of indexes (core/msort.h) against an
 * insertion sort written here: every length up to 70 and a few large
 * ones, keys with many repeats (stability: equal keys keep their order),
 * both directions through the context, and the empty and one-element
 * arrays.
 */
#include "core/msort.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

struct keys {
	const int *k;
	int desc;
};

static int cmp_key(const void *ctx, uint32_t a, uint32_t b)
{
	const struct keys *ks = ctx;
	int r = (ks->k[a] > ks->k[b]) - (ks->k[a] < ks->k[b]);
	return ks->desc ? -r : r;
}

/* The model: a stable insertion sort with the same comparator. */
static void model(uint32_t *v, size_t n, const struct keys *ks)
{
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;
		while (j > 0 && cmp_key(ks, x, v[j - 1]) < 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static void one(size_t n, int range, int desc, unsigned seed)
{
	int *k = malloc((n + 1) * sizeof *k);
	uint32_t *v = malloc((n + 1) * sizeof *v), *w = malloc((n + 1) * sizeof *w);
	struct keys ks = {k, desc};

	srand(seed);
	for (size_t i = 0; i < n; i++) {
		k[i] = rand() % range;
		v[i] = w[i] = (uint32_t)i;
	}
	msort_u32(v, n, cmp_key, &ks);
	model(w, n, &ks);
	CHECK(n == 0 || memcmp(v, w, n * sizeof *v) == 0);
	/* Stable: within equal keys the indexes ascend. */
	for (size_t i = 1; i < n; i++)
		CHECK(cmp_key(&ks, v[i - 1], v[i]) < 0 ||
		      (cmp_key(&ks, v[i - 1], v[i]) == 0 && v[i - 1] < v[i]));
	free(k);
	free(v);
	free(w);
}

int main(void)
{
	for (size_t n = 0; n <= 70; n++) {
		one(n, 5, 0, (unsigned)n);
		one(n, 1000, 1, (unsigned)n + 100);
	}
	one(2000, 3, 0, 7);
	one(2000, 100000, 1, 8);
	one(4097, 50, 0, 9);
	/* An empty array is left alone (no scratch, no call). */
	msort_u32(NULL, 0, cmp_key, NULL);
	return unit_done("test_msort");
}
