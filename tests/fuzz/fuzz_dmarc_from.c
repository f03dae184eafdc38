/*
 * fuzz_dmarc_from.c — the Author Domain of From fields (dmarc_from.c):
 * the address-list parse and the scan for "@" the parser skipped. The
 * input is split at newlines into up to 8 From values. Checks: the
 * answer is 0, -1 or -2; a domain given is non-empty, lowercase ASCII
 * (U-labels become A-labels), without a final dot, and fits the buffer;
 * the same fields give the same answer in any buffer large enough, and
 * a field repeated beside itself changes nothing.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "auth/dmarc.h"

#define VALUES_MAX 8

static size_t split(const char *in, size_t size, struct str *v)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n < VALUES_MAX; i++)
		if (i == size || in[i] == '\n') {
			v[n++] = str_make(in + start, i - start);
			start = i + 1;
		}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str v[2 * VALUES_MAX];
	size_t n = split((const char *)data, size, v);
	char out[DMARC_DOMAIN_MAX], again[DMARC_DOMAIN_MAX + 64];

	int r = dmarc_author_domain(v, n, out, sizeof out);
	assert(r == 0 || r == -1 || r == -2);
	if (r == 0) {
		size_t len = strnlen(out, sizeof out);
		assert(len > 0 && len < sizeof out);
		assert(out[len - 1] != '.');
		for (size_t i = 0; i < len; i++)
			assert((unsigned char)out[i] < 0x80 && !(out[i] >= 'A' && out[i] <= 'Z'));
	}
	assert(dmarc_author_domain(v, n, again, sizeof again) == r);
	if (r == 0)
		assert(strcmp(out, again) == 0);
	/* Each field twice: the same domains, so the same author. */
	memcpy(v + n, v, n * sizeof *v);
	assert(dmarc_author_domain(v, 2 * n, again, sizeof again) == r);
	if (r == 0)
		assert(strcmp(out, again) == 0);
	return 0;
}
