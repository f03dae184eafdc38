/*
 * test_rfc5322.c — header parser, unfolding, encoded-words, summaries.
 *
 * The parser is driven the way a real caller does (keep what was not
 * consumed, append what arrives, say eof at the end) with the input whole,
 * one byte at a time and in random chunks; the logs of fields and the end
 * must be identical.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/rfc5322.h"
#include "mime/summary.h"
#include "unit.h"

struct log {
	char *s;
	size_t n, cap;
};

static void log_add(struct log *l, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (l->n + 8 > l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->s = realloc(l->s, l->cap);
		}
		if (p[i] == '\r') {
			memcpy(l->s + l->n, "\\r", 2);
			l->n += 2;
		} else if (p[i] == '\n') {
			memcpy(l->s + l->n, "\\n", 2);
			l->n += 2;
		} else if (p[i] == '\0') {
			memcpy(l->s + l->n, "\\0", 2);
			l->n += 2;
		} else {
			l->s[l->n++] = p[i];
		}
	}
	if (l->s)
		l->s[l->n] = '\0';
}

static void log_str(struct log *l, const char *s)
{
	log_add(l, s, strlen(s));
}

static void log_free(struct log *l)
{
	free(l->s);
	l->s = NULL;
	l->n = l->cap = 0;
}

static unsigned rng_state;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/*
 * Parses in[0..len) delivered in chunks (mode 0 whole, 1 bytes, else random
 * seeded by mode). verbose 0 logs only names (for big inputs).
 */
static void run(const char *in, size_t len, unsigned mode, int verbose, struct log *l)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	char *acc = malloc(len + 1);
	size_t have = 0, pos = 0, c;
	char tmp[96];
	int r, finished = 0;

	l->n = 0;
	log_str(l, "");
	rng_state = mode;
	rfc5322_init(&p);
	while (!finished) {
		size_t step = mode == 0 ? len : mode == 1 ? 1 : 1 + rng() % 23;
		int eof;

		if (step > len - have)
			step = len - have;
		memcpy(acc + have, in + have, step);
		have += step;
		eof = have == len;
		for (;;) {
			/* Hand over exactly the unconsumed bytes, in a fresh
			 * allocation, so ASan sees any read outside them. */
			char *view = malloc(have - pos + 1);

			memcpy(view, acc + pos, have - pos);
			r = rfc5322_parse(&p, view, have - pos, eof, &c, &f);
			CHECK(c <= have - pos);
			pos += c;
			CHECK_EQ_INT(p.offset, pos);
			if (r == RFC5322_FIELD) {
				CHECK(f.raw.p == f.name.p);
				CHECK(f.value.p >= f.raw.p &&
				      f.value.p + f.value.len <= f.raw.p + f.raw.len);
				log_add(l, f.name.p, f.name.len);
				if (verbose) {
					log_str(l, "=[");
					log_add(l, f.value.p, f.value.len);
					snprintf(tmp, sizeof(tmp), "](%zu) ", f.raw.len);
					log_str(l, tmp);
				} else {
					log_str(l, " ");
				}
				free(view);
				continue;
			}
			free(view);
			if (r == RFC5322_MORE) {
				CHECK(!eof);
				break;
			}
			if (r == RFC5322_END) {
				CHECK_EQ_INT(p.body_offset, pos);
				snprintf(tmp, sizeof(tmp), "END@%llu%s%s",
				         (unsigned long long)p.body_offset,
				         p.no_separator ? " nosep" : "", p.bare_lf ? " lf" : "");
				/* sticky */
				CHECK_EQ_INT(rfc5322_parse(&p, "x", 1, 1, &c, &f), RFC5322_END);
				CHECK_EQ_INT(c, 0);
			} else {
				snprintf(tmp, sizeof(tmp), "ERR%d", r);
				CHECK_EQ_INT(rfc5322_parse(&p, "x", 1, 1, &c, &f), r);
			}
			log_str(l, tmp);
			finished = 1;
			break;
		}
	}
	rfc5322_clear(&p);
	free(acc);
}

