/*
 * fuzz_dmarc_dest.c — where DMARC reports go (dmarc_out.c: rua= parsing,
 * external destination verification) and the stored row text
 * (dmarc_seen_row_parse). The input's first line is published as
 * _dmarc.example.net's TXT record; the rest is a table of records
 * (dns_table.h) the verification lookups read. Checks: the evaluation
 * ends within 1 + DMARC_QUERIES_MAX + DMARC_DEST_MAX lookups (the
 * record, the Organizational Domain walks, the verifications), every destination is an address
 * with an '@' and a lowercase domain, inside ones need no verification,
 * and a status of OK has a verified destination; a row text that parses
 * has its DKIM results within the bound.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "dns/dns_table.h"
#include "report/dmarc_out.h"
#include "report/dmarc_seen.h"

static void done(void *arg)
{
	*(int *)arg = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *zone = malloc(size + 32);
	memcpy(zone, "_dmarc.example.net TXT ", 23);
	memcpy(zone + 23, data, size);
	struct dns_table *tab = dns_table_new(zone, 23 + size);
	struct dns_resolver res = dns_table_resolver(tab);
	struct dmarc_dest d;
	int ended = 0;

	dmarc_dest_init(&d, "example.net");
	assert(dns_drive(&res, &dmarc_dest_ops, &d, done, &ended) == NULL && ended);
	/* the record, the Organizational Domain walks, the verifications */
	assert(dns_table_queries(tab) <= 1 + DMARC_QUERIES_MAX + DMARC_DEST_MAX);
	assert(d.ndest <= DMARC_DEST_MAX);
	int ok = 0;
	for (unsigned i = 0; i < d.ndest; i++) {
		const char *at = strrchr(d.dest[i].addr, '@'); /* a quoted local part may hold one */
		assert(at && at > d.dest[i].addr && at[1]);
		for (const char *p = at; *p; p++)
			assert(!isupper((unsigned char)*p));
		if (!d.dest[i].external)
			assert(d.dest[i].state == 1);
		ok |= d.dest[i].state == 1;
	}
	if (dmarc_dest_status(&d) == DMARC_DEST_OK)
		assert(ok);
	assert(d.org == NULL);
	dmarc_dest_clear(&d);
	dns_table_free(&tab);

	/* The same bytes as a stored row. */
	char *row = malloc(size + 1);
	memcpy(row, data, size);
	row[size] = '\0';
	struct dmarc_report_row r;
	if (dmarc_seen_row_parse(row, &r) == 0)
		assert(r.ndkim <= DMARC_REPORT_AUTH_MAX && r.nspf <= 1);
	free(row);
	free(zone);
	return 0;
}
