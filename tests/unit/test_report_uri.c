/*
 * test_report_uri.c — the reporting URIs of DMARC and TLS-RPT records
 * (report_uri.h): mailto: addresses percent-decoded (RFC 6068 §2), their
 * hfields ignored, a decoded address that is not one mailbox refused
 * (CR, LF, NUL, a second address), DMARC's "!size" with its units (RFC
 * 7489 §6.3) and what is not one, https: left as written, other schemes
 * refused.
 */
#include <stdint.h>
#include <string.h>

#include "report/report_uri.h"
#include "unit.h"

static int parse(const char *s, int dmarc, struct report_uri *u)
{
	return report_uri_parse(str_c(s), dmarc, u);
}

static void test_mailto(void)
{
	struct report_uri u;

	CHECK_EQ_INT(parse("mailto:dmarc@example.com", 1, &u), 0);
	CHECK_EQ_INT(u.kind, REPORT_URI_MAILTO);
	CHECK_EQ_STR(u.addr, "dmarc@example.com");
	CHECK(u.max_size == 0);
	/* RFC 6068 §2: "+" and the like may be written %XX. */
	CHECK_EQ_INT(parse("mailto:dmarc%2Breports@example.com", 1, &u), 0);
	CHECK_EQ_STR(u.addr, "dmarc+reports@example.com");
	CHECK_EQ_INT(parse("MAILTO:a%2ca%21b%3F@Example.COM", 0, &u), -1); /* "," decoded: not atext */
	CHECK_EQ_INT(parse("MAILTO:a%21b%3F@Example.COM", 0, &u), 0);
	CHECK_EQ_STR(u.addr, "a!b?@example.com"); /* the domain lowercased, not the local part */
	CHECK_EQ_INT(parse("mailto:%22john%20doe%22@example.com", 1, &u), 0);
	CHECK_EQ_STR(u.addr, "\"john doe\"@example.com");
	/* hfields are ignored, the address kept; to= adds nobody. */
	CHECK_EQ_INT(parse("mailto:tls@example.com?subject=TLS%20report&to=other@example.net", 0, &u), 0);
	CHECK_EQ_STR(u.addr, "tls@example.com");
	CHECK_EQ_INT(parse(" mailto:r@example.com?subject=x!10m ", 1, &u), 0);
	CHECK_EQ_STR(u.addr, "r@example.com");
	CHECK(u.max_size == 10u << 20);

	/* Decoded, not a mailbox: refused. */
	const char *bad[] = {
		"mailto:a%0D%0ARCPT%20TO:%3Cx@evil.example%3E@example.com",
		"mailto:a%0a@example.com",
		"mailto:a%00b@example.com",
		"mailto:a@example.com%0D%0ABcc:x@evil.example",
		"mailto:a@x.example%2Cb@y.example", /* two addresses */
		"mailto:a%2@example.com",           /* malformed escapes */
		"mailto:a%zz@example.com",
		"mailto:a@example.com%",
		"mailto:",
		"mailto:?to=a@example.com",
		"mailto:noat",
		"mailto:a b@example.com",
		"mailto:a@",
		"ftp://example.com/x",
		"http://example.com/x",
		"example.com",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(parse(bad[i], 1, &u), -1);
		CHECK_EQ_INT(parse(bad[i], 0, &u), -1);
	}
	char big[400] = "mailto:";
	memset(big + 7, 'a', 330);
	strcpy(big + 337, "@example.com");
	CHECK_EQ_INT(parse(big, 0, &u), -1);
}

static void test_size(void)
{
	struct report_uri u;

	CHECK_EQ_INT(parse("mailto:r@example.com!100", 1, &u), 0);
	CHECK(u.max_size == 100);
	CHECK_EQ_INT(parse("mailto:r@example.com!1k", 1, &u), 0);
	CHECK(u.max_size == 1024);
	CHECK_EQ_INT(parse("mailto:r@example.com!50M", 1, &u), 0);
	CHECK(u.max_size == (uint64_t)50 << 20);
	CHECK_EQ_INT(parse("mailto:r@example.com!2g", 1, &u), 0);
	CHECK(u.max_size == (uint64_t)2 << 30);
	CHECK_EQ_INT(parse("mailto:r@example.com!3t", 1, &u), 0);
	CHECK(u.max_size == (uint64_t)3 << 40);
	/* Past 64 bits: no limit that matters, not a small wrapped one. */
	CHECK_EQ_INT(parse("mailto:r@example.com!99999999999999999999999t", 1, &u), 0);
	CHECK(u.max_size == UINT64_MAX);
	CHECK_EQ_INT(parse("mailto:r@example.com!16777216t", 1, &u), 0);
	CHECK(u.max_size == UINT64_MAX);
	/* Not the grammar's "!" 1*DIGIT [unit]. */
	CHECK_EQ_INT(parse("mailto:r@example.com!", 1, &u), -1);
	CHECK_EQ_INT(parse("mailto:r@example.com!k", 1, &u), -1);
	CHECK_EQ_INT(parse("mailto:r@example.com!10x", 1, &u), -1);
	CHECK_EQ_INT(parse("mailto:r@example.com!10mm", 1, &u), -1);
	CHECK_EQ_INT(parse("mailto:r@example.com!10!5", 1, &u), -1);
	/* TLS-RPT has no size: "!" is the address's own (atext). */
	CHECK_EQ_INT(parse("mailto:a!b@example.com", 0, &u), 0);
	CHECK_EQ_STR(u.addr, "a!b@example.com");
	CHECK(u.max_size == 0);
	/* https: as written. */
	CHECK_EQ_INT(parse("https://r.example/v1/tlsrpt", 0, &u), 0);
	CHECK_EQ_INT(u.kind, REPORT_URI_HTTPS);
}

int main(void)
{
	test_mailto();
	test_size();
	return unit_done("test_report_uri");
}