static void check_hdr(const char *in, size_t len, int verbose, const char *expect, int line)
{
	struct log whole = {0}, other = {0};
	unsigned mode;

	run(in, len, 0, verbose, &whole);
	unit_checks++;
	if (expect && strcmp(whole.s, expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: got\n  %s\nexpected\n  %s\n", __FILE__, line, whole.s,
		        expect);
	}
	for (mode = 1; mode < (len > 100000 ? 4u : 14u); mode++) {
		run(in, len, mode, verbose, &other);
		unit_checks++;
		if (strcmp(whole.s, other.s) != 0) {
			unit_failures++;
			fprintf(stderr, "%s:%d: chunk mode %u gives\n  %s\nwhole gives\n  %s\n",
			        __FILE__, line, mode, other.s, whole.s);
		}
	}
	free(whole.s);
	free(other.s);
}

#define HDR(in, expect) check_hdr(in, sizeof(in) - 1, 1, expect, __LINE__)

static void test_fields(void)
{
	HDR("From: a\r\nTo: b\r\n\r\nbody", "From=[ a](9) To=[ b](7) END@18");
	HDR("From: a\nTo: b\n\nbody\n", "From=[ a](8) To=[ b](6) END@15 lf");
	HDR("From: a\r\nTo: b\n\r\n", "From=[ a](9) To=[ b](6) END@17 lf");
	HDR("Subject: a\r\n b\r\n\tc\r\n\r\n", "Subject=[ a\\r\\n b\\r\\n\tc](20) END@22");
	HDR("Subject: a\n b\n\n", "Subject=[ a\\n b](14) END@15 lf");
	HDR("A:\r\n\r\n", "A=[](4) END@6");
	HDR("A:b\r\n\r\n", "A=[b](5) END@7");
	HDR("A:b\rc\r\n\r\n", "A=[b\\rc](7) END@9");
	HDR("A: b\r\r\n\r\n", "A=[ b\\r](7) END@9");
	HDR("A: \0b\r\n\r\n", "A=[ \\0b](7) END@9");
	HDR("Subject : x\r\n\r\n", "Subject=[ x](13) END@15");
	HDR("Subject\t:x\r\n\r\n", "Subject=[x](12) END@14");
	HDR("X-Weird!#$%&'*+-./;<=>?@[\\]^_`{|}~: v\r\n\r\n",
	    "X-Weird!#$%&'*+-./;<=>?@[\\]^_`{|}~=[ v](39) END@41");
	HDR("A: 1\r\nA: 2\r\n\r\n", "A=[ 1](6) A=[ 2](6) END@14");
	HDR("A: b: c\r\n\r\n", "A=[ b: c](9) END@11");
	/* end of input without an empty line */
	HDR("", "END@0 nosep");
	HDR("A: 1\r\n", "A=[ 1](6) END@6 nosep");
	HDR("A: 1", "A=[ 1](4) END@4 nosep");
	HDR("A: 1\r", "A=[ 1\\r](5) END@5 nosep");
	HDR("A: 1\r\n ", "A=[ 1\\r\\n ](7) END@7 nosep");
	HDR("A: 1\r\n\r", "A=[ 1](6) END@6 nosep");
	HDR("A", "=[A](1) END@1 nosep");
	/* empty header */
	HDR("\r\nbody", "END@2");
	HDR("\nbody", "END@1 lf");
	HDR("\r\n", "END@2");
}

