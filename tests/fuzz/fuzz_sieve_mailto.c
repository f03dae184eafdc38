/*
 * fuzz_sieve_mailto.c — mailto URIs of Sieve notifications
 * (sieve_mailto.c). Checks: a parsed URI has 1..SIEVE_MAILTO_RCPTS_MAX
 * recipients, each with an '@' inside it and no octet that could break
 * a header field or an envelope (controls, angle brackets, comma; a
 * space only inside a quoted local part, "john doe"@x); a mailbox shown
 * by name (from a header field's value: "Name <addr>", comments, a
 * quoted name holding "<") on one line and longer than its address,
 * holding it when it has no comment; and decoded strings no
 * longer than the input.
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
			ptrdiff_t at = str_rchr(r, '@');
			for (size_t k = 0; k < r.len; k++) {
				unsigned char c = (unsigned char)r.p[k];
				int quoted = r.p[0] == '"' && k > 0 && (ptrdiff_t)k < at - 1;
				assert((c > ' ' || (c == ' ' && quoted)) && c != 0x7f && !strchr("<>,", c));
			}
			struct str n = m.named[i];
			if (n.len) {
				/* more than the address (the bare or "<addr>" form
				 * has no name), on one line */
				assert(n.len > r.len);
				assert(!memchr(n.p, '\r', n.len) && !memchr(n.p, '\n', n.len) && !memchr(n.p, 0, n.len));
				/* without comments, the address is in it as it is */
				if (!memchr(n.p, '(', n.len))
					assert(memmem(n.p, n.len, r.p, r.len) != NULL);
			}
		}
		assert(m.subject.len <= size && m.body.len <= size);
	}
	arena_free(&a);
	return 0;
}
