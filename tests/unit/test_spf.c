/*
 * test_spf.c — the SPF evaluator (spf.c, spf_record.c, spf_macro.c,
 * spf_run.c) against a table of records: RFC 7208's Appendix A examples
 * (the DNS setup of its Appendix A, the simple, multiple-domain,
 * DNSBL-style and multiple-requirement examples), the macro expansions of
 * §7.4, and every failure branch (each limit, each error result).
 */
#include <stdlib.h>
#include <string.h>

#include "auth/spf.h"
#include "auth/spf_record.h"
#include "dns/dns_table.h"
#include "unit.h"

/* RFC 7208 Appendix A's DNS setup, in the table resolver's form. */
static const char *const rfc_zone =
	"example.com MX 10 mail-a.example.com\n"
	"example.com MX 20 mail-b.example.com\n"
	"example.com A 192.0.2.10\n"
	"example.com A 192.0.2.11\n"
	"amy.example.com A 192.0.2.65\n"
	"bob.example.com A 192.0.2.66\n"
	"mail-a.example.com A 192.0.2.129\n"
	"mail-b.example.com A 192.0.2.130\n"
	"www.example.com CNAME example.com\n"
	"example.org MX 10 mail-c.example.org\n"
	"mail-c.example.org A 192.0.2.140\n"
	"10.2.0.192.in-addr.arpa PTR example.com\n"
	"11.2.0.192.in-addr.arpa PTR example.com\n"
	"65.2.0.192.in-addr.arpa PTR amy.example.com\n"
	"66.2.0.192.in-addr.arpa PTR bob.example.com\n"
	"129.2.0.192.in-addr.arpa PTR mail-a.example.com\n"
	"130.2.0.192.in-addr.arpa PTR mail-b.example.com\n"
	"140.2.0.192.in-addr.arpa PTR mail-c.example.org\n"
	"4.0.0.10.in-addr.arpa PTR bob.example.com\n";

struct outcome {
	enum spf_result r;
	char expl[SPF_EXPLANATION_MAX];
	int has_expl;
	unsigned queries;
	int calls;
};

static void done(void *arg, struct spf_eval *e)
{
	struct outcome *o = arg;
	o->calls++;
	o->r = spf_eval_result(e);
	o->has_expl = spf_eval_explanation(e) != NULL;
	snprintf(o->expl, sizeof o->expl, "%s", o->has_expl ? spf_eval_explanation(e) : "");
	o->queries = spf_eval_queries(e);
}

/* check_host over extra records added to the RFC's zone. */
static struct outcome check_id(enum spf_identity id, const char *extra, const char *ip,
			       const char *sender, const char *helo)
{
	struct outcome o = { 0 };
	size_t n = strlen(rfc_zone) + strlen(extra) + 1;
	char *zone = malloc(n);
	snprintf(zone, n, "%s%s", rfc_zone, extra);
	struct dns_table *t = dns_table_new(zone, strlen(zone));
	struct dns_resolver r = dns_table_resolver(t);
	struct spf_eval *e = spf_eval_new(id, ip, sender, helo, "mx.tern.test", 1700000000);
	CHECK(e != NULL);
	CHECK(spf_run(&r, e, done, &o) == NULL); /* the table answers at once */
	CHECK_EQ_INT(o.calls, 1);
	CHECK(o.queries == dns_table_queries(t));
	spf_eval_free(&e);
	dns_table_free(&t);
	free(zone);
	return o;
}

static enum spf_result check(const char *extra, const char *ip, const char *sender)
{
	return check_id(SPF_ID_MAILFROM, extra, ip, sender, "helo.example.net").r;
}

/* A record for example.com, checked from ip. */
static enum spf_result rec(const char *record, const char *ip)
{
	char extra[1024];
	snprintf(extra, sizeof extra, "example.com TXT %s\n", record);
	return check(extra, ip, "user@example.com");
}

static void test_rfc_simple(void)
{
	/* A.1 Simple Examples. */
	CHECK_EQ_INT(rec("v=spf1 +all", "198.51.100.7"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 a -all", "192.0.2.10"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 a -all", "192.0.2.11"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 a -all", "192.0.2.12"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 a:example.org -all", "192.0.2.140"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 mx -all", "192.0.2.129"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx -all", "192.0.2.130"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx -all", "192.0.2.140"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 mx:example.org -all", "192.0.2.140"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx mx:example.org -all", "192.0.2.129"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx mx:example.org -all", "192.0.2.140"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.131"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.143"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.132"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 ptr -all", "192.0.2.65"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 ptr -all", "192.0.2.140"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 ptr -all", "10.0.0.4"), SPF_FAIL); /* the rogue PTR does not validate */
	CHECK_EQ_INT(rec("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.129"), SPF_PASS);
	/* "a" follows www's CNAME to example.com's addresses. */
	CHECK_EQ_INT(rec("v=spf1 a:www.example.com -all", "192.0.2.11"), SPF_PASS);
}

static void test_rfc_multiple_domains(void)
{
	/* A.2: example.org's servers are the union of example.com's and example.net's; la/ny redirect to it. */
	const char *z = "example.org TXT v=spf1 include:example.com include:example.net -all\n"
			"example.com TXT v=spf1 mx -all\n"
			"example.net TXT v=spf1 ip4:198.51.100.0/24 -all\n"
			"la.example.org TXT v=spf1 redirect=example.org\n"
			"ny.example.org TXT v=spf1 redirect=example.org\n";
	CHECK_EQ_INT(check(z, "192.0.2.129", "a@example.org"), SPF_PASS);
	CHECK_EQ_INT(check(z, "198.51.100.9", "a@example.org"), SPF_PASS);
	CHECK_EQ_INT(check(z, "192.0.2.65", "a@example.org"), SPF_FAIL);
	CHECK_EQ_INT(check(z, "198.51.100.9", "a@la.example.org"), SPF_PASS);
	CHECK_EQ_INT(check(z, "203.0.113.1", "a@ny.example.org"), SPF_FAIL);
}

