/*
 * test_dns.c — the DNS reply parser (dns_msg.c), the shared cache
 * (dns_cache.c) and the table resolver (dns_table.c).
 *
 * Replies are built here record by record in wire form, so each case
 * says what a server sent: CNAME chains, compression pointers, negative
 * answers with and without an SOA, malformed and hostile replies. And
 * the address literals dns_route() answers without a resolver.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dns_cache.h"
#include "dns/dns_msg.h"
#include "dns/dns_table.h"
#include "unit.h"

struct wire {
	uint8_t b[65536];
	size_t n;
};

static void put8(struct wire *w, unsigned v)
{
	w->b[w->n++] = (uint8_t)v;
}

static void put16(struct wire *w, unsigned v)
{
	put8(w, v >> 8);
	put8(w, v & 0xff);
}

static void put32(struct wire *w, uint32_t v)
{
	put16(w, v >> 16);
	put16(w, v & 0xffff);
}

/* A name in labels ("" is the root). */
static void put_name(struct wire *w, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		put8(w, (unsigned)l);
		memcpy(w->b + w->n, name, l);
		w->n += l;
		name += l + (dot ? 1 : 0);
	}
	put8(w, 0);
}

static void header(struct wire *w, unsigned rcode, unsigned an, unsigned ns, const char *q, unsigned qtype)
{
	w->n = 0;
	put16(w, 0x1234);
	put8(w, 0x81);
	put8(w, 0x80 | rcode);
	put16(w, 1);
	put16(w, an);
	put16(w, ns);
	put16(w, 0);
	put_name(w, q);
	put16(w, qtype);
	put16(w, 1);
}

/* The head of a record; the caller appends rdlength and rdata. */
static void rr_head(struct wire *w, const char *owner, unsigned type, uint32_t ttl)
{
	put_name(w, owner);
	put16(w, type);
	put16(w, 1);
	put32(w, ttl);
}

static void rr_a(struct wire *w, const char *owner, uint32_t ttl, const char *ip)
{
	rr_head(w, owner, DNS_T_A, ttl);
	put16(w, 4);
	inet_pton(AF_INET, ip, w->b + w->n);
	w->n += 4;
}

static void rr_name(struct wire *w, const char *owner, unsigned type, uint32_t ttl, const char *target)
{
	rr_head(w, owner, type, ttl);
	size_t at = w->n;
	put16(w, 0);
	put_name(w, target);
	w->b[at] = (uint8_t)((w->n - at - 2) >> 8);
	w->b[at + 1] = (uint8_t)(w->n - at - 2);
}

static void rr_soa(struct wire *w, const char *owner, uint32_t ttl, uint32_t minimum)
{
	rr_head(w, owner, DNS_T_SOA, ttl);
	size_t at = w->n;
	put16(w, 0);
	put_name(w, "ns.example.org");
	put_name(w, "hostmaster.example.org");
	for (int i = 0; i < 4; i++)
		put32(w, 1000);
	put32(w, minimum);
	w->b[at] = (uint8_t)((w->n - at - 2) >> 8);
	w->b[at + 1] = (uint8_t)(w->n - at - 2);
}

static struct dns_answer ans;

/* Parses w into ans, and every prefix of w too (a datagram comes whole, so no byte-at-a-time replay). */
static int parse(struct wire *w, const char *q, unsigned type)
{
	int r = dns_msg_parse(w->b, w->n, q, (uint16_t)type, &ans);
	/* Every prefix of a reply is malformed or shorter: never a crash, never more records. */
	for (size_t cut = 0; cut < w->n; cut++) {
		struct dns_answer *tmp = malloc(sizeof *tmp);
		int rr = dns_msg_parse(w->b, cut, q, (uint16_t)type, tmp);
		CHECK(rr <= (int)cut);
		if (rr >= 0 && tmp->status == DNS_ANS_OK)
			CHECK(tmp->nrr <= ans.nrr);
		free(tmp);
	}
	return r;
}

