/*
 * test_fts.c — the full-text index (search/fts.h, store_fts.c).
 *
 * The index may only ever rule out messages that cannot match: a BODY or
 * TEXT search that skips a message the exact test would have found gives
 * a wrong answer nobody notices. So most of this file is about that one
 * promise, from the bottom up:
 *   - fts_terms() cuts text exactly as fts.h says (words, one-octet words
 *     dropped, windows of long words), checked octet for octet;
 *   - fts_plan() classifies a needle's words as fts.h says (exact, prefix,
 *     infix; cut to what a term can answer; capped);
 *   - soundness, by a seeded random property: every condition of a
 *     needle cut from a text is met by some term of that text, needles
 *     anywhere and needles straddling word edges;
 *   - the store: todo lists, postings written and read back by the three
 *     kinds of condition, conditions ANDed, too-many-terms emails ORed in,
 *     the expect check, chunked posting lists, drop and account deletion;
 *   - mime_search_each_text() visits every string a TEXT or BODY search
 *     compares with: what the search finds is inside a visited string;
 *   - the indexer's tick takes what an account holds when its turn comes
 *     and leaves mail that arrives meanwhile for the next tick, a backlog
 *     past one batch excepted.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/xalloc.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "search/fts.h"
#include "search/fts_indexer.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

/* ---- terms ---- */

/* Terms gathered from one fts_terms() call: offsets into the text. */
struct terms {
	const char *base;
	size_t n, cap;
	size_t *off, *len;
};

static void terms_cb(void *arg, const char *p, size_t n)
{
	struct terms *t = arg;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->off = xrealloc(t->off, t->cap * sizeof(*t->off));
		t->len = xrealloc(t->len, t->cap * sizeof(*t->len));
	}
	t->off[t->n] = (size_t)(p - t->base);
	t->len[t->n++] = n;
}

static void terms_get(struct terms *t, const char *s, size_t len)
{
	t->base = s;
	t->n = 0;
	size_t calls = fts_terms(s, len, terms_cb, t);
	CHECK_EQ_INT(calls, t->n); /* the return value counts the calls */
}

static void terms_free(struct terms *t)
{
	free(t->off);
	free(t->len);
	memset(t, 0, sizeof *t);
}

/* The terms of s joined with '|', as a C string in out. */
static const char *terms_joined(const char *s, size_t len, char *out, size_t cap)
{
	struct terms t = { 0 };
	size_t o = 0;
	terms_get(&t, s, len);
	out[0] = '\0';
	for (size_t i = 0; i < t.n && o + t.len[i] + 2 < cap; i++) {
		if (i)
			out[o++] = '|';
		memcpy(out + o, s + t.off[i], t.len[i]);
		o += t.len[i];
		out[o] = '\0';
	}
	terms_free(&t);
	return out;
}

