/*
 * mime_tree.c — one pass over a message builds its part tree; section
 * lookup and header filtering over the result (see mime_tree.h).
 *
 * The parser walks the message once. It keeps the chain of open parts
 * (the current part and its ancestors, through parent links) and a stack
 * of the boundaries of the multiparts still waiting for parts. Each step
 * reads a part's header, then looks for the next line that is a boundary
 * of any multipart on the stack: that line closes every open part below
 * the multipart it belongs to and either starts a new child or closes the
 * multipart's list of children (its epilogue follows). Line counts are
 * made afterwards in one more pass over the message.
 */
#include "mime/mime_tree.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "mime/mime_decode.h"
#include "mime/mime_header_downgrade.h"
#include "mime/rfc5322.h"

/* Longest boundary we look for; RFC 2046 allows 70. */
#define BOUNDARY_MAX 200

static const struct str s_text = {"text", 4};
static const struct str s_plain = {"plain", 5};
static const struct str s_message = {"message", 7};
static const struct str s_rfc822 = {"rfc822", 6};

struct frame {
	uint32_t part;
	struct str boundary;
};

struct builder {
	const char *msg;
	size_t len;
	struct arena *a;
	struct mime_part *parts;
	uint32_t *last_child;
	uint32_t n, cap;
	uint32_t cur; /* deepest open part */
	uint32_t budget;
	uint32_t tree_flags;
	int stop;
	size_t nstack;
	struct frame stack[MIME_DEPTH_MAX + 1];
};

static uint32_t new_part(struct builder *b, uint32_t parent, uint64_t hdr_off)
{
	struct mime_part *p;
	uint32_t i = b->n;

	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->parts = xrealloc(b->parts, b->cap * sizeof(*b->parts));
		b->last_child = xrealloc(b->last_child, b->cap * sizeof(*b->last_child));
	}
	b->n++;
	p = &b->parts[i];
	memset(p, 0, sizeof(*p));
	p->parent = parent;
	p->next = MIME_NONE;
	p->hdr_off = p->body_off = p->body_end = hdr_off;
	p->type = s_text;
	p->subtype = s_plain;
	b->last_child[i] = MIME_NONE;
	if (parent != MIME_NONE) {
		struct mime_part *pp = &b->parts[parent];

		p->depth = (uint16_t)(pp->depth + 1);
		if (b->last_child[parent] != MIME_NONE)
			b->parts[b->last_child[parent]].next = i;
		b->last_child[parent] = i;
		pp->nchildren++;
	}
	return i;
}

static struct str unfold(struct builder *b, struct str v)
{
	char *d = arena_alloc(b->a, v.len + 1);
	size_t n = rfc5322_unfold(v, d);

	d[n] = '\0';
	return str_make(d, n);
}

/* Longest boundary on the stack that the line at pos ("--" seen) starts
 * with; ties go to the innermost. Returns the level or -1. */
static int match_boundary(const struct builder *b, size_t pos)
{
	size_t k, best_len = 0, room = b->len - pos;
	int best = -1;

	for (k = 0; k < b->nstack; k++) {
		const struct str *bd = &b->stack[k].boundary;

		if (bd->len <= room && bd->len >= best_len &&
		    memcmp(b->msg + pos, bd->p, bd->len) == 0) {
			best = (int)k;
			best_len = bd->len;
		}
	}
	return best;
}

/*
 * First boundary line at or after pos, a line start. Returns its offset
 * and sets *level_r, *close_r ("--boundary--") and *after_r (the next
 * line's start); returns b->len when there is none.
 */
static size_t find_boundary(const struct builder *b, size_t pos, size_t *level_r, int *close_r,
                            size_t *after_r)
{
	const char *m = b->msg, *nl;
	size_t i = pos, e;
	int lvl;

	if (b->nstack == 0)
		return b->len;
	while (i < b->len) {
		if (b->len - i >= 2 && m[i] == '-' && m[i + 1] == '-' &&
		    (lvl = match_boundary(b, i + 2)) >= 0) {
			e = i + 2 + b->stack[lvl].boundary.len;
			*level_r = (size_t)lvl;
			*close_r = b->len - e >= 2 && m[e] == '-' && m[e + 1] == '-';
			nl = memchr(m + e, '\n', b->len - e);
			*after_r = nl ? (size_t)(nl - m) + 1 : b->len;
			return i;
		}
		nl = memchr(m + i, '\n', b->len - i);
		if (nl == NULL)
			break;
		i = (size_t)(nl - m) + 1;
	}
	return b->len;
}

