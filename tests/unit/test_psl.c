/*
 * test_psl.c — the Public Suffix List (dns/psl.c) against cases worked
 * out from publicsuffix.org's algorithm and the list Debian ships, and
 * Punycode (core/punycode.c) against RFC 3492's own samples.
 */
#include "core/punycode.h"
#include "dns/psl.h"
#include "unit.h"

/* want NULL: no registrable domain (or not a name). */
static void reg(const char *host, unsigned flags, const char *want)
{
	struct str r = STR_NULL;
	int rc = psl_registrable(str_c(host), flags, &r);
	if (!want) {
		if (rc == 0)
			fprintf(stderr, "%s: got %.*s\n", host, (int)r.len, r.p);
		CHECK_EQ_INT(rc, -1);
		return;
	}
	CHECK_EQ_INT(rc, 0);
	if (rc == 0)
		CHECK_EQ_SLICE(r, want);
}

static void suffix(const char *host, unsigned flags, const char *want)
{
	struct str r = STR_NULL;
	CHECK_EQ_INT(psl_public_suffix(str_c(host), flags, &r), 0);
	CHECK_EQ_SLICE(r, want);
}

static void test_icann(void)
{
	/* not names */
	reg("", PSL_PRIVATE, NULL);
	reg(".", PSL_PRIVATE, NULL);
	reg(".com", PSL_PRIVATE, NULL);
	reg(".example.com", PSL_PRIVATE, NULL);
	reg("a..example.com", PSL_PRIVATE, NULL);
	CHECK_EQ_INT(psl_registrable(STR_LIT("evil\0.example.com"), 0, &(struct str){0}), -1);
	reg("a b.example.com", PSL_PRIVATE, NULL);
	reg("example.com..", PSL_PRIVATE, NULL);
	/* a TLD alone, listed or not, has no registrable domain */
	reg("com", PSL_PRIVATE, NULL);
	reg("example", PSL_PRIVATE, NULL);
	reg("local", PSL_PRIVATE, NULL);
	/* unlisted TLDs: the rule "*" */
	reg("example.example", PSL_PRIVATE, "example.example");
	reg("b.example.example", PSL_PRIVATE, "example.example");
	reg("a.b.example.example", PSL_PRIVATE, "example.example");
	/* a TLD with one rule */
	reg("example.com", PSL_PRIVATE, "example.com");
	reg("b.example.com", PSL_PRIVATE, "example.com");
	reg("a.b.example.com", PSL_PRIVATE, "example.com");
	/* second-level public suffixes */
	reg("co.uk", PSL_PRIVATE, NULL);
	reg("example.co.uk", PSL_PRIVATE, "example.co.uk");
	reg("a.b.example.co.uk", PSL_PRIVATE, "example.co.uk");
	reg("uk", PSL_PRIVATE, NULL);
	reg("bbc.uk", 0, "bbc.uk");
	reg("shop.com.au", 0, "shop.com.au");
	reg("x.shop.com.au", 0, "shop.com.au");
	reg("t.co", 0, "t.co");
	/* three levels: k12.ak.us */
	reg("k12.ak.us", PSL_PRIVATE, NULL);
	reg("test.k12.ak.us", PSL_PRIVATE, "test.k12.ak.us");
	reg("www.test.k12.ak.us", PSL_PRIVATE, "test.k12.ak.us");
	reg("ak.us", PSL_PRIVATE, NULL);
	reg("test.ak.us", PSL_PRIVATE, "test.ak.us");
	/* a wildcard with an exception: *.ck and !www.ck */
	reg("ck", PSL_PRIVATE, NULL);
	reg("test.ck", PSL_PRIVATE, NULL);
	reg("b.test.ck", PSL_PRIVATE, "b.test.ck");
	reg("a.b.test.ck", PSL_PRIVATE, "b.test.ck");
	reg("www.ck", PSL_PRIVATE, "www.ck");
	reg("www.www.ck", PSL_PRIVATE, "www.ck");
	suffix("www.ck", 0, "ck");
	suffix("a.b.test.ck", 0, "test.ck");
	/* the same under a second level: *.kawasaki.jp and !city.kawasaki.jp */
	/* "*.kawasaki.jp" needs a label in place of "*": kawasaki.jp itself is under "jp" */
	reg("kawasaki.jp", PSL_PRIVATE, "kawasaki.jp");
	reg("test.kawasaki.jp", PSL_PRIVATE, NULL);
	reg("b.test.kawasaki.jp", PSL_PRIVATE, "b.test.kawasaki.jp");
	reg("city.kawasaki.jp", PSL_PRIVATE, "city.kawasaki.jp");
	reg("www.city.kawasaki.jp", PSL_PRIVATE, "city.kawasaki.jp");
	reg("test.jp", PSL_PRIVATE, "test.jp");
	reg("ac.jp", PSL_PRIVATE, NULL);
	reg("test.ac.jp", PSL_PRIVATE, "test.ac.jp");
	/* upper case: the host's own octets come back */
	reg("COM", PSL_PRIVATE, NULL);
	reg("WwW.Example.CO.UK", PSL_PRIVATE, "Example.CO.UK");
	reg("WWW.CITY.KAWASAKI.JP", PSL_PRIVATE, "CITY.KAWASAKI.JP");
	/* one trailing dot is the root, not an empty label */
	reg("www.example.co.uk.", PSL_PRIVATE, "example.co.uk");
	reg("co.uk.", PSL_PRIVATE, NULL);
	suffix("example.co.uk.", 0, "co.uk");
	suffix("example", 0, "example");
	char low[64];
	CHECK_EQ_INT(psl_registrable_lower(STR_LIT("A.B.Example.CO.UK."), 0, low, sizeof low), 13);
	CHECK_EQ_STR(low, "example.co.uk");
	CHECK_EQ_INT(psl_registrable_lower(STR_LIT("www.example.org"), 0, low, 5), -1);
	CHECK_EQ_INT(psl_registrable_lower(STR_LIT("localhost"), 0, low, sizeof low), -1);
	/* a label over 63 octets, a name over 253 */
	char big[300];
	memset(big, 'a', 64);
	memcpy(big + 64, ".com", 5);
	reg(big, 0, NULL);
	for (size_t i = 0; i < 254; i += 2)
		big[i] = 'a', big[i + 1] = '.';
	memcpy(big + 254, "com", 4);
	reg(big, 0, NULL);
}

