/*
 * fuzz_clamd_reply.c — clamd's reply (virus/clamd.h) over any bytes:
 * where it ends (never past the input or CLAMD_REPLY_MAX), what it says
 * (clean only for exactly "stream: OK"), and a name fit for a log line.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "virus/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct clamd_result r;

	long n = clamd_reply_find(p, size);
	assert(n == -1 || n == -2 || (n >= 0 && (size_t)n < size && n < CLAMD_REPLY_MAX));
	if (n < 0)
		n = (long)(size < CLAMD_REPLY_MAX ? size : CLAMD_REPLY_MAX);
	clamd_reply_parse(p, (size_t)n, &r);
	size_t len = strlen(r.name);
	assert(len < CLAMD_NAME_MAX);
	for (size_t i = 0; i < len; i++)
		assert(r.name[i] > ' ' && r.name[i] < 0x7f && r.name[i] != '"' && r.name[i] != '\\');
	if (r.status == CLAMD_CLEAN)
		assert(n >= 10 && memcmp(p, "stream: OK", 10) == 0 && r.why == NULL);
	if (r.status == CLAMD_FAILED)
		assert(r.why != NULL);
	return 0;
}
