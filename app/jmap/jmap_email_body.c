/*
 * jmap_email_body.c — an Email's body properties (RFC 8621 §4.1.4):
 * bodyStructure, textBody, htmlBody, attachments and bodyValues, from the
 * MIME tree the cache record gives (no parse) and the message's bytes.
 *
 * Parts: partId is the part's index in the tree (pre-order, the root 0),
 * blobId "P<email>_<index>" names its decoded content for download. A
 * message/rfc822 part is a leaf here, as RFC 8621 has it (its index
 * skips the parts of the message it holds). A part's headers and
 * header:NAME[:asForm][:all] come from its own header section (the
 * root's is the message's), through jmap_email_header.c's forms, read
 * only when asked for. textBody,
 * htmlBody and attachments follow the RFC's parseStructure algorithm
 * step by step. bodyValues decode the transfer encoding and the charset
 * (those mime_charset_to_utf8 knows; another is isEncodingProblem and is
 * shown as UTF-8 with bad octets replaced), each CRLF made LF, cut at
 * maxBodyValueBytes on a character boundary (and in HTML before a tag
 * the limit would cut into).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/xalloc.h"
#include "core/buf.h"
#include "jmap/jmap_email.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"
#include "mime/rfc5322.h"

static const char *const bprops[] = {
    "partId", "blobId", "size", "name", "type", "charset", "disposition", "cid", "language",
    "location", "subParts", "headers",
};
#define NBPROPS (sizeof bprops / sizeof bprops[0])

int jmap_body_props(const char *name)
{
	for (size_t i = 0; i < NBPROPS; i++)
		if (!strcmp(name, bprops[i]))
			return (int)i;
	return -1;
}

static int leaf(const struct mime_part *p)
{
	return !(p->flags & MIME_PART_MULTIPART);
}

/* Whether part i is in bodyStructure: not inside an attached message
 * (a message/rfc822 part is a leaf there, RFC 8621 §4.1.4). */
static int in_structure(const struct mime_tree *t, uint32_t i)
{
	for (uint32_t p = t->parts[i].parent; p != MIME_NONE; p = t->parts[p].parent)
		if (t->parts[p].flags & MIME_PART_MESSAGE)
			return 0;
	return 1;
}

static struct str lower(struct arena *a, struct str s)
{
	char *p = arena_strndup(a, s.p ? s.p : "", s.len);
	for (size_t i = 0; i < s.len; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] + 32);
	return str_make(p, s.len);
}

static struct str param(const struct mime_param *v, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (str_eq_ci_c(v[i].name, name))
			return v[i].value;
	return STR_NULL;
}

/* The value of the parameter name, its RFC 2231 form converted to UTF-8
 * first when there is one beside a plain one (RFC 6266 §4.3 says as much
 * for the same pair in HTTP: the plain one is the fallback of senders
 * that write both). */
static struct str param_best(const struct mime_param *v, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if ((v[i].flags & MIME_PARAM_UTF8) && str_eq_ci_c(v[i].name, name))
			return v[i].value;
	return param(v, n, name);
}

static struct str part_name(const struct mime_part *p)
{
	struct str s = param_best(p->disp_params, p->ndisp_params, "filename");
	return s.p ? s : param_best(p->params, p->nparams, "name");
}

static int is_type(const struct mime_part *p, const char *type, const char *subtype)
{
	return str_eq_ci_c(p->type, type) && str_eq_ci_c(p->subtype, subtype);
}

static int inline_media(const struct mime_part *p)
{
	return str_eq_ci_c(p->type, "image") || str_eq_ci_c(p->type, "audio") ||
	       str_eq_ci_c(p->type, "video");
}

/* RFC 8621 §4.1.4 size: the octets of the content after transfer
 * decoding. A multipart's content is its body as it stands (its
 * encoding can only be an identity one, RFC 2045 §6.4): the bytes
 * after its header, to the CRLF its enclosing boundary takes. */
static uint64_t decoded_size(const char *data, const struct mime_part *p)
{
	struct str body = str_make(data + p->body_off, p->body_end - p->body_off);
	if (!leaf(p))
		return body.len;
	return mime_decoded_size(mime_cte_parse(p->encoding), body);
}

struct ctx {
	struct jw *w;
	struct arena *a;
	const char *data;
	const struct mime_tree *t;
	uint32_t email;
	unsigned want; /* bit per bprops entry */
	const struct jmap_hprop *hps;
	size_t nhps;
	const char *blob; /* jmap_body_opts' */
};

