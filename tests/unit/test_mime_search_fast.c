/*
 * test_mime_search_fast.c — the shortcuts IMAP SEARCH SUBJECT takes:
 * mime_cache_root_subject() reads the root Subject and size from a cache
 * record exactly as the full decoder does (varied messages, and every
 * truncation of a record is refused or read safely), and
 * mime_search_value() on an unfolded value matches as mime_search_header()
 * does on the message (plain and encoded-word values, needles at the
 * edges, values past the short-value path); the body text of a part
 * much longer than the piece mime_search converts at a time is what
 * converting it whole gives, in the charsets and encodings that carry
 * state or multi-octet characters across a cut.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_cache.h"
#include "mime/mime_decode.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "unit.h"

static struct arena *A;

static const char *const msgs[] = {
	"Subject: hello world\r\nFrom: a@b.c\r\n\r\nbody\r\n",
	"From: a@b.c\r\n\r\nno subject\r\n",
	"Subject: =?UTF-8?B?aGVsbG8gd29ybGQ=?=\r\n\r\nx\r\n",
	"Subject: folded\r\n  over lines\r\nTo: x@y.z\r\n\r\nx\r\n",
	"Subject: multi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	"Content-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
	"Subject: inner\r\n\r\ninner body\r\n--b--\r\n",
	"Subject:\r\n\r\nempty subject\r\n",
};

static void test_root_subject(void)
{
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct buf rec;
		struct mime_tree t;
		uint64_t size = 0;
		struct str subj = STR_NULL;
		CHECK_EQ_INT(mime_cache_build(msgs[i], strlen(msgs[i]), &rec), 0);
		CHECK_EQ_INT(mime_cache_decode(buf_data(&rec), buf_len(&rec), A, &t), 0);
		CHECK_EQ_INT(mime_cache_root_subject(buf_data(&rec), buf_len(&rec), A, &size, &subj),
			     0);
		CHECK_EQ_INT(size, strlen(msgs[i]));
		struct str want = t.parts[0].env->subject;
		CHECK_EQ_INT(subj.p == NULL, want.p == NULL);
		CHECK(subj.len == want.len && (!subj.len || memcmp(subj.p, want.p, subj.len) == 0));
		/* Truncated records: refused, or read within what is there. */
		for (size_t n = 0; n < buf_len(&rec); n++) {
			char *cut = malloc(n ? n : 1);
			memcpy(cut, buf_data(&rec), n);
			if (mime_cache_root_subject(cut, n, A, &size, &subj) == 0 && subj.p && subj.len)
				CHECK(subj.p >= cut && subj.p + subj.len <= cut + n);
			free(cut);
		}
		buf_free(&rec);
	}
	uint64_t size;
	struct str subj;
	CHECK_EQ_INT(mime_cache_root_subject("", 0, A, &size, &subj), -1);
	CHECK_EQ_INT(mime_cache_root_subject("\x02", 1, A, &size, &subj), -1);
}

/* mime_cache_root_bare_lf() (POP3's sizes): every bare LF of the message,
 * header, its empty line and body (nested parts included), and truncated
 * records refused or read safely. */
