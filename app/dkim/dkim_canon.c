/*
 * dkim_canon.c — canonicalization (RFC 6376 §3.4: relaxed for the signer
 * and the verifier, simple for the verifier) and the splitting of a header
 * section into fields.
 *
 * The body canonicalizer is a small state machine fed any chunks: it holds
 * back what it cannot decide yet — white space (dropped at a line end,
 * one SP before content), line ends (dropped at the end of the body,
 * emitted before content), a CR (a line end when LF follows) — and emits
 * canonical octets into a staging array hashed in blocks. Nothing depends
 * on where the chunks were split, which the unit test checks byte by byte.
 */
#include <string.h>

#include "dkim/dkim.h"

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* What relaxed body canonicalization does not copy as it is. */
static int is_special(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- body ---- */

void dkim_body_init(struct dkim_body *b)
{
	memset(b, 0, sizeof *b);
	b->limit = UINT64_MAX;
	sha256_init(&b->sha);
}

void dkim_body_init_simple(struct dkim_body *b)
{
	dkim_body_init(b);
	b->simple = 1;
}

static void body_flush(struct dkim_body *b)
{
	if (b->olen == 0)
		return;
	sha256_update(&b->sha, b->out, b->olen);
	if (b->tee)
		(void)buf_append(b->tee, b->out, b->olen);
	b->olen = 0;
}

static void body_emit(struct dkim_body *b, const void *p, size_t n)
{
	const unsigned char *s = p;

	/* Past an l= limit octets are counted, not hashed (§3.5 l=). */
	uint64_t room_l = b->length < b->limit ? b->limit - b->length : 0;
	b->length += n;
	if (n > room_l)
		n = (size_t)room_l;
	while (n > 0) {
		size_t room = sizeof b->out - b->olen;
		size_t k = n < room ? n : room;
		memcpy(b->out + b->olen, s, k);
		b->olen += (unsigned)k;
		s += k;
		n -= k;
		if (b->olen == sizeof b->out)
			body_flush(b);
	}
}

/* Content follows: the held-back line ends and white space become real. */
static void body_release(struct dkim_body *b)
{
	for (; b->crlfs > 0; b->crlfs--)
		body_emit(b, "\r\n", 2);
	if (b->wsp) {
		body_emit(b, " ", 1);
		b->wsp = 0;
	}
	b->any = 1;
}

static void body_line_end(struct dkim_body *b)
{
	b->wsp = 0;
	b->crlfs++;
}

void dkim_body_update(struct dkim_body *b, const void *p, size_t n)
{
	const unsigned char *s = p, *end = s + n;

	while (s < end) {
		unsigned char c = *s;

		if (b->cr) {
			b->cr = 0;
			if (c == '\n') {
				body_line_end(b);
				s++;
				continue;
			}
			/* A lone CR is content; c is looked at afresh below. */
			body_release(b);
			body_emit(b, "\r", 1);
		}
		if (c == '\r') {
			b->cr = 1;
			s++;
		} else if (c == '\n') {
			body_line_end(b);
			s++;
		} else if (!b->simple && is_wsp(c)) {
			b->wsp = 1;
			s++;
		} else {
			/* A run of ordinary octets goes out in one piece (white
			 * space is ordinary in simple mode); in relaxed mode a
			 * single SP between two of them is its own canonical form
			 * and stays in the run, so a line of words is one emit,
			 * not one per word. */
			const unsigned char *q = s + 1;
			if (b->simple) {
				while (q < end && *q != '\r' && *q != '\n')
					q++;
			} else {
				while (q < end) {
					if (*q == ' ' && q + 1 < end && !is_special(q[1]))
						q += 2;
					else if (!is_special(*q))
						q++;
					else
						break;
				}
			}
			body_release(b);
			body_emit(b, s, (size_t)(q - s));
			s = q;
		}
	}
}

void dkim_body_final(struct dkim_body *b, uint8_t hash_r[32])
{
	if (b->cr) {
		/* A CR at the very end is a lone CR: content. */
		b->cr = 0;
		body_release(b);
		body_emit(b, "\r", 1);
	}
	/* A non-empty body ends with exactly one CRLF, whether it had one
	 * (held back in crlfs) or not; an empty body hashes nothing in
	 * relaxed mode and one CRLF in simple mode (§3.4.3). */
	if (b->any || b->simple)
		body_emit(b, "\r\n", 2);
	b->crlfs = 0;
	b->wsp = 0;
	body_flush(b);
	sha256_out(&b->sha, hash_r);
}

/* ---- header fields ---- */

/* Length of a line break at p (CRLF or bare LF), else 0. */
static size_t line_break(const char *p, const char *end)
{
	if (p < end && *p == '\n')
		return 1;
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

struct str dkim_field_name(struct str field)
{
	ptrdiff_t colon = str_chr(field, ':');
	size_t n;

	if (colon <= 0)
		return STR_NULL;
	n = (size_t)colon;
	/* RFC 5322 §4.5.3 obsolete syntax allows white space before the
	 * colon; it is not part of the name. */
	while (n > 0 && is_wsp((unsigned char)field.p[n - 1]))
		n--;
	/* ftext (§3.6.8): anything else is not a field we could sign. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)field.p[i] < 33 || (unsigned char)field.p[i] > 126)
			return STR_NULL;
	return n ? str_make(field.p, n) : STR_NULL;
}

int dkim_canon_header(struct str field, struct buf *out)
{
	struct str name = dkim_field_name(field);
	const char *p, *end = field.p + field.len;
	size_t start = buf_len(out);
	int wsp = 0, seen = 0;
	char chunk[256];
	size_t cl = 0;

	if (name.p == NULL)
		return -1;
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.p[i];
		chunk[cl++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		if (cl == sizeof chunk) {
			if (buf_append(out, chunk, cl) != 0)
				goto full;
			cl = 0;
		}
	}
	chunk[cl++] = ':';

	/* The value: line breaks vanish (unfolding), white space runs become
	 * one SP between content, nothing at either end. */
	for (p = field.p + (size_t)str_chr(field, ':') + 1; p < end;) {
		size_t lb = line_break(p, end);
		if (lb) {
			p += lb;
			continue;
		}
		unsigned char c = (unsigned char)*p++;
		if (is_wsp(c)) {
			wsp = 1;
			continue;
		}
		if (cl + 2 > sizeof chunk) {
			if (buf_append(out, chunk, cl) != 0)
				goto full;
			cl = 0;
		}
		if (wsp && seen)
			chunk[cl++] = ' ';
		wsp = 0;
		seen = 1;
		chunk[cl++] = (char)c;
	}
	if (buf_append(out, chunk, cl) != 0 || buf_append(out, "\r\n", 2) != 0)
		goto full;
	return 0;
full:
	/* Leave out as it was: a half field must never be hashed. */
	if (buf_len(out) > start)
		out->len = start;
	return -1;
}

int dkim_canon_header_simple(struct str field, struct buf *out)
{
	const char *p = field.p, *end = field.p + field.len;
	size_t start = buf_len(out);

	/* Octets as they are; only a bare LF (stored mail) becomes the CRLF
	 * it was on the wire. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		if (buf_append(out, p, (size_t)(stop - p)) != 0)
			goto full;
		if (nl == NULL)
			break;
		if ((nl == field.p || nl[-1] != '\r') && buf_append(out, "\r", 1) != 0)
			goto full;
		if (buf_append(out, "\n", 1) != 0)
			goto full;
		p = nl + 1;
	}
	if (buf_append(out, "\r\n", 2) != 0)
		goto full;
	return 0;
full:
	out->len = start;
	return -1;
}

int dkim_header_next(struct str section, size_t *pos, struct str *field_r)
{
	const char *p = section.p + *pos, *end = section.p + section.len;
	const char *start = p, *last_end;

	if (*pos >= section.len)
		return 0;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			/* The last line has no line end. */
			*field_r = str_make(start, (size_t)(end - start));
			*pos = section.len;
			return 1;
		}
		last_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		p = nl + 1;
		if (p == end || !is_wsp((unsigned char)*p)) {
			*field_r = str_make(start, (size_t)(last_end - start));
			*pos = (size_t)(p - section.p);
			return 1;
		}
	}
}

