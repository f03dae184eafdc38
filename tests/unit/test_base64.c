/*
 * test_base64.c — base64 (core/base64.h): every octet value as a digit
 * under each flag, against a model written here; RFC 4648 §10's vectors
 * in both alphabets, padded and not; bad, short, long and misplaced
 * padding; non-canonical ends; white space where each caller's RFC
 * allows it (DKIM, key text) or forbids it (SASL); lengths 0..N both
 * ways; the encoder's room checks and the buffer form.
 */
#include "core/base64.h"
#include "core/buf.h"
#include "unit.h"

#include <stdint.h>
#include <string.h>

#define ALL_FLAGS 8 /* BASE64_URL | BASE64_NOPAD | BASE64_SKIP_WS, all subsets */

/* The model: c's place in the alphabet flags decode, or -1. */
static int model(int c, unsigned flags)
{
	const char *std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if ((flags & BASE64_URL) && c == '-')
		return 62;
	if ((flags & BASE64_URL) && c == '_')
		return 63;
	for (int i = 0; i < 64; i++)
		if (c == std[i])
			return i;
	return -1;
}

static int model_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes the C string in (of n octets, NULs allowed) with flags: want
 * is the result (wlen octets), or NULL for -1. */
static void dec(const char *in, size_t n, unsigned flags, const char *want, size_t wlen, int line)
{
	unsigned char out[64];
	size_t len = 999;
	int rc = base64_decode(str_make(in, n), flags, out, sizeof out, &len);

	if (want == NULL) {
		if (rc != -1 || len != 999)
			fprintf(stderr, "line %d: \"%s\" flags %u decoded\n", line, in, flags);
		CHECK(rc == -1 && len == 999);
		return;
	}
	if (rc != 0 || len != wlen || memcmp(out, want, wlen) != 0)
		fprintf(stderr, "line %d: \"%s\" flags %u: rc %d len %zu\n", line, in, flags, rc,
		        len);
	CHECK(rc == 0 && len == wlen && memcmp(out, want, wlen) == 0);
}
#define DEC(in, flags, want) dec(in, sizeof in - 1, flags, want, sizeof want - 1, __LINE__)
#define BAD(in, flags) dec(in, sizeof in - 1, flags, NULL, 0, __LINE__)

static void test_octets(void)
{
	for (int c = 0; c < 256; c++)
		CHECK_EQ_INT(base64_digit((unsigned char)c), model(c, 0));
	/* Each octet value (NUL and 0x80-0xff included) as the last digit
	 * of a quantum, and between two whole quanta, under every flag set:
	 * libsodium read 0xff as '/' and skipped NUL. */
	for (unsigned f = 0; f < ALL_FLAGS; f++) {
		for (int c = 0; c < 256; c++) {
			char q[8] = {'A', 'A', 'A', (char)c, 'Q', 'U', 'F', 'A'},
			     mid[9] = "AAAAxAAAA";
			unsigned char out[8];
			size_t len = 0;
			int v = model(c, f);
			/* white space there leaves 7 digits: a short end */
			int ws_ok = (f & BASE64_SKIP_WS) && (f & BASE64_NOPAD) && model_ws(c);
			int rc = base64_decode(str_make(q, 8), f, out, sizeof out, &len);
			CHECK_EQ_INT(rc, v >= 0 || ws_ok ? 0 : -1);
			if (v >= 0)
				CHECK(len == 6 && out[0] == 0 && out[1] == 0 && out[2] == v &&
				      memcmp(out + 3, "AA@", 3) == 0);
			if (ws_ok)
				CHECK(len == 5 && memcmp(out, "\0\0\x10PP", 5) == 0);
			mid[4] = (char)c;
			rc = base64_decode(str_make(mid, 9), f, out, sizeof out, &len);
			CHECK_EQ_INT(rc, (f & BASE64_SKIP_WS) && model_ws(c) ? 0 : -1);
		}
	}
	BAD("AAA\xff", 0);
	BAD("AA\0=", BASE64_SKIP_WS);
	BAD("\0AAAA", BASE64_SKIP_WS);
}

