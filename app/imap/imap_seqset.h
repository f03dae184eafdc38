/*
 * imap_seqset.h — IMAP sequence sets and UID sets.
 *
 * Design: a set arrives as one atom ("1:*,5,7:9", RFC 9051 §9
 * sequence-set, or "$" of RFC 5182 SEARCHRES). imap_seqset_check() only
 * validates the syntax (the command parser uses it to flag atoms);
 * imap_seqset_parse() also resolves "*" against the largest number in use
 * and normalises the ranges: each a:b becomes min..max, the ranges are
 * sorted, and overlapping or adjacent ones are merged, so a set is a short
 * sorted array of disjoint ranges that membership tests search in
 * O(log n). Values are never expanded: "1:4294967295" is one range.
 *
 * Grammar, strictly: numbers are nz-number (1..4294967295, no leading
 * zero, no sign, no spaces); elements are separated by single commas, no
 * empty element; a range has exactly one colon. "$" is accepted only as
 * the whole set (as Dovecot does; RFC 5182's ABNF could be read to allow
 * "1,$", which no client sends).
 *
 * "*" resolution: "*" stands for max, the largest number in use (the
 * message count for sequence numbers, the highest UID for UIDs). With
 * max == 0 (an empty mailbox) an element using "*" matches nothing and is
 * dropped. As RFC 9051 §6.4.8 says for UIDs, "n:*" with n > max means
 * max..n, so it includes max.
 *
 * Limits: the number of comma-separated elements is capped by the
 * caller's max_ranges, checked before anything is allocated; the arena
 * gets at most max_ranges ranges.
 *
 * Caveats: for sequence numbers the caller must still refuse numbers
 * above the message count and "*" on an empty mailbox (RFC 9051 says BAD):
 * see imap_seqset.star, imap_seqset_last(). "$" is reported, not resolved:
 * the session substitutes its saved search result.
 */
#ifndef TERN_IMAP_IMAP_SEQSET_H
#define TERN_IMAP_IMAP_SEQSET_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"

/* Results of imap_seqset_check() and imap_seqset_parse(). */
enum imap_seqset_result {
	IMAP_SEQSET_OK = 0,
	IMAP_SEQSET_ERR_SYNTAX = -1,   /* not a sequence-set: BAD */
	IMAP_SEQSET_ERR_TOO_MANY = -2, /* more elements than max_ranges: BAD */
};

/* An inclusive range lo..hi, lo <= hi, both >= 1. */
struct imap_seq_range {
	uint32_t lo, hi;
};

struct imap_seqset {
	const struct imap_seq_range *ranges; /* sorted, disjoint, not adjacent;
	                                      * in the arena given to parse */
	size_t count;                        /* ranges */
	uint64_t total;                      /* values in all ranges */
	unsigned saved : 1;                  /* the set was "$": count is 0 and the
	                                      * caller uses its saved result */
	unsigned star : 1;                   /* "*" appeared somewhere */
};

/*
 * Checks that s is a sequence-set or "$". Nothing is allocated.
 * Returns the number of comma-separated elements (>= 1; 0 for "$"), or
 * IMAP_SEQSET_ERR_SYNTAX, or IMAP_SEQSET_ERR_TOO_MANY when there are more
 * than max_ranges elements (s is then not scanned further).
 */
int imap_seqset_check(struct str s, size_t max_ranges);

/*
 * Parses s, resolves "*" to max and normalises the result into *set_r
 * (see the top of this file). The range array is allocated from a (at
 * most max_ranges entries) and lives as long as the arena's memory; s is
 * not referenced afterwards. An empty result (only "*" elements with max
 * 0) has count 0 and ranges NULL.
 * Returns IMAP_SEQSET_OK, IMAP_SEQSET_ERR_SYNTAX or
 * IMAP_SEQSET_ERR_TOO_MANY; *set_r is zeroed on error.
 */
int imap_seqset_parse(struct str s, uint32_t max, size_t max_ranges, struct arena *a,
                      struct imap_seqset *set_r);

/*
 * Builds *set_r from v[0..n), ascending and without duplicates (a saved
 * search result, RFC 5182): runs of consecutive values become one range.
 * At most n ranges come from a. Values must be >= 1.
 */
void imap_seqset_from_sorted(const uint32_t *v, size_t n, struct arena *a,
                             struct imap_seqset *set_r);

/*
 * Appends set to out in its shortest sequence-set form ("2,10:11,13"),
 * nothing for an empty set. Returns 0, or -1 when out is full.
 */
int imap_seqset_format(const struct imap_seqset *set, struct buf *out);

/*
 * Appends the values v[0..n), in the order given, as a sequence set:
 * each run of consecutive ascending values as "lo:hi", the others alone,
 * comma-separated ("2,4:6,9"). Stops before the element that would take
 * buf_len(out) past limit (or past out's max): a long set is written in
 * parts, each a whole sequence set, by calling again with v + the count
 * returned on a fresh line. Returns how many values were written (n when
 * all were; 0 when not even the first element fits). An element is at
 * most 21 octets ("4294967294:4294967295").
 */
size_t imap_seqset_append_values(struct buf *out, const uint32_t *v, size_t n, size_t limit);

/* 1 when v is in set, else 0 (a "$" set contains nothing). O(log count). */
int imap_seqset_contains(const struct imap_seqset *set, uint32_t v);

/* The largest value in set, or 0 when it is empty. */
uint32_t imap_seqset_last(const struct imap_seqset *set);

/*
 * Ascending iteration over every value of a set, without expanding it:
 *
 *	struct imap_seqset_iter it;
 *	uint32_t v;
 *	imap_seqset_iter_init(&it, &set);
 *	while (imap_seqset_iter_next(&it, &v))
 *		...
 *
 * The iterator points into set, which must outlive it. Bound the work by
 * set.total (or clamp with max) before iterating a peer's set.
 */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t i;      /* current range */
	uint64_t next; /* next value in it */
};

void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set);
/* Sets *v_r to the next value and returns 1, or returns 0 at the end. */
int imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *v_r);

#endif