static void test_rfc_dnsbl_style(void)
{
	/* A.3: per-user lists published as A records, reached through macros. */
	const char *z = "example.com TXT v=spf1 mx exists:%{l1r+}.%{d}.mobile-users._spf.%{d} "
			"exists:%{i}.%{l1r+}.%{d}.remote-users._spf.%{d} -all\n"
			"mary.example.com.mobile-users._spf.example.com A 127.0.0.2\n"
			"fred.example.com.mobile-users._spf.example.com A 127.0.0.2\n"
			"192.168.15.15.joel.example.com.remote-users._spf.example.com A 127.0.0.2\n";
	CHECK_EQ_INT(check(z, "203.0.113.5", "mary@example.com"), SPF_PASS);
	CHECK_EQ_INT(check(z, "203.0.113.5", "fred+news@example.com"), SPF_PASS); /* l1r+: "fred" */
	CHECK_EQ_INT(check(z, "192.168.15.15", "joel@example.com"), SPF_PASS);
	CHECK_EQ_INT(check(z, "192.168.15.16", "joel@example.com"), SPF_FAIL);
	CHECK_EQ_INT(check(z, "192.0.2.129", "anyone@example.com"), SPF_PASS);
}

static void test_rfc_multiple_requirements(void)
{
	/*
	 * A.4: both in 192.0.2.0/24 and with a valid PTR in the domain, by De
	 * Morgan. The ptr term names example.com: inside the include, a bare
	 * "ptr" would compare with ptr._spf.example.com, the domain evaluated there.
	 */
	const char *z = "example.com TXT v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all\n"
			"ip4._spf.example.com TXT v=spf1 -ip4:192.0.2.0/24 +all\n"
			"ptr._spf.example.com TXT v=spf1 -ptr:example.com +all\n";
	CHECK_EQ_INT(check(z, "192.0.2.65", "a@example.com"), SPF_PASS);
	CHECK_EQ_INT(check(z, "192.0.2.140", "a@example.com"), SPF_FAIL); /* PTR not in example.com */
	CHECK_EQ_INT(check(z, "10.0.0.4", "a@example.com"), SPF_FAIL);    /* outside the range */
}

static void expect_macro(const char *in, const char *ip, const char *want)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01 };
	struct spf_macro_ctx c = {
		.sender = "strong-bad@email.example.com",
		.domain = "email.example.com",
		.ip = ip,
		.ip6 = strchr(ip, ':') != NULL,
		.ip16 = v6,
		.helo = "mx.example.org",
		.ptr = "mx.example.org",
		.host = "mx.tern.test",
		.now = 1700000000,
	};
	char out[512];
	int n = spf_macro_expand(str_c(in), 1, &c, out, sizeof out);
	CHECK(n >= 0);
	CHECK_EQ_STR(out, want);
	CHECK_EQ_INT(spf_macro_check(str_c(in), 1), 0);
}

