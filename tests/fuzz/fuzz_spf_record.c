/*
 * fuzz_spf_record.c — SPF records and their evaluation. The input's first
 * line is published as example.com's SPF record, the rest is a table of
 * records (dns_table.h). Checks: spf_record_check accepts a record exactly
 * when every term parses (walked here term by term, each consuming bytes)
 * and modifiers are not repeated; an evaluation always ends, with one of
 * the seven results, within the query budget, asking the resolver once
 * per query it counts; an explanation only comes with "fail".
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "auth/spf_record.h"
#include "dns/dns_table.h"

static int ended;

static void done(void *arg, struct spf_eval *e)
{
	(void)arg;
	(void)e;
	ended++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t rlen = nl ? (size_t)(nl - in) : size;
	const char *why;

	/* The record alone. */
	if (spf_record_is_spf(in, rlen) && !memchr(in, 0, rlen)) {
		struct spf_term t;
		size_t pos = 6;
		int r, redirects = 0, exps = 0;
		while ((r = spf_term_next(in, rlen, &pos, &t)) == 1) {
			assert(pos <= rlen);
			redirects += t.kind == SPF_T_REDIRECT;
			exps += t.kind == SPF_T_EXP;
			assert(t.cidr4 <= 32 && t.cidr6 <= 128);
		}
		int ok = r == 0 && redirects <= 1 && exps <= 1;
		assert((spf_record_check(in, rlen, &why) == 0) == ok);
	}

	/* The evaluation against a table holding it. */
	size_t zl = size + 32;
	char *zone = malloc(zl);
	memcpy(zone, "example.com TXT ", 16);
	memcpy(zone + 16, in, size);
	struct dns_table *tab = dns_table_new(zone, 16 + size);
	struct dns_resolver res = dns_table_resolver(tab);
	static const char *const ips[] = { "192.0.2.1", "2001:db8::1" };
	for (int i = 0; i < 2; i++) {
		struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, ips[i], "u-s.er@example.com",
						  "helo.example.org", "mx.test", 0);
		ended = 0;
		unsigned before = dns_table_queries(tab);
		assert(spf_run(&res, e, done, NULL) == NULL);
		assert(ended == 1);
		enum spf_result r = spf_eval_result(e);
		assert(r >= SPF_NONE && r <= SPF_PERMERROR);
		assert(spf_eval_queries(e) <= SPF_QUERIES_MAX);
		assert(dns_table_queries(tab) - before == spf_eval_queries(e));
		if (spf_eval_explanation(e))
			assert(r == SPF_FAIL && strlen(spf_eval_explanation(e)) < SPF_EXPLANATION_MAX);
		spf_eval_free(&e);
	}
	dns_table_free(&tab);
	free(zone);
	return 0;
}
