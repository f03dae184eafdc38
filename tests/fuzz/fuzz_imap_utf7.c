/*
 * fuzz_imap_utf7.c — modified UTF-7 both ways. Input taken as UTF-7: when
 * it decodes, the result is valid UTF-8 and encodes back to exactly the
 * input (decoding accepts canonical spellings only). Input taken as UTF-8:
 * when valid and NUL-free, it encodes to printable ASCII that decodes back
 * to it. A small output ceiling must fail cleanly, never truncate.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in = str_make((const char *)data, size);
	struct buf a, b, small;
	int r;

	buf_init(&a, 8 * size + 16);
	buf_init(&b, 8 * size + 16);
	buf_init(&small, size / 2);

	r = imap_utf7_to_utf8(in, &a);
	assert(r == IMAP_UTF7_OK || r == IMAP_UTF7_INVALID);
	assert((r == IMAP_UTF7_OK) == imap_utf7_valid(in));
	if (r == IMAP_UTF7_OK) {
		assert(imap_utf8_valid(buf_str(&a)) && !memchr(buf_data(&a), 0, a.len));
		assert(imap_utf8_to_utf7(buf_str(&a), &b) == IMAP_UTF7_OK);
		assert(str_eq(buf_str(&b), in));
		r = imap_utf7_to_utf8(in, &small);
		assert(r == (a.len <= small.max ? IMAP_UTF7_OK : IMAP_UTF7_NO_ROOM));
		assert(r != IMAP_UTF7_NO_ROOM || small.len == 0);
	}

	buf_reset(&a);
	buf_reset(&b);
	buf_reset(&small);
	r = imap_utf8_to_utf7(in, &a);
	assert(r == ((imap_utf8_valid(in) && !memchr(in.p, 0, size)) ? IMAP_UTF7_OK
	                                                             : IMAP_UTF7_INVALID));
	if (r == IMAP_UTF7_OK) {
		for (size_t i = 0; i < a.len; i++)
			assert(buf_data(&a)[i] >= 0x20 && buf_data(&a)[i] <= 0x7e);
		assert(imap_utf7_to_utf8(buf_str(&a), &b) == IMAP_UTF7_OK);
		assert(str_eq(buf_str(&b), in));
		r = imap_utf8_to_utf7(in, &small);
		assert(r == (a.len <= small.max ? IMAP_UTF7_OK : IMAP_UTF7_NO_ROOM));
		assert(r != IMAP_UTF7_NO_ROOM || small.len == 0);
	}
	buf_free(&a);
	buf_free(&b);
	buf_free(&small);
	return 0;
}