/* Header fields a part's parse keeps (first occurrence wins). */
enum hf {
	HF_CTYPE,
	HF_CTE,
	HF_CID,
	HF_CDESC,
	HF_CDISP,
	HF_CLANG,
	HF_CLOC,
	HF_CMD5,
	HF_FIRST_ENV,
	HF_DATE = HF_FIRST_ENV,
	HF_SUBJECT,
	HF_FROM,
	HF_SENDER,
	HF_REPLY_TO,
	HF_TO,
	HF_CC,
	HF_BCC,
	HF_IN_REPLY_TO,
	HF_MESSAGE_ID,
	HF_COUNT,
};

static const char *const hf_names[HF_COUNT] = {
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-ID",
    "Content-Description",
    "Content-Disposition",
    "Content-Language",
    "Content-Location",
    "Content-MD5",
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
};

static int hf_lookup(struct str name, int is_message)
{
	int k, n = is_message ? HF_COUNT : HF_FIRST_ENV;

	/* Most fields are neither: a cheap first-octet test first. */
	switch (name.len ? name.p[0] | 0x20 : 0) {
	case 'c':
	case 'd':
	case 's':
	case 'f':
	case 'r':
	case 't':
	case 'b':
	case 'i':
	case 'm':
		break;
	default:
		return -1;
	}
	for (k = 0; k < n; k++)
		if (str_eq_ci_c(name, hf_names[k]))
			return k;
	return -1;
}

static uint32_t budget_cap(struct builder *b, uint32_t per_field)
{
	return b->budget < per_field ? b->budget : per_field;
}

static void budget_take(struct builder *b, uint32_t n, uint32_t cap)
{
	b->budget -= n;
	if (n == cap && cap > 0)
		b->tree_flags |= MIME_TREE_LIMITED;
}

static void addresses(struct builder *b, struct str raw, struct mime_addrs *out)
{
	uint32_t cap;

	if (raw.p == NULL)
		return;
	cap = budget_cap(b, MIME_ADDRS_MAX);
	mime_field_addresses(b->a, unfold(b, raw), &out->v, &out->n, cap);
	budget_take(b, out->n > cap ? cap : out->n, cap);
}

/* A repeated address field's later values (From, Sender, Reply-To, To,
 * Cc, Bcc seen more than once), in header order. */
struct more_field {
	struct str value;
	struct more_field *next;
};

#define HF_NADDR (HF_BCC - HF_FROM + 1)

/* hf[k] with the later values of the same field appended, separated by
 * commas (an address-list of them all), in one copy. */
static struct str joined(struct builder *b, struct str first, const struct more_field *more)
{
	size_t n = first.len;
	char *d, *w;

	if (!more)
		return first;
	for (const struct more_field *m = more; m; m = m->next)
		n += 1 + m->value.len;
	d = w = arena_alloc(b->a, n);
	memcpy(w, first.p, first.len);
	w += first.len;
	for (const struct more_field *m = more; m; m = m->next) {
		*w++ = ',';
		memcpy(w, m->value.p, m->value.len);
		w += m->value.len;
	}
	return str_make(d, n);
}

/*
 * The ENVELOPE of a message part. RFC 5322 §3.6 allows each of these
 * fields once; when an address field comes more than once, its lists are
 * joined (every Cc: line's recipients), as Dovecot answers and as a
 * reply-to-all needs. The other members take the first occurrence.
 */
static void fill_envelope(struct builder *b, struct mime_part *p, const struct str *hf,
                          struct more_field *const *more)
{
	struct mime_envelope *e = arena_zalloc(b->a, sizeof(*e));