static void test_root_bare_lf(void)
{
	static const struct {
		const char *msg;
		uint64_t bare;
	} cases[] = {
		{ "Subject: a\r\n\r\nb\r\n", 0 },
		{ "Subject: a\nFrom: x@y.z\n\n.dot\nline\n", 5 },
		{ "Subject: a\r\n\nbody\nend", 2 },
		{ "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
		  "one\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\n\nx\n--b--\n", 9 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf rec;
		uint64_t size = 0, bare = 99;
		CHECK_EQ_INT(mime_cache_build(cases[i].msg, strlen(cases[i].msg), &rec), 0);
		CHECK_EQ_INT(mime_cache_root_bare_lf(buf_data(&rec), buf_len(&rec), A, &size, &bare), 0);
		CHECK_EQ_INT(size, strlen(cases[i].msg));
		CHECK_EQ_INT(bare, cases[i].bare);
		for (size_t n = 0; n < buf_len(&rec); n++) {
			char *cut = malloc(n ? n : 1);
			memcpy(cut, buf_data(&rec), n);
			(void)mime_cache_root_bare_lf(cut, n, A, &size, &bare);
			free(cut);
		}
		buf_free(&rec);
	}
	uint64_t size, bare;
	CHECK_EQ_INT(mime_cache_root_bare_lf("", 0, A, &size, &bare), -1);
	CHECK_EQ_INT(mime_cache_root_bare_lf("\x02", 1, A, &size, &bare), -1);
}

/* mime_search_header() on "Subject: value" vs mime_search_value(). */
static void same(const char *value, const char *needle)
{
	char msg[2048], fold[512], un[1024];
	struct mime_tree t;
	struct mime_search sm;
	size_t n = strlen(needle);

	snprintf(msg, sizeof msg, "Subject: %s\r\n\r\nx\r\n", value);
	memcpy(fold, needle, n);
	n = mime_search_fold(fold, n);
	mime_tree_parse(msg, strlen(msg), A, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	int a = mime_search_header(&sm, str_c("Subject"), str_make(fold, n));
	mime_search_clear(&sm);
	size_t ul = 0;
	for (const char *p = value; *p; p++) /* unfolded: CRLF before WSP removed */
		if (!(p[0] == '\r' && p[1] == '\n'))
			un[ul++] = p[0] == '\n' ? p[0] : *p;
	/* drop the LF left by the loop above */
	size_t w = 0;
	for (size_t i = 0; i < ul; i++)
		if (un[i] != '\n')
			un[w++] = un[i];
	int b = mime_search_value(str_make(un, w), str_make(fold, n));
	if (a != b)
		fprintf(stderr, "value \"%s\" needle \"%s\": header %d value %d\n", value, needle, a,
			b);
	CHECK_EQ_INT(a, b);
}

static void test_value(void)
{
	char long_value[700];
	memset(long_value, 'a', sizeof long_value - 1);
	long_value[sizeof long_value - 1] = '\0';
	memcpy(long_value + 600, "NEEDLE", 6);

	const char *values[] = { "bench 42", "Bench 4", "xbench 42x", "b", "",
				 "=?UTF-8?B?aGVsbG8gd29ybGQ=?=", "=?ISO-8859-1?Q?caf=E9?= au lait",
				 "folded\r\n over", "aaaab", long_value };
	const char *needles[] = { "bench 42", "BENCH", "42", "b", "x", "o wor", "hello world",
				  "café", "aab", "d over", "needle", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				  "bench 42x" };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]); k++)
			same(values[i], needles[k]);
	CHECK_EQ_INT(mime_search_value(STR_NULL, str_c("x")), 0);
	CHECK_EQ_INT(mime_search_value(str_c("abc"), str_c("")), 1);
	CHECK_EQ_INT(mime_search_value(str_c("abc"), str_c("abcd")), 0);
}

/* mime_search_body_find() places the match mime_search_body() makes, and
 * the kept text has the same octets unfolded (JMAP SearchSnippet). */
