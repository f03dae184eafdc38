/*
 * imap_esearch.h — RETURN options and ESEARCH answers shared by SEARCH
 * and SORT (RFC 4731, ESORT RFC 5267, PARTIAL RFC 9394, SAVE RFC 5182),
 * and the PARTIAL range that UID FETCH's modifier takes too.
 *
 * Caveats: nothing here allocates; the caller owns every array and the
 * output buffer (a struct buf with its own ceiling).
 */
#ifndef TERN_IMAP_IMAP_ESEARCH_H
#define TERN_IMAP_IMAP_ESEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "imap/imap_parser.h"

#define IMAP_RET_MIN 1u
#define IMAP_RET_MAX 2u
#define IMAP_RET_ALL 4u
#define IMAP_RET_COUNT 8u
#define IMAP_RET_SAVE 16u
#define IMAP_RET_PARTIAL 32u
#define IMAP_RET_UPDATE 64u /* CONTEXT=SEARCH: keep the result up to date */

/* A PARTIAL range: positions lo..hi (1-based, lo <= hi), counted from
 * the last match when neg ("-1" is the last); reversed: the client gave
 * the larger magnitude first ("-4:-2"), kept for the echo. */
struct imap_partial {
	int neg, reversed;
	uint32_t lo, hi;
};

struct imap_return {
	unsigned opts; /* IMAP_RET_* */
	struct imap_partial partial;
};

/* Parses "a:b" or "-a:-b" (nz-numbers, one sign for both) into *r,
 * normalised so that lo <= hi (reversed says it was given the other
 * way). 0, or -1 when w is not such a range. */
int imap_partial_parse(struct str w, struct imap_partial *r);
/* The 0-based window [*from_r, *to_r) of p over n results (empty when
 * the range lies past them). */
void imap_partial_window(const struct imap_partial *p, size_t n, size_t *from_r, size_t *to_r);
/*
 * Parses the RETURN option list list[0..n) into *r: MIN MAX ALL COUNT
 * SAVE UPDATE and PARTIAL range (UPDATE alone returns nothing at first,
 * as Dovecot answers). An empty list means ALL (RFC 4731 §3.1); SAVE
 * alone stays SAVE alone (no ESEARCH is sent). 0, or -1 with a static BAD text
 * in *why_r (unknown option, a broken range, PARTIAL with ALL).
 */
int imap_return_parse(const struct imap_arg *list, size_t n, struct imap_return *r,
		      const char **why_r);
/*
 * Appends "* ESEARCH (TAG "tag") [UID] [MIN] [MAX] [COUNT] [ALL]
 * [PARTIAL (range set|NIL)] [MODSEQ high]" and CRLF to out, for the
 * results v[0..n) in the order the command returns them (ascending for
 * SEARCH, sort order for SORT); MODSEQ only when modseq and n.
 */
void imap_esearch_append(struct buf *out, const char *tag, int uid, const struct imap_return *r,
			 const uint32_t *v, size_t n, int modseq, uint64_t high);
/*
 * The mod-sequence an answer to a search with a MODSEQ key carries (RFC
 * 7162 §3.1.5, SEARCH and SORT alike: its search-sort-mod-seq and ESEARCH
 * MODSEQ): the highest of the messages returned, hits[0..n) being their
 * sequence numbers in the order the command returns them (ascending for
 * SEARCH, sort order for SORT). With MIN, MAX and/or PARTIAL alone those
 * are the messages they name; otherwise (no RETURN, ALL, COUNT) every hit.
 */
struct imap_mailbox_view;
uint64_t imap_return_modseq(const struct imap_mailbox_view *view, int esearch,
			    const struct imap_return *r, const uint32_t *hits, size_t n);
/* Appends v[0..n) in the given order, ascending runs as ranges ("2,6,4:5"). */
void imap_esearch_list(struct buf *out, const uint32_t *v, size_t n);
/*
 * SAVE: reduces the ascending UIDs u[0..n) in place to what r returns
 * (MIN and MAX alone: those; PARTIAL: its window, plus MIN/MAX; ALL or
 * COUNT: every one, RFC 5182 §2.4) and returns how many are left.
 */
size_t imap_return_saved(const struct imap_return *r, uint32_t *u, size_t n);

#endif
