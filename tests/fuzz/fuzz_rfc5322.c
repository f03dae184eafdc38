/*
 * fuzz_rfc5322.c — the header parser, whole and in two pieces split at a
 * point taken from the data (the caller keeps what was not consumed); both
 * must give the same fields and end. Each value is also unfolded and its
 * encoded-words decoded.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/rfc5322.h"

static uint32_t parse(const char *p, size_t size, size_t split, uint64_t *end_r)
{
	struct rfc5322_parser ps;
	struct rfc5322_field f;
	struct buf dec;
	size_t pos = 0, have = split, c, i;
	uint32_t h = 1;
	int r;

	rfc5322_init(&ps);
	buf_init(&dec, 4 * RFC5322_FIELD_MAX);
	for (;;) {
		r = rfc5322_parse(&ps, p + pos, have - pos, have == size, &c, &f);
		assert(c <= have - pos);
		pos += c;
		if (r == RFC5322_MORE) {
			assert(have < size);
			have = size;
			continue;
		}
		if (r != RFC5322_FIELD)
			break;
		char *u = malloc(f.value.len + 1);
		size_t n = rfc5322_unfold(f.value, u);

		/* A malformed line kept in the header has an empty name. */
		assert(n <= f.value.len && f.name.len <= RFC5322_NAME_MAX);
		assert(f.name.len || f.value.p == f.raw.p);
		buf_reset(&dec);
		assert(rfc5322_decode_words(str_make(u, n), &dec) == 0);
		for (i = 0; i < f.raw.len; i++)
			h = h * 31 + (unsigned char)f.raw.p[i];
		h = h * 31 + (uint32_t)f.name.len;
		free(u);
	}
	*end_r = r == RFC5322_END ? ps.body_offset : (uint64_t)r;
	assert(r != RFC5322_END || ps.body_offset == pos);
	rfc5322_clear(&ps);
	buf_free(&dec);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t split = size ? data[0] % (size + 1) : 0;
	uint64_t e1, e2;

	assert(parse((const char *)data, size, size, &e1) ==
	       parse((const char *)data, size, split, &e2));
	assert(e1 == e2);
	return 0;
}