static void test_macros(void)
{
	/* §7.4's examples. */
	expect_macro("%{s}", "192.0.2.3", "strong-bad@email.example.com");
	expect_macro("%{o}", "192.0.2.3", "email.example.com");
	expect_macro("%{d}", "192.0.2.3", "email.example.com");
	expect_macro("%{d4}", "192.0.2.3", "email.example.com");
	expect_macro("%{d3}", "192.0.2.3", "email.example.com");
	expect_macro("%{d2}", "192.0.2.3", "example.com");
	expect_macro("%{d1}", "192.0.2.3", "com");
	expect_macro("%{dr}", "192.0.2.3", "com.example.email");
	expect_macro("%{d2r}", "192.0.2.3", "example.email");
	expect_macro("%{l}", "192.0.2.3", "strong-bad");
	expect_macro("%{l-}", "192.0.2.3", "strong.bad");
	expect_macro("%{lr}", "192.0.2.3", "strong-bad");
	expect_macro("%{lr-}", "192.0.2.3", "bad.strong");
	expect_macro("%{l1r-}", "192.0.2.3", "strong");
	expect_macro("%{ir}.%{v}._spf.%{d2}", "192.0.2.3", "3.2.0.192.in-addr._spf.example.com");
	expect_macro("%{lr-}.lp._spf.%{d2}", "192.0.2.3", "bad.strong.lp._spf.example.com");
	expect_macro("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
		     "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expect_macro("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "192.0.2.3",
		     "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expect_macro("%{d2}.trusted-domains.example.net", "192.0.2.3",
		     "example.com.trusted-domains.example.net");
	expect_macro("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01",
		     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	/* The escapes, URL escaping by an uppercase letter, the exp-only letters. */
	expect_macro("%%%_%-", "192.0.2.3", "% %20");
	expect_macro("%{S}", "192.0.2.3", "strong-bad%40email.example.com");
	expect_macro("%{c} %{r} %{t} %{h} %{p}", "2001:db8::cb01",
		     "2001:db8::cb01 mx.tern.test 1700000000 mx.example.org mx.example.org");

	/* Syntax: what a domain-spec may not hold. */
	CHECK_EQ_INT(spf_macro_check(str_c("%{c}.example.com"), 0), SPF_MACRO_BAD); /* c: exp only */
	CHECK_EQ_INT(spf_macro_check(str_c("%{d0}.example.com"), 0), SPF_MACRO_BAD); /* zero parts */
	CHECK_EQ_INT(spf_macro_check(str_c("%{x}.example.com"), 0), SPF_MACRO_BAD);
	CHECK_EQ_INT(spf_macro_check(str_c("%{d"), 0), SPF_MACRO_BAD);
	CHECK_EQ_INT(spf_macro_check(str_c("50%.example.com"), 0), SPF_MACRO_BAD);
	CHECK_EQ_INT(spf_macro_check(str_c("example"), 0), SPF_MACRO_BAD);      /* no "." toplabel */
	CHECK_EQ_INT(spf_macro_check(str_c("1.2.3.4"), 0), SPF_MACRO_BAD);      /* numeric toplabel */
	CHECK_EQ_INT(spf_macro_check(str_c("example.-com"), 0), SPF_MACRO_BAD);
	CHECK_EQ_INT(spf_macro_check(str_c("example.com."), 0), 0);
	CHECK_EQ_INT(spf_macro_check(str_c("example.c-1"), 0), 0);
	CHECK_EQ_INT(spf_macro_check(str_c("foo.%{d}"), 0), 0);
	CHECK_EQ_INT(spf_macro_check(str_c("%{d}.%{d}.x1"), 0), 0);

	/* A domain longer than 253 octets loses labels on the left. */
	char longd[400], out[512];
	memset(longd, 'a', sizeof longd);
	for (int i = 63; i < 390; i += 64)
		longd[i] = '.';
	snprintf(longd + 390, 10, ".com");
	struct spf_macro_ctx c = { .sender = "x@y", .domain = longd, .ip = "192.0.2.1", .helo = "h" };
	int n = spf_macro_expand(str_c("%{d}"), 0, &c, out, sizeof out);
	CHECK(n > 0 && n <= 253);
	CHECK(out[0] != '.' && strcmp(out + n - 4, ".com") == 0);
	/* %{p} before the name is known. */
	CHECK_EQ_INT(spf_macro_expand(str_c("%{p}.x.com"), 0, &c, out, sizeof out), SPF_MACRO_NEED_PTR);
}

static void test_terms(void)
{
	const char *why;
	static const char *const good[] = {
		"v=spf1",
		"V=SPF1 A MX -ALL",
		"v=spf1 a/24 mx//64 a:x.example.com/24//64 ip6:2001:db8::/32 ip4:10.0.0.0/8 ~all",
		"v=spf1 ptr ptr:example.com exists:%{i}.bl.example.com ?all",
		"v=spf1 redirect=_spf.example.com exp=explain._spf.%{d} x-unknown=anything",
		"v=spf1   a    -all  ",
	};
	static const char *const bad[] = {
		"v=spf1 foo",              /* unknown mechanism */
		"v=spf1 all:x.com",        /* all takes nothing */
		"v=spf1 include",          /* include needs a domain */
		"v=spf1 a/33",             /* ip4 CIDR over 32 */
		"v=spf1 a//129",           /* ip6 CIDR over 128 */
		"v=spf1 a/024",            /* leading zero */
		"v=spf1 ip4:192.0.2",      /* not a dotted quad */
		"v=spf1 ip4:192.0.2.1/33",
		"v=spf1 ip6:192.0.2.1",
		"v=spf1 ip6:::1/129",
		"v=spf1 mx:example",       /* no top label */
		"v=spf1 a:1.2.3.4",        /* numeric top label */
		"v=spf1 redirect=a.com redirect=b.com",
		"v=spf1 exp=a.com exp=b.com",
		"v=spf1 redirect=",
		"v=spf1 exists:%{c}.example.com",
		"v=spf1 -",
		"v=spf1 =a.com",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int ok = spf_record_check(good[i], strlen(good[i]), &why) == 0;
		CHECK(ok);
		if (!ok)
			fprintf(stderr, "  refused: %s (%s)\n", good[i], why);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int refused = spf_record_check(bad[i], strlen(bad[i]), &why) < 0;
		CHECK(refused);
		if (!refused)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
	CHECK(!spf_record_is_spf("v=spf10", 7));
	CHECK(!spf_record_is_spf("v=spf", 5));

	/* The term fields, and the record read one term at a time. */
	const char *r = "v=spf1 ~a:x.example.com/24//64 ip6:2001:db8::/32";
	struct spf_term t;
	size_t pos = 6;
	CHECK_EQ_INT(spf_term_next(r, strlen(r), &pos, &t), 1);
	CHECK_EQ_INT(t.kind, SPF_T_A);
	CHECK_EQ_INT(t.qual, '~');
	CHECK_EQ_SLICE(t.spec, "x.example.com");
	CHECK_EQ_INT(t.cidr4, 24);
	CHECK_EQ_INT(t.cidr6, 64);
	CHECK_EQ_INT(spf_term_next(r, strlen(r), &pos, &t), 1);
	CHECK_EQ_INT(t.kind, SPF_T_IP6);
	CHECK_EQ_INT(t.cidr6, 32);
	CHECK_EQ_INT(t.net[0], 0x20);
	CHECK_EQ_INT(spf_term_next(r, strlen(r), &pos, &t), 0);
}

static void test_results_and_errors(void)
{
	/* none: no record, no domain, a malformed domain, not an SPF record. */
	CHECK_EQ_INT(check("", "192.0.2.1", "a@nowhere.example"), SPF_NONE);
	CHECK_EQ_INT(check("example.net TXT v=spf10 -all\n", "192.0.2.1", "a@example.net"), SPF_NONE);
	CHECK_EQ_INT(check("", "192.0.2.1", "a@localhost"), SPF_NONE);
	CHECK_EQ_INT(check("", "192.0.2.1", "a@bad..example.com"), SPF_NONE);
	/* Qualifiers and the default. */
	CHECK_EQ_INT(rec("v=spf1 ~all", "192.0.2.1"), SPF_SOFTFAIL);
	CHECK_EQ_INT(rec("v=spf1 ?all", "192.0.2.1"), SPF_NEUTRAL);
	CHECK_EQ_INT(rec("v=spf1 ip4:10.0.0.0/8", "192.0.2.1"), SPF_NEUTRAL);
	CHECK_EQ_INT(rec("v=spf1 -ip4:192.0.2.0/24 +all", "192.0.2.1"), SPF_FAIL);
	/* permerror: two records, a syntax error anywhere (even after a match). */
	CHECK_EQ_INT(check("example.net TXT v=spf1 +all\nexample.net TXT v=spf1 -all\n", "192.0.2.1",
			   "a@example.net"), SPF_PERMERROR);
	CHECK_EQ_INT(rec("v=spf1 +all foo:bar", "192.0.2.1"), SPF_PERMERROR);
	/* temperror: the record lookup fails. */
	CHECK_EQ_INT(check("example.net TXT SERVFAIL\n", "192.0.2.1", "a@example.net"), SPF_TEMPERROR);
	/* temperror: more TXT records than an answer keeps, the SPF record
	 * among those dropped ("none" would be a guess); kept, it is read. */
	{
		char z[DNS_RR_MAX * 40 + 64];
		size_t o = 0;
		for (int i = 0; i < DNS_RR_MAX; i++)
			o += (size_t)snprintf(z + o, sizeof z - o, "example.net TXT verify=%d\n", i);
		snprintf(z + o, sizeof z - o, "example.net TXT v=spf1 +all\n");
		CHECK_EQ_INT(check(z, "192.0.2.1", "a@example.net"), SPF_TEMPERROR);
		char y[sizeof z];
		snprintf(y, sizeof y, "example.net TXT v=spf1 +all\n%.*s", (int)o, z);
		CHECK_EQ_INT(check(y, "192.0.2.1", "a@example.net"), SPF_PASS);
	}
	/* include: pass matches; fail, softfail and neutral do not; none and errors are errors. */
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.com -all\nexample.com TXT v=spf1 a ~all\n",
			   "192.0.2.10", "a@example.net"), SPF_PASS);
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.com ?all\nexample.com TXT v=spf1 -all\n",
			   "192.0.2.10", "a@example.net"), SPF_NEUTRAL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.com ?all\nexample.com TXT v=spf1 ~all\n",
			   "192.0.2.10", "a@example.net"), SPF_NEUTRAL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:nothing.example.com +all\n", "192.0.2.10",
			   "a@example.net"), SPF_PERMERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.com +all\nexample.com TXT SERVFAIL\n",
			   "192.0.2.10", "a@example.net"), SPF_TEMPERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.com +all\nexample.com TXT v=spf1 bad\n",
			   "192.0.2.10", "a@example.net"), SPF_PERMERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 -include:example.com +all\nexample.com TXT v=spf1 a -all\n",
			   "192.0.2.10", "a@example.net"), SPF_FAIL);
	/* redirect: its result; none becomes permerror; ignored when "all" is there. */
	CHECK_EQ_INT(check("example.net TXT v=spf1 redirect=example.com\nexample.com TXT v=spf1 ~all\n",
			   "192.0.2.10", "a@example.net"), SPF_SOFTFAIL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 redirect=nothing.example.com\n", "192.0.2.10",
			   "a@example.net"), SPF_PERMERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 redirect=example.com ?all\nexample.com TXT v=spf1 -all\n",
			   "192.0.2.10", "a@example.net"), SPF_NEUTRAL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 ip4:192.0.2.10 redirect=example.com\nexample.com TXT v=spf1 -all\n",
			   "192.0.2.10", "a@example.net"), SPF_PASS);
	/* Lookups in a or mx failing: temperror; the PTR lookup failing: no match. */
	CHECK_EQ_INT(check("example.net TXT v=spf1 a:broken.example.net +all\nbroken.example.net A SERVFAIL\n",
			   "192.0.2.10", "a@example.net"), SPF_TEMPERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 mx:broken.example.net +all\nbroken.example.net MX SERVFAIL\n",
			   "192.0.2.10", "a@example.net"), SPF_TEMPERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 mx:m.example.net +all\nm.example.net MX 1 h.example.net\n"
			   "h.example.net A SERVFAIL\n", "192.0.2.10", "a@example.net"), SPF_TEMPERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 ptr ~all\n10.2.0.192.in-addr.arpa PTR SERVFAIL\n",
			   "192.0.2.10", "a@example.net"), SPF_SOFTFAIL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 exists:broken.example.net +all\nbroken.example.net A SERVFAIL\n",
			   "192.0.2.10", "a@example.net"), SPF_TEMPERROR);
	/* §7.3: an expansion past 253 octets loses labels on the left, in
	 * the evaluator too (the name asked is the cut one): here %{l}.%{l}
	 * of a 121-octet local part makes 259. */
	{
		char a[61], b[61], sender[200], zone[600];
		memset(a, 'a', 60);
		memset(b, 'b', 60);
		a[60] = b[60] = '\0';
		snprintf(sender, sizeof sender, "%s.%s@example.net", a, b);
		snprintf(zone, sizeof zone, "example.net TXT v=spf1 exists:%%{l}.%%{l}.ok.example.net -all\n"
			 "%s.%s.%s.ok.example.net A 127.0.0.2\n", b, a, b);
		CHECK_EQ_INT(check(zone, "192.0.2.10", sender), SPF_PASS);
	}
	/* exists looks up A even for an IPv6 client. */
	CHECK_EQ_INT(check("example.net TXT v=spf1 exists:%{ir}.list.example.net -all\n"
			   "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.list.example.net A 127.0.0.2\n",
			   "2001:db8::cb01", "a@example.net"), SPF_PASS);
}