static void test_a_and_cname(void)
{
	struct wire w;

	header(&w, 0, 2, 0, "WWW.Example.org", DNS_T_A);
	rr_a(&w, "www.example.org", 600, "192.0.2.1");
	rr_a(&w, "www.example.org", 120, "192.0.2.2");
	CHECK_EQ_INT(parse(&w, "www.example.org.", DNS_T_A), (int)w.n);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_INT(ans.nrr, 2);
	CHECK_EQ_INT(ans.ttl, 120);
	CHECK_EQ_INT(ans.rr[1].len, 4);
	CHECK(memcmp(ans.data + ans.rr[1].off, "\xc0\x00\x02\x02", 4) == 0);
	CHECK_EQ_STR(ans.cname, "");
	CHECK_EQ_INT(ans.ad, 0);
	/* The AD bit (DNSSEC validated, RFC 4035 §3.2.3) is carried in the answer, for DANE. */
	w.b[3] |= 0x20;
	CHECK_EQ_INT(parse(&w, "www.example.org.", DNS_T_A), (int)w.n);
	CHECK_EQ_INT(ans.ad, 1);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);

	/* A chain of two CNAMEs, out of order; the record of another name is ignored. */
	header(&w, 0, 4, 0, "a.example.org", DNS_T_A);
	rr_name(&w, "b.example.org", DNS_T_CNAME, 50, "c.example.net");
	rr_a(&w, "other.example.org", 10, "192.0.2.9");
	rr_name(&w, "a.example.org", DNS_T_CNAME, 3600, "B.example.org");
	rr_a(&w, "c.example.net", 900, "192.0.2.3");
	CHECK(parse(&w, "a.example.org", DNS_T_A) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_INT(ans.nrr, 1);
	CHECK_EQ_INT(ans.ttl, 50);
	CHECK_EQ_STR(ans.cname, "c.example.net");

	/* A chain that ends without records: NODATA, and where it ended. */
	header(&w, 0, 1, 0, "a.example.org", DNS_T_A);
	rr_name(&w, "a.example.org", DNS_T_CNAME, 60, "gone.example.net");
	CHECK(parse(&w, "a.example.org", DNS_T_A) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_NODATA);
	CHECK_EQ_STR(ans.cname, "gone.example.net");
	CHECK_EQ_INT(ans.ttl, 0); /* no SOA: not cached */

	/* A CNAME loop ends at the hop limit, not in a hang. */
	header(&w, 0, 2, 0, "x.example.org", DNS_T_A);
	rr_name(&w, "x.example.org", DNS_T_CNAME, 60, "y.example.org");
	rr_name(&w, "y.example.org", DNS_T_CNAME, 60, "x.example.org");
	CHECK(parse(&w, "x.example.org", DNS_T_A) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_NODATA);
}

