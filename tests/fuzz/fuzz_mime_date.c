/*
 * fuzz_mime_date.c — the Date: header parser. Any input: no crash, no
 * read past the end (the input is copied to an exact-size buffer), and a
 * parsed date is consistent: the written day and the UTC instant are at
 * at most about five days apart (numeric zones go up to +-99:59).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	int64_t t, day;

	memcpy(p, data, size);
	if (mime_date_parse(str_make(p, size), &t, &day) == 0) {
		int64_t local = day * 86400;
		assert(t >= local - 5 * 86400 && t <= local + 6 * 86400);
		assert(mime_date_parse(str_make(p, size), NULL, NULL) == 0);
	}
	free(p);
	return 0;
}
