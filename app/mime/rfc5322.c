/*
 * rfc5322.c — header section parser, unfolding and encoded-word decoding
 * (see rfc5322.h).
 */
#include "mime/rfc5322.h"
#include "core/base64.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"

#include <stdlib.h>
#include <string.h>

enum {
	ST_LINE_START, /* at the start of a line */
	ST_VALUE,      /* inside a field line, after the colon or a fold */
	ST_DONE,
	ST_ERROR,
};

void rfc5322_init(struct rfc5322_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->pending, RFC5322_FIELD_MAX);
	p->state = ST_LINE_START;
}

void rfc5322_clear(struct rfc5322_parser *p)
{
	buf_free(&p->pending);
}

static int is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int fail(struct rfc5322_parser *p, int err, size_t *consumed_r)
{
	p->state = ST_ERROR;
	p->err = err;
	*consumed_r = 0;
	return err;
}

static int more(struct rfc5322_parser *p, size_t used, size_t *consumed_r)
{
	p->offset += used;
	*consumed_r = used;
	return RFC5322_MORE;
}

/* Ends the header section at in[at): the body starts there (after any empty line). */
static int finish_header(struct rfc5322_parser *p, size_t at, int no_separator, size_t *consumed_r)
{
	if (p->offset + at > RFC5322_HEADER_MAX)
		return fail(p, RFC5322_ERR_HEADER_TOO_LONG, consumed_r);
	p->body_offset = p->offset + at;
	p->no_separator = no_separator ? 1 : 0;
	p->state = ST_DONE;
	p->offset += at;
	*consumed_r = at;
	return RFC5322_END;
}

/* Saves in[0..n) of the current field to the internal buffer. */
static int save(struct rfc5322_parser *p, const char *in, size_t n)
{
	return buf_append(&p->pending, in, n);
}

/* The current field is complete at in[end); its unsaved bytes start at seg. */
static int finish_field(struct rfc5322_parser *p, const char *in, size_t seg, size_t end,
                        size_t *consumed_r, struct rfc5322_field *f)
{
	const char *d;
	size_t flen, vend;

	if (buf_len(&p->pending)) {
		if (save(p, in + seg, end - seg) < 0)
			return fail(p, RFC5322_ERR_FIELD_TOO_LONG, consumed_r);
		d = buf_data(&p->pending);
		flen = buf_len(&p->pending);
		p->reset_pending = 1;
	} else {
		d = in + seg;
		flen = end - seg;
	}
	vend = flen;
	if (vend > p->value_off && d[vend - 1] == '\n') {
		vend--;
		if (vend > p->value_off && d[vend - 1] == '\r')
			vend--;
	}
	f->raw = str_make(d, flen);
	f->name = str_make(d, p->name_len);
	f->value = str_make(d + p->value_off, vend - p->value_off);
	p->state = ST_LINE_START;
	p->have_field = 0;
	p->offset += end;
	*consumed_r = end;
	return RFC5322_FIELD;
}

/*
 * A field starts at in[*i): its name ends at in[name_end), its value starts
 * at in[value_start) (both in[*i) for a malformed line, which has no name
 * and is all value).
 */
static void start_field(struct rfc5322_parser *p, size_t *i, size_t *seg, size_t name_end,
                        size_t value_start)
{
	*seg = *i;
	p->name_len = name_end - *i;
	p->value_off = value_start - *i;
	*i = value_start;
	p->state = ST_VALUE;
}

int rfc5322_parse(struct rfc5322_parser *p, const char *in, size_t len, int eof, size_t *consumed_r,
                  struct rfc5322_field *f)
{
	size_t i = 0, seg = 0, j, k;

	*consumed_r = 0;
	if (p->state == ST_ERROR)
		return p->err;
	if (p->state == ST_DONE)
		return RFC5322_END;
	if (p->reset_pending) {
		buf_reset(&p->pending);
		p->reset_pending = 0;
	}

