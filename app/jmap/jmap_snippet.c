/*
 * jmap_snippet.c — SearchSnippet/get (RFC 8621 §5): for each email, its
 * subject and a piece of its body with the filter's search terms marked
 * <mark>…</mark>, everything else HTML-escaped.
 *
 * The terms are the values of the filter's text, subject and body
 * conditions (not those under NOT: they matched nothing to show);
 * text and subject terms are looked for in the subject, text and body
 * terms in the body. Matching is the matcher's (jmap_email_match.c,
 * mime/mime_search.h): the same folding, on the same decoded text, so a
 * snippet marks what Email/query matched. subject is null when no term
 * is in it; preview is null when none is in the body, else at most 255
 * octets around the first match.
 *
 * Caveats: an HTML body part is shown as its text with the tags in it
 * (the matcher searches it so); whole words are not required.
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/unorm.h"
#include "core/xalloc.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_email_match.h"
#include "jmap/jmap_private.h"
#include "mime/rfc5322.h"
#include "store/store.h"

#define SNIPPET_TERMS 16
#define SNIPPET_PREVIEW_MAX 255
#define SNIPPET_BEFORE 40 /* octets of context before the first match */

struct terms {
	struct str subject[SNIPPET_TERMS], body[SNIPPET_TERMS];
	size_t ns, nb;
};

static void add(struct str *v, size_t *n, struct arena *a, const struct json_value *s)
{
	if (*n < SNIPPET_TERMS && s->type == JSON_STRING && s->len)
		v[(*n)++] = jmap_needle(a, s->str, s->len);
}

static void terms_gather(struct terms *t, struct arena *a, const struct json_value *f, int depth)
{
	if (!f || f->type != JSON_OBJECT || depth > JMAP_FILTER_DEPTH)
		return;
	const struct json_value *op = json_get(f, "operator"), *conds = json_get(f, "conditions");
	if (op) {
		if (op->type == JSON_STRING && strcmp(op->str, "NOT") && conds &&
		    conds->type == JSON_ARRAY)
			for (const struct json_value *e = conds->first; e; e = e->next)
				terms_gather(t, a, e, depth + 1);
		return;
	}
	for (const struct json_value *p = f->first; p; p = p->next) {
		if (!strcmp(p->key, "text") || !strcmp(p->key, "subject"))
			add(t->subject, &t->ns, a, p);
		if (!strcmp(p->key, "text") || !strcmp(p->key, "body"))
			add(t->body, &t->nb, a, p);
	}
}

/* Scratch for term_at: the fold of the text ahead of a position, and
 * where each character of it ends in the text and in the fold. */
struct ahead {
	char *f;
	size_t *tend, *fend;
	size_t max; /* the longest term */
};

static void ahead_init(struct ahead *h, const struct str *v, size_t n)
{
	h->max = 0;
	for (size_t k = 0; k < n; k++)
		h->max = v[k].len > h->max ? v[k].len : h->max;
	h->f = xmalloc(h->max + 4 * UNORM_KD_MAX);
	h->tend = xmalloc((h->max + 1) * sizeof *h->tend);
	h->fend = xmalloc((h->max + 1) * sizeof *h->fend);
}

static void ahead_free(struct ahead *h)
{
	free(h->f);
	free(h->tend);
	free(h->fend);
}

/*
 * The length in text of the longest term that text[i..), folded
 * (i;unicode-casemap, core/unorm.h, as the matcher folds), begins
 * with, or 0. Folding changes lengths ("é" is two code points), so the text is folded here a character
 * at a time; a term that ends inside one character's fold takes the
 * whole character.
 */
static size_t term_at(struct ahead *h, const struct str *v, size_t n, struct str text, size_t i)
{
	size_t fl = 0, nc = 0, t = i;
	while (fl < h->max && t < text.len) {
		size_t l;
		(void)unorm_casemap_char_len(text.p + t, text.len - t, &l);
		fl += unorm_casemap(text.p + t, l, h->f + fl);
		t += l;
		h->tend[nc] = t;
		h->fend[nc++] = fl;
	}
	size_t best = 0;
	for (size_t k = 0; k < n; k++) {
		if (!v[k].len || v[k].len > fl || memcmp(h->f, v[k].p, v[k].len))
			continue;
		size_t c = 0;
		while (h->fend[c] < v[k].len)
			c++;
		best = h->tend[c] - i > best ? h->tend[c] - i : best;
	}
	return best;
}