static void test_limits(void)
{
	char z[4096];
	/* Ten DNS mechanisms are allowed, the eleventh is a permerror. */
	snprintf(z, sizeof z, "example.net TXT v=spf1 a a a a a a a a a a -all\nexample.net A 192.0.2.99\n");
	CHECK_EQ_INT(check(z, "192.0.2.1", "a@example.net"), SPF_FAIL);
	snprintf(z, sizeof z, "example.net TXT v=spf1 a a a a a a a a a a a -all\nexample.net A 192.0.2.99\n");
	CHECK_EQ_INT(check(z, "192.0.2.1", "a@example.net"), SPF_PERMERROR);
	/* Includes count, across depths; a match before the limit is a match. */
	snprintf(z, sizeof z,
		 "example.net TXT v=spf1 include:i1.example.net -all\n"
		 "i1.example.net TXT v=spf1 include:i2.example.net ip4:192.0.2.1 -all\n"
		 "i2.example.net TXT v=spf1 a:x.example.net a:x.example.net a:x.example.net a:x.example.net "
		 "a:x.example.net a:x.example.net a:x.example.net a:x.example.net a:x.example.net -all\n"
		 "x.example.net A 192.0.2.99\n");
	CHECK_EQ_INT(check(z, "192.0.2.99", "a@example.net"), SPF_PASS);
	CHECK_EQ_INT(check(z, "192.0.2.1", "a@example.net"), SPF_PERMERROR);
	/* An include loop ends at the lookup limit. */
	CHECK_EQ_INT(check("example.net TXT v=spf1 include:example.net -all\n", "192.0.2.1", "a@example.net"),
		     SPF_PERMERROR);
	CHECK_EQ_INT(check("example.net TXT v=spf1 redirect=example.net\n", "192.0.2.1", "a@example.net"),
		     SPF_PERMERROR);
	/* Two void lookups are allowed, the third is a permerror. */
	CHECK_EQ_INT(rec("v=spf1 a:n1.example.com a:n2.example.com -all", "192.0.2.1"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all", "192.0.2.1"),
		     SPF_PERMERROR);
	CHECK_EQ_INT(rec("v=spf1 mx:n1.example.com exists:n2.example.com a:amy.example.com/32//128 "
			 "mx:example.com/30 ptr:nx.example.com -all", "192.0.2.1"), SPF_PERMERROR);
	/* An MX set of 11 names is a permerror; 10 are fine. */
	char *p = z;
	p += snprintf(p, sizeof z, "example.net TXT v=spf1 mx -all\n");
	for (int i = 0; i < 10; i++)
		p += snprintf(p, (size_t)(z + sizeof z - p), "example.net MX %d m%d.example.net\nm%d.example.net A 192.0.2.%d\n",
			      i, i, i, 100 + i);
	CHECK_EQ_INT(check(z, "192.0.2.109", "a@example.net"), SPF_PASS);
	snprintf(p, (size_t)(z + sizeof z - p), "example.net MX 99 m99.example.net\n");
	CHECK_EQ_INT(check(z, "192.0.2.109", "a@example.net"), SPF_PERMERROR);
	/* PTR names past 10 are ignored, not an error. */
	p = z;
	p += snprintf(p, sizeof z, "example.net TXT v=spf1 ptr -all\n");
	for (int i = 0; i < 11; i++)
		p += snprintf(p, (size_t)(z + sizeof z - p), "7.2.0.192.in-addr.arpa PTR h%d.example.net\n", i);
	snprintf(p, (size_t)(z + sizeof z - p), "h10.example.net A 192.0.2.7\nh0.example.net A 192.0.2.1\n");
	CHECK_EQ_INT(check(z, "192.0.2.7", "a@example.net"), SPF_FAIL);
	/* The query budget bounds what ten mx terms of ten hosts cost: all are asked, no permerror. */
	p = z;
	p += snprintf(p, sizeof z, "example.net TXT v=spf1 mx mx mx mx mx mx mx mx mx mx -all\n");
	for (int i = 0; i < 10; i++)
		p += snprintf(p, (size_t)(z + sizeof z - p), "example.net MX %d m%d.example.net\nm%d.example.net A 192.0.2.%d\n",
			      i, i, i, 100 + i);
	struct outcome o = check_id(SPF_ID_MAILFROM, z, "192.0.2.1", "a@example.net", "h.example.net");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK_EQ_INT(o.queries, 1 + 10 * 11);
	CHECK(o.queries <= SPF_QUERIES_MAX);
}

static void test_identities(void)
{
	const char *z = "example.net TXT v=spf1 ip4:192.0.2.1 -all\n"
			"helo.example.org TXT v=spf1 ip4:192.0.2.2 -all\n";
	/* HELO identity: the HELO name's record, sender postmaster@HELO. */
	CHECK_EQ_INT(check_id(SPF_ID_HELO, z, "192.0.2.2", "a@example.net", "helo.example.org").r, SPF_PASS);
	CHECK_EQ_INT(check_id(SPF_ID_HELO, z, "192.0.2.1", "a@example.net", "helo.example.org").r, SPF_FAIL);
	/* The null path checks postmaster@HELO (§2.4). */
	CHECK_EQ_INT(check_id(SPF_ID_MAILFROM, z, "192.0.2.2", "", "helo.example.org").r, SPF_PASS);
	/* No local-part: postmaster (§4.3). */
	CHECK_EQ_INT(check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 exists:%{l}.%{o} -all\n"
					    "postmaster.example.net A 127.0.0.1\n",
			      "192.0.2.9", "@example.net", "h.example.org").r, SPF_PASS);
	/* IPv6 clients; an IPv4-mapped address counts as IPv4. */
	CHECK_EQ_INT(rec("v=spf1 ip6:2001:db8::/32 -all", "2001:db8::1"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 ip6:2001:db8::/32 -all", "2001:db9::1"), SPF_FAIL);
	CHECK_EQ_INT(rec("v=spf1 ip4:192.0.2.0/24 -all", "::ffff:192.0.2.5"), SPF_PASS);
	CHECK_EQ_INT(rec("v=spf1 ip4:0.0.0.0/0 -all", "2001:db8::1"), SPF_FAIL);
	CHECK_EQ_INT(check("example.net TXT v=spf1 a//64 -all\nexample.net AAAA 2001:db8:1:2::1\n",
			   "2001:db8:1:2:ffff::9", "a@example.net"), SPF_PASS);
	CHECK(spf_eval_new(SPF_ID_MAILFROM, "not-an-ip", "a@b.c", "h", NULL, 0) == NULL);
	/* RFC 8616 §4: a sender domain in U-labels (SMTPUTF8) is checked at
	 * its A-labels, lowercased first as DMARC's Author Domain is; the
	 * local-part stays as sent; %{d} and %{o} are the A-label form. The
	 * local-part's octets are asked for, and listed in the table, in DNS
	 * text form (\DDD), as an answer's owner name reads. */
	const char *idn = "xn--bnk-qla.example TXT v=spf1 ip4:192.0.2.7 exists:%{l}.%{o} -all\n"
			  "xn--bcher-kva.example TXT v=spf1 redirect=xn--bnk-qla.example\n"
			  "j\\195\\182rg.xn--bnk-qla.example A 127.0.0.1\n";
	CHECK_EQ_INT(check(idn, "192.0.2.7", "ann@b\xc3\xa4nk.example"), SPF_PASS);
	CHECK_EQ_INT(check(idn, "192.0.2.7", "ann@B\xc3\x84NK.Example"), SPF_PASS);
	CHECK_EQ_INT(check(idn, "192.0.2.8", "ann@b\xc3\xa4nk.example"), SPF_FAIL);
	CHECK_EQ_INT(check(idn, "192.0.2.8", "j\xc3\xb6rg@b\xc3\xa4nk.example"), SPF_PASS);
	CHECK_EQ_INT(check(idn, "192.0.2.7", "ann@b\xc3\xbc" "cher.example"), SPF_PASS);
	CHECK_EQ_INT(check_id(SPF_ID_MAILFROM, idn, "192.0.2.7", "", "b\xc3\xa4nk.example").r, SPF_PASS);
	{
		struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.7", "ann@b\xc3\xa4nk.example",
						  "h", NULL, 0);
		CHECK_EQ_STR(spf_eval_domain(e), "xn--bnk-qla.example");
		spf_eval_free(&e);
	}
	/* §2.3, §4.3: a HELO (or a MAIL FROM domain) that is an address
	 * literal or a bare address is no domain name: "none", and nothing is
	 * asked of the DNS (a query for "[192.0.2.1]" would go to the
	 * resolver's upstreams for every bounce from such a client). */
	{
		const char *lits[] = { "[192.0.2.1]", "[IPv6:2001:db8::1]", "192.0.2.1" };
		for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
			struct outcome o = check_id(SPF_ID_MAILFROM, "", "192.0.2.1", "", lits[i]);
			CHECK_EQ_INT(o.r, SPF_NONE);
			CHECK_EQ_INT(o.queries, 0);
			o = check_id(SPF_ID_HELO, "", "192.0.2.1", "a@example.net", lits[i]);
			CHECK_EQ_INT(o.r, SPF_NONE);
			CHECK_EQ_INT(o.queries, 0);
		}
		struct outcome o = check_id(SPF_ID_MAILFROM, "", "192.0.2.1", "a@[192.0.2.1]", "h.example.org");
		CHECK_EQ_INT(o.r, SPF_NONE);
		CHECK_EQ_INT(o.queries, 0);
		/* A name whose last label is not all digits is still asked. */
		CHECK_EQ_INT(check_id(SPF_ID_HELO, "192.0.2.x1 TXT v=spf1 +all\n", "192.0.2.1", "", "192.0.2.x1").r,
			     SPF_PASS);
	}
	/* Ill-formed UTF-8 has no A-label: no domain to check, "none". */
	CHECK_EQ_INT(check(idn, "192.0.2.7", "ann@b\xc3nk.example"), SPF_NONE);
	/* A sender longer than any SMTP path (tern check spf takes any): it
	 * was cut before its "@" and crashed; now no domain, "none". */
	char longs[700];
	memset(longs, 'a', 600);
	snprintf(longs + 600, sizeof longs - 600, "@example.net");
	CHECK_EQ_INT(check_id(SPF_ID_MAILFROM, z, "192.0.2.1", longs, "h.example.org").r, SPF_NONE);
}