/* headers and header:NAME forms from part p's own header section. */
static void w_part_headers(struct ctx *c, const struct mime_part *p)
{
	struct jmap_hfields h;

	jmap_hfields_read(c->a, c->data + p->hdr_off, p->body_off - p->hdr_off, &h);
	if (c->want & (1u << JMAP_BODY_P_HEADERS))
		jmap_headers_write(c->w, c->a, &h);
	for (size_t k = 0; k < c->nhps; k++)
		jmap_hprop_write(c->w, c->a, &h, &c->hps[k]);
}

static void w_part(struct ctx *c, uint32_t i, int with_sub, int depth)
{
	const struct mime_part *p = &c->t->parts[i];
	struct jw *w = c->w;
	int is_leaf = leaf(p);

	/* subParts, when bodyProperties names it, is on every part (RFC 8620
	 * §5.1: the properties asked for are the ones returned): null where
	 * the part is no multipart (RFC 8621 §4.1.4 types it
	 * "EmailBodyPart[]|null", the list only for a multipart). A part of
	 * textBody, htmlBody or attachments is never a multipart. */
	int sub_null = (c->want & (1u << JMAP_BODY_P_SUBPARTS_ASKED)) && (is_leaf || !with_sub);
	jw_obj_begin(w);
	for (size_t k = 0; k < NBPROPS; k++) {
		if (!(c->want & (1u << k)) || (k == 10 && (!with_sub || is_leaf) && !sub_null) ||
		    k == JMAP_BODY_P_HEADERS)
			continue;
		jw_key(w, bprops[k]);
		switch (k) {
		case 0: /* partId */
			if (is_leaf) {
				char s[16];
				snprintf(s, sizeof s, "%u", i);
				jw_str(w, s);
			} else {
				jw_null(w);
			}
			break;
		case 1: /* blobId */
			if (is_leaf && c->blob) {
				jw_str(w, arena_printf(c->a, "%s_%u", c->blob, i));
			} else if (is_leaf) {
				char s[32];
				snprintf(s, sizeof s, "P%08x_%u", c->email, i);
				jw_str(w, s);
			} else {
				jw_null(w);
			}
			break;
		case 2: jw_uint(w, decoded_size(c->data, p)); break;
		case 3: {
			struct str n = part_name(p);
			if (n.p) {
				struct buf b;
				buf_init(&b, 4096);
				rfc5322_decode_words(n, &b);
				jw_strn(w, buf_data(&b), buf_len(&b));
				buf_free(&b);
			} else {
				jw_null(w);
			}
			break;
		}
		case 4: {
			struct str t = lower(c->a, p->type), s = lower(c->a, p->subtype);
			jw_str(w, arena_printf(c->a, "%.*s/%.*s", (int)t.len, t.p, (int)s.len, s.p));
			break;
		}
		case 5: {
			struct str cs = param(p->params, p->nparams, "charset");
			if (cs.p)
				jw_strn(w, lower(c->a, cs).p, cs.len);
			else if (str_eq_ci_c(p->type, "text"))
				jw_str(w, "us-ascii");
			else
				jw_null(w);
			break;
		}
		case 6:
			if (p->disposition.p) {
				struct str d = lower(c->a, p->disposition);
				jw_strn(w, d.p, d.len);
			} else {
				jw_null(w);
			}
			break;
		case 7:
			if (p->id.p && p->id.len >= 2 && p->id.p[0] == '<')
				jw_strn(w, p->id.p + 1, p->id.len - 2);
			else if (p->id.p)
				jw_strn(w, p->id.p, p->id.len);
			else
				jw_null(w);
			break;
		case 8:
			if (p->nlanguages) {
				jw_arr_begin(w);
				for (uint32_t l = 0; l < p->nlanguages; l++)
					jw_strn(w, p->languages[l].p, p->languages[l].len);
				jw_arr_end(w);
			} else {
				jw_null(w);
			}
			break;
		case 9:
			if (p->location.p)
				jw_strn(w, p->location.p, p->location.len);
			else
				jw_null(w);
			break;
		case 10:
			if (sub_null) {
				jw_null(w);
				break;
			}
			jw_arr_begin(w);
			if (depth < 64)
				for (uint32_t ch = p->nchildren ? i + 1 : MIME_NONE; ch != MIME_NONE;
				     ch = c->t->parts[ch].next)
					w_part(c, ch, 1, depth + 1);
			jw_arr_end(w);
			break;
		}
	}
	if ((c->want & (1u << JMAP_BODY_P_HEADERS)) || c->nhps)
		w_part_headers(c, p);
	jw_obj_end(w);
}

/* ---- parseStructure (RFC 8621 §4.1.4) ---- */

struct list {
	uint32_t *v;
	size_t n;
};

