/*
 * fuzz_saslprep.c — core/saslprep.h on any octets. Checks: a prepared
 * text is well-formed UTF-8 without NUL, of the length reported, at most
 * UNORM_KD_GROWTH times the input, and preparing it again gives it back
 * (SASLprep is idempotent on its own output); a refusal leaves "".
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/saslprep.h"
#include "core/unorm.h"
#include "core/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[SASLPREP_OUT_MAX], again[SASLPREP_OUT_MAX];
	size_t n, m;

	if (saslprep((const char *)data, size, out, sizeof out, &n) < 0) {
		assert(out[0] == '\0' && n == 0);
		return 0;
	}
	assert(n > 0 && n <= UNORM_KD_GROWTH * size && strlen(out) == n);
	assert(utf8_valid(str_make(out, n)));
	if (n <= SASLPREP_IN_MAX) {
		assert(saslprep(out, n, again, sizeof again, &m) == 0);
		assert(m == n && memcmp(out, again, n) == 0);
	}
	return 0;
}