	if (hf[HF_DATE].p)
		e->date = unfold(b, hf[HF_DATE]);
	if (hf[HF_SUBJECT].p)
		e->subject = unfold(b, hf[HF_SUBJECT]);
	if (hf[HF_IN_REPLY_TO].p)
		e->in_reply_to = unfold(b, hf[HF_IN_REPLY_TO]);
	if (hf[HF_MESSAGE_ID].p)
		e->message_id = unfold(b, hf[HF_MESSAGE_ID]);
	struct mime_addrs *lists[HF_NADDR] = { &e->from, &e->sender, &e->reply_to,
		                               &e->to,   &e->cc,     &e->bcc };
	for (int k = 0; k < HF_NADDR; k++)
		addresses(b, joined(b, hf[HF_FROM + k], more[k]), lists[k]);
	p->env = e;
}

/* Interprets the Content-* fields of part p; def_message says the default
 * type is message/rfc822 (inside multipart/digest). */
static void fill_content(struct builder *b, struct mime_part *p, const struct str *hf,
                         int def_message)
{
	struct str v;
	uint32_t cap;

	if (def_message) {
		p->type = s_message;
		p->subtype = s_rfc822;
	}
	p->flags |= MIME_PART_DEFAULT_TYPE;
	if (hf[HF_CTYPE].p) {
		struct str type, subtype;
		struct mime_param *params;
		uint32_t n;

		cap = budget_cap(b, MIME_PARAMS_MAX);
		if (mime_field_params(b->a, unfold(b, hf[HF_CTYPE]), &type, &subtype, &params, &n,
		                      cap) == 0) {
			p->type = type;
			p->subtype = subtype;
			p->params = params;
			p->nparams = n;
			p->flags &= (uint16_t)~MIME_PART_DEFAULT_TYPE;
			budget_take(b, n, cap);
		}
	}
	if (hf[HF_CTE].p) {
		struct str tok;
		struct mime_param *params;
		uint32_t n;

		/* The token without comments; a value that is no token is kept
		 * whole so FETCH shows what the header said. */
		v = unfold(b, hf[HF_CTE]);
		if (mime_field_params(b->a, v, &tok, NULL, &params, &n, 0) == 0)
			v = tok;
		p->encoding = v;
	}
	if (hf[HF_CID].p)
		p->id = unfold(b, hf[HF_CID]);
	if (hf[HF_CDESC].p)
		p->description = unfold(b, hf[HF_CDESC]);
	if (hf[HF_CLOC].p)
		p->location = unfold(b, hf[HF_CLOC]);
	if (hf[HF_CMD5].p)
		p->md5 = unfold(b, hf[HF_CMD5]);
	if (hf[HF_CDISP].p) {
		struct str disp;
		struct mime_param *params;
		uint32_t n;

		cap = budget_cap(b, MIME_PARAMS_MAX);
		if (mime_field_params(b->a, unfold(b, hf[HF_CDISP]), &disp, NULL, &params, &n,
		                      cap) == 0) {
			p->disposition = disp;
			p->disp_params = params;
			p->ndisp_params = n;
			budget_take(b, n, cap);
		}
	}
	if (hf[HF_CLANG].p)
		mime_field_tokens(b->a, unfold(b, hf[HF_CLANG]), &p->languages, &p->nlanguages,
		                  MIME_LANGS_MAX);
}

/* Start of the line after the field that starts at in[i] (its folded
 * continuation lines included). */
static size_t skip_field(const char *in, size_t len, size_t i)
{
	const char *nl;

	for (;;) {
		nl = memchr(in + i, '\n', len - i);
		if (nl == NULL)
			return len;
		i = (size_t)(nl - in) + 1;
		if (i >= len || (in[i] != ' ' && in[i] != '\t'))
			return i;
	}
}

