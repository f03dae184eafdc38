/*
 * test_mime_header_text.c — unstructured header text as tern writes it
 * (mime/mime_header_text.h): folding, RFC 2047 words, literal text; and
 * the downgrade of UTF-8 header fields (mime/mime_header_downgrade.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/utf8.h"
#include "mime/mime_header_downgrade.h"
#include "mime/mime_header_text.h"
#include "mime/rfc5322.h"
#include "unit.h"

/* The longest line of s (without its CRLF). */
static size_t longest_line(const char *s)
{
	size_t most = 0, col = 0;
	for (; *s; s++) {
		col = *s == '\r' || *s == '\n' ? 0 : col + 1;
		most = col > most ? col : most;
	}
	return most;
}

/* s with its folds' line ends taken out (RFC 5322 §2.2.3). */
static const char *unfolded(const char *s)
{
	static char out[8192];
	size_t n = 0;
	for (; *s && n + 1 < sizeof out; s++)
		if (*s != '\r' && *s != '\n')
			out[n++] = *s;
	out[n] = '\0';
	return out;
}

static const char *written(const char *before, const char *text, int literal)
{
	static char out[8192];
	struct buf b;
	buf_init(&b, sizeof out - 1);
	buf_append_c(&b, before);
	(literal ? mime_header_text_literal : mime_header_text)(&b, str_c(text));
	snprintf(out, sizeof out, "%.*s", (int)buf_len(&b), buf_data(&b));
	buf_free(&b);
	return out;
}

static const char *header_text(const char *before, const char *text)
{
	return written(before, text, 0);
}

/* Unstructured text, folded (RFC 5322 §2.1.1, §2.2.3; RFC 2047 §2). */
static void test_text(void)
{
	char words[1200], word[1501], utf[401];
	size_t n = 0;
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(words + n, sizeof words - n, "%sword%02d", i ? " " : "", i);
	const char *h = header_text("Received: x\r\nSubject: ", words);
	CHECK(longest_line(h) <= 78 && strstr(h, "\r\n word") != NULL);
	CHECK_EQ_STR(unfolded(h + 13) + 9, words);
	/* A line that fits is left alone; a fold the writer made is kept. */
	CHECK_EQ_STR(header_text("X: ", "short one"), "X: short one");
	CHECK_EQ_STR(header_text("X: ", "a\r\n b\n\tc\x01"), "X: a\r\n b\r\n\tc ");
	/* One word no line holds: encoded words, a line each (§2: 76). */
	memset(word, 'x', sizeof word - 1);
	word[sizeof word - 1] = '\0';
	h = header_text("X: ", word);
	CHECK(longest_line(h) <= 76 && strncmp(h, "X: =?utf-8?q?xxx", 16) == 0);
	CHECK(strstr(h, "?=\r\n =?utf-8?q?xxx") != NULL);
	/* Not ASCII: words that never split a character, after a long name too. */
	for (n = 0; n + 2 < sizeof utf; n += 2)
		memcpy(utf + n, "\xc3\xa9", 2);
	utf[n] = '\0';
	h = header_text("X: ", utf);
	CHECK(longest_line(h) <= 76 && strstr(h, "=C3?=") == NULL);
	h = header_text("X-A-Field-Name-Of-Sixty-Characters-Or-So-Padding-Padding-Pad: ", utf);
	CHECK(longest_line(h) <= 76 && strstr(h, ": \r\n =?utf-8?q?=C3=A9") != NULL);
	/* Text with "=?" reads as text: encoded throughout when literal. */
	CHECK_EQ_STR(written("X: ", "a =?utf-8?q?x?= b", 1),
	             "X: =?utf-8?q?a_=3D=3Futf=2D8=3Fq=3Fx=3F=3D_b?=");
	CHECK_EQ_STR(written("X: ", "no encoded word", 1), "X: no encoded word");
	CHECK_EQ_STR(header_text("X: ", "a =?utf-8?q?x?= b"), "X: a =?utf-8?q?x?= b");
}


