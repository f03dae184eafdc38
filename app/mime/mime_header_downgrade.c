/*
 * mime_header_downgrade.c — UTF-8 header fields in ASCII. See
 * mime_header_downgrade.h.
 */
#include "mime/mime_header_downgrade.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/punycode.h"
#include "core/utf8.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_header_text.h"
#include "mime/rfc5322.h"

/* Where the line at h[i] ends (after its LF), in h[0..n). */
static size_t line_end(const char *h, size_t n, size_t i)
{
	const char *nl = memchr(h + i, '\n', n - i);
	return nl ? (size_t)(nl - h) + 1 : n;
}

static int is_blank_line(const char *h, size_t i, size_t e)
{
	return e - i == 1 || (e - i == 2 && h[i] == '\r');
}

size_t mime_header_section_len(const char *msg, size_t len)
{
	size_t i = 0, field = 0;
	while (i < len) {
		size_t e = line_end(msg, len, i);
		/* Past rfc5322.h's limit the header ends, as the MIME parser
		 * ends it: before the field that crosses it. Without this a
		 * message with no empty line is all header, and its
		 * downgrade (up to six times its size) is built whole. */
		if (e > RFC5322_HEADER_MAX)
			return field;
		if (msg[e - 1] == '\n' && is_blank_line(msg, i, e))
			return e;
		i = e;
		if (i < len && msg[i] != ' ' && msg[i] != '\t')
			field = i;
	}
	return len;
}

/* The field's name length (before its colon), or 0 when f[0..n) is no
 * field this code rewrites (no colon, or a name that is not ASCII). */
static size_t field_name_len(const char *f, size_t n)
{
	const char *colon = memchr(f, ':', n);
	if (!colon || colon == f)
		return 0;
	size_t l = (size_t)(colon - f);
	if (mime_has_8bit(f, l))
		return 0;
	return l;
}

static int field_rewritten(const char *f, size_t n)
{
	return mime_has_8bit(f, n) && field_name_len(f, n) && utf8_valid(str_make(f, n));
}

static int name_in(const char *f, size_t l, const char *const *names)
{
	for (; *names; names++)
		if (strlen(*names) == l && strncasecmp(f, *names, l) == 0)
			return 1;
	return 0;
}

static const char *const unstructured_names[] = {
	"Subject", "Comments", "Keywords", "Content-Description", NULL};
static const char *const mime_param_names[] = {"Content-Type", "Content-Disposition", NULL};
static const char *const address_names[] = {
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Resent-From", "Resent-Sender",
	"Resent-To", "Resent-Cc", "Resent-Bcc", "Disposition-Notification-To", NULL};

/* ---- RFC 2047 "B" words, for phrases and comments ---- */

/* A "B" word of k octets is 12 + 4 * ceil(k / 3) columns: 45 octets make
 * 72, within §2's 75 for a word and 76 for a line with its fold's space. */
#define B_WORD_OCTETS 45

/* The octets of the word starting at p[i] of s: as many whole characters
 * (utf8_seq(); a stray octet counts as one) as fit in max, at least one. */
static size_t b_word_len(const unsigned char *p, size_t n, size_t i, size_t max)
{
	size_t j = i;
	while (j < n) {
		size_t k = utf8_seq(p + j, n - j);
		if (k == 0)
			k = 1;
		if (j + k - i > max)
			break;
		j += k;
	}
	return j == i ? 1 : j - i;
}

/* The one writer of "B" words: s in words of at most first octets, then
 * B_WORD_OCTETS, never splitting a character, sep (" " or a fold, "\r\n
 * ") between words. Returns the column the last word ends at, col being
 * where the first starts. */
static size_t put_b_words(struct buf *out, struct str s, size_t first, const char *sep, size_t col)
{
	const unsigned char *p = (const unsigned char *)s.p;
	for (size_t i = 0, k; i < s.len; i += k) {
		k = b_word_len(p, s.len, i, i ? B_WORD_OCTETS : first);
		if (i) {
			buf_append_c(out, sep);
			col = sep[0] == '\r' ? strlen(sep) - 2 : col + strlen(sep);
		}
		buf_append_c(out, "=?UTF-8?B?");
		(void)base64_encode_buf(out, p + i, k, 0); /* full: as for the appends around */
		buf_append_c(out, "?=");
		col += 12 + base64_encoded_len(k, 0);
	}
	return col;
}