static void test_malformed(void)
{
	/* A line that is not a field stays in the header as a field with an
	 * empty name (RFC 5322 §2.1: only the empty line ends the header). */
	HDR("From: a\r\nnot a header\r\nTo: b\r\n\r\n",
	    "From=[ a](9) =[not a header](14) To=[ b](7) END@32");
	HDR("From sender@example.com Mon Jan  1 00:00:00 2024\nFrom: a\n\n",
	    "=[From sender@example.com Mon Jan  1 00:00:00 2024](49) From=[ a](8) END@58 lf");
	HDR(" leading: space\r\n\r\n", "=[ leading: space](17) END@19");
	HDR("\tx\r\n y\r\n\r\n", "=[\tx\\r\\n y](8) END@10");
	HDR(": no name\r\n\r\n", "=[: no name](11) END@13");
	HDR("A: 1\r\n: no name\r\n\r\n", "A=[ 1](6) =[: no name](11) END@19");
	HDR("N\xC3\xA4me: v\r\n\r\n", "=[N\xC3\xA4me: v](10) END@12");
	HDR("A: 1\r\nB C: 2\r\n\r\n", "A=[ 1](6) =[B C: 2](8) END@16");
	HDR("A: 1\r\n\rX\r\n\r\n", "A=[ 1](6) =[\\rX](4) END@12");
	HDR("A: 1\r\nB\0: 2\r\n\r\n", "A=[ 1](6) =[B\\0: 2](7) END@15");
	HDR("A: 1\r\nB\r\n\r\n", "A=[ 1](6) =[B](3) END@11");
	HDR("A: 1\r\nB", "A=[ 1](6) =[B](1) END@7 nosep");
	/* the message's first line only: no empty line anywhere */
	HDR("Hello\r\nworld\r\n", "=[Hello](7) =[world](7) END@14 nosep");
}

static void test_limits(void)
{
	size_t n, i;
	char *m;
	char expect[128];

	/* names of 256 and 257 octets; 256 plus spaces before the colon */
	m = malloc(RFC5322_HEADER_MAX + 4096);
	memset(m, 'N', 256);
	memcpy(m + 256, ": v\r\n\r\n", 7);
	check_hdr(m, 263, 0, NULL, __LINE__);
	{
		struct log l = {0};

		run(m, 263, 0, 0, &l);
		CHECK(strstr(l.s, "END@263") != NULL);
		log_free(&l);
	}
	memset(m, 'N', 257);
	memcpy(m + 257, ": v\r\n\r\n", 7);
	check_hdr(m, 264, 0, "ERR-1", __LINE__);
	memset(m, 'N', 250);
	memset(m + 250, ' ', 7);
	memcpy(m + 257, ": v\r\n\r\n", 7);
	check_hdr(m, 264, 0, "ERR-1", __LINE__);
	memset(m, 'N', 257);
	check_hdr(m, 257, 0, "ERR-1", __LINE__);

	/* a field of exactly RFC5322_FIELD_MAX octets, with folds; then one more */
	n = RFC5322_FIELD_MAX;
	memcpy(m, "X: ", 3);
	for (i = 3; i < n - 2; i++)
		m[i] = (i % 70 == 0) ? '\n' : (i % 70 == 1) ? ' ' : 'v';
	memcpy(m + n - 2, "\r\n", 2);
	memcpy(m + n, "\r\n", 2);
	snprintf(expect, sizeof(expect), "X END@%zu lf", n + 2);
	check_hdr(m, n + 2, 0, expect, __LINE__);
	memmove(m + 1, m, n + 2);
	m[0] = 'Y';
	check_hdr(m, n + 3, 0, "ERR-2", __LINE__);
	/* ... also when the field is the last thing, without line end */
	m[n - 1] = 'v';
	m[n] = 'v';
	snprintf(expect, sizeof(expect), "YX END@%zu nosep lf", n);
	check_hdr(m, n, 0, expect, __LINE__);
	check_hdr(m, n + 1, 0, "ERR-2", __LINE__);

	/* a header section of exactly RFC5322_HEADER_MAX octets, then one more */
	n = 0;
	while (n + 1000 <= RFC5322_HEADER_MAX - 2) {
		memcpy(m + n, "F: ", 3);
		memset(m + n + 3, 'v', 995);
		memcpy(m + n + 998, "\r\n", 2);
		n += 1000;
	}
	i = RFC5322_HEADER_MAX - 2 - n; /* fill the rest with one shorter field */
	memcpy(m + n, "G:", 2);
	memset(m + n + 2, 'w', i - 4);
	memcpy(m + n + i - 2, "\r\n", 2);
	n += i;
	memcpy(m + n, "\r\nbody", 6);
	snprintf(expect, sizeof(expect), "END@%d", RFC5322_HEADER_MAX);
	{
		struct log l = {0};

		run(m, n + 6, 0, 0, &l);
		CHECK(l.n > 10 && strcmp(l.s + l.n - strlen(expect), expect) == 0);
		log_free(&l);
		run(m, n + 6, 1, 0, &l);
		CHECK(l.n > 10 && strcmp(l.s + l.n - strlen(expect), expect) == 0);
		log_free(&l);
	}
	memmove(m + 1, m, n + 6);
	m[0] = 'H';
	{
		struct log l = {0};

		run(m, n + 7, 0, 0, &l);
		CHECK(strcmp(l.s + l.n - 5, "ERR-3") == 0);
		log_free(&l);
		run(m, n + 7, 1, 0, &l);
		CHECK(strcmp(l.s + l.n - 5, "ERR-3") == 0);
		log_free(&l);
		run(m, n + 7, 5, 0, &l);
		CHECK(strcmp(l.s + l.n - 5, "ERR-3") == 0);
		log_free(&l);
	}
	free(m);
}