/* ---- the header section of a streaming message ---- */

void dkim_head_init(struct dkim_head *h)
{
	memset(h, 0, sizeof *h);
	buf_init(&h->buf, DKIM_HEADER_MAX);
}

void dkim_head_free(struct dkim_head *h)
{
	buf_free(&h->buf);
}

static void head_append(struct dkim_head *h, const void *p, size_t n)
{
	if (!h->toobig && buf_append(&h->buf, p, n) != 0)
		h->toobig = 1;
}

size_t dkim_head_feed(struct dkim_head *h, const void *data, size_t n)
{
	const char *p = data, *c = p, *end = p + n;

	if (h->done)
		return 0;
	while (c < end) {
		if (h->hl == 0 || h->hl == 1) {
			if (*c == '\n') {
				/* The empty line: the body starts after it. */
				h->done = 1;
				return (size_t)(c + 1 - p);
			}
			if (h->hl == 0 && *c == '\r') {
				h->hl = 1;
				c++;
				continue;
			}
			if (h->hl == 1)
				head_append(h, "\r", 1); /* a CR that was not a line end */
			h->hl = 2;
		}
		const char *nl = memchr(c, '\n', (size_t)(end - c));
		size_t m = nl ? (size_t)(nl - c) + 1 : (size_t)(end - c);
		head_append(h, c, m);
		c += m;
		if (nl)
			h->hl = 0;
	}
	return n;
}

void dkim_head_finish(struct dkim_head *h)
{
	if (!h->done && h->hl == 1) {
		head_append(h, "\r", 1);
		h->hl = 2;
	}
}
