/*
 * fuzz_sieve_mailto.c — mailto URIs of Sieve notifications
 * (sieve_mailto.c). Checks: a parsed URI has 1..SIEVE_MAILTO_RCPTS_MAX
 * recipients, each with an '@' inside it and no octet that could break
 * a header field or an envelope (controls, space, angle brackets,
 * comma), and decoded strings no longer than the input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "sieve/sieve_mailto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	struct sieve_mailto m;
	if (sieve_mailto_parse(str_make((const char *)data, size), a, &m) == 0) {
		assert(m.nrcpts >= 1 && m.nrcpts <= SIEVE_MAILTO_RCPTS_MAX);
		for (uint32_t i = 0; i < m.nrcpts; i++) {
			struct str r = m.rcpts[i];
			assert(r.len >= 3 && r.len <= SIEVE_MAILTO_ADDR_MAX && str_rchr(r, '@') > 0);
			for (size_t k = 0; k < r.len; k++)
				assert((unsigned char)r.p[k] > ' ' && r.p[k] != 0x7f && !strchr("<>,", r.p[k]));
		}
		assert(m.subject.len <= size && m.body.len <= size);
	}
	arena_free(&a);
	return 0;
}