static void check_unfold(const char *in, const char *expect, int line)
{
	char dst[256];
	size_t n = rfc5322_unfold(str_c(in), dst);

	unit_checks++;
	if (n != strlen(expect) || memcmp(dst, expect, n) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: unfold gives \"%.*s\", expected \"%s\"\n", __FILE__, line,
		        (int)n, dst, expect);
	}
}

#define UNFOLD(in, out) check_unfold(in, out, __LINE__)

static void test_unfold(void)
{
	UNFOLD("", "");
	UNFOLD("   ", "");
	UNFOLD(" a", "a");
	UNFOLD(" a\r\n b", "a b");
	UNFOLD(" a\n\tb", "a\tb");
	UNFOLD("\r\n a \r\n b \r\n ", "a  b");
	UNFOLD(" a\rb", "a\rb");
	UNFOLD(" a\r", "a\r");
	UNFOLD("x\r\n\r\n y", "x y");
}

static void check_words(const char *in, const char *expect, int line)
{
	struct buf out;
	int r;

	buf_init(&out, 4096);
	r = rfc5322_decode_words(str_c(in), &out);
	unit_checks++;
	if (r != 0 || strcmp(buf_data(&out), expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: decode gives %d \"%s\", expected \"%s\"\n", __FILE__, line,
		        r, buf_data(&out), expect);
	}
	buf_free(&out);
}

#define WORDS(in, out) check_words(in, out, __LINE__)