/* Reads the header section of part pi, which starts at its hdr_off. */
static void parse_header(struct builder *b, uint32_t pi, int def_message)
{
	struct mime_part *p = &b->parts[pi];
	struct rfc5322_parser rp;
	struct rfc5322_field f;
	struct str hf[HF_COUNT];
	struct more_field *more[HF_NADDR] = { 0 }, **more_tail[HF_NADDR];
	const char *in = b->msg + p->hdr_off;
	size_t len = b->len - p->hdr_off, off = 0, base = 0, used, start;
	int r, k,
	    is_message = p->parent == MIME_NONE || (b->parts[p->parent].flags & MIME_PART_MESSAGE);

	memset(hf, 0, sizeof(hf));
	for (int i = 0; i < HF_NADDR; i++)
		more_tail[i] = &more[i];
	rfc5322_init(&rp);
	for (;;) {
		start = off;
		r = rfc5322_parse(&rp, in + off, len - off, 1, &used, &f);
		off += used;
		if (r == RFC5322_ERR_FIELD_TOO_LONG) {
			/* One field past rfc5322.h's limit (a To: with thousands
			 * of recipients): drop it, go on with the next. */
			off = base = skip_field(in, len, start);
			rfc5322_clear(&rp);
			rfc5322_init(&rp);
			b->tree_flags |= MIME_TREE_LIMITED;
			continue;
		}
		if (r != RFC5322_FIELD)
			break;
		/* A boundary line (a malformed line to rfc5322.h, or a field
		 * when it has a ':') ends the header, and so this part. */
		if (b->nstack && f.raw.len >= 2 && f.raw.p[0] == '-' && f.raw.p[1] == '-' &&
		    match_boundary(b, p->hdr_off + start + 2) >= 0) {
			off = start;
			r = RFC5322_ERR_NAME_TOO_LONG; /* any: "ended without separator" */
			break;
		}
		k = hf_lookup(f.name, is_message);
		if (k >= 0 && hf[k].p == NULL) {
			hf[k] = f.value;
			continue;
		}
		if (k >= HF_FIRST_ENV && pi == 0)
			b->tree_flags |= MIME_TREE_REPEATED_ENV;
		if (k >= HF_FROM && k <= HF_BCC) { /* again: joined (fill_envelope) */
			struct more_field *m = arena_alloc(b->a, sizeof(*m));
			m->value = f.value;
			m->next = NULL;
			*more_tail[k - HF_FROM] = m;
			more_tail[k - HF_FROM] = &m->next;
		}
	}
	if (r == RFC5322_END) {
		p->body_off = p->hdr_off + base + rp.body_offset;
		if (rp.no_separator)
			p->flags |= MIME_PART_NO_SEPARATOR;
	} else {
		/* A line too odd for rfc5322.h, or a header past its total
		 * limit: the header ends where parsing stopped, at a line
		 * start; the rest is body. */
		p->body_off = p->hdr_off + off;
		p->flags |= MIME_PART_NO_SEPARATOR;
	}
	rfc5322_clear(&rp);
	p->body_end = p->body_off;
	fill_content(b, p, hf, def_message);
	if (is_message)
		fill_envelope(b, p, hf, more);
}

/* Turns p into a text/plain leaf. */
static void degrade(struct builder *b, struct mime_part *p)
{
	p->type = s_text;
	p->subtype = s_plain;
	p->params = NULL;
	p->nparams = 0;
	p->flags |= MIME_PART_TRUNCATED;
	b->tree_flags |= MIME_TREE_LIMITED;
}

static int is_identity_cte(struct str cte)
{
	enum mime_cte c = mime_cte_parse(cte);

	return c == MIME_CTE_7BIT || c == MIME_CTE_8BIT || c == MIME_CTE_BINARY;
}

/*
 * Reads part pi's header and decides what it is; for a message part, goes
 * on into the encapsulated message. Leaves b->cur at the deepest part
 * started and returns where the boundary search goes on.
 */
static size_t start_part(struct builder *b, uint32_t pi, int def_message)
{
	for (;;) {
		struct mime_part *p;
		struct str bd;

		parse_header(b, pi, def_message);
		p = &b->parts[pi];
		b->cur = pi;
		if (str_eq_ci(p->type, STR_LIT("multipart"))) {
			bd = mime_param_get(p->params, p->nparams, "boundary");
			if (bd.p == NULL || bd.len == 0 || bd.len > BOUNDARY_MAX ||
			    p->depth >= MIME_DEPTH_MAX) {
				degrade(b, p);
				return p->body_off;
			}
			p->flags |= MIME_PART_MULTIPART;
			b->stack[b->nstack].part = pi;
			b->stack[b->nstack].boundary = bd;
			b->nstack++;
			return p->body_off;
		}
		if (str_eq_ci(p->type, s_message) &&
		    (str_eq_ci(p->subtype, s_rfc822) || str_eq_ci(p->subtype, STR_LIT("global"))) &&
		    is_identity_cte(p->encoding)) {
			if (p->depth >= MIME_DEPTH_MAX || b->n >= MIME_PARTS_MAX - 1) {
				degrade(b, p);
				return p->body_off;
			}
			p->flags |= MIME_PART_MESSAGE;
			pi = new_part(b, pi, p->body_off);
			def_message = 0;
			continue;
		}
		return p->body_off;
	}
}