static void test_idn(void)
{
	/* 公司.cn and 中国 are listed; the host may use either form */
	reg("\xe9\xa3\x9f\xe7\x8b\xae.com.cn", 0, "\xe9\xa3\x9f\xe7\x8b\xae.com.cn");
	reg("\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn", 0,
	    "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn");
	reg("www.\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn", 0,
	    "\xe9\xa3\x9f\xe7\x8b\xae.\xe5\x85\xac\xe5\x8f\xb8.cn");
	reg("shishi.\xe5\x85\xac\xe5\x8f\xb8.cn", 0, "shishi.\xe5\x85\xac\xe5\x8f\xb8.cn");
	reg("\xe5\x85\xac\xe5\x8f\xb8.cn", 0, NULL);
	reg("\xe9\xa3\x9f\xe7\x8b\xae.\xe4\xb8\xad\xe5\x9b\xbd", 0,
	    "\xe9\xa3\x9f\xe7\x8b\xae.\xe4\xb8\xad\xe5\x9b\xbd");
	reg("www.\xe9\xa3\x9f\xe7\x8b\xae.\xe4\xb8\xad\xe5\x9b\xbd", 0,
	    "\xe9\xa3\x9f\xe7\x8b\xae.\xe4\xb8\xad\xe5\x9b\xbd");
	reg("\xe4\xb8\xad\xe5\x9b\xbd", 0, NULL);
	/* the same names in ASCII form, and in upper case */
	reg("xn--85x722f.com.cn", 0, "xn--85x722f.com.cn");
	reg("xn--85x722f.xn--55qx5d.cn", 0, "xn--85x722f.xn--55qx5d.cn");
	reg("www.xn--85x722f.xn--55qx5d.cn", 0, "xn--85x722f.xn--55qx5d.cn");
	reg("shishi.xn--55qx5d.cn", 0, "shishi.xn--55qx5d.cn");
	reg("xn--55qx5d.cn", 0, NULL);
	reg("xn--85x722f.xn--fiqs8s", 0, "xn--85x722f.xn--fiqs8s");
	reg("www.XN--85X722F.XN--FIQS8S", 0, "XN--85X722F.XN--FIQS8S");
	reg("xn--fiqs8s", 0, NULL);
	/* a label that is not UTF-8 matches no rule: "*" applies */
	reg("a.\xff\xfe", 0, "a.\xff\xfe");
}

static void test_private(void)
{
	/* private section only with PSL_PRIVATE */
	reg("github.io", PSL_PRIVATE, NULL);
	reg("evil.github.io", PSL_PRIVATE, "evil.github.io");
	reg("www.evil.github.io", PSL_PRIVATE, "evil.github.io");
	reg("www.evil.github.io", 0, "github.io");
	reg("a.blogspot.com", PSL_PRIVATE, "a.blogspot.com");
	reg("a.blogspot.com", 0, "blogspot.com");
	suffix("x.y.github.io", PSL_PRIVATE, "github.io");
	suffix("x.y.github.io", 0, "io");
	/* a private wildcard: *.compute.amazonaws.com */
	reg("b.a.compute.amazonaws.com", PSL_PRIVATE, "b.a.compute.amazonaws.com");
	reg("b.a.compute.amazonaws.com", 0, "amazonaws.com");
}

