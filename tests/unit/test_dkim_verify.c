/*
 * test_dkim_verify.c — the DKIM verifier against a table resolver: RFC
 * 8463 Appendix A (Ed25519 and RSA signatures of one message), RFC 6376
 * §3.4.5's canonicalization example in simple form, tern's own signer,
 * every failure branch (with signatures made here so that only the
 * branch under test is wrong), l= (and that a pass leaving octets
 * unsigned does not authenticate for DMARC), key flags, asynchronous answers, the
 * tag-list and key record parsers, and byte-at-a-time feeding.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim.h"
#include "dkim/dkim_verify.h"
#include "dns/dns_table.h"
#include "unit.h"

/* ---- table resolver (dns_table.h), built up as the tests go ---- */

static struct buf table_text;

/* Adds TXT records for name: "|" separates records; NULL: SERVFAIL. */
static void table_set(const char *name, const char *txt)
{
	if (table_text.max == 0)
		buf_init(&table_text, 1 << 16);
	if (txt == NULL) {
		buf_printf(&table_text, "%s TXT SERVFAIL\n", name);
		return;
	}
	for (;;) {
		const char *bar = strchr(txt, '|');
		int len = bar ? (int)(bar - txt) : (int)strlen(txt);
		buf_printf(&table_text, "%s TXT %.*s\n", name, len, txt);
		if (bar == NULL)
			break;
		txt = bar + 1;
	}
}

static int lookups;

static const char rfc_ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc_rsa_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
    "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
    "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
    "Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* RFC 8463 Appendix A.3, as published. */
