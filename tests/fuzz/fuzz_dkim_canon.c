/*
 * fuzz_dkim_canon.c — relaxed canonicalization. The body hash must not
 * depend on where the input is split (at a point taken from the data); the
 * canonical body never has white space before a line end nor an empty last
 * line. Each field the header splitter finds canonicalizes to one line
 * "name:value\r\n" with no fold, no double space and no space at the ends.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split = size ? data[0] % (size + 1) : 0, pos = 0;
	struct dkim_body b1, b2;
	struct buf tee, out;
	uint8_t h1[32], h2[32];
	struct str f, in = str_make((const char *)data, size);

	buf_init(&tee, 4 * size + 16);
	dkim_body_init(&b1);
	b1.tee = &tee;
	dkim_body_update(&b1, data, size);
	dkim_body_final(&b1, h1);
	dkim_body_init(&b2);
	dkim_body_update(&b2, data, split);
	dkim_body_update(&b2, data + split, size - split);
	dkim_body_final(&b2, h2);
	assert(memcmp(h1, h2, 32) == 0 && b1.length == buf_len(&tee));
	const char *t = buf_data(&tee);
	size_t n = buf_len(&tee);
	assert(n == 0 || (n >= 2 && memcmp(t + n - 2, "\r\n", 2) == 0 &&
	                  (n < 4 || memcmp(t + n - 4, "\r\n\r\n", 4) != 0)));
	assert(!memmem(t, n, " \r\n", 3) && !memmem(t, n, "  ", 2) && !memchr(t, '\t', n));

	buf_init(&out, size + 16);
	while (dkim_header_next(in, &pos, &f)) {
		buf_reset(&out);
		if (dkim_canon_header(f, &out) != 0)
			continue;
		const char *o = buf_data(&out), *colon = memchr(o, ':', buf_len(&out));
		size_t m = buf_len(&out) - 2;
		assert(colon && memcmp(o + m, "\r\n", 2) == 0 && !memchr(o, '\n', m));
		assert(!memmem(o, m, "  ", 2) && !memchr(o, '\t', m) &&
		       (m == 0 || o[m - 1] != ' ') && colon[1] != ' ');
	}
	buf_free(&tee);
	buf_free(&out);
	return 0;
}
