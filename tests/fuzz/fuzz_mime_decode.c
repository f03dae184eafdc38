/*
 * fuzz_mime_decode.c — the transfer decoders on arbitrary input: the first
 * octet picks the encoding and a chunk size; decoding whole, in those
 * chunks and one octet at a time must agree, never grow past the input
 * (plus the documented slack), and count the same errors. Charset
 * conversion runs on the same input (the first octet's low 3 bits pick one,
 * the East Asian ones through iconv included): in bounds, valid UTF-8.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "mime/mime_decode.h"

static size_t run(enum mime_cte cte, const char *in, size_t len, size_t chunk, char *out,
                  uint64_t *errors_r)
{
	struct mime_decoder d;
	size_t off = 0, n = 0, k;

	mime_decoder_init(&d, cte);
	while (off < len) {
		k = len - off < chunk ? len - off : chunk;
		n += mime_decoder_feed(&d, in + off, k, out + n);
		off += k;
	}
	n += mime_decoder_finish(&d, out + n);
	*errors_r = d.errors;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum mime_cte ctes[] = {MIME_CTE_BASE64, MIME_CTE_QP, MIME_CTE_7BIT};
	enum mime_cte cte;
	const char *in;
	size_t len, chunk, n1, n2, n3;
	uint64_t e1, e2, e3;
	char *o1, *o2, *o3;

	if (size < 1)
		return 0;
	cte = ctes[data[0] % 3];
	chunk = 1 + (data[0] >> 2);
	in = (const char *)data + 1;
	len = size - 1;
	o1 = malloc(MIME_DECODE_OUT_MAX(len));
	/* Each feed needs MIME_DECODE_OUT_MAX(k) past what is written, and
	 * what is written never passes what was read. */
	o2 = malloc(MIME_DECODE_OUT_MAX(len));
	o3 = malloc(MIME_DECODE_OUT_MAX(len));
	n1 = run(cte, in, len, len ? len : 1, o1, &e1);
	n2 = run(cte, in, len, chunk, o2, &e2);
	n3 = run(cte, in, len, 1, o3, &e3);
	assert(n1 <= len);
	assert(n1 == n2 && n1 == n3 && e1 == e2 && e1 == e3);
	assert(memcmp(o1, o2, n1) == 0 && memcmp(o1, o3, n1) == 0);
	assert(mime_decoded_size(cte, str_make(in, len)) == n1);
	free(o2);
	o2 = malloc(3 * len + 1);
	{
		static const char *const cs[] = {
		    "utf-8",  "euc-jp",     "windows-1252", "latin9",     "gb2312",       "big5",
		    "shift_jis", "iso-2022-jp", "utf-7",   "windows-1258", "tis-620",     "utf-16",
		    "windows-1255", "big5-hkscs", "gb18030", "koi8-u"};
		ptrdiff_t r = mime_charset_to_utf8(str_c(cs[data[0] & 15]), in, len, o2);
		size_t i = 0, k;

		assert(r >= 0 && (size_t)r <= 3 * len);
		while (i < (size_t)r) {
			k = utf8_seq((const unsigned char *)o2 + i, (size_t)r - i);
			assert(k > 0);
			i += k;
		}
	}
	free(o1);
	free(o2);
	free(o3);
	return 0;
}
