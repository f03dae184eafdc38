/*
 * msort.c — the stable merge sort of msort.h: bottom-up, runs of
 * doubling width merged into a scratch array and copied back.
 */
#include <stdlib.h>
#include <string.h>

#include "core/msort.h"
#include "core/xalloc.h"

void msort_u32(uint32_t *v, size_t n, msort_cmp *cmp, const void *ctx)
{
	if (n < 2)
		return;
	uint32_t *tmp = xmalloc(n * sizeof(*tmp));
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			/* The right one only when strictly before: stable. */
			while (i < mid && j < hi)
				tmp[k++] = cmp(ctx, v[j], v[i]) < 0 ? v[j++] : v[i++];
			while (i < mid)
				tmp[k++] = v[i++];
			while (j < hi)
				tmp[k++] = v[j++];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
	free(tmp);
}
