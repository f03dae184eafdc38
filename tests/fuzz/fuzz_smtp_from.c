/*
 * fuzz_smtp_from.c — the submission header scan and the strict From
 * parser (smtp_headers.h): the input is a header section; the From value
 * found there (and Resent-From), and the whole input as a value, are
 * parsed. Every address returned has one "@" outside quotes with a
 * non-empty, lowercase domain; the shown names never change the addresses,
 * and a plain address shown as itself shows no other.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "smtp/smtp_headers.h"

#define MAX 8

/* A plain address (an ASCII local part without quotes, a domain of
 * letters, digits, '-' and '.')
 * read as its own display name shows nothing else. */
static int plain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	for (const char *l = addr; l < at; l++)
		if (*l == '"' || (unsigned char)*l >= 0x80)
			return 0; /* a UTF-8 local part may hold a fullwidth at */
	for (const char *d = at + 1; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= '0' && *d <= '9') || *d == '-' || *d == '.'))
			return 0;
	return 1;
}

static int yes(void *arg, const char *shown)
{
	(void)arg;
	assert(strlen(shown) <= SMTP_SHOWN_ADDR_MAX && strchr(shown, '@'));
	return 1;
}

static void check(struct arena *a, struct str v)
{
	char *addrs[MAX], *names[MAX], *again[MAX];
	int n = smtp_from_mailboxes(a, v, addrs, names, MAX);

	assert(n == -1 || (n >= 1 && n <= MAX));
	/* The names are extra: the addresses are the same without them. */
	assert(smtp_from_addresses(a, v, again, MAX) == n);
	for (int i = 0; i < n; i++) {
		const char *at = strrchr(addrs[i], '@');
		assert(at && at > addrs[i] && at[1]);
		for (const char *d = at + 1; *d; d++)
			assert(!(*d >= 'A' && *d <= 'Z'));
		assert(strcmp(addrs[i], again[i]) == 0 && names[i]);
		int strict = smtp_name_shows_other(names[i], addrs[i], NULL, NULL);
		/* Accepting every other address can only accept more. */
		assert(smtp_name_shows_other(names[i], addrs[i], yes, NULL) <= strict);
		if (plain(addrs[i]))
			assert(!smtp_name_shows_other(addrs[i], addrs[i], NULL, NULL));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	struct smtp_headers h;

	if (smtp_headers_scan(a, (const char *)data, size, &h) == 0) {
		assert(h.header_end <= size);
		assert(h.from_fields || h.from.len == 0);
		/* Where the first From lies (submission replaces it there): in
		 * the header, and it starts with its name. */
		if (h.from_end) {
			assert(h.from_fields && h.from_start + 5 <= h.from_end && h.from_end <= h.header_end);
			assert(strncasecmp((const char *)data + h.from_start, "from", 4) == 0);
		}
		check(a, h.from);
		for (unsigned i = 0; i < h.resent_from_fields && i < SMTP_RESENT_MAX; i++)
			check(a, h.resent_from[i]);
	}
	check(a, str_make((const char *)data, size));
	arena_free(&a);
	return 0;
}
