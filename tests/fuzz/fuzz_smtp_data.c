/*
 * fuzz_smtp_data.c — the DATA reader, fed whole, in two pieces split at a
 * point taken from the data, and one octet at a time (which never takes the
 * reader's multi-octet fast path, so it checks that path against the plain
 * state machine): output, flags and stopping point must agree.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t max = size ? data[0] * 8u : 0, split = size > 1 ? data[1] % size : 0, n1, n2;
	struct smtp_data_reader a, b, c;
	struct buf oa, ob, oc;
	size_t n3 = 0;

	buf_init(&oa, 1 << 20);
	buf_init(&ob, 1 << 20);
	buf_init(&oc, 1 << 20);
	smtp_data_init(&a, max);
	smtp_data_init(&b, max);
	smtp_data_init(&c, max);
	n1 = smtp_data_feed(&a, p, size, &oa);
	n2 = smtp_data_feed(&b, p, split, &ob);
	if (n2 == split)
		n2 += smtp_data_feed(&b, p + split, size - split, &ob);
	while (n3 < size && !c.done)
		n3 += smtp_data_feed(&c, p + n3, 1, &oc);
	assert(n1 <= size && n1 == n2 && n1 == n3 && (n1 < size ? a.done : 1));
	assert(a.done == c.done && a.too_big == c.too_big && a.size == c.size &&
	       a.saw_bare_lf == c.saw_bare_lf && a.saw_bare_cr == c.saw_bare_cr &&
	       a.saw_nul == c.saw_nul && a.long_line == c.long_line);
	assert(buf_len(&oa) == buf_len(&oc) &&
	       memcmp(buf_data(&oa), buf_data(&oc), buf_len(&oa)) == 0);
	assert(buf_len(&oa) <= max && buf_len(&oa) <= n1);
	assert(a.done == b.done && a.too_big == b.too_big && a.size == b.size &&
	       a.saw_bare_lf == b.saw_bare_lf && a.saw_bare_cr == b.saw_bare_cr &&
	       a.saw_nul == b.saw_nul && a.long_line == b.long_line);
	assert(buf_len(&oa) == buf_len(&ob) &&
	       memcmp(buf_data(&oa), buf_data(&ob), buf_len(&oa)) == 0);
	buf_free(&oa);
	buf_free(&ob);
	buf_free(&oc);
	return 0;
}
