/*
 * unorm.h — Unicode Normalization Form C (UAX #15) of UTF-8 text, the one
 * normaliser: mailbox names (IMAP, JMAP, Sieve fileinto, the store), the
 * Net-Unicode form RFC 9051 §5.1 and RFC 5198 ask for, and ManageSieve
 * script names (RFC 5804 §1.6), so that "é" written as e + U+0301 and as
 * U+00E9 are one name. Search and sort compare i;unicode-casemap keys
 * (unorm_casemap() below: titlecase, then NFKD).
 *
 * The data (canonical combining classes, full canonical decompositions,
 * NFC_Quick_Check, primary composites) is generated at build time by
 * scripts/gen-unorm.c into build/gen/unorm_table.c from UnicodeData.txt
 * and DerivedNormalizationProps.txt of the same Debian icu source as the
 * case folding (core/ufold.h; the pin is in vendor/manifest), with each
 * code point's compatibility decomposition and simple titlecase mapping
 * (UnicodeData.txt fields 5 and 14) for NFKD and i;unicode-casemap; no
 * file is read at run time. Hangul syllables are composed and decomposed by the
 * algorithm of Unicode §3.12. Pure functions, constant data, no
 * allocation. NFD is here too, for sort keys.
 *
 * Text that passes the quick check (all ASCII, or every character
 * NFC_QC=Yes with combining classes in order) is copied as it is, one
 * pass. Otherwise the text is normalised one segment at a time (a
 * segment starts at a class-0, quick-check-Yes character, or at an
 * ill-formed octet), each in a fixed buffer of UNORM_SEGMENT_MAX code
 * points.
 *
 * Octets that are not well-formed UTF-8 are kept as they are, one at a
 * time, and nothing composes across one. A normalised text is at most
 * UNORM_GROWTH times as long as its source (U+0958 is two characters,
 * U+1D160 three). Normalising is idempotent.
 *
 * Caveats: a segment whose decomposition passes UNORM_SEGMENT_MAX code
 * points (a base with more than about 60 combining marks: no real text,
 * and past UAX #15 §13's stream-safe limit of 30) is copied unchanged,
 * so such a text is compared as written; the bound keeps the work per
 * octet constant. Compatibility forms are not applied by unorm_nfc:
 * "ﬁ" stays the ligature (unorm_nfkd and unorm_casemap decompose it).
 */
#ifndef TERN_CORE_UNORM_H
#define TERN_CORE_UNORM_H

#include <stddef.h>
#include <stdint.h>

/* A normalised text is at most this many times as long as its source. */
#define UNORM_GROWTH 3
/* Code points of one character's full canonical decomposition, at most. */
#define UNORM_DECOMP_MAX 4
/* Code points of one segment's decomposition normalised, at most. */
#define UNORM_SEGMENT_MAX 64

/* NFC_Quick_Check values (unorm_rec.qc). */
#define UNORM_QC_MAYBE 1
#define UNORM_QC_NO 2

/* 1 when p[0..n) is certainly in NFC as it is (the quick check says Yes):
 * unorm_nfc() would copy it unchanged. 0 when it may not be. */
int unorm_is_nfc(const char *p, size_t n);

/* Normalises in[0..n) to NFC into out (room for UNORM_GROWTH * n octets,
 * not overlapping in); the normalised length. */
size_t unorm_nfc(const char *in, size_t n, char *out);

/* The NFD (canonical decomposition, canonical order) of in[0..n) into out
 * (room for UNORM_GROWTH * n octets, not overlapping in), under the same
 * rules (ill-formed octets kept, an over-long segment copied); the
 * length. What sort keys are made of (mime_sortkey): decomposed, "été"
 * sorts next to "ete", before "f". */
size_t unorm_nfd(const char *in, size_t n, char *out);

/* The NFC of the NUL-terminated s into out (outsz octets, NUL-terminated):
 * 0, or -1 when it does not fit (out is then the empty string). */
int unorm_nfc_str(const char *s, char *out, size_t outsz);

/* 1 when a[0..an) and b[0..bn) are the same text in NFC (canonically
 * equivalent); both at most UNORM_CMP_MAX octets, longer ones compare
 * as octets. */
#define UNORM_CMP_MAX 1024
int unorm_equal(const char *a, size_t an, const char *b, size_t bn);

/* Code points of one character's full compatibility decomposition, at
 * most (U+FDFA is 18), and how many times its source's length a
 * compatibility-decomposed text (NFKD, i;unicode-casemap) may be. */
#define UNORM_KD_MAX 18
#define UNORM_KD_GROWTH 11

/* The NFKD (compatibility decomposition, canonical order) of in[0..n)
 * into out (room for UNORM_KD_GROWTH * n octets, not overlapping in);
 * the length. Ill-formed octets are kept as they are. */
