/*
 * fuzz_smtp_data.c — the DATA reader, fed whole and in two pieces split at
 * a point taken from the data: output, flags and stopping point must agree.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t max = size ? data[0] * 8u : 0, split = size > 1 ? data[1] % size : 0, n1, n2;
	struct smtp_data_reader a, b;
	struct buf oa, ob;

	buf_init(&oa, 1 << 20);
	buf_init(&ob, 1 << 20);
	smtp_data_init(&a, max);
	smtp_data_init(&b, max);
	n1 = smtp_data_feed(&a, p, size, &oa);
	n2 = smtp_data_feed(&b, p, split, &ob);
	if (n2 == split)
		n2 += smtp_data_feed(&b, p + split, size - split, &ob);
	assert(n1 <= size && n1 == n2 && (n1 < size ? a.done : 1));
	assert(buf_len(&oa) <= max && buf_len(&oa) <= n1);
	assert(a.done == b.done && a.too_big == b.too_big && a.size == b.size &&
	       a.saw_bare_lf == b.saw_bare_lf && a.saw_bare_cr == b.saw_bare_cr &&
	       a.saw_nul == b.saw_nul && a.long_line == b.long_line);
	assert(buf_len(&oa) == buf_len(&ob) &&
	       memcmp(buf_data(&oa), buf_data(&ob), buf_len(&oa)) == 0);
	buf_free(&oa);
	buf_free(&ob);
	return 0;
}
