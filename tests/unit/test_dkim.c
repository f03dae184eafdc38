/*
 * test_dkim.c — DKIM: relaxed canonicalization (RFC 6376 §3.4.5 example and
 * edge cases, whole and one byte at a time), keys (generation, TXT values,
 * export/import, the RFC 8463 example key), the signer (format, streaming
 * equals one-shot, limits), the store's dkim records, `tern domain dns`,
 * and end-to-end verification of both algorithms by dkimpy (Debian
 * python3-dkim) and OpenDKIM (Debian opendkim), including messages that
 * must fail.
 */
#include <bearssl_hash.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "dkim/dkim.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

/* Prints a byte string with CR, LF and TAB visible. */
static void show(const char *label, const char *p, size_t n)
{
	fprintf(stderr, "  %s: \"", label);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '\t')
			fputs("\\t", stderr);
		else if (c < 32 || c == 127)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

static int check_bytes(const char *what, const char *got, size_t gn, const char *want, size_t wn)
{
	unit_checks++;
	if (gn == wn && memcmp(got, want, gn) == 0)
		return 1;
	unit_failures++;
	fprintf(stderr, "mismatch in %s\n", what);
	show("got ", got, gn);
	show("want", want, wn);
	return 0;
}

static void b64(const uint8_t *p, size_t n, char *out, size_t outsz)
{
	sodium_bin2base64(out, outsz, p, n, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- canonicalization ---- */

static void body_case(const char *in, size_t inlen, const char *want)
{
	struct dkim_body b;
	struct buf tee, tee1;
	uint8_t h[32], h1[32], hw[32];
	br_sha256_context sha;

	buf_init(&tee, 4 << 20);
	buf_init(&tee1, 4 << 20);
	dkim_body_init(&b);
	b.tee = &tee;
	dkim_body_update(&b, in, inlen);
	dkim_body_final(&b, h);
	check_bytes("body (whole)", buf_data(&tee), buf_len(&tee), want, strlen(want));
	CHECK_EQ_INT(b.length, strlen(want));

	/* One byte at a time gives the same octets and hash. */
	dkim_body_init(&b);
	b.tee = &tee1;
	for (size_t i = 0; i < inlen; i++)
		dkim_body_update(&b, in + i, 1);
	dkim_body_final(&b, h1);
	check_bytes("body (bytewise)", buf_data(&tee1), buf_len(&tee1), want, strlen(want));
	CHECK(memcmp(h, h1, 32) == 0);

	br_sha256_init(&sha);
	br_sha256_update(&sha, want, strlen(want));
	br_sha256_out(&sha, hw);
	CHECK(memcmp(h, hw, 32) == 0);
	buf_free(&tee);
	buf_free(&tee1);
}

#define BODY(in, want) body_case(in, sizeof(in) - 1, want)

static void header_case(const char *raw, const char *want)
{
	struct buf out;

	buf_init(&out, 1 << 16);
	buf_append_c(&out, "prefix"); /* appends, never replaces */
	int rc = dkim_canon_header(str_c(raw), &out);
	if (want == NULL) {
		CHECK_EQ_INT(rc, -1);
		CHECK_EQ_INT(buf_len(&out), 6);
	} else {
		CHECK_EQ_INT(rc, 0);
		if (buf_len(&out) >= 6)
			check_bytes(raw, buf_data(&out) + 6, buf_len(&out) - 6, want, strlen(want));
	}
	buf_free(&out);
}

static void test_canon(void)
{
	/* RFC 6376 §3.4.5 example. */
	header_case("A: X", "a:X\r\n");
	header_case("B : Y\t\r\n\tZ  ", "b:Y Z\r\n");
	BODY(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");

	/* Header fields. */
	header_case("SUBJECT: Hello World", "subject:Hello World\r\n");
	header_case("Subject: trailing \t \r\n", "subject:trailing\r\n");
	header_case("Subject:no-space", "subject:no-space\r\n");
	header_case("Subject:", "subject:\r\n");
	header_case("Subject:   \r\n\t  \r\n ", "subject:\r\n");
	header_case("To: a@example.com,\r\n b@example.com,\r\n\tc@example.com",
	            "to:a@example.com, b@example.com, c@example.com\r\n");
	header_case("To: a,\n  b", "to:a, b\r\n");            /* bare LF fold */
	header_case("X-Fold: a\r\n\r\n b", "x-fold:a b\r\n"); /* stray empty line */
	header_case("X-Cr: a\rb", "x-cr:a\rb\r\n");           /* lone CR is content */
	header_case("Content-Type: text/plain;\r\n\tcharset=\"utf-8\"",
	            "content-type:text/plain; charset=\"utf-8\"\r\n");
	header_case("Subject: Grüße  aus\tKöln", "subject:Grüße aus Köln\r\n");
	header_case("X-Colons: a: b :c", "x-colons:a: b :c\r\n");
	header_case("no colon here", NULL);
	header_case("bad name: x", NULL);
	header_case("", NULL);

	/* Bodies. */
	BODY("", "");
	BODY("\r\n", "");
	BODY("\r\n\r\n\r\n", "");
	BODY("  \t\r\n \r\n", "");
	BODY("abc", "abc\r\n");
	BODY("abc  \t", "abc\r\n");
	BODY("abc\r\n", "abc\r\n");
	BODY("abc\r\n\r\n\r\n", "abc\r\n");
	BODY("abc \r\n  \r\n", "abc\r\n");
	BODY("a\r\n  \r\nb", "a\r\n\r\nb\r\n");
	BODY("a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n");
	BODY(" \t x\t\ty  z \r\n", " x y z\r\n");
	BODY("a\nb\n\n", "a\r\nb\r\n"); /* bare LF */
	BODY("a\rb\r\n", "a\rb\r\n");   /* lone CR */
	BODY("a \rb\r\n", "a \rb\r\n"); /* WSP before a lone CR stays */
	BODY("x\r", "x\r\r\n");         /* a CR at the very end */
	BODY("\r", "\r\r\n");
	BODY("\r\r\n", "\r\r\n");
	BODY("x\r\n\r", "x\r\n\r\r\n");
	BODY("\xc3\xa4\t\xe2\x98\x95 \r\n", "\xc3\xa4 \xe2\x98\x95\r\n");
	/* Single SPs between words (one run) beside runs, TABs and ends. */
	BODY("a b c\r\n", "a b c\r\n");
	BODY("a b  c d\te f \r\ng h\r\n", "a b c d e f\r\ng h\r\n");
	BODY("a b \t", "a b\r\n");
	BODY("a b", "a b\r\n");
	BODY("w1 w2 \rw3 \n", "w1 w2 \rw3\r\n");
	BODY("a \tb c\t d e\r\n \r\n", "a b c d e\r\n");

	/* Known values: the empty body, and RFC 8463's example body. */
	{
		struct dkim_body b;
		uint8_t h[32];
		char s[64];
		static const char ex[] = "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\n"
		                         "Joe.\r\n";

		dkim_body_init(&b);
		dkim_body_final(&b, h);
		b64(h, 32, s, sizeof s);
		CHECK_EQ_STR(s, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
		dkim_body_init(&b);
		dkim_body_update(&b, ex, sizeof ex - 1);
		dkim_body_final(&b, h);
		b64(h, 32, s, sizeof s);
		CHECK_EQ_STR(s, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	}

	/* Splitting a header section into fields. */
	{
		static const char sec[] = "A: 1\r\nB: 2\r\n 3\r\n\tx\nC: 4\n \nD:5";
		const char *want[] = {"A: 1", "B: 2\r\n 3\r\n\tx", "C: 4\n ", "D:5"};
		struct str f;
		size_t pos = 0;
		int n = 0;

		while (dkim_header_next(str_make(sec, sizeof sec - 1), &pos, &f)) {
			if (n < 4)
				check_bytes("field", f.p, f.len, want[n], strlen(want[n]));
			n++;
		}
		CHECK_EQ_INT(n, 4);
		CHECK_EQ_SLICE(dkim_field_name(str_c("Subject \t: x")), "Subject");
		CHECK(dkim_field_name(str_c("none")).p == NULL);
		CHECK(dkim_field_name(str_c(": empty name")).p == NULL);
		CHECK(dkim_field_name(str_c(" Subject: x")).p == NULL);
		CHECK(dkim_field_name(str_c("Sub ject: x")).p == NULL);
		CHECK(dkim_field_name(str_c("Sub\r\n ject: x")).p == NULL);
		CHECK(dkim_field_name(str_c("Sub\xc3\xa4: x")).p == NULL);
	}
}

/* ---- keys ---- */

static void test_keys(struct dkim_keys *keys, int64_t now)
{
	struct buf txt;
	uint8_t ex[DKIM_KEY_EXPORT_MAX], ex2[DKIM_KEY_EXPORT_MAX];
	size_t n, n2;
	struct dkim_key k;

	CHECK_EQ_INT(dkim_keys_generate(keys, now), DKIM_OK);
	CHECK_EQ_INT(keys->n, 2);
	CHECK_EQ_INT(keys->key[0].alg, DKIM_ALG_RSA_SHA256);
	CHECK_EQ_INT(keys->key[1].alg, DKIM_ALG_ED25519_SHA256);
	CHECK_EQ_INT(keys->key[0].rsa_bits, 2048);
	CHECK_EQ_INT(keys->key[0].created_at, now);

	/* Selectors name the month (UTC). */
	struct dkim_key s1;
	CHECK_EQ_INT(dkim_key_generate(&s1, DKIM_ALG_ED25519_SHA256, 1735689599), DKIM_OK);
	CHECK_EQ_STR(s1.selector, "tern-ed-202412"); /* 2024-12-31 23:59:59 */
	CHECK_EQ_INT(dkim_key_generate(&s1, DKIM_ALG_ED25519_SHA256, 1735689600), DKIM_OK);
	CHECK_EQ_STR(s1.selector, "tern-ed-202501");
	CHECK_EQ_INT(dkim_key_generate(&s1, (enum dkim_alg)9, now), DKIM_EINVAL);

	/* Two generations never give the same key. */
	struct dkim_keys other;
	CHECK_EQ_INT(dkim_keys_generate(&other, now), DKIM_OK);
	CHECK(memcmp(other.key[0].rsa_priv, keys->key[0].rsa_priv, 64) != 0);
	CHECK(memcmp(other.key[1].ed_sk, keys->key[1].ed_sk, 64) != 0);
	dkim_keys_wipe(&other);

	buf_init(&txt, 4096);
	CHECK_EQ_INT(dkim_key_txt(&keys->key[0], &txt), DKIM_OK);
	/* SPKI of a 2048-bit key with e = 65537: fixed prefix and suffix. */
	CHECK(strncmp(buf_data(&txt),
	              "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 62) == 0);
	CHECK_EQ_INT(buf_len(&txt), 18 + 392);
	CHECK(strcmp(buf_data(&txt) + buf_len(&txt) - 6, "IDAQAB") == 0);
	buf_reset(&txt);
	CHECK_EQ_INT(dkim_key_txt(&keys->key[1], &txt), DKIM_OK);
	CHECK(strncmp(buf_data(&txt), "v=DKIM1; k=ed25519; p=", 22) == 0);
	CHECK_EQ_INT(buf_len(&txt), 22 + 44);

	/* A full buffer is reported. */
	struct buf small;
	buf_init(&small, 40);
	CHECK_EQ_INT(dkim_key_txt(&keys->key[0], &small), DKIM_ETOOBIG);
	buf_free(&small);

	/* Export and import give the same key back. */
	for (unsigned i = 0; i < 2; i++) {
		const struct dkim_key *o = &keys->key[i];
		CHECK_EQ_INT(dkim_key_export(o, ex, sizeof ex, &n), DKIM_OK);
		CHECK_EQ_INT(dkim_key_import(&k, o->alg, o->selector, o->created_at, ex, n),
		             DKIM_OK);
		CHECK_EQ_INT(dkim_key_export(&k, ex2, sizeof ex2, &n2), DKIM_OK);
		CHECK(n == n2 && memcmp(ex, ex2, n) == 0);
		CHECK_EQ_STR(k.selector, o->selector);
		CHECK(memcmp(&k, o, sizeof k) == 0);
		CHECK_EQ_INT(dkim_key_export(o, ex2, n - 1, &n2), DKIM_ETOOBIG);
		CHECK_EQ_INT(dkim_key_import(&k, o->alg, "bad selector", 0, ex, n), DKIM_EINVAL);
		CHECK_EQ_INT(dkim_key_import(&k, o->alg, o->selector, 0, ex, n - 1), DKIM_EINVAL);
		CHECK_EQ_INT(dkim_key_import(&k, o->alg, o->selector, 0, ex, 0), DKIM_EINVAL);
	}
	CHECK_EQ_INT(dkim_key_export(&keys->key[0], ex, sizeof ex, &n), DKIM_OK);
	CHECK_EQ_INT(n, 2 + 4 + 5 * 2 + 5 * 128);
	/* A damaged RSA factor is caught on import. */
	ex[2 + 4 + 2 + 60] ^= 0x10;
	CHECK_EQ_INT(dkim_key_import(&k, DKIM_ALG_RSA_SHA256, "s", 0, ex, n), DKIM_EINVAL);
	ex[2 + 4 + 2 + 60] ^= 0x10;
	ex[5] ^= 2; /* exponent 65539 */
	CHECK_EQ_INT(dkim_key_import(&k, DKIM_ALG_RSA_SHA256, "s", 0, ex, n), DKIM_EINVAL);
	CHECK_EQ_INT(dkim_key_import(&k, DKIM_ALG_RSA_SHA256, "s", 0, ex, 3), DKIM_EINVAL);
	CHECK_EQ_INT(dkim_key_import(&k, (enum dkim_alg)7, "s", 0, ex, 32), DKIM_EINVAL);

	/* RFC 8463 Appendix A: the example seed gives the published key. */
	uint8_t seed[32];
	size_t sl;
	CHECK_EQ_INT(sodium_base642bin(seed, sizeof seed,
	                               "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", 44, NULL,
	                               &sl, NULL, sodium_base64_VARIANT_ORIGINAL),
	             0);
	CHECK_EQ_INT(dkim_key_import(&k, DKIM_ALG_ED25519_SHA256, "brisbane", 0, seed, 32),
	             DKIM_OK);
	buf_reset(&txt);
	CHECK_EQ_INT(dkim_key_txt(&k, &txt), DKIM_OK);
	CHECK_EQ_STR(buf_data(&txt),
	             "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	buf_free(&txt);

	/* Names. */
	CHECK(dkim_selector_ok("tern-rsa-202501"));
	CHECK(dkim_selector_ok("a.b"));
	CHECK(dkim_selector_ok("mail_2024"));
	CHECK(dkim_selector_ok("_a.b_"));
	CHECK(!dkim_domain_ok("mail_2024.example.org"));
	CHECK(!dkim_selector_ok("-a"));
	CHECK(!dkim_selector_ok("a-"));
	CHECK(!dkim_selector_ok("a..b"));
	CHECK(!dkim_selector_ok(""));
	CHECK(!dkim_selector_ok("a b"));
	CHECK(dkim_domain_ok("example.com"));
	CHECK(dkim_domain_ok("Mail.Example.COM"));
	CHECK(!dkim_domain_ok("localhost"));
	CHECK(!dkim_domain_ok("exa mple.com"));
	CHECK(!dkim_domain_ok("b\xc3\xa4r.de"));
	CHECK(!dkim_domain_ok("example.com."));
	/* d= is the A-label form (RFC 8616 §4). */
	char d[DKIM_DOMAIN_MAX + 1];
	CHECK_EQ_INT(dkim_domain_ascii("b\303\274cher.Test", d), 0);
	CHECK_EQ_STR(d, "xn--bcher-kva.test");
	CHECK_EQ_INT(dkim_domain_ascii("XN--bcher-kva.test", d), 0);
	CHECK_EQ_STR(d, "xn--bcher-kva.test");
	CHECK_EQ_INT(dkim_domain_ascii("Mail.Example.COM", d), 0);
	CHECK_EQ_STR(d, "mail.example.com");
	CHECK_EQ_INT(dkim_domain_ascii("b\303\274cher", d), -1); /* one label */
	CHECK_EQ_INT(dkim_domain_ascii("b\303.test", d), -1);    /* bad UTF-8 */
	CHECK_EQ_INT(dkim_domain_ascii("exa mple.com", d), -1);
	CHECK_EQ_INT(dkim_domain_ascii("", d), -1);
}

/* ---- signer ---- */

/* Every line of the output is at most 78 octets and ends in CRLF; fields
 * start with "DKIM-Signature:"; returns the number of fields. */
static int sig_shape(const char *p, size_t n)
{
	int fields = 0;
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		CHECK(i > start && p[i - 1] == '\r');
		CHECK(i - start - 1 <= 78);
		if (strncmp(p + start, "DKIM-Signature: ", 16) == 0)
			fields++;
		else
			CHECK(p[start] == '\t');
		start = i + 1;
	}
	CHECK_EQ_INT(start, n);
	return fields;
}

/* Signs msg whole and in chunks of size step; both must be identical
 * (both algorithms are deterministic). Appends the fields to out. */
static int sign_both_ways(const struct dkim_keys *keys, const char *domain, const char *msg,
                          size_t len, int64_t now, struct buf *out)
{
	struct dkim_signer s;
	struct buf one, two;
	int rc;

	buf_init(&one, 1 << 20);
	buf_init(&two, 1 << 20);
	rc = dkim_sign(keys, domain, msg, len, now, &one);
	CHECK_EQ_INT(rc, DKIM_OK);
	static const size_t steps[] = {1, 2, 7, 4096};
	for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
		size_t step = steps[si];
		if (step < 4096 && len > 200000)
			continue; /* bytewise over a MiB is slow under ASan */
		buf_reset(&two);
		CHECK_EQ_INT(dkim_signer_init(&s, keys, domain, now), DKIM_OK);
		for (size_t off = 0; off < len; off += step)
			CHECK_EQ_INT(
			    dkim_signer_update(&s, msg + off, len - off < step ? len - off : step),
			    DKIM_OK);
		CHECK_EQ_INT(dkim_signer_final(&s, &two), DKIM_OK);
		dkim_signer_clear(&s);
		check_bytes("streamed signature", buf_data(&two), buf_len(&two), buf_data(&one),
		            buf_len(&one));
	}
	CHECK_EQ_INT(sig_shape(buf_data(&one), buf_len(&one)), (int)keys->n);
	buf_append(out, buf_data(&one), buf_len(&one));
	buf_free(&one);
	buf_free(&two);
	return rc;
}

static void test_signer(const struct dkim_keys *keys)
{
	static const char msg[] = "From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n"
	                          "Subject: again\r\n\r\nbody\r\n";
	struct buf out;
	struct dkim_signer s;

	buf_init(&out, 1 << 20);
	CHECK_EQ_INT(sign_both_ways(keys, "Example.COM", msg, sizeof msg - 1, 1736000000, &out),
	             DKIM_OK);
	/* Look at it unfolded. */
	struct buf u;
	buf_init(&u, 1 << 20);
	for (size_t i = 0; i < buf_len(&out); i++) {
		if (strncmp(buf_data(&out) + i, "\r\n\t", 3) == 0)
			i += 2;
		else
			buf_append(&u, buf_data(&out) + i, 1);
	}
	const char *o = buf_data(&u);
	CHECK(strstr(o, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;") ==
	      o);
	CHECK(strstr(o, "a=ed25519-sha256;") != NULL);
	CHECK(strstr(o, "t=1736000000;") != NULL);
	CHECK(strstr(o, "s=tern-rsa-") != NULL && strstr(o, "s=tern-ed-") != NULL);
	/* From, To, Subject (twice) present: each listed once more; Reply-To
	 * and Cc absent but over-signed; absent optional ones not listed. */
	CHECK(strstr(o, "h=from:from:reply-to:subject:subject:subject:to:to:cc;") != NULL);
	CHECK(strstr(o, ":date") == NULL && strstr(o, "message-id") == NULL);
	CHECK(strstr(o, "bh=") != NULL && strstr(buf_data(&out), "\r\n\tb=") != NULL);
	buf_free(&u);

	/* Bad arguments. */
	buf_reset(&out);
	CHECK_EQ_INT(dkim_sign(keys, "localhost", msg, sizeof msg - 1, 0, &out), DKIM_EINVAL);
	CHECK_EQ_INT(dkim_sign(keys, "", msg, sizeof msg - 1, 0, &out), DKIM_EINVAL);
	struct dkim_keys none = {0};
	CHECK_EQ_INT(dkim_sign(&none, "example.com", msg, sizeof msg - 1, 0, &out), DKIM_EINVAL);
	CHECK_EQ_INT(dkim_signer_init(&s, &none, "example.com", 0), DKIM_EINVAL);
	CHECK_EQ_INT(dkim_signer_update(&s, "x", 1), DKIM_EINVAL);
	dkim_signer_clear(&s);
	CHECK_EQ_INT(buf_len(&out), 0);

	/* A header section over the limit fails, and sticks. */
	size_t big = (DKIM_HEADER_MAX / 100 + 1) * 100;
	char *h = malloc(big);
	for (size_t i = 0; i < big; i += 100) {
		memset(h + i, 'x', 100);
		memcpy(h + i, "X-Filler: ", 10);
		memcpy(h + i + 98, "\r\n", 2);
	}
	CHECK_EQ_INT(dkim_signer_init(&s, keys, "example.com", 0), DKIM_OK);
	CHECK_EQ_INT(dkim_signer_update(&s, h, big), DKIM_ETOOBIG);
	CHECK_EQ_INT(dkim_signer_update(&s, "\r\nbody\r\n", 8), DKIM_ETOOBIG);
	CHECK_EQ_INT(dkim_signer_final(&s, &out), DKIM_ETOOBIG);
	CHECK_EQ_INT(dkim_signer_update(&s, "x", 1), DKIM_EINVAL);
	dkim_signer_clear(&s);
	CHECK_EQ_INT(buf_len(&out), 0);
	/* Abandoned half-way: clear frees (ASan's leak check). */
	CHECK_EQ_INT(dkim_signer_init(&s, keys, "example.com", 0), DKIM_OK);
	CHECK_EQ_INT(dkim_signer_update(&s, h, 5000), DKIM_OK);
	dkim_signer_clear(&s);
	free(h);

	/* An output buffer too small is left as it was. */
	struct buf tiny;
	buf_init(&tiny, 300);
	buf_append_c(&tiny, "keep");
	CHECK_EQ_INT(dkim_sign(keys, "example.com", msg, sizeof msg - 1, 0, &tiny), DKIM_ETOOBIG);
	CHECK_EQ_STR(buf_data(&tiny), "keep");
	buf_free(&tiny);

	/* Many instances: h= grows and still folds within 78 octets. */
	struct buf many;
	buf_init(&many, 1 << 20);
	buf_append_c(&many, "From: a@example.com\r\n");
	for (int i = 0; i < 200; i++)
		buf_printf(&many, "To: r%d@example.net\r\n", i);
	buf_append_c(&many, "\r\nx\r\n");
	buf_reset(&out);
	CHECK_EQ_INT(sign_both_ways(keys, "example.com", buf_data(&many), buf_len(&many), 0, &out),
	             DKIM_OK);
	buf_free(&many);
	buf_free(&out);
}

/* ---- store and CLI ---- */

/* Runs cli_domain with stdout and stderr captured into out; returns its status. */
static int run_cli_domain(const struct config *cfg, const char *verb, const char *domain,
                          struct buf *out)
{
	char path[300], *argv[] = {(char *)verb, (char *)domain, NULL};
	snprintf(path, sizeof path, "%s/cli.out", base);
	return unit_cli_capture(cli_domain, cfg, 2, argv, path, out);
}

static void test_store_and_cli(const struct dkim_keys *keys)
{
	char dir[300], err[256];
	struct store *st = NULL;
	struct dkim_keys got;
	uint8_t a[DKIM_KEY_EXPORT_MAX], b[DKIM_KEY_EXPORT_MAX];
	size_t an, bn;

	snprintf(dir, sizeof dir, "%s/store", base);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ_INT(store_dkim_put(st, "example.com", keys, 0, err, sizeof err), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "example.com", &got), STORE_ENOTFOUND);
	CHECK_EQ_INT(got.n, 0);
	CHECK_EQ_INT(store_dkim_put(st, "Example.COM", keys, 0, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "EXAMPLE.com", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2);
	for (unsigned i = 0; i < 2 && got.n == 2; i++) {
		CHECK_EQ_STR(got.key[i].selector, keys->key[i].selector);
		CHECK_EQ_INT(got.key[i].alg, keys->key[i].alg);
		CHECK_EQ_INT(got.key[i].created_at, keys->key[i].created_at);
		CHECK_EQ_INT(dkim_key_export(&got.key[i], a, sizeof a, &an), DKIM_OK);
		CHECK_EQ_INT(dkim_key_export(&keys->key[i], b, sizeof b, &bn), DKIM_OK);
		CHECK(an == bn && memcmp(a, b, an) == 0);
	}
	dkim_keys_wipe(&got);
	/* Read again: this thread's decoded copy of the same record. */
	CHECK_EQ_INT(store_dkim_get(st, "example.com", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2);
	for (unsigned i = 0; i < 2 && got.n == 2; i++) {
		CHECK_EQ_STR(got.key[i].selector, keys->key[i].selector);
		CHECK_EQ_INT(dkim_key_export(&got.key[i], a, sizeof a, &an), DKIM_OK);
		CHECK_EQ_INT(dkim_key_export(&keys->key[i], b, sizeof b, &bn), DKIM_OK);
		CHECK(an == bn && memcmp(a, b, an) == 0);
	}
	dkim_keys_wipe(&got);
	CHECK_EQ_INT(store_dkim_put(st, "example.com", keys, 0, err, sizeof err), STORE_EEXIST);
	struct dkim_keys one = *keys;
	one.n = 1;
	CHECK_EQ_INT(store_dkim_put(st, "example.com", &one, 1, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "example.com", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 1); /* the replaced record, not the remembered one */
	struct dkim_keys zero = {0};
	CHECK_EQ_INT(store_dkim_put(st, "example.com", &zero, 1, err, sizeof err), STORE_EINVAL);
	CHECK_EQ_INT(store_dkim_put(st, "bad domain", keys, 1, err, sizeof err), STORE_EINVAL);
	CHECK_EQ_INT(store_domain_del(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "example.com", &got), STORE_ENOTFOUND);
	/* Re-added: no keys until someone makes them. */
	CHECK_EQ_INT(store_domain_add(st, "example.com", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "example.com", &got), STORE_ENOTFOUND);
	/* Domain and keys in one write: both or, on any refusal, neither. */
	CHECK_EQ_INT(store_domain_add_dkim(st, "both.example", keys, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_is_local(st, "both.example"), 1);
	CHECK_EQ_INT(store_dkim_get(st, "both.example", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2);
	dkim_keys_wipe(&got);
	CHECK_EQ_INT(store_domain_add_dkim(st, "both.example", &one, err, sizeof err), STORE_EEXIST);
	CHECK_EQ_INT(store_dkim_get(st, "both.example", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2); /* the existing domain's keys stay */
	dkim_keys_wipe(&got);
	CHECK_EQ_INT(store_domain_add_dkim(st, "none.example", &zero, err, sizeof err), STORE_EINVAL);
	CHECK_EQ_INT(store_domain_is_local(st, "none.example"), 0);
	/* A domain added by an older build (no keys), for the CLI below. */
	CHECK_EQ_INT(store_domain_add(st, "old.example", err, sizeof err), STORE_OK);
	store_close(&st);

	/* The CLI: add makes keys, dns prints them, old domains get keys. */
	struct config cfg;
	struct buf out;
	setenv("TERN_DATA_DIR", dir, 1);
	setenv("TERN_HOSTNAME", "mail.example.com", 1);
	unsetenv("TERN_LISTEN_POP3");
	setenv("TERN_LISTEN_IMAP", "", 1); /* disabled: "not offered" SRV */
	CHECK_EQ_INT(config_load(&cfg, err, sizeof err), 0);
	hostname_set(cfg.hostname); /* as main() does before any command */
	buf_init(&out, 1 << 16);

	CHECK_EQ_INT(run_cli_domain(&cfg, "add", "new.example", &out), 0);
	CHECK(strstr(buf_data(&out), "new.example: added") != NULL);
	CHECK(strstr(buf_data(&out), "tern-rsa-") != NULL);
	CHECK_EQ_INT(run_cli_domain(&cfg, "dns", "New.Example", &out), 0);
	const char *o = buf_data(&out);
	CHECK(strstr(o, "new.example.\tIN\tMX\t10 mail.example.com.\n") != NULL);
	CHECK(strstr(o, "new.example.\tIN\tTXT\t\"v=spf1 mx -all\"\n") != NULL);
	CHECK(strstr(o, "._domainkey.new.example.\tIN\tTXT\t\"v=DKIM1; k=rsa; p=MIIBIjAN") != NULL);
	CHECK(strstr(o, "._domainkey.new.example.\tIN\tTXT\t\"v=DKIM1; k=ed25519; p=") != NULL);
	CHECK(strstr(o, "_dmarc.new.example.\tIN\tTXT\t\"v=DMARC1;") != NULL);
	CHECK(strstr(o, "_submissions._tcp.new.example.\tIN\tSRV\t0 1 465 mail.example.com.\n"));
	CHECK(strstr(o, "_submission._tcp.new.example.\tIN\tSRV\t10 1 587 mail.example.com.\n"));
	CHECK(strstr(o, "_imaps._tcp.new.example.\tIN\tSRV\t0 1 993 mail.example.com.\n"));
	CHECK(strstr(o, "_imap._tcp.new.example.\tIN\tSRV\t0 0 0 .\n"));
	CHECK(strstr(o, "_pop3s._tcp.new.example.\tIN\tSRV\t20 1 995 mail.example.com.\n"));
	CHECK(strstr(o, "_pop3._tcp.new.example.\tIN\tSRV\t30 1 110 mail.example.com.\n"));
	CHECK(strstr(o, "_sieve._tcp.new.example.\tIN\tSRV\t0 1 4190 mail.example.com.\n"));
	CHECK(strstr(o, "_jmap._tcp.new.example.\tIN\tSRV\t0 1 443 mail.example.com.\n"));
	CHECK(strstr(o, "autoconfig.new.example.\tIN\tCNAME\tmail.example.com.\n"));
	CHECK(strstr(o, "autodiscover.new.example.\tIN\tCNAME\tmail.example.com.\n"));
	/* Long TXT values are split into strings of at most 255 octets. */
	CHECK(strstr(o, "\" \"") != NULL);

	/* The printed records are those of the stored keys, every time. */
	struct buf again;
	buf_init(&again, 1 << 16);
	CHECK_EQ_INT(run_cli_domain(&cfg, "dns", "new.example", &again), 0);
	CHECK(buf_len(&again) == buf_len(&out) && memcmp(buf_data(&again), o, buf_len(&out)) == 0);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "new.example", &got), STORE_OK);
	store_close(&st);
	struct buf txt;
	buf_init(&txt, 4096);
	dkim_key_txt(&got.key[1], &txt);
	CHECK(strstr(o, buf_data(&txt)) != NULL);
	dkim_keys_wipe(&got);
	buf_free(&txt);

	CHECK_EQ_INT(run_cli_domain(&cfg, "dns", "old.example", &out), 0);
	CHECK(strstr(buf_data(&out), "._domainkey.old.example.") != NULL);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "old.example", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2);
	dkim_keys_wipe(&got);
	store_close(&st);

	/* dkim-import into a domain without keys (added by an older build): a
	 * set is made first, the imported key then takes its algorithm's place,
	 * so a move from OpenDKIM needs no `domain dns` before it. */
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_domain_add(st, "keyless.example", err, sizeof err), STORE_OK);
	store_close(&st);
	char seed[300], cli_out[300];
	char *imp[] = {"dkim-import", "keyless.example", "odk", seed, NULL};
	snprintf(seed, sizeof seed, "%s/seed.txt", base);
	snprintf(cli_out, sizeof cli_out, "%s/cli.out", base);
	FILE *sf = fopen(seed, "w");
	CHECK(sf != NULL);
	if (sf) {
		fputs("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n", sf); /* rspamd's form */
		fclose(sf);
	}
	CHECK_EQ_INT(unit_cli_capture(cli_domain, &cfg, 4, imp, cli_out, &out), 0);
	CHECK(strstr(buf_data(&out), "DKIM ed25519-sha256 key imported as selector odk") != NULL);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_dkim_get(st, "keyless.example", &got), STORE_OK);
	CHECK_EQ_INT(got.n, 2);
	for (unsigned i = 0; i < got.n; i++)
		if (got.key[i].alg == DKIM_ALG_ED25519_SHA256)
			CHECK_EQ_STR(got.key[i].selector, "odk");
	dkim_keys_wipe(&got);
	store_close(&st);

	CHECK(run_cli_domain(&cfg, "dns", "unknown.example", &out) != 0);
	CHECK(strstr(buf_data(&out), "no domain unknown.example") != NULL);
	CHECK_EQ_INT(run_cli_domain(&cfg, "del", "new.example", &out), 0);
	CHECK(run_cli_domain(&cfg, "dns", "new.example", &out) != 0);
	CHECK(strstr(buf_data(&out), "_domainkey") == NULL);
	buf_free(&out);
	buf_free(&again);
	unsetenv("TERN_LISTEN_IMAP");
}

/* ---- end to end with dkimpy ---- */

static const char *python_with_dkim(void)
{
	/* Debian's python3-dkim lives in the system interpreter; a python3
	 * earlier in PATH (pyenv, venv) may not see it. */
	static const char *const cands[] = {"/usr/bin/python3", "python3"};
	char cmd[200];

	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		snprintf(cmd, sizeof cmd, "%s -c 'import dkim, nacl' >/dev/null 2>&1", cands[i]);
		if (system(cmd) == 0)
			return cands[i];
	}
	return NULL;
}

static const char verify_py[] =
    "import os, sys\n"
    "import dkim\n"
    "d = sys.argv[1]\n"
    "keys = {}\n"
    "for line in open(os.path.join(d, 'keys.txt'), 'rb'):\n"
    "    name, val = line.rstrip(b'\\n').split(b'\\t', 1)\n"
    "    keys[name] = val\n"
    "def dnsfunc(name, timeout=5):\n"
    "    if isinstance(name, str):\n"
    "        name = name.encode()\n"
    "    return keys.get(name)\n"
    "wrong = 0\n"
    "for line in open(os.path.join(d, 'manifest.txt')):\n"
    "    fn, expect, algs = line.split()\n"
    "    algs = algs.split(',')\n"
    "    msg = open(os.path.join(d, fn), 'rb').read()\n"
    "    res, why = [], []\n"
    "    for i, alg in enumerate(algs):\n"
    "        v = dkim.DKIM(msg)\n"
    "        try:\n"
    "            ok = bool(v.verify(idx=i, dnsfunc=dnsfunc))\n"
    "        except dkim.DKIMException as e:\n"
    "            ok = False\n"
    "            why.append('%d: %s %s' % (i, type(e).__name__, e))\n"
    "        got = v.signature_fields.get(b'a', b'?').decode()\n"
    "        if got != alg:\n"
    "            why.append('%d: algorithm %s, expected %s' % (i, got, alg))\n"
    "            ok = None\n"
    "        res.append(ok)\n"
    "    extra = dkim.DKIM(msg).verify(idx=len(algs), dnsfunc=dnsfunc)\n"
    "    good = (all(r is True for r in res) if expect == 'pass'\n"
    "            else all(r is False for r in res)) and not extra\n"
    "    print('%-5s %-28s expect=%s %s' % ('ok' if good else 'WRONG', fn, expect,\n"
    "          ' '.join('%s=%s' % (a, r) for a, r in zip(algs, res))))\n"
    "    if not good:\n"
    "        for w in why:\n"
    "            print('     ', w)\n"
    "    wrong += not good\n"
    "sys.exit(1 if wrong else 0)\n";

/*
 * The same messages through OpenDKIM's verifier (Debian opendkim, run as
 * `opendkim -t FILE` with the keys from a file: no DNS). It names one
 * signature per message, the first: the RSA one, then again with the
 * RSA field cut out so that the Ed25519 one is judged. Two messages are
 * not OpenDKIM's to judge: one without From (it refuses to verify such a
 * message, as RFC 6376 §6.1.1 lets it) and one whose body ends without
 * CRLF (its test mode reports such a file unsigned; SMTP never carries
 * one).
 */
static const char verify_odk_py[] =
    "import os, re, shutil, subprocess, sys\n"
    "if not shutil.which('opendkim'):\n"
    "    sys.exit('opendkim (Debian opendkim) is missing: run scripts/install-test-deps')\n"
    "d = sys.argv[1]\n"
    "with open(os.path.join(d, 'odk.keys'), 'w') as f:\n"
    "    for line in open(os.path.join(d, 'keys.txt')):\n"
    "        name, val = line.rstrip('\\n').split('\\t', 1)\n"
    "        f.write('%s %s\\n' % (name.rstrip('.'), val))\n"
    "with open(os.path.join(d, 'odk.conf'), 'w') as f:\n"
    "    f.write('Mode v\\nSyslog no\\nTestPublicKeys %s\\n' % os.path.join(d, 'odk.keys'))\n"
    "wrong = judged = 0\n"
    "for line in open(os.path.join(d, 'manifest.txt')):\n"
    "    fn, expect, algs = line.split()\n"
    "    msg = open(os.path.join(d, fn), 'rb').read()\n"
    "    if not re.search(rb'(?mi)^from:', msg) or not msg.endswith(b'\\n'):\n"
    "        print('skip  %s' % fn)\n"
    "        continue\n"
    "    tries = [(algs.split(',')[0], msg)]\n"
    "    if ',' in algs:\n"
    "        first = rb'\\ADKIM-Signature:.*?\\r?\\n(?![ \\t])'\n"
    "        cut = re.sub(first, b'', msg, count=1, flags=re.S)\n"
    "        tries.append((algs.split(',')[1], cut))\n"
    "    for alg, m in tries:\n"
    "        path = os.path.join(d, 'odk.eml')\n"
    "        open(path, 'wb').write(m)\n"
    "        r = subprocess.run(['opendkim', '-x', os.path.join(d, 'odk.conf'), '-t', path],\n"
    "                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)\n"
    "        out = r.stdout.decode(errors='replace').strip()\n"
    "        # A failure must be the signature's, not a missing key's.\n"
    "        got = ('pass' if out.endswith(') succeeded') else\n"
    "               'fail' if out.endswith(') failed: signature verification failed') else out)\n"
    "        good = got == expect\n"
    "        print('%-5s %-28s %-15s expect=%s%s' % ('ok' if good else 'WRONG', fn, alg, expect,\n"
    "              '' if good else ' got: ' + got))\n"
    "        wrong += not good\n"
    "        judged += 1\n"
    "print('judged %d' % judged)\n"
    "sys.exit(1 if wrong or judged < 40 else 0)\n";

struct e2e {
	char dir[300];
	FILE *manifest;
	FILE *keys;
	int files;
};

static void e2e_write(struct e2e *e, const char *name, const char *expect, const char *algs,
                      const char *p, size_t n)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s.eml", e->dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(fwrite(p, 1, n, f), n);
	fclose(f);
	fprintf(e->manifest, "%s.eml %s %s\n", name, expect, algs);
	e->files++;
}

static void e2e_keys(struct e2e *e, const struct dkim_keys *k, const char *domain)
{
	struct buf txt;
	buf_init(&txt, 4096);
	for (unsigned i = 0; i < k->n; i++) {
		buf_reset(&txt);
		CHECK_EQ_INT(dkim_key_txt(&k->key[i], &txt), DKIM_OK);
		fprintf(e->keys, "%s._domainkey.%s.\t%s\n", k->key[i].selector, domain,
		        buf_data(&txt));
	}
	buf_free(&txt);
}

/* Signs msg; writes the signed message, plus variants made by tamper(). */
static void e2e_sign(struct e2e *e, const struct dkim_keys *k, const char *domain, const char *name,
                     const char *expect, const char *msg, size_t len, int64_t now,
                     struct buf *signed_r)
{
	struct buf out;
	const char *algs = k->n == 2 ? "rsa-sha256,ed25519-sha256" : "ed25519-sha256";

	buf_init(&out, 8u << 20);
	CHECK_EQ_INT(sign_both_ways(k, domain, msg, len, now, &out), DKIM_OK);
	buf_append(&out, msg, len);
	e2e_write(e, name, expect, algs, buf_data(&out), buf_len(&out));
	if (signed_r) {
		buf_reset(signed_r);
		buf_append(signed_r, buf_data(&out), buf_len(&out));
	}
	buf_free(&out);
}

/* Writes s with the first occurrence of from replaced by to. */
static void e2e_variant(struct e2e *e, const char *name, const char *expect, const struct buf *s,
                        const char *from, const char *to)
{
	const char *d = buf_data(s);
	const char *at = memmem(d, buf_len(s), from, strlen(from));
	struct buf v;

	CHECK(at != NULL);
	if (!at)
		return;
	buf_init(&v, 8u << 20);
	buf_append(&v, d, (size_t)(at - d));
	buf_append_c(&v, to);
	buf_append(&v, at + strlen(from), buf_len(s) - (size_t)(at - d) - strlen(from));
	e2e_write(e, name, expect, "rsa-sha256,ed25519-sha256", buf_data(&v), buf_len(&v));
	buf_free(&v);
}

static const char m_simple[] = "From: Alice Example <alice@example.com>\r\n"
                               "To: Bob <bob@example.net>\r\n"
                               "Subject: Lunch tomorrow\r\n"
                               "Date: Sat, 04 Jan 2025 10:00:00 +0000\r\n"
                               "Message-ID: <20250104100000.1@example.com>\r\n"
                               "MIME-Version: 1.0\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "\r\n"
                               "Hello Bob,\r\n"
                               "\r\n"
                               "shall we meet at noon?\r\n"
                               "\r\n"
                               "Alice\r\n";

static const char m_folded[] =
    "Received: from [192.0.2.1] by mail.example.com with ESMTPSA;\r\n"
    "\tSat, 04 Jan 2025 10:00:00 +0000\r\n"
    "FROM: \"Alice\"  <alice@example.com>   \r\n"
    "To: bob@example.net,\r\n"
    "  carol@example.org,\r\n"
    "\tdave@example.com\r\n"
    "Cc: eve@example.com\r\n"
    "Reply-To: team@example.com\r\n"
    "SUBJECT: Re: a subject that is long enough to be folded by the sender\r\n"
    "   across two lines\t \r\n"
    "In-Reply-To: <abc@example.net>\r\n"
    "References: <xyz@example.net>\r\n"
    " <abc@example.net>\r\n"
    "Date: Sat, 04 Jan 2025 10:00:00 +0000\r\n"
    "Message-ID: <20250104100000.2@example.com>\r\n"
    "X-Mailer: test\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "  indented  text \t with   spaces   \r\n"
    "--b1--\r\n"
    "\r\n"
    "\r\n";

static const char m_utf8[] =
    "From: J\xc3\xbcrgen <j\xc3\xbcrgen@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Gr\xc3\xbc\xc3\x9f"
    "e aus K\xc3\xb6ln \xe2\x98\x95\r\n"
    "Date: Sat, 04 Jan 2025 10:00:00 +0000\r\n"
    "Message-ID: <3@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9f"
    "e \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\t\xf0\x9f\x98\x80\r\n"
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n";

static const char m_nobody[] = "From: alice@example.com\r\n"
                               "To: bob@example.net\r\n"
                               "Subject: headers only\r\n";

static const char m_emptybody[] = "From: alice@example.com\r\n"
                                  "To: bob@example.net\r\n"
                                  "Subject: empty body\r\n"
                                  "\r\n";

static const char m_nocrlf[] = "From: alice@example.com\r\n"
                               "To: bob@example.net\r\n"
                               "Subject: no final line end\r\n"
                               "\r\n"
                               "line one\r\n"
                               "last line";

static const char m_barelf[] = "From: alice@example.com\n"
                               "To: bob@example.net\n"
                               "Subject: bare line feeds\n"
                               "\n"
                               "one\n"
                               "two  \n"
                               "\n";

static const char m_nofrom[] = "To: bob@example.net\r\n"
                               "Subject: a report without From\r\n"
                               "Date: Sat, 04 Jan 2025 10:00:00 +0000\r\n"
                               "\r\n"
                               "report\r\n";

static const char m_list[] =
    "From: News <news@example.com>\r\n"
    "To: subscriber@example.net\r\n"
    "Subject: Weekly news\r\n"
    "List-Id: <news.example.com>\r\n"
    "List-Unsubscribe: <https://example.com/u/1>, <mailto:u@example.com>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "Sender: bounces@example.com\r\n"
    "\r\n"
    "news\r\n";

/* Repeated signed fields: instances are hashed bottom-up (§5.4.2). */
static const char m_dupes[] = "From: alice@example.com\r\n"
                              "To: first@example.net\r\n"
                              "Cc: one@example.net\r\n"
                              "To: second@example.net\r\n"
                              "Subject: duplicates\r\n"
                              "Cc: two@example.net\r\n"
                              "\r\n"
                              "x\r\n";

/* RFC 8463 Appendix A.3's message. */
static const char m_rfc8463[] = "From: Joe SixPack <joe@football.example.com>\r\n"
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

static void test_dkimpy(const struct dkim_keys *keys)
{
	const char *py = python_with_dkim();
	struct e2e e = {0};
	struct buf s;
	int64_t now = (int64_t)time(NULL);

	unit_checks++;
	if (py == NULL) {
		unit_failures++;
		fprintf(stderr, "test_dkim: dkimpy (Debian python3-dkim) is missing: "
		                "run scripts/install-test-deps\n");
		return;
	}
	snprintf(e.dir, sizeof e.dir, "%s/e2e", base);
	mkdir(e.dir, 0700);
	char path[400];
	snprintf(path, sizeof path, "%s/manifest.txt", e.dir);
	e.manifest = fopen(path, "w");
	snprintf(path, sizeof path, "%s/keys.txt", e.dir);
	e.keys = fopen(path, "w");
	snprintf(path, sizeof path, "%s/verify.py", e.dir);
	FILE *f = fopen(path, "w");
	CHECK(e.manifest && e.keys && f);
	if (!e.manifest || !e.keys || !f)
		return;
	fputs(verify_py, f);
	fclose(f);
	e2e_keys(&e, keys, "example.com");

	buf_init(&s, 8u << 20);
#define SIGN(name, m) e2e_sign(&e, keys, "example.com", name, "pass", m, sizeof(m) - 1, now, NULL)
	SIGN("folded", m_folded);
	SIGN("utf8", m_utf8);
	SIGN("nobody", m_nobody);
	SIGN("emptybody", m_emptybody);
	SIGN("nocrlf", m_nocrlf);
	SIGN("barelf", m_barelf);
	SIGN("nofrom", m_nofrom);
	SIGN("list", m_list);
	SIGN("dupes", m_dupes);
#undef SIGN

	/* 1 MiB of body, lines of varying length with some trailing blanks. */
	struct buf big;
	buf_init(&big, 2u << 20);
	buf_append_c(&big,
	             "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: big\r\n\r\n");
	for (unsigned i = 0; buf_len(&big) < (1u << 20); i++)
		buf_printf(&big, "%u line of the big message %.*s%s\r\n", i, (int)(i % 50),
		           "..................................................",
		           i % 7 ? "" : " \t ");
	e2e_sign(&e, keys, "example.com", "big", "pass", buf_data(&big), buf_len(&big), now, NULL);
	buf_free(&big);

	/* The simple message and what may and may not happen to it. */
	e2e_sign(&e, keys, "example.com", "simple", "pass", m_simple, sizeof m_simple - 1, now, &s);
	e2e_variant(
	    &e, "ok-added-header", "pass", &s, "From: Alice",
	    "X-Spam-Score: 0.1\r\nReceived: by mx.example.net; Sat, 4 Jan 2025\r\nFrom: Alice");
	e2e_variant(&e, "ok-refolded-subject", "pass", &s, "Subject: Lunch tomorrow",
	            "subject:   Lunch\r\n\ttomorrow  ");
	e2e_variant(&e, "ok-body-whitespace", "pass", &s, "shall we meet at noon?\r\n",
	            "shall  we\tmeet at noon?   \r\n");
	e2e_variant(&e, "ok-trailing-lines", "pass", &s, "\r\nAlice\r\n", "\r\nAlice\r\n\r\n\r\n");
	e2e_variant(&e, "bad-body", "fail", &s, "noon?", "midnight?");
	e2e_variant(&e, "bad-body-appended", "fail", &s, "\r\nAlice\r\n",
	            "\r\nAlice\r\nP.S. click here\r\n");
	e2e_variant(&e, "bad-subject", "fail", &s, "Subject: Lunch tomorrow",
	            "Subject: Lunch today");
	e2e_variant(&e, "bad-from", "fail", &s, "alice@example.com>", "mallory@example.com>");
	/* Over-signing at work: an instance added above the signed one would
	 * not be looked at without the extra h= entry (bottom-up choice). */
	e2e_variant(&e, "bad-second-from", "fail", &s, "From: Alice",
	            "From: mallory@example.org\r\nFrom: Alice");
	e2e_variant(&e, "bad-added-reply-to", "fail", &s, "MIME-Version: 1.0\r\n",
	            "MIME-Version: 1.0\r\nReply-To: mallory@example.org\r\n");
	e2e_variant(&e, "bad-second-subject", "fail", &s, "From: Alice",
	            "Subject: urgent\r\nFrom: Alice");
	e2e_variant(&e, "bad-second-to", "fail", &s, "From: Alice",
	            "To: mallory@example.org\r\nFrom: Alice");
	e2e_variant(&e, "bad-second-date", "fail", &s, "From: Alice",
	            "Date: Sun, 05 Jan 2025 10:00:00 +0000\r\nFrom: Alice");
	e2e_variant(&e, "bad-content-type", "fail", &s, "charset=utf-8", "charset=iso-8859-1");
	e2e_variant(&e, "bad-date", "fail", &s, "10:00:00", "11:00:00");
	buf_free(&s);

	/* RFC 8463's example key: dkimpy checks our signature against the
	 * public key the RFC publishes (not one we derived). */
	struct dkim_keys rfc = {0};
	uint8_t seed[32];
	size_t sl;
	sodium_base642bin(seed, sizeof seed, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=", 44,
	                  NULL, &sl, NULL, sodium_base64_VARIANT_ORIGINAL);
	CHECK_EQ_INT(dkim_key_import(&rfc.key[0], DKIM_ALG_ED25519_SHA256, "brisbane", 0, seed, 32),
	             DKIM_OK);
	rfc.n = 1;
	fprintf(e.keys, "brisbane._domainkey.football.example.com.\t"
	                "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n");
	e2e_sign(&e, &rfc, "football.example.com", "rfc8463", "pass", m_rfc8463,
	         sizeof m_rfc8463 - 1, now, NULL);
	dkim_keys_wipe(&rfc);

	fclose(e.manifest);
	fclose(e.keys);

	char cmd[800];
	snprintf(cmd, sizeof cmd, "%s %s/verify.py %s 2>&1", py, e.dir, e.dir);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	char line[512];
	int lines = 0;
	fprintf(stderr, "dkimpy (%s) on %d messages:\n", py, e.files);
	while (fgets(line, sizeof line, p)) {
		fprintf(stderr, "  %s", line);
		if (strncmp(line, "ok ", 3) == 0)
			lines++;
	}
	int st = pclose(p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_INT(lines, e.files);

	/* OpenDKIM on the same files (verify_odk_py). */
	snprintf(path, sizeof path, "%s/verify_odk.py", e.dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(verify_odk_py, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s %s/verify_odk.py %s 2>&1", py, e.dir, e.dir);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	fprintf(stderr, "OpenDKIM on the same messages:\n");
	while (fgets(line, sizeof line, p))
		fprintf(stderr, "  %s", line);
	st = pclose(p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	if (unit_env_begin(base, sizeof base, "dkim") != 0)
		return 1;

	struct dkim_keys keys;
	test_canon();
	test_keys(&keys, (int64_t)time(NULL));
	test_signer(&keys);
	test_store_and_cli(&keys);
	test_dkimpy(&keys);
	dkim_keys_wipe(&keys);

	if (!getenv("TEST_KEEP"))
		unit_rmrf(base);
	else
		fprintf(stderr, "kept %s\n", base);
	return unit_done("test_dkim");
}
