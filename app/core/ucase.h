/*
 * ucase.h — Unicode simple lowercase mapping of one code point, for names
 * that compare without case beyond ASCII (a From domain's U-labels, so
 * that BÄNK.example is bänk.example as EXAMPLE is example).
 *
 * The mapping is UnicodeData.txt's simple lowercase field, generated at
 * build time by scripts/gen-confusables.c --lower into
 * build/gen/ucase_table.c (the same Debian icu source as the confusables
 * table; the pin is in vendor/manifest). Pure functions, constant data.
 *
 * Caveats: one code point to one (no special casing such as U+0130 to
 * "i" + U+0307) and no normalisation (NFC) or other IDNA mapping (UTS
 * #46): what matters here is that two spellings differing only in case
 * compare equal.
 */
#ifndef TERN_CORE_UCASE_H
#define TERN_CORE_UCASE_H

#include <stddef.h>
#include <stdint.h>

/* The lowercase of cp, or cp itself when it has none. */
uint32_t ucase_lower(uint32_t cp);

/*
 * The generated table (only ucase.c reads it): ucase_from[] sorted
 * ascending, ucase_to[i] the lowercase of ucase_from[i].
 */
extern const uint32_t ucase_from[];
extern const uint32_t ucase_to[];
extern const size_t ucase_count;

#endif