static void test_words(void)
{
	struct buf out;

	WORDS("plain text", "plain text");
	WORDS("", "");
	WORDS("=?utf-8?q?caf=C3=A9?=", "café");
	WORDS("=?UTF-8?Q?caf=C3=A9_au_lait?=", "café au lait");
	WORDS("=?utf-8?b?Y2Fmw6k=?=", "café");
	WORDS("=?utf-8?B?Y2Fmw6k?=", "café");
	WORDS("=?iso-8859-1?q?caf=E9?=", "café");
	WORDS("=?ISO-8859-1?B?Y2Fm6Q==?=", "café");
	WORDS("=?us-ascii?q?hello?=", "hello");
	WORDS("=?us-ascii?q?h=E9llo?=", "h\xEF\xBF\xBDllo");
	WORDS("=?utf-8*en?q?hi?=", "hi");
	WORDS("Re: =?utf-8?q?a?= =?utf-8?q?b?= c", "Re: ab c");
	WORDS("=?utf-8?q?a?=\t \t=?utf-8?q?b?=", "ab");
	WORDS("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c");
	/* one character split across two words */
	WORDS("=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "é");
	WORDS("=?utf-8?b?w6=?=", "\xEF\xBF\xBD"); /* lenient padding; lone lead octet */
	WORDS("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "é");
	WORDS("=?utf-8?b?4oI=?= =?utf-8?b?rA==?=", "€");
	/* the charsets of the one table (mime_decode.c), as Dovecot decodes them */
	WORDS("=?windows-1252?Q?M=FCnchen_=96_Team?=", "München – Team");
	WORDS("=?iso-8859-15?q?=A4uro?=", "€uro");
	WORDS("=?Windows-1252?q?=80?= =?windows-1252?q?=80?=", "€€");
	WORDS("=?cp1252?q?a?= =?iso-8859-15?q?=A4?=", "a€");
	WORDS("=?windows-1252?q?=81?=", " "); /* a hole: the C1 control, as a space */
	/* charset change between words flushes */
	WORDS("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "éé");
	/* unknown charsets and malformed words stay as they are */
	WORDS("=?x-unknown?b?8NLJ18XU?=", "=?x-unknown?b?8NLJ18XU?=");
	WORDS("=?utf-7?q?+AOk-t+AOk-?=", "\xC3\xA9t\xC3\xA9"); /* RFC 2152 */
	WORDS("=?big5?b?pKSk5Q==?=", "\xE4\xB8\xAD\xE6\x96\x87"); /* 中文, by iconv */
	WORDS("=?koi8-r?b?8NLJ18XU?=", "Привет"); /* a table of mime_charset_tables.c */
	/* single-octet charsets by iconv: Greek, Turkish, Hebrew, Vietnamese */
	WORDS("=?windows-1253?q?=E1=E2?= =?ISO-8859-7?Q?=E3?=", "αβγ");
	WORDS("=?iso-8859-9?q?=DE=FE?=", "Şş");
	WORDS("=?ANSI_X3.4-1968?q?cron_job?=", "cron job");
	WORDS("=?windows-1255?B?4OHi?=", "אבג");
	WORDS("=?windows-1258?q?=D0=E2?=", "Đâ");
	WORDS("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	WORDS("=?utf-8?q?abc", "=?utf-8?q?abc");
	WORDS("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	WORDS("=?utf-8?b?!!!!?=", "=?utf-8?b?!!!!?=");
	WORDS("=?utf-8?b?Q?=", "=?utf-8?b?Q?=");
	WORDS("=??q?a?=", "=??q?a?=");
	WORDS("a =?x-unknown?q?x?= =?utf-8?q?y?=", "a =?x-unknown?q?x?= y");
	/* decoded controls and bad UTF-8 are neutralised */
	WORDS("=?utf-8?q?a=0D=0Ab=00c=09d?=", "a  b c\td");
	WORDS("=?utf-8?q?=FF=C0=AF?=", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	/* ISO-8859-1 is read as windows-1252, as the WHATWG Encoding
	 * Standard and every mail reader do: Outlook's quotes and dashes */
	WORDS("=?iso-8859-1?q?=93hi=94_=96_=80?=", "“hi” – €");
	WORDS("=?latin1?q?=85?=", "…");
	WORDS("=?ISO_8859-1:1987?q?caf=E9?= =?cp819?q?=99?=", "café™");
	WORDS("=?iso-8859-1?q?=81?=", " "); /* a hole of windows-1252: C1, a space */
	WORDS("=?utf-8?q?=3D=3f_=ZZ=?=", "=? =ZZ=");
	WORDS("=?utf-8?q?\?=", "");

	/* output ceiling */
	buf_init(&out, 3);
	CHECK_EQ_INT(rfc5322_decode_words(STR_LIT("=?utf-8?q?abcdef?="), &out), -1);
	CHECK(buf_len(&out) <= 3);
	buf_free(&out);
	buf_init(&out, 3);
	CHECK_EQ_INT(rfc5322_decode_words(STR_LIT("abcdef"), &out), -1);
	CHECK_EQ_STR(buf_data(&out), "abc"); /* the prefix that fits */
	buf_free(&out);
	buf_init(&out, 5);
	CHECK_EQ_INT(rfc5322_decode_words(STR_LIT("ab =?utf-8?q?cdef?="), &out), -1);
	CHECK_EQ_STR(buf_data(&out), "ab cd");
	buf_free(&out);
	buf_init(&out, 6);
	CHECK_EQ_INT(rfc5322_decode_words(STR_LIT("=?utf-8?q?a=0Dbcdefgh?="), &out), -1);
	CHECK_EQ_STR(buf_data(&out), "a bcde");
	buf_free(&out);
}

/* Plain text is copied in runs up to each '=' and decoded ASCII in runs
 * up to each control or non-ASCII octet: every boundary of a run. */
static void test_words_runs(void)
{
	WORDS("a=b c==d =", "a=b c==d =");
	WORDS("=?utf-8?q?x?==y", "x=y");
	WORDS("x=?utf-8?q?y?=z", "xyz");
	WORDS("=?utf-8?q?x?= plain text after", "x plain text after");
	WORDS("=?utf-8?q?x?= =tail", "x =tail");
	WORDS("=?utf-8?q?ab=09cd=C3=A9ef=7Fgh?=", "ab\tcd\xC3\xA9" "ef gh");
	WORDS("=?iso-8859-1?q?ab=E9cd?= tail", "ab\xC3\xA9" "cd tail");
	WORDS("\xC3\xA9t\xC3\xA9 =?utf-8?q?=C3=A9?= d\xC3\xA9j\xC3\xA0",
	      "\xC3\xA9t\xC3\xA9 \xC3\xA9 d\xC3\xA9j\xC3\xA0");

	/* A long field: one run, and each octet kept. */
	char in[4000], want[4000]; /* check_words keeps 4096 */
	for (size_t i = 0; i < sizeof in - 1; i++)
		in[i] = want[i] = (char)('a' + i % 26);
	in[sizeof in - 1] = want[sizeof want - 1] = '\0';
	check_words(in, want, __LINE__);
}

static void test_summary(void)
{
	static const char msg[] = "Received: from x\r\n"
	                          "From: =?utf-8?q?J=C3=B6?= <jo@example.com>\r\n"
	                          "To: a@example.com,\r\n b@example.com\r\n"
	                          "Subject:   Hello\r\n   world  \r\n"
	                          "subject: second wins not\r\n"
	                          "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	                          "Message-Id: <1@example.com>\r\n"
	                          "In-Reply-To:\r\n"
	                          "\r\n"
	                          "Cc: in the body\r\n";
	struct arena *a = arena_new(0);
	struct msg_summary s, d;
	struct buf out;
	char big[3000];
	unsigned char rec[16];
	size_t i;

	CHECK_EQ_INT(msg_summary_parse(msg, sizeof(msg) - 1, a, &s), 0);
	CHECK_EQ_SLICE(s.from, "=?utf-8?q?J=C3=B6?= <jo@example.com>");
	CHECK_EQ_SLICE(s.to, "a@example.com, b@example.com");
	CHECK_EQ_SLICE(s.subject, "Hello   world");
	CHECK_EQ_SLICE(s.date, "Mon, 1 Jan 2024 00:00:00 +0000");
	CHECK_EQ_SLICE(s.message_id, "<1@example.com>");
	CHECK(s.in_reply_to.p != NULL && s.in_reply_to.len == 0);
	CHECK(s.cc.p == NULL);

	buf_init(&out, 1 << 16);
	CHECK_EQ_INT(msg_summary_encode(&s, &out), 0);
	CHECK_EQ_INT(buf_data(&out)[0], MSG_SUMMARY_VERSION);
	CHECK_EQ_INT(msg_summary_decode(buf_data(&out), buf_len(&out), &d), 0);
	CHECK_EQ_SLICE(d.from, "=?utf-8?q?J=C3=B6?= <jo@example.com>");
	CHECK_EQ_SLICE(d.to, "a@example.com, b@example.com");
	CHECK_EQ_SLICE(d.subject, "Hello   world");
	CHECK_EQ_SLICE(d.date, "Mon, 1 Jan 2024 00:00:00 +0000");
	CHECK_EQ_SLICE(d.message_id, "<1@example.com>");
	CHECK(d.in_reply_to.p != NULL && d.in_reply_to.len == 0);
	CHECK(d.cc.p == NULL);

	/* corrupt records */
	/* every truncation: valid exactly at entry boundaries (own copy for ASan) */
	{
		const unsigned char *r = (const unsigned char *)buf_data(&out);
		size_t next = 1;

		for (i = 0; i <= buf_len(&out); i++) {
			unsigned char *cp = malloc(i + 1);
			int expect = i == next ? 0 : -1;

			memcpy(cp, r, i);
			if (i == next && i < buf_len(&out))
				next += 3 + ((size_t)r[i + 1] << 8 | r[i + 2]);
			CHECK_EQ_INT(msg_summary_decode(cp, i, &d), expect);
			free(cp);
		}
	}
	CHECK_EQ_INT(msg_summary_decode("", 0, &d), -1);
	CHECK_EQ_INT(msg_summary_decode("\x02", 1, &d), -1);
	CHECK_EQ_INT(msg_summary_decode("\x01", 1, &d), 0);
	CHECK(d.from.p == NULL);
	CHECK_EQ_INT(msg_summary_decode("\x01\x01\x00", 3, &d), -1);
	CHECK_EQ_INT(msg_summary_decode("\x01\x01\x00\x01", 4, &d), -1);
	CHECK_EQ_INT(msg_summary_decode("\x01\x01\x00\x01x", 5, &d), 0);
	CHECK_EQ_SLICE(d.from, "x");
	CHECK_EQ_INT(msg_summary_decode("\x01\x01\x00\x01x\x01\x00\x00", 8, &d), -1);
	CHECK(d.from.p == NULL);
	CHECK_EQ_INT(msg_summary_decode("\x01\x00\x00\x00", 4, &d), -1);
	CHECK_EQ_INT(msg_summary_decode("\x01\x63\x00\x02zz\x04\x00\x01s", 10, &d), 0);
	CHECK_EQ_SLICE(d.subject, "s");
	memset(rec, 0, sizeof(rec));
	rec[0] = 1;
	rec[1] = 4;
	rec[2] = 0x04;
	rec[3] = 0x01; /* 1025 > MSG_SUMMARY_VALUE_MAX */
	CHECK_EQ_INT(msg_summary_decode(rec, sizeof(rec), &d), -1);

	/* long values are cut at MSG_SUMMARY_VALUE_MAX on a UTF-8 boundary */
	memcpy(big, "Subject: ", 9);
	for (i = 9; i < 9 + 1023; i++)
		big[i] = 'a';
	memcpy(big + i, "\xE2\x82\xAC\xE2\x82\xAC\r\n\r\n", 10);
	CHECK_EQ_INT(msg_summary_parse(big, i + 10, a, &s), 0);
	CHECK_EQ_INT(s.subject.len, 1023);
	s.subject.len = i + 6 - 9;
	buf_reset(&out);
	CHECK_EQ_INT(msg_summary_encode(&s, &out), 0);
	CHECK_EQ_INT(msg_summary_decode(buf_data(&out), buf_len(&out), &d), 0);
	CHECK_EQ_INT(d.subject.len, 1023);
	s.subject.p = big + 10; /* 1022 'a' then the euro: 1025, cut to 1022 */
	s.subject.len = 1022 + 3;
	buf_reset(&out);
	CHECK_EQ_INT(msg_summary_encode(&s, &out), 0);
	CHECK_EQ_INT(msg_summary_decode(buf_data(&out), buf_len(&out), &d), 0);
	CHECK_EQ_INT(d.subject.len, 1022);

	/* encode into a buffer too small */
	buf_free(&out);
	buf_init(&out, 4);
	CHECK_EQ_INT(msg_summary_encode(&s, &out), -1);
	buf_free(&out);

	/* no header at all, and a header over the limit */
	CHECK_EQ_INT(msg_summary_parse("", 0, a, &s), 0);
	CHECK(s.from.p == NULL && s.subject.p == NULL);
	CHECK_EQ_INT(msg_summary_parse("\r\nFrom: x\r\n", 11, a, &s), 0);
	CHECK(s.from.p == NULL);
	{
		char *m = malloc(300);

		memcpy(m, "Subject: s\r\n", 12);
		memset(m + 12, 'N', 288);
		CHECK_EQ_INT(msg_summary_parse(m, 300, a, &s), -1);
		CHECK_EQ_SLICE(s.subject, "s");
		free(m);
	}
	arena_free(&a);
	CHECK(a == NULL);
}

int main(void)
{
	test_fields();
	test_malformed();
	test_limits();
	test_unfold();
	test_words();
	test_words_runs();
	test_summary();
	return unit_done("test_rfc5322");
}
