/*
 * fuzz_casemap.c — core/unorm.h's i;unicode-casemap on any octets: the
 * key is at most UNORM_KD_GROWTH times as long; the lengths
 * unorm_casemap_char_len reports add up to it; cut before an ASCII octet
 * (a starter: nothing reorders across it), the key is the keys of the
 * two parts; and a short text's key is already in NFKD (titlecase, then
 * decomposition and canonical order: the fast paths agree with the slow
 * one).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/unorm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out = malloc(UNORM_KD_GROWTH * size + 1), *p = malloc(UNORM_KD_GROWTH * size + 1);
	size_t l = unorm_casemap(in, size, out);
	assert(l <= UNORM_KD_GROWTH * size);
	size_t i = 0, o = 0;
	while (i < size) {
		size_t cl, f = unorm_casemap_char_len(in + i, size - i, &cl);
		assert(cl >= 1 && cl <= 4 && f >= 1 && f <= 4 * UNORM_KD_MAX);
		i += cl;
		o += f;
	}
	assert(i == size && o == l);
	size_t cut = size ? data[0] % (size + 1) : 0;
	while (cut < size && data[cut] >= 0x80)
		cut++;
	size_t a = unorm_casemap(in, cut, p);
	size_t b = unorm_casemap(in + cut, size - cut, p + a);
	assert(a + b == l && !memcmp(p, out, l));
	if (size <= 24) {
		char *k = malloc(UNORM_KD_GROWTH * l + 1);
		size_t kl = unorm_nfkd(out, l, k);
		assert(kl == l && !memcmp(k, out, l));
		free(k);
	}
	free(out);
	free(p);
	return 0;
}
