/*
 * mime_preview.c — message previews (see mime_preview.h).
 */
#include "mime/mime_preview.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "mime/mime_html.h"

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

/* The plain text reduction (white space, controls, the cut). */
static size_t preview_plain(const char *in, size_t n, char out[MIME_PREVIEW_MAX])
{
	struct out o = { .p = out };
	size_t i = 0;

	while (i < n && !o.full)
		put_cp(&o, next_cp(in, n, &i));
	out[o.len] = '\0';
	return o.len;
}

size_t mime_preview_text(const char *in, size_t n, int html, char out[MIME_PREVIEW_MAX])
{
	if (!html)
		return preview_plain(in, n, out);
	/* HTML: the text search and the spam filter read (mime_html.h), hidden
	 * text included (a "preheader" hidden from the page is written for
	 * the preview). It is never longer than the markup. */
	struct buf text;
	struct mime_html *h = xmalloc(sizeof *h);
	buf_init(&text, n + 64);
	mime_html_init(h, &text, &text, NULL, NULL);
	mime_html_feed(h, in, n);
	mime_html_finish(h);
	size_t r = preview_plain(buf_data(&text), buf_len(&text), out);
	free(h);
	buf_free(&text);
	return r;
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
