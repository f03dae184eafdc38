/*
 * fuzz_uidlist.c — Dovecot's dovecot-uidlist reader (backup/uidlist.h),
 * which takes a file from the Maildir imported. Whatever the input,
 * parsing ends with 0 or -1; a list that parses has a UIDVALIDITY and
 * entries inside the text with non-zero UIDs and bases without ':' or
 * '/', and each entry's base finds a UID.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidlist ul;
	const char *text = (const char *)data;

	int r = uidlist_parse(text, size, &ul);
	assert(r == 0 || r == -1);
	assert(r == 0 ? ul.uidvalidity != 0 : ul.n == 0);
	for (size_t i = 0; i < ul.n; i++) {
		const struct uidlist_ent *e = &ul.v[i];
		assert(e->uid != 0 && e->len > 0 && e->base >= text &&
		       e->base + e->len <= text + size);
		assert(!memchr(e->base, ':', e->len) && !memchr(e->base, '/', e->len));
		char *name = malloc((size_t)e->len + 1);
		assert(name);
		memcpy(name, e->base, e->len);
		name[e->len] = '\0';
		assert(uidlist_find(&ul, name) != 0);
		free(name);
	}
	uidlist_free(&ul);
	return 0;
}