static const char rfc8463[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

#define NOW 1700000000

/* Verifies msg (whole, or one byte at a time) and copies the results. */
static size_t verify(const char *msg, size_t len, int bytewise, int64_t now,
                     struct dkim_sig_result *out, size_t max)
{
	struct dns_table *t = dns_table_new(buf_data(&table_text), buf_len(&table_text));
	struct dns_resolver r = dns_table_resolver(t);
	struct dkim_verifier *v = dkim_verifier_new(&r, now);
	if (bytewise)
		for (size_t i = 0; i < len; i++)
			dkim_verifier_update(v, msg + i, 1);
	else
		dkim_verifier_update(v, msg, len);
	CHECK_EQ_INT(dkim_verifier_run(v, NULL, NULL), DKIM_VERIFY_DONE);
	size_t n = dkim_verifier_count(v);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = *dkim_verifier_result(v, i);
	dkim_verifier_free(&v);
	CHECK(v == NULL);
	lookups += (int)dns_table_queries(t);
	dns_table_free(&t);
	return n;
}

/* One signature expected: checks its result and reason. */
static void expect1(const char *what, const char *msg, enum dkim_result want, const char *reason)
{
	struct dkim_sig_result r[4], rb[4];
	size_t n = verify(msg, strlen(msg), 0, NOW, r, 4);
	CHECK_EQ_INT(n, 1);
	if (n < 1)
		return;
	/* Fed one byte at a time, the same result for the same reason. */
	CHECK_EQ_INT(verify(msg, strlen(msg), 1, NOW, rb, 4), 1);
	CHECK_EQ_INT(rb[0].result, r[0].result);
	CHECK_EQ_STR(rb[0].reason, r[0].reason);
	if (r[0].result != want || (reason && strstr(r[0].reason, reason) == NULL))
		fprintf(stderr, "case %s: got %s (%s), want %s (%s)\n", what,
		        dkim_result_name(r[0].result), r[0].reason, dkim_result_name(want),
		        reason ? reason : "");
	CHECK_EQ_STR(dkim_result_name(r[0].result), dkim_result_name(want));
	if (reason)
		CHECK(strstr(r[0].reason, reason) != NULL);
}

/* What failed in msg's one signature (dkim_sig_result.failed). */
static int failed_kind(const char *msg)
{
	struct dkim_sig_result r[4];
	CHECK_EQ_INT(verify(msg, strlen(msg), 0, NOW, r, 4), 1);
	return r[0].failed;
}

static void test_rfc8463(void)
{
	struct dkim_sig_result r[4];

	table_set("brisbane._domainkey.football.example.com", rfc_ed_key);
	table_set("test._domainkey.football.example.com", rfc_rsa_key);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		size_t n = verify(rfc8463, sizeof rfc8463 - 1, bytewise, NOW, r, 4);
		CHECK_EQ_INT(n, 2);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_STR(r[0].s, "brisbane");
		CHECK_EQ_STR(r[0].d, "football.example.com");
		CHECK_EQ_INT(r[0].alg, DKIM_ALG_ED25519_SHA256);
		CHECK_EQ_INT(r[1].result, DKIM_RESULT_PASS);
		CHECK_EQ_STR(r[1].s, "test");
		CHECK_EQ_STR(r[1].i, "@football.example.com");
		CHECK_EQ_INT(r[1].alg, DKIM_ALG_RSA_SHA256);
	}
	/* Signing it again with the RFC's key and its tags gives the RFC's
	 * b= octet for octet (Ed25519 is deterministic): the header hash of
	 * the first signature and the signing primitive the signer uses. */
	{
		struct dkim_hindex x;
		struct dkim_sig sig;
		struct dkim_key key;
		enum dkim_result res;
		const char *why;
		uint8_t digest[32], seed[32], b[64];
		char b64[100];
		size_t sl, blen;
		const char *end = strstr(rfc8463, "\r\n\r\n");

		dkim_hindex_build(&x, str_make(rfc8463, (size_t)(end - rfc8463)));
		struct str f = x.fields[0];
		ptrdiff_t colon = str_chr(f, ':');
		CHECK_EQ_INT(dkim_sig_parse(str_make(f.p + colon + 1, f.len - (size_t)colon - 1),
		                            &sig, &res, &why),
		             0);
		CHECK_EQ_INT(dkim_hindex_digest(&x, sig.h, 0, 0, digest), 0);
		dkim_hindex_free(&x);
		CHECK_EQ_INT(sodium_base642bin(seed, sizeof seed,
		                               "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", 44,
		                               NULL, &sl, NULL, sodium_base64_VARIANT_ORIGINAL),
		             0);
		CHECK_EQ_INT(
		    dkim_key_import(&key, DKIM_ALG_ED25519_SHA256, "brisbane", 0, seed, 32),
		    DKIM_OK);
		CHECK_EQ_INT(dkim_key_sign_digest(&key, digest, b, sizeof b, &blen), DKIM_OK);
		dkim_key_wipe(&key);
		sodium_bin2base64(b64, sizeof b64, b, blen, sodium_base64_VARIANT_ORIGINAL);
		CHECK_EQ_STR(b64,
		             "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7"
		             "ZbnKELq+eXdp1Q1Dw==");
	}

	/* Bare LF line ends (stored mail) verify the same. */
	char lf[sizeof rfc8463];
	size_t k = 0;
	for (size_t i = 0; i < sizeof rfc8463 - 1; i++)
		if (rfc8463[i] != '\r')
			lf[k++] = rfc8463[i];
	CHECK_EQ_INT(verify(lf, k, 0, NOW, r, 4), 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
	CHECK_EQ_INT(r[1].result, DKIM_RESULT_PASS);

	/* One changed octet of the body: both fail on the body hash. */
	char bad[sizeof rfc8463];
	memcpy(bad, rfc8463, sizeof rfc8463);
	*strstr(bad, "hungry") = 'H';
	CHECK_EQ_INT(verify(bad, sizeof bad - 1, 0, NOW, r, 4), 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_FAIL);
	CHECK(strstr(r[0].reason, "body hash") != NULL);
	CHECK_EQ_INT(r[1].result, DKIM_RESULT_FAIL);
	/* A changed signed header field: the signatures fail. */
	memcpy(bad, rfc8463, sizeof rfc8463);
	*strstr(bad, "dinner") = 'D';
	CHECK_EQ_INT(verify(bad, sizeof bad - 1, 0, NOW, r, 4), 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_FAIL);
	CHECK(strstr(r[0].reason, "signature did not verify") != NULL);
	CHECK_EQ_INT(r[1].result, DKIM_RESULT_FAIL);
	/* White space changes survive relaxed canonicalization. */
	char ws[sizeof rfc8463 + 8];
	const char *at = strstr(rfc8463, "Subject: Is");
	size_t off = (size_t)(at - rfc8463) + 8;
	memcpy(ws, rfc8463, off);
	memcpy(ws + off, "   \t", 4);
	memcpy(ws + off + 4, rfc8463 + off, sizeof rfc8463 - off);
	CHECK_EQ_INT(verify(ws, strlen(ws), 0, NOW, r, 4), 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);

	/* No signature: no results. */
	const char *plain = strstr(rfc8463, "From: Joe");
	CHECK_EQ_INT(verify(plain, strlen(plain), 0, NOW, r, 4), 0);
}

/* ---- signatures made here, Ed25519 with RFC 8463's example key ---- */

static uint8_t ed_sk[64];
static RSA *rsa_short;

/*
 * Signs msg (a header section, CRLF, body) with the tag list tags (which
 * must not hold b= or bh=, and must list each signed field once in h=,
 * with names as they appear), relaxed or simple as c= says, and returns
 * the signed message in out. l= in tags limits the body hash. With rsa
 * set, the 512-bit key signs (a=rsa-sha256 in tags).
 */
static void sign_with(const char *msg, const char *tags, int rsa, char *out, size_t outsz)
{
	const char *body = strstr(msg, "\r\n\r\n") + 4;
	int simple_h = strstr(tags, "c=simple") != NULL;
	int simple_b = strstr(tags, "/simple") != NULL || strstr(tags, "c=simple;") != NULL ||
	               (strstr(tags, "c=") == NULL);
	struct dkim_body b;
	uint8_t bh[32], digest[32], sig[256];
	char bh64[64], field[2048], sig64[400];
	struct buf canon;
	br_sha256_context ctx;

	if (strstr(tags, "c=") == NULL)
		simple_h = 1;
	if (simple_b)
		dkim_body_init_simple(&b);
	else
		dkim_body_init(&b);
	const char *l = strstr(tags, "l=");
	if (l)
		b.limit = strtoull(l + 2, NULL, 10);
	dkim_body_update(&b, body, strlen(body));
	dkim_body_final(&b, bh);
	sodium_bin2base64(bh64, sizeof bh64, bh, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(field, sizeof field, "DKIM-Signature: %s; bh=%s;\r\n b=", tags, bh64);

	/* The fields of h=, in the order listed (one instance each). */
	buf_init(&canon, 1 << 16);
	br_sha256_init(&ctx);
	const char *h = strstr(tags, "h=") + 2;
	while (*h && *h != ';') {
		size_t nl = strcspn(h, ":;");
		for (const char *p = msg; p < body;) {
			const char *e = strstr(p, "\r\n");
			while (e[2] == ' ' || e[2] == '\t')
				e = strstr(e + 2, "\r\n");
			if ((size_t)(e - p) > nl && strncasecmp(p, h, nl) == 0 && p[nl] == ':') {
				buf_reset(&canon);
				if (simple_h)
					dkim_canon_header_simple(str_make(p, (size_t)(e - p)), &canon);
				else
					dkim_canon_header(str_make(p, (size_t)(e - p)), &canon);
				br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon));
				break;
			}
			p = e + 2;
		}
		h += nl;
		if (*h == ':')
			h++;
	}
	buf_reset(&canon);
	if (simple_h)
		dkim_canon_header_simple(str_c(field), &canon);
	else
		dkim_canon_header(str_c(field), &canon);
	br_sha256_update(&ctx, buf_data(&canon), buf_len(&canon) - 2);
	br_sha256_out(&ctx, digest);
	buf_free(&canon);

	size_t siglen;
	if (rsa) {
		unsigned sl = 0;
		CHECK(RSA_sign(NID_sha256, digest, 32, sig, &sl, rsa_short) == 1);
		siglen = sl;
	} else {
		crypto_sign_detached(sig, NULL, digest, 32, ed_sk);
		siglen = 64;
	}
	sodium_bin2base64(sig64, sizeof sig64, sig, siglen, sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, outsz, "%s%s\r\n%s", field, sig64, msg);
}