void mime_header_words(struct buf *out, struct str s)
{
	(void)put_b_words(out, s, B_WORD_OCTETS, " ", 0);
}

size_t mime_header_words_folded(struct buf *out, struct str s, size_t col)
{
	if (s.len == 0)
		return col;
	/* The first word takes what fits in the 76 columns left after col;
	 * when that is less than 6 octets (8 digits), which a 4-octet
	 * character might not fit in, it starts a line of its own. */
	if (col + 12 + 8 > 76) {
		buf_append_c(out, "\r\n ");
		col = 1;
	}
	return put_b_words(out, s, (76 - 12 - col) / 4 * 3, "\r\n ", col);
}

/* ---- address lists ---- */

static struct str trim(struct str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.len--;
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/*
 * The index in s of the first of the octets in stops outside quoted
 * strings, comments and (with angles) an angle address; s.len when there
 * is none. -1 when a quote, comment or angle address is not closed.
 */
static long scan_to(struct str s, size_t from, const char *stops, int angles)
{
	int depth = 0, quoted = 0, angle = 0;
	for (size_t i = from; i < s.len; i++) {
		char c = s.p[i];
		if ((quoted || depth) && c == '\\') {
			i++;
			continue;
		}
		if (quoted) {
			quoted = c != '"';
			continue;
		}
		if (depth) {
			depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '"')
			quoted = 1;
		else if (c == '(')
			depth = 1;
		else if (angles && angle && c == '>')
			angle = 0;
		else if (!angle && strchr(stops, c))
			return (long)i;
		else if (angles && c == '<')
			angle = 1;
	}
	return quoted || depth || angle ? -1 : (long)s.len;
}

/* A phrase's text: quotes removed, quoted pairs taken; NULL when it has a
 * comment (left to the caller's fallback). Written into dst (s.len). */
static int phrase_text(struct str s, char *dst, size_t *len_r)
{
	size_t n = 0;
	int quoted = 0;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '\\' && i + 1 < s.len) {
			dst[n++] = s.p[++i];
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && (c == '(' || c == ')'))
			return -1;
		dst[n++] = c;
	}
	*len_r = n;
	return 0;
}

/* A mailbox without an ASCII form: an empty group named after it (or, in
 * a group, a comment), "display <addr>" in "B" words (one text: the space
 * between two words is not shown, RFC 2047 §6.2). */
static void put_unconvertible(struct buf *out, struct str display, struct str addr, int in_group)
{
	struct buf t;
	buf_init(&t, display.len + addr.len + 4);
	if (display.len) {
		buf_append(&t, display.p, display.len);
		buf_append_c(&t, " <");
	}
	buf_append(&t, addr.p, addr.len);
	if (display.len)
		buf_append_c(&t, ">");
	if (in_group)
		buf_append_c(out, "(");
	mime_header_words(out, buf_str(&t));
	buf_append_c(out, in_group ? ")" : " :;");
	buf_free(&t);
}

