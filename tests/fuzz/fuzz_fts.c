/*
 * fuzz_fts.c — the full-text index's one promise (search/fts.h): a needle
 * found in a text is never ruled out by the text's terms. The first two
 * octets place needles (an offset, a length, and whether their ends snap
 * to word edges, give or take an octet, where plans change kind); the
 * rest is the text, folded as mime_search folds what it compares. For
 * each needle, every condition fts_plan() makes must be met by a term
 * fts_terms() cuts from the text; a miss would skip a message IMAP
 * SEARCH BODY/TEXT matches. Also: terms are 2..32 word octets, plans at
 * most FTS_PLAN_MAX conditions of 2..32 (infix 2..16) octets of the
 * needle. Then the same input, unfolded, as a message: a needle that
 * mime_search_header() (TEXT) or mime_search_body() finds in it is inside
 * a string mime_search_each_text() visits (what the indexer cuts terms
 * from), and the terms of that string meet its plan.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "search/fts.h"

struct terms {
	const char **p;
	size_t *n, count, cap;
};

static void term_cb(void *arg, const char *p, size_t n)
{
	struct terms *t = arg;
	assert(n >= FTS_TERM_MIN && n <= FTS_TERM_MAX);
	for (size_t i = 0; i < n; i++)
		assert(fts_word_octet((unsigned char)p[i]));
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->p = realloc(t->p, t->cap * sizeof(*t->p));
		t->n = realloc(t->n, t->cap * sizeof(*t->n));
		assert(t->p && t->n);
	}
	t->p[t->count] = p;
	t->n[t->count++] = n;
}

/* The first word edge at or after i (len when none). */
static size_t edge_from(const char *s, size_t len, size_t i)
{
	for (; i < len; i++)
		if (i == 0 ||
		    fts_word_octet((unsigned char)s[i]) != fts_word_octet((unsigned char)s[i - 1]))
			return i;
	return len;
}

/* Checks needle against t; 1 when no condition is unmet (aborts else). */
static void check(const struct terms *t, const char *needle, size_t nl)
{
	struct fts_cond c[FTS_PLAN_MAX];
	size_t nc = fts_plan((struct str){ needle, nl }, c);
	assert(nc <= FTS_PLAN_MAX);
	for (size_t i = 0; i < nc; i++) {
		size_t max = c[i].how == FTS_INFIX ? FTS_TERM_STRIDE : FTS_TERM_MAX;
		assert(c[i].w.len >= FTS_TERM_MIN && c[i].w.len <= max);
		assert(c[i].w.p >= needle && c[i].w.p + c[i].w.len <= needle + nl);
		int met = 0;
		for (size_t k = 0; k < t->count && !met; k++)
			met = fts_cond_term(&c[i], t->p[k], t->n[k]);
		if (!met)
			abort(); /* the index would rule out a message that matches */
	}
}

struct visited {
	struct str s[512];
	size_t n;
};

static void visit_cb(void *arg, struct str folded)
{
	struct visited *v = arg;
	if (v->n < 512) {
		char *p = malloc(folded.len + 1);
		memcpy(p, folded.p, folded.len);
		v->s[v->n++] = (struct str){ p, folded.len };
	}
}

/* The message msg[0..len): a needle the search finds (at most one per
 * selector) must be in a visited string, whose terms meet its plan. */
static void message(const char *msg, size_t len, const char *needle, size_t nl)
{
	struct arena *a = arena_new(0);
	struct mime_tree tr;
	struct mime_search sm;
	struct visited v = { .n = 0 };

	mime_tree_parse(msg, len, a, &tr);
	mime_search_init(&sm, msg, len, &tr);
	mime_search_each_text(&sm, visit_cb, &v);
	struct str nd = { needle, nl };
	if (v.n < 512 && (mime_search_header(&sm, STR_NULL, nd) || mime_search_body(&sm, nd))) {
		size_t i = 0;
		while (i < v.n && !memmem(v.s[i].p, v.s[i].len, needle, nl))
			i++;
		if (i == v.n)
			abort(); /* found by the search, never shown to the indexer */
		struct terms t = { 0 };
		fts_terms(v.s[i].p, v.s[i].len, term_cb, &t);
		check(&t, needle, nl);
		free(t.p);
		free(t.n);
	}
	for (size_t i = 0; i < v.n; i++)
		free((void *)v.s[i].p);
	mime_search_clear(&sm);
	arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint8_t a = data[0], b = data[1];
	size_t len = size - 2;
	char *s = malloc(MIME_SEARCH_FOLD_ROOM(len));
	memcpy(s, data + 2, len);
	len = mime_search_fold(s, len);

	struct terms t = { 0 };
	assert(fts_terms(s, len, term_cb, &t) == t.count);

	/* A few needles from the two selector octets: b's low bits the
	 * length (times 5 with 0x20, for long words), 0x40 snaps the start
	 * to a word edge, 0x80 the end, each then moved back an octet
	 * or two (a's low bits). */
	for (size_t j = 0; j < 4; j++) {
		size_t off = ((size_t)a * len / 256 + j * 97) % len;
		size_t k = (size_t)(b & 0x1f) + 1 + j;
		if (b & 0x20)
			k *= 5;
		if (b & 0x40) {
			off = edge_from(s, len, off);
			size_t back = (a + j) & 3;
			off = off > back ? off - back : 0;
			if (off >= len)
				off = len - 1;
		}
		size_t end = off + k < len ? off + k : len;
		if (b & 0x80) {
			end = edge_from(s, len, end);
			size_t fwd = ((a >> 2) + j) % 3;
			end = end + fwd < len ? end + fwd : len;
			end = end > off ? end : off + 1;
		}
		check(&t, s + off, end - off);
	}
	/* And the whole text as its own needle. */
	check(&t, s, len);

	/* The input as a message (its own length: the folded one may
	 * differ); a folded piece of it as the needle (kept short: a longer
	 * one is rarely found). */
	size_t off = (size_t)a * len / 256, k = (size_t)(b & 0x1f) + 2;
	message((const char *)data + 2, size - 2, s + off, off + k < len ? k : len - off);

	free(t.p);
	free(t.n);
	free(s);
	return 0;
}