	for (;;) {
		if (p->state == ST_VALUE) {
			const char *lf = i < len ? memchr(in + i, '\n', len - i) : NULL;
			size_t end = lf ? (size_t)(lf - in) + 1 : len;

			/* Limits first, so nothing is buffered past them. */
			if (buf_len(&p->pending) + (end - seg) > RFC5322_FIELD_MAX)
				return fail(p, RFC5322_ERR_FIELD_TOO_LONG, consumed_r);
			if (p->offset + end > RFC5322_HEADER_MAX)
				return fail(p, RFC5322_ERR_HEADER_TOO_LONG, consumed_r);
			if (lf) {
				size_t e = end - 1;
				char prev = e > seg ? in[e - 1]
				            : buf_len(&p->pending)
				                ? buf_data(&p->pending)[buf_len(&p->pending) - 1]
				                : 0;

				if (prev != '\r')
					p->bare_lf = 1;
				i = end;
				p->state = ST_LINE_START;
				p->have_field = 1;
				continue;
			}
			if (eof)
				return finish_field(p, in, seg, len, consumed_r, f);
			if (save(p, in + seg, len - seg) < 0)
				return fail(p, RFC5322_ERR_FIELD_TOO_LONG, consumed_r);
			return more(p, len, consumed_r);
		}

		/* ST_LINE_START */
		if (i == len) {
			if (p->have_field) {
				if (eof)
					return finish_field(p, in, seg, i, consumed_r, f);
				if (save(p, in + seg, i - seg) < 0)
					return fail(p, RFC5322_ERR_FIELD_TOO_LONG, consumed_r);
				return more(p, i, consumed_r);
			}
			if (eof)
				return finish_header(p, i, 1, consumed_r);
			return more(p, i, consumed_r);
		}
		if (p->have_field) {
			if (is_wsp(in[i])) {
				/* A fold: the field goes on. */
				p->have_field = 0;
				p->state = ST_VALUE;
				continue;
			}
			return finish_field(p, in, seg, i, consumed_r, f);
		}

		/* A new line with no field pending: empty line, field, or body. */
		if (in[i] == '\n') {
			p->bare_lf = 1;
			return finish_header(p, i + 1, 0, consumed_r);
		}
		if (in[i] == '\r') {
			if (i + 1 == len)
				return eof ? finish_header(p, i, 1, consumed_r)
				           : more(p, i, consumed_r);
			if (in[i + 1] == '\n')
				return finish_header(p, i + 2, 0, consumed_r);
			start_field(p, &i, &seg, i, i); /* "\rX": a malformed line */
			continue;
		}
		j = i;
		while (j < len && j - i <= RFC5322_NAME_MAX && is_ftext((unsigned char)in[j]))
			j++;
		k = j;
		while (k < len && k - i <= RFC5322_NAME_MAX && is_wsp(in[k]))
			k++;
		if (k - i > RFC5322_NAME_MAX)
			return fail(p, RFC5322_ERR_NAME_TOO_LONG, consumed_r);
		if (k == len && !eof) {
			/* Not known yet whether this line is a field: leave it
			 * unconsumed until its colon (or something else) shows. */
			return more(p, i, consumed_r);
		}
		if (k == len || in[k] != ':' || j == i) {
			/* Not a field: a malformed line, kept in the header
			 * (RFC 5322 §2.1: only the empty line ends it). */
			start_field(p, &i, &seg, i, i);
			continue;
		}
		start_field(p, &i, &seg, j, k + 1);
	}
}

size_t rfc5322_unfold(struct str value, char *dst)
{
	size_t i, n = 0, s = 0;

	for (i = 0; i < value.len; i++) {
		char c = value.p[i];

		if (c == '\n')
			continue;
		if (c == '\r' && i + 1 < value.len && value.p[i + 1] == '\n')
			continue;
		dst[n++] = c;
	}
	while (n > 0 && is_wsp(dst[n - 1]))
		n--;
	while (s < n && is_wsp(dst[s]))
		s++;
	if (s)
		memmove(dst, dst + s, n - s);
	return n - s;
}

enum charset {
	CS_NONE,
	CS_ASCII,
	CS_UTF8,
	CS_OTHER, /* another charset mime_charset_to_utf8() knows */
};

/* Longest encoded-word text we decode. */
#define EWORD_TEXT_MAX 1000

struct eword {
	enum charset cs;
	struct str charset; /* its name, without an RFC 2231 language */
	char enc; /* 'B' or 'Q' */
	struct str text;
	size_t len; /* of the whole "=?...?=" */
};

