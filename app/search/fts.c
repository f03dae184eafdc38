/*
 * fts.c — see fts.h.
 */
#include "search/fts.h"

#include <string.h>

/* One word's terms: itself, or its windows when it is longer. */
static size_t word_terms(const char *w, size_t n, fts_term_cb *term, void *arg)
{
	size_t calls = 0;
	if (n < FTS_TERM_MIN)
		return 0;
	if (n <= FTS_TERM_MAX) {
		term(arg, w, n);
		return 1;
	}
	size_t s = 0;
	for (; s + FTS_TERM_MAX < n; s += FTS_TERM_STRIDE, calls++)
		term(arg, w + s, FTS_TERM_MAX);
	term(arg, w + n - FTS_TERM_MAX, FTS_TERM_MAX);
	return calls + 1;
}

size_t fts_terms(const char *s, size_t len, fts_term_cb *term, void *arg)
{
	size_t i = 0, calls = 0;
	while (i < len) {
		while (i < len && !fts_word_octet((unsigned char)s[i]))
			i++;
		size_t a = i;
		while (i < len && fts_word_octet((unsigned char)s[i]))
			i++;
		if (i > a)
			calls += word_terms(s + a, i - a, term, arg);
	}
	return calls;
}

size_t fts_plan(struct str needle, struct fts_cond out[FTS_PLAN_MAX])
{
	const char *s = needle.p;
	size_t len = needle.len, i = 0, n = 0;

	while (i < len && n < FTS_PLAN_MAX) {
		while (i < len && !fts_word_octet((unsigned char)s[i]))
			i++;
		size_t a = i;
		while (i < len && fts_word_octet((unsigned char)s[i]))
			i++;
		size_t wl = i - a;
		if (wl < FTS_TERM_MIN)
			continue; /* no term holds a one-octet word */
		int left = a > 0, right = i < len;
		struct fts_cond c = { .w = str_make(s + a, wl) };
		if (left && right) {
			/* The string's word is this one: when it is longer than
			 * a term, its first window is this word's first octets. */
			c.how = FTS_EXACT;
			if (wl > FTS_TERM_MAX)
				c.w.len = FTS_TERM_MAX;
		} else if (left) {
			c.how = FTS_PREFIX;
			if (wl > FTS_TERM_MAX)
				c.w.len = FTS_TERM_MAX;
		} else {
			/* Inside a word (or ending one): its first STRIDE octets
			 * lie whole in one of that word's terms. */
			c.how = FTS_INFIX;
			if (wl > FTS_TERM_STRIDE)
				c.w.len = FTS_TERM_STRIDE;
		}
		out[n++] = c;
	}
	return n;
}

int fts_cond_term(const struct fts_cond *c, const char *term, size_t n)
{
	switch (c->how) {
	case FTS_EXACT: return n == c->w.len && memcmp(term, c->w.p, n) == 0;
	case FTS_PREFIX: return n >= c->w.len && memcmp(term, c->w.p, c->w.len) == 0;
	case FTS_INFIX: return n >= c->w.len && memmem(term, n, c->w.p, c->w.len) != NULL;
	}
	return 0;
}