/* Ends every open part below ancestor (MIME_NONE: all) at end. */
static void close_to(struct builder *b, uint32_t ancestor, uint64_t end)
{
	uint32_t i = b->cur;

	while (i != ancestor && i != MIME_NONE) {
		struct mime_part *p = &b->parts[i];

		if (end < p->body_off) {
			/* The header ran into the boundary line, without an
			 * empty line or with one whose line end is the one
			 * before the boundary: that line end is the boundary's,
			 * not the header's (RFC 2046 §5.1.1, as in Dovecot). */
			p->body_off = end > p->hdr_off ? end : p->hdr_off;
			p->flags |= MIME_PART_NO_SEPARATOR;
			/* A parent never ends before its child. */
			if (end < p->body_off)
				end = p->body_off;
		}
		p->body_end = end;
		i = p->parent;
	}
	b->cur = ancestor;
}

/* Marks the multiparts on the stack from level lvl up as never closed and
 * pops them. */
static void pop_unclosed(struct builder *b, size_t lvl)
{
	while (b->nstack > lvl) {
		b->nstack--;
		b->parts[b->stack[b->nstack].part].flags |= MIME_PART_NO_END;
	}
}

struct pos_ref {
	uint64_t pos;
	uint32_t part;
	uint32_t which; /* 0 hdr_off, 1 body_off, 2 body_end */
};

static int pos_cmp(const void *x, const void *y)
{
	const struct pos_ref *a = x, *c = y;

	return a->pos < c->pos ? -1 : a->pos > c->pos;
}

/* Fills lines and bare-LF counts with one pass over the message. */
static void count_lines(struct builder *b)
{
	struct pos_ref *refs = xmalloc((size_t)b->n * 3 * sizeof(*refs));
	uint64_t(*cum)[3][2] = xmalloc((size_t)b->n * sizeof(*cum));
	uint64_t lf = 0, bare = 0;
	size_t i, nrefs = 0, at = 0;
	const char *m = b->msg, *nl;

	for (i = 0; i < b->n; i++) {
		refs[nrefs++] = (struct pos_ref){b->parts[i].hdr_off, (uint32_t)i, 0};
		refs[nrefs++] = (struct pos_ref){b->parts[i].body_off, (uint32_t)i, 1};
		refs[nrefs++] = (struct pos_ref){b->parts[i].body_end, (uint32_t)i, 2};
	}
	qsort(refs, nrefs, sizeof(*refs), pos_cmp);
	for (i = 0; i < nrefs; i++) {
		while (at < refs[i].pos && (nl = memchr(m + at, '\n', refs[i].pos - at)) != NULL) {
			size_t k = (size_t)(nl - m);

			lf++;
			if (k == 0 || m[k - 1] != '\r')
				bare++;
			at = k + 1;
		}
		at = refs[i].pos;
		cum[refs[i].part][refs[i].which][0] = lf;
		cum[refs[i].part][refs[i].which][1] = bare;
	}
	for (i = 0; i < b->n; i++) {
		struct mime_part *p = &b->parts[i];

		p->hdr_bare_lf = cum[i][1][1] - cum[i][0][1];
		p->body_bare_lf = cum[i][2][1] - cum[i][1][1];
		if (str_eq_ci(p->type, s_text) || str_eq_ci(p->type, s_message))
			p->lines = cum[i][2][0] - cum[i][1][0];
	}
	free(cum);
	free(refs);
}

