/*
 * fuzz_report_uri.c — one reporting URI (report_uri.c), as DMARC reads
 * it and as TLS-RPT does. Checks: an accepted mailto: address is one
 * mailbox (sieve_mailbox_valid), holds no CR, LF or NUL, and has a
 * lowercase domain; TLS-RPT never reports a size.
 */
#include <assert.h>
#include <string.h>

#include "report/report_uri.h"
#include "sieve/sieve_mailto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_uri u;
	for (int dmarc = 0; dmarc < 2; dmarc++) {
		if (report_uri_parse(str_make((const char *)data, size), dmarc, &u) < 0 ||
		    u.kind != REPORT_URI_MAILTO) {
			assert(dmarc || u.max_size == 0);
			continue;
		}
		size_t n = strlen(u.addr);
		assert(n <= REPORT_URI_ADDR_MAX && sieve_mailbox_valid(str_make(u.addr, n)));
		assert(!strchr(u.addr, '\r') && !strchr(u.addr, '\n'));
		for (const char *d = strrchr(u.addr, '@'); *d; d++)
			assert(!(*d >= 'A' && *d <= 'Z'));
		assert(dmarc || u.max_size == 0);
	}
	return 0;
}