/* Parses an encoded-word at s. Returns 1 and fills *w, or 0. */
static int eword_parse(struct str s, struct eword *w)
{
	size_t i = 2, cs_start, cs_end, t_start;
	struct str cs;
	ptrdiff_t star;

	if (s.len < 8 || s.p[0] != '=' || s.p[1] != '?')
		return 0;
	cs_start = i;
	while (i < s.len && s.p[i] != '?' && !is_wsp(s.p[i]) && i - cs_start < 64)
		i++;
	if (i >= s.len || s.p[i] != '?' || i == cs_start)
		return 0;
	cs_end = i++;
	if (i + 2 > s.len || s.p[i + 1] != '?')
		return 0;
	w->enc = (char)(s.p[i] & ~0x20);
	if (w->enc != 'B' && w->enc != 'Q')
		return 0;
	i += 2;
	t_start = i;
	while (i + 1 < s.len && !(s.p[i] == '?' && s.p[i + 1] == '=')) {
		/* RFC 2047 allows 75 octets; real mailers exceed it, but a cap
		 * keeps a line full of "=?" from being scanned quadratically. */
		if (is_wsp(s.p[i]) || s.p[i] == '\r' || s.p[i] == '\n' ||
		    i - t_start >= EWORD_TEXT_MAX)
			return 0;
		i++;
	}
	if (i + 1 >= s.len)
		return 0;
	w->text = str_make(s.p + t_start, i - t_start);
	w->len = i + 2;
	cs = str_make(s.p + cs_start, cs_end - cs_start);
	star = str_chr(cs, '*'); /* RFC 2231 §5 language suffix */
	if (star >= 0)
		cs.len = (size_t)star;
	if (str_eq_ci_c(cs, "utf-8") || str_eq_ci_c(cs, "utf8"))
		w->cs = CS_UTF8;
	else if (str_eq_ci_c(cs, "us-ascii"))
		w->cs = CS_ASCII;
	else if (mime_charset_known(cs))
		w->cs = CS_OTHER; /* iso-8859-1 (read as windows-1252), iso-8859-15... */
	else
		w->cs = CS_NONE;
	w->charset = cs;
	return 1;
}

/* Decodes the text of w into dst (room for w->text.len). Returns length or -1. */
static ptrdiff_t eword_decode(const struct eword *w, unsigned char *dst)
{
	size_t i, n = 0;

	if (w->enc == 'Q') {
		for (i = 0; i < w->text.len; i++) {
			char c = w->text.p[i];

			if (c == '_') {
				dst[n++] = ' ';
			} else if (c == '=' && i + 2 < w->text.len &&
			           hex_digit(w->text.p[i + 1]) >= 0 &&
			           hex_digit(w->text.p[i + 2]) >= 0) {
				dst[n++] = (unsigned char)(hex_digit(w->text.p[i + 1]) * 16 +
				                           hex_digit(w->text.p[i + 2]));
				i += 2;
			} else {
				dst[n++] = (unsigned char)c;
			}
		}
		return (ptrdiff_t)n;
	}
	{
		unsigned acc = 0;
		int bits = 0, v;

		for (i = 0; i < w->text.len; i++) {
			if (w->text.p[i] == '=')
				break;
			v = base64_digit((unsigned char)w->text.p[i]);
			if (v < 0)
				return -1;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				dst[n++] = (unsigned char)(acc >> bits);
				acc &= (1u << bits) - 1;
			}
		}
		for (; i < w->text.len; i++)
			if (w->text.p[i] != '=')
				return -1;
		if (bits >= 6) /* a single leftover sextet cannot be */
			return -1;
	}
	return (ptrdiff_t)n;
}

/* Appends p[0..n); past out's ceiling, what fits of it and -1, so that
 * out holds the prefix rfc5322_decode_words() promises. */
static int append_fit(struct buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) == 0)
		return 0;
	if (buf_room(out) < n)
		(void)buf_append(out, p, buf_room(out));
	return -1;
}

/* Appends decoded octets d[0..n) of charset cs (named name) as printable
 * UTF-8. */