static const char base_msg[] = "From: Ann <ann@example.org>\r\n"
                               "To: Bob <bob@example.net>\r\n"
                               "Subject: lunch\r\n"
                               "\r\n"
                               "Noon?  \r\n"
                               "\r\n";

#define TAGS(extra) "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ed; " extra

static void test_branches(void)
{
	char m[4096], m2[8192];
	char rsa_txt[400];
	static char rsa_rec[512];
	uint8_t seed[32];
	size_t sl;

	CHECK_EQ_INT(sodium_base642bin(seed, sizeof seed, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
	                               44, NULL, &sl, NULL, sodium_base64_VARIANT_ORIGINAL),
	             0);
	uint8_t pk[32];
	crypto_sign_seed_keypair(pk, ed_sk, seed);
	table_set("ed._domainkey.example.org", rfc_ed_key);
	table_set("revoked._domainkey.example.org", "v=DKIM1; k=ed25519; p=");
	table_set("strict._domainkey.example.org", "v=DKIM1; k=ed25519; t=s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("testing._domainkey.example.org", "v=DKIM1; k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("sha1only._domainkey.example.org", "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("web._domainkey.example.org", "v=DKIM1; k=ed25519; s=web; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("tlsrpt._domainkey.example.org", "v=DKIM1; k=ed25519; s=tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("both._domainkey.example.org", "v=DKIM1; k=ed25519; s=email:tlsrpt; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("rsaonly._domainkey.example.org", rfc_rsa_key);
	table_set("temp._domainkey.example.org", NULL);
	table_set("two._domainkey.example.org", "site-verification=abc|v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	table_set("junk._domainkey.example.org", "site-verification=abc|k=dsa; p=AAAA");

	/* A 512-bit RSA key: refused whatever the signature (RFC 8301). */
	BIGNUM *e = BN_new();
	rsa_short = RSA_new();
	BN_set_word(e, 65537);
	CHECK(RSA_generate_key_ex(rsa_short, 512, e, NULL) == 1);
	BN_free(e);
	unsigned char *der = NULL;
	int dl = i2d_RSA_PUBKEY(rsa_short, &der);
	CHECK(dl > 0);
	sodium_bin2base64(rsa_txt, sizeof rsa_txt, der, (size_t)dl, sodium_base64_VARIANT_ORIGINAL);
	OPENSSL_free(der);
	snprintf(rsa_rec, sizeof rsa_rec, "v=DKIM1; k=rsa; p=%s", rsa_txt);
	table_set("short._domainkey.example.org", rsa_rec);

	/* A key whose public exponent is as long as its 3072-bit modulus
	 * (random numbers: only the sizes matter). Verifying with it costs a
	 * private-key operation; 16 signatures and 50 ARC seals naming it
	 * would hold a loop for a second per message. Refused unused. */
	static char huge_e_txt[1200], huge_e_rec[1300];
	BIGNUM *hn = BN_new(), *he = BN_new();
	CHECK(BN_rand(hn, 3072, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) == 1);
	CHECK(BN_rand(he, 3070, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) == 1);
	RSA *huge_e = RSA_new();
	CHECK(RSA_set0_key(huge_e, hn, he, NULL) == 1);
	der = NULL;
	dl = i2d_RSA_PUBKEY(huge_e, &der);
	CHECK(dl > 0 && (size_t)dl <= DKIM_PUBKEY_MAX);
	sodium_bin2base64(huge_e_txt, sizeof huge_e_txt, der, (size_t)dl, sodium_base64_VARIANT_ORIGINAL);
	OPENSSL_free(der);
	RSA_free(huge_e);
	snprintf(huge_e_rec, sizeof huge_e_rec, "v=DKIM1; k=rsa; p=%s", huge_e_txt);
	table_set("hugee._domainkey.example.org", huge_e_rec);

	sign_with(base_msg, TAGS("h=from:to:subject"), 0, m, sizeof m);
	expect1("good", m, DKIM_RESULT_PASS, "verified");

	/* A selector of several labels past 63 octets (RFC 6376 §3.1 lets
	 * s= have dots): a permerror "bad s=" while DKIM_SELECTOR_MAX, one
	 * label, was its size. Verified up to the key name's 253 octets;
	 * one octet more is no DNS name. */
	for (int over = 0; over < 2; over++) {
		char sel[300], name[400], tags[600];
		size_t n = 253 - strlen("._domainkey.example.org") + (size_t)over;
		for (size_t i = 0; i < n; i++)
			sel[i] = i % 61 == 60 ? '.' : (char)('a' + i % 26);
		sel[n] = '\0';
		snprintf(name, sizeof name, "%s._domainkey.example.org", sel);
		table_set(name, rfc_ed_key);
		snprintf(tags, sizeof tags, "v=1; a=ed25519-sha256; d=example.org; s=%s; h=from", sel);
		sign_with(base_msg, tags, 0, m, sizeof m);
		if (over)
			expect1("selector over the name", m, DKIM_RESULT_PERMERROR, "bad s=");
		else
			expect1("long selector", m, DKIM_RESULT_PASS, "verified");
	}

	/* simple/simple, and the default c= (simple/simple). */
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=simple/simple; d=example.org; s=ed; h=from:subject",
	          0, m, sizeof m);
	expect1("simple", m, DKIM_RESULT_PASS, NULL);
	snprintf(m2, sizeof m2, "%s", m);
	*strstr(m2, "Noon?  ") = 'n';
	expect1("simple body changed", m2, DKIM_RESULT_FAIL, "body hash");
	sign_with(base_msg, "v=1; a=ed25519-sha256; d=example.org; s=ed; h=from:subject", 0, m, sizeof m);
	expect1("default c=", m, DKIM_RESULT_PASS, NULL);
	char *sp = strstr(m, "Noon?  ");
	memmove(sp + 5, sp + 7, strlen(sp + 7) + 1); /* trailing spaces count in simple */
	expect1("simple white space", m, DKIM_RESULT_FAIL, "body hash");

	/* Body hash mismatch; header signature mismatch. */
	sign_with(base_msg, TAGS("h=from:to:subject"), 0, m, sizeof m);
	snprintf(m2, sizeof m2, "%sP.S.\r\n", m);
	expect1("body", m2, DKIM_RESULT_FAIL, "body hash did not verify");
	/* For a failure report's Auth-Failure (RFC 6591 §3.2.2): which of
	 * the two failed (both were reported "signature"). */
	CHECK_EQ_INT(failed_kind(m2), DKIM_FAILED_BODYHASH);
	CHECK_EQ_INT(failed_kind(m), DKIM_FAILED_SIGNATURE);
	snprintf(m2, sizeof m2, "%s", m);
	memcpy(strstr(m2, "lunch"), "LUNCH", 5);
	expect1("header", m2, DKIM_RESULT_FAIL, "signature did not verify");
	CHECK_EQ_INT(failed_kind(m2), DKIM_FAILED_SIGNATURE);
	/* An unsigned field added is fine; a second From is not (h= names
	 * the bottom From, and the signature covered another). */
	snprintf(m2, sizeof m2, "X-Extra: 1\r\n%s", m);
	expect1("unsigned field", m2, DKIM_RESULT_PASS, NULL);
	char *body = strstr(m, "\r\n\r\n");
	snprintf(m2, sizeof m2, "%.*s\r\nFrom: evil@example.com%s", (int)(body - m), m, body);
	expect1("second From", m2, DKIM_RESULT_FAIL, "signature did not verify");

	/* Times. */
	sign_with(base_msg, TAGS("t=1699990000; x=1699999000; h=from:to:subject"), 0, m, sizeof m);
	expect1("expired", m, DKIM_RESULT_POLICY, "expired");
	sign_with(base_msg, TAGS("t=1699990000; x=1700009000; h=from:to:subject"), 0, m, sizeof m);
	expect1("not yet expired", m, DKIM_RESULT_PASS, NULL);
	sign_with(base_msg, TAGS("t=1700009000; h=from:to:subject"), 0, m, sizeof m);
	expect1("future", m, DKIM_RESULT_POLICY, "future");
	sign_with(base_msg, TAGS("t=1700000200; h=from:to:subject"), 0, m, sizeof m);
	expect1("within skew", m, DKIM_RESULT_PASS, NULL);
	sign_with(base_msg, TAGS("t=1699990000; x=1699990000; h=from:to:subject"), 0, m, sizeof m);
	expect1("x not after t", m, DKIM_RESULT_PERMERROR, "x=");

	/* Keys. */
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=revoked; h=from",
	          0, m, sizeof m);
	expect1("revoked", m, DKIM_RESULT_PERMERROR, "revoked");
	CHECK_EQ_INT(failed_kind(m), DKIM_FAILED_REVOKED);
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=nokey; h=from",
	          0, m, sizeof m);
	expect1("no key", m, DKIM_RESULT_PERMERROR, "no key record at nokey._domainkey.example.org");
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=temp; h=from",
	          0, m, sizeof m);
	expect1("temp", m, DKIM_RESULT_TEMPERROR, "key lookup failed");
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=sha1only; h=from",
	          0, m, sizeof m);
	expect1("key h=sha1", m, DKIM_RESULT_PERMERROR, "sha256");
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=web; h=from",
	          0, m, sizeof m);
	expect1("key s=web", m, DKIM_RESULT_PERMERROR, "not for email");
	{
		/* RFC 8460 §3: a key for TLS-RPT reports (s=tlsrpt) is no key
		 * for email, but its signature is still checked for the
		 * report intake (verified, services). */
		struct dkim_sig_result r[2];
		sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=tlsrpt; h=from",
		          0, m, sizeof m);
		expect1("key s=tlsrpt", m, DKIM_RESULT_PERMERROR, "not for email");
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
		CHECK_EQ_INT(r[0].verified, 1);
		CHECK_EQ_INT(r[0].services, DKIM_SVC_TLSRPT);
		snprintf(m2, sizeof m2, "%sP.S.\r\n", m);
		CHECK_EQ_INT(verify(m2, strlen(m2), 0, NOW, r, 2), 1);
		CHECK_EQ_INT(r[0].verified, 0);
		sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=both; h=from",
		          0, m, sizeof m);
		expect1("key s=email:tlsrpt", m, DKIM_RESULT_PASS, NULL);
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
		CHECK_EQ_INT(r[0].services, DKIM_SVC_EMAIL | DKIM_SVC_TLSRPT);
		CHECK_EQ_INT(r[0].verified, 1);
		sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=web; h=from",
		          0, m, sizeof m);
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
		CHECK_EQ_INT(r[0].verified, 0);
	}
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=rsaonly; h=from",
	          0, m, sizeof m);
	expect1("key type", m, DKIM_RESULT_PERMERROR, "does not match");
	sign_with(base_msg, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=short; h=from:to",
	          1, m, sizeof m);
	expect1("short RSA", m, DKIM_RESULT_FAIL, "512 bits");
	sign_with(base_msg, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=hugee; h=from:to",
	          1, m, sizeof m);
	expect1("huge RSA exponent", m, DKIM_RESULT_PERMERROR, "exponent");
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=testing; h=from",
	          0, m, sizeof m);
	{
		struct dkim_sig_result r[1];
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 1), 1);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(r[0].testing, 1);
	}

	/* Several TXT records: the key record among them counts. */
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=two; h=from",
	          0, m, sizeof m);
	expect1("two records", m, DKIM_RESULT_PASS, NULL);
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=junk; h=from",
	          0, m, sizeof m);
	expect1("no key record among them", m, DKIM_RESULT_PERMERROR, "tag without =");

	/* i= and t=s. */
	sign_with(base_msg, TAGS("i=ann@mail.example.org; h=from"), 0, m, sizeof m);
	expect1("i= subdomain", m, DKIM_RESULT_PASS, NULL);
	sign_with(base_msg, TAGS("i=ann@example.com; h=from"), 0, m, sizeof m);
	expect1("i= elsewhere", m, DKIM_RESULT_PERMERROR, "i= not in d=");
	sign_with(base_msg, TAGS("i=ann@badexample.org; h=from"), 0, m, sizeof m);
	expect1("i= suffix only", m, DKIM_RESULT_PERMERROR, "i= not in d=");
	sign_with(base_msg,
	          "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=strict; "
	          "i=ann@mail.example.org; h=from",
	          0, m, sizeof m);
	expect1("t=s subdomain", m, DKIM_RESULT_PERMERROR, "t=s");
	sign_with(base_msg,
	          "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=strict; "
	          "i=ann@example.org; h=from",
	          0, m, sizeof m);
	expect1("t=s exact", m, DKIM_RESULT_PASS, NULL);

	/* l=: the signed part verifies, what follows is reported. */
	sign_with(base_msg, TAGS("l=7; h=from:to:subject"), 0, m, sizeof m);
	snprintf(m2, sizeof m2, "%sappended by a list\r\n", m);
	{
		struct dkim_sig_result r[1];
		CHECK_EQ_INT(verify(m2, strlen(m2), 0, NOW, r, 1), 1);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(r[0].unsigned_octets, strlen("appended by a list\r\n") + 2);
		/* ... and does not speak for the message to DMARC. */
		CHECK(!dkim_result_authenticates(&r[0]));
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 1), 1);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(r[0].unsigned_octets, 0);
		CHECK(dkim_result_authenticates(&r[0]));
	}
	/* A second Subject above the signed one: still a pass, but it does
	 * not authenticate (a reader sees the unsigned one); signed twice
	 * (oversigned), the added one breaks the signature instead. A field
	 * h= does not name, or one that may repeat, does not count. */
	sign_with(base_msg, TAGS("h=from:to:subject"), 0, m, sizeof m);
	snprintf(m2, sizeof m2, "Subject: wire the money\r\nX-Note: a\r\nX-Note: b\r\n"
		 "Received: x\r\nCc: c@example.net\r\nCc: d@example.net\r\n%s", m);
	{
		struct dkim_sig_result r[1];
		CHECK_EQ_INT(verify(m2, strlen(m2), 0, NOW, r, 1), 1);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(r[0].unsigned_instance, 1);
		CHECK(!dkim_result_authenticates(&r[0]));
		snprintf(m2, sizeof m2, "X-Note: a\r\nCc: c@example.net\r\nCc: d@example.net\r\n%s", m);
		CHECK_EQ_INT(verify(m2, strlen(m2), 0, NOW, r, 1), 1);
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
		CHECK_EQ_INT(r[0].unsigned_instance, 0);
		CHECK(dkim_result_authenticates(&r[0]));
	}
	sign_with(base_msg, TAGS("h=from:to:subject:subject"), 0, m, sizeof m);
	snprintf(m2, sizeof m2, "Subject: wire the money\r\n%s", m);
	expect1("oversigned Subject added", m2, DKIM_RESULT_FAIL, NULL);
	sign_with(base_msg, TAGS("l=5000; h=from:to:subject"), 0, m, sizeof m);
	expect1("l= beyond", m, DKIM_RESULT_PERMERROR, "l= beyond");

	/* Refused before any key: sha1, unknown algorithm, syntax. */
	snprintf(m, sizeof m, "DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=ed; h=from; "
	                      "bh=2jmj7l5rSw0yVb/vlWAYkK/YBwk=; b=AAAA\r\n%s", base_msg);
	lookups = 0;
	expect1("sha1", m, DKIM_RESULT_FAIL, "rsa-sha1");
	CHECK_EQ_INT(lookups, 0);
	sign_with(base_msg, "v=1; a=ed448-sha256; d=example.org; s=ed; h=from", 0, m, sizeof m);
	expect1("unknown a=", m, DKIM_RESULT_NEUTRAL, "unknown algorithm");
	sign_with(base_msg, "v=2; a=ed25519-sha256; d=example.org; s=ed; h=from", 0, m, sizeof m);
	expect1("v=2", m, DKIM_RESULT_NEUTRAL, "version");
	sign_with(base_msg, "v=1; a=ed25519-sha256; c=fancy; d=example.org; s=ed; h=from", 0, m, sizeof m);
	expect1("unknown c=", m, DKIM_RESULT_NEUTRAL, "canonicalization");
	sign_with(base_msg, TAGS("h=to:subject"), 0, m, sizeof m);
	expect1("h= without from", m, DKIM_RESULT_PERMERROR, "From not signed");
	/* Refused on a tag after b='s, it is still named by its b= (header.b,
	 * RFC 6008) beside a passing signature of the same d= and s=; a b=
	 * that is not base64 names nothing (it would go into a field). */
	{
		static const char refused[] =
		    "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; "
		    "s=ed; h=to; bh=2jmj7l5rSw0yVb/vlWAYkK/YBwk2jmj7l5rSw0yVb/A=; b=";
		struct dkim_sig_result r[2];
		sign_with(base_msg, TAGS("h=from"), 0, m, sizeof m);
		snprintf(m2, sizeof m2, "%sZm9v\r\n  YmFy\r\n%s", refused, m);
		CHECK_EQ_INT(verify(m2, strlen(m2), 0, NOW, r, 2), 2);
		CHECK(r[0].result == DKIM_RESULT_PERMERROR && r[1].result == DKIM_RESULT_PASS);
		CHECK(r[1].b[0] != '\0' && strcmp(r[0].b, r[1].b) != 0);
		CHECK_EQ_STR(r[0].b, "Zm9vYmFy");
		snprintf(m, sizeof m, "%sZm9v\"(x\r\n%s", refused, base_msg);
		CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
		CHECK_EQ_STR(r[0].b, "");
		CHECK_EQ_INT(r[0].result, DKIM_RESULT_PERMERROR);
	}
	sign_with(base_msg, TAGS("q=http/well-known; h=from"), 0, m, sizeof m);
	expect1("q=", m, DKIM_RESULT_PERMERROR, "q=");
	snprintf(m, sizeof m, "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=ed; h=from; "
	                      "b=AAAA\r\n%s", base_msg);
	expect1("missing bh=", m, DKIM_RESULT_PERMERROR, "missing required tag bh=");
	snprintf(m, sizeof m, "DKIM-Signature: v=1; a=ed25519-sha256; s=ed; h=from; b=AAAA; "
	                      "bh=2jmj7l5rSw0yVb/vlWAYkK/YBwk2jmj7l5rSw0yVb/A=\r\n%s", base_msg);
	expect1("missing d=", m, DKIM_RESULT_PERMERROR, "missing required tag d=");
	snprintf(m, sizeof m, "DKIM-Signature: v=1; v=1; a=ed25519-sha256\r\n%s", base_msg);
	expect1("duplicate", m, DKIM_RESULT_PERMERROR, "duplicate");
	snprintf(m, sizeof m, "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=ed; h=from; "
	                      "bh=!!; b=AAAA\r\n%s", base_msg);
	expect1("bad bh", m, DKIM_RESULT_PERMERROR, "bad bh=");

	/* An octet over 0x7F is no base64 digit in b=, bh= or the key's p=
	 * (RFC 6376 §3.5, §3.6.1): the value is malformed, not decoded (the
	 * base64 decoder reads "\xff" as "/", so a signature that had "/"
	 * there would pass). */
	{
		sign_with(base_msg, TAGS("h=from"), 0, m, sizeof m);
		for (int round = 0; round < 2; round++) {
			/* The first "/" of b=, then of bh=. */
			char *at = strstr(m, round == 0 ? "\r\n b=" : " bh=");
			char *slash = at ? strchr(at + 4, '/') : NULL;
			char *semi = at ? strpbrk(at + 4, ";\r") : NULL;
			/* Ed25519 and a fixed message: b= and bh= always hold a "/". */
			CHECK(slash != NULL && semi != NULL && slash < semi);
			if (!slash || !semi || slash > semi)
				continue;
			snprintf(m2, sizeof m2, "%s", m);
			m2[slash - m] = '\xff';
			expect1(round == 0 ? "b= with 0xff" : "bh= with 0xff", m2,
			        DKIM_RESULT_PERMERROR, round == 0 ? "bad b=" : "bad bh=");
		}
		table_set("ff._domainkey.example.org", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS\xff"
		                                       "7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
		sign_with(base_msg,
		          "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ff; h=from",
		          0, m, sizeof m);
		expect1("p= with 0xff", m, DKIM_RESULT_PERMERROR, "bad key p=");
	}

	/* Signature with a corrupted b=: fails, not crashes. */
	sign_with(base_msg, TAGS("h=from"), 0, m, sizeof m);
	char *bp = strstr(m, "\r\n b=") + 5;
	*bp = *bp == 'A' ? 'B' : 'A';
	expect1("b= changed", m, DKIM_RESULT_FAIL, "signature did not verify");

	RSA_free(rsa_short);
}