void mime_tree_parse(const char *msg, size_t len, struct arena *a, struct mime_tree *t)
{
	struct builder b;
	/* find_boundary sets these whenever it finds one; the zeros only keep
	 * gcc's -Wmaybe-uninitialized quiet at -O1 (build/tern-tsan). */
	size_t scan, at, after = 0, lvl = 0;
	uint64_t end;
	int close = 0;

	memset(&b, 0, sizeof(b));
	b.msg = msg ? msg : "";
	b.len = msg ? len : 0;
	b.a = a;
	b.budget = MIME_BUDGET_MAX;
	new_part(&b, MIME_NONE, 0);
	scan = start_part(&b, 0, 0);

	while (!b.stop) {
		uint32_t mp, c;

		at = find_boundary(&b, scan, &lvl, &close, &after);
		if (at >= b.len)
			break;
		/* The line end before a boundary belongs to the boundary. */
		end = at;
		if (end > 0 && msg[end - 1] == '\n') {
			end--;
			if (end > 0 && msg[end - 1] == '\r')
				end--;
		}
		mp = b.stack[lvl].part;
		close_to(&b, mp, end);
		pop_unclosed(&b, lvl + 1);
		if (close) {
			b.nstack = lvl; /* the epilogue follows */
			scan = after;
			continue;
		}
		if (b.n >= MIME_PARTS_MAX - 1) {
			/* The last part we can afford takes all the rest. */
			c = new_part(&b, mp, after);
			degrade(&b, &b.parts[c]);
			b.cur = c;
			b.stop = 1;
			break;
		}
		c = new_part(&b, mp, after);
		scan = start_part(&b, c, str_eq_ci(b.parts[mp].subtype, STR_LIT("digest")));
	}
	close_to(&b, MIME_NONE, b.len);
	pop_unclosed(&b, 0);
	count_lines(&b);

	t->nparts = b.n;
	t->parts = arena_alloc(a, b.n * sizeof(*t->parts));
	memcpy(t->parts, b.parts, b.n * sizeof(*t->parts));
	t->flags = b.tree_flags | MIME_TREE_HDR_SCANNED | MIME_TREE_END_SCANNED;
	if (b.len && b.msg[b.len - 1] != '\n')
		t->flags |= MIME_TREE_NO_FINAL_LF;
	t->size = b.len;
	/* Once here, at delivery, so a non-UTF-8 IMAP session knows from the
	 * record alone which messages keep their sizes (imap_downgrade.h). */
	for (uint32_t i = 0; i < t->nparts; i++)
		if (mime_header_needs_downgrade(b.msg + t->parts[i].hdr_off,
						(size_t)(t->parts[i].body_off - t->parts[i].hdr_off))) {
			t->flags |= MIME_TREE_HDR_UTF8;
			break;
		}
	free(b.parts);
	free(b.last_child);
}

int mime_part_is(const struct mime_part *p, const char *type, const char *subtype)
{
	return str_eq_ci_c(p->type, type) && (subtype == NULL || str_eq_ci_c(p->subtype, subtype));
}

uint32_t mime_tree_find(const struct mime_tree *t, const uint32_t *nums, size_t n)
{
	uint32_t cur = 0, k;
	size_t i;
	int message = 1; /* cur is a message's top part: the root, or one encapsulated */

	if (t->nparts == 0)
		return MIME_NONE;
	for (i = 0; i < n; i++) {
		const struct mime_part *p = &t->parts[cur];

		if (nums[i] == 0)
			return MIME_NONE;
		if (p->flags & MIME_PART_MULTIPART) {
			if (nums[i] > p->nchildren)
				return MIME_NONE;
			cur = cur + 1;
			for (k = 1; k < nums[i]; k++)
				cur = t->parts[cur].next;
		} else if (nums[i] != 1 || !message) {
			/* The body of a non-multipart message is its only part,
			 * 1; a leaf inside a multipart has no parts (RFC 9051
			 * 6.4.5: "1.1" of a text/plain message names nothing). */
			return MIME_NONE;
		}
		message = 0;
		if (i + 1 < n && (t->parts[cur].flags & MIME_PART_MESSAGE) &&
		    t->parts[cur].nchildren == 1) {
			cur = cur + 1;
			message = 1;
		}
	}
	return cur;
}

/* A message/rfc822 or /global part kept as a leaf (its transfer encoding
 * is not an identity one, or limits were hit). */
static int is_unexpanded_message(const struct mime_part *p)
{
	return !(p->flags & MIME_PART_MESSAGE) && str_eq_ci(p->type, s_message) &&
	       (str_eq_ci(p->subtype, s_rfc822) || str_eq_ci(p->subtype, STR_LIT("global")));
}

int mime_tree_section(const struct mime_tree *t, const uint32_t *nums, size_t n,
                      enum mime_section kind, uint32_t *part_r, uint64_t *off_r, uint64_t *len_r)
{
	uint32_t i;
	const struct mime_part *p;
	uint64_t off, end;