static void push(struct list *l, uint32_t i)
{
	if (l)
		l->v[l->n++] = i;
}

/* Needs of c only the tree (jmap_body_has_attachment() passes no more);
 * mtype is the enclosing multipart's subtype. */
static void parse_structure(struct ctx *c, uint32_t first, struct str mtype, int in_alt,
			    struct list *html, struct list *text, struct list *att, int depth)
{
	long text_len = text ? (long)text->n : -1, html_len = html ? (long)html->n : -1;
	uint32_t idx = 0;

	for (uint32_t i = first; i != MIME_NONE; i = c->t->parts[i].next, ++idx) {
		const struct mime_part *p = &c->t->parts[i];
		int multipart = !leaf(p);
		int plain = is_type(p, "text", "plain"), htm = is_type(p, "text", "html");
		int is_inline = !(p->disposition.p && str_eq_ci_c(p->disposition, "attachment")) &&
				(plain || htm || inline_media(p)) &&
				(idx == 0 || (!str_eq_ci_c(mtype, "related") &&
					      (inline_media(p) || !part_name(p).p)));
		if (multipart) {
			if (depth < 64 && p->nchildren)
				parse_structure(c, i + 1, p->subtype,
						in_alt || str_eq_ci_c(p->subtype, "alternative"), html,
						text, att, depth + 1);
		} else if (is_inline) {
			if (str_eq_ci_c(mtype, "alternative")) {
				if (plain)
					push(text, i);
				else if (htm)
					push(html, i);
				else
					push(att, i);
				continue;
			} else if (in_alt) {
				if (plain)
					html = NULL;
				if (htm)
					text = NULL;
			}
			push(text, i);
			push(html, i);
			if ((!text || !html) && inline_media(p))
				push(att, i);
		} else {
			push(att, i);
		}
	}
	if (str_eq_ci_c(mtype, "alternative") && text && html) {
		if (text_len == (long)text->n && html_len != (long)html->n)
			for (size_t i = (size_t)html_len; i < html->n; i++)
				push(text, html->v[i]);
		if (html_len == (long)html->n && text_len != (long)text->n)
			for (size_t i = (size_t)text_len; i < text->n; i++)
				push(html, text->v[i]);
	}
}

static void w_list(struct ctx *c, const struct list *l)
{
	jw_arr_begin(c->w);
	for (size_t i = 0; i < l->n; i++)
		w_part(c, l->v[i], 0, 0);
	jw_arr_end(c->w);
}

/* How many U+FFFD (EF BF BD) s[0..n) holds. */
static size_t count_fffd(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i + 2 < n; i++)
		if (!memcmp(s + i, "\xEF\xBF\xBD", 3))
			k++, i += 2;
	return k;
}

/*
 * Where to cut text of n octets to at most max (max < n): not inside a
 * UTF-8 sequence (§4.2 "MUST ... not occur mid-codepoint"), and for HTML
 * not inside a tag either (§4.2: the server "SHOULD NOT truncate inside
 * an HTML tag, e.g., in the middle of <a href=...>"), so the cut moves
 * back to the "<" of a tag the limit falls in. Comments and attribute
 * values holding ">" are not told apart: a cut a little early is safe.
 */
static size_t value_cut(const char *txt, size_t max, int html)
{
	size_t cut = max;

	while (cut > 0 && ((unsigned char)txt[cut] & 0xc0) == 0x80)
		cut--;
	if (html) {
		size_t i = cut;
		while (i > 0 && txt[i - 1] != '>' && txt[i - 1] != '<')
			i--;
		if (i > 0 && txt[i - 1] == '<')
			cut = i - 1;
	}
	return cut;
}