static void test_types(void)
{
	struct wire w;

	header(&w, 0, 2, 0, "example.org", DNS_T_MX);
	rr_head(&w, "example.org", DNS_T_MX, 300);
	put16(&w, 2 + 3 + 2);
	put16(&w, 10);
	put8(&w, 2);
	memcpy(w.b + w.n, "mx", 2);
	w.n += 2;
	put16(&w, 0xc000 | 12); /* compression: "example.org" at the question */
	rr_head(&w, "example.org", DNS_T_MX, 300);
	put16(&w, 3);
	put16(&w, 0);
	put8(&w, 0); /* null MX "." */
	CHECK(parse(&w, "example.org", DNS_T_MX) > 0);
	CHECK_EQ_INT(ans.nrr, 2);
	CHECK_EQ_INT(ans.rr[0].pref, 10);
	CHECK_EQ_STR(dns_rr_text(&ans, 0), "mx.example.org");
	CHECK_EQ_STR(dns_rr_text(&ans, 1), "");
	/* "." beside a host is no null MX (RFC 7505 §3: it stands alone). */
	CHECK_EQ_INT(dns_answer_null_mx(&ans), 0);
	{
		struct dns_answer *nm = calloc(1, sizeof *nm);
		struct dns_rr mx = {.type = DNS_T_MX, .pref = 0};
		dns_answer_init(nm, DNS_T_MX, DNS_ANS_OK, 300);
		CHECK_EQ_INT(dns_answer_null_mx(nm), 0); /* no record at all */
		CHECK_EQ_INT(dns_answer_add(nm, &mx, "", 0), 0);
		CHECK_EQ_INT(dns_answer_null_mx(nm), 1);
		nm->status = DNS_ANS_NODATA;
		CHECK_EQ_INT(dns_answer_null_mx(nm), 0);
		nm->status = DNS_ANS_OK;
		mx.pref = 10;
		CHECK_EQ_INT(dns_answer_add(nm, &mx, "mx.example.org", 14), 0);
		CHECK_EQ_INT(dns_answer_null_mx(nm), 0);
		free(nm);
	}

	/* TXT: character-strings joined without separators (RFC 7208 §3.3). */
	header(&w, 0, 2, 0, "example.org", DNS_T_TXT);
	rr_head(&w, "example.org", DNS_T_TXT, 300);
	put16(&w, 1 + 9 + 1 + 5);
	put8(&w, 9);
	memcpy(w.b + w.n, "v=spf1 ip", 9);
	w.n += 9;
	put8(&w, 5);
	memcpy(w.b + w.n, "4:1.2", 5);
	w.n += 5;
	rr_head(&w, "example.org", DNS_T_TXT, 300);
	put16(&w, 4);
	put8(&w, 3);
	memcpy(w.b + w.n, "a\0b", 3); /* a NUL inside: kept, its text "" */
	w.n += 3;
	CHECK(parse(&w, "example.org", DNS_T_TXT) > 0);
	CHECK_EQ_INT(ans.nrr, 2);
	CHECK_EQ_STR(dns_rr_text(&ans, 0), "v=spf1 ip4:1.2");
	CHECK_EQ_STR(dns_rr_text(&ans, 1), "");
	CHECK_EQ_INT(ans.rr[1].len, 3);
	CHECK(memcmp(ans.data + ans.rr[1].off, "a\0b", 3) == 0);

	/* PTR; odd bytes in a label come back escaped. */
	header(&w, 0, 1, 0, "1.2.0.192.in-addr.arpa", DNS_T_PTR);
	rr_name(&w, "1.2.0.192.in-addr.arpa", DNS_T_PTR, 300, "Host.Example.org");
	CHECK(parse(&w, "1.2.0.192.in-addr.arpa", DNS_T_PTR) > 0);
	CHECK_EQ_STR(dns_rr_text(&ans, 0), "host.example.org");
	header(&w, 0, 1, 0, "x.example", DNS_T_PTR);
	rr_head(&w, "x.example", DNS_T_PTR, 300);
	put16(&w, 5);
	put8(&w, 3);
	memcpy(w.b + w.n, "a.\x01", 3);
	w.n += 3;
	put8(&w, 0);
	CHECK(parse(&w, "x.example", DNS_T_PTR) > 0);
	CHECK_EQ_STR(dns_rr_text(&ans, 0), "a\\046\\001");

	/* TLSA keeps its bytes. */
	header(&w, 0, 1, 0, "_25._tcp.mx.example.org", DNS_T_TLSA);
	rr_head(&w, "_25._tcp.mx.example.org", DNS_T_TLSA, 300);
	put16(&w, 5);
	put8(&w, 3);
	put8(&w, 1);
	put8(&w, 1);
	put16(&w, 0xabcd);
	CHECK(parse(&w, "_25._tcp.mx.example.org", DNS_T_TLSA) > 0);
	CHECK_EQ_INT(ans.rr[0].len, 5);
	CHECK(memcmp(ans.data + ans.rr[0].off, "\x03\x01\x01\xab\xcd", 5) == 0);
}