static void test_terms(void)
{
	char out[1024];

	/* Split on ASCII non-alphanumerics ('_' and NUL included); octets
	 * of multi-octet characters are word octets; one-octet words go. */
	CHECK_EQ_STR(terms_joined("Hello, w\xc3\xb6rld! a b2 x-y", 24, out, sizeof out),
		     "Hello|w\xc3\xb6rld|b2");
	CHECK_EQ_STR(terms_joined("foo_bar\0baz", 11, out, sizeof out), "foo|bar|baz");
	CHECK_EQ_STR(terms_joined("\xe6\x97\xa5\xe6\x9c\xac \xc3\xa9 \x80", 12, out, sizeof out),
		     "\xe6\x97\xa5\xe6\x9c\xac|\xc3\xa9");
	CHECK_EQ_STR(terms_joined("", 0, out, sizeof out), "");
	CHECK_EQ_STR(terms_joined(" .-@\t\r\n", 7, out, sizeof out), "");
	CHECK_EQ_STR(terms_joined("a b c 1 2", 9, out, sizeof out), "");
	CHECK_EQ_STR(terms_joined("ab", 2, out, sizeof out), "ab");
	/* Repeats are kept: de-duplicating is the indexer's business. */
	CHECK_EQ_STR(terms_joined("ab ab", 5, out, sizeof out), "ab|ab");

	/* Words of 2..32 octets are one term each. */
	char w[128];
	for (size_t i = 0; i < sizeof w; i++)
		w[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	for (size_t n = 2; n <= FTS_TERM_MAX; n++) {
		struct terms t = { 0 };
		terms_get(&t, w, n);
		CHECK(t.n == 1 && t.off[0] == 0 && t.len[0] == n);
		terms_free(&t);
	}
	/* Longer: windows of 32 every 16, the last one ending the word. */
	for (size_t n = FTS_TERM_MAX + 1; n <= 100; n++) {
		char text[130];
		struct terms t = { 0 };
		text[0] = ' ';
		memcpy(text + 1, w, n);
		text[n + 1] = '.';
		terms_get(&t, text, n + 2);
		size_t want[16], k = 0;
		for (size_t s = 0; s + FTS_TERM_MAX < n; s += FTS_TERM_STRIDE)
			want[k++] = 1 + s;
		want[k++] = 1 + n - FTS_TERM_MAX;
		int ok = t.n == k;
		for (size_t i = 0; ok && i < k; i++)
			ok = t.off[i] == want[i] && t.len[i] == FTS_TERM_MAX;
		if (!ok)
			fprintf(stderr, "word of %zu octets: %zu windows\n", n, t.n);
		CHECK(ok);
		terms_free(&t);
	}
	/* Spot checks of the formula itself. */
	{
		struct terms t = { 0 };
		terms_get(&t, w, 33);
		CHECK(t.n == 2 && t.off[0] == 0 && t.off[1] == 1);
		terms_get(&t, w, 48);
		CHECK(t.n == 2 && t.off[0] == 0 && t.off[1] == 16);
		terms_get(&t, w, 49);
		CHECK(t.n == 3 && t.off[1] == 16 && t.off[2] == 17);
		terms_get(&t, w, 100);
		CHECK(t.n == 6 && t.off[4] == 64 && t.off[5] == 68);
		terms_free(&t);
	}
}

/* ---- plans ---- */

static size_t plan(const char *needle, struct fts_cond c[FTS_PLAN_MAX])
{
	return fts_plan(str_c(needle), c);
}

static int cond_is(const struct fts_cond *c, enum fts_how how, const char *w)
{
	return c->how == how && c->w.len == strlen(w) && memcmp(c->w.p, w, c->w.len) == 0;
}

static void test_plan(void)
{
	struct fts_cond c[FTS_PLAN_MAX];

	CHECK_EQ_INT(plan("foo", c), 1);
	CHECK(cond_is(&c[0], FTS_INFIX, "foo"));
	CHECK_EQ_INT(plan(" foo", c), 1);
	CHECK(cond_is(&c[0], FTS_PREFIX, "foo"));
	/* No separator before: the needle may start inside a word. */
	CHECK_EQ_INT(plan("foo ", c), 1);
	CHECK(cond_is(&c[0], FTS_INFIX, "foo"));
	CHECK_EQ_INT(plan(" foo ", c), 1);
	CHECK(cond_is(&c[0], FTS_EXACT, "foo"));
	CHECK_EQ_INT(plan("ab cd-ef", c), 3);
	CHECK(cond_is(&c[0], FTS_INFIX, "ab") && cond_is(&c[1], FTS_EXACT, "cd") &&
	      cond_is(&c[2], FTS_PREFIX, "ef"));
	/* The conditions point into the needle. */
	const char *nd = "xx yy";
	CHECK_EQ_INT(fts_plan(str_c(nd), c), 2);
	CHECK(c[0].w.p == nd && c[1].w.p == nd + 3);

	/* Nothing a term can answer: no condition, nothing is ruled out. */
	CHECK_EQ_INT(plan("", c), 0);
	CHECK_EQ_INT(plan("a b-c", c), 0);
	CHECK_EQ_INT(plan(" -- ", c), 0);
	CHECK_EQ_INT(plan("x", c), 0);
	CHECK_EQ_INT(plan(" . @ ", c), 0);
	/* One-octet words are left out, the others kept. */
	CHECK_EQ_INT(plan("a bc d", c), 1);
	CHECK(cond_is(&c[0], FTS_EXACT, "bc"));

	/* At most FTS_PLAN_MAX conditions, the first ones. */
	CHECK_EQ_INT(plan("w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 wa wb", c), FTS_PLAN_MAX);
	CHECK(cond_is(&c[0], FTS_INFIX, "w0") && cond_is(&c[1], FTS_EXACT, "w1") &&
	      cond_is(&c[FTS_PLAN_MAX - 1], FTS_EXACT, "w7"));
	CHECK_EQ_INT(plan("w0 w1 w2 w3 w4 w5 w6 w7", c), FTS_PLAN_MAX);
	CHECK(cond_is(&c[FTS_PLAN_MAX - 1], FTS_PREFIX, "w7"));

	/* Long words: a whole word or a prefix to 32 octets (the first
	 * window), an infix to 16 (whole in some window). */
	const char *l40 = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";
	char b[64];
	CHECK_EQ_INT(plan(l40, c), 1);
	CHECK(cond_is(&c[0], FTS_INFIX, "abcdefghijklmnop"));
	snprintf(b, sizeof b, " %s", l40);
	CHECK_EQ_INT(plan(b, c), 1);
	CHECK(cond_is(&c[0], FTS_PREFIX, "abcdefghijklmnopqrstuvwxyz012345"));
	snprintf(b, sizeof b, " %s ", l40);
	CHECK_EQ_INT(plan(b, c), 1);
	CHECK(cond_is(&c[0], FTS_EXACT, "abcdefghijklmnopqrstuvwxyz012345"));
	snprintf(b, sizeof b, "%s ", l40);
	CHECK_EQ_INT(plan(b, c), 1);
	CHECK(cond_is(&c[0], FTS_INFIX, "abcdefghijklmnop"));
	/* Exactly 32 and 16 are not cut. */
	CHECK_EQ_INT(plan(" abcdefghijklmnopqrstuvwxyz012345 ", c), 1);
	CHECK(cond_is(&c[0], FTS_EXACT, "abcdefghijklmnopqrstuvwxyz012345"));
	CHECK_EQ_INT(plan("abcdefghijklmnopq", c), 1);
	CHECK(cond_is(&c[0], FTS_INFIX, "abcdefghijklmnop"));

	/* fts_cond_term, each kind. */
	struct fts_cond e = { FTS_EXACT, STR_LIT("foo") }, p = { FTS_PREFIX, STR_LIT("foo") },
			i = { FTS_INFIX, STR_LIT("foo") };
	CHECK(fts_cond_term(&e, "foo", 3) && !fts_cond_term(&e, "food", 4) &&
	      !fts_cond_term(&e, "fo", 2));
	CHECK(fts_cond_term(&p, "foo", 3) && fts_cond_term(&p, "food", 4) &&
	      !fts_cond_term(&p, "afoo", 4) && !fts_cond_term(&p, "fo", 2));
	CHECK(fts_cond_term(&i, "foo", 3) && fts_cond_term(&i, "afoob", 5) &&
	      fts_cond_term(&i, "xxfoo", 5) && !fts_cond_term(&i, "fxoo", 4));
}

/* ---- soundness, at random ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* Pieces texts are made of: letters (some capital, folded later),
 * digits, separators, and UTF-8 of two to four octets. */
static const char *const pieces[] = {
	"a", "b", "e", "s", "x", "Z", "Q", "0", "7", " ", " ", "-", ".", "\n", "\t", "@", "_",
	"\x01", "\xc3\xa9", "\xc3\x89", "\xce\xa3", "\xcf\x82", "\xd0\x96", "\xe6\x97\xa5",
	"\xe2\x80\x94", "\xf0\x9f\x98\x80", "\xd4\xb1",
};

static size_t make_text(char *out, size_t cap)
{
	size_t n = 0, want = 1 + below(cap / 2);
	while (n < want) {
		if (below(12) == 0) { /* a long word, to cross window edges */
			size_t k = 20 + below(90);
			for (size_t i = 0; i < k && n + 4 < cap; i++)
				out[n++] = (char)("abcdefghijklmnopqrstuvwxyz"[below(26)]);
			continue;
		}
		const char *p = pieces[below(sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(p);
		if (n + k > cap)
			break;
		memcpy(out + n, p, k);
		n += k;
	}
	/* the key fits in cap: the prefix whose key does */
	size_t k = 0, m = 0;
	while (k < n) {
		size_t l, f = unorm_casemap_char_len(out + k, n - k, &l);
		if (m + f > cap)
			break;
		k += l;
		m += f;
	}
	return mime_search_fold(out, k);
}

/* 1 when every condition of needle is met by a term of text; reports the
 * first one that is not. */
static int sound(const char *text, size_t len, const char *needle, size_t nl)
{
	struct fts_cond c[FTS_PLAN_MAX];
	struct terms t = { 0 };
	size_t nc = fts_plan(str_make(needle, nl), c);
	int ok = 1;

	terms_get(&t, text, len);
	for (size_t i = 0; i < nc && ok; i++) {
		int met = 0;
		for (size_t k = 0; k < t.n && !met; k++)
			met = fts_cond_term(&c[i], text + t.off[k], t.len[k]);
		if (!met) {
			fprintf(stderr, "condition %zu (how %d, \"%.*s\") unmet for needle \"%.*s\"\n",
				i, (int)c[i].how, (int)c[i].w.len, c[i].w.p, (int)nl, needle);
			ok = 0;
		}
	}
	terms_free(&t);
	return ok;
}

static void test_soundness(void)
{
	char text[600];
	int bad = 0;

	for (int round = 0; round < 4000 && bad < 5; round++) {
		size_t len = make_text(text, sizeof text);
		/* Anywhere. */
		size_t a = below(len), b = a + 1 + below(len - a);
		bad += !sound(text, len, text + a, b - a);
		/* Straddling a word edge: from one or two octets before or
		 * after an edge, to one or two octets around another. */
		size_t edges[600], ne = 0;
		for (size_t i = 0; i <= len; i++) {
			int in = i < len && fts_word_octet((unsigned char)text[i]);
			int prev = i > 0 && fts_word_octet((unsigned char)text[i - 1]);
			if (in != prev)
				edges[ne++] = i;
		}
		if (ne == 0)
			continue;
		for (int k = 0; k < 4; k++) {
			size_t e0 = edges[below(ne)], e1 = edges[below(ne)];
			if (e1 < e0) {
				size_t x = e0;
				e0 = e1;
				e1 = x;
			}
			ptrdiff_t s = (ptrdiff_t)e0 + (ptrdiff_t)below(5) - 2,
				  e = (ptrdiff_t)e1 + (ptrdiff_t)below(5) - 2;
			if (s < 0)
				s = 0;
			if (e > (ptrdiff_t)len)
				e = (ptrdiff_t)len;
			if (e > s)
				bad += !sound(text, len, text + s, (size_t)(e - s));
		}
	}
	CHECK_EQ_INT(bad, 0);

	/* A few by hand at the window edges of a 70-octet word. */
	char w[80];
	w[0] = ' ';
	for (size_t i = 1; i <= 70; i++)
		w[i] = (char)('a' + (i * 7) % 26);
	w[71] = ' ';
	for (size_t s = 0; s < 72; s++)
		for (size_t e = s + 1; e <= 72; e++)
			CHECK(sound(w, 72, w + s, e - s));
}

/* ---- the store ---- */

/* The ids whose bits are set, up to through, as "1,3,5". */
static const char *bits_list(const uint64_t *bits, uint32_t through, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (uint32_t id = 0; bits && id <= through && o + 12 < cap; id++)
		if (bits[id >> 6] >> (id & 63) & 1)
			o += (size_t)snprintf(out + o, cap - o, "%s%u", o ? "," : "", id);
	return out;
}

/* The candidates of conditions c[0..n) as bits_list says, "-" when the
 * index narrows nothing; also checks no bit past through is set. */
static const char *cands(struct store *st, uint32_t acc, const struct fts_cond *c, size_t n,
			 char *out, size_t cap)
{
	uint64_t *bits = NULL;
	uint32_t through = 0;
	CHECK_EQ_INT(store_fts_candidates(st, acc, c, n, &bits, &through), STORE_OK);
	if (!bits) {
		snprintf(out, cap, "-");
		return out;
	}
	for (uint32_t id = through + 1; id < ((through >> 6) + 1) * 64; id++)
		CHECK(!(bits[id >> 6] >> (id & 63) & 1));
	bits_list(bits, through, out, cap);
	free(bits);
	return out;
}

static int post_cmp(const void *x, const void *y)
{
	const struct store_fts_post *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->term, b->term, n);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Records of DB (fts or fts_term) whose key starts with the account. */
static size_t records(struct store *st, int db, uint32_t acc, size_t *max_val_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t pfx[4];
	size_t n = 0;

	if (max_val_r)
		*max_val_r = 0;
	be32_put(pfx, acc);
	if (store_rd_begin(st, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, st->db[db], &cur) == 0) {
		k = (MDB_val){ 4, pfx };
		int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, pfx, 4) == 0) {
			n++;
			if (max_val_r && v.mv_size > *max_val_r)
				*max_val_r = v.mv_size;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return n;
}

static void test_store_todo(struct store *st, uint32_t acc)
{
	uint32_t ids[16], upto;
	size_t n;

	CHECK_EQ_INT(store_fts_todo(st, acc, 0, ids, 16, &n, &upto), STORE_OK);
	CHECK(n == 6 && ids[0] == 1 && ids[5] == 6 && upto == 6);
	CHECK_EQ_INT(store_fts_todo(st, acc, 4, ids, 16, &n, &upto), STORE_OK);
	CHECK(n == 2 && ids[0] == 5 && ids[1] == 6 && upto == 6);
	/* A full list: the index may only claim what it listed. */
	CHECK_EQ_INT(store_fts_todo(st, acc, 1, ids, 2, &n, &upto), STORE_OK);
	CHECK(n == 2 && ids[0] == 2 && ids[1] == 3 && upto == 3);
	CHECK_EQ_INT(store_fts_todo(st, acc, 6, ids, 16, &n, &upto), STORE_OK);
	CHECK(n == 0 && upto == 6);
	CHECK_EQ_INT(store_fts_todo(st, acc, UINT32_MAX, ids, 16, &n, &upto), STORE_OK);
	CHECK(n == 0 && upto == UINT32_MAX);
	CHECK_EQ_INT(store_fts_todo(st, acc + 100, 0, ids, 16, &n, &upto), STORE_ENOTFOUND);
}

/* Rewrites the account's index state with version byte 1. */
static int state_to_v1(struct store *st, MDB_txn *txn, void *ctx)
{
	uint8_t kb[5];
	be32_put(kb, *(const uint32_t *)ctx);
	kb[4] = 0;
	MDB_val k = { 5, kb }, v;
	int rc = mdb_get(txn, st->db[DB_FTS], &k, &v);
	if (rc)
		return rc;
	uint8_t val[9];
	memcpy(val, v.mv_data, 9);
	val[0] = 1;
	v = (MDB_val){ 9, val };
	return mdb_put(txn, st->db[DB_FTS], &k, &v, 0);
}

static void test_store_postings(struct store *st, uint32_t acc)
{
	char out[256];
	uint32_t through, docs;
	/* Emails 1..5 indexed (6 not yet): 5 had too many terms. */
	struct store_fts_post v[] = {
		{ "hello", 5, 1 }, { "hello", 5, 3 }, { "help", 4, 2 },   { "world", 5, 1 },
		{ "world", 5, 2 }, { "xyzzy", 5, 4 }, { "\x01", 1, 5 },   { "shell", 5, 4 },
		{ "helloworld", 10, 3 },
	};
	size_t nv = sizeof(v) / sizeof(v[0]);
	qsort(v, nv, sizeof(v[0]), post_cmp);

	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 0 && docs == 0);
	/* Nothing indexed: the index says nothing. */
	struct fts_cond c1 = { FTS_EXACT, STR_LIT("hello") };
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "-");

	CHECK_EQ_INT(store_fts_apply(st, acc, 3, 5, 5, v, nv), STORE_EEXIST);
	CHECK_EQ_INT(store_fts_apply(st, acc + 100, 0, 5, 5, v, nv), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 0 && docs == 0);
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 5, 5, v, nv), STORE_OK);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 5 && docs == 5);
	/* Applied again with the old expect: refused, nothing changes. */
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 5, 5, v, nv), STORE_EEXIST);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 5 && docs == 5);

	/* 5 (too many terms) is a candidate of everything narrowed. */
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "1,3,5");
	struct fts_cond p = { FTS_PREFIX, STR_LIT("hel") };
	CHECK_EQ_STR(cands(st, acc, &p, 1, out, sizeof out), "1,2,3,5");
	struct fts_cond p2 = { FTS_PREFIX, STR_LIT("hello") };
	CHECK_EQ_STR(cands(st, acc, &p2, 1, out, sizeof out), "1,3,5");
	struct fts_cond i1 = { FTS_INFIX, STR_LIT("ell") };
	CHECK_EQ_STR(cands(st, acc, &i1, 1, out, sizeof out), "1,3,4,5");
	struct fts_cond i2 = { FTS_INFIX, STR_LIT("owo") };
	CHECK_EQ_STR(cands(st, acc, &i2, 1, out, sizeof out), "3,5");
	struct fts_cond none = { FTS_EXACT, STR_LIT("nope") };
	CHECK_EQ_STR(cands(st, acc, &none, 1, out, sizeof out), "5");
	struct fts_cond e2 = { FTS_EXACT, STR_LIT("hell") };
	CHECK_EQ_STR(cands(st, acc, &e2, 1, out, sizeof out), "5");
	/* Conditions are ANDed. */
	struct fts_cond both[] = { { FTS_EXACT, STR_LIT("hello") },
				   { FTS_PREFIX, STR_LIT("wor") } };
	CHECK_EQ_STR(cands(st, acc, both, 2, out, sizeof out), "1,5");
	struct fts_cond both2[] = { { FTS_INFIX, STR_LIT("el") }, { FTS_INFIX, STR_LIT("yz") } };
	CHECK_EQ_STR(cands(st, acc, both2, 2, out, sizeof out), "4,5");
	/* The "\x01" mark is not a term of the dictionary. */
	CHECK_EQ_INT(records(st, DB_FTS_TERM, acc, NULL), 6);
	/* No conditions: nothing narrowed. */
	CHECK_EQ_STR(cands(st, acc, &c1, 0, out, sizeof out), "-");

	/* Email 6 arrives in the index in a second batch; before that, ids
	 * above through are never claimed (bits stop at through). */
	struct store_fts_post v2[] = { { "hello", 5, 6 } };
	CHECK_EQ_INT(store_fts_apply(st, acc, 5, 6, 1, v2, 1), STORE_OK);
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "1,3,5,6");
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 6 && docs == 6);
	/* A posting above through (no caller does that) is not claimed. */
	struct store_fts_post v3[] = { { "hello", 5, 9 } };
	CHECK_EQ_INT(store_fts_apply(st, acc, 6, 7, 1, v3, 1), STORE_OK);
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "1,3,5,6");
	CHECK_EQ_STR(cands(st, acc, &none, 1, out, sizeof out), "5");

	/* Dropped: nothing indexed, every record gone. */
	CHECK_EQ_INT(store_fts_drop(st, acc), STORE_OK);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 0 && docs == 0);
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "-");
	CHECK_EQ_INT(records(st, DB_FTS, acc, NULL), 0);
	CHECK_EQ_INT(records(st, DB_FTS_TERM, acc, NULL), 0);
	/* An apply that expected the old state is refused after a drop. */
	CHECK_EQ_INT(store_fts_apply(st, acc, 7, 8, 1, v2, 1), STORE_EEXIST);
	/* Built again from nothing. */
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 5, 5, v, nv), STORE_OK);
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "1,3,5");

	/* A state of version 1, written under the fold before core/ufold.h:
	 * its terms may miss what a needle folds to now, so nothing counts as
	 * indexed (every email is read), docs is past any count (the indexer
	 * drops it) and an apply on it is refused. */
	CHECK_EQ_INT(store_write_grouped(st, state_to_v1, &acc), 0);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 0 && docs == UINT32_MAX);
	CHECK_EQ_STR(cands(st, acc, &c1, 1, out, sizeof out), "-");
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 5, 5, v, nv), STORE_EEXIST);
	CHECK_EQ_INT(store_fts_drop(st, acc), STORE_OK);
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 5, 5, v, nv), STORE_OK);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 5 && docs == 5);
}

