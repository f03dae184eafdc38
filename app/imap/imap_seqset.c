/*
 * imap_seqset.c — sequence-set parsing and normalisation. See imap_seqset.h.
 */
#include "imap_seqset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marks "*" in a raw range before resolution; 0 is never a valid number. */
#define STAR 0u

/*
 * Reads a seq-number (nz-number or "*") at s.p[*i]. Returns 0 and sets
 * *v_r (STAR for "*"), or -1.
 */
static int seq_number(struct str s, size_t *i, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t j = *i;

	if (j < s.len && s.p[j] == '*') {
		*v_r = STAR;
		*i = j + 1;
		return 0;
	}
	if (j >= s.len || s.p[j] < '1' || s.p[j] > '9')
		return -1;
	for (; j < s.len && s.p[j] >= '0' && s.p[j] <= '9'; j++) {
		v = v * 10 + (uint64_t)(s.p[j] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	*i = j;
	return 0;
}

/*
 * Walks the elements of s. With out == NULL only counts them (stopping
 * early past max); else stores each raw range (STAR unresolved) in out.
 * Returns the element count or a negative imap_seqset_result.
 */
static int walk(struct str s, size_t max, struct imap_seq_range *out)
{
	size_t i = 0, n = 0;

	if (s.len == 1 && s.p[0] == '$')
		return 0;
	if (s.len == 0)
		return IMAP_SEQSET_ERR_SYNTAX;
	for (;;) {
		uint32_t a, b;

		if (seq_number(s, &i, &a) < 0)
			return IMAP_SEQSET_ERR_SYNTAX;
		b = a;
		if (i < s.len && s.p[i] == ':') {
			i++;
			if (seq_number(s, &i, &b) < 0)
				return IMAP_SEQSET_ERR_SYNTAX;
		}
		if (n >= max)
			return IMAP_SEQSET_ERR_TOO_MANY;
		if (out) {
			out[n].lo = a;
			out[n].hi = b;
		}
		n++;
		if (i == s.len)
			break;
		if (s.p[i] != ',')
			return IMAP_SEQSET_ERR_SYNTAX;
		i++;
	}
	/* The caller's max_ranges is a size_t but results are int. */
	return n > (size_t)INT32_MAX ? IMAP_SEQSET_ERR_TOO_MANY : (int)n;
}

int imap_seqset_check(struct str s, size_t max_ranges)
{
	return walk(s, max_ranges, NULL);
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

int imap_seqset_parse(struct str s, uint32_t max, size_t max_ranges, struct arena *a,
                      struct imap_seqset *set_r)
{
	struct imap_seq_range *r;
	size_t i, n, out;
	int star = 0, rc;

	memset(set_r, 0, sizeof(*set_r));
	rc = walk(s, max_ranges, NULL);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		set_r->saved = 1;
		return IMAP_SEQSET_OK;
	}
	n = (size_t)rc;
	r = arena_alloc(a, n * sizeof(*r));
	walk(s, max_ranges, r);

	/* Resolve "*" and order each range's ends; drop what "*" empties. */
	for (i = out = 0; i < n; i++) {
		uint32_t lo = r[i].lo, hi = r[i].hi;

		if (lo == STAR || hi == STAR) {
			star = 1;
			if (max == 0)
				continue;
			if (lo == STAR)
				lo = max;
			if (hi == STAR)
				hi = max;
		}
		r[out].lo = lo < hi ? lo : hi;
		r[out].hi = lo < hi ? hi : lo;
		out++;
	}
	n = out;
	if (n > 1)
		qsort(r, n, sizeof(*r), range_cmp);

	/* Merge overlapping and adjacent ranges (64-bit so hi + 1 cannot wrap). */
	for (i = 1, out = n ? 1 : 0; i < n; i++) {
		struct imap_seq_range *last = &r[out - 1];

		if ((uint64_t)r[i].lo <= (uint64_t)last->hi + 1) {
			if (r[i].hi > last->hi)
				last->hi = r[i].hi;
		} else {
			r[out++] = r[i];
		}
	}
	set_r->ranges = out ? r : NULL;
	set_r->count = out;
	set_r->star = (unsigned)star;
	for (i = 0; i < out; i++)
		set_r->total += (uint64_t)r[i].hi - r[i].lo + 1;
	return IMAP_SEQSET_OK;
}

int imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];

		if (v < r->lo)
			hi = mid;
		else if (v > r->hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

uint32_t imap_seqset_last(const struct imap_seqset *set)
{
	return set->count ? set->ranges[set->count - 1].hi : 0;
}

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set)
{
	it->set = set;
	it->i = 0;
	it->next = set->count ? set->ranges[0].lo : 0;
}

int imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *v_r)
{
	const struct imap_seqset *set = it->set;

	if (it->i >= set->count)
		return 0;
	*v_r = (uint32_t)it->next;
	if (it->next >= set->ranges[it->i].hi) {
		if (++it->i < set->count)
			it->next = set->ranges[it->i].lo;
	} else {
		it->next++;
	}
	return 1;
}

void imap_seqset_from_sorted(const uint32_t *v, size_t n, struct arena *a,
                             struct imap_seqset *set_r)
{
	struct imap_seq_range *r;
	size_t out = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (n == 0)
		return;
	r = arena_alloc(a, n * sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		if (out && (uint64_t)r[out - 1].hi + 1 == v[i])
			r[out - 1].hi = v[i];
		else
			r[out++] = (struct imap_seq_range){ v[i], v[i] };
	}
	set_r->ranges = r;
	set_r->count = out;
	set_r->total = n;
}

int imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		int rc = r->lo == r->hi ? buf_printf(out, "%s%u", i ? "," : "", r->lo)
					: buf_printf(out, "%s%u:%u", i ? "," : "", r->lo, r->hi);
		if (rc < 0)
			return -1;
	}
	return 0;
}

size_t imap_seqset_append_values(struct buf *out, const uint32_t *v, size_t n, size_t limit)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		char el[32];
		int len = j > i ? snprintf(el, sizeof(el), "%s%u:%u", i ? "," : "", v[i], v[j])
				: snprintf(el, sizeof(el), "%s%u", i ? "," : "", v[i]);
		if (buf_len(out) + (size_t)len > limit || buf_append(out, el, (size_t)len) < 0)
			break;
		i = j + 1;
	}
	return i;
}
