/*
 * fuzz_maildir_info.c — the info part of a Maildir file name (mailfmt.h),
 * as `tern import` reads names from any Maildir: the unique part is a
 * prefix of the name, and formatting the flags found then parsing that
 * gives the same flags.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "backup/mailfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags, flags2;
	uint32_t kw, kw2;
	char info[48];

	size_t base = maildir_info_parse((const char *)data, size, &flags, &kw);
	assert(base <= size);
	assert((flags & ~63u) == 0 && (kw >> 26) == 0);
	size_t n = maildir_info_format(info, flags, kw);
	assert(n == strlen(info) && n < sizeof info);
	assert(maildir_info_parse(info, n, &flags2, &kw2) == 0);
	assert(flags2 == flags && kw2 == kw);
	return 0;
}
