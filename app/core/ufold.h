/*
 * ufold.h — Unicode full case folding of UTF-8 text. No longer what
 * search and sort compare: IMAP SEARCH and SORT, the JMAP filters, sorts
 * and snippets and the full-text index key text by i;unicode-casemap
 * (RFC 5051, unorm_casemap() in core/unorm.h), as I18NLEVEL=1 asks; this
 * fold is kept for scripts/bench-fold, which measures it against older
 * revisions.
 *
 * The fold is Unicode's CaseFolding.txt, statuses C and F (full folding,
 * not Turkic): "Straße", "STRASSE" and "strasse" fold alike, as do "ǅ",
 * "Ǆ" and "ǆ", Cherokee (to its capitals, as Unicode does), Georgian
 * Mtavruli, Deseret. The table is generated at build time by
 * scripts/gen-ufold.c into build/gen/ufold_table.c (the same Debian icu
 * source as the confusables table; the pin is in vendor/manifest); no
 * file is read at run time. Pure functions, constant data.
 *
 * Octets that are not well-formed UTF-8 are kept as they are, one at a
 * time, so any octet string folds and folding never fails. A folded text
 * may be longer or shorter than its source ("ß" is "ss", U+0390 is three
 * code points, the Kelvin sign is "k"), at most UFOLD_GROWTH times as
 * long. Folding is idempotent.
 *
 * Caveats: no normalisation: "é" written as e + U+0301 and as U+00E9
 * fold to different octets.
 */
#ifndef TERN_CORE_UFOLD_H
#define TERN_CORE_UFOLD_H

#include <stddef.h>
#include <stdint.h>

/* A folded text is at most this many times as long as its source. */
#define UFOLD_GROWTH 3
/* Octets of one code point's folded form, at most. */
#define UFOLD_MAP_MAX 9

/*
 * Folds p[0..n) in place and returns the folded length; p has room for
 * ufold_room(p, n) octets (UFOLD_GROWTH * n is always enough). ASCII text
 * is one pass.
 */
size_t ufold_inplace(char *p, size_t n);
size_t ufold_room(const char *p, size_t n);

/* The longest prefix of p[0..n), whole characters, that folds in place
 * within room octets (ufold_room of it <= room). */
size_t ufold_fit(const char *p, size_t n, size_t room);

/* Folds in[0..n) into out (room for UFOLD_GROWTH * n octets, not
 * overlapping in); the folded length. */
size_t ufold(const char *in, size_t n, char *out);

/* The folded length of the one character (or ill-formed octet) at
 * p[0..n), n >= 1, and its length in *len_r. */
size_t ufold_char_len(const char *p, size_t n, size_t *len_r);

/* The generated table (only ufold.c reads it): a code point's map is
 * ufold_maps[ufold_index[ufold_page[cp >> 8]][cp & 255]], 0 when none. */
struct ufold_map {
	uint8_t len;
	char s[UFOLD_MAP_MAX + 1];
};
extern const uint16_t ufold_page[0x1100];
extern const uint16_t ufold_index[][256];
extern const struct ufold_map ufold_maps[];

#endif
