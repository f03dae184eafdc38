/*
 * fuzz_header_downgrade.c — mime_header_downgrade() (POP3 without UTF8)
 * on any header section. No crash, no read past the input (copied to an
 * exact-size buffer); the result is the same on a second call (POP3's
 * LIST counts it once, RETR sends it later); a header that needs nothing
 * is copied unchanged; and the result needs nothing more: every field it
 * rewrote is ASCII, so a client that did not give UTF8 gets no UTF-8
 * field the downgrade could have converted.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_header_downgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	struct buf a, b;

	memcpy(p, data, size);
	size_t hl = mime_header_section_len(p, size);
	assert(hl <= size);
	buf_init(&a, 6 * hl + 65536);
	buf_init(&b, 6 * hl + 65536);
	assert(mime_header_downgrade(p, hl, &a) == 0);
	assert(mime_header_downgrade(p, hl, &b) == 0);
	assert(buf_len(&a) == buf_len(&b) && memcmp(buf_data(&a), buf_data(&b), buf_len(&a)) == 0);
	if (!mime_header_needs_downgrade(p, hl))
		assert(buf_len(&a) == hl && memcmp(buf_data(&a), p, hl) == 0);
	assert(!mime_header_needs_downgrade(buf_data(&a), buf_len(&a)));
	buf_free(&a);
	buf_free(&b);
	free(p);
	return 0;
}
