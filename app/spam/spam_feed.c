/*
 * spam_feed.c — the local lists' common part (spam_feed.h): the parsed
 * feed, the stored record and its status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "spam/spam_feed.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define REC_HDR 18 /* magic, n, loaded_at, source length */

void spam_feed_add(struct spam_feed *f, uint64_t h)
{
	if (f->n >= SPAM_FEED_ENTRIES_MAX) {
		f->dropped++;
		return;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 1024;
		f->h = xrealloc(f->h, f->cap * sizeof *f->h);
	}
	f->h[f->n++] = h;
}

void spam_feed_done(struct spam_feed *f)
{
	spam_sort_hashes(f->h, f->n);
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++)
		if (k == 0 || f->h[k - 1] != f->h[i])
			f->h[k++] = f->h[i];
	f->n = k;
}

void spam_feed_free(struct spam_feed *f)
{
	free(f->h);
	memset(f, 0, sizeof *f);
}

int spam_feed_rec_read(struct str r, struct spam_feed_rec *out)
{
	const unsigned char *p = (const unsigned char *)r.p;
	if (r.p == NULL || r.len < REC_HDR || memcmp(p, "TSP1", 4) != 0)
		return -1;
	out->n = spam_le32(p + 4);
	out->loaded_at = (int64_t)spam_le64(p + 8);
	size_t slen = (size_t)p[16] | (size_t)p[17] << 8;
	if (r.len - REC_HDR < slen || (r.len - REC_HDR - slen) / 8 != out->n ||
	    (r.len - REC_HDR - slen) % 8)
		return -1;
	out->source = str_make(r.p + REC_HDR, slen);
	out->ent = p + REC_HDR + slen;
	return 0;
}

int spam_feed_rec_has(const struct spam_feed_rec *r, uint64_t h)
{
	return spam_rec_find(r->ent, r->n, 8, h) != NULL;
}

int spam_feed_encode(const struct spam_feed *f, const char *source, int64_t now, struct buf *out)
{
	unsigned char h[REC_HDR];
	size_t slen = strlen(source);
	if (slen > SPAM_FEED_SOURCE_MAX - 1)
		slen = SPAM_FEED_SOURCE_MAX - 1;
	memcpy(h, "TSP1", 4);
	spam_put32(h + 4, (uint32_t)f->n);
	spam_put64(h + 8, (uint64_t)now);
	h[16] = (unsigned char)slen;
	h[17] = (unsigned char)(slen >> 8);
	if (buf_append(out, h, sizeof h) < 0 || buf_append(out, source, slen) < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		unsigned char e[8];
		spam_put64(e, f->h[i]);
		if (buf_append(out, e, 8) < 0)
			return -1;
	}
	return 0;
}

struct put_ctx {
	const struct spam_feed *f;
	const char *source;
	int64_t now;
};

static int put_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	struct put_ctx *c = arg;
	(void)old;
	(void)oldlen;
	if (c->f->n == 0)
		return 0; /* an empty buffer: the list is removed */
	return spam_feed_encode(c->f, c->source, c->now, out);
}

int spam_feed_store(struct store *st, const struct spam_feed_kind *k, const struct spam_feed *f,
		    const char *source)
{
	struct put_ctx c = {f, source ? source : "", (int64_t)time(NULL)};
	int rc = store_spam_update(st, 0, k->store_kind, put_fn, &c);
	return rc < 0 ? rc : rc > 0 ? STORE_ETEMP : STORE_OK;
}

static void status_cb(void *arg, const struct str *recs)
{
	struct spam_feed_status *s = arg;
	struct spam_feed_rec r;
	if (spam_feed_rec_read(recs[0], &r) < 0)
		return;
	s->entries = r.n;
	s->loaded_at = r.loaded_at;
	size_t k = r.source.len < sizeof s->source ? r.source.len : sizeof s->source - 1;
	memcpy(s->source, r.source.p, k);
	s->source[k] = '\0';
}

int spam_feed_status(struct store *st, const struct spam_feed_kind *k, struct spam_feed_status *s)
{
	uint32_t zero = 0;
	memset(s, 0, sizeof *s);
	return store_spam_get(st, &zero, 1, k->store_kind, status_cb, s);
}

struct check_ctx {
	const struct spam_feed_kind *k;
	const struct spam_msg *m;
	struct spam_result *res;
};

static void check_cb(void *arg, const struct str *recs)
{
	struct check_ctx *c = arg;
	struct spam_feed_rec r;
	char desc[SPAM_RULE_DESC_MAX];
	if (spam_feed_rec_read(recs[0], &r) == 0 && r.n && c->k->match(&r, c->m, desc, sizeof desc))
		spam_result_add_desc(c->res, c->k->rule, c->k->weight, desc);
}

int spam_feed_check(struct store *st, const struct spam_feed_kind *k, const struct spam_msg *m,
		    struct spam_result *res)
{
	uint32_t zero = 0;
	struct check_ctx c = {k, m, res};
	if (!k->wanted(m))
		return STORE_OK;
	return store_spam_get(st, &zero, 1, k->store_kind, check_cb, &c);
}