static void test_negative(void)
{
	struct wire w;

	/* NXDOMAIN with an SOA: min(SOA TTL, MINIMUM) (RFC 2308 §5). */
	header(&w, 3, 0, 1, "nope.example.org", DNS_T_TXT);
	rr_soa(&w, "example.org", 900, 300);
	CHECK_EQ_INT(parse(&w, "nope.example.org", DNS_T_TXT), (int)w.n);
	CHECK_EQ_INT(ans.status, DNS_ANS_NXDOMAIN);
	CHECK_EQ_INT(ans.ttl, 300);
	header(&w, 0, 0, 1, "example.org", DNS_T_AAAA);
	rr_soa(&w, "example.org", 60, 300);
	CHECK(parse(&w, "example.org", DNS_T_AAAA) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_NODATA);
	CHECK_EQ_INT(ans.ttl, 60);
	/* SERVFAIL and REFUSED: temporary. */
	header(&w, 2, 0, 0, "example.org", DNS_T_A);
	CHECK(parse(&w, "example.org", DNS_T_A) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_TEMP);
	header(&w, 5, 0, 0, "example.org", DNS_T_A);
	CHECK(parse(&w, "example.org", DNS_T_A) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_TEMP);
}

static void test_malformed(void)
{
	struct wire w;

	/* A pointer to itself, a forward pointer, a pointer past the end. */
	header(&w, 0, 1, 0, "example.org", DNS_T_A);
	size_t at = w.n;
	put16(&w, 0xc000 | (unsigned)at);
	CHECK_EQ_INT(parse(&w, "example.org", DNS_T_A), -1);
	CHECK_EQ_INT(ans.status, DNS_ANS_TEMP);
	header(&w, 0, 1, 0, "example.org", DNS_T_A);
	put16(&w, 0xc000 | 0x3fff);
	CHECK_EQ_INT(parse(&w, "example.org", DNS_T_A), -1);
	/* An A record of 5 bytes. */
	header(&w, 0, 1, 0, "example.org", DNS_T_A);
	rr_head(&w, "example.org", DNS_T_A, 60);
	put16(&w, 5);
	put32(&w, 0);
	put8(&w, 0);
	CHECK_EQ_INT(parse(&w, "example.org", DNS_T_A), -1);
	/* A query, not a response. */
	header(&w, 0, 0, 0, "example.org", DNS_T_A);
	w.b[2] = 0x01;
	CHECK_EQ_INT(parse(&w, "example.org", DNS_T_A), -1);
	/* More data than fit: names compression lets a reply repeat cheaply
	 * (4 octets of MX data become 60 of name) fill the answer; the rest
	 * is dropped, marked truncated. */
	header(&w, 0, 4000, 0, "example.org", DNS_T_MX);
	put16(&w, 0xc00c);
	put16(&w, DNS_T_MX);
	put16(&w, 1);
	put32(&w, 60);
	put16(&w, 58);
	put16(&w, 10);
	size_t target = w.n;
	put_name(&w, "mx-with-a-rather-long-name-to-make-room-go.example.org");
	for (int i = 1; i < 4000; i++) {
		put16(&w, 0xc00c);
		put16(&w, DNS_T_MX);
		put16(&w, 1);
		put32(&w, 60);
		put16(&w, 4);
		put16(&w, (unsigned)i);
		put16(&w, 0xc000 | (unsigned)target);
	}
	CHECK(w.n < sizeof w.b);
	CHECK(dns_msg_parse(w.b, w.n, "example.org", DNS_T_MX, &ans) > 0);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK(ans.nrr > 1000 && ans.nrr < 4000);
	CHECK(ans.truncated);
	CHECK_EQ_STR(dns_rr_text(&ans, ans.nrr - 1), "mx-with-a-rather-long-name-to-make-room-go.example.org");
}

/* A 64 KiB answer over TCP (RFC 1035 §4.2.2) is kept whole: TXT sets of
 * SPF among verification tokens, and as many A records as fit. */
