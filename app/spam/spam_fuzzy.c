/*
 * spam_fuzzy.c — the near-duplicate hash of a message (spam_private.h),
 * as the per-user fuzzy memory uses it.
 *
 * A 64-bit SimHash (Charikar) over shingles of three consecutive words
 * of the subject and text: each shingle's hash votes on every bit, the
 * sign of the sum is the bit. Messages that differ in a few words (a
 * name, a tracking number, a changed link) differ in few bits, so the
 * memory matches within SPAM_FUZZY_NEAR bits. Too little text (fewer
 * than SPAM_FUZZY_MIN_WORDS words) gives 0: short messages are too alike
 * to tell apart this way.
 */
#include <string.h>

#include "spam/spam_private.h"

#define SPAM_FUZZY_MIN_WORDS 20

struct sim {
	int32_t v[64];
	uint64_t w[3];
	unsigned nw;
	unsigned words;
};

static void on_word(void *arg, const char *w, size_t n)
{
	struct sim *s = arg;
	s->w[0] = s->w[1];
	s->w[1] = s->w[2];
	s->w[2] = spam_hash(w, n, 0);
	s->words++;
	if (++s->nw < 3)
		return;
	uint64_t h = spam_hash(s->w, sizeof s->w, 17);
	for (int b = 0; b < 64; b++)
		s->v[b] += (h >> b) & 1 ? 1 : -1;
}

uint64_t spam_fuzzy_hash(const struct spam_msg *m)
{
	struct sim s;
	struct spam_words t;
	memset(&s, 0, sizeof s);
	spam_words_init(&t, on_word, &s);
	spam_words_feed(&t, m->subject.p, m->subject.len);
	spam_words_feed(&t, " ", 1);
	spam_words_feed(&t, m->text.p, m->text.len);
	spam_words_finish(&t);
	if (s.words < SPAM_FUZZY_MIN_WORDS)
		return 0;
	uint64_t h = 0;
	for (int b = 0; b < 64; b++)
		if (s.v[b] > 0)
			h |= 1ull << b;
	return h ? h : 1;
}

int spam_fuzzy_distance(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}