static void test_vectors(void)
{
	static const struct {
		const char *raw, *pad, *nopad;
	} v[] = {{"", "", ""},
	         {"f", "Zg==", "Zg"},
	         {"fo", "Zm8=", "Zm8"},
	         {"foo", "Zm9v", "Zm9v"},
	         {"foob", "Zm9vYg==", "Zm9vYg"},
	         {"fooba", "Zm9vYmE=", "Zm9vYmE"},
	         {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
	char out[16];
	unsigned char raw[16];
	size_t n;

	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		size_t rl = strlen(v[i].raw);
		CHECK_EQ_INT(base64_encode(v[i].raw, rl, 0, out, sizeof out), 0);
		CHECK_EQ_STR(out, v[i].pad);
		CHECK_EQ_INT(
		    base64_encode(v[i].raw, rl, BASE64_URL | BASE64_NOPAD, out, sizeof out), 0);
		CHECK_EQ_STR(out, v[i].nopad);
		CHECK_EQ_INT(base64_encoded_len(rl, 0), strlen(v[i].pad));
		CHECK_EQ_INT(base64_encoded_len(rl, BASE64_NOPAD), strlen(v[i].nopad));
		/* padded text: read with and without BASE64_NOPAD */
		CHECK(base64_decode(str_c(v[i].pad), 0, raw, sizeof raw, &n) == 0 && n == rl &&
		      memcmp(raw, v[i].raw, n) == 0);
		CHECK(base64_decode(str_c(v[i].pad), BASE64_NOPAD, raw, sizeof raw, &n) == 0 &&
		      n == rl);
		/* unpadded: only with BASE64_NOPAD when padding was due */
		CHECK_EQ_INT(base64_decode(str_c(v[i].nopad), 0, raw, sizeof raw, &n),
		             rl % 3 ? -1 : 0);
		CHECK(base64_decode(str_c(v[i].nopad), BASE64_NOPAD, raw, sizeof raw, &n) == 0 &&
		      n == rl && memcmp(raw, v[i].raw, n) == 0);
	}
	/* The two alphabets: 0xfb 0xff is "+/8=" or "-_8"; a URL reader
	 * takes both spellings, the standard one only its own. */
	const unsigned char fbff[] = {0xfb, 0xff};
	CHECK_EQ_INT(base64_encode(fbff, 2, 0, out, sizeof out), 0);
	CHECK_EQ_STR(out, "+/8=");
	CHECK_EQ_INT(base64_encode(fbff, 2, BASE64_URL, out, sizeof out), 0);
	CHECK_EQ_STR(out, "-_8=");
	CHECK_EQ_INT(base64_encode(fbff, 2, BASE64_URL | BASE64_NOPAD, out, sizeof out), 0);
	CHECK_EQ_STR(out, "-_8");
	DEC("+/8=", 0, "\xfb\xff");
	BAD("-_8=", 0);
	DEC("-_8=", BASE64_URL, "\xfb\xff");
	DEC("-/8", BASE64_URL | BASE64_NOPAD, "\xfb\xff");
}

static void test_padding(void)
{
	for (unsigned f = 0; f < ALL_FLAGS; f++) {
		BAD("=", f);
		BAD("==", f);
		BAD("====", f);
		BAD("Z", f); /* a leftover digit */
		BAD("Z===", f);
		BAD("Zg=", f);   /* short */
		BAD("Zg===", f); /* long */
		BAD("Zm8==", f);
		BAD("Zm9v=", f);
		BAD("Zm9v====", f);
		BAD("Zg==Zg==", f); /* padding in the middle */
		BAD("Zm=8", f);
		BAD("Z=g=", f);
		BAD("Zg==A", f);
		BAD("Zh==", f); /* non-canonical: the hidden bits not zero */
		BAD("Zm9=", f);
		BAD("Zh", f);
		DEC("Zg==", f, "f");
		DEC("Zm8=", f, "fo");
	}
	DEC("Zg", BASE64_NOPAD, "f");
	DEC("Zm8", BASE64_NOPAD, "fo");
	BAD("Zg", 0);
	BAD("Zm8", 0);
}

static void test_white_space(void)
{
	/* SASL (RFC 4422 §3.4.1, RFC 4954 §4), HTTP, JWS: none anywhere. */
	BAD(" Zg==", 0);
	BAD("Zg ==", 0);
	BAD("Z g==", 0);
	BAD("Zg==\r\n", 0);
	BAD("Zg\t==", BASE64_URL | BASE64_NOPAD);
	/* DKIM b= bh= p= (RFC 6376 §3.5, FWS) and key text (RFC 7468 line
	 * breaks): SP HT CR LF anywhere, padding included. */
	DEC(" Z g = = \r\n", BASE64_SKIP_WS, "f");
	DEC("\r\n\tZm9v\r\n YmFy\r\n", BASE64_SKIP_WS, "foobar");
	DEC("Zm8\r\n =", BASE64_SKIP_WS, "fo");
	DEC(" \t\r\n", BASE64_SKIP_WS, "");
	DEC("", 0, "");
	BAD("Zg==\r\n\tZg==", BASE64_SKIP_WS);
	BAD("Zg\v==", BASE64_SKIP_WS); /* not white space to DKIM */
	BAD("Zg\f==", BASE64_SKIP_WS);
	BAD("Zg\xa0==", BASE64_SKIP_WS);
}

static void test_lengths(void)
{
	unsigned char in[200], back[200];
	char enc[300];

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 37 + 255); /* every value comes */
	for (unsigned f = 0; f < 4; f++) {
		for (size_t n = 0; n <= sizeof in; n++) {
			size_t len = base64_encoded_len(n, f), got = 0;
			memset(enc, '#', sizeof enc);
			CHECK_EQ_INT(base64_encode(in, n, f, enc, len), -1);
			CHECK(len == 0 || enc[0] == '\0');
			CHECK_EQ_INT(base64_encode(in, n, f, enc, len + 1), 0);
			CHECK(strlen(enc) == len && enc[len + 1] == '#');
			CHECK(base64_decode(str_make(enc, len), f, back, n, &got) == 0 &&
			      got == n && memcmp(back, in, n) == 0);
			if (n > 0)
				CHECK_EQ_INT(
				    base64_decode(str_make(enc, len), f, back, n - 1, &got), -1);
		}
	}
	CHECK_EQ_INT(base64_encode("", 0, 0, enc, 0), -1);
}