static void test_big_answers(void)
{
	static struct wire w;
	char txt[251];

	header(&w, 0, 240, 0, "example.org", DNS_T_TXT);
	for (int i = 0; i < 240; i++) {
		int k = snprintf(txt, sizeof txt, "site-verification-%03d-", i);
		memset(txt + k, 'a' + i % 26, 250 - (size_t)k);
		if (i == 239)
			snprintf(txt, sizeof txt, "v=spf1 ip4:192.0.2.0/24 -all");
		put16(&w, 0xc00c);
		put16(&w, DNS_T_TXT);
		put16(&w, 1);
		put32(&w, 300);
		size_t l = i == 239 ? strlen(txt) : 250;
		put16(&w, (unsigned)l + 1);
		put8(&w, (unsigned)l);
		memcpy(w.b + w.n, txt, l);
		w.n += l;
	}
	CHECK(w.n > 60000 && w.n <= DNS_MSG_MAX);
	CHECK_EQ_INT(dns_msg_parse(w.b, w.n, "example.org", DNS_T_TXT, &ans), (int)w.n);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_INT(ans.nrr, 240);
	CHECK(!ans.truncated);
	CHECK_EQ_INT(ans.rr[100].len, 250);
	CHECK_EQ_STR(dns_rr_text(&ans, 239), "v=spf1 ip4:192.0.2.0/24 -all");

	/* The smallest records a reply can hold: A with a compressed owner. */
	unsigned n = (DNS_MSG_MAX - 12 - 17) / 16;
	header(&w, 0, n, 0, "example.org", DNS_T_A);
	for (unsigned i = 0; i < n; i++) {
		put16(&w, 0xc00c);
		put16(&w, DNS_T_A);
		put16(&w, 1);
		put32(&w, 60);
		put16(&w, 4);
		put32(&w, 0xc0000200u + i);
	}
	CHECK(w.n <= DNS_MSG_MAX);
	CHECK_EQ_INT(dns_msg_parse(w.b, w.n, "example.org", DNS_T_A, &ans), (int)w.n);
	CHECK_EQ_INT(ans.nrr, n);
	CHECK(!ans.truncated);
	CHECK_EQ_INT(ans.data[ans.rr[n - 1].off + 3], (n - 1) & 0xff);

	/* The cache keeps it whole, in the room it takes. */
	struct dns_cache *c = dns_cache_new(1u << 20);
	struct dns_answer *b = malloc(sizeof *b);
	size_t entries, bytes;
	dns_cache_put(c, "example.org", DNS_T_A, &ans, 0);
	dns_cache_stats(c, &entries, &bytes);
	CHECK_EQ_INT(entries, 1);
	CHECK(bytes < (size_t)n * (sizeof ans.rr[0] + 5) + 1024);
	CHECK_EQ_INT(dns_cache_get(c, "example.org", DNS_T_A, 0, b), 1);
	CHECK_EQ_INT(b->nrr, n);
	CHECK_EQ_INT(b->datalen, ans.datalen);
	CHECK(memcmp(b->rr, ans.rr, n * sizeof ans.rr[0]) == 0);
	CHECK(memcmp(b->data, ans.data, ans.datalen) == 0);
	dns_cache_free(&c);
	free(b);
}

