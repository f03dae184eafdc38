/*
 * fuzz_dns_reply.c — the DNS reply parser (dns_msg.c) on any bytes. The
 * first byte picks the asked type, the rest is the reply to a query for
 * "example.org". Checks the answer's own invariants: bytes consumed never
 * past the input, records only of the asked type and inside the data
 * array, OK exactly when records came, A and AAAA of their fixed sizes,
 * text records NUL-ended; and that parsing is deterministic.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_msg.h"

static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT,
				  DNS_T_PTR, DNS_T_CNAME, DNS_T_TLSA, DNS_T_SRV };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_answer a, b;

	if (size < 1)
		return 0;
	uint16_t t = types[data[0] % (sizeof types / sizeof types[0])];
	int r = dns_msg_parse(data + 1, size - 1, "example.org", t, &a);
	assert(r <= (int)(size - 1));
	assert(a.qtype == t && a.nrr <= DNS_RR_MAX && a.datalen <= DNS_DATA_MAX);
	assert((a.status == DNS_ANS_OK) == (a.nrr > 0));
	if (r < 0)
		assert(a.status == DNS_ANS_TEMP);
	for (size_t i = 0; i < a.nrr; i++) {
		const struct dns_rr *rr = &a.rr[i];
		assert(rr->type == t);
		assert((size_t)rr->off + rr->len < a.datalen);
		assert(a.data[rr->off + rr->len] == 0);
		if (t == DNS_T_A)
			assert(rr->len == 4);
		if (t == DNS_T_AAAA)
			assert(rr->len == 16);
		/* A TXT record with a NUL inside reads as "" (dns_msg.h). */
		if (t == DNS_T_TXT && memchr(a.data + rr->off, 0, rr->len))
			assert(*dns_rr_text(&a, i) == '\0');
		else if (t != DNS_T_A && t != DNS_T_AAAA && t != DNS_T_TLSA)
			assert(strlen(dns_rr_text(&a, i)) == rr->len);
	}
	assert(strlen(a.cname) < sizeof a.cname);
	int r2 = dns_msg_parse(data + 1, size - 1, "EXAMPLE.org.", t, &b);
	static uint8_t pa[sizeof a], pb[sizeof b];
	assert(r2 == r && dns_answer_size(&a) == dns_answer_size(&b));
	dns_answer_pack(&a, pa);
	dns_answer_pack(&b, pb);
	assert(memcmp(pa, pb, dns_answer_size(&a)) == 0);
	/* What the cache stores reads back the same. */
	dns_answer_unpack(pa, &b);
	dns_answer_pack(&b, pb);
	assert(memcmp(pa, pb, dns_answer_size(&a)) == 0);
	return 0;
}
