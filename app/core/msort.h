/*
 * msort.h — one stable merge sort of uint32 indexes with a context.
 *
 * Why. qsort has no context argument (qsort_r is not in every libc), so a
 * comparator that needs the request's sort keys read them from statics
 * under a mutex, one sort at a time in the whole server; and musl's qsort
 * (smoothsort) moves elements through memcpy, a call per move, which made
 * sorting a few thousand pointers the largest cost of a JMAP Email/query.
 * Sorting small indexes into the caller's array, with the keys passed in,
 * is stable, reentrant and cheap: n log n comparisons, n log n moves of
 * four bytes.
 *
 * Caveats: the scratch array is allocated per call (xmalloc: failure
 * aborts); n must fit in memory twice as uint32_t.
 */
#ifndef TERN_CORE_MSORT_H
#define TERN_CORE_MSORT_H

#include <stddef.h>
#include <stdint.h>

/* <0, 0 or >0 as index a sorts before, with or after index b. */
typedef int msort_cmp(const void *ctx, uint32_t a, uint32_t b);

/* Sorts v[0..n) by cmp(ctx, ., .), stably (equal indexes keep their
 * order). cmp must not modify v. */
void msort_u32(uint32_t *v, size_t n, msort_cmp *cmp, const void *ctx);

#endif
