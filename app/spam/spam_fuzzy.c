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

/* The votes: a bit's sum is (shingles with the bit set) - (those
 * without), so counting the set bits is enough. They are counted eight
 * bits to a word (lane[j] holds the counts of bits j, j+8, ..., j+56 in
 * its eight octets), 8 additions a shingle instead of 64, and moved to
 * ones[] before an octet can overflow. */
struct sim {
	uint64_t lane[8];
	unsigned pending; /* shingles in lane[] */
	uint32_t ones[64];
	uint32_t shingles;
	uint64_t w[3];
	unsigned nw;
	unsigned words;
};

static void lanes_flush(struct sim *s)
{
	for (int j = 0; j < 8; j++) {
		for (int k = 0; k < 8; k++)
			s->ones[j + 8 * k] += (uint32_t)(s->lane[j] >> (8 * k)) & 0xff;
		s->lane[j] = 0;
	}
	s->pending = 0;
}

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
	for (int j = 0; j < 8; j++)
		s->lane[j] += (h >> j) & 0x0101010101010101ull;
	s->shingles++;
	if (++s->pending == 255)
		lanes_flush(s);
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
	lanes_flush(&s);
	uint64_t h = 0;
	for (int b = 0; b < 64; b++)
		if (2 * (uint64_t)s.ones[b] > s.shingles) /* more votes for 1 than for 0 */
			h |= 1ull << b;
	return h ? h : 1;
}

int spam_fuzzy_distance(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}