/* Appends text[i] HTML-escaped, white space as one space; its length. */
static size_t esc_len(char ch)
{
	return ch == '&' ? 5 : ch == '<' || ch == '>' ? 4 : ch == '"' ? 6 : 1;
}

static void esc_put(struct buf *o, char ch)
{
	switch (ch) {
	case '&': buf_append(o, "&amp;", 5); break;
	case '<': buf_append(o, "&lt;", 4); break;
	case '>': buf_append(o, "&gt;", 4); break;
	case '"': buf_append(o, "&quot;", 6); break;
	case '\r': case '\n': case '\t': buf_append(o, " ", 1); break;
	default: buf_append(o, &ch, 1);
	}
}

/* UTF-8 sequence length of the lead octet c (1 for a stray octet). */
static size_t seq_len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/*
 * Writes text[from..) with every term (folded) marked, into o, stopping
 * before o would pass max octets (0: no limit) and never inside a
 * character, escape or mark. Returns the number of marks written.
 */
static int mark(struct buf *o, struct str text, size_t from, const struct str *v, size_t n,
		size_t max)
{
	int marks = 0;
	struct ahead h;
	ahead_init(&h, v, n);
	for (size_t i = from; i < text.len;) {
		size_t m = term_at(&h, v, n, text, i);
		if (m) {
			size_t need = 13; /* <mark></mark> */
			for (size_t k = i; k < i + m; k++)
				need += esc_len(text.p[k]);
			if (max && buf_len(o) + need > max)
				break;
			buf_append(o, "<mark>", 6);
			for (size_t k = i; k < i + m; k++)
				esc_put(o, text.p[k]);
			buf_append(o, "</mark>", 7);
			marks++;
			i += m;
			continue;
		}
		char ch = text.p[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			/* A run of white space is one space. */
			if (buf_len(o) && buf_data(o)[buf_len(o) - 1] == ' ') {
				i++;
				continue;
			}
		}
		size_t l = seq_len((unsigned char)ch);
		if (l > text.len - i)
			l = text.len - i;
		size_t need = l == 1 ? esc_len(ch) : l;
		if (max && buf_len(o) + need > max)
			break;
		for (size_t k = i; k < i + l; k++)
			esc_put(o, text.p[k]);
		i += l;
	}
	while (buf_len(o) && buf_data(o)[buf_len(o) - 1] == ' ')
		o->len--; /* only the trailing space goes */
	ahead_free(&h);
	return marks;
}

struct snip {
	struct jmap_call *c;
	const struct terms *t;
	const char *id;
	struct jw w; /* the email's SearchSnippet, written apart */
	int found;
};

static void w_subject(struct snip *s, struct jmap_content *ct)
{
	struct jw *w = &s->w;
	const struct mime_envelope *env = ct->t.parts[0].env;
	if (!s->t->ns || !env || !env->subject.p) {
		jw_null(w);
		return;
	}
	struct buf dec, o;
	buf_init(&dec, 64 * 1024);
	rfc5322_decode_words(env->subject, &dec);
	struct str text = buf_str(&dec);
	buf_init(&o, 8 * text.len + 64);
	if (mark(&o, text, 0, s->t->subject, s->t->ns, 0))
		jw_strn(w, buf_data(&o), buf_len(&o));
	else
		jw_null(w);
	buf_free(&o);
	buf_free(&dec);
}