/*
 * RFC 8616 §5: the signature of an internationalized message may write
 * d=, s= and the domain of i= as U-labels (A-labels stay valid). The key
 * is looked up at the A-label name, the header hash is over the field as
 * written, and d= and s= are reported as A-labels: what DNS and DMARC
 * (which aligns the From domain's A-labels) know the domain by. Runs
 * after test_branches (its Ed25519 key signs).
 */
static void test_idn(void)
{
	static const char msg[] = "From: Ann <ann@b\xc3\xbc" "cher.example>\r\n"
	                          "To: Bob <bob@example.net>\r\n"
	                          "Subject: lunch\r\n"
	                          "\r\n"
	                          "Noon?\r\n";
	char m[4096];
	struct dkim_sig_result r[2];

	table_set("ed._domainkey.xn--bcher-kva.example", rfc_ed_key);
	table_set("xn--schlssel-95a._domainkey.xn--bcher-kva.example", rfc_ed_key);
	table_set("strict._domainkey.xn--bcher-kva.example",
	          "v=DKIM1; k=ed25519; t=s; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");

#define IDN_TAGS(extra) "v=1; a=ed25519-sha256; c=relaxed/relaxed; h=from:to:subject; " extra
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=ed"), 0, m, sizeof m);
	CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
	CHECK_EQ_STR(dkim_result_name(r[0].result), "pass");
	CHECK_EQ_STR(r[0].d, "xn--bcher-kva.example");
	CHECK_EQ_STR(r[0].s, "ed");
	/* Capitals are the same domain, as in ASCII. */
	sign_with(msg, IDN_TAGS("d=B\xc3\x9c" "CHER.example; s=ed"), 0, m, sizeof m);
	expect1("U-label d= in capitals", m, DKIM_RESULT_PASS, NULL);
	/* A U-label selector, and i= in U-labels (RFC 6532 local part). */
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=schl\xc3\xbcssel; i=ann@b\xc3\xbc" "cher.example"),
	          0, m, sizeof m);
	CHECK_EQ_INT(verify(m, strlen(m), 0, NOW, r, 2), 1);
	CHECK_EQ_STR(dkim_result_name(r[0].result), "pass");
	CHECK_EQ_STR(r[0].s, "xn--schlssel-95a");
	/* i= in either spelling is d= itself for t=s, or a subdomain of it. */
	sign_with(msg, IDN_TAGS("d=xn--bcher-kva.example; s=strict; i=@b\xc3\xbc" "cher.example"), 0, m,
	          sizeof m);
	expect1("U-label i=, A-label d=, t=s", m, DKIM_RESULT_PASS, NULL);
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=strict; i=@xn--bcher-kva.example"), 0, m,
	          sizeof m);
	expect1("A-label i=, U-label d=, t=s", m, DKIM_RESULT_PASS, NULL);
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=ed; i=@post.b\xc3\xbc" "cher.example"), 0, m,
	          sizeof m);
	expect1("U-label i= in a subdomain", m, DKIM_RESULT_PASS, NULL);
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=strict; i=@post.b\xc3\xbc" "cher.example"), 0,
	          m, sizeof m);
	expect1("t=s, U-label i= in a subdomain", m, DKIM_RESULT_PERMERROR, "t=s");
	sign_with(msg, IDN_TAGS("d=b\xc3\xbc" "cher.example; s=ed; i=@b\xc3\xa4" "cher.example"), 0, m,
	          sizeof m);
	expect1("U-label i= of another domain", m, DKIM_RESULT_PERMERROR, "i= not in d=");
	/* Not UTF-8: no A-label, no domain. */
	sign_with(msg, IDN_TAGS("d=b\xff" "cher.example; s=ed"), 0, m, sizeof m);
	expect1("d= not UTF-8", m, DKIM_RESULT_PERMERROR, "bad d=");