static void test_body_find(void)
{
	const char *msg = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
	                  "Caf\xc3\xa9 Noon: QUARTERLY numbers, quarterly again\r\n";
	struct mime_tree t;
	struct mime_search sm;
	char n1[32] = "quarterly", n2[32] = "CAF\xc3\x89";

	mime_tree_parse(msg, strlen(msg), A, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	sm.keep = 1;
	mime_search_fold(n1, strlen(n1));
	mime_search_fold(n2, strlen(n2));
	/* offsets in the mapped text: "é" is one octet longer there */
	long at = mime_search_body_find(&sm, str_c(n1), 0);
	CHECK_EQ_INT(at, 13);
	CHECK_EQ_INT(mime_search_body(&sm, str_c(n1)), 1);
	struct str text = mime_search_body_text(&sm);
	CHECK(text.len > 21 && memcmp(text.p + at - 1, "QUARTERLY", 9) == 0);
	long again = mime_search_body_find(&sm, str_c(n1), (size_t)at + 1);
	CHECK(again > at && memcmp(text.p + again - 1, "quarterly", 9) == 0);
	CHECK_EQ_INT(mime_search_body_find(&sm, str_c(n1), (size_t)again + 1), -1);
	CHECK_EQ_INT(mime_search_body_find(&sm, str_c(n2), 0), 0);
	CHECK_EQ_INT(mime_search_body_find(&sm, str_c(""), 0), -1);
	mime_search_clear(&sm);
	/* Without keep there is no kept text. */
	mime_search_init(&sm, msg, strlen(msg), &t);
	CHECK(mime_search_body_text(&sm).p == NULL);
	mime_search_clear(&sm);
}

/*
 * One text/plain part of `body` (transfer-encoded as cte says: "base64",
 * "quoted-printable" or NULL for 8bit) in `charset`: its search text must
 * be the whole part decoded and converted at once, plus the line end that
 * ends every part.
 */
static void check_long_part(const char *charset, const char *cte, const struct buf *body)
{
	struct buf msg, dec;
	buf_init(&msg, 64u << 20);
	buf_printf(&msg, "Content-Type: text/plain; charset=%s\r\n", charset);
	if (cte)
		buf_printf(&msg, "Content-Transfer-Encoding: %s\r\n", cte);
	buf_append(&msg, "\r\n", 2);
	size_t hdr = buf_len(&msg);
	if (cte && strcmp(cte, "base64") == 0) {
		CHECK_EQ_INT(mime_base64_lines(&msg, buf_data(body), buf_len(body)), 0);
	} else if (cte) { /* quoted-printable: every octet over 0x7e as =XX, soft breaks at 76 */
		size_t col = 0;
		for (size_t i = 0; i < buf_len(body); i++) {
			unsigned char c = (unsigned char)buf_data(body)[i];
			if (col >= 72) {
				buf_append(&msg, "=\r\n", 3);
				col = 0;
			}
			if (c == '\n') {
				buf_append(&msg, "\n", 1);
				col = 0;
			} else if (c > 0x7e || c == '=') {
				buf_printf(&msg, "=%02X", c);
				col += 3;
			} else {
				buf_append(&msg, (const char *)&c, 1);
				col++;
			}
		}
	} else {
		buf_append(&msg, buf_data(body), buf_len(body));
	}
	buf_init(&dec, 64u << 20);
	mime_decode_all(mime_cte_parse(cte ? str_c(cte) : STR_NULL),
			str_make(buf_data(&msg) + hdr, buf_len(&msg) - hdr), &dec);
	char *want = malloc(3 * buf_len(&dec) + 2);
	ptrdiff_t wl = mime_charset_to_utf8(str_c(charset), buf_data(&dec), buf_len(&dec), want);
	if (wl < 0) { /* unknown: the octets as they are */
		memcpy(want, buf_data(&dec), buf_len(&dec));
		wl = (ptrdiff_t)buf_len(&dec);
	}
	CHECK(wl > 0);
	want[wl++] = '\n';

	struct mime_tree t;
	struct mime_search sm;
	mime_tree_parse(buf_data(&msg), buf_len(&msg), A, &t);
	mime_search_init(&sm, buf_data(&msg), buf_len(&msg), &t);
	sm.keep = 1;
	struct str text = mime_search_body_text(&sm);
	CHECK_EQ_INT(text.len, (size_t)wl);
	CHECK(text.len == (size_t)wl && memcmp(text.p, want, text.len) == 0);
	if (text.len != (size_t)wl || memcmp(text.p, want, text.len) != 0)
		fprintf(stderr, "  (charset %s, cte %s)\n", charset, cte ? cte : "8bit");
	mime_search_clear(&sm);
	free(want);
	buf_free(&dec);
	buf_free(&msg);
}

/* Appends `unit` until body holds n octets or more, a line end after every
 * `per_line` units (0: never). */
static void fill(struct buf *body, const char *unit, size_t n, unsigned per_line)
{
	for (unsigned k = 1; buf_len(body) < n; k++) {
		buf_append(body, unit, strlen(unit));
		if (per_line && k % per_line == 0)
			buf_append(body, "\r\n", 2);
	}
}

static void test_long_parts(void)
{
	struct buf b;
	const size_t n = 300 * 1024; /* several of mime_search's pieces */
	/* UTF-8 in lines, in every encoding. */
	buf_init(&b, n + 4096);
	fill(&b, "Gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac caf\xc3\xa9 \xf0\x9f\x98\x80 ", n, 5);
	check_long_part("utf-8", NULL, &b);
	check_long_part("utf-8", "base64", &b);
	check_long_part("utf-8", "quoted-printable", &b);
	buf_free(&b);
	/* UTF-8 without a line end or a space: cut before a lead octet. */
	buf_init(&b, n + 4096);
	fill(&b, "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", n, 0);
	check_long_part("utf-8", "base64", &b);
	buf_free(&b);
	/* One long line with spaces: cut after a space. */
	buf_init(&b, n + 4096);
	fill(&b, "\xe6\x97\xa5\xe6\x9c\xac word ", n, 0);
	check_long_part("utf-8", NULL, &b);
	buf_free(&b);
	/* Shift_JIS and GBK two-octet characters, second octets that are
	 * letters and digits; lines, then one line with spaces. */
	buf_init(&b, n + 4096);
	fill(&b, "\x93\xfa\x96\x7b\x8c\xea \x83\x41\x83\x43", n, 7);
	check_long_part("shift_jis", "base64", &b);
	buf_free(&b);
	buf_init(&b, n + 4096);
	fill(&b, "\xc4\xe3\xba\xc3 \xca\xc0\xbd\xe7 ", n, 0);
	check_long_part("gbk", "base64", &b);
	buf_free(&b);
	/* GB18030 four-octet characters (digits second and fourth). */
	buf_init(&b, n + 4096);
	fill(&b, "\x95\x32\x82\x36 \x81\x30\x89\x38\xc4\xe3 ", n, 9);
	check_long_part("gb18030", "base64", &b);
	buf_free(&b);
	/* ISO-2022-JP: shift state within each line, back to ASCII at its end. */
	buf_init(&b, n + 4096);
	fill(&b, "\x1b$BF|K\\\x1b(B text \x1b$B8l\x1b(B", n, 3);
	check_long_part("iso-2022-jp", "quoted-printable", &b);
	buf_free(&b);
	/* UTF-7 in one long line whose only octets below 0x30 are the "+"
	 * that start base64 runs (a cut there, or anywhere in a run, turned
	 * the run into text and lost a character), then in lines. */
	buf_init(&b, n + 4096);
	fill(&b, "+ZeVnLIqe:", n, 0);
	check_long_part("utf-7", NULL, &b);
	buf_free(&b);
	buf_init(&b, n + 4096);
	fill(&b, "caf+AOk- +2D3eAA-", n, 5);
	check_long_part("UTF-7", "base64", &b);
	buf_free(&b);
	/* A charset nobody converts: its octets as they are. */
	buf_init(&b, n + 4096);
	fill(&b, "\xff\xfe a\x80" "b ", n, 11);
	check_long_part("x-unknown", "base64", &b);
	buf_free(&b);
}

/* Folding for search: the letters mime_casefold folds, and the ones
 * only search folds (final sigma, Greek capitals with tonos, Cyrillic
 * past U+042F, Armenian), each to what CaseFolding.txt gives. */
static void test_fold_more(void)
{
	static const char *const pairs[][2] = {
	    {"\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3", "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83"}, /* ΣΟΦΟΣ σοφοσ */
	    {"\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82", "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x83"}, /* σοφος: ς is σ */
	    {"\xce\x86\xce\x88\xce\x89\xce\x8a\xce\x8c\xce\x8e\xce\x8f\xce\xaa\xce\xab",
	     "\xce\xac\xce\xad\xce\xae\xce\xaf\xcf\x8c\xcf\x8d\xcf\x8e\xcf\x8a\xcf\x8b"}, /* ΆΈΉΊΌΎΏΪΫ */
	    {"\xd2\x90\xd1\xb2\xd3\x80\xd3\x81\xd3\x90\xd4\xae", "\xd2\x91\xd1\xb3\xd3\x8f\xd3\x82\xd3\x91\xd4\xaf"}, /* Ґ Ѳ Ӏ Ӂ Ӑ Ԯ */
	    {"\xd4\xb1\xd5\x96", "\xd5\xa1\xd6\x86"}, /* Armenian Ա Ֆ */
	    {"\xd2\x82\xd2\x91 x\xce", "\xd2\x82\xd2\x91 x\xce"}, /* a sign, a small letter, a cut one */
	};
	/* each pair maps to one i;unicode-casemap key */
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		char b[MIME_SEARCH_FOLD_ROOM(64)], c[MIME_SEARCH_FOLD_ROOM(64)];
		size_t n = strlen(pairs[i][0]), m = strlen(pairs[i][1]);
		memcpy(b, pairs[i][0], n);
		memcpy(c, pairs[i][1], m);
		b[mime_search_fold(b, n)] = '\0';
		c[mime_search_fold(c, m)] = '\0';
		CHECK_EQ_STR(b, c);
	}
}

