/*
 * fuzz_smtp_from.c — the submission header scan and the strict From
 * parser (smtp_headers.h): the input is a header section; the From value
 * found there, and the whole input as a value, are parsed. Every address
 * returned has one "@" outside quotes with a non-empty, lowercase domain.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "smtp/smtp_headers.h"

#define MAX 8

static void check(struct arena *a, struct str v)
{
	char *addrs[MAX];
	int n = smtp_from_addresses(a, v, addrs, MAX);

	assert(n == -1 || (n >= 1 && n <= MAX));
	for (int i = 0; i < n; i++) {
		const char *at = strrchr(addrs[i], '@');
		assert(at && at > addrs[i] && at[1]);
		for (const char *d = at + 1; *d; d++)
			assert(!(*d >= 'A' && *d <= 'Z'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	struct smtp_headers h;

	if (smtp_headers_scan(a, (const char *)data, size, &h) == 0) {
		assert(h.header_end <= size);
		assert(h.from_fields || h.from.len == 0);
		check(a, h.from);
	}
	check(a, str_make((const char *)data, size));
	arena_free(&a);
	return 0;
}