#undef IDN_TAGS
}

/* tern's own signer (both algorithms, over-signing) verifies. */
static void test_own_signer(void)
{
	struct dkim_keys keys;
	struct buf out;
	struct dkim_sig_result r[4];
	char msg[4096], rec[2][1024];
	static char names[2][128];

	CHECK_EQ_INT(dkim_keys_generate(&keys, NOW), DKIM_OK);
	for (unsigned i = 0; i < 2; i++) {
		buf_init(&out, 4096);
		CHECK_EQ_INT(dkim_key_txt(&keys.key[i], &out), DKIM_OK);
		snprintf(rec[i], sizeof rec[i], "%s", buf_data(&out));
		snprintf(names[i], sizeof names[i], "%s._domainkey.example.org", keys.key[i].selector);
		table_set(names[i], rec[i]);
		buf_free(&out);
	}
	static const char m[] = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
	                        "Content-Type: text/plain\r\n\r\nbody\r\n";
	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(dkim_sign(&keys, "example.org", m, sizeof m - 1, NOW, &out), DKIM_OK);
	snprintf(msg, sizeof msg, "%s%s", buf_data(&out), m);
	size_t n = verify(msg, strlen(msg), 0, NOW + 10, r, 4);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_PASS);
	CHECK_EQ_INT(r[1].result, DKIM_RESULT_PASS);
	CHECK_EQ_INT(r[0].alg, DKIM_ALG_RSA_SHA256);
	/* Over-signed Subject: a second one added breaks both. */
	snprintf(msg, sizeof msg, "%sSubject: other\r\n%s", buf_data(&out), m);
	CHECK_EQ_INT(verify(msg, strlen(msg), 0, NOW + 10, r, 4), 2);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_FAIL);
	CHECK_EQ_INT(r[1].result, DKIM_RESULT_FAIL);
	buf_free(&out);
	dkim_keys_wipe(&keys);
}