/* i;unicode-casemap (RFC 5051) in header and body search: titlecase,
 * then NFKD, so lengths change ("é" is two code points) and the
 * snippet's offsets are in the mapped text; what has no simple titlecase
 * mapping ("ß", "ΐ") stays apart from what a full fold would give. */
static void test_full_fold(void)
{
	const char *msg = "Subject: =?utf-8?q?Stra=C3=9Fe_=C7=85_?= \xf0\x90\x90\x80\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n\r\n"
			  "\xce\x90 \xe2\x84\xaa \xe1\xb2\x90\xe1\xb2\x91 Gro\xc3\x9f STRASSE\r\n";
	static const char *const hits[] = {
		"STRA\xc3\x9f" "E", "stra\xc3\x9f" "e", "\xc7\x84", "\xc7\x86", "\xf0\x90\x90\xa8",
	};
	static const char *const body_hits[] = {
		"\xce\x90", "K", "k", "\xe1\xb2\x90\xe1\xb2\x91", "GRO\xc3\x9f", "gro\xc3\x9f strasse",
	};
	/* RFC 5051 has no full folding: STRASSE is not Straße, the small ΐ
	 * (no simple titlecase) is not its capital-iota decomposition */
	static const char *const misses[] = { "STRASSE", "\xce\x99\xcc\x88\xcc\x81" };
	struct mime_tree t;
	struct mime_search sm;
	mime_tree_parse(msg, strlen(msg), A, &t);
	mime_search_init(&sm, msg, strlen(msg), &t);
	sm.keep = 1;
	for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
		char f[MIME_SEARCH_FOLD_ROOM(32)];
		size_t n = strlen(hits[i]);
		memcpy(f, hits[i], n);
		n = mime_search_fold(f, n);
		CHECK(mime_search_header(&sm, str_c("Subject"), str_make(f, n)));
	}
	for (size_t i = 0; i < sizeof body_hits / sizeof body_hits[0]; i++) {
		char f[MIME_SEARCH_FOLD_ROOM(32)];
		size_t n = strlen(body_hits[i]);
		memcpy(f, body_hits[i], n);
		n = mime_search_fold(f, n);
		CHECK(mime_search_body(&sm, str_make(f, n)));
	}
	for (size_t i = 0; i < sizeof misses / sizeof misses[0]; i++) {
		char f[MIME_SEARCH_FOLD_ROOM(32)];
		size_t n = strlen(misses[i]);
		memcpy(f, misses[i], n);
		n = mime_search_fold(f, n);
		/* the subject has Straße, the body ΐ (and STRASSE) */
		CHECK(i == 0 ? !mime_search_header(&sm, str_c("Subject"), str_make(f, n))
			     : !mime_search_body(&sm, str_make(f, n)));
	}
	/* "großstrasse" is not there: a space between */
	char f[MIME_SEARCH_FOLD_ROOM(32)] = "GRO\xc3\x9fSTRASSE";
	CHECK(!mime_search_body(&sm, str_make(f, mime_search_fold(f, 12))));
	/* The key is longer than the text: ΐ is 6 octets mapped, 2 in the
	 * text; the Kelvin sign 1, 3 in the text. */
	char g[MIME_SEARCH_FOLD_ROOM(32)] = "gro\xc3\x9f";
	CHECK_EQ_INT(mime_search_body_find(&sm, str_make(g, mime_search_fold(g, 5)), 0), 16);
	struct str text = mime_search_body_text(&sm);
	CHECK(text.len > 20 && !memcmp(text.p + 14, "Gro\xc3\x9f", 5));
	mime_search_clear(&sm);
}

int main(void)
{
	test_fold_more();
	A = arena_new(0);
	test_full_fold();
	test_root_subject();
	test_root_bare_lf();
	test_value();
	test_body_find();
	test_long_parts();
	arena_free(&A);
	return unit_done("test_mime_search_fast");
}
