/*
 * mime_preview.c — message previews (see mime_preview.h).
 */
#include "mime/mime_preview.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"

struct out {
	char *p;
	size_t len, chars;
	int space; /* a space is owed before the next visible character */
	int full;
};

static void put_cp(struct out *o, uint32_t cp)
{
	if (o->full)
		return;
	if (cp <= 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0xa0 || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x200b || cp == 0xfeff) {
		/* white space, controls, NBSP, zero-width: one space at most */
		o->space = o->len > 0;
		return;
	}
	if (o->space) {
		if (o->chars + 1 >= MIME_PREVIEW_CHARS) {
			o->full = 1;
			return;
		}
		o->p[o->len++] = ' ';
		o->chars++;
		o->space = 0;
	}
	if (o->chars >= MIME_PREVIEW_CHARS) {
		o->full = 1;
		return;
	}
	o->len += utf8_encode(cp, o->p + o->len);
	o->chars++;
}

/* Decodes one UTF-8 sequence at in[*i]; invalid octets give U+FFFD. */
static uint32_t next_cp(const char *in, size_t n, size_t *i)
{
	const unsigned char *s = (const unsigned char *)in + *i;
	size_t l = utf8_seq(s, n - *i);
	uint32_t cp;

	if (l == 0) {
		(*i)++;
		return 0xfffd;
	}
	*i += l;
	switch (l) {
	case 1: return s[0];
	case 2: return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	case 3: return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
	default:
		cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		     ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		return cp;
	}
}

/* "&...;" at in[*i] (the "&" included): the character, or 0 when it is
 * not a reference we know (then only the "&" is consumed). */