/* ---- asynchronous answers ---- */

struct deferred {
	dns_answer_cb *cb;
	void *arg;
	char name[300];
	int cancelled;
};
static struct deferred deferred[4];
static size_t ndeferred;
static int woken;

static void *defer_start(void *ctx, const char *name, uint16_t type, dns_answer_cb *cb, void *arg)
{
	(void)ctx;
	CHECK_EQ_INT(type, DNS_T_TXT);
	deferred[ndeferred].cb = cb;
	deferred[ndeferred].arg = arg;
	snprintf(deferred[ndeferred].name, sizeof deferred[0].name, "%s", name);
	return &deferred[ndeferred++];
}

static void defer_cancel(void *ctx, void *h)
{
	(void)ctx;
	((struct deferred *)h)->cancelled = 1;
}

static void wake(void *arg)
{
	(void)arg;
	woken++;
}

/* A one-record TXT answer. */
static void answer_txt(struct deferred *d, const char *txt)
{
	static struct dns_answer a;
	struct dns_rr rr = {.type = DNS_T_TXT, .ttl = 60};
	dns_answer_init(&a, DNS_T_TXT, DNS_ANS_OK, 60);
	CHECK_EQ_INT(dns_answer_add(&a, &rr, txt, strlen(txt)), 0);
	d->cb(d->arg, &a);
}