/* One mailbox (trimmed, not empty, with 8-bit octets) in ASCII. */
static void put_mailbox(struct buf *out, struct str m, int in_group)
{
	long lt = scan_to(m, 0, "<", 0);
	struct str phrase = m, addr = {0};
	char *tmp = malloc(m.len + 1);
	size_t tlen = 0;

	if (lt >= 0 && (size_t)lt < m.len) {
		const char *gt = memchr(m.p + lt, '>', m.len - (size_t)lt);
		phrase = trim(str_make(m.p, (size_t)lt));
		if (gt && trim(str_make(gt + 1, (size_t)(m.p + m.len - gt - 1))).len == 0)
			addr = trim(str_make(m.p + lt + 1, (size_t)(gt - m.p - lt - 1)));
		else
			lt = -1;
	} else if (lt >= 0) {
		phrase = (struct str){0};
		addr = m;
	}
	if (!tmp || lt < 0 || memchr(addr.p, '(', addr.len) || memchr(addr.p, ' ', addr.len) ||
	    phrase_text(phrase, tmp, &tlen) < 0) {
		/* Not taken apart: the whole mailbox in words. */
		put_unconvertible(out, (struct str){0}, m, in_group);
		free(tmp);
		return;
	}
	struct str display = str_make(tmp, tlen);
	char ascii[1024];
	const char *a = addr.p;
	size_t alen = addr.len;
	if (mime_has_8bit(addr.p, addr.len)) {
		char *z = addr.len < sizeof ascii ? strndup(addr.p, addr.len) : NULL;
		alen = z ? punycode_address_ascii(z, ascii, sizeof ascii) : 0;
		free(z);
		if (alen == 0) {
			put_unconvertible(out, display, addr, in_group);
			free(tmp);
			return;
		}
		a = ascii;
	}
	if (phrase.len) {
		if (mime_has_8bit(phrase.p, phrase.len))
			mime_header_words(out, display);
		else
			buf_append(out, phrase.p, phrase.len);
		buf_append_c(out, " ");
	}
	if (phrase.len || m.p[0] == '<') {
		buf_append_c(out, "<");
		buf_append(out, a, alen);
		buf_append_c(out, ">");
	} else {
		buf_append(out, a, alen);
	}
	free(tmp);
}

/* The unfolded address list v in ASCII, into val. -1 when it does not
 * parse (the caller renames the field). */
static int put_address_list(struct buf *val, struct str v)
{
	size_t i = 0;
	int in_group = 0, first = 1;
	while (i <= v.len) {
		long j = scan_to(v, i, in_group ? ",;" : ",;:", 1);
		if (j < 0)
			return -1;
		struct str seg = trim(str_make(v.p + i, (size_t)j - i));
		char d = (size_t)j < v.len ? v.p[j] : 0;
		if (seg.len || d == ':') {
			if (!first)
				buf_append_c(val, " ");
			first = 0;
		}
		if (d == ':') {
			if (mime_has_8bit(seg.p, seg.len)) {
				char *tmp = malloc(seg.len + 1);
				size_t tl = 0;
				if (!tmp || phrase_text(seg, tmp, &tl) < 0) {
					free(tmp);
					return -1;
				}
				mime_header_words(val, str_make(tmp, tl));
				free(tmp);
			} else {
				buf_append(val, seg.p, seg.len);
			}
			in_group = 1;
		} else if (seg.len) {
			if (mime_has_8bit(seg.p, seg.len))
				put_mailbox(val, seg, in_group);
			else
				buf_append(val, seg.p, seg.len);
		}
		if (d == ';')
			in_group = 0;
		if (d)
			buf_append(val, &d, 1);
		if (!d)
			break;
		i = (size_t)j + 1;
	}
	return 0;
}

/*
 * Any other structured value (Return-Path, Received, Authentication-Results,
 * Delivered-To) with each address whose domain alone is UTF-8 in A-labels,
 * the rest as it is; -1 when 8-bit octets remain (the caller renames it).
 */
static int put_alabels(struct buf *val, struct str v)
{
	static const char delims[] = " \t\r\n\"<>()[];,=:";
	size_t i = 0;
	while (i < v.len) {
		size_t j = i;
		while (j < v.len && !strchr(delims, v.p[j]))
			j++;
		if (j == i) {
			buf_append(val, v.p + i, 1);
			i++;
			continue;
		}
		struct str w = str_make(v.p + i, j - i);
		char addr[1024], ascii[1024];
		size_t n = 0;
		if (mime_has_8bit(w.p, w.len) && w.len < sizeof addr && memchr(w.p, '@', w.len)) {
			memcpy(addr, w.p, w.len);
			addr[w.len] = 0;
			n = punycode_address_ascii(addr, ascii, sizeof ascii);
		}
		if (n)
			buf_append(val, ascii, n);
		else
			buf_append(val, w.p, w.len);
		i = j;
	}
	return mime_has_8bit(buf_data(val), buf_len(val)) ? -1 : 0;
}