static void test_explanation(void)
{
	struct outcome o;
	const char *z = "example.net TXT v=spf1 mx -all exp=explain.example.net\n"
			"example.net MX 10 mail-a.example.com\n"
			"explain.example.net TXT %{i} is not one of %{d}'s servers; ask %{l}@%{o} (%{c} %{v})\n";
	o = check_id(SPF_ID_MAILFROM, z, "192.0.2.9", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK(o.has_expl);
	CHECK_EQ_STR(o.expl, "192.0.2.9 is not one of example.net's servers; ask jo@example.net (192.0.2.9 in-addr)");
	/* A pass carries none. */
	o = check_id(SPF_ID_MAILFROM, z, "192.0.2.129", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_PASS);
	CHECK(!o.has_expl);
	/* No explanation when its lookup fails or gives two records; the result stays fail. */
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 -all exp=gone.example.net\n", "192.0.2.9",
		     "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK(!o.has_expl);
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 -all exp=e.example.net\ne.example.net TXT one\n"
				      "e.example.net TXT two\n", "192.0.2.9", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK(!o.has_expl);
	/* An include's exp= is not used; a redirect target's is, the original's is not. */
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 include:i.example.net -all\n"
				      "i.example.net TXT v=spf1 -all exp=e.example.net\ne.example.net TXT from the include\n",
		     "192.0.2.9", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK(!o.has_expl);
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 redirect=r.example.net exp=e1.example.net\n"
				      "r.example.net TXT v=spf1 -all exp=e2.example.net\n"
				      "e1.example.net TXT original\ne2.example.net TXT target %{d}\n",
		     "192.0.2.9", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK_EQ_STR(o.expl, "target r.example.net");
	/* %{p} in an explanation: the validated name, or "unknown". */
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 -all exp=e.example.net\ne.example.net TXT host %{p}\n",
		     "192.0.2.65", "jo@example.net", "h.example.org");
	CHECK_EQ_STR(o.expl, "host amy.example.com");
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 -all exp=e.example.net\ne.example.net TXT host %{p}\n",
		     "10.0.0.4", "jo@example.net", "h.example.org");
	CHECK_EQ_STR(o.expl, "host unknown");
	/* A bad macro in the explanation: no explanation. */
	o = check_id(SPF_ID_MAILFROM, "example.net TXT v=spf1 -all exp=e.example.net\ne.example.net TXT bad %{z}\n",
		     "192.0.2.9", "jo@example.net", "h.example.org");
	CHECK_EQ_INT(o.r, SPF_FAIL);
	CHECK(!o.has_expl);
}