	if (n > 0 && nums[n - 1] == 1 &&
	    (kind == MIME_SECTION_WHOLE || kind == MIME_SECTION_MIME)) {
		/* A multipart without parts, or a message part that is not
		 * expanded (encoded): BODYSTRUCTURE lists one empty text/plain
		 * part inside it (RFC 9051 needs one), so its part 1 and
		 * 1.MIME exist and are empty. */
		uint32_t q = mime_tree_find(t, nums, n - 1);

		if (q != MIME_NONE && ((t->parts[q].flags & MIME_PART_MULTIPART)
		                           ? t->parts[q].nchildren == 0
		                           : q != 0 && is_unexpanded_message(&t->parts[q]))) {
			if (part_r)
				*part_r = q;
			if (off_r)
				*off_r = t->parts[q].body_end;
			if (len_r)
				*len_r = 0;
			return 0;
		}
	}
	i = mime_tree_find(t, nums, n);
	if (i == MIME_NONE || (n == 0 && kind == MIME_SECTION_MIME))
		return MIME_SECTION_NOT_FOUND;
	p = &t->parts[i];
	if (n > 0 && (kind == MIME_SECTION_HEADER || kind == MIME_SECTION_TEXT)) {
		if (!(p->flags & MIME_PART_MESSAGE) || p->nchildren != 1)
			return MIME_SECTION_NOT_MESSAGE;
		i++;
		p = &t->parts[i];
	}
	switch (kind) {
	case MIME_SECTION_WHOLE:
		off = n == 0 ? 0 : p->body_off;
		end = n == 0 ? t->size : p->body_end;
		break;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_MIME:
		off = p->hdr_off;
		end = p->body_off;
		break;
	case MIME_SECTION_TEXT:
		off = p->body_off;
		end = p->body_end;
		break;
	default:
		return MIME_SECTION_NOT_FOUND;
	}
	if (part_r)
		*part_r = i;
	if (off_r)
		*off_r = off;
	if (len_r)
		*len_r = end - off;
	return 0;
}

int mime_tree_section_str(const struct mime_tree *t, struct str spec, enum mime_section kind,
                          uint32_t *part_r, uint64_t *off_r, uint64_t *len_r)
{
	uint32_t nums[MIME_DEPTH_MAX * 2 + 2];
	size_t n = 0, i = 0, s;
	uint64_t v;

	while (i < spec.len) {
		if (n == sizeof(nums) / sizeof(nums[0]))
			return MIME_SECTION_NOT_FOUND;
		s = i;
		while (i < spec.len && spec.p[i] != '.')
			i++;
		if (i - s > 1 && spec.p[s] == '0')
			return MIME_SECTION_NOT_FOUND;
		if (str_to_u64(str_make(spec.p + s, i - s), UINT32_MAX, &v) < 0 || v == 0)
			return MIME_SECTION_NOT_FOUND;
		nums[n++] = (uint32_t)v;
		if (i < spec.len) {
			i++;
			if (i == spec.len)
				return MIME_SECTION_NOT_FOUND; /* trailing dot */
		}
	}
	return mime_tree_section(t, nums, n, kind, part_r, off_r, len_r);
}

