/*
 * sieve_msg.c — the message as Sieve tests see it: header fields (with
 * editheader's changes applied), their decoded values, and the text of
 * body parts.
 *
 * The header is parsed once per run, on first use, from at most
 * SIEVE_HEADER_BYTES_MAX octets; the MIME structure likewise, only for
 * the body test and foreverypart; a part's text is decoded once per run
 * (and folded once for i;ascii-casemap :contains), whatever the number
 * of body tests. A part's own header (:mime tests,
 * RFC 5703) is parsed when a test asks for it; all of them together
 * within SIEVE_HEADER_BYTES_MAX octets of their own. Body text is decoded from its transfer encoding and
 * charset, and at most SIEVE_BODY_BYTES_MAX octets of it are examined
 * per run.
 */
#include <stdlib.h>

#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_html.h"
#include "mime/rfc5322.h"
#include "sieve/sieve_run.h"

#define HFIELDS_MAX 10000

static void push_field(struct run *r, struct str name, struct str value, int front, int added)
{
	if (r->nhf >= r->caphf) {
		uint32_t nc = r->caphf ? r->caphf * 2 : 32;
		struct hfield *n = arena_alloc(r->a, nc * sizeof(*n));
		if (r->nhf)
			memcpy(n, r->hf, r->nhf * sizeof(*n));
		r->hf = n;
		r->caphf = nc;
	}
	if (front) {
		memmove(r->hf + 1, r->hf, r->nhf * sizeof(*r->hf));
		r->hf[0] = (struct hfield){ name, value, 0, (uint16_t)added, 0 };
	} else {
		r->hf[r->nhf] = (struct hfield){ name, value, 0, (uint16_t)added, 0 };
	}
	r->nhf++;
}

/* The fields of text (a header section, or the server's head without
 * the empty line) at the end of the list; fixed marks the head's. */
static void parse_fields(struct run *r, const char *text, size_t len, int fixed)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;

	if (len > SIEVE_HEADER_BYTES_MAX)
		len = SIEVE_HEADER_BYTES_MAX;
	rfc5322_init(&p);
	while (r->nhf < HFIELDS_MAX) {
		int rc = rfc5322_parse(&p, text + off, len - off, 1, &used, &f);
		off += used;
		if (rc != RFC5322_FIELD)
			break;
		if (f.name.len == 0)
			continue;
		/* The slices may point into the parser's buffer: keep copies. */
		struct str name = str_make(arena_strndup(r->a, f.name.p, f.name.len), f.name.len);
		struct str value = str_make(arena_strndup(r->a, f.value.p, f.value.len), f.value.len);
		push_field(r, name, value, 0, 0);
		r->hf[r->nhf - 1].fixed = (uint8_t)fixed;
	}
	rfc5322_clear(&p);
}

void msg_headers(struct run *r)
{
	if (r->headers_parsed)
		return;
	r->headers_parsed = 1;
	/* The server's fields first, as the stored message has them; a
	 * replace keeps them (they stay in front of the new message). */
	if (r->env->head.len)
		parse_fields(r, r->env->head.p, r->env->head.len, 1);
	parse_fields(r, r->env->msg, r->env->len, 0);
}

int msg_header_add(struct run *r, struct str name, struct str value, int last)
{
	msg_headers(r);
	if (r->nhf >= HFIELDS_MAX)
		return -1;
	push_field(r, name, value, !last, (int)++r->edits);
	r->size_delta += (int64_t)field_size(&r->hf[last ? r->nhf - 1 : 0]);
	return 0;
}

struct str msg_header_value(struct run *r, uint32_t i, int decode)
{
	return msg_field_value(r, r->hf[i].value, decode);
}

struct str msg_field_value(struct run *r, struct str v, int decode)
{
	char *tmp = arena_alloc(r->a, v.len + 1);
	size_t n = rfc5322_unfold(v, tmp);
	if (!decode || !memmem(tmp, n, "=?", 2))
		return str_make(tmp, n);
	buf_reset(&r->scratch);
	(void)rfc5322_decode_words(str_make(tmp, n), &r->scratch);
	return str_make(arena_strndup(r->a, buf_data(&r->scratch), buf_len(&r->scratch)),
	                buf_len(&r->scratch));
}

void msg_set(struct run *r, struct str m)
{
	r->menv.msg = m.p;
	r->menv.len = m.len;
	r->headers_parsed = 0;
	r->size_delta = 0;
	r->nhf = 0;
	r->tree_parsed = 0;
	memset(&r->tree, 0, sizeof r->tree);
}

void msg_tree(struct run *r)
{
	if (r->tree_parsed)
		return;
	r->tree_parsed = 1;
	mime_tree_parse(r->env->msg, r->env->len, r->a, &r->tree);
	r->btext = arena_zalloc(r->a, (r->tree.nparts ? r->tree.nparts : 1) * 2 * sizeof(*r->btext));
	r->htext = arena_zalloc(r->a, (r->tree.nparts ? r->tree.nparts : 1) * 2 * sizeof(*r->htext));
}

/* Decodes part i's body, in UTF-8 when its charset is known, into the
 * run's cache (within what remains of the body budget). */
