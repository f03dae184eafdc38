/*
 * fuzz_mbox.c — splitting an mbox (mailfmt.h: mbox_next) and decoding each
 * message (mbox_message_decode), as `tern import` does with a file from
 * anywhere. Every message lies inside the input, splitting always moves
 * forward, and a decoded message has CRLF line ends only; encoding it
 * again and splitting that gives back one message that decodes to the
 * same bytes, flags and keywords.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/mailfmt.h"
#include "core/buf.h"

static void crlf_only(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			assert(i > 0 && p[i - 1] == '\r');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0, last = 0;
	struct mbox_msg m;
	int count = 0;

	while (mbox_next(p, size, &off, &m)) {
		assert(off > last || (off == last && count == 0 && off == 0) || off > 0);
		assert(m.body >= p && m.body + m.body_len <= p + size);
		assert(off <= size);
		last = off;
		struct buf dec, enc, again;
		char kw[256], kw2[256];
		unsigned flags, flags2;
		buf_init(&dec, size * 2 + 16);
		assert(mbox_message_decode(m.body, m.body_len, m.verbatim, &dec, &flags, kw, sizeof kw) == 0);
		crlf_only(buf_data(&dec), buf_len(&dec));
		/* The round trip holds for what the export writes: messages
		 * ending with a line end and no CR before a CRLF (an mbox line
		 * may end in CRLF, so "\r\r\n" loses one CR on the way). */
		if (buf_len(&dec) >= 2 && buf_data(&dec)[buf_len(&dec) - 1] == '\n' &&
		    memmem(buf_data(&dec), buf_len(&dec), "\r\r", 2) == NULL) {
			buf_init(&enc, size * 4 + 256);
			assert(mbox_message_encode(buf_data(&dec), buf_len(&dec), 1700000000, flags, kw, &enc) == 0);
			size_t o2 = 0;
			struct mbox_msg m2;
			assert(mbox_next(buf_data(&enc), buf_len(&enc), &o2, &m2) == 1);
			buf_init(&again, size * 2 + 16);
			assert(mbox_message_decode(m2.body, m2.body_len, m2.verbatim, &again, &flags2, kw2, sizeof kw2) == 0);
			assert(buf_len(&again) == buf_len(&dec) &&
			       memcmp(buf_data(&again), buf_data(&dec), buf_len(&dec)) == 0);
			/* $Forwarded comes back as a keyword (no mbox letter). */
			assert(flags2 == (flags & ~MF_FORWARDED));
			buf_free(&again);
			buf_free(&enc);
		}
		buf_free(&dec);
		if (++count > 10000)
			break;
	}
	return 0;
}