/* Many ids on few terms, over several applies: chunks fill and split, and
 * every id is read back. */
static void test_store_chunks(struct store *st, uint32_t acc)
{
	enum { N = 5000, PER = 700 };
	uint32_t *ids = xmalloc(N * sizeof(*ids)), id = 0, expect = 0;
	struct store_fts_post *v = xmalloc(2 * PER * sizeof(*v));

	for (size_t i = 0; i < N; i++) {
		/* Gaps of one octet and of two as varints, mixed. */
		id += 1 + (uint32_t)((i * 7919) % 300);
		ids[i] = id;
	}
	for (size_t i = 0; i < N; i += PER) {
		size_t n = 0, end = i + PER < N ? i + PER : N;
		for (size_t k = i; k < end; k++)
			v[n++] = (struct store_fts_post){ "many", 4, ids[k] };
		/* Every third id also under "manx", in the same apply. */
		for (size_t k = i; k < end; k++)
			if (k % 3 == 0)
				v[n++] = (struct store_fts_post){ "manx", 4, ids[k] };
		qsort(v, n, sizeof(*v), post_cmp);
		CHECK_EQ_INT(store_fts_apply(st, acc, expect, ids[end - 1], (uint32_t)(end - i), v, n),
			     STORE_OK);
		expect = ids[end - 1];
	}
	size_t maxv = 0, recs = records(st, DB_FTS, acc, &maxv);
	CHECK(recs > 6); /* the state, and several chunks per term */
	CHECK(maxv <= 1024);

	struct fts_cond c = { FTS_EXACT, STR_LIT("many") };
	uint64_t *bits = NULL;
	uint32_t through = 0;
	CHECK_EQ_INT(store_fts_candidates(st, acc, &c, 1, &bits, &through), STORE_OK);
	CHECK(bits != NULL && through == ids[N - 1]);
	if (bits) {
		size_t set = 0, wrong = 0, k = 0;
		for (uint32_t x = 0; x <= through; x++) {
			int on = bits[x >> 6] >> (x & 63) & 1;
			int want = k < N && ids[k] == x;
			k += want;
			set += on;
			wrong += on != want;
		}
		CHECK_EQ_INT(set, N);
		CHECK_EQ_INT(wrong, 0);
		free(bits);
	}
	struct fts_cond cx = { FTS_PREFIX, STR_LIT("manx") };
	CHECK_EQ_INT(store_fts_candidates(st, acc, &cx, 1, &bits, &through), STORE_OK);
	if (bits) {
		size_t wrong = 0;
		for (size_t i = 0; i < N; i++)
			wrong += (int)(bits[ids[i] >> 6] >> (ids[i] & 63) & 1) != (i % 3 == 0);
		CHECK_EQ_INT(wrong, 0);
		free(bits);
	}
	/* Both: "man" as infix meets both terms, the union. */
	struct fts_cond ci = { FTS_INFIX, STR_LIT("an") };
	CHECK_EQ_INT(store_fts_candidates(st, acc, &ci, 1, &bits, &through), STORE_OK);
	if (bits) {
		size_t wrong = 0;
		for (size_t i = 0; i < N; i++)
			wrong += !(bits[ids[i] >> 6] >> (ids[i] & 63) & 1);
		CHECK_EQ_INT(wrong, 0);
		free(bits);
	}
	free(v);
	free(ids);
}