static int part_text_decode(struct run *r, uint32_t i, struct str *out)
{
	const struct mime_part *p = &r->tree.parts[i];
	uint64_t off = p->body_off, end = p->body_end;
	struct buf dec;

	*out = STR_LIT("");
	if (end > r->env->len)
		end = r->env->len;
	if (off >= end)
		return 0;
	if (r->body_seen >= SIEVE_BODY_BYTES_MAX)
		return 0;
	if (end - off > SIEVE_BODY_BYTES_MAX - r->body_seen)
		end = off + (SIEVE_BODY_BYTES_MAX - r->body_seen);
	r->body_seen += end - off;
	if (run_spend(r, (end - off) / 64 + 1) < 0)
		return -1;
	buf_init(&dec, SIEVE_BODY_BYTES_MAX);
	(void)mime_decode_all(mime_cte_parse(p->encoding), str_make(r->env->msg + off, end - off),
	                      &dec);
	struct str cs = mime_param_get(p->params, p->nparams, "charset");
	if (mime_part_is(p, "text", NULL) && mime_charset_known(cs) && buf_len(&dec)) {
		char *u = arena_alloc(r->a, 3 * buf_len(&dec) + 1);
		ptrdiff_t n = mime_charset_to_utf8(cs, buf_data(&dec), buf_len(&dec), u);
		if (n >= 0)
			*out = str_make(u, (size_t)n);
	} else if (buf_len(&dec)) {
		*out = str_make(arena_strndup(r->a, buf_data(&dec), buf_len(&dec)), buf_len(&dec));
	}
	buf_free(&dec);
	return 0;
}

/* t[0] as decoded, or t[1], its fold, made the first time it is asked. */
static int text_or_fold(struct run *r, struct str *t, int fold, struct str *out)
{
	if (!fold) {
		*out = *t;
		return 0;
	}
	if (!t[1].p)
		t[1] = sv_fold_copy(r->a, *t);
	*out = t[1];
	return 0;
}

/* Part i's text, decoded once per run however many tests read it. */
int msg_part_text(struct run *r, uint32_t i, int fold, struct str *out)
{
	struct str *t = &r->btext[2 * i];

	if (!t->p && part_text_decode(r, i, t) < 0)
		return -1;
	return text_or_fold(r, t, fold, out);
}

int msg_part_plain(struct run *r, uint32_t i, int fold, struct str *out)
{
	struct str *t = &r->htext[2 * i], html;

	if (!mime_part_is(&r->tree.parts[i], "text", "html") &&
	    !mime_part_is(&r->tree.parts[i], "application", "xhtml+xml"))
		return msg_part_text(r, i, fold, out);
	if (!t->p) {
		if (msg_part_text(r, i, 0, &html) < 0)
			return -1;
		/* the text is no longer than the markup (references decode
		 * to at most their own length, block ends add a line end) */
		struct buf b;
		struct mime_html *h = xmalloc(sizeof(*h));
		buf_init(&b, html.len + 64);
		mime_html_init(h, &b, &b, NULL, NULL);
		mime_html_feed(h, html.p, html.len);
		mime_html_finish(h);
		free(h);
		*t = str_make(arena_strndup(r->a, buf_data(&b), buf_len(&b)), buf_len(&b));
		buf_free(&b);
		if (run_spend(r, html.len / 64 + 1) < 0)
			return -1;
	}
	return text_or_fold(r, t, fold, out);
}

/*
 * The header fields of part i (RFC 5703 :mime): the message's own (as
 * editheader left them) for the root, else the part's header section
 * parsed from the message, within what remains of the header budget.
 */
uint32_t msg_part_fields(struct run *r, uint32_t i, struct hfield **out)
{
	const struct mime_part *p;
	struct rfc5322_parser ps;
	struct rfc5322_field f;
	struct hfield *v = NULL;
	uint32_t n = 0, cap = 0;
	size_t off, end, used;

	if (i == 0) {
		msg_headers(r);
		*out = r->hf;
		return r->nhf;
	}
	msg_tree(r);
	p = &r->tree.parts[i];
	off = p->hdr_off;
	end = p->body_off < r->env->len ? p->body_off : r->env->len;
	if (off >= end || r->part_hdr_seen >= SIEVE_HEADER_BYTES_MAX) {
		*out = NULL;
		return 0;
	}
	if (end - off > SIEVE_HEADER_BYTES_MAX - r->part_hdr_seen)
		end = off + (SIEVE_HEADER_BYTES_MAX - r->part_hdr_seen);
	r->part_hdr_seen += end - off;
	if (run_spend(r, (end - off) / 64 + 1) < 0) {
		*out = NULL;
		return 0;
	}
	rfc5322_init(&ps);
	while (n < HFIELDS_MAX) {
		int rc = rfc5322_parse(&ps, r->env->msg + off, end - off, 1, &used, &f);
		off += used;
		if (rc != RFC5322_FIELD)
			break;
		if (f.name.len == 0)
			continue;
		if (n >= cap) {
			uint32_t nc = cap ? cap * 2 : 16;
			struct hfield *nv = arena_alloc(r->a, nc * sizeof(*nv));
			if (n)
				memcpy(nv, v, n * sizeof(*nv));
			v = nv;
			cap = nc;
		}
		v[n].name = str_make(arena_strndup(r->a, f.name.p, f.name.len), f.name.len);
		v[n].value = str_make(arena_strndup(r->a, f.value.p, f.value.len), f.value.len);
		v[n].deleted = 0;
		v[n].added = 0;
		v[n].fixed = 0;
		n++;
	}
	rfc5322_clear(&ps);
	*out = v;
	return n;
}
