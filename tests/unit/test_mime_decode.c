/*
 * test_mime_decode.c — base64 and quoted-printable decoders, charset
 * conversion.
 *
 * Each decoding is done three ways: the input whole, one octet at a time,
 * and in random chunks; the outputs and error counts must agree.
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "core/buf.h"
#include "mime/mime_decode.h"
#include "unit.h"

struct result {
	char out[8192];
	size_t n;
	uint64_t errors;
};

/* chunk 0: all at once; 1: octet by octet; other: random chunks. */
static void run(enum mime_cte cte, const char *in, size_t len, size_t chunk, struct result *r)
{
	struct mime_decoder d;
	char tmp[MIME_DECODE_OUT_MAX(8192)];
	size_t off = 0, k, n;

	mime_decoder_init(&d, cte);
	r->n = 0;
	while (off < len) {
		k = chunk == 0 ? len - off : chunk == 1 ? 1 : 1 + (size_t)rand() % 7;
		if (k > len - off)
			k = len - off;
		n = mime_decoder_feed(&d, in + off, k, tmp);
		memcpy(r->out + r->n, tmp, n);
		r->n += n;
		off += k;
	}
	n = mime_decoder_finish(&d, tmp);
	memcpy(r->out + r->n, tmp, n);
	r->n += n;
	r->errors = d.errors;
}

static void check_dec(enum mime_cte cte, const char *in, const char *want, size_t want_len,
                      uint64_t want_errors)
{
	struct result a, b, c;
	struct buf out;
	size_t len = strlen(in);
	int i;

	run(cte, in, len, 0, &a);
	if (a.n != want_len || memcmp(a.out, want, want_len) != 0) {
		unit_failures++;
		fprintf(stderr, "decode of \"%s\": got \"%.*s\" (%zu), want %zu octets\n", in,
		        (int)a.n, a.out, a.n, want_len);
	}
	CHECK_EQ_INT(a.errors, want_errors);
	run(cte, in, len, 1, &b);
	CHECK(b.n == a.n && memcmp(a.out, b.out, a.n) == 0 && b.errors == a.errors);
	for (i = 0; i < 20; i++) {
		run(cte, in, len, 2, &c);
		CHECK(c.n == a.n && memcmp(a.out, c.out, a.n) == 0 && c.errors == a.errors);
	}
	buf_init(&out, 1 << 16);
	CHECK(mime_decode_all(cte, str_make(in, len), &out) == 0);
	CHECK(buf_len(&out) == a.n && memcmp(buf_data(&out), a.out, a.n) == 0);
	CHECK_EQ_INT(mime_decoded_size(cte, str_make(in, len)), a.n);
	buf_free(&out);
}

#define DEC(cte, in, want, errs) check_dec(cte, in, want, sizeof(want) - 1, errs)