static void test_async(void)
{
	struct dns_resolver r = {defer_start, defer_cancel, NULL};
	struct dkim_verifier *v = dkim_verifier_new(&r, NOW);

	dkim_verifier_update(v, rfc8463, sizeof rfc8463 - 1);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_WAIT);
	CHECK_EQ_INT(ndeferred, 2);
	CHECK_EQ_STR(deferred[0].name, "brisbane._domainkey.football.example.com");
	CHECK_EQ_STR(deferred[1].name, "test._domainkey.football.example.com");
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_WAIT);
	CHECK_EQ_INT(dkim_verifier_count(v), 0);
	answer_txt(&deferred[1], rfc_rsa_key);
	CHECK_EQ_INT(woken, 0);
	answer_txt(&deferred[0], rfc_ed_key);
	CHECK_EQ_INT(woken, 1);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_DONE);
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	CHECK_EQ_INT(dkim_verifier_result(v, 0)->result, DKIM_RESULT_PASS);
	CHECK_EQ_INT(dkim_verifier_result(v, 1)->result, DKIM_RESULT_PASS);
	dkim_verifier_free(&v);

	/* Freed while waiting: the lookups are cancelled. */
	ndeferred = 0;
	v = dkim_verifier_new(&r, NOW);
	dkim_verifier_update(v, rfc8463, sizeof rfc8463 - 1);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_WAIT);
	dkim_verifier_free(&v);
	CHECK_EQ_INT(deferred[0].cancelled + deferred[1].cancelled, 2);

	/* The caller's time runs out: one key came, the other is cut short
	 * (cancelled, temperror), and no wake comes for it. */
	ndeferred = 0;
	woken = 0;
	memset(deferred, 0, sizeof deferred);
	v = dkim_verifier_new(&r, NOW);
	dkim_verifier_update(v, rfc8463, sizeof rfc8463 - 1);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_WAIT);
	answer_txt(&deferred[1], rfc_rsa_key);
	CHECK_EQ_INT(dkim_verifier_expire(v), 1);
	CHECK_EQ_INT(deferred[0].cancelled, 1);
	CHECK_EQ_INT(deferred[1].cancelled, 0);
	CHECK_EQ_INT(woken, 0);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_DONE);
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	CHECK_EQ_INT(dkim_verifier_result(v, 0)->result, DKIM_RESULT_TEMPERROR);
	CHECK_EQ_INT(dkim_verifier_result(v, 1)->result, DKIM_RESULT_PASS);
	CHECK_EQ_INT(dkim_verifier_expire(v), 0); /* nothing left to cut */
	dkim_verifier_free(&v);

	/* Expired before run (the body still on the worker pool): nothing
	 * is asked, every signature is temperror. */
	ndeferred = 0;
	v = dkim_verifier_new(&r, NOW);
	dkim_verifier_update(v, rfc8463, sizeof rfc8463 - 1);
	CHECK_EQ_INT(dkim_verifier_expire(v), 2);
	CHECK_EQ_INT(dkim_verifier_run(v, wake, NULL), DKIM_VERIFY_DONE);
	CHECK_EQ_INT(ndeferred, 0);
	CHECK_EQ_INT(dkim_verifier_count(v), 2);
	CHECK_EQ_INT(dkim_verifier_result(v, 0)->result, DKIM_RESULT_TEMPERROR);
	CHECK_EQ_INT(dkim_verifier_result(v, 1)->result, DKIM_RESULT_TEMPERROR);
	dkim_verifier_free(&v);
}

