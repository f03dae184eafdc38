/*
 * fuzz_mime_msgid.c — RFC 5322 msg-id lists read strictly (mime_msgid.h).
 * Checks: the reader stops (each step moves forward) and never reads past
 * the input; every id it gives lies inside the input, is bracketed there
 * ("<" before, ">" after) and has an "@"; an id without a quoted id-left
 * is one mime_msgid_valid() takes, so what the JMAP writer checks is what
 * the reader gives back; mime_msgid_list_valid() is exactly "the reader
 * reached the end, with at least one id".
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_msgid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
	memcpy(copy, data, size);
	struct str v = str_make(copy, size), id;
	size_t pos = 0, n = 0;
	int r;

	while ((r = mime_msgid_list_next(v, &pos, &id)) == 1) {
		assert(pos <= size && id.p > copy && id.p + id.len < copy + size);
		assert(id.p[-1] == '<' && id.p[id.len] == '>' && memchr(id.p, '@', id.len));
		assert(id.p + id.len + 1 == copy + pos);
		if (id.p[0] != '"')
			assert(mime_msgid_valid(id));
		n++;
	}
	assert(r == 0 || r == -1);
	assert(mime_msgid_list_valid(v) == (r == 0 && n > 0));
	free(copy);
	return 0;
}