/* The text of part i decoded into out (UTF-8), cut at max octets. */
static void body_value(struct ctx *c, uint32_t i, uint64_t max)
{
	const struct mime_part *p = &c->t->parts[i];
	struct str body = str_make(c->data + p->body_off, p->body_end - p->body_off);
	struct buf dec;
	int problem = 0, truncated = 0;

	buf_init(&dec, body.len + 16);
	if (mime_decode_all(mime_cte_parse(p->encoding), body, &dec) < 0)
		problem = 1;
	struct str cs = param(p->params, p->nparams, "charset");
	const char *txt = buf_data(&dec);
	size_t n = buf_len(&dec);
	char *conv = NULL;
	if (cs.p && !mime_charset_known(cs)) {
		problem = 1;
	} else {
		conv = arena_alloc(c->a, 3 * n + 1);
		ptrdiff_t k = mime_charset_to_utf8(cs, txt, n, conv);
		if (k >= 0) {
			/* §4.1.4: octets malformed in the charset (each now a
			 * U+FFFD the text did not hold) are an encoding problem. */
			if (count_fffd(conv, (size_t)k) > count_fffd(txt, n))
				problem = 1;
			txt = conv;
			n = (size_t)k;
		}
	}
	/* §4.1.4: "with any CRLF replaced with a single LF" (a lone CR
	 * stays); the cut below counts the octets so sent. */
	if (n && memchr(txt, '\r', n)) {
		char *lf = arena_alloc(c->a, n + 1);
		size_t k = 0;
		for (size_t o = 0; o < n; o++)
			if (!(txt[o] == '\r' && o + 1 < n && txt[o + 1] == '\n'))
				lf[k++] = txt[o];
		txt = lf;
		n = k;
	}
	if (max && n > max) {
		n = value_cut(txt, (size_t)max, str_eq_ci_c(p->subtype, "html"));
		truncated = 1;
	}
	jw_obj_begin(c->w);
	jw_key(c->w, "value");
	jw_strn(c->w, txt, n);
	jw_kbool(c->w, "isEncodingProblem", problem);
	jw_kbool(c->w, "isTruncated", truncated);
	jw_obj_end(c->w);
	buf_free(&dec);
}

/*
 * hasAttachment's rule (§4.1.4): a server SHOULD say true when the
 * "attachments" parseStructure gives holds an item not marked
 * Content-Disposition: inline. That list holds text parts no
 * disposition marks (a text/csv; a text/plain with a file name after
 * the first part), so it is computed here as Email/get computes it.
 */
int jmap_body_has_attachment(const struct mime_tree *t)
{
	struct ctx c = {.t = t};
	size_t cap = ((size_t)t->nparts + 1) * 2;
	uint32_t *v = xmalloc(3 * cap * sizeof *v);
	struct list text = {v, 0}, html = {v + cap, 0}, att = {v + 2 * cap, 0};
	parse_structure(&c, 0, str_c("mixed"), 0, &html, &text, &att, 0);
	int any = 0;
	for (size_t i = 0; i < att.n && !any; i++) {
		struct str d = t->parts[att.v[i]].disposition;
		any = !(d.p && str_eq_ci_c(d, "inline"));
	}
	free(v);
	return any;
}

void jmap_email_body(struct jw *w, struct arena *a, const char *data, const struct mime_tree *t,
		     uint32_t email, unsigned want, unsigned bwant, const struct jmap_body_opts *o)
{
	struct ctx c = {w, a, data, t, email, bwant, o->hps, o->nhps, o->blob};
	struct list text = {arena_alloc(a, (t->nparts + 1) * 2 * sizeof(uint32_t)), 0},
		    html = {arena_alloc(a, (t->nparts + 1) * 2 * sizeof(uint32_t)), 0},
		    att = {arena_alloc(a, (t->nparts + 1) * 2 * sizeof(uint32_t)), 0};

	parse_structure(&c, 0, str_c("mixed"), 0, &html, &text, &att, 0);
	if (want & JMAP_BODY_STRUCTURE) {
		jw_key(w, "bodyStructure");
		w_part(&c, 0, 1, 0);
	}
	if (want & JMAP_BODY_TEXT) {
		jw_key(w, "textBody");
		w_list(&c, &text);
	}
	if (want & JMAP_BODY_HTML) {
		jw_key(w, "htmlBody");
		w_list(&c, &html);
	}
	if (want & JMAP_BODY_ATTACHMENTS) {
		jw_key(w, "attachments");
		w_list(&c, &att);
	}
	if (want & JMAP_BODY_VALUES) {
		/* Each text part at most once, in tree order. */
		char *pick = arena_zalloc(a, t->nparts + 1);
		for (size_t i = 0; o->text && i < text.n; i++)
			pick[text.v[i]] = 1;
		for (size_t i = 0; o->html && i < html.n; i++)
			pick[html.v[i]] = 1;
		/* §4.2 fetchAllBodyValues: "any text/(any) part in the
		 * bodyStructure", so none inside an attached message. */
		for (uint32_t i = 0; o->all && i < t->nparts; i++)
			pick[i] = leaf(&t->parts[i]) && !(t->parts[i].flags & MIME_PART_MESSAGE) &&
				  in_structure(t, i);
		jw_key(w, "bodyValues");
		jw_obj_begin(w);
		for (uint32_t i = 0; i < t->nparts; i++) {
			if (!pick[i] || !str_eq_ci_c(t->parts[i].type, "text"))
				continue;
			char k[16];
			snprintf(k, sizeof k, "%u", i);
			jw_key(w, k);
			body_value(&c, i, o->max);
		}
		jw_obj_end(w);
	}
}
