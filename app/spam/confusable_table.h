/*
 * confusable_table.h — the generated look-alike skeleton table (UTS #39).
 *
 * build/gen/confusable_table.c is written at build time by
 * scripts/gen-confusables.c from Unicode's confusables.txt and
 * UnicodeData.txt as Debian's icu source package ships them (the pin is
 * in vendor/manifest). For every code point whose skeleton is not itself
 * it holds that skeleton as UTF-8: the canonical decomposition (NFD),
 * each character replaced by its prototype from confusables.txt, then
 * NFD again, as UTS #39 §4 defines skeleton(X), with two changes for
 * host names, which compare without case: ASCII letters are lowercased
 * in the result, and a lowercase ASCII letter whose capital has a
 * prototype takes that one ("i" reads like "l" because "I" does).
 * Everything is constant data; only spam/spam_confusable.c reads it.
 */
#ifndef TERN_SPAM_CONFUSABLE_TABLE_H
#define TERN_SPAM_CONFUSABLE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Entry i: code point conf_cp[i] (sorted ascending) has the skeleton
 * conf_pool[CONF_OFF(conf_to[i]) .. + CONF_LEN(conf_to[i])). */
#define CONF_LEN_BITS 6
#define CONF_OFF(w) ((w) >> CONF_LEN_BITS)
#define CONF_LEN(w) ((w) & ((1u << CONF_LEN_BITS) - 1))

extern const uint32_t conf_cp[];
extern const uint32_t conf_to[];
extern const size_t conf_count;
extern const char conf_pool[];

#endif
