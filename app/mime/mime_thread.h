/*
 * mime_thread.h — what IMAP SORT and THREAD (RFC 5256, RFC 5957) need from
 * messages, as pure functions: the base subject, the message ids of
 * References/In-Reply-To, a case fold for comparing, and the two
 * threading algorithms.
 *
 * Design: the IMAP layer reads each message's envelope (from the MIME
 * cache) and References header, fills a struct mime_thread_msg per
 * message, and gets the THREAD response text back. Nothing here touches
 * the store, so every function is unit-tested and fuzzed on its own.
 *
 * Base subject (RFC 5256 §2.1): encoded-words decoded, white space runs
 * made one space, then trailing "(fwd)", leading "Re:", "Fw:", "Fwd:"
 * (with optional "[blob]"s, any case) and leading "[blob]"s (unless that
 * would leave nothing) removed until nothing changes, and a
 * "[fwd: ... ]" wrapper removed and the whole done again. The result is
 * case-folded with mime_casefold(), so equal subjects are equal octets.
 *
 * Case fold for THREAD's base subjects: ASCII, Latin-1, Latin Extended-A,
 * Greek and Cyrillic capitals become small letters, in place, always with
 * the same UTF-8 length; other characters are left as they are. Not the
 * full Unicode casemap (no decomposition, no titlecase), which is what
 * real clients' subjects and names need in practice. Ordering is
 * mime_collate()'s: folded small ASCII letters compare as capitals.
 *
 * Threads: REFERENCES is the algorithm of RFC 5256 §3 (JWZ's): link by
 * References (or the first In-Reply-To id), prune empty containers,
 * group the roots by base subject, sort siblings by sent date.
 * ORDEREDSUBJECT groups by base subject (equal octets, whatever key the
 * caller made: IMAP passes SORT's mime_sortkey()), each thread a first
 * message and its followers as children. Ties in dates keep the input order, which
 * the caller makes the sequence order. Both are iterative (no recursion),
 * so a chain of a hundred thousand replies costs memory, not stack.
 *
 * Limits: at most MIME_THREAD_REFS_MAX ids per message are used (the last
 * ones, nearest the message), each at most 998 octets as in a header line.
 */
#ifndef TERN_MIME_THREAD_H
#define TERN_MIME_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define MIME_THREAD_REFS_MAX 100

/* Folds p[0..n) in place for comparison (see above). What THREAD's base
 * subjects (and the hashes the store keeps of them, mime_threadkeys.h)
 * are made with: changing it would split threads stored before, so it
 * stays as it is; sorting uses mime_sortkey(). */
void mime_casefold(char *p, size_t n);

/*
 * The sort key of in[0..n) under i;unicode-casemap (RFC 5051), the one
 * collation of IMAP SORT (RFC 5255 I18NLEVEL=1) and the JMAP sorts: its
 * "titlecased canonicalized UTF-8" (unorm_casemap(), core/unorm.h), so
 * "Été", "ÉTÉ", "e\u0301te\u0301", "ete\u0301", "²" and "2", "Ａ" and
 * "a" are equal keys, and a decomposed key sorts accented letters next
 * to their base letter ("été" before "f"). Returned xmalloc'ed,
 * NUL-terminated, its length in *len_r. Keys order as octets (RFC 5051
 * §2: i;octet on the keys): mime_sortkey_cmp().
 */
char *mime_sortkey(const char *in, size_t n, size_t *len_r);
int mime_sortkey_cmp(struct str a, struct str b);

/*
 * Orders two folded strings as RFC 5256 asks (i;ascii-casemap, RFC 4790
 * §9.2: ASCII letters compare as capitals, so "_" and "[" sort after
 * "Z", not before "a"); other octets as they are. -1, 0 or 1.
 */
int mime_collate(struct str a, struct str b);

/*
 * Orders two strings under i;ascii-numeric (RFC 4790 §9.1): by the
 * decimal number each starts with, any length; a string that does not
 * start with a digit is past every number, and all such are equal.
 */
int mime_collate_numeric(struct str a, struct str b);

/*
 * Appends the folded base subject of a raw Subject value (as in the
 * envelope: unfolded, encoded-words not decoded; p == NULL for none) to
 * out. *reply_r (may be NULL) is set to 1 when a reply or forward marker
 * was removed. Returns 0, or -1 when out's ceiling was reached.
 */
int mime_base_subject(struct str subject, struct buf *out, int *reply_r);

/*
 * Finds the msg-ids ("<...>", brackets kept, no white space inside but in
 * a quoted local part) of a References or In-Reply-To value, in order;
 * anything else (comments, quoted phrases and what is inside them, broken
 * ids) is skipped. Stores at most max slices into ids
 * (the last ones when there are more) and returns how many were stored.
 */
size_t mime_msgids(struct str value, struct str *ids, size_t max);

/*
 * Writes the msg-id id (as mime_msgids() found it) to out (id.len octets
 * of room) with its quoting taken away, and returns the length:
 * <"a.b"@x> and <a.b@x> are one message (RFC 5256 §3: implementations
 * MUST normalize any msg-id to avoid false non-matches due to quoting).
 */
size_t mime_msgid_norm(struct str id, char *out);

struct mime_thread_msg {
	uint32_t num;           /* what the response shows: sequence number or UID */
	int64_t sent;           /* Date header in UTC, or the internal date */
	struct str msgid;       /* "<...>", or empty when missing */
	const struct str *refs; /* References ids, else the first In-Reply-To id */
	size_t nrefs;
	struct str base;        /* mime_base_subject(), as the caller keys it
				 * (IMAP: mime_sortkey()); equal octets are
				 * one subject */
	int reply;              /* its subject had a reply marker */
};

/* Appends the THREAD=REFERENCES result for m[0..n) ("(1 2)(3 (4)(5))", no
 * "* THREAD" prefix) to out. 0, or -1 when out's ceiling was reached. */
int mime_thread_references(const struct mime_thread_msg *m, size_t n, struct buf *out);

/* The same for THREAD=ORDEREDSUBJECT. */
int mime_thread_orderedsubject(const struct mime_thread_msg *m, size_t n, struct buf *out);

#endif