/* A condition more than 200000 terms meet narrows nothing (reading
 * them all would cost more than the search it spares); with a narrow
 * one beside it, the narrow one still counts. */
static void test_store_wide(struct store *st, uint32_t acc)
{
	enum { N = 200001 };
	char *words = xmalloc((size_t)N * 8);
	struct store_fts_post *v = xmalloc((N + 1) * sizeof(*v));
	char out[64];

	for (size_t i = 0; i < N; i++) {
		snprintf(words + i * 8, 8, "w%06zu", i);
		v[i] = (struct store_fts_post){ words + i * 8, 7, 1 + (uint32_t)(i % 3) };
	}
	v[N] = (struct store_fts_post){ "rare", 4, 2 };
	qsort(v, N + 1, sizeof(*v), post_cmp);
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 3, 3, v, N + 1), STORE_OK);
	struct fts_cond wide = { FTS_PREFIX, STR_LIT("w") }, inf = { FTS_INFIX, STR_LIT("00") },
			narrow = { FTS_PREFIX, STR_LIT("w00000") }, rare = { FTS_EXACT, STR_LIT("rare") };
	CHECK_EQ_STR(cands(st, acc, &wide, 1, out, sizeof out), "-");
	CHECK_EQ_STR(cands(st, acc, &inf, 1, out, sizeof out), "1,2,3");
	CHECK_EQ_STR(cands(st, acc, &narrow, 1, out, sizeof out), "1,2,3");
	struct fts_cond two[] = { wide, rare };
	CHECK_EQ_STR(cands(st, acc, two, 2, out, sizeof out), "2");
	free(v);
	free(words);
}