/* Structured values are folded, never encoded. */
static void test_fold(void)
{
	char to[2000], h[2100];
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(to + n, sizeof to - n, "%s\"J\xc3\xb6rg %02d\" <j%02d@example.test>",
		                      i ? ", " : "", i, i);
	struct buf b;
	buf_init(&b, sizeof h - 1);
	buf_append_c(&b, "To:");
	mime_header_fold(&b, str_c(to));
	snprintf(h, sizeof h, "%.*s", (int)buf_len(&b), buf_data(&b));
	buf_free(&b);
	CHECK(longest_line(h) <= 78 && strstr(h, "=?") == NULL);
	CHECK_EQ_STR(unfolded(h) + 3, to);
	/* A word no line holds stays whole. */
	char word[1200];
	memset(word, 'y', sizeof word - 1);
	word[sizeof word - 1] = '\0';
	buf_init(&b, sizeof h - 1);
	buf_append_c(&b, "X-Id: ");
	mime_header_fold(&b, str_c(word));
	CHECK(buf_len(&b) == 6 + sizeof word - 1);
	buf_free(&b);
}

/* The header section h downgraded (NUL-terminated, static). */
static const char *downgraded(const char *h)
{
	static char out[8192];
	struct buf b;
	buf_init(&b, sizeof out - 1);
	CHECK(mime_header_downgrade(h, strlen(h), &b) == 0);
	memcpy(out, buf_data(&b), buf_len(&b));
	out[buf_len(&b)] = '\0';
	buf_free(&b);
	return out;
}

/* Checks "B" words as written after `before` (col columns): each line at
 * most max columns, each word whole UTF-8, and the words together name. */
static void check_b_words(const char *w, size_t col, size_t max, const char *name)
{
	char all[512], dec[64];
	size_t n = 0, len;
	size_t first = strcspn(w, "\r\n");
	const char *rest = strchr(w, '\n');
	CHECK(first == 0 || col + first <= max);
	CHECK(!rest || longest_line(rest + 1) <= max);
	for (const char *p = strstr(w, "=?UTF-8?B?"); p; p = strstr(p, "=?UTF-8?B?")) {
		p += 10;
		const char *e = strstr(p, "?=");
		CHECK(e && (size_t)(e - p) <= 60);
		if (!e)
			return;
		CHECK(base64_decode(str_make(p, (size_t)(e - p)), 0, dec, sizeof dec, &len) == 0);
		CHECK(utf8_valid(str_make(dec, len)));
		memcpy(all + n, dec, len);
		n += len;
		p = e;
	}
	CHECK(n == strlen(name) && memcmp(all, name, n) == 0);
}

/* RFC 2047 "B" words: on one line (IMAP's ENVELOPE), or folded for a
 * field within 76 columns (§2), the first on the field's own line. */
static void test_words(void)
{
	char name[200] = "";
	for (int i = 0; i < 20; i++)
		strcat(name, i % 2 ? "\xc3\x89lise " : "\xe2\x82\xac\xf0\x9f\x93\xa7");
	struct buf b;
	buf_init(&b, 4096);
	mime_header_words(&b, str_c("Ann \xc3\x89lise"));
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b), "=?UTF-8?B?QW5uIMOJbGlzZQ==?=");
	buf_reset(&b);
	mime_header_words(&b, str_c(name));
	buf_append(&b, "", 1);
	CHECK(strchr(buf_data(&b), '\n') == NULL);
	check_b_words(buf_data(&b), 0, 998, name);
	for (size_t col = 0; col <= 80; col += 2) {
		buf_reset(&b);
		size_t end = mime_header_words_folded(&b, str_c(name), col);
		buf_append(&b, "", 1);
		const char *w = buf_data(&b), *last = strrchr(w, '\n');
		CHECK(strncmp(w, "\r\n =?", 5) == 0 || strncmp(w, "=?", 2) == 0);
		check_b_words(w, col, 76, name);
		CHECK(end == (last ? strlen(last + 1) : col + strlen(w)));
	}
	buf_reset(&b);
	CHECK(mime_header_words_folded(&b, str_c(""), 9) == 9 && buf_len(&b) == 0);
	buf_free(&b);
}