/* ---- MIME parameters (Content-Type, Content-Disposition) ---- */

/* One parameter value v (unquoted) in RFC 2231 extended form: name*=
 * utf-8''%XX..., in sections of at most 60 octets (name*0*=, name*1*=)
 * when longer, so no line passes 998 octets (RFC 2231 §3). */
static void put_param_2231(struct buf *val, struct str name, struct str v)
{
	static const char hex[] = "0123456789ABCDEF";
	char sec[80];
	size_t k = 0, part = 0, i = 0;
	int split = 3 * v.len > 60;

	while (i < v.len || part == 0) {
		k = 0;
		if (part == 0)
			memcpy(sec, "utf-8''", 7), k = 7;
		while (i < v.len) {
			unsigned char c = (unsigned char)v.p[i];
			/* A character is never cut between sections: some
			 * readers decode each one alone. */
			if ((c & 0xC0) != 0x80 && k + 12 > 60)
				break;
			i++;
			/* RFC 2231 attribute-char, less the ones MIME quotes */
			if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    strchr("!#$&+-.^_`|~", c)) {
				sec[k++] = (char)c;
			} else {
				sec[k++] = '%';
				sec[k++] = hex[c >> 4];
				sec[k++] = hex[c & 15];
			}
		}
		buf_append_c(val, ";\r\n\t");
		buf_append(val, name.p, name.len);
		if (split)
			buf_printf(val, "*%zu", part);
		buf_append_c(val, "*=");
		buf_append(val, sec, k);
		part++;
	}
}

/*
 * Content-Type and Content-Disposition: the type (or disposition) as it is,
 * each parameter whose value is UTF-8 in RFC 2231's extended form (the
 * MIME way to carry a non-ASCII file name), the others as written. -1
 * when 8-bit octets are anywhere else (the caller renames the field).
 */
static int put_mime_params(struct buf *val, struct str v)
{
	size_t i = 0, start = 0;
	int first = 1, quoted = 0;

	for (i = 0; i <= v.len; i++) {
		if (i < v.len) {
			if (v.p[i] == '\\' && quoted) {
				i++;
				continue;
			}
			if (v.p[i] == '"')
				quoted = !quoted;
			if (v.p[i] != ';' || quoted)
				continue;
		}
		struct str seg = trim(str_make(v.p + start, i - start));
		start = i + 1;
		if (first) {
			if (mime_has_8bit(seg.p, seg.len))
				return -1;
			buf_append(val, seg.p, seg.len);
			first = 0;
			continue;
		}
		if (!seg.len)
			continue;
		if (!mime_has_8bit(seg.p, seg.len)) {
			buf_append_c(val, ";\r\n\t");
			buf_append(val, seg.p, seg.len);
			continue;
		}
		const char *eq = memchr(seg.p, '=', seg.len);
		if (!eq)
			return -1;
		struct str name = trim(str_make(seg.p, (size_t)(eq - seg.p)));
		struct str raw = trim(str_make(eq + 1, seg.len - (size_t)(eq + 1 - seg.p)));
		if (!name.len || mime_has_8bit(name.p, name.len) || memchr(name.p, '*', name.len))
			return -1; /* already RFC 2231 with raw octets: no good form */
		char *u = malloc(raw.len + 1);
		size_t n = 0;
		if (!u)
			return -1;
		if (raw.len >= 2 && raw.p[0] == '"' && raw.p[raw.len - 1] == '"') {
			for (size_t j = 1; j + 1 < raw.len; j++) {
				if (raw.p[j] == '\\' && j + 2 < raw.len)
					j++;
				u[n++] = raw.p[j];
			}
		} else {
			memcpy(u, raw.p, raw.len);
			n = raw.len;
		}
		put_param_2231(val, name, str_make(u, n));
		free(u);
	}
	return 0;
}

