/*
 * fuzz_spam_url.c — URL extraction from text and the host of each URL:
 * every URL found lies inside the input, every host is lowercase, fits
 * its buffer and has no white space, and its registrable base is a
 * suffix of it.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_private.h"

struct ctx {
	const char *p;
	size_t n;
};

static void url(void *arg, struct str u, struct str text, uint32_t flags)
{
	struct ctx *c = arg;
	char h[64];
	assert(u.p >= c->p && u.p + u.len <= c->p + c->n && u.len > 0);
	assert(flags == SPAM_URL_TEXT && text.len == 0);
	size_t n = spam_url_host(u, h, sizeof h);
	assert(n < sizeof h && strlen(h) == n);
	for (size_t i = 0; i < n; i++)
		assert(!(h[i] >= 'A' && h[i] <= 'Z') && h[i] != ' ');
	struct str b = spam_domain_base(str_make(h, n));
	assert(b.len <= n && b.p + b.len == h + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	struct ctx c = {p, size};
	spam_url_scan(p, size, url, &c);
	char h[256];
	spam_url_host(str_make(p, size), h, sizeof h);
	free(p);
	return 0;
}
