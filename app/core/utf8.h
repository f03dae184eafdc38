/*
 * utf8.h — well-formed UTF-8 (RFC 3629), the one validator every parser uses.
 *
 * Well formed means: no overlong forms, no UTF-16 surrogates, nothing past
 * U+10FFFF. ASCII octets are sequences of one. Pure functions on caller
 * memory.
 */
#ifndef TERN_CORE_UTF8_H
#define TERN_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"

/* Length (1..4) of the well-formed sequence at s (n >= 1 octets available), or 0. */
size_t utf8_seq(const unsigned char *s, size_t n);
/* 1 when all of s is well-formed UTF-8, else 0. */
int utf8_valid(struct str s);
/* Characters (code points) in s; an ill-formed octet counts as one. What a
 * limit "in characters" counts: "ééé" is 3, not 6. */
size_t utf8_chars(struct str s);
/* The code point of the sequence at s (n >= 1 octets available) and its
 * length in *len_r: a well-formed sequence gives its scalar value, an
 * ill-formed octet gives itself (0x80..0xff) with length 1, so a caller
 * walking text always advances. */
uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len_r);
/* Writes cp as UTF-8 into out (room for 4 octets) and returns its length;
 * a surrogate or a value past U+10FFFF is written as U+FFFD. */
size_t utf8_encode(uint32_t cp, char out[4]);

/* The length of the run of ASCII octets (under 0x80) at the start of
 * s[0..n), read eight at a time past a short first run (text between
 * accented letters). Inline: the normaliser, the case fold and charset
 * conversion call it per run on their hot paths. */
static inline size_t utf8_ascii_run(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < 8 && s[i] < 0x80)
		i++;
	if (i < 8)
		return i;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < n && s[i] < 0x80)
		i++;
	return i;
}

#endif
