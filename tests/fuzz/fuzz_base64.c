/*
 * fuzz_base64.c — the strict decoder and the encoder (core/base64.h). The
 * first octet picks the flags, the rest is the text. What decodes must be
 * the one spelling the encoder writes (white space dropped under
 * BASE64_SKIP_WS, '-' '_' read as '+' '/' under BASE64_URL, the padding
 * optional under BASE64_NOPAD), must not fit one octet less, and the text
 * itself, taken as octets, must encode and decode back under every flag.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

/* The text as the encoder would spell it: t[0..*len_r), padding dropped
 * when nopad, into a copy the caller frees. */
static char *spelling(const char *p, size_t n, unsigned flags, size_t *len_r)
{
	char *t = malloc(n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if ((flags & BASE64_SKIP_WS) && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		if (flags & BASE64_URL)
			c = c == '-' ? '+' : c == '_' ? '/' : c;
		t[k++] = c;
	}
	if (flags & BASE64_NOPAD)
		while (k > 0 && t[k - 1] == '=')
			k--;
	*len_r = k;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & 7;
	struct str in = str_make((const char *)data + 1, size - 1);
	size_t cap = in.len / 4 * 3 + 3, n = 0, m = 0, tl;
	unsigned char *dec = malloc(cap), *back = malloc(in.len + 1);
	char *enc = malloc(in.len * 2 + 8);

	if (base64_decode(in, flags, dec, cap, &n) == 0) {
		char *t = spelling(in.p, in.len, flags, &tl);
		size_t el = base64_encoded_len(n, flags & BASE64_NOPAD);
		assert(base64_encode(dec, n, flags & BASE64_NOPAD, enc, el + 1) == 0);
		assert(el == tl && memcmp(enc, t, tl) == 0);
		if (n > 0)
			assert(base64_decode(in, flags, dec, n - 1, &m) < 0);
		free(t);
	}
	for (unsigned f = 0; f < 8; f++) {
		size_t el = base64_encoded_len(in.len, f);
		assert(base64_encode(in.p, in.len, f, enc, el) < 0);
		assert(base64_encode(in.p, in.len, f, enc, el + 1) == 0 && strlen(enc) == el);
		assert(base64_decode(str_make(enc, el), f, back, in.len, &m) == 0);
		assert(m == in.len && memcmp(back, in.p, m) == 0);
	}
	free(dec);
	free(back);
	free(enc);
	return 0;
}
