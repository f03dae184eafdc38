/*
 * varint.h — unsigned LEB128 integers (7 bits an octet, low first, the
 * high bit set on every octet but the last), as stored records use them
 * (mime_cache.c's message trees, spam_grams.c's lessons).
 */
#ifndef TERN_CORE_VARINT_H
#define TERN_CORE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define VARINT_MAX 10 /* octets of the longest (a 64-bit value) */

/* Writes v into out; returns the octets written (1..VARINT_MAX). */
static inline size_t varint_put(unsigned char out[VARINT_MAX], uint64_t v)
{
	size_t n = 0;
	do {
		out[n] = (unsigned char)(v & 0x7F);
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* Reads one from p[0..len) into *v_r; returns the octets read, or 0
 * when it is cut short by len or holds more than 64 bits. */
static inline size_t varint_get(const unsigned char *p, size_t len, uint64_t *v_r)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len && i < VARINT_MAX; i++) {
		unsigned char c = p[i];
		if (i == VARINT_MAX - 1 && (c & 0x7E))
			return 0; /* more than 64 bits */
		v |= (uint64_t)(c & 0x7F) << (7 * i);
		if (!(c & 0x80)) {
			*v_r = v;
			return i + 1;
		}
	}
	return 0;
}

#endif
