/*
 * fuzz_summary.c — msg_summary_decode() on arbitrary records (must reject
 * or accept without reading outside them, and re-encode to a record that
 * decodes the same), and parse -> encode -> decode on arbitrary messages.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "mime/summary.h"

static void same(const struct msg_summary *a, const struct msg_summary *b)
{
	const struct str *x = &a->from, *y = &b->from;
	size_t k;

	for (k = 0; k < sizeof(*a) / sizeof(struct str); k++)
		assert((x[k].p == NULL) == (y[k].p == NULL) && x[k].len == y[k].len &&
		       (x[k].len == 0 || memcmp(x[k].p, y[k].p, x[k].len) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_summary s, t;
	struct arena *a = arena_new(0);
	struct buf out;

	buf_init(&out, 1 << 16);
	if (msg_summary_decode(data, size, &s) == 0) {
		assert(msg_summary_encode(&s, &out) == 0);
		assert(msg_summary_decode(buf_data(&out), buf_len(&out), &t) == 0);
		same(&s, &t);
	}
	msg_summary_parse((const char *)data, size, a, &s);
	buf_reset(&out);
	assert(msg_summary_encode(&s, &out) == 0);
	assert(msg_summary_decode(buf_data(&out), buf_len(&out), &t) == 0);
	same(&s, &t);
	buf_free(&out);
	arena_free(&a);
	return 0;
}
