/*
 * fuzz_tlsrpt_report.c — a received TLS-RPT report's JSON
 * (tlspol/tlsrpt_in.h), and the stored outcome rows tern keeps for its
 * own reports (report/tlsrpt_seen.h). Checks: no read outside the input
 * (ASan); an accepted report respects the struct's bounds, rendered by
 * tern's writer it parses again to the same counts (what intake stores
 * is what the list shows).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "report/tlsrpt_seen.h"
#include "tlspol/tlsrpt_in.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	struct tlsrpt_report *r = malloc(sizeof *r), *r2 = malloc(sizeof *r2);
	char err[128];
	if (tlsrpt_report_parse((const char *)data, size, a, r, err, sizeof err) == 0) {
		assert(r->npolicies >= 1 && r->npolicies <= TLSRPT_POLICIES_MAX);
		struct buf b;
		buf_init(&b, 1 << 22);
		assert(tlsrpt_report_json(r, &b) == 0);
		assert(tlsrpt_report_parse(buf_data(&b), buf_len(&b), a, r2, err, sizeof err) == 0);
		assert(r2->npolicies == r->npolicies && r2->start == r->start && r2->end == r->end);
		for (size_t i = 0; i < r->npolicies; i++) {
			assert(r2->policies[i].successful == r->policies[i].successful);
			assert(r2->policies[i].failed == r->policies[i].failed);
			assert(r2->policies[i].nfailures == r->policies[i].nfailures);
		}
		buf_free(&b);
	}
	/* The same bytes as a stored record of counts. */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	memset(r, 0, sizeof *r);
	tlsrpt_seen_parse(text, size, "example.net", r);
	assert(r->npolicies <= TLSRPT_POLICIES_MAX);
	for (size_t i = 0; i < r->npolicies; i++)
		assert(r->policies[i].nfailures <= TLSRPT_FAILURES_MAX &&
		       r->policies[i].nstrings <= TLSRPT_POLICY_STRINGS_MAX);
	free(text);
	free(r);
	free(r2);
	arena_free(&a);
	return 0;
}
