/*
 * fuzz_imap_seqset.c — sequence sets on their own, against a model written
 * here. The first octet picks "*"'s value (0, 1, a small number, one from
 * the input, or 4294967295) and the element limit; the rest is the set.
 * Checks: the syntax a strict reading of RFC 9051 gives (nz-numbers
 * without leading zeros, "*", one colon per range, single commas, "$"
 * alone) is exactly what imap_seqset_check() and imap_seqset_parse()
 * accept, with the same element count and limit; a parsed set is sorted,
 * disjoint and not adjacent, its total is the sum of its ranges, and
 * membership of every range end, its neighbours and some fixed values is
 * what the elements say; formatting and parsing again gives the same
 * ranges; a set of at most 4096 values iterates in ascending order, that
 * many times, and rebuilds from the list (imap_seqset_from_sorted()).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "imap/imap_seqset.h"

#define ELEMS_MAX 4096

struct elem {
	uint64_t a, b; /* 0 is "*" */
};

/* seq-number at s[*i]; 0 for "*"; -1 when none. */
static int64_t model_num(const char *s, size_t n, size_t *i)
{
	uint64_t v = 0;
	size_t j = *i;

	if (j < n && s[j] == '*') {
		*i = j + 1;
		return 0;
	}
	if (j >= n || s[j] == '0' || s[j] < '0' || s[j] > '9')
		return -1;
	while (j < n && s[j] >= '0' && s[j] <= '9' && j - *i < 11)
		v = v * 10 + (uint64_t)(s[j++] - '0');
	if (v > UINT32_MAX)
		return -1;
	*i = j;
	return (int64_t)v;
}

/* Element count, or -1 on a syntax error; at most ELEMS_MAX stored. */
static long model_parse(const char *s, size_t n, struct elem *e)
{
	size_t i = 0, k = 0;

	if (n == 0)
		return -1;
	for (;;) {
		int64_t a = model_num(s, n, &i), b;
		if (a < 0)
			return -1;
		b = a;
		if (i < n && s[i] == ':') {
			i++;
			if ((b = model_num(s, n, &i)) < 0)
				return -1;
		}
		if (k < ELEMS_MAX)
			e[k] = (struct elem){ (uint64_t)a, (uint64_t)b };
		k++;
		if (i == n)
			return (long)k;
		if (s[i++] != ',')
			return -1;
	}
}

static int model_contains(const struct elem *e, size_t k, uint32_t max, uint64_t v)
{
	for (size_t i = 0; i < k; i++) {
		uint64_t a = e[i].a ? e[i].a : max, b = e[i].b ? e[i].b : max;
		if ((e[i].a == 0 || e[i].b == 0) && max == 0)
			continue;
		if (v >= (a < b ? a : b) && v <= (a < b ? b : a))
			return 1;
	}
	return 0;
}

static void check_shape(const struct imap_seqset *set)
{
	uint64_t total = 0;
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		assert(r->lo >= 1 && r->lo <= r->hi);
		if (i)
			assert((uint64_t)r->lo > (uint64_t)set->ranges[i - 1].hi + 1);
		total += (uint64_t)r->hi - r->lo + 1;
	}
	assert(total == set->total);
	assert(imap_seqset_last(set) == (set->count ? set->ranges[set->count - 1].hi : 0));
}