static uint32_t entity(const char *in, size_t n, size_t *i)
{
	static const struct {
		const char *name;
		uint32_t cp;
	} names[] = { { "amp", '&' },   { "lt", '<' },     { "gt", '>' },     { "quot", '"' },
		      { "apos", '\'' }, { "nbsp", 0xa0 },  { "copy", 0xa9 },  { "reg", 0xae },
		      { "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 },
		      { "rsquo", 0x2019 }, { "lsquo", 0x2018 }, { "rdquo", 0x201d },
		      { "ldquo", 0x201c }, { "euro", 0x20ac }, { "zwnj", 0x200c } };
	size_t j = *i + 1, end;

	for (end = j; end < n && end - j < 10 && in[end] != ';'; end++)
		;
	if (end >= n || in[end] != ';' || end == j)
		return 0;
	if (in[j] == '#') {
		uint32_t v = 0;
		int hex = j + 1 < end && (in[j + 1] == 'x' || in[j + 1] == 'X');
		size_t k = j + 1 + (size_t)hex;
		if (k == end)
			return 0;
		for (; k < end; k++) {
			char c = in[k];
			int d = hex ? hex_digit(c) : c >= '0' && c <= '9' ? c - '0' : -1;
			if (d < 0 || v > 0x10ffff)
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		*i = end + 1;
		return v == 0 || v > 0x10ffff ? 0xfffd : v;
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (strlen(names[k].name) == end - j && memcmp(names[k].name, in + j, end - j) == 0) {
			*i = end + 1;
			return names[k].cp;
		}
	}
	return 0;
}

/* 1 when in[i..] starts with the tag name w (case-insensitive) followed by
 * a delimiter. */
static int tag_is(const char *in, size_t n, size_t i, const char *w)
{
	size_t l = strlen(w);
	if (i + l > n)
		return 0;
	for (size_t k = 0; k < l; k++)
		if ((in[i + k] | 0x20) != w[k])
			return 0;
	return i + l == n || in[i + l] == '>' || in[i + l] == ' ' || in[i + l] == '/' ||
	       in[i + l] == '\t' || in[i + l] == '\r' || in[i + l] == '\n';
}

/* Skips to just past the closing tag "</w>" (or the end). */
static size_t skip_element(const char *in, size_t n, size_t i, const char *w)
{
	for (; i < n; i++)
		if (in[i] == '<' && i + 1 < n && in[i + 1] == '/' && tag_is(in, n, i + 2, w)) {
			const char *gt = memchr(in + i, '>', n - i);
			return gt ? (size_t)(gt - in) + 1 : n;
		}
	return n;
}

size_t mime_preview_text(const char *in, size_t n, int html, char out[MIME_PREVIEW_MAX])
{
	struct out o = { .p = out };
	size_t i = 0;

	while (i < n && !o.full) {
		if (html && in[i] == '<') {
			if (i + 3 < n && memcmp(in + i, "<!--", 4) == 0) {
				const char *e = i + 4 <= n ? memmem(in + i + 4, n - i - 4, "-->", 3) : NULL;
				i = e ? (size_t)(e - in) + 3 : n;
				o.space = o.len > 0;
				continue;
			}
			static const char *const skipped[] = { "head", "style", "script", "title" };
			int skip = 0;
			for (size_t k = 0; k < 4 && !skip; k++)
				if (tag_is(in, n, i + 1, skipped[k])) {
					i = skip_element(in, n, i + 1, skipped[k]);
					skip = 1;
				}
			if (skip) {
				o.space = o.len > 0;
				continue;
			}
			const char *gt = memchr(in + i, '>', n - i);
			i = gt ? (size_t)(gt - in) + 1 : n;
			o.space = o.len > 0; /* tags separate words (<br>, <p>, <td>) */
			continue;
		}
		uint32_t cp = 0;
		if (html && in[i] == '&')
			cp = entity(in, n, &i);
		if (!cp)
			cp = next_cp(in, n, &i);
		put_cp(&o, cp);
	}
	out[o.len] = '\0';
	return o.len;
}

/* The part to preview: first plain text leaf not an attachment, else the
 * first HTML one; parts inside encapsulated messages are skipped. */
static const struct mime_part *pick(const struct mime_tree *t, int *html_r)
{
	const struct mime_part *html = NULL;

	for (uint32_t i = 0; i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
			continue;
		int inside = 0;
		for (uint32_t a = p->parent; a != MIME_NONE; a = t->parts[a].parent)
			if (t->parts[a].flags & MIME_PART_MESSAGE)
				inside = 1;
		if (inside || !str_eq_ci_c(p->type, "text"))
			continue;
		if (p->disposition.p && str_eq_ci_c(p->disposition, "attachment"))
			continue;
		if (str_eq_ci_c(p->subtype, "plain")) {
			*html_r = 0;
			return p;
		}
		if (!html && str_eq_ci_c(p->subtype, "html"))
			html = p;
	}
	*html_r = 1;
	return html;
}

size_t mime_preview(const char *msg, size_t len, const struct mime_tree *t,
                    char out[MIME_PREVIEW_MAX])
{
	int html;
	const struct mime_part *p = pick(t, &html);

	out[0] = '\0';
	if (!p || p->body_end > len || p->body_off > p->body_end)
		return 0;
	size_t n = (size_t)(p->body_end - p->body_off);
	if (n > MIME_PREVIEW_SCAN)
		n = MIME_PREVIEW_SCAN;
	struct buf dec;
	buf_init(&dec, n + MIME_DECODE_OUT_MAX(0));
	mime_decode_all(mime_cte_parse(p->encoding), str_make(msg + p->body_off, n), &dec);
	struct str cs = mime_param_get(p->params, p->nparams, "charset");
	char *u = xmalloc(buf_len(&dec) * 3 + 1);
	ptrdiff_t ul = mime_charset_to_utf8(cs, buf_data(&dec), buf_len(&dec), u);
	size_t r;
	if (ul >= 0)
		r = mime_preview_text(u, (size_t)ul, html, out);
	else if (utf8_valid(buf_str(&dec)))
		r = mime_preview_text(buf_data(&dec), buf_len(&dec), html, out);
	else
		r = 0;
	free(u);
	buf_free(&dec);
	return r;
}
