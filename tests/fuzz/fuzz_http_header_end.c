/*
 * fuzz_http_header_end.c — the end of a request header in a byte stream
 * (http_header_end, the bridge's request-header deadline). The first byte
 * picks a chunk size; fed whole, one byte at a time and in those chunks,
 * the answer is the same, lies inside the input, and is the first place
 * where an LF follows an LF with only CRs between (after the request
 * line's start: a leading empty line is skipped).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

static long feed(const uint8_t *p, size_t n, size_t step)
{
	unsigned st = HTTP_HEADER_START;
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		long r = http_header_end(&st, (const char *)p + off, k);
		if (r >= 0) {
			assert((size_t)r <= k && r > 0);
			return (long)off + r;
		}
	}
	return -2;
}

/* A plain model: line lengths without CRs, the first empty one after the
 * initial pseudo-line ends the header. */
static long model(const uint8_t *p, size_t n)
{
	size_t line = HTTP_HEADER_START;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (line == 0)
				return (long)i + 1;
			line = 0;
		} else if (p[i] != '\r') {
			line++;
		}
	}
	return -2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 64;
	data++;
	size--;
	long whole = feed(data, size, size ? size : 1);
	assert(whole == model(data, size));
	assert(feed(data, size, 1) == whole);
	assert(feed(data, size, step) == whole);
	if (whole >= 0)
		assert(data[whole - 1] == '\n');
	return 0;
}
