/*
 * fuzz_unorm.c — core/unorm.h on any octets: the NFC is at most
 * UNORM_GROWTH times as long as its source; normalising it again changes
 * nothing (NFC(NFC(x)) == NFC(x)); a text the quick check passes comes
 * out unchanged; unorm_equal says a text equals its NFC and agrees with
 * comparing the two NFCs; the NFD is bounded too, idempotent, and
 * composes to the NFC.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/unorm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out = malloc(UNORM_GROWTH * size + 1), *again = malloc(UNORM_GROWTH * UNORM_GROWTH * size + 1);
	size_t l = unorm_nfc(in, size, out);
	assert(l <= UNORM_GROWTH * size);
	size_t l2 = unorm_nfc(out, l, again);
	assert(l2 == l && !memcmp(again, out, l));
	/* NFD: bounded, idempotent, and composing it gives the NFC */
	char *d = malloc(UNORM_GROWTH * size + 1), *d2 = malloc(UNORM_GROWTH * UNORM_GROWTH * size + 1);
	size_t ld = unorm_nfd(in, size, d);
	assert(ld <= UNORM_GROWTH * size);
	assert(unorm_nfd(d, ld, d2) == ld && !memcmp(d, d2, ld));
	assert(unorm_nfc(d, ld, d2) == l && !memcmp(d2, out, l));
	free(d);
	free(d2);
	if (unorm_is_nfc(in, size))
		assert(l == size && !memcmp(out, in, size));
	if (size <= UNORM_CMP_MAX && l <= UNORM_CMP_MAX) {
		assert(unorm_equal(in, size, out, l));
		/* the two halves: equal exactly when their NFCs are */
		size_t h = size / 2;
		char *a = malloc(UNORM_GROWTH * h + 1), *b = malloc(UNORM_GROWTH * (size - h) + 1);
		size_t la = unorm_nfc(in, h, a), lb = unorm_nfc(in + h, size - h, b);
		assert(unorm_equal(in, h, in + h, size - h) == (la == lb && !memcmp(a, b, la)));
		free(a);
		free(b);
	}
	free(out);
	free(again);
	return 0;
}