static void puny(const char *u8, const uint32_t *cps, size_t n, const char *ascii)
{
	char out[128];
	uint32_t back[64];
	size_t len = punycode_encode(cps, n, out, sizeof out);
	CHECK_EQ_SLICE(str_make(out, len), ascii);
	CHECK_EQ_INT(punycode_decode(str_c(ascii), back, 64), n);
	CHECK(memcmp(back, cps, n * sizeof *cps) == 0);
	(void)u8;
}

static void test_punycode(void)
{
	/* RFC 3492 §7.1 (A) Arabic (Egyptian), (B) Chinese (simplified) */
	static const uint32_t a[] = {0x644, 0x64a, 0x647, 0x645, 0x627, 0x628, 0x62a, 0x643,
	                             0x644, 0x645, 0x648, 0x634, 0x639, 0x631, 0x628, 0x64a, 0x61f};
	puny("A", a, sizeof a / sizeof a[0], "egbpdaj6bu4bxfgehfvwxn");
	static const uint32_t b[] = {0x4ed6, 0x4eec, 0x4e3a, 0x4ec0, 0x4e48, 0x4e0d,
	                             0x8bf4, 0x4e2d, 0x6587};
	puny("B", b, sizeof b / sizeof b[0], "ihqwcrb4cv8a8dqg056pqjye");
	/* (L) 3<nen>B<gumi><kinpachi><sensei>: basic code points and a delimiter */
	static const uint32_t l[] = {'3', 0x5e74, 'B', 0x7d44, 0x91d1, 0x516b, 0x5148, 0x751f};
	puny("L", l, sizeof l / sizeof l[0], "3B-ww4c5e180e575a65lsy2b");
	/* "pаypal" with a Cyrillic a */
	static const uint32_t p[] = {'p', 0x430, 'y', 'p', 'a', 'l'};
	puny("paypal", p, 6, "pypal-4ve");
	char out[8];
	CHECK_EQ_INT(punycode_encode(b, 9, out, sizeof out), 0); /* does not fit */
	CHECK_EQ_INT(punycode_encode(b, 0, out, sizeof out), 0);
	uint32_t cp[4];
	CHECK_EQ_INT(punycode_decode(STR_LIT("!!"), cp, 4), 0);
	CHECK_EQ_INT(punycode_decode(STR_LIT("egbpdaj6bu4bxfgehfvwxn"), cp, 4), 0); /* max */
	CHECK_EQ_INT(punycode_decode(STR_LIT("99999999999"), cp, 4), 0);        /* overflow */
	/* A domain's other spelling (RFC 5890 §2.3.2.1), both ways. */
	char d[64];
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("mail.b\303\274cher.test"), d, sizeof d), 23);
	CHECK_EQ_STR(d, "mail.xn--bcher-kva.test");
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("XN--bcher-kva.test"), d, sizeof d), 12);
	CHECK_EQ_STR(d, "b\303\274cher.test");
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("example.test"), d, sizeof d), 0);  /* none */
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("xn--abc-.test"), d, sizeof d), 0); /* ASCII */
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("xn--!!.test"), d, sizeof d), 0);
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("b\303.test"), d, sizeof d), 0); /* bad UTF-8 */
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("b\303\274cher.test"), d, 18), 0); /* no room */
	CHECK_EQ_INT(punycode_domain_other(STR_LIT("b\303\274cher.test"), d, 19), 18);
	/* An address's ASCII form: only a UTF-8 domain has one. */
	CHECK_EQ_INT(punycode_address_ascii("Carol@mail.b\303\274cher.test", d, sizeof d), 29);
	CHECK_EQ_STR(d, "Carol@mail.xn--bcher-kva.test");
	CHECK_EQ_INT(punycode_address_ascii("\"a@b\"@b\303\274cher.test", d, sizeof d), 24);
	CHECK_EQ_STR(d, "\"a@b\"@xn--bcher-kva.test");
	CHECK_EQ_INT(punycode_address_ascii("carol@example.test", d, sizeof d), 0);  /* ASCII already */
	CHECK_EQ_INT(punycode_address_ascii("j\303\266rg@b\303\274cher.test", d, sizeof d), 0);
	CHECK_EQ_INT(punycode_address_ascii("b\303\274cher.test", d, sizeof d), 0); /* no @ */
	CHECK_EQ_INT(punycode_address_ascii("c@b\303.test", d, sizeof d), 0);       /* bad UTF-8 */
	CHECK_EQ_INT(punycode_address_ascii("c@b\303\274cher.test", d, 20), 0);    /* no room */
	CHECK_EQ_INT(punycode_address_ascii("c@b\303\274cher.test", d, 21), 20);
}

int main(void)
{
	test_icann();
	test_idn();
	test_private();
	test_punycode();
	return unit_done("test_psl");
}
