/*
 * fuzz_dmarc_record.c — DMARC records and their evaluation. The input's
 * first line is parsed alone and published as _dmarc.example.com's
 * record; the rest is a table of records (dns_table.h). Checks: the
 * parser's slices stay inside the input, its fields hold legal values, a
 * record is one only when it starts with v=DMARC1; an evaluation always
 * ends within the query budget, asking the resolver once per query it
 * counts, with a result in range, no disposition on anything but fail,
 * and a disposition never above the policy.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dmarc.h"
#include "auth/dmarc_record.h"
#include "dns/dns_table.h"

static int ended;

static void done(void *arg, struct dmarc_eval *e)
{
	(void)arg;
	(void)e;
	ended++;
}

static int inside(struct str s, const char *p, size_t n)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t rlen = nl ? (size_t)(nl - in) : size;
	struct dmarc_record r;

	if (dmarc_record_parse(in, rlen, &r)) {
		assert(rlen >= 8 && memmem(in, rlen, "DMARC1", 6));
		assert(r.p <= DMARC_POLICY_INVALID && r.sp <= DMARC_POLICY_INVALID &&
		       r.np <= DMARC_POLICY_INVALID && r.psd <= DMARC_PSD_N);
		assert((r.adkim == 'r' || r.adkim == 's') && (r.aspf == 'r' || r.aspf == 's'));
		assert(inside(r.rua, in, rlen) && inside(r.ruf, in, rlen));
		assert(str_eq(r.fo, STR_LIT("0")) || inside(r.fo, in, rlen));
		assert(!r.has_pct || r.pct <= 100);
		assert(!r.rua_valid || r.rua.len > 0);
	}

	char *zone = malloc(size + 32);
	memcpy(zone, "_dmarc.example.com TXT ", 23);
	memcpy(zone + 23, in, size);
	struct dns_table *tab = dns_table_new(zone, 23 + size);
	struct dns_resolver res = dns_table_resolver(tab);
	static const char *const froms[] = { "example.com", "a.b.c.d.e.f.g.h.i.example.com" };
	const char *dk[] = { "mail.example.com", "example.net", "x.y.example.com" };
	for (int i = 0; i < 2; i++) {
		struct dmarc_input din = { froms[i], SPF_PASS, "bounce.example.com", dk, 3,
					   (unsigned)(size % 100) /* a pct= sample */, NULL, 0 };
		struct dmarc_eval *e = dmarc_eval_new(&din);
		ended = 0;
		unsigned before = dns_table_queries(tab);
		assert(dmarc_run(&res, e, done, NULL) == NULL);
		assert(ended == 1);
		const struct dmarc_verdict *v = dmarc_eval_verdict(e);
		assert(v->result <= DMARC_RESULT_PERMERROR);
		assert(dmarc_eval_queries(e) <= DMARC_QUERIES_MAX);
		assert(dns_table_queries(tab) - before == dmarc_eval_queries(e));
		if (v->result != DMARC_RESULT_FAIL)
			assert(v->disposition == DMARC_POLICY_NONE);
		assert(v->disposition <= v->policy || v->disposition == DMARC_POLICY_NONE);
		assert(v->policy != DMARC_POLICY_INVALID && v->policy != DMARC_POLICY_ABSENT);
		dmarc_eval_free(&e);
	}
	dns_table_free(&tab);
	free(zone);
	return 0;
}
