/*
 * imap_downgrade.c — a message's header sections downgraded for an IMAP
 * session without UTF-8. See imap_downgrade.h.
 */
#include "imap/imap_downgrade.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "mime/mime_header_downgrade.h"

static uint64_t lfs(const char *p, size_t n)
{
	uint64_t k = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		k++;
	return k;
}

/* Adds the downgrade of d[off, off+n) to g when it changes anything. */
static void replace(struct imap_dg *g, const char *d, uint64_t off, uint64_t n)
{
	if (!mime_header_needs_downgrade(d + off, (size_t)n))
		return;
	struct buf b;
	buf_init(&b, MIME_HEADER_DOWNGRADE_MAX(n));
	if (mime_header_downgrade(d + off, (size_t)n, &b) < 0) {
		buf_free(&b); /* cannot happen: the ceiling is above any result */
		return;
	}
	struct imap_dg_rep *r = &g->reps[g->n++];
	r->off = off;
	r->len = n;
	r->text_len = buf_len(&b);
	r->lf_delta = (int64_t)lfs(buf_data(&b), buf_len(&b)) - (int64_t)lfs(d + off, (size_t)n);
	r->text = xmalloc(buf_len(&b) + 1);
	memcpy(r->text, buf_data(&b), buf_len(&b));
	buf_free(&b);
}

void imap_dg_build(struct imap_dg *g, const char *d, size_t len, uint64_t hend,
		   const struct mime_tree *t)
{
	size_t max = 1 + (t ? t->nparts : 0);
	*g = (struct imap_dg){ .reps = xcalloc(max, sizeof(*g->reps)) };
	replace(g, d, 0, hend);
	/* Pre-order is ascending hdr_off; the root's header is done above. */
	for (uint32_t i = 1; t && i < t->nparts; i++) {
		const struct mime_part *p = &t->parts[i];
		if (p->hdr_off >= hend && p->body_off > p->hdr_off && p->body_off <= len)
			replace(g, d, p->hdr_off, p->body_off - p->hdr_off);
	}
	int64_t shift = 0;
	for (size_t i = 0; i < g->n; i++) {
		g->reps[i].voff = (uint64_t)((int64_t)g->reps[i].off + shift);
		shift += (int64_t)g->reps[i].text_len - (int64_t)g->reps[i].len;
	}
	g->size = (uint64_t)((int64_t)len + shift);
	if (!g->n) {
		free(g->reps);
		g->reps = NULL;
	}
}

void imap_dg_free(struct imap_dg *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->reps[i].text);
	free(g->reps);
	*g = (struct imap_dg){ 0 };
}

/* The last replaced range starting at or before off (stored offsets), or
 * -1. */
static long last_at(const struct imap_dg *g, uint64_t off, int virtual)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((virtual ? g->reps[mid].voff : g->reps[mid].off) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

uint64_t imap_dg_map(const struct imap_dg *g, uint64_t off)
{
	long i = last_at(g, off, 0);
	if (i < 0)
		return off;
	const struct imap_dg_rep *r = &g->reps[i];
	if (off == r->off)
		return r->voff; /* a section starting where the header does */
	/* At or past its end (nothing starts inside a header section). */
	return r->voff + r->text_len + (off - r->off - r->len);
}

uint64_t imap_dg_at(const struct imap_dg *g, uint64_t pos, const char **text_r, uint64_t *src_r)
{
	long i = last_at(g, pos, 1);
	*text_r = NULL;
	if (i >= 0 && pos < g->reps[i].voff + g->reps[i].text_len) {
		*text_r = g->reps[i].text + (pos - g->reps[i].voff);
		return g->reps[i].voff + g->reps[i].text_len - pos;
	}
	/* Stored octets, up to the next replaced range or the end. */
	*src_r = i < 0 ? pos
		       : g->reps[i].off + g->reps[i].len +
				 (pos - g->reps[i].voff - g->reps[i].text_len);
	uint64_t end = (size_t)(i + 1) < g->n ? g->reps[i + 1].voff : g->size;
	return end - pos;
}

struct mime_tree *imap_dg_tree(const struct imap_dg *g, const struct mime_tree *t,
			       struct arena *a)
{
	struct mime_tree *c = arena_alloc(a, sizeof(*c));
	*c = *t;
	c->parts = arena_alloc(a, t->nparts * sizeof(*c->parts));
	memcpy(c->parts, t->parts, t->nparts * sizeof(*c->parts));
	c->size = g->size;
	for (uint32_t i = 0; i < t->nparts; i++) {
		struct mime_part *p = &c->parts[i];
		if (p->flags & MIME_PART_MESSAGE) {
			/* Its body is a message: its headers' new lines count. */
			size_t k = p->body_off ? (size_t)(last_at(g, p->body_off - 1, 0) + 1) : 0;
			for (; k < g->n && g->reps[k].off + g->reps[k].len <= p->body_end; k++)
				p->lines = (uint64_t)((int64_t)p->lines + g->reps[k].lf_delta);
		}
		p->hdr_off = imap_dg_map(g, p->hdr_off);
		p->body_off = imap_dg_map(g, p->body_off);
		p->body_end = imap_dg_map(g, p->body_end);
	}
	return c;
}

const char *imap_dg_section(const struct imap_dg *g, const char *d, uint64_t off, uint64_t *len)
{
	long i = last_at(g, off, 0);
	if (i >= 0 && g->reps[i].off == off && g->reps[i].len == *len) {
		*len = g->reps[i].text_len;
		return g->reps[i].text;
	}
	return d + off;
}