/* ---- parsers ---- */

static void test_parsers(void)
{
	struct dkim_tag t[8];
	const char *why;
	struct dkim_pubkey k;

	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1; b = x y ;c=\r\n\tz;"), t, 8, &why), 3);
	CHECK_EQ_SLICE(t[1].value, "x y");
	CHECK_EQ_SLICE(t[2].value, "z");
	CHECK_EQ_INT(dkim_tags_parse(str_c("a="), t, 8, &why), 1);
	CHECK_EQ_INT(t[0].value.len, 0);
	CHECK_EQ_INT(dkim_tags_parse(str_c(""), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c(";"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1;;b=2"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1; a=2"), t, 8, &why), -1);
	CHECK_EQ_STR(why, "duplicate tag");
	CHECK_EQ_INT(dkim_tags_parse(str_c("1a=1"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a 1=1"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1\r\nb=2"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1\x7f"), t, 8, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a=1;b=2;c=3"), t, 2, &why), -1);
	CHECK_EQ_INT(dkim_tags_parse(str_c("a_1=x"), t, 8, &why), 1);

	CHECK_EQ_INT(dkim_pubkey_parse(str_c(rfc_ed_key), &k, &why), 0);
	CHECK_EQ_INT(k.type, DKIM_KEY_ED25519);
	CHECK_EQ_INT(k.plen, 32);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("k=rsa; v=DKIM1; p=AAAA"), &k, &why), -1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("v=DKIM2; p=AAAA"), &k, &why), -1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("k=dsa; p=AAAA"), &k, &why), -1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("k=rsa"), &k, &why), -1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("p=AAAA; t=y:s:x; s=email:web; h=sha1:sha256"), &k, &why), 0);
	CHECK(k.testing && k.strict && k.type == DKIM_KEY_RSA);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("p="), &k, &why), 0);
	CHECK_EQ_INT(k.revoked, 1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("k=ed25519; p=AAAA"), &k, &why), -1);
	CHECK_EQ_INT(dkim_pubkey_parse(str_c("p=A A\r\n A A"), &k, &why), 0);
	CHECK_EQ_INT(k.plen, 3);
}

/* RFC 6376 §3.4.5's example in simple form (the relaxed form is in
 * test_dkim.c). */
static void test_simple_canon(void)
{
	struct buf out, tee;
	struct dkim_body b;
	uint8_t h[32];
	static const char body[] = " C \r\nD \t E\r\n\r\n\r\n";

	buf_init(&out, 1024);
	CHECK_EQ_INT(dkim_canon_header_simple(str_c("B : Y\t\r\n\tZ  "), &out), 0);
	CHECK_EQ_SLICE(buf_str(&out), "B : Y\t\r\n\tZ  \r\n");
	buf_reset(&out);
	CHECK_EQ_INT(dkim_canon_header_simple(str_c("B: Y\n Z"), &out), 0);
	CHECK_EQ_SLICE(buf_str(&out), "B: Y\r\n Z\r\n");
	buf_free(&out);

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		buf_init(&tee, 1024);
		dkim_body_init_simple(&b);
		b.tee = &tee;
		if (bytewise)
			for (size_t i = 0; i < sizeof body - 1; i++)
				dkim_body_update(&b, body + i, 1);
		else
			dkim_body_update(&b, body, sizeof body - 1);
		dkim_body_final(&b, h);
		CHECK_EQ_SLICE(buf_str(&tee), " C \r\nD \t E\r\n");
		buf_free(&tee);
	}
	/* An empty body is one CRLF in simple form; no final CRLF gets one. */
	buf_init(&tee, 1024);
	dkim_body_init_simple(&b);
	b.tee = &tee;
	dkim_body_final(&b, h);
	CHECK_EQ_SLICE(buf_str(&tee), "\r\n");
	buf_reset(&tee);
	dkim_body_init_simple(&b);
	b.tee = &tee;
	b.limit = 3;
	dkim_body_update(&b, "abc def", 7);
	dkim_body_final(&b, h);
	CHECK_EQ_SLICE(buf_str(&tee), "abc"); /* l= cuts the hashed octets */
	CHECK_EQ_INT(b.length, 9);
	buf_free(&tee);
}

/* Many signatures: the first DKIM_VERIFY_SIGS_MAX evaluated, then one
 * neutral result stands for the rest. A huge header: one policy result. */
static void test_limits(void)
{
	struct buf m;
	struct dkim_sig_result r[DKIM_VERIFY_SIGS_MAX + 2];

	buf_init(&m, 1 << 20);
	for (int i = 0; i < 40; i++)
		buf_printf(&m, "DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=s%d; h=from; "
		               "bh=AAAA; b=AAAA\r\n", i);
	buf_append_c(&m, base_msg);
	size_t n = verify(buf_data(&m), buf_len(&m), 0, NOW, r, DKIM_VERIFY_SIGS_MAX + 2);
	CHECK_EQ_INT(n, DKIM_VERIFY_SIGS_MAX + 1);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_FAIL);
	CHECK_EQ_INT(r[DKIM_VERIFY_SIGS_MAX].result, DKIM_RESULT_NEUTRAL);
	CHECK_EQ_STR(r[DKIM_VERIFY_SIGS_MAX].s, "s16");

	buf_reset(&m);
	while (buf_len(&m) <= DKIM_HEADER_MAX)
		buf_append_c(&m, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	buf_append_c(&m, base_msg);
	n = verify(buf_data(&m), buf_len(&m), 0, NOW, r, 2);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(r[0].result, DKIM_RESULT_POLICY);
	buf_free(&m);
}

int main(void)
{
	test_parsers();
	test_simple_canon();
	test_rfc8463();
	test_branches();
	test_idn();
	test_own_signer();
	test_async();
	test_limits();
	buf_free(&table_text);
	return unit_done("test_dkim_verify");
}
