/*
 * fuzz_subscriptions.c — a Maildir++ tree's subscriptions file as `tern
 * import` reads it (cli_import.h), Dovecot's and Courier's: every name
 * given is NUL-free UTF-8 without a "." or tab level separator left in
 * it, at most max of them, the rest counted, each line a name, a bad
 * line or past max.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_import.h"
#include "core/str.h"
#include "imap/imap_utf7.h"

static void count_bad(void *arg, const char *line, size_t len)
{
	(void)line;
	assert(len > 0);
	(*(size_t *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *names[8];
	for (int courier = 0; courier < 2; courier++) {
		size_t bad = 0, over = 0;
		size_t n = maildirpp_subscriptions_parse((const char *)data, size, courier, names, 8,
		                                         count_bad, &bad, &over);
		assert(n <= 8);
		assert(over == 0 || n == 8);
		size_t lines = 0;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		assert(n + bad + over <= lines + 1);
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(names[i]);
			assert(l > 0 && imap_utf8_valid(str_make(names[i], l)));
			free(names[i]);
		}
	}
	return 0;
}