/* Sets the version octet of the account's index state (the record
 * "u32 account, 0x00"); -1 when there is none. */
struct set_version {
	uint32_t acc;
	uint8_t v;
};

static int set_version_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct set_version *sv = ctx;
	uint8_t kb[5], val[64];
	be32_put(kb, sv->acc);
	kb[4] = 0;
	MDB_val k = { 5, kb }, v;
	int rc = mdb_get(txn, st->db[DB_FTS], &k, &v);
	if (rc || v.mv_size > sizeof val)
		return -1;
	memcpy(val, v.mv_data, v.mv_size);
	val[0] = sv->v;
	v.mv_data = val;
	return mdb_put(txn, st->db[DB_FTS], &k, &v, 0);
}

static int state_version(struct store *st, uint32_t acc)
{
	MDB_txn *txn;
	uint8_t kb[5];
	be32_put(kb, acc);
	kb[4] = 0;
	MDB_val k = { 5, kb }, v;
	int ver = -1;
	if (store_rd_begin(st, &txn) != 0)
		return -1;
	if (mdb_get(txn, st->db[DB_FTS], &k, &v) == 0 && v.mv_size)
		ver = ((const uint8_t *)v.mv_data)[0];
	store_rd_end(st, txn);
	return ver;
}

/*
 * An index an older tern made from HTML markup (state version 1) would
 * rule out a message whose "<b>Hel</b>lo" search now finds as "Hello":
 * it reads as nothing indexed (every message read), takes no postings,
 * and says so to the indexer (docs UINT32_MAX), which drops it; made
 * again, it is version 4. So is one of version 2, made before text was
 * put in NFC (a decomposed "é" in it is in no term a search plans now),
 * and one of version 3, folded before i;unicode-casemap ("E" + U+0301
 * where it held "é", "2" where it held "²").
 */
static void test_store_stale(struct store *st, uint32_t acc)
{
	char out[64];
	uint32_t t, d;
	struct fts_cond kept = { FTS_EXACT, STR_LIT("kept") };
	CHECK_EQ_INT(state_version(st, acc), 4);
	struct set_version sv = { acc, 3 }; /* NFC and case folded: stale */
	CHECK_EQ_INT(store_write(st, set_version_fn, &sv), 0);
	CHECK_EQ_INT(store_fts_state(st, acc, &t, &d), STORE_OK);
	CHECK(t == 0 && d == UINT32_MAX);
	sv.v = 4;
	CHECK_EQ_INT(store_write(st, set_version_fn, &sv), 0);
	CHECK(strcmp(cands(st, acc, &kept, 1, out, sizeof out), "-") != 0);
	sv.v = 2;
	CHECK_EQ_INT(store_write(st, set_version_fn, &sv), 0);
	CHECK_EQ_INT(store_fts_state(st, acc, &t, &d), STORE_OK);
	CHECK(t == 0 && d == UINT32_MAX);
	CHECK_EQ_STR(cands(st, acc, &kept, 1, out, sizeof out), "-");
	sv.v = 1;
	CHECK_EQ_INT(store_write(st, set_version_fn, &sv), 0);
	CHECK_EQ_INT(store_fts_state(st, acc, &t, &d), STORE_OK);
	CHECK(t == 0 && d == UINT32_MAX);
	CHECK_EQ_STR(cands(st, acc, &kept, 1, out, sizeof out), "-");
	struct store_fts_post p = { "kept", 4, 1 };
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 1, 1, &p, 1), STORE_EEXIST);
	CHECK_EQ_INT(store_fts_drop(st, acc), STORE_OK);
	CHECK_EQ_INT(store_fts_state(st, acc, &t, &d), STORE_OK);
	CHECK(t == 0 && d == 0);
	CHECK_EQ_INT(store_fts_apply(st, acc, 0, 1, 1, &p, 1), STORE_OK);
	CHECK_EQ_INT(state_version(st, acc), 4);
	CHECK_EQ_STR(cands(st, acc, &kept, 1, out, sizeof out), "1");
	/* An unknown version is refused, not read. */
	sv.v = 9;
	CHECK_EQ_INT(store_write(st, set_version_fn, &sv), 0);
	CHECK_EQ_INT(store_fts_state(st, acc, &t, &d), STORE_ETEMP);
}