static void test_base64(void)
{
	/* RFC 4648 §10 vectors. */
	DEC(MIME_CTE_BASE64, "", "", 0);
	DEC(MIME_CTE_BASE64, "Zg==", "f", 0);
	DEC(MIME_CTE_BASE64, "Zm8=", "fo", 0);
	DEC(MIME_CTE_BASE64, "Zm9v", "foo", 0);
	DEC(MIME_CTE_BASE64, "Zm9vYg==", "foob", 0);
	DEC(MIME_CTE_BASE64, "Zm9vYmE=", "fooba", 0);
	DEC(MIME_CTE_BASE64, "Zm9vYmFy", "foobar", 0);
	/* Line breaks anywhere, CRLF or LF. */
	DEC(MIME_CTE_BASE64, "Zm9v\r\nYmFy\r\n", "foobar", 0);
	DEC(MIME_CTE_BASE64, "Z\nm 9\tv Y\r\nm\nFy\n", "foobar", 0);
	/* Garbage is skipped and counted; missing padding is forgiven. */
	DEC(MIME_CTE_BASE64, "Zm9v!Ym*Fy", "foobar", 2);
	DEC(MIME_CTE_BASE64, "Zm9vYg", "foob", 0);
	DEC(MIME_CTE_BASE64, "Zm9vYmE", "fooba", 0);
	/* A lone sextet makes no octet. */
	DEC(MIME_CTE_BASE64, "Zm9vY", "foo", 1);
	DEC(MIME_CTE_BASE64, "Zm9vY=", "foo", 1);
	/* Concatenated blocks, extra padding. */
	DEC(MIME_CTE_BASE64, "Zg==Zm8=\r\nZm9v", "ffofoo", 0);
	DEC(MIME_CTE_BASE64, "Zg======", "f", 0);
	DEC(MIME_CTE_BASE64, "====", "", 0);
	/* All 256 octet values. */
	{
		static const char all[] =
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4\r"
		    "\n"
		    "OTo7PD0+"
		    "P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx\r\n"
		    "cnN0dXZ3eHl6e3x9fn+"
		    "AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq\r\n"
		    "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/"
		    "g4eLj\r\n"
		    "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\r\n";
		char want[256];
		struct result r;
		int i;

		for (i = 0; i < 256; i++)
			want[i] = (char)i;
		run(MIME_CTE_BASE64, all, strlen(all), 1, &r);
		CHECK(r.n == 256 && memcmp(r.out, want, 256) == 0);
		CHECK_EQ_INT(r.errors, 0);
	}
}

static void test_qp(void)
{
	/* RFC 2045 §6.7 rule 5 soft breaks. */
	DEC(MIME_CTE_QP,
	    "Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.",
	    "Now's the time for all folk to come to the aid of their country.", 0);
	DEC(MIME_CTE_QP, "a=3Db =E9=e9", "a=b \xE9\xE9", 0);
	DEC(MIME_CTE_QP, "Caf=C3=A9 ouvert.\r\n", "Caf\xC3\xA9 ouvert.\r\n", 0);
	/* Rule 3: white space at a line end is padding, not text. */
	DEC(MIME_CTE_QP, "trailing   \r\nx\t \nend  ", "trailing\r\nx\nend", 0);
	DEC(MIME_CTE_QP, "keep  inner  space\r\n", "keep  inner  space\r\n", 0);
	/* Spaces after a soft-break "=" are transport padding too. */
	DEC(MIME_CTE_QP, "a= \t\r\nb=  \nc", "abc", 0);
	/* Bad escapes stay as they were, counted. */
	DEC(MIME_CTE_QP, "=ZZ x=4 =\x01", "=ZZ x=4 =\x01", 3);
	DEC(MIME_CTE_QP, "x = y", "x = y", 1);
	DEC(MIME_CTE_QP, "ab=4", "ab=4", 1);
	DEC(MIME_CTE_QP, "abc=", "abc", 0);
	DEC(MIME_CTE_QP, "abc= ", "abc", 0);
	/* Line ends pass through as they came; a bare CR is an octet. */
	DEC(MIME_CTE_QP, "a\r\nb\nc\rd\r", "a\r\nb\nc\rd\r", 0);
	DEC(MIME_CTE_QP, "a \rb", "a \rb", 0);
	DEC(MIME_CTE_QP, "x=\ry", "xy", 0);
	/* More white space than is held back: the excess is emitted. */
	{
		char in[300], want[300];

		memset(in, ' ', 200);
		strcpy(in + 200, "x");
		memcpy(want, in, 201);
		check_dec(MIME_CTE_QP, in, want, 201, 0);
	}
}

static void test_qp_long_ws(void)
{
	/* 200 spaces then a line end: everything beyond the held-back window
	 * was already emitted, the rest is dropped as padding. */
	char in[300];
	struct result r;
	size_t k;

	memset(in, ' ', 200);
	strcpy(in + 200, "\r\n");
	run(MIME_CTE_QP, in, strlen(in), 0, &r);
	CHECK(r.n >= 2 && r.n <= 200 + 2);
	CHECK(r.out[r.n - 2] == '\r' && r.out[r.n - 1] == '\n');
	for (k = 0; k + 2 < r.n; k++)
		CHECK(r.out[k] == ' ');
}

