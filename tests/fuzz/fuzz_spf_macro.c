/*
 * fuzz_spf_macro.c — SPF macro strings (spf_macro.c). The first byte
 * chooses an explain-string (odd) or a domain-spec (even), the rest is the
 * string. Checks: a string spf_macro_check accepts expands (or asks for
 * %{p} only when it uses it and the name is not known); an expansion is
 * NUL-terminated at the length returned; a domain-spec comes out at most
 * 253 octets; expanding twice gives the same.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[600], again[600];
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

	if (size < 1)
		return 0;
	int exp = data[0] & 1;
	struct str s = { (const char *)data + 1, size - 1 };
	struct spf_macro_ctx c = {
		.sender = "first.last-name@mail.example.com",
		.domain = "mail.example.com",
		.ip = (data[0] & 2) ? "2001:db8:102:304:506:708:90a:b0c" : "192.0.2.3",
		.ip6 = (data[0] & 2) != 0,
		.ip16 = v6,
		.helo = "helo.example.org",
		.ptr = (data[0] & 4) ? "ptr.example.com" : NULL,
		.host = "mx.test",
		.now = 1700000000,
	};
	int ok = spf_macro_check(s, exp) == 0;
	int n = spf_macro_expand(s, exp, &c, out, sizeof out);
	if (n == SPF_MACRO_NEED_PTR)
		assert(!c.ptr && spf_macro_uses_ptr(s));
	if (ok && exp)
		assert(n >= 0 || n == SPF_MACRO_NEED_PTR);
	if (n >= 0) {
		assert(strlen(out) == (size_t)n);
		if (!exp)
			assert(n <= 253);
		int m = spf_macro_expand(s, exp, &c, again, sizeof again);
		assert(m == n && strcmp(out, again) == 0);
	}
	return 0;
}
