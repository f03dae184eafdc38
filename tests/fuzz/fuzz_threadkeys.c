/*
 * fuzz_threadkeys.c — the hashes messages are threaded by
 * (mime/mime_threadkeys.c) over any header section. Checks: at most
 * MIME_THREADKEYS_REFS ids, no id twice and never the message's own; the
 * result does not depend on the octets after the header section.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_threadkeys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_threadkeys k, k2;
	char *m = malloc(size + 16);

	mime_threadkeys_get((const char *)data, size, &k);
	assert(k.nrefs <= MIME_THREADKEYS_REFS);
	for (size_t i = 0; i < k.nrefs; i++) {
		assert(!k.has_self || k.refs[i] != k.self);
		for (size_t j = i + 1; j < k.nrefs; j++)
			assert(k.refs[i] != k.refs[j]);
	}
	/* A body after a complete header section changes nothing. */
	if (size >= 4 && memcmp(data + size - 4, "\r\n\r\n", 4) == 0 &&
	    memmem(data, size - 4, "\r\n\r\n", 4) == NULL && memmem(data, size, "\n\n", 2) == NULL) {
		memcpy(m, data, size);
		memcpy(m + size, "Subject: x\r\n\r\n", 14);
		mime_threadkeys_get(m, size + 14, &k2);
		assert(memcmp(&k, &k2, sizeof k) == 0);
	}
	free(m);
	return 0;
}