static void test_passthrough(void)
{
	DEC(MIME_CTE_7BIT, "a=3D\r\n", "a=3D\r\n", 0);
	DEC(MIME_CTE_8BIT, "\xE9", "\xE9", 0);
	DEC(MIME_CTE_BINARY, "Zg==", "Zg==", 0);
	DEC(MIME_CTE_UNKNOWN, "begin 644 x", "begin 644 x", 0);
	CHECK_EQ_INT(mime_cte_parse(STR_NULL), MIME_CTE_7BIT);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT("")), MIME_CTE_7BIT);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT(" BASE64 ")), MIME_CTE_BASE64);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT("Quoted-Printable")), MIME_CTE_QP);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT("8bit")), MIME_CTE_8BIT);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT("binary")), MIME_CTE_BINARY);
	CHECK_EQ_INT(mime_cte_parse(STR_LIT("x-uuencode")), MIME_CTE_UNKNOWN);
}

static void test_decode_all_ceiling(void)
{
	struct buf out;

	buf_init(&out, 3);
	CHECK(mime_decode_all(MIME_CTE_BASE64, STR_LIT("Zm9vYmFy"), &out) == -1);
	buf_free(&out);
	buf_init(&out, 3);
	CHECK(mime_decode_all(MIME_CTE_7BIT, STR_LIT("abcd"), &out) == -1);
	buf_free(&out);
	buf_init(&out, 3);
	CHECK(mime_decode_all(MIME_CTE_BASE64, STR_LIT("Zm9v"), &out) == 0);
	CHECK_EQ_SLICE(buf_str(&out), "foo");
	buf_free(&out);
}

static void check_cs(const char *cs, const char *in, size_t len, const char *want)
{
	char out[256];
	ptrdiff_t n = mime_charset_to_utf8(str_c(cs), in, len, out);

	CHECK(n >= 0);
	if (n >= 0)
		CHECK_EQ_SLICE(str_make(out, (size_t)n), want);
}