/* The field f[0..n) (its line end included, 8-bit UTF-8) in ASCII. */
static void put_field(struct buf *out, const char *f, size_t n, size_t nl)
{
	size_t vs = nl + 1, ve = n;
	while (vs < ve && (f[vs] == ' ' || f[vs] == '\t'))
		vs++;
	while (ve > vs && (f[ve - 1] == '\n' || f[ve - 1] == '\r'))
		ve--;
	struct str raw = str_make(f + vs, ve - vs);

	if (name_in(f, nl, unstructured_names) || (nl > 2 && strncasecmp(f, "X-", 2) == 0)) {
		buf_append(out, f, nl);
		buf_append_c(out, ": ");
		mime_header_text(out, raw);
		buf_append_c(out, "\r\n");
		return;
	}
	int addresses = name_in(f, nl, address_names);
	struct buf val;
	buf_init(&val, 4 * raw.len + 1024);
	/* An address list starts with the space after the colon, so the
	 * fold may put its first encoded word on a line of its own: after a
	 * long name ("Disposition-Notification-To: ") a 72-column word
	 * would pass RFC 2047 §2's 76. */
	if (addresses)
		buf_append_c(&val, " ");
	int r = -1;
	if (name_in(f, nl, mime_param_names)) {
		char *u = malloc(raw.len + 1);
		if (u && put_mime_params(&val, str_make(u, rfc5322_unfold(raw, u))) == 0 &&
		    buf_room(&val) > 0) {
			buf_append(out, f, nl);
			buf_append_c(out, ": ");
			buf_append(out, buf_data(&val), buf_len(&val));
			buf_append_c(out, "\r\n");
			buf_free(&val);
			free(u);
			return;
		}
		free(u);
		buf_reset(&val);
	} else if (!addresses) {
		r = put_alabels(&val, raw);
	}
	if (r == 0) {
		/* Folds kept as they were. */
		buf_append(out, f, nl + 1);
		buf_append(out, f + nl + 1, vs - nl - 1);
		buf_append(out, buf_data(&val), buf_len(&val));
		buf_append_c(out, "\r\n");
		buf_free(&val);
		return;
	}
	if (addresses) {
		char *u = malloc(raw.len + 1);
		if (u)
			r = put_address_list(&val, str_make(u, rfc5322_unfold(raw, u)));
		if (r == 0 && !mime_has_8bit(buf_data(&val), buf_len(&val)) &&
		    buf_len(&val) + 64 < val.max) {
			buf_append(out, f, nl);
			buf_append_c(out, ":");
			mime_header_fold(out, buf_str(&val));
			buf_append_c(out, "\r\n");
			buf_free(&val);
			free(u);
			return;
		}
		free(u);
	}
	buf_free(&val);
	buf_append_c(out, "Downgraded-");
	buf_append(out, f, nl);
	buf_append_c(out, ": ");
	mime_header_text(out, raw);
	buf_append_c(out, "\r\n");
}

/* Where the field starting at i ends (its continuation lines included),
 * or i itself at the blank line that ends the header. */
static size_t field_end(const char *h, size_t n, size_t i)
{
	size_t e = line_end(h, n, i);
	if (is_blank_line(h, i, e))
		return i;
	while (e < n && (h[e] == ' ' || h[e] == '\t'))
		e = line_end(h, n, e);
	return e;
}

int mime_header_needs_downgrade(const char *h, size_t n)
{
	size_t i = 0, e;
	while (i < n && (e = field_end(h, n, i)) > i) {
		if (field_rewritten(h + i, e - i))
			return 1;
		i = e;
	}
	return 0;
}

int mime_header_downgrade(const char *h, size_t n, struct buf *out)
{
	size_t i = 0, e;
	while (i < n && (e = field_end(h, n, i)) > i) {
		if (field_rewritten(h + i, e - i))
			put_field(out, h + i, e - i, field_name_len(h + i, e - i));
		else
			buf_append(out, h + i, e - i);
		i = e;
	}
	buf_append(out, h + i, n - i);
	return buf_room(out) == 0 ? -1 : 0;
}
