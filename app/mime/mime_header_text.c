/*
 * mime_header_text.c — the one writer of unstructured header text (RFC
 * 5322 §3.2.5) that tern composes: subjects and fields Sieve adds
 * (addheader, vacation, MDNs) and JMAP's Email/set create. Folded before
 * whitespace within 78 columns; text that is not ASCII, or a word no
 * line of 998 holds, as RFC 2047 "Q" words in UTF-8 (a reader joins
 * adjacent ones, §6.2, so the value reads back the same).
 *
 * Design: pure functions appending to a struct buf; the column the value
 * starts at is read from what out already holds after its last LF, so a
 * caller writes "Name: " and then the value.
 */
#include "core/hex.h"
#include "mime/mime_header_text.h"

/* RFC 5322 §2.1.1: a line SHOULD be at most 78 characters, MUST be at
 * most 998 (both without its CRLF); RFC 2047 §2: one that holds an
 * encoded word at most 76. */
#define LINE_SOFT 78
#define LINE_HARD 998
#define LINE_WORDS 76

static int text_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* How long the line break at s[i] is when the value's writer folded
 * there (CRLF or LF before whitespace: the interpreter allows both), else 0. */
static size_t kept_fold(struct str s, size_t i)
{
	size_t n = s.p[i] == '\r' && i + 1 < s.len && s.p[i + 1] == '\n' ? 2 : s.p[i] == '\n';
	return n && i + n < s.len && text_wsp(s.p[i + n]) ? n : 0;
}

/* What s[i] is written as outside a kept fold: controls become spaces. */
static char text_char(struct str s, size_t i)
{
	unsigned char c = (unsigned char)s.p[i];
	return (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
}

/* Where a fold may go before s[i]: whitespace that starts a word (the
 * last of a run), so no line is only whitespace (RFC 5322 §3.2.2). */
static int fold_point(struct str s, size_t i)
{
	return text_wsp(text_char(s, i)) && !kept_fold(s, i) && i + 1 < s.len &&
	       !kept_fold(s, i + 1) && !text_wsp(text_char(s, i + 1));
}

/* 1 when s[i..j) holds the start of an encoded word ("=?", RFC 2047
 * §2): a value written with words already (a downgraded address list, a
 * Sieve script's own words) folds within 76 where it holds one. */
static int holds_word(struct str s, size_t i, size_t j)
{
	for (; i + 1 < j; i++)
		if (s.p[i] == '=' && s.p[i + 1] == '?')
			return 1;
	return 0;
}

/*
 * s folded before whitespace (RFC 5322 §2.2.3: unfolding gives s back)
 * where a line would pass 78 columns, or 76 on a line holding an encoded
 * word, col being the first line's so far; columns are octets, so UTF-8
 * only folds sooner. A value may start with whitespace, so that its first
 * word can go to a line of its own after the field's name. Written only
 * with write; returns the longest line's length.
 */
static size_t fold_plain(struct buf *out, struct str s, size_t col, int write)
{
	size_t longest = col;
	int words = 0; /* the line so far holds an encoded word */
	for (size_t i = 0, j; i < s.len; i = j) {
		size_t f = kept_fold(s, i);
		if (f) {
			if (write)
				(void)buf_append_c(out, "\r\n");
			col = 0;
			words = 0;
			j = i + f;
			continue;
		}
		for (j = i + 1; j < s.len && !kept_fold(s, j) && !fold_point(s, j); j++)
			;
		int w = holds_word(s, i, j);
		size_t max = words || w ? LINE_WORDS : LINE_SOFT;
		if (col > 0 && fold_point(s, i) && col + (j - i) > max) {
			if (write)
				(void)buf_append_c(out, "\r\n");
			col = 0;
			words = 0;
		}
		for (size_t k = i; write && k < j; k++) {
			char ch = text_char(s, k);
			(void)buf_append(out, &ch, 1);
		}
		col += j - i;
		words |= w;
		if (col > longest)
			longest = col;
	}
	return longest;
}

/* The bytes from s[i] a "Q" word must not split: a UTF-8 sequence (as
 * far as it goes), else one byte. */
static size_t text_unit(struct str s, size_t i)
{
	unsigned char c = (unsigned char)s.p[i];
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1, k = 1;
	while (k < n && i + k < s.len && ((unsigned char)s.p[i + k] & 0xc0) == 0x80)
		k++;
	return k;
}

/*
 * s as RFC 2047 "Q" words in UTF-8, one a line: §2 has a word at most 75
 * octets and a line with words at most 76, so " =?utf-8?q?" + 60 + "?=".
 * The first word fits after col, or goes on a line of its own. Folds s
 * had are unfolded (its whitespace is kept, encoded); controls become
 * spaces. Only letters and digits stay as they are, so the words are
 * safe in a phrase too (§5 (3)).
 */
static void put_words(struct buf *out, struct str s, size_t col)
{
	size_t room = 60, w = 0;
	if (col > 76 - 12 - 12)
		(void)buf_append_c(out, "\r\n ");
	else if (76 - 12 - col < room)
		room = 76 - 12 - col;
	(void)buf_append_c(out, "=?utf-8?q?");
	for (size_t i = 0, n; i < s.len; i += n) {
		n = kept_fold(s, i);
		if (n)
			continue;
		n = text_unit(s, i);
		size_t need = 0;
		for (size_t k = i; k < i + n; k++) {
			char c = text_char(s, k);
			need += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			                (c >= '0' && c <= '9') || c == ' '
			            ? 1
			            : 3;
		}
		if (w > 0 && w + need > room) {
			(void)buf_append_c(out, "?=\r\n =?utf-8?q?");
			room = 60;
			w = 0;
		}
		for (size_t k = i; k < i + n; k++) {
			unsigned char c = (unsigned char)text_char(s, k);
			if (c == ' ') {
				(void)buf_append_c(out, "_");
			} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			           (c >= '0' && c <= '9')) {
				(void)buf_append(out, &c, 1);
			} else {
				char e[3] = {'=', hex_upper[c >> 4], hex_upper[c & 15]};
				(void)buf_append(out, e, 3);
			}
		}
		w += need;
	}
	(void)buf_append_c(out, "?=");
}

/* The first line already holds what out has after its last LF. */
static size_t line_col(const struct buf *out)
{
	const char *d = buf_data(out);
	size_t start = buf_len(out);
	while (start > 0 && d[start - 1] != '\n')
		start--;
	return buf_len(out) - start;
}

void mime_header_text(struct buf *out, struct str s)
{
	size_t col = line_col(out);
	int ascii = 1;
	for (size_t i = 0; i < s.len; i++)
		ascii &= (unsigned char)s.p[i] < 0x80;
	/* A word too long for a line of its own (or whitespace folding cannot
	 * split) is written as encoded words instead: RFC 2047 §2 lets them
	 * go on separate lines and a reader joins adjacent ones (§6.2), so the
	 * value reads back the same. Refusing it would not do: Sieve writes
	 * subjects it was given. */
	if (ascii && fold_plain(NULL, s, col, 0) <= LINE_HARD)
		(void)fold_plain(out, s, col, 1);
	else
		put_words(out, s, col);
}

void mime_header_text_literal(struct buf *out, struct str s)
{
	for (size_t i = 0; i + 1 < s.len; i++) {
		if (s.p[i] == '=' && s.p[i + 1] == '?') {
			put_words(out, s, line_col(out));
			return;
		}
	}
	mime_header_text(out, s);
}

void mime_header_fold(struct buf *out, struct str s)
{
	(void)fold_plain(out, s, line_col(out), 1);
}
