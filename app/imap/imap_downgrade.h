/*
 * imap_downgrade.h — a message as an IMAP session without UTF-8 sees it
 * (neither UTF8=ACCEPT nor IMAP4rev2, RFC 6855 §3): the stored octets with
 * each header section that has UTF-8 fields replaced by its downgrade
 * (mime_header_downgrade.h, the one POP3 sends), the rest as stored.
 *
 * Design. FETCH cuts every section, partial range and size from this
 * message, so BODY[], BODY[HEADER], RFC822.SIZE and the rest agree octet
 * for octet. It is never assembled: it is the list of replaced ranges in
 * order, each with its downgraded text, and offsets in the stored message
 * map to offsets in it. Sections start and end at a header's start or end
 * or inside a body, never inside a replaced range.
 *
 * Cost. A message whose MIME record says no header has UTF-8 fields
 * (imap_msg.dg IMAP_DG_NONE, nearly every message) gets no map at all:
 * RFC822.SIZE then reads nothing from the store, as before.
 *
 * Caveats: the texts are malloc'ed, at most MIME_HEADER_DOWNGRADE_MAX of
 * each header section; imap_dg_free() frees them.
 */
#ifndef TERN_IMAP_DOWNGRADE_H
#define TERN_IMAP_DOWNGRADE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "mime/mime_tree.h"

struct imap_dg_rep {
	uint64_t off, len; /* the stored range replaced (a header section) */
	uint64_t voff;     /* where its text starts in the downgraded message */
	char *text;        /* malloc'ed */
	uint64_t text_len;
	int64_t lf_delta;  /* LFs text has more than the range */
};

struct imap_dg {
	struct imap_dg_rep *reps; /* ascending, disjoint; NULL when n is 0 */
	size_t n;
	uint64_t size; /* of the downgraded message */
};

/*
 * Builds g for the stored message d[0..len): its root header section
 * (hend octets), and with t (its tree, may be NULL) every other part's
 * header section, each replaced when it has UTF-8 fields. g->n is 0 when
 * none has (g->size is len).
 */
void imap_dg_build(struct imap_dg *g, const char *d, size_t len, uint64_t hend,
		   const struct mime_tree *t);
void imap_dg_free(struct imap_dg *g);

/* The downgraded offset of stored offset off (outside replaced ranges, or
 * at one's start or end). */
uint64_t imap_dg_map(const struct imap_dg *g, uint64_t off);

/*
 * What is at downgraded offset pos (< g->size): replaced text (*text_r set)
 * or stored octets from *src_r (*text_r NULL). Returns how many octets
 * from there are of that one kind.
 */
uint64_t imap_dg_at(const struct imap_dg *g, uint64_t pos, const char **text_r, uint64_t *src_r);

/* A copy of t (parts in a) with every part's offsets, and the line count
 * of every message/rfc822 part, as in the downgraded message: what
 * BODYSTRUCTURE describes. */
struct mime_tree *imap_dg_tree(const struct imap_dg *g, const struct mime_tree *t,
			       struct arena *a);

/* The octets the downgraded message holds for stored range [off, off+len)
 * when that is exactly a replaced header section, else d + off. */
const char *imap_dg_section(const struct imap_dg *g, const char *d, uint64_t off, uint64_t *len);

#endif
