/*
 * fuzz_dmarc_report.c — DMARC aggregate report XML (dmarc_xml.c) and the
 * attachment unpacker (dmarc_unpack.c). The input is unpacked (gzip, zip
 * or XML) under a 1 MiB bound, then parsed. Checks: a parsed report has
 * what a report must have, its rows within the bound and every text field
 * NUL-terminated inside its array; the unpacked bytes respect the bound.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/dmarc_report.h"

static void check(const char *p, size_t n)
{
	struct dmarc_report r;
	char err[128];
	if (dmarc_report_parse(p, n, &r, err, sizeof err) != 0) {
		assert(r.rows == NULL && r.nrows == 0);
		return;
	}
	assert(r.org_name[0] && r.report_id[0] && r.domain[0] && r.begin <= r.end);
	assert(r.nrows <= DMARC_REPORT_ROWS_MAX);
	assert(memchr(r.org_name, 0, sizeof r.org_name) && memchr(r.domain, 0, sizeof r.domain));
	uint64_t sum = 0;
	for (size_t i = 0; i < r.nrows; i++) {
		const struct dmarc_report_row *w = &r.rows[i];
		assert(w->ndkim <= DMARC_REPORT_AUTH_MAX && w->nspf <= DMARC_REPORT_AUTH_MAX);
		assert(memchr(w->source_ip, 0, sizeof w->source_ip));
		assert(memchr(w->header_from, 0, sizeof w->header_from));
		sum += w->count;
	}
	assert(sum <= r.total_count);
	dmarc_report_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out;
	size_t outlen;
	char err[128];

	check((const char *)data, size);
	if (dmarc_report_unpack(data, size, 1 << 20, &out, &outlen, err, sizeof err) == 0) {
		assert(outlen <= 1 << 20);
		check((const char *)out, outlen);
		free(out);
	}
	return 0;
}