static void w_preview(struct snip *s, struct jmap_content *ct)
{
	struct jw *w = &s->w;
	long first = -1;
	for (size_t k = 0; k < s->t->nb; k++) {
		long at = mime_search_body_find(&ct->ms, s->t->body[k], 0);
		if (at >= 0 && (first < 0 || at < first))
			first = at;
	}
	if (first < 0) {
		jw_null(w);
		return;
	}
	struct str text = mime_search_body_text(&ct->ms);
	/* first is an offset in the folded text: the character of the
	 * unfolded one whose fold holds it. */
	size_t at = 0;
	for (size_t o = 0; at < text.len;) {
		size_t l, f = unorm_casemap_char_len(text.p + at, text.len - at, &l);
		if (o + f > (size_t)first)
			break;
		o += f;
		at += l;
	}
	first = (long)at;
	/* Some context before the match, from a character's start, after
	 * a space when there is one nearby. */
	size_t from = (size_t)first > SNIPPET_BEFORE ? (size_t)first - SNIPPET_BEFORE : 0;
	while (from < (size_t)first && ((unsigned char)text.p[from] & 0xc0) == 0x80)
		from++;
	for (size_t k = from; from && k < (size_t)first; k++)
		if (text.p[k] == ' ' || text.p[k] == '\n') {
			from = k + 1;
			break;
		}
	while (from < (size_t)first && (text.p[from] == ' ' || text.p[from] == '\n' ||
					text.p[from] == '\r' || text.p[from] == '\t'))
		from++;
	struct buf o;
	buf_init(&o, SNIPPET_PREVIEW_MAX + 1);
	mark(&o, text, from, s->t->body, s->t->nb, SNIPPET_PREVIEW_MAX);
	jw_strn(w, buf_data(&o), buf_len(&o));
	buf_free(&o);
}

static void snip_cb(void *arg, const void *meta, size_t metalen, const char *data, size_t len)
{
	struct snip *s = arg;
	struct arena *a = arena_new(16384);
	struct jmap_content ct;

	s->found = 1;
	jmap_content_open(&ct, a, meta, metalen, data, len, 1);
	jw_obj_begin(&s->w);
	jw_kstr(&s->w, "emailId", s->id);
	jw_key(&s->w, "subject");
	w_subject(s, &ct);
	jw_key(&s->w, "preview");
	if (s->t->nb)
		w_preview(s, &ct);
	else
		jw_null(&s->w);
	jw_obj_end(&s->w);
	jmap_content_close(&ct);
	arena_free(&a);
}

static const struct jmap_arg args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"filter", JA_OBJECT, JA_NULLABLE},
    {"emailIds", JA_IDS, JA_REQUIRED},
};

void jmap_snippet_get(struct jmap_call *c)
{
	if (jmap_args_check(c, args, sizeof args / sizeof args[0]) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "emailIds"), *filter = jmap_arg(c, "filter");
	if (ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	/* An id given twice is answered once, as a /get does (RFC 8620 5.1). */
	ids = jmap_ids_unique(c->r->a, ids);
	if (jmap_email_filter_check(c, filter) < 0)
		return;
	struct terms t = {0};
	terms_gather(&t, c->r->a, filter, 0);
	const char **missing = arena_alloc(c->r->a, (ids->count + 1) * sizeof *missing);
	size_t nmissing = 0;
	jmap_begin(c);
	jw_key(&c->w, "list");
	jw_arr_begin(&c->w);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		uint32_t id = jmap_id_num(e->str, 'E');
		struct buf one;
		struct snip s = {c, &t, e->str, {0}, 0};
		buf_init(&one, 1024 * 1024);
		jw_init(&s.w, &one);
		/* In a shared account an email the user may not read is
		 * not found (jmap_share.c). */
		int readable = id ? jmap_email_id_readable(c->r, id) : 0;
		if (readable < 0) {
			buf_free(&one);
			jmap_error(c, "serverFail", "the store could not be read");
			return;
		}
		if (readable)
			store_email_content(c->r->st, c->r->account, id, snip_cb, &s);
		if (s.found)
			jw_rawn(&c->w, buf_data(&one), buf_len(&one));
		else
			missing[nmissing++] = e->str;
		buf_free(&one);
	}
	jw_arr_end(&c->w);
	jw_key(&c->w, "notFound");
	if (nmissing) {
		jw_arr_begin(&c->w);
		for (size_t i = 0; i < nmissing; i++)
			jw_str(&c->w, missing[i]);
		jw_arr_end(&c->w);
	} else {
		jw_null(&c->w);
	}
	jw_obj_end(&c->w);
}