static int same(const struct imap_seqset *x, const struct imap_seqset *y)
{
	return x->count == y->count && x->total == y->total &&
	       (x->count == 0 || memcmp(x->ranges, y->ranges, x->count * sizeof(x->ranges[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct elem e[ELEMS_MAX];
	struct imap_seqset set, again;
	struct arena *a;
	uint32_t max;
	size_t max_ranges;

	if (size < 5)
		return 0;
	uint32_t v32 = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 |
		       data[4];
	switch (data[0] & 7) {
	case 0: max = 0; break;
	case 1: max = 1; break;
	case 2: max = UINT32_MAX; break;
	case 3: max = v32; break;
	default: max = v32 % 200; break;
	}
	max_ranges = (data[0] >> 3) == 31 ? SIZE_MAX : (size_t)(data[0] >> 3) + 1;
	struct str s = str_make((const char *)data + 5, size - 5);
	char *copy = malloc(s.len + 1);
	memcpy(copy, s.p, s.len);
	s.p = copy;

	/* Syntax. */
	int saved = s.len == 1 && s.p[0] == '$';
	long k = saved ? 0 : model_parse(s.p, s.len, e);
	int want = k < 0                     ? IMAP_SEQSET_ERR_SYNTAX
		   : (size_t)k > max_ranges ? IMAP_SEQSET_ERR_TOO_MANY
					    : (int)k;
	int chk = imap_seqset_check(s, max_ranges);
	/* Past the limit the walk stops early, so a later syntax error is not seen. */
	if (chk == IMAP_SEQSET_ERR_TOO_MANY)
		assert(want == IMAP_SEQSET_ERR_TOO_MANY || want == IMAP_SEQSET_ERR_SYNTAX);
	else
		assert(chk == want);

	a = arena_new(0);
	int rc = imap_seqset_parse(s, max, max_ranges, a, &set);
	assert(rc == (chk < 0 ? chk : IMAP_SEQSET_OK));
	if (rc != IMAP_SEQSET_OK) {
		assert(set.count == 0 && set.ranges == NULL && !set.saved);
		goto out;
	}
	assert(set.saved == (unsigned)saved);
	if (saved) {
		assert(set.count == 0 && !imap_seqset_contains(&set, 1));
		goto out;
	}
	assert(set.star == (memchr(s.p, '*', s.len) != NULL));
	assert(set.count <= (size_t)k);
	check_shape(&set);

	/* Membership. */
	size_t kk = (size_t)k < ELEMS_MAX ? (size_t)k : ELEMS_MAX;
	if ((size_t)k <= ELEMS_MAX) {
		uint64_t probes[] = { 0, 1, 2, max, (uint64_t)max + 1, v32, UINT32_MAX };
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			if (probes[i] >= 1 && probes[i] <= UINT32_MAX)
				assert(imap_seqset_contains(&set, (uint32_t)probes[i]) ==
				       model_contains(e, kk, max, probes[i]));
		for (size_t i = 0; i < kk; i++) {
			uint64_t ends[] = { e[i].a ? e[i].a : max, e[i].b ? e[i].b : max };
			for (int j = 0; j < 2; j++)
				for (int d = -1; d <= 1; d++) {
					uint64_t v = ends[j] + (uint64_t)(int64_t)d;
					if (v >= 1 && v <= UINT32_MAX)
						assert(imap_seqset_contains(&set, (uint32_t)v) ==
						       model_contains(e, kk, max, v));
				}
		}
	}

	/* Format, parse again. */
	struct buf b;
	buf_init(&b, 1 << 20);
	assert(imap_seqset_format(&set, &b) == 0);
	if (set.count) {
		assert(imap_seqset_parse(buf_str(&b), max, SIZE_MAX, a, &again) == IMAP_SEQSET_OK);
		assert(same(&set, &again) && !again.star);
	} else {
		assert(buf_len(&b) == 0);
	}
	buf_free(&b);

	/* Iterate, rebuild. */
	if (set.total <= 4096) {
		static uint32_t vals[4096];
		struct imap_seqset_iter it;
		uint32_t v;
		size_t n = 0;
		imap_seqset_iter_init(&it, &set);
		while (imap_seqset_iter_next(&it, &v)) {
			assert(n < set.total && (n == 0 || v > vals[n - 1]));
			assert(imap_seqset_contains(&set, v));
			vals[n++] = v;
		}
		assert(n == set.total);
		imap_seqset_from_sorted(vals, n, a, &again);
		assert(same(&set, &again));
	}
out:
	arena_free(&a);
	free(copy);
	return 0;
}