static void test_buf(void)
{
	unsigned char in[2000];
	char one[2700];
	struct buf b;

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 7);
	for (unsigned f = 0; f < 4; f++) {
		buf_init(&b, 4096);
		CHECK_EQ_INT(buf_append_c(&b, "x:"), 0);
		CHECK_EQ_INT(base64_encode_buf(&b, in, sizeof in, f), 0);
		CHECK_EQ_INT(base64_encode(in, sizeof in, f, one, sizeof one), 0);
		CHECK(buf_len(&b) == 2 + strlen(one) &&
		      memcmp(buf_data(&b) + 2, one, strlen(one)) == 0);
		buf_free(&b);
	}
	buf_init(&b, 100);
	CHECK_EQ_INT(base64_encode_buf(&b, in, 75, 0), 0); /* exactly 100 */
	CHECK_EQ_INT(buf_len(&b), 100);
	buf_reset(&b);
	CHECK_EQ_INT(base64_encode_buf(&b, in, 76, 0), -1);
	buf_free(&b);
}

/* A sink failing once `room` octets were written. */
struct limited {
	struct buf *b;
	size_t room;
};

static int limited_write(void *arg, const void *p, size_t n)
{
	struct limited *l = arg;
	if (n > l->room)
		return -1;
	l->room -= n;
	return buf_append(l->b, p, n);
}

/* Base64 in lines (struct base64_lines): the same lines whatever the
 * pieces the octets come in, each cols digits and CRLF, the last one
 * shorter, decoding back to the input; nothing for nothing; a failed
 * write stops it and is reported. */
static void test_lines(void)
{
	unsigned char in[1000];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 7 + 3);
	static const size_t cols[] = {64, 76, 4};
	static const size_t lens[] = {0, 1, 47, 48, 57, 58, 114, 1000};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
			size_t n = lens[l];
			struct buf whole, pieces;
			buf_init(&whole, 4096);
			buf_init(&pieces, 4096);
			CHECK(base64_lines_buf(&whole, in, n, cols[c]) == 0);
			struct limited lim = {&pieces, (size_t)-1};
			struct base64_lines b;
			base64_lines_init(&b, limited_write, &lim, cols[c]);
			for (size_t i = 0, k = 1; i < n; i += k, k = k % 13 + 1)
				base64_lines_put(&b, in + i, k < n - i ? k : n - i);
			CHECK(base64_lines_end(&b) == 0);
			CHECK(buf_len(&whole) == buf_len(&pieces) &&
			      memcmp(buf_data(&whole), buf_data(&pieces), buf_len(&whole)) == 0);
			/* Every line but the last exactly cols digits; the digits
			 * decode to the input. */
			char digits[2048];
			size_t nd = 0, got;
			const char *p = buf_data(&whole), *e = p + buf_len(&whole);
			CHECK(n > 0 || buf_len(&whole) == 0);
			while (p < e) {
				const char *crlf = memchr(p, '\r', (size_t)(e - p));
				CHECK(crlf && crlf + 1 < e && crlf[1] == '\n');
				if (!crlf)
					break;
				size_t len = (size_t)(crlf - p);
				CHECK(crlf + 2 == e ? len > 0 && len <= cols[c] : len == cols[c]);
				memcpy(digits + nd, p, len);
				nd += len;
				p = crlf + 2;
			}
			unsigned char out[1000];
			CHECK(base64_decode(str_make(digits, nd), 0, out, sizeof out, &got) == 0);
			CHECK(got == n && memcmp(out, in, n) == 0);
			buf_free(&whole);
			buf_free(&pieces);
		}
	}
	/* The sink refuses the second line: -1, and nothing after it. */
	struct buf b1;
	buf_init(&b1, 4096);
	struct limited lim = {&b1, 66 + 30};
	struct base64_lines b;
	base64_lines_init(&b, limited_write, &lim, 64);
	base64_lines_put(&b, in, 300);
	CHECK(b.err == 1);
	CHECK(base64_lines_end(&b) == -1);
	CHECK(buf_len(&b1) == 66);
	buf_free(&b1);
	/* A buffer's ceiling is reported the same way. */
	buf_init(&b1, 100);
	CHECK(base64_lines_buf(&b1, in, 300, 76) == -1);
	buf_free(&b1);
}

int main(void)
{
	test_octets();
	test_vectors();
	test_padding();
	test_white_space();
	test_lengths();
	test_buf();
	test_lines();
	return unit_done("test_base64");
}
