/*
 * fuzz_psl.c — the Public Suffix List lookups (dns/psl.c) and Punycode
 * (core/punycode.c) on any input. Checks: a result is the tail of the
 * input (one trailing dot aside); the registrable domain is the public
 * suffix and one label more, and exists exactly when the input has more
 * labels than its suffix; ASCII case changes no answer's length; what
 * Punycode decodes, encoding and decoding again gives back.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/punycode.h"
#include "dns/psl.h"

static void check(struct str h, unsigned flags)
{
	struct str ps, rd, uh;
	size_t end = h.len && h.p[h.len - 1] == '.' ? h.len - 1 : h.len;
	int a = psl_public_suffix(h, flags, &ps);
	int b = psl_registrable(h, flags, &rd);
	if (a < 0) {
		assert(b < 0);
		return;
	}
	assert(ps.len > 0 && ps.p + ps.len == h.p + end && ps.p >= h.p);
	assert(ps.p == h.p || ps.p[-1] == '.');
	if (b == 0) {
		assert(rd.p + rd.len == h.p + end && rd.len > ps.len + 1);
		assert(rd.p[rd.len - ps.len - 1] == '.');
		assert(memchr(rd.p, '.', rd.len - ps.len - 1) == NULL);
	} else {
		assert(ps.p == h.p); /* nothing left of the suffix */
	}
	/* the same name in upper case */
	char *up = malloc(h.len ? h.len : 1);
	for (size_t i = 0; i < h.len; i++)
		up[i] = (char)(h.p[i] >= 'a' && h.p[i] <= 'z' ? h.p[i] - 32 : h.p[i]);
	uh = str_make(up, h.len);
	struct str ps2, rd2;
	assert(psl_public_suffix(uh, flags, &ps2) == 0 && ps2.len == ps.len);
	assert(psl_registrable(uh, flags, &rd2) == b && (b < 0 || rd2.len == rd.len));
	free(up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str h = str_make((const char *)data, size);
	check(h, 0);
	check(h, PSL_PRIVATE);
	char low[300];
	struct str rd;
	int n = psl_registrable_lower(h, PSL_PRIVATE, low, sizeof low);
	assert(n < 0 || (psl_registrable(h, PSL_PRIVATE, &rd) == 0 && (size_t)n == rd.len &&
	                 strlen(low) == rd.len));

	uint32_t cp[64], back[64];
	char enc[512];
	size_t k = punycode_decode(h, cp, 64);
	if (k) {
		size_t e = punycode_encode(cp, k, enc, sizeof enc);
		assert(e > 0);
		assert(punycode_decode(str_make(enc, e), back, 64) == k);
		assert(memcmp(cp, back, k * sizeof *cp) == 0);
	}
	return 0;
}