static void test_cache(void)
{
	struct dns_cache *c = dns_cache_new(64 * 1024);
	struct dns_answer *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	struct dns_rr rr = { .type = DNS_T_TXT, .ttl = 10 };
	size_t n, bytes;

	dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 10);
	dns_answer_add(a, &rr, "v=spf1 -all", 11);
	dns_cache_put(c, "Example.ORG.", DNS_T_TXT, a, 1000);
	CHECK_EQ_INT(dns_cache_get(c, "example.org", DNS_T_TXT, 1000, b), 1);
	CHECK_EQ_STR(dns_rr_text(b, 0), "v=spf1 -all");
	CHECK_EQ_INT(b->ttl, 10);
	CHECK_EQ_INT(dns_cache_get(c, "example.org", DNS_T_TXT, 5500, b), 1);
	CHECK_EQ_INT(b->ttl, 6); /* what is left, rounded up */
	CHECK_EQ_INT(dns_cache_get(c, "example.org", DNS_T_A, 1000, b), 0);
	CHECK_EQ_INT(dns_cache_get(c, "example.org", DNS_T_TXT, 11000, b), 0); /* expired */
	dns_cache_stats(c, &n, &bytes);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(bytes, 0);

	/* Negative answers are cached; TTL 0 and temporary failures are not. */
	dns_answer_init(a, DNS_T_A, DNS_ANS_NXDOMAIN, 30);
	dns_cache_put(c, "gone.example", DNS_T_A, a, 0);
	CHECK_EQ_INT(dns_cache_get(c, "gone.example", DNS_T_A, 29000, b), 1);
	CHECK_EQ_INT(b->status, DNS_ANS_NXDOMAIN);
	dns_answer_init(a, DNS_T_A, DNS_ANS_TEMP, 30);
	dns_cache_put(c, "temp.example", DNS_T_A, a, 0);
	CHECK_EQ_INT(dns_cache_get(c, "temp.example", DNS_T_A, 0, b), 0);
	dns_answer_init(a, DNS_T_A, DNS_ANS_NODATA, 0);
	dns_cache_put(c, "zero.example", DNS_T_A, a, 0);
	CHECK_EQ_INT(dns_cache_get(c, "zero.example", DNS_T_A, 0, b), 0);

	/* A failure remembered apart: only dns_cache_failed() sees it, for
	 * its own name and type, until it expires; an answer stored for the
	 * name neither hides it nor is hidden by it. */
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_MX, 0), 0);
	dns_cache_put_failure(c, "Temp.Example.", DNS_T_MX, 60, 1000);
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_MX, 1000), 1);
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_MX, 60999), 1);
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_A, 1000), 0);
	CHECK_EQ_INT(dns_cache_failed(c, "other.example", DNS_T_MX, 1000), 0);
	CHECK_EQ_INT(dns_cache_get(c, "temp.example", DNS_T_MX, 1000, b), 0);
	dns_answer_init(a, DNS_T_MX, DNS_ANS_NODATA, 30);
	dns_cache_put(c, "temp.example", DNS_T_MX, a, 2000);
	CHECK_EQ_INT(dns_cache_get(c, "temp.example", DNS_T_MX, 2000, b), 1);
	CHECK_EQ_INT(b->status, DNS_ANS_NODATA);
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_MX, 2000), 1);
	CHECK_EQ_INT(dns_cache_failed(c, "temp.example", DNS_T_MX, 61000), 0); /* expired */
	dns_cache_stats(c, &n, &bytes);
	CHECK_EQ_INT(n, 2); /* gone.example's and temp.example's answers */

	/* The byte bound: many entries evict the least recently used. */
	char name[64];
	dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 1000);
	dns_answer_add(a, &rr, "x", 1);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof name, "n%d.example", i);
		dns_cache_put(c, name, DNS_T_TXT, a, 0);
		CHECK_EQ_INT(dns_cache_get(c, "n0.example", DNS_T_TXT, 0, b), 1); /* kept hot */
	}
	dns_cache_stats(c, &n, &bytes);
	CHECK(bytes <= 64 * 1024);
	CHECK(n > 10 && n < 2000);
	CHECK_EQ_INT(dns_cache_get(c, "n1.example", DNS_T_TXT, 0, b), 0);
	CHECK_EQ_INT(dns_cache_get(c, "n1999.example", DNS_T_TXT, 0, b), 1);
	/* Replacing an entry keeps one. */
	dns_cache_put(c, "n1999.example", DNS_T_TXT, a, 0);
	size_t n2;
	dns_cache_stats(c, &n2, &bytes);
	CHECK_EQ_INT(n2, n);
	dns_cache_free(&c);
	CHECK(c == NULL);
	free(a);
	free(b);
}

/*
 * Names a stranger chooses (an SPF record's include: and exists: targets,
 * its MX hosts) go into the cache: with a hash anyone can compute, 200
 * of them made for one of the 4,096 buckets made every lookup under the
 * cache's lock walk them all. These collide under the unkeyed FNV-1a the
 * cache used.
 */