static void test_charsets(void)
{
	char out[16];

	check_cs("ISO-8859-1", "caf\xE9", 4, "caf\xC3\xA9");
	/* ISO-8859-1 labels are windows-1252 (WHATWG Encoding Standard), as
	 * every mail reader takes them: 0x80..0x9F are its punctuation */
	check_cs("latin1", "\xA4\x80", 2, "\xC2\xA4\xE2\x82\xAC");
	check_cs("ISO-8859-1", "\x93q\x94 \x96 \x81", 7,
	         "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x80\x93 \xC2\x81");
	check_cs("iso_8859-1:1987", "\x85\xE9", 2, "\xE2\x80\xA6\xC3\xA9");
	check_cs("IBM819", "\x99", 1, "\xE2\x84\xA2");
	check_cs("cp819", "\x99", 1, "\xE2\x84\xA2");
	check_cs("csISOLatin1", "\x99", 1, "\xE2\x84\xA2");
	check_cs("iso-ir-100", "\x99", 1, "\xE2\x84\xA2");
	check_cs("iso88591", "\x99", 1, "\xE2\x84\xA2");
	/* ISO-8859-9 is windows-1254 the same way */
	check_cs("iso-8859-9", "\x80\x9C\xFE", 3, "\xE2\x82\xAC\xC5\x93\xC5\x9F");
	check_cs("latin5", "\x8A", 1, "\xC5\xA0");
	check_cs("iso-8859-15", "\xA4", 1, "\xE2\x82\xAC");
	check_cs("windows-1252", "\x80\x93x\x94\x81\xFF", 6,
	         "\xE2\x82\xAC\xE2\x80\x9Cx\xE2\x80\x9D\xC2\x81\xC3\xBF");
	check_cs("UTF-8", "ok \xC3\xA9 \xFF \xED\xA0\x80 \xF0\x9F\x98\x80", 16,
	         "ok \xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xF0\x9F\x98\x80");
	check_cs("us-ascii", "plain", 5, "plain");
	check_cs("", "a\xC3\xA9", 3, "a\xC3\xA9");
	/* the tables of mime_charset_tables.c */
	check_cs("KOI8-R", "\xF0\xD2\xC9\xD7\xC5\xD4", 6,
	         "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");      /* Привет */
	check_cs("cp1251", "\xCF\xF0\x98", 3, "\xD0\x9F\xD1\x80\xC2\x98"); /* a hole: C1 */
	check_cs("latin2", "\xB1\xE6", 2, "\xC4\x85\xC4\x87");             /* ąć */
	check_cs("windows-1250", "\x8A", 1, "\xC5\xA0");                   /* Š */
	check_cs("iso-8859-5", "\xBF", 1, "\xD0\x9F");
	/* the other single-octet charsets, by iconv, in the spellings seen */
	check_cs("windows-1253", "\xE1\xE2", 2, "\xCE\xB1\xCE\xB2");   /* αβ */
	check_cs("ISO-8859-7", "\xE1\xE2", 2, "\xCE\xB1\xCE\xB2");
	check_cs("iso8859-7", "\xE1", 1, "\xCE\xB1");
	check_cs("ISO_8859-9", "\xFE", 1, "\xC5\x9F");                   /* ş */
	check_cs("windows-1254", "\xD0", 1, "\xC4\x9E");                 /* Ğ */
	check_cs("iso-8859-8-i", "\xE0", 1, "\xD7\x90");                 /* א */
	check_cs("windows-1255", "\xE0", 1, "\xD7\x90");
	check_cs("cp1256", "\xC7", 1, "\xD8\xA7");                       /* ا */
	check_cs("windows-1257", "\xE0", 1, "\xC4\x85");                 /* ą */
	check_cs("ISO-8859-13", "\xE0", 1, "\xC4\x85");
	check_cs("iso-8859-4", "\xB1", 1, "\xC4\x85");
	check_cs("iso-8859-16", "\xA4", 1, "\xE2\x82\xAC");
	check_cs("tis-620", "\xA1", 1, "\xE0\xB8\x81");                 /* ก */
	check_cs("ISO 8859-2", "\xB1", 1, "\xC4\x85");
	check_cs("x-cp1250", "\x8A", 1, "\xC5\xA0");
	check_cs("ibm866", "\x80", 1, "\xD0\x90");                       /* А */
	check_cs("ANSI_X3.4-1968", "cron", 4, "cron"); /* US-ASCII by glibc's name */
	check_cs("iso646-us", "a\xC3\xA9", 3, "a\xC3\xA9");
	CHECK(!mime_charset_known(STR_LIT("iso-8859-99")));
	CHECK(!mime_charset_known(STR_LIT("iso-8859-7x")));
	CHECK(!mime_charset_known(STR_LIT("cp1259")));
	CHECK(mime_charset_to_utf8(STR_LIT("x-unknown"), "x", 1, out) == -1);
	/* UTF-7 (RFC 2152 and its examples) */
	check_cs("UTF-7", "Hi Mom -+Jjo--!", 15, "Hi Mom -\xE2\x98\xBA-!");
	check_cs("utf-7", "A+ImIDkQ.", 9, "A\xE2\x89\xA2\xCE\x91.");
	check_cs("utf-7", "+ZeVnLIqe-", 10, "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"); /* 日本語 */
	check_cs("utf-7", "1 +- 1", 6, "1 + 1");
	check_cs("utf-7", "+2D3eAA-", 8, "\xF0\x9F\x98\x80");      /* a surrogate pair */
	check_cs("utf-7", "+2D0-x", 6, "\xEF\xBF\xBDx");           /* a lone high one */
	check_cs("utf-7", "+3gA-", 5, "\xEF\xBF\xBD");             /* a lone low one */
	check_cs("utf-7", "\xE9+AOk", 5, "\xEF\xBF\xBD\xC3\xA9"); /* 8 bits; unended */
	check_cs("utf-7", "+AOkA", 5, "\xC3\xA9\xEF\xBF\xBD");     /* half a unit */
	check_cs("utf-7", "+", 1, "");
	/* UTF-16 (RFC 2781): a BOM says the order, else big-endian; the
	 * -LE/-BE labels say it (and a BOM of theirs is dropped too); a
	 * surrogate pair is one character, a lone one or an odd octet U+FFFD */
	check_cs("UTF-16", "\xFF\xFEh\0\xE9\0", 6, "h\xC3\xA9");
	check_cs("utf-16", "\xFE\xFF\0h\0\xE9", 6, "h\xC3\xA9");
	check_cs("utf-16", "\0h\x65\xE5", 4, "h\xE6\x97\xA5");
	check_cs("utf-16le", "h\0\x3D\xD8\x00\xDE", 6, "h\xF0\x9F\x98\x80");
	check_cs("UTF-16BE", "\xFE\xFF\xD8\x3D\0h\xDE\x00\0", 9,
	         "\xEF\xBF\xBDh\xEF\xBF\xBD\xEF\xBF\xBD");
	CHECK(mime_charset_known(STR_LIT("utf-16")));
	CHECK(mime_charset_known(STR_LIT("Windows-1252")));
	CHECK(mime_charset_known(STR_LIT("gb2312")));
	CHECK_EQ_INT(utf8_seq((const unsigned char *)"\xC0\x80", 2), 0);
	CHECK_EQ_INT(utf8_seq((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);
	CHECK_EQ_INT(utf8_seq((const unsigned char *)"\xE2\x82", 2), 0);
	CHECK_EQ_INT(utf8_seq((const unsigned char *)"\xE2\x82\xAC", 3), 3);
}

/* The East Asian charsets, through iconv: a known string each (the same
 * octets as Python's codecs make), aliases, and bad octets as U+FFFD. */
static void test_cjk(void)
{
	static const char *const names[] = {"gb2312", "big5",        "euc-kr", "shift_jis",
	                                    "euc-jp", "iso-2022-jp", "cp936",  "big5-hkscs"};
	char out[3 * 64];
	unsigned char in[64];

	check_cs("GB2312", "\xD6\xD0\xCE\xC4\xD3\xCA\xBC\xFE", 8,
	         "\xE4\xB8\xAD\xE6\x96\x87\xE9\x82\xAE\xE4\xBB\xB6"); /* 中文邮件 */
	check_cs("gbk", "\xBC\xF2\xCC\xE5\xD6\xD0\xCE\xC4", 8,
	         "\xE7\xAE\x80\xE4\xBD\x93\xE4\xB8\xAD\xE6\x96\x87"); /* 简体中文 */
	check_cs("GB18030", "\xB1\xED\xC7\xE9\x94\x39\xFC\x36", 8,
	         "\xE8\xA1\xA8\xE6\x83\x85\xF0\x9F\x98\x80"); /* 表情😀: a 4-octet one */
	check_cs("Big5", "\xA4\xA4\xA4\xE5\xB6\x6C\xA5\xF3", 8,
	         "\xE4\xB8\xAD\xE6\x96\x87\xE9\x83\xB5\xE4\xBB\xB6"); /* 中文郵件 */
	check_cs("big5-hkscs", "\xAD\xBB\xB4\xE4", 4, "\xE9\xA6\x99\xE6\xB8\xAF"); /* 香港 */
	/* output that fills the 3 octets per input octet: a code of two
	 * code points (Ê̄), one ASCII octet alone (both were cut off) */
	check_cs("big5-hkscs", "\x88\x62", 2, "\xC3\x8A\xCC\x84");
	check_cs("shift_jis", "a", 1, "a");
	check_cs("EUC-KR", "\xC7\xD1\xB1\xB9\xBE\xEE", 6,
	         "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"); /* 한국어 */
	check_cs("ks_c_5601-1987", "\xB8\xDE\xC0\xCF", 4, "\xEB\xA9\x94\xEC\x9D\xBC"); /* 메일 */
	check_cs("Shift_JIS", "\x93\xFA\x96\x7B\x8C\xEA", 6,
	         "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"); /* 日本語 */
	check_cs("x-sjis", "\x83\x81\x81\x5B\x83\x8B", 6,
	         "\xE3\x83\xA1\xE3\x83\xBC\xE3\x83\xAB"); /* メール */
	check_cs("EUC-JP", "\xC6\xFC\xCB\xDC\xB8\xEC", 6,
	         "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"); /* 日本語 */
	check_cs("ISO-2022-JP", "\x1B\x24\x42\x46\x7C\x4B\x5C\x38\x6C\x1B\x28\x42 mail", 17,
	         "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E mail"); /* 日本語 mail */
	/* CP932's NEC and IBM characters (the WHATWG index-jis0208's), which
	 * musl's iconv lacks: in Shift_JIS, and by row and cell in
	 * ISO-2022-JP and EUC-JP (①会議, ㈱, 﨑 in row 89) */
	check_cs("Shift_JIS", "\x87\x40\x87\x8A\xEE\xE0\xFB\xFC\xED\x95\xFA\xB1", 12,
	         "\xE2\x91\xA0\xE3\x88\xB1\xE9\xAB\x99\xE9\xAB\x99\xEF\xA8\x91\xEF\xA8\x91");
	check_cs("ISO-2022-JP", "\x1B$B-!2q5D-jyu\x1B(B ok", 19,
	         "\xE2\x91\xA0\xE4\xBC\x9A\xE8\xAD\xB0\xE3\x88\xB1\xEF\xA8\x91 ok");
	check_cs("ISO-2022-JP", "\x1B(B-!\x1B$@-!", 10, "-!\xE2\x91\xA0");
	check_cs("EUC-JP", "\xAD\xA1\xB2\xF1\x8E\xB1\xF9\xF5", 8,
	         "\xE2\x91\xA0\xE4\xBC\x9A\xEF\xBD\xB1\xEF\xA8\x91");
	/* the user-defined rows are the Private Use Area; no character, a
	 * U+FFFD, an ASCII trail after it read again */
	check_cs("cp932", "\xF0\x40\xF9\xFC", 4, "\xEE\x80\x80\xEE\x9D\x97");
	check_cs("cp932", "\xEB\x40\xEF\x80\x87\x20", 6,
	         "\xEF\xBF\xBD@\xEF\xBF\xBD\xEF\xBF\xBD ");
	/* every entry of the table is what glibc's CP932 says */
	{
		static const unsigned char leads[] = {0x87, 0xED, 0xEE, 0xFA, 0xFB, 0xFC};
		iconv_t cd = iconv_open("UTF-8", "CP932");
		int bad = 0;

		CHECK(cd != (iconv_t)-1);
		for (size_t r = 0; cd != (iconv_t)-1 && r < sizeof(leads); r++)
			for (unsigned t = 0x40; t <= 0xFC; t++) {
				char two[2] = {(char)leads[r], (char)t}, want[8], *ip = two, *op = want;
				size_t il = 2, ol = sizeof(want);
				ptrdiff_t n;

				if (t == 0x7F)
					continue;
				n = mime_charset_to_utf8(STR_LIT("cp932"), two, 2, out);
				/* none: U+FFFD, and an ASCII trail after it */
				if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
					bad += !(n == 3 + (t < 0x80) &&
					         memcmp(out, "\xEF\xBF\xBD", 3) == 0 &&
					         (t >= 0x80 || out[3] == (char)t));
				else
					bad += !(n == op - want && memcmp(out, want, (size_t)n) == 0);
			}
		CHECK_EQ_INT(bad, 0);
		if (cd != (iconv_t)-1)
			iconv_close(cd);
	}
	/* an octet no charset has, and a pair cut off at the end */
	check_cs("GB2312",
	         "a\xFF"
	         "b\xD6",
	         4,
	         "a\xEF\xBF\xBD"
	         "b\xEF\xBF\xBD");
	CHECK(mime_charset_known(STR_LIT("CP949")));
	CHECK(!mime_charset_known(STR_LIT("utf-32")));
	/* Random octets in each stay within 3 * len and are valid UTF-8. */
	srand(11);
	for (int round = 0; round < 400; round++) {
		size_t len = (size_t)rand() % sizeof(in), i = 0, k;
		ptrdiff_t n;

		for (k = 0; k < len; k++)
			in[k] = (unsigned char)(round & 1
			                            ? rand()
			                            : "\x1B$B(J\xA4\x81\x8E\x8F\x39"[rand() % 11]);
		n = mime_charset_to_utf8(str_c(names[round % 8]), (char *)in, len, out);
		CHECK(n >= 0 && (size_t)n <= 3 * len);
		while (n > 0 && i < (size_t)n &&
		       (k = utf8_seq((unsigned char *)out + i, (size_t)n - i)) > 0)
			i += k;
		CHECK(n < 0 || i == (size_t)n);
	}
}

/* Garbage of every kind decodes without complaint, in bounds. */
static void test_garbage(void)
{
	char in[4096];
	struct result a, b;
	int round, i;

	srand(7);
	for (round = 0; round < 200; round++) {
		size_t len = (size_t)rand() % sizeof(in);

		for (i = 0; i < (int)len; i++)
			in[i] = (char)(round & 1 ? rand() : "=\r\n \tAZ09+/aF"[rand() % 14]);
		run(MIME_CTE_QP, in, len, 0, &a);
		run(MIME_CTE_QP, in, len, 2, &b);
		CHECK(a.n == b.n && memcmp(a.out, b.out, a.n) == 0 && a.n <= len);
		run(MIME_CTE_BASE64, in, len, 0, &a);
		run(MIME_CTE_BASE64, in, len, 1, &b);
		CHECK(a.n == b.n && memcmp(a.out, b.out, a.n) == 0 && a.n <= len);
	}
}

/* ASCII runs of every length up to 19 at every alignment, between
 * non-ASCII octets: converted as a byte at a time would (ASCII kept,
 * Latin-1 0xE9 and UTF-8's C3 A9 both to C3 A9). */
static void test_ascii_runs(void)
{
	char in[512], want[1024], out[1536];

	for (int utf8 = 0; utf8 < 2; utf8++)
		for (int off = 0; off < 8; off++) {
			size_t n = 0, w = 0;
			for (int i = 0; i < off; i++)
				in[n++] = want[w++] = 'a';
			for (int run = 0; run < 20; run++) {
				for (int i = 0; i < run; i++)
					in[n++] = want[w++] = (char)('A' + i);
				if (utf8)
					in[n++] = '\xC3';
				in[n++] = utf8 ? '\xA9' : '\xE9';
				want[w++] = '\xC3';
				want[w++] = '\xA9';
			}
			in[n++] = want[w++] = 'z';
			ptrdiff_t r = mime_charset_to_utf8(utf8 ? STR_LIT("utf-8") : STR_LIT("iso-8859-1"),
			                                   in, n, out);
			CHECK(r == (ptrdiff_t)w);
			CHECK(r == (ptrdiff_t)w && memcmp(out, want, w) == 0);
		}
}

int main(void)
{
	test_base64();
	test_qp();
	test_qp_long_ws();
	test_passthrough();
	test_decode_all_ceiling();
	test_charsets();
	test_ascii_runs();
	test_cjk();
	test_garbage();
	return unit_done("test_mime_decode");
}