static void test_store(void)
{
	char base[256], dir[300], err[256], out[64];
	uint32_t acc = 0, acc2 = 0, acc3 = 0;

	if (unit_env_begin(base, sizeof base, "fts") < 0) {
		CHECK(0);
		return;
	}
	snprintf(dir, sizeof dir, "%s/d", base);
	struct store *st = unit_store_with_account(dir, 0, "f@example.test", &acc);
	if (!st) {
		unit_rmrf(base);
		return;
	}
	CHECK_EQ_INT(store_account_add(st, "g@example.test", "pw", 0, &acc2, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "h@example.test", "pw", 0, &acc3, err, sizeof err),
		     STORE_OK);
	for (int i = 0; i < 6; i++) {
		char m[128];
		snprintf(m, sizeof m, "Subject: m%d\r\n\r\nbody %d\r\n", i, i);
		unit_deliver(st, acc, m, 1700000000 + i, NULL);
	}
	test_store_todo(st, acc);
	test_store_postings(st, acc);
	test_store_chunks(st, acc2);
	test_store_wide(st, acc3);

	/* Under the floor kept for deletions and new mail the index waits:
	 * STORE_EFULL, nothing written, the state as it was. */
	uint32_t t0, d0, t1, d1;
	CHECK_EQ_INT(store_fts_state(st, acc, &t0, &d0), STORE_OK);
	CHECK_EQ_INT(store_reserve_set(st, 300000), STORE_OK);
	store_test_set_disk_free(200000);
	struct store_fts_post full = { "roomless", 8, t0 + 1 };
	CHECK_EQ_INT(store_fts_apply(st, acc, t0, t0 + 1, 1, &full, 1), STORE_EFULL);
	store_test_set_disk_free(UINT64_MAX);
	CHECK_EQ_INT(store_fts_state(st, acc, &t1, &d1), STORE_OK);
	CHECK(t1 == t0 && d1 == d0);
	struct fts_cond roomless = { FTS_EXACT, STR_LIT("roomless") };
	/* Only email 5, marked as having too many terms, may hold it. */
	CHECK_EQ_STR(cands(st, acc, &roomless, 1, out, sizeof out), "5");
	/* With the disk's room, but the reserve file given back (a commit
	 * met a full disk), it waits as well: the reserve is for deletions. */
	CHECK(store_reserve_give_back(st));
	CHECK_EQ_INT(store_fts_apply(st, acc, t0, t0 + 1, 1, &full, 1), STORE_EFULL);
	CHECK_EQ_INT(store_fts_state(st, acc, &t1, &d1), STORE_OK);
	CHECK(t1 == t0 && d1 == d0);
	CHECK_EQ_INT(store_reserve_set(st, 0), STORE_OK);

	/* The other account's index is its own. */
	struct fts_cond c = { FTS_EXACT, STR_LIT("many") };
	CHECK_EQ_STR(cands(st, acc, &c, 1, out, sizeof out), "5");

	/* Deleting an account deletes its index. */
	CHECK(records(st, DB_FTS, acc2, NULL) > 0);
	CHECK_EQ_INT(store_account_del(st, "g@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(records(st, DB_FTS, acc2, NULL), 0);
	CHECK_EQ_INT(records(st, DB_FTS_TERM, acc2, NULL), 0);
	uint32_t through = 1, docs = 1;
	CHECK_EQ_INT(store_fts_state(st, acc2, &through, &docs), STORE_OK);
	CHECK(through == 0 && docs == 0);
	CHECK_EQ_STR(cands(st, acc2, &c, 1, out, sizeof out), "-");
	/* The other account's is untouched. */
	struct fts_cond h = { FTS_EXACT, STR_LIT("hello") };
	CHECK_EQ_STR(cands(st, acc, &h, 1, out, sizeof out), "1,3,5");
	CHECK_EQ_INT(store_account_del(st, "f@example.test", err, sizeof err), STORE_OK);
	CHECK_EQ_INT(records(st, DB_FTS, acc, NULL), 0);
	CHECK_EQ_INT(records(st, DB_FTS_TERM, acc, NULL), 0);
	CHECK_EQ_STR(cands(st, acc, &h, 1, out, sizeof out), "-");

	/* A reserve file that could not be made at all (a file system
	 * without fallocate; here a directory in its place) holds nothing
	 * back: the index is written. */
	char rdir[400];
	snprintf(rdir, sizeof rdir, "%s/reserve", dir);
	CHECK(mkdir(rdir, 0700) == 0);
	CHECK_EQ_INT(store_reserve_set(st, 300000), STORE_EFULL);
	CHECK_EQ_INT(store_fts_state(st, acc3, &t0, &d0), STORE_OK);
	struct store_fts_post kept = { "kept", 4, t0 + 1 };
	CHECK_EQ_INT(store_fts_apply(st, acc3, t0, t0 + 1, 1, &kept, 1), STORE_OK);
	CHECK_EQ_INT(store_fts_state(st, acc3, &t1, &d1), STORE_OK);
	CHECK(t1 == t0 + 1 && d1 == d0 + 1);
	CHECK_EQ_INT(store_reserve_set(st, 0), STORE_OK);
	rmdir(rdir);
	test_store_stale(st, acc3);

	store_close(&st);
	unit_rmrf(base);
}

/* ---- what mime_search_each_text visits ---- */

struct visited {
	char *s[256];
	size_t len[256], n;
};

static void visit_cb(void *arg, struct str folded)
{
	struct visited *v = arg;
	if (v->n < 256) {
		v->s[v->n] = xmalloc(folded.len + 1);
		memcpy(v->s[v->n], folded.p, folded.len);
		v->s[v->n][folded.len] = '\0';
		v->len[v->n++] = folded.len;
	}
}

static int visited_has(const struct visited *v, const char *needle, size_t n)
{
	for (size_t i = 0; i < v->n; i++)
		if (n == 0 || memmem(v->s[i], v->len[i], needle, n))
			return 1;
	return 0;
}

static const char *const mails[] = {
	/* multipart/alternative: plain and HTML */
	"From: Ann Example <ann@example.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: Quarterly Report\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"xyz\"\r\n"
	"\r\n"
	"--xyz\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"\r\n"
	"Plain words: Revenue grew by 12%.\r\n"
	"--xyz\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"\r\n"
	"<p>HTML <b>bold</b> revenue&nbsp;grew</p>\r\n"
	"--xyz--\r\n",
	/* quoted-printable Latin-1 and an encoded-word Subject */
	"From: =?iso-8859-1?Q?Andr=E9?= <andre@example.test>\r\n"
	"Subject: =?UTF-8?B?Q2Fmw6kgbWVudSDQn9GA0LjQstC10YI=?=\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Cr=E8me br=FBl=E9e and SOUPE =C0 l'oignon, tr=E8s =\r\n"
	"bonne.\r\n",
	/* message/rfc822 inside multipart/mixed */
	"From: carol@example.test\r\n"
	"Subject: Fwd: minutes\r\n"
	"Content-Type: multipart/mixed; boundary=b1\r\n"
	"\r\n"
	"--b1\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"See the forwarded note.\r\n"
	"--b1\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: dave@example.test\r\n"
	"Subject: Meeting Minutes\r\n"
	"X-Inner: inner-header-value\r\n"
	"\r\n"
	"Inner body text, ACTION items.\r\n"
	"--b1\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"c2VjcmV0IGJpbmFyeQ==\r\n"
	"--b1--\r\n",
	/* folded header and a base64 UTF-8 body in Greek */
	"Subject: a long\r\n subject, folded\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"zpPOtc65zrEgz4POsc+CIM6azp/Oo86czrU=\r\n",
};

/* What each mail's visited strings must hold, once folded. */
static const char *const must[][4] = {
	{ "subject: quarterly report", "plain words: revenue grew", "html bold revenue grew", "to: bob@" },
	{ "subject: caf\xc3\xa9 menu \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
	  "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65", "soupe \xc3\xa0 l'oignon, tr\xc3\xa8s bonne",
	  "from: andr\xc3\xa9 <" },
	{ "subject: fwd: minutes", "subject: meeting minutes", "x-inner: inner-header-value",
	  "inner body text, action items" },
	{ "subject: a long subject, folded",
	  "\xce\xb3\xce\xb5\xce\xb9\xce\xb1 \xcf\x83\xce\xb1\xcf\x83", "content-type: text/plain",
	  "\xce\xba\xce\xbf\xcf\x83\xce\xbc\xce\xb5" },
};

/* Needles given by hand (folded below): in headers, bodies, across. */
static const char *const needles[] = {
	"Quarterly", "report", "REVENUE grew", "12%", "<b>", "bold", "ann@example", "Ann Example",
	"\xc3\x89", "andr\xc3\xa9", "caf\xc3\xa9 menu", "\xd0\x9f\xd1\x80\xd0\xb8", "br\xc3\xbbl",
	"tr\xc3\xa8s bonne", "SOUPE \xc3\x80", "forwarded", "Meeting", "inner-header", "ACTION",
	"octet-stream", "binary", "boundary", "mime-version: 1.0", "subject: a long subject",
	"\xce\xa3\xce\xb1\xcf\x82", "\xce\x9a\xce\x9f\xce\xa3\xce\x9c\xce\x95", "xyz", "b1", "=E8",
	"secret", "andre@example.test", "dave@", "Folded", "zz not there",
};

/* Checks that a needle the search finds is inside a visited string, and
 * that the index keeps the message for it; returns 1 when found. */
static int check_needle(struct mime_search *sm, const struct visited *v, const char *raw, size_t n)
{
	char f[MIME_SEARCH_FOLD_ROOM(256)];
	if (n >= 256)
		n = 255;
	memcpy(f, raw, n);
	n = mime_search_fold(f, n);
	struct str nd = str_make(f, n);
	int hit = mime_search_header(sm, STR_NULL, nd) || mime_search_body(sm, nd);
	if (!hit)
		return 0;
	int in = visited_has(v, f, n);
	if (!in)
		fprintf(stderr, "found but not visited: \"%.*s\"\n", (int)n, f);
	CHECK(in);
	/* And the terms of some visited string meet the needle's plan. */
	int ok = 0;
	for (size_t i = 0; i < v->n && !ok; i++)
		if (memmem(v->s[i], v->len[i], f, n))
			ok = sound(v->s[i], v->len[i], f, n);
	CHECK(ok);
	return 1;
}

static void test_each_text(void)
{
	for (size_t m = 0; m < sizeof(mails) / sizeof(mails[0]); m++) {
		struct arena *a = arena_new(0);
		struct mime_tree t;
		struct mime_search sm;
		struct visited v = { .n = 0 };
		const char *msg = mails[m];
		size_t len = strlen(msg);

		mime_tree_parse(msg, len, a, &t);
		mime_search_init(&sm, msg, len, &t);
		mime_search_each_text(&sm, visit_cb, &v);
		for (size_t k = 0; k < 4; k++) {
			char mf[MIME_SEARCH_FOLD_ROOM(128)];
			size_t ml = strlen(must[m][k]);
			memcpy(mf, must[m][k], ml);
			int in = visited_has(&v, mf, mime_search_fold(mf, ml));
			if (!in)
				fprintf(stderr, "mail %zu: \"%s\" not visited\n", m, must[m][k]);
			CHECK(in);
		}
		/* The body is the last string visited. */
		CHECK(v.n > 1 && v.len[v.n - 1] == buf_len(&sm.body) &&
		      memcmp(v.s[v.n - 1], buf_data(&sm.body), v.len[v.n - 1]) == 0);

		size_t hits = 0;
		for (size_t k = 0; k < sizeof(needles) / sizeof(needles[0]); k++)
			hits += (size_t)check_needle(&sm, &v, needles[k], strlen(needles[k]));
		if (hits < 4)
			fprintf(stderr, "mail %zu: %zu hand needles found\n", m, hits);
		CHECK(hits >= 4);
		/* Every piece of the raw message of 2 to 8 octets. */
		for (size_t o = 0; o < len; o++)
			for (size_t n = 2; n <= 8 && o + n <= len; n++)
				check_needle(&sm, &v, msg + o, n);
		/* Every piece of each visited string, searched for again. */
		for (size_t i = 0; i < v.n; i++)
			for (size_t o = 0; o < v.len[i]; o += 3)
				CHECK(check_needle(&sm, &v, v.s[i] + o,
						   v.len[i] - o < 24 ? v.len[i] - o : 24) ||
				      i + 1 < v.n);

		mime_search_clear(&sm);
		for (size_t i = 0; i < v.n; i++)
			free(v.s[i]);
		arena_free(&a);
	}
}

/* ---- the same promise on real mail ---- */

#define CORPUS "../shared/corpora/spam/train"

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every step-th file of dir (sorted), up to max, into files. */
static size_t corpus_pick(const char *dir, size_t step, char **files, size_t max)
{
	DIR *d = opendir(dir);
	char *names[4096];
	size_t n = 0, k = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < 4096)
		if (e->d_name[0] != '.') {
			names[n] = xmalloc(strlen(dir) + strlen(e->d_name) + 2);
			sprintf(names[n++], "%s/%s", dir, e->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i % step == 0 && k < max)
			files[k++] = names[i];
		else
			free(names[i]);
	}
	return k;
}

/*
 * Messages of the labelled corpus (ham and spam; plain, HTML, multipart,
 * Latin-1, base64): every piece the search finds, of the message as
 * written and of the text it searches, is in a string the index was
 * given, and the terms of that string meet the piece's plan. So the
 * index and reading every message give the same answers on real mail,
 * HTML reduced to text included (tests/proto/test_imap_fts.py checks it
 * end to end through IMAP and JMAP).
 */
static void test_each_text_corpus(void)
{
	static const char *const dirs[] = { "ham/easy-ham-1", "ham/hard-ham-1", "spam/spam-1",
					    "spam/spam-2" };
	char *files[64];
	size_t nf = 0, html = 0;
	for (size_t i = 0; i < 4; i++) {
		char dir[256];
		snprintf(dir, sizeof dir, "%s/%s", CORPUS, dirs[i]);
		nf += corpus_pick(dir, 37, files + nf, 16);
	}
	CHECK(nf >= 40);
	for (size_t f = 0; f < nf; f++) {
		FILE *fp = fopen(files[f], "rb");
		char *msg = xmalloc(1u << 20);
		size_t len = fp ? fread(msg, 1, (1u << 20) - 1, fp) : 0;
		if (fp)
			fclose(fp);
		msg[len] = '\0';
		html += memmem(msg, len, "text/html", 9) != NULL;
		struct arena *a = arena_new(0);
		struct mime_tree t;
		struct mime_search sm;
		struct visited v = { .n = 0 };
		mime_tree_parse(msg, len, a, &t);
		mime_search_init(&sm, msg, len, &t);
		mime_search_each_text(&sm, visit_cb, &v);
		CHECK(v.n > 1 && v.n < 256);
		size_t found = 0, tried = 0;
		/* Pieces of the message as written. */
		for (size_t o = 0; o + 12 < len; o += len / 40 + 1)
			for (size_t n = 3; n <= 12; n += 9, tried++)
				found += (size_t)check_needle(&sm, &v, msg + o, n);
		/* Pieces of each visited string: always found. */
		for (size_t i = 0; i < v.n; i++)
			for (size_t o = 0; o < v.len[i]; o += v.len[i] / 8 + 1)
				CHECK(check_needle(&sm, &v, v.s[i] + o,
						   v.len[i] - o < 20 ? v.len[i] - o : 20) ||
				      i + 1 < v.n);
		CHECK(tried == 0 || found > 0);
		mime_search_clear(&sm);
		for (size_t i = 0; i < v.n; i++)
			free(v.s[i]);
		arena_free(&a);
		free(msg);
		free(files[f]);
	}
	CHECK(html >= 5);
}

/* ---- the indexer's tick ---- */

struct arrivals {
	struct store *st;
	uint32_t acc;
	int batches, left; /* left: messages still to deliver, one a batch */
};

/* After each batch written: one more message arrives, as under a steady
 * stream of deliveries. */
static void arrive(void *arg)
{
	struct arrivals *a = arg;
	a->batches++;
	if (a->left > 0) {
		char m[128];
		snprintf(m, sizeof m, "Subject: late %d\r\n\r\nlate body %d\r\n", a->left, a->left);
		unit_deliver(a->st, a->acc, m, 1700001000 + a->left, NULL);
		a->left--;
	}
}

static void test_indexer_tick(void)
{
	char base[256], dir[300];
	uint32_t acc = 0, through, docs;

	if (unit_env_begin(base, sizeof base, "ftstick") < 0) {
		CHECK(0);
		return;
	}
	snprintf(dir, sizeof dir, "%s/d", base);
	struct store *st = unit_store_with_account(dir, 0, "t@example.test", &acc);
	if (!st) {
		unit_rmrf(base);
		return;
	}
	for (int i = 0; i < 3; i++) {
		char m[128];
		snprintf(m, sizeof m, "Subject: early %d\r\n\r\nearly body %d\r\n", i, i);
		unit_deliver(st, acc, m, 1700000000 + i, NULL);
	}
	/* A message arrives during every batch: the tick takes the three
	 * that were there, one batch, and sleeps (0); it used to index each
	 * newcomer in a batch of its own, ACCOUNT_TURN of them, and go on. */
	struct arrivals a = { st, acc, 0, 20 };
	CHECK_EQ_INT(fts_indexer_test_pass(st, arrive, &a), 0);
	CHECK_EQ_INT(a.batches, 1);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 3 && docs == 3);
	/* The next tick takes the newcomer. */
	a.left = 0;
	CHECK_EQ_INT(fts_indexer_test_pass(st, arrive, &a), 0);
	CHECK_EQ_INT(a.batches, 2);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 4 && docs == 4);

	/* A backlog longer than a batch goes on at once, batch after batch,
	 * without waiting for a tick. */
	for (int i = 0; i < FTS_INDEX_BATCH + 5; i++) {
		char m[128];
		snprintf(m, sizeof m, "Subject: bulk %d\r\n\r\nbulk body %d\r\n", i, i);
		unit_deliver(st, acc, m, 1700002000 + i, NULL);
	}
	a.batches = 0;
	CHECK_EQ_INT(fts_indexer_test_pass(st, arrive, &a), 0);
	CHECK_EQ_INT(a.batches, 2);
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == 4 + FTS_INDEX_BATCH + 5 && docs == through);

	/* The batch's table (term_hash) kept each term with its emails. */
	char out[128];
	struct fts_cond early = { FTS_EXACT, STR_LIT("EARLY") }, late = { FTS_EXACT, STR_LIT("LATE") };
	struct fts_cond twenty = { FTS_EXACT, STR_LIT("20") }; /* "late 20", "bulk 20" */
	CHECK_EQ_STR(cands(st, acc, &early, 1, out, sizeof out), "1,2,3");
	CHECK_EQ_STR(cands(st, acc, &late, 1, out, sizeof out), "4");
	CHECK_EQ_STR(cands(st, acc, &twenty, 1, out, sizeof out), "4,25");
	/* One message of 6000 distinct terms: the table grows (rehashes)
	 * while it is read, and every term is found again. */
	struct buf big;
	buf_init(&big, 128 * 1024);
	CHECK(buf_printf(&big, "Subject: many\r\n\r\n") == 0);
	for (int i = 0; i < 6000; i++)
		CHECK(buf_printf(&big, "t%dx%s", i, i % 10 == 9 ? "\r\n" : " ") == 0);
	CHECK(buf_append(&big, "", 1) == 0);
	unit_deliver(st, acc, buf_data(&big), 1700003000, NULL);
	buf_free(&big);
	CHECK_EQ_INT(fts_indexer_test_pass(st, NULL, NULL), 0);
	uint32_t many = through + 1;
	CHECK_EQ_INT(store_fts_state(st, acc, &through, &docs), STORE_OK);
	CHECK(through == many);
	char want[16];
	snprintf(want, sizeof want, "%u", many);
	for (int i = 0; i < 6000; i += 599) {
		char t[16];
		snprintf(t, sizeof t, "T%dX", i); /* folded: i;unicode-casemap */
		struct fts_cond c = { FTS_EXACT, str_make(t, strlen(t)) };
		CHECK_EQ_STR(cands(st, acc, &c, 1, out, sizeof out), want);
	}
	store_close(&st);
	unit_rmrf(base);
}

int main(void)
{
	test_terms();
	test_plan();
	test_soundness();
	test_store();
	test_each_text();
	test_each_text_corpus();
	test_indexer_tick();
	return unit_done("test_fts");
}