static void test_cache_chosen_collisions(void)
{
	struct dns_cache *c = dns_cache_new(1u << 20);
	struct dns_answer *a = malloc(sizeof *a);
	struct dns_rr rr = { .type = DNS_T_TXT, .ttl = 600 };
	char name[64];
	int found = 0;

	dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 600);
	dns_answer_add(a, &rr, "v=spf1 -all", 11);
	for (unsigned i = 0; found < 200; i++) {
		snprintf(name, sizeof name, "x%u.attacker.example", i);
		uint64_t h = 1469598103934665603ull ^ DNS_T_TXT;
		for (const unsigned char *p = (const unsigned char *)name; *p; p++)
			h = (h ^ *p) * 1099511628211ull;
		if ((h & 4095) != 0)
			continue;
		dns_cache_put(c, name, DNS_T_TXT, a, 0);
		found++;
	}
	size_t n, bytes;
	dns_cache_stats(c, &n, &bytes);
	CHECK_EQ_INT(n, 200);
	CHECK(dns_cache_longest_chain(c) < 10);
	dns_cache_free(&c);
	free(a);
}

/* Several loops share the cache: threads putting and getting the same keys, under ASan. */
static void *hammer(void *arg)
{
	struct dns_cache *c = arg;
	struct dns_answer *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	struct dns_rr rr = { .type = DNS_T_TXT, .ttl = 60 };
	char name[32];
	long bad = 0;

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "k%d.example", i % 300);
		dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 60);
		dns_answer_add(a, &rr, name, strlen(name));
		dns_cache_put(c, name, DNS_T_TXT, a, (uint64_t)i);
		if (dns_cache_get(c, name, DNS_T_TXT, (uint64_t)i, b) &&
		    (b->nrr != 1 || strcmp(dns_rr_text(b, 0), name) != 0))
			bad++;
	}
	free(a);
	free(b);
	return (void *)bad;
}

static void test_cache_threads(void)
{
	struct dns_cache *c = dns_cache_new(32 * 1024); /* small: evictions race with gets */
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, c);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		CHECK(bad == NULL); /* every hit is the answer stored under its key */
	}
	size_t n, bytes;
	dns_cache_stats(c, &n, &bytes);
	CHECK(bytes <= 32 * 1024 && n > 0);
	dns_cache_free(&c);
}

static void test_table(void)
{
	const char *zone = "example.org TXT v=spf1 mx -all\n"
			   "example.org MX 10 mx.example.org\n"
			   "mx.example.org A 192.0.2.1\n"
			   "alias.example.org CNAME mx.example.org\n"
			   "broken.example.org A SERVFAIL\n";
	struct dns_table *t = dns_table_new(zone, strlen(zone));
	dns_table_lookup(t, "example.org", DNS_T_MX, &ans);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_STR(dns_rr_text(&ans, 0), "mx.example.org");
	dns_table_lookup(t, "alias.example.org", DNS_T_A, &ans);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_STR(ans.cname, "mx.example.org");
	dns_table_lookup(t, "example.org", DNS_T_A, &ans);
	CHECK_EQ_INT(ans.status, DNS_ANS_NODATA);
	dns_table_lookup(t, "nothere.example.org", DNS_T_A, &ans);
	CHECK_EQ_INT(ans.status, DNS_ANS_NXDOMAIN);
	dns_table_lookup(t, "broken.example.org", DNS_T_A, &ans);
	CHECK_EQ_INT(ans.status, DNS_ANS_TEMP);
	CHECK_EQ_INT(dns_table_queries(t), 5);
	dns_table_free(&t);
}

/* What dns_route_literal() makes of name: 1, 0 or -1, the address in a. */
static int lit(const char *name, int mx, struct dns_addr *a)
{
	memset(a, 0, sizeof *a);
	return dns_route_literal(name, mx, 2525, a);
}

/* A mail domain that is an address literal is the host to connect to,
 * without an MX lookup (RFC 5321 §4.1.3, §5.1). */
