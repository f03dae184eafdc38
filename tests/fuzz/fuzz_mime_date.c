/*
 * fuzz_mime_date.c — the Date: header parser. Any input: no crash, no
 * read past the end (the input is copied to an exact-size buffer), and a
 * parsed date is consistent: the written day and the UTC instant are at
 * at most about five days apart (numeric zones go up to +-99:59). The
 * input read as an RFC 3339 date-time (JMAP's Date) and written back as
 * RFC 5322 at its own offset reads back to the same instant.
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

	char *z = malloc(size + 1), d[MIME_DATE_MAX];
	int off;
	memcpy(z, data, size);
	z[size] = '\0';
	/* Years 1970..9998: mime_date_parse takes 1900 to four digits. */
	if (mime_rfc3339_parse_off(z, &t, &off) == 0 && t >= 0 && t < 253370764800) {
		int64_t back;
		mime_date_format_off(t, off, d);
		assert(mime_date_parse(str_c(d), &back, NULL) == 0 && back == t);
	}
	free(z);
	return 0;
}