static void test_ptr_macro(void)
{
	/* %{p} in a mechanism: the name is validated before the term is looked up. */
	const char *z = "example.com TXT v=spf1 exists:%{p}.ok.example.com -all\n"
			"amy.example.com.ok.example.com A 127.0.0.2\n";
	CHECK_EQ_INT(check(z, "192.0.2.65", "a@example.com"), SPF_PASS);
	CHECK_EQ_INT(check(z, "192.0.2.66", "a@example.com"), SPF_FAIL);
	CHECK_EQ_INT(check(z, "10.0.0.4", "a@example.com"), SPF_FAIL); /* "unknown" */
}

/* A resolver that answers later, as the network does: the run must wait and resume. */
struct later {
	struct dns_table *t;
	dns_answer_cb *cb;
	void *arg;
	char name[300];
	uint16_t type;
	int cancelled;
};

static void *later_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	struct later *l = ctx;
	l->cb = cb;
	l->arg = arg;
	snprintf(l->name, sizeof l->name, "%s", name);
	l->type = type;
	return l;
}

static void later_cancel(void *ctx, void *h)
{
	struct later *l = ctx;
	CHECK(h == l);
	l->cancelled = 1;
	l->cb = NULL;
}

static void test_async(void)
{
	const char *z =
	    "example.net TXT v=spf1 include:example.com -all\nexample.com TXT v=spf1 mx -all\n"
	    "example.com MX 10 mail-a.example.com\nmail-a.example.com A 192.0.2.129\n"
	    "example.org TXT v=spf1 -all exp=why.example.org\nwhy.example.org TXT not %{i}\n";
	struct later l = { .t = dns_table_new(z, strlen(z)) };
	struct dns_resolver r = { later_start, later_cancel, &l };
	struct outcome o = { 0 };
	struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.129", "a@example.net", "h", NULL, 0);
	struct spf_run *run = spf_run(&r, e, done, &o);
	CHECK(run != NULL);
	int steps = 0;
	struct dns_answer *a = malloc(sizeof *a);
	while (l.cb && steps++ < 20) {
		dns_answer_cb *cb = l.cb;
		l.cb = NULL;
		dns_table_lookup(l.t, l.name, l.type, a);
		cb(l.arg, a);
	}
	CHECK_EQ_INT(o.calls, 1);
	CHECK_EQ_INT(o.r, SPF_PASS);
	CHECK_EQ_INT(steps, 4);
	spf_eval_free(&e);

	/* Out of time: the caller cancels and aborts; temperror, the late answer ignored. */
	memset(&o, 0, sizeof o);
	e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.129", "a@example.net", "h", NULL, 0);
	run = spf_run(&r, e, done, &o);
	CHECK(run != NULL);
	spf_run_cancel(run);
	spf_eval_abort(e, "no result in time");
	CHECK_EQ_INT(spf_eval_result(e), SPF_TEMPERROR);
	CHECK_EQ_STR(spf_eval_reason(e), "no result in time");
	dns_table_lookup(l.t, l.name, l.type, a);
	spf_eval_answer(e, a);
	CHECK_EQ_INT(spf_eval_result(e), SPF_TEMPERROR);
	CHECK_EQ_INT(o.calls, 0);
	spf_eval_free(&e);

	/* Out of time while the exp= explanation is fetched: the result was
	 * fail already and stays fail, without an explanation (§6.2). */
	memset(&o, 0, sizeof o);
	e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.9", "a@example.org", "h", NULL, 0);
	run = spf_run(&r, e, done, &o);
	CHECK(run != NULL);
	for (steps = 0; l.cb && strcmp(l.name, "why.example.org") != 0 && steps < 5; steps++) {
		dns_answer_cb *cb = l.cb;
		l.cb = NULL;
		dns_table_lookup(l.t, l.name, l.type, a);
		cb(l.arg, a);
	}
	CHECK_EQ_STR(l.name, "why.example.org");
	spf_run_cancel(run);
	spf_eval_abort(e, "no result in time");
	CHECK_EQ_INT(spf_eval_result(e), SPF_FAIL);
	CHECK(spf_eval_explanation(e) == NULL);
	spf_eval_free(&e);

	/* Cancelled in flight: done never runs. */
	memset(&o, 0, sizeof o);
	e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.129", "a@example.net", "h", NULL, 0);
	run = spf_run(&r, e, done, &o);
	CHECK(run != NULL);
	spf_run_cancel(run);
	CHECK(l.cancelled);
	CHECK_EQ_INT(o.calls, 0);
	spf_eval_free(&e);
	free(a);
	dns_table_free(&l.t);
}