static void test_route_literals(void)
{
	struct dns_addr a;
	char text[64];

	CHECK_EQ_INT(lit("[192.0.2.1]", 1, &a), 1);
	CHECK_EQ_INT(a.sa.ss_family, AF_INET);
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a.sa;
	CHECK_EQ_INT(ntohs(v4->sin_port), 2525);
	CHECK_EQ_STR(inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text), "192.0.2.1");
	CHECK_EQ_INT(lit("[IPv6:2001:db8::1]", 1, &a), 1);
	CHECK_EQ_INT(a.sa.ss_family, AF_INET6);
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.sa;
	CHECK_EQ_INT(ntohs(v6->sin6_port), 2525);
	CHECK_EQ_STR(inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text), "2001:db8::1");
	CHECK_EQ_INT(lit("[ipv6:::1]", 1, &a), 1); /* the tag in any case */
	/* In brackets but no address: refused for good, never looked up. */
	CHECK_EQ_INT(lit("[IPv6:192.0.2.1]", 1, &a), -1);
	CHECK_EQ_INT(lit("[192.0.2]", 1, &a), -1);
	CHECK_EQ_INT(lit("[::1]", 1, &a), -1); /* a mail domain's IPv6 without its tag */
	CHECK_EQ_INT(lit("[x:y]", 1, &a), -1);
	CHECK_EQ_INT(lit("[]", 1, &a), -1);
	CHECK_EQ_INT(lit("[IPv6:]", 1, &a), -1);
	/* A host: "[::1]" (a relay setting) and bare addresses. */
	CHECK_EQ_INT(lit("[::1]", 0, &a), 1);
	CHECK_EQ_INT(lit("127.0.0.1", 0, &a), 1);
	CHECK_EQ_INT(lit("::1", 0, &a), 1);
	CHECK_EQ_INT(lit("mx.example.test", 0, &a), 0);
	/* A bare address as a mail domain is a name to look up. */
	CHECK_EQ_INT(lit("127.0.0.1", 1, &a), 0);
	CHECK_EQ_INT(lit("example.test", 1, &a), 0);
}

/*
 * A name whose labels hold a space, a backslash and a non-ASCII octet (an
 * SPF macro can expand to any of them)
 * goes into the text form read_name() gives the owner of the answer, so
 * the answer is found: before dns_name_text() the raw name, asked as is,
 * never equalled the owner "a\\032b..." and every such A answer was
 * empty (the RFC 7208 suite's macro-mania-in-domain).
 */
static void test_octet_names(void)
{
	static const char raw[] = "Macro%percent  space%20url-space.a\\b\xe9.example.com";
	char text[DNS_NAME_MAX];
	struct wire w;

	CHECK_EQ_INT(dns_name_text(raw, text, sizeof text), 0);
	CHECK_EQ_STR(text, "macro%percent\\032\\032space%20url-space.a\\092b\\233.example.com");
	header(&w, 0, 1, 0, raw, DNS_T_A);
	rr_a(&w, raw, 60, "1.2.3.4");
	CHECK_EQ_INT(parse(&w, text, DNS_T_A), (int)w.n);
	CHECK_EQ_INT(ans.status, DNS_ANS_OK);
	CHECK_EQ_INT(ans.nrr, 1);
	/* Too small for one \\DDD, or for the NUL: -1, never past outsz. */
	char small[4];
	CHECK_EQ_INT(dns_name_text(" ", small, sizeof small), -1);
	CHECK_EQ_INT(dns_name_text("abcd", small, sizeof small), -1);
	CHECK_EQ_INT(dns_name_text("a.b", small, sizeof small), 0);
	CHECK_EQ_STR(small, "a.b");
}

int main(void)
{
	test_octet_names();
	test_route_literals();
	test_a_and_cname();
	test_types();
	test_negative();
	test_malformed();
	test_big_answers();
	test_cache();
	test_cache_threads();
	test_cache_chosen_collisions();
	test_table();
	return unit_done("test_dns");
}