static void test_downgrade(void)
{
	/* Nothing to do: ASCII, and 8-bit octets that are not UTF-8. */
	const char *plain = "Subject: hi\r\nFrom: a@b.test\r\n\r\n";
	const char *latin1 = "Subject: caf\xe9\r\n\r\n";
	CHECK(!mime_header_needs_downgrade(plain, strlen(plain)));
	CHECK_EQ_STR(downgraded(plain), plain);
	CHECK(!mime_header_needs_downgrade(latin1, strlen(latin1)));
	CHECK_EQ_STR(downgraded(latin1), latin1);
	CHECK(mime_header_needs_downgrade("X: \xc3\xa9\r\n", 7));
	/* Unstructured: words; the rest of the header kept, empty line too. */
	CHECK_EQ_STR(downgraded("Subject: caf\xc3\xa9\r\nDate: x\r\n\r\n"),
		     "Subject: =?utf-8?q?caf=C3=A9?=\r\nDate: x\r\n\r\n");
	/* Addresses: A-labels for a UTF-8 domain, B words for a name, an
	 * empty group for a UTF-8 local part, a comment inside a group. */
	CHECK_EQ_STR(downgraded("To: \"J\xc3\xb6 \\\"x\\\"\" <a@b\xc3\xbc" "cher.test>, c@d\r\n"),
		     "To: =?UTF-8?B?SsO2ICJ4Ig==?= <a@xn--bcher-kva.test>, c@d\r\n");
	CHECK_EQ_STR(downgraded("From: j\xc3\xb6rg@x.test\r\n"),
		     "From: =?UTF-8?B?asO2cmdAeC50ZXN0?= :;\r\n");
	CHECK_EQ_STR(downgraded("Cc: G: a@b, \xc3\xa9@x;\r\n"),
		     "Cc: G: a@b, (=?UTF-8?B?w6lAeA==?=);\r\n");
	/* Structured fields: A-labels where that is all it takes (the field
	 * and its folds kept), else renamed with the value in words. */
	CHECK_EQ_STR(downgraded("Received: from x\r\n\tfor <a@\xc3\xa9.test>; d\r\n"),
		     "Received: from x\r\n\tfor <a@xn--9ca.test>; d\r\n");
	CHECK_EQ_STR(downgraded("Message-ID: <\xc3\xa9@x>\r\n"),
		     "Downgraded-Message-ID: =?utf-8?q?=3C=C3=A9=40x=3E?=\r\n");
	/* MIME parameters: a UTF-8 value in RFC 2231's form, the field kept
	 * (renamed, the part would lose its type), the other parameters as
	 * written; a long one in sections. */
	CHECK_EQ_STR(downgraded("Content-Type: application/pdf; name=\"caf\xc3\xa9 1.pdf\"\r\n"),
		     "Content-Type: application/pdf;\r\n\tname*=utf-8''caf%C3%A9%201.pdf\r\n");
	CHECK_EQ_STR(downgraded("Content-Disposition: attachment;\r\n filename=\xc3\xa9.txt; size=3\r\n"),
		     "Content-Disposition: attachment;\r\n\tfilename*=utf-8''%C3%A9.txt;\r\n\tsize=3\r\n");
	const char *lng = downgraded("Content-Type: text/plain; name=\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"\r\n");
	CHECK_EQ_STR(lng, "Content-Type: text/plain;\r\n\tname*0*=utf-8''%C3%A9%C3%A9%C3%A9%C3%A9"
			  "%C3%A9%C3%A9%C3%A9;\r\n\tname*1*=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9\r\n");
	/* 8-bit in the type itself has no MIME form: renamed. */
	CHECK(strncmp(downgraded("Content-Type: t\xc3\xa9xt/plain\r\n"), "Downgraded-Content-Type:", 24) == 0);
	/* An address list that does not parse (an open quote): renamed. */
	CHECK(strncmp(downgraded("To: \"\xc3\xa9 <a@b>\r\n"), "Downgraded-To: =?utf-8?", 23) == 0);
	CHECK(mime_header_section_len("A: b\nC: d\n\nbody", 15) == 11);
	CHECK(mime_header_section_len("A: b\r\n", 6) == 6);
}

/* Every line of field h (CRLF-separated) within RFC 2047 §2's 76 when it
 * holds an encoded word, within RFC 5322's 78 when not; and more than
 * one line (it was folded). */
static void check_fold_lines(const char *h)
{
	size_t lines = 0;
	for (const char *l = h; *l;) {
		const char *e = strstr(l, "\r\n");
		size_t len = e ? (size_t)(e - l) : strlen(l);
		int words = 0;
		for (size_t i = 0; i + 1 < len; i++)
			words |= l[i] == '=' && l[i + 1] == '?';
		if (len > (words ? 76u : 78u))
			CHECK_EQ_STR(l, "a shorter line");
		lines++;
		l += len + (e ? 2 : 0);
	}
	CHECK(lines > 1);
}

/* Downgraded address lists fold within 76 where a line holds a word:
 * long display names (two words), several addresses, a group, a
 * mailbox with no ASCII form, a long field name before a long word. */
static void test_downgrade_address_fold(void)
{
	const char *h = downgraded(
	    "To: \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 P\xc3\xa9rs\xc3\xb6n With A Really Quite Long "
	    "Display Name Indeed <u@x.test>, J\xc3\xb6rg M\xc3\xbcller-L\xc3\xbc" "denscheidt "
	    "<jm@b\xc3\xbc" "cher.test>, plain@x.test, Gr\xc3\xbc\xc3\x9f" "e-Team: a@b.test, "
	    "Zo\xc3\xab <z@x.test>;, j\xc3\xb6rg@x.test\r\n");
	check_fold_lines(h);
	CHECK_EQ_STR(unfolded(h),
		     "To: =?UTF-8?B?w5xuw69jw7Zkw6kgUMOpcnPDtm4gV2l0aCBBIFJlYWxseSBRdWl0ZSBMb25n?= "
		     "=?UTF-8?B?IERpc3BsYXkgTmFtZSBJbmRlZWQ=?= <u@x.test>, "
		     "=?UTF-8?B?SsO2cmcgTcO8bGxlci1Mw7xkZW5zY2hlaWR0?= <jm@xn--bcher-kva.test>, "
		     "plain@x.test, =?UTF-8?B?R3LDvMOfZS1UZWFt?=: a@b.test, "
		     "=?UTF-8?B?Wm/Dqw==?= <z@x.test>;, =?UTF-8?B?asO2cmdAeC50ZXN0?= :;");
	/* After a long name, the first word goes to a line of its own. */
	h = downgraded("Disposition-Notification-To: \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 "
		       "P\xc3\xa9rs\xc3\xb6n With A Really Quite Long <u@x.test>\r\n");
	check_fold_lines(h);
	const char *own_line = "Disposition-Notification-To:\r\n =?UTF-8?B?";
	CHECK(strncmp(h, own_line, strlen(own_line)) == 0);
	/* 78 columns would do for RFC 5322, not for a line with a word:
	 * "From: " and a 72-column word. */
	h = downgraded("From: \xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 P\xc3\xa9rs\xc3\xb6n With A "
		       "Really Quite Long <u@x.test>\r\n");
	check_fold_lines(h);
	/* One that fits is one line, as before. */
	CHECK_EQ_STR(downgraded("Cc: Zo\xc3\xab <z@x.test>\r\n"), "Cc: =?UTF-8?B?Wm/Dqw==?= <z@x.test>\r\n");
}

/* A header section past RFC5322_HEADER_MAX (no empty line before it, as
 * in a message that has none) ends before the field crossing the limit,
 * as the MIME parser ends it: POP3 downgraded the whole message as its
 * header, and built that downgrade (up to six times the size) in memory. */
static void test_section_limit(void)
{
	const char field[] = "X-A: \xc3\xa9t\xc3\xa9\r\n\tmore\r\n"; /* 19 octets, folded */
	size_t fl = sizeof(field) - 1, n = 3 * RFC5322_HEADER_MAX, k = 0;
	char *m = malloc(n);

	for (; k + fl <= n; k += fl)
		memcpy(m + k, field, fl);
	memset(m + k, 'x', n - k);
	size_t hl = mime_header_section_len(m, n);
	CHECK(hl <= RFC5322_HEADER_MAX && hl > RFC5322_HEADER_MAX - fl);
	CHECK(hl % fl == 0); /* at a field's start, not at its folded line */
	/* The empty line ending at the limit still counts; one past it not. */
	size_t at = RFC5322_HEADER_MAX - 2;
	memset(m, 'x', at);
	m[0] = 'A', m[1] = ':', m[at - 2] = '\r', m[at - 1] = '\n';
	m[at] = '\r', m[at + 1] = '\n';
	CHECK(mime_header_section_len(m, n) == RFC5322_HEADER_MAX);
	m[at - 2] = m[at - 1] = 'x';
	m[at + 1] = '\r', m[at + 2] = '\n';
	m[at + 3] = '\r', m[at + 4] = '\n';
	CHECK(mime_header_section_len(m, n) == 0); /* one field across the limit */
	/* A short message without an empty line is still all header. */
	CHECK(mime_header_section_len(m, 1000) == 1000);
	free(m);
}

int main(void)
{
	test_text();
	test_fold();
	test_words();
	test_downgrade();
	test_downgrade_address_fold();
	test_section_limit();
	return unit_done("test_mime_header_text");
}