size_t unorm_nfkd(const char *in, size_t n, char *out);

/*
 * i;unicode-casemap (RFC 5051 §2): the "titlecased canonicalized UTF-8"
 * of in[0..n) into out (room for UNORM_KD_GROWTH * n octets, not
 * overlapping in); the length. Each code point is replaced by its simple
 * titlecase mapping (UnicodeData.txt field 14) when it has one, then by
 * its full decomposition of any type, recursively (step 2); the result
 * is put in canonical order (2(b)'s "effectively Normalization Form
 * KD"), so canonically equivalent texts map alike. The one key of every
 * case-insensitive comparison beyond ASCII: IMAP SEARCH's substring
 * test and SORT's keys (RFC 5255 I18NLEVEL=1), the JMAP text filters and
 * sorts, the full-text index's terms. Equal keys are equal strings
 * under the collation, a substring of a key matches, and keys order as
 * octets (i;octet, §2's ordering).
 *
 * As RFC 5051 says, the titlecase step comes first and is not applied
 * again to what a decomposition gives: "ǅ" and "Ǆ" are "D" "z" U+030C,
 * "ﬁ" is "fi" while "fi" is "FI". There is no Turkic mapping: "ı"
 * (U+0131) titlecases to "I", so it matches "i" and "I"; "İ" (U+0130)
 * is "I" U+0307 (canonically "I" with a dot above). Octets that are not
 * well-formed UTF-8 cannot be decoded (step 1) and are kept as they are
 * (compared as octets), one at a time. ASCII is one pass (a-z to A-Z).
 */
size_t unorm_casemap(const char *in, size_t n, char *out);
/* The ASCII octets at the start of in (n octets) copied to out, a-z as
 * A-Z when up is set, up to the first octet past ASCII: how many. out may
 * be in (in place) or apart from it; the fast path of unorm_casemap and
 * of the search fold. */
size_t unorm_ascii_upper(char *out, const char *in, size_t n, int up);

/* The length of unorm_casemap()'s output for the one character (or
 * ill-formed octet) at p[0..n), n >= 1, and its length in *len_r: the
 * lengths of a text's characters add up to its key's (ordering moves
 * marks, it does not change lengths). */
size_t unorm_casemap_char_len(const char *p, size_t n, size_t *len_r);

/* A code point's bidirectional category as SASLprep (core/saslprep.h)
 * needs it, from UnicodeData.txt field 4: R or AL (RFC 3454 table D.1),
 * L (D.2), another; or UNORM_UNASSIGNED when the Unicode version of the
 * tables has no such character (noncharacters, surrogates and unused
 * code points; private use is assigned). */
#define UNORM_BIDI_OTHER 0
#define UNORM_BIDI_RAL 1
#define UNORM_BIDI_L 2
#define UNORM_UNASSIGNED (-1)
int unorm_bidi_class(uint32_t cp);

/* The generated tables (only unorm.c reads them): a code point's record
 * is unorm_recs[unorm_index[unorm_page[cp >> 8]][cp & 255]], 0 when it
 * has class 0, quick check Yes and no decomposition. */
struct unorm_rec {
	uint8_t ccc;  /* canonical combining class */
	uint8_t qc;   /* 0, UNORM_QC_MAYBE or UNORM_QC_NO */
	uint8_t dlen; /* full canonical decomposition: unorm_decomp[doff..+dlen) */
	uint8_t klen; /* full compatibility decomposition (NFKD, unordered):
	               * unorm_kdecomp[koff..+klen), 0 when the code point */
	uint8_t mlen; /* i;unicode-casemap: the same of its simple titlecase
	               * mapping, unorm_kdecomp[moff..+mlen), 0 when itself */
	uint16_t doff, koff, moff;
};
struct unorm_pair {
	uint32_t a, b, c; /* a + b compose to c; sorted by (a, b) */
};
extern const uint16_t unorm_page[0x1100];
extern const uint16_t unorm_index[][256];
extern const struct unorm_rec unorm_recs[];
extern const uint32_t unorm_decomp[];
extern const uint32_t unorm_kdecomp[];
/* The casemap of U+0080..U+07FF as UTF-8, one step (the common letters):
 * fast when it starts with a starter and fits. */
struct unorm_two {
	uint8_t len, fast;
	char s[8];
};
extern const struct unorm_two unorm_casemap_two[0x800];
extern const struct unorm_pair unorm_pairs[];
extern const size_t unorm_npairs;
struct unorm_range {
	uint32_t lo, hi, cls; /* lo..hi have UNORM_BIDI_ cls; sorted */
};
extern const struct unorm_range unorm_bidi[];
extern const size_t unorm_nbidi;

#endif