int mime_tree_part_number(const struct mime_tree *t, uint32_t i, char *dst, size_t dstsz)
{
	uint32_t path[MIME_DEPTH_MAX + 2], nums[MIME_DEPTH_MAX * 2 + 2];
	size_t np = 0, n = 0, k, len = 0;

	if (i >= t->nparts || dstsz == 0)
		return -1;
	for (; i != 0; i = t->parts[i].parent) {
		if (np == MIME_DEPTH_MAX + 1 || t->parts[i].parent >= i)
			return -1;
		path[np++] = i;
	}
	/* Walk down from the root, numbering as mime_tree_find() reads. */
	for (k = np; k > 0; k--) {
		uint32_t c = path[k - 1], q = t->parts[c].parent, s, num = 1;

		if (t->parts[q].flags & MIME_PART_MULTIPART) {
			for (s = q + 1; s != c && s != MIME_NONE; s = t->parts[s].next)
				num++;
			nums[n++] = num;
		} else {
			if (q == 0)
				nums[n++] = 1; /* a non-multipart message's body */
			if (!(t->parts[c].flags & MIME_PART_MULTIPART))
				nums[n++] = 1;
		}
	}
	for (k = 0; k < n; k++) {
		char tmp[16];
		size_t tl = 0;
		uint32_t v = nums[k];

		do {
			tmp[tl++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		if (len + tl + 2 > dstsz)
			return -1;
		if (k)
			dst[len++] = '.';
		while (tl)
			dst[len++] = tmp[--tl];
	}
	dst[len] = '\0';
	return (int)len;
}

/* Copies a field's lines to out + o, with a line end when the section
 * ended without one (the CRLF before a boundary is the boundary's); the
 * new end offset. */
static uint64_t copy_field(char *out, uint64_t o, const char *p, uint64_t n)
{
	memcpy(out + o, p, n);
	o += n;
	if (n && p[n - 1] != '\n') {
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	return o;
}

static int name_listed(const struct str *names, size_t n, const char *name, size_t len)
{
	for (size_t k = 0; k < n; k++)
		if (str_eq_ci(names[k], str_make(name, len)))
			return 1;
	return 0;
}

char *mime_header_filter(const char *d, uint64_t hlen, const struct str *names, size_t n,
                         int not, uint64_t *len_r)
{
	char *out = xmalloc(hlen + 5);
	uint64_t o = 0, i = 0;
	int blank = 0;

	while (i < hlen) {
		/* One field: its first line and the continuation lines after it. */
		uint64_t start = i;
		do {
			const char *nl = memchr(d + i, '\n', hlen - i);
			i = nl ? (uint64_t)(nl - d) + 1 : hlen;
		} while (i < hlen && (d[i] == ' ' || d[i] == '\t'));
		const char *colon = memchr(d + start, ':', i - start);
		if (!colon) {
			if (d[start] == '\n' || (d[start] == '\r' && i - start == 2)) {
				blank = 1; /* the empty line that ends the header */
			} else if (not) {
				/* A broken line (a header that starts with white
				 * space): no field a .NOT list names, so kept, as
				 * Dovecot keeps it. */
				o = copy_field(out, o, d + start, i - start);
			}
			continue;
		}
		size_t nlen = (size_t)(colon - (d + start));
		while (nlen && (d[start + nlen - 1] == ' ' || d[start + nlen - 1] == '\t'))
			nlen--;
		if (name_listed(names, n, d + start, nlen) != not)
			o = copy_field(out, o, d + start, i - start);
	}
	/* RFC 3501 §6.4.5: "the blank line is included in all header fetches,
	 * except in the case of a message which has no body and no blank
	 * line"; an empty header section is just that line. */
	if (blank || hlen == 0) {
		memcpy(out + o, "\r\n", 2);
		o += 2;
	}
	*len_r = o;
	return out;
}

void mime_tree_keep_root(struct mime_tree *t, const char *msg, size_t len, uint32_t addrs_max)
{
	struct mime_part *p = &t->parts[0];
	uint64_t lines = 0, bare = 0;

	t->nparts = 1;
	t->flags |= MIME_TREE_LIMITED;
	p->nchildren = 0;
	p->next = MIME_NONE;
	p->flags = (uint16_t)((p->flags & ~(MIME_PART_MULTIPART | MIME_PART_MESSAGE)) |
	                      MIME_PART_TRUNCATED);
	p->type = s_text;
	p->subtype = s_plain;
	p->params = NULL;
	p->nparams = 0;
	/* A multipart root had no line count of its own: count the body now. */
	for (uint64_t i = p->body_off; i < p->body_end && i < len; i++) {
		if (msg[i] != '\n')
			continue;
		lines++;
		if (i == 0 || msg[i - 1] != '\r')
			bare++;
	}
	p->lines = lines;
	p->body_bare_lf = bare;
	if (p->env) {
		struct mime_addrs *l[] = { &p->env->from, &p->env->sender, &p->env->reply_to,
			                   &p->env->to,   &p->env->cc,     &p->env->bcc };
		for (size_t k = 0; k < sizeof(l) / sizeof(l[0]); k++)
			if (l[k]->n > addrs_max)
				l[k]->n = addrs_max;
	}
}