/* The result of a check_host whose one TXT answer is rec (len bytes, NULs kept). */
static int one_txt(const char *rec, size_t len)
{
	struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, "1.2.3.5", "foo@e2.example.com",
					  "mail.example.com", NULL, 0);
	const char *name;
	uint16_t type;
	CHECK_EQ_INT(spf_eval_step(e, &name, &type), SPF_STEP_QUERY);
	CHECK_EQ_INT(type, DNS_T_TXT);
	struct dns_answer *a = malloc(sizeof *a);
	struct dns_rr rr = { .type = DNS_T_TXT, .ttl = 300 };
	dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 300);
	dns_answer_add(a, &rr, rec, len);
	spf_eval_answer(e, a);
	int r = spf_eval_step(e, &name, &type) == SPF_STEP_DONE ? (int)spf_eval_result(e) : -1;
	free(a);
	spf_eval_free(&e);
	return r;
}

/*
 * A NUL in a record (the RFC 7208 suite's a-null and mx-null) is outside
 * every term's grammar: permerror (§4.6), not "none" as if the record
 * were missing, nor the record cut at the NUL.
 */
static void test_nul_record(void)
{
	static const char a_null[] = "v=spf1 a:foo.example.com\0",
			  mx_null[] = "v=spf1 mx:abc.example.com\0 -all", qual[] = "v=spf1 \0all",
			  mod[] = "v=spf1 x\0=y -all";
	CHECK_EQ_INT(one_txt(a_null, sizeof a_null - 1), SPF_PERMERROR);
	CHECK_EQ_INT(one_txt(mx_null, sizeof mx_null - 1), SPF_PERMERROR);
	CHECK_EQ_INT(one_txt(qual, sizeof qual - 1), SPF_PERMERROR);
	CHECK_EQ_INT(one_txt(mod, sizeof mod - 1), SPF_PERMERROR);
	CHECK_EQ_INT(one_txt("v=spf1 -all", 11), SPF_FAIL);
}