static int append_decoded(struct buf *out, enum charset cs, struct str name,
                          const unsigned char *d, size_t n)
{
	static const char repl[] = "\xEF\xBF\xBD";
	size_t i = 0, k;

	if (cs == CS_OTHER) {
		/* Converted by mime_charset_to_utf8(), then checked as UTF-8
		 * below (a C1 control it maps to becomes a space). */
		char *u = xmalloc(n * 3 + 1);
		ptrdiff_t un = mime_charset_to_utf8(name, (const char *)d, n, u);
		int r = un < 0 ? -1 : append_decoded(out, CS_UTF8, name, (unsigned char *)u, (size_t)un);
		free(u);
		return r;
	}
	while (i < n) {
		unsigned char c = d[i];

		if (c < 0x20 || c == 0x7F) {
			if (buf_append(out, c == '\t' ? "\t" : " ", 1) < 0)
				return -1;
			i++;
			continue;
		}
		if (c < 0x80) {
			/* A run of printable ASCII in one copy. */
			k = i + 1;
			while (k < n && d[k] >= 0x20 && d[k] < 0x7F)
				k++;
			if (append_fit(out, &d[i], k - i) < 0)
				return -1;
			i = k;
			continue;
		}
		k = cs == CS_UTF8 ? utf8_seq(d + i, n - i) : 0;
		if (k == 2 && c == 0xC2 && d[i + 1] < 0xA0) { /* a C1 control */
			if (buf_append(out, " ", 1) < 0)
				return -1;
			i += 2;
			continue;
		}
		if (k == 0) {
			if (buf_append(out, repl, 3) < 0)
				return -1;
			i++;
			continue;
		}
		if (buf_append(out, &d[i], k) < 0)
			return -1;
		i += k;
	}
	return 0;
}

int rfc5322_decode_words(struct str in, struct buf *out)
{
	struct buf run; /* decoded octets of adjacent words in one charset */
	enum charset run_cs = CS_NONE;
	struct str run_name = { NULL, 0 };
	struct eword w;
	size_t i = 0, j, avail;
	int last_word = 0, r = 0;
	unsigned char *dst;
	ptrdiff_t n;

	/* Adjacent encoded-words may split one UTF-8 character, so their
	 * octets are gathered and converted together. */
	buf_init(&run, in.len + 1);
	while (i < in.len && r == 0) {
		if (last_word && is_wsp(in.p[i])) {
			/* White space between two encoded-words is dropped. */
			j = i;
			while (j < in.len && is_wsp(in.p[j]))
				j++;
			if (j < in.len && eword_parse(str_make(in.p + j, in.len - j), &w) &&
			    w.cs != CS_NONE) {
				i = j;
				continue;
			}
		}
		if (in.p[i] == '=' && eword_parse(str_make(in.p + i, in.len - i), &w) &&
		    w.cs != CS_NONE) {
			dst = (unsigned char *)buf_reserve(&run, w.text.len, &avail);
			n = dst ? eword_decode(&w, dst) : -1;
			if (n >= 0) {
				if (buf_len(&run) &&
				    (w.cs != run_cs ||
				     (w.cs == CS_OTHER && !str_eq_ci(w.charset, run_name)))) {
					r = append_decoded(out, run_cs, run_name,
					                   (unsigned char *)buf_data(&run),
					                   buf_len(&run));
					buf_reset(&run);
					dst =
					    (unsigned char *)buf_reserve(&run, w.text.len, &avail);
					if (!dst) {
						r = -1; /* no memory: as if too long */
						break;
					}
					n = eword_decode(&w, dst);
				}
				buf_commit(&run, (size_t)n);
				run_cs = w.cs;
				run_name = w.charset;
				i += w.len;
				last_word = 1;
				continue;
			}
		}
		if (buf_len(&run)) {
			r = append_decoded(out, run_cs, run_name, (unsigned char *)buf_data(&run),
			                   buf_len(&run));
			buf_reset(&run);
			if (r < 0)
				break;
		}
		last_word = 0;
		/* Plain text up to the next '=' (where an encoded-word may
		 * begin) goes in one copy: a field is mostly such text, and
		 * one append an octet was most of a header's decoding. */
		j = i + 1;
		while (j < in.len && in.p[j] != '=')
			j++;
		r = append_fit(out, in.p + i, j - i);
		i = j;
	}
	if (r == 0 && buf_len(&run))
		r = append_decoded(out, run_cs, run_name, (unsigned char *)buf_data(&run),
		                   buf_len(&run));
	buf_free(&run);
	return r;
}