/*
 * Targets whose labels hold octets DNS text form escapes (§7.1: %% a '%',
 * %_ a space, %- "%20"; %{l} a backslash from the local-part) are asked
 * for in that form (dns_name_text()), so the answer's owner, read as
 * "\\032", matches: the raw name found nothing (the RFC 7208 suite's
 * macro-mania-in-domain), and c-ares would have read the backslash as an
 * escape of the next octet.
 */
static void test_octet_targets(void)
{
	static const char rec[] =
		"v=spf1 a:macro%%percent%_%_space%-url-space.example.com exists:%{l}.example.com -all";
	struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, "1.2.3.4", "a\\b@e1a.example.com",
					  "mail.example.com", NULL, 0);
	const char *name;
	uint16_t type;
	struct dns_answer *a = malloc(sizeof *a);
	struct dns_rr rr = { .type = DNS_T_TXT, .ttl = 300 };

	CHECK_EQ_INT(spf_eval_step(e, &name, &type), SPF_STEP_QUERY);
	CHECK_EQ_STR(name, "e1a.example.com");
	dns_answer_init(a, DNS_T_TXT, DNS_ANS_OK, 300);
	dns_answer_add(a, &rr, rec, sizeof rec - 1);
	spf_eval_answer(e, a);
	CHECK_EQ_INT(spf_eval_step(e, &name, &type), SPF_STEP_QUERY);
	CHECK_EQ_INT(type, DNS_T_A);
	CHECK_EQ_STR(name, "macro%percent\\032\\032space%20url-space.example.com");
	dns_answer_init(a, DNS_T_A, DNS_ANS_NXDOMAIN, 300);
	spf_eval_answer(e, a);
	CHECK_EQ_INT(spf_eval_step(e, &name, &type), SPF_STEP_QUERY);
	CHECK_EQ_STR(name, "a\\092b.example.com");
	spf_eval_free(&e);
	free(a);
}

/*
 * The records an evaluation read, for a failure report's SPF-DNS field
 * (RFC 6591 §3.1): the checked domain's, then each include: and
 * redirect= target's, in the order read, with the name each is at.
 * tern kept none once the evaluation ended.
 */
static void test_records_kept(void)
{
	static const char zone[] =
		"red.example TXT v=spf1 redirect=kept.example\n"
		"kept.example TXT v=spf1 include:inc.example ~all\n"
		"inc.example TXT v=spf1 ip4:203.0.113.0/24 -all\n"
		"inc.example TXT some other text\n";
	struct dns_table *t = dns_table_new(zone, sizeof zone - 1);
	struct dns_resolver r = dns_table_resolver(t);
	struct outcome o = { 0 };
	struct spf_eval *e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.200", "a@red.example", "h.example",
					  NULL, 1700000000);
	CHECK(spf_run(&r, e, done, &o) == NULL);
	CHECK_EQ_INT(o.r, SPF_SOFTFAIL);
	const char *d, *rec;
	CHECK_EQ_INT(spf_eval_record(e, 0, &d, &rec), 1);
	CHECK_EQ_STR(d, "red.example");
	CHECK_EQ_STR(rec, "v=spf1 redirect=kept.example");
	CHECK_EQ_INT(spf_eval_record(e, 1, &d, &rec), 1);
	CHECK_EQ_STR(d, "kept.example");
	CHECK_EQ_STR(rec, "v=spf1 include:inc.example ~all");
	CHECK_EQ_INT(spf_eval_record(e, 2, &d, &rec), 1);
	CHECK_EQ_STR(d, "inc.example");
	CHECK_EQ_STR(rec, "v=spf1 ip4:203.0.113.0/24 -all");
	CHECK_EQ_INT(spf_eval_record(e, 3, &d, &rec), 0);
	spf_eval_free(&e);
	/* No record: nothing kept. */
	e = spf_eval_new(SPF_ID_MAILFROM, "192.0.2.200", "a@none.example", "h.example", NULL, 1700000000);
	CHECK(spf_run(&r, e, done, &o) == NULL);
	CHECK_EQ_INT(spf_eval_record(e, 0, &d, &rec), 0);
	spf_eval_free(&e);
	dns_table_free(&t);
}

int main(void)
{
	test_records_kept();
	test_rfc_simple();
	test_rfc_multiple_domains();
	test_rfc_dnsbl_style();
	test_rfc_multiple_requirements();
	test_macros();
	test_terms();
	test_results_and_errors();
	test_limits();
	test_identities();
	test_explanation();
	test_ptr_macro();
	test_async();
	test_nul_record();
	test_octet_targets();
	CHECK_EQ_STR(spf_result_name(SPF_SOFTFAIL), "softfail");
	CHECK_EQ_STR(spf_result_name(SPF_TEMPERROR), "temperror");
	return unit_done("test_spf");
}
