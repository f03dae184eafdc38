/*
 * spam_fuzzy.c — the near-duplicate hash of a message (spam_private.h),
 * as the per-user fuzzy memory uses it.
 *
 * A 64-bit SimHash (Charikar) over shingles of three consecutive words
 * of the subject and text (the tokenizer's words, spam_tokens_fuzzy): each shingle's hash votes on every bit, the
 * sign of the sum is the bit. Messages that differ in a few words (a
 * name, a tracking number, a changed link) differ in few bits, so the
 * memory matches within SPAM_FUZZY_NEAR bits. Too little text (fewer
 * than SPAM_FUZZY_MIN_WORDS words) gives 0: short messages are too alike
 * to tell apart this way.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "spam/spam_private.h"

#define SPAM_FUZZY_MIN_WORDS 20

/* The votes: a bit's sum is (shingles with the bit set) - (those
 * without), so counting the set bits is enough. They are counted eight
 * bits to a word (lane[j] holds the counts of bits j, j+8, ..., j+56 in
 * its eight octets), 8 additions a shingle instead of 64, and moved to
 * ones[] before an octet can overflow. */
static void lanes_flush(struct spam_sim *s)
{
	for (int j = 0; j < 8; j++) {
		for (int k = 0; k < 8; k++)
			s->ones[j + 8 * k] += (uint32_t)(s->lane[j] >> (8 * k)) & 0xff;
		s->lane[j] = 0;
	}
	s->pending = 0;
}

void spam_sim_init(struct spam_sim *s)
{
	memset(s, 0, sizeof *s);
}

void spam_sim_word(struct spam_sim *s, uint64_t word_hash)
{
	s->w[0] = s->w[1];
	s->w[1] = s->w[2];
	s->w[2] = word_hash;
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

uint64_t spam_sim_final(struct spam_sim *s)
{
	if (s->words < SPAM_FUZZY_MIN_WORDS)
		return 0;
	lanes_flush(s);
	uint64_t h = 0;
	for (int b = 0; b < 64; b++)
		if (2 * (uint64_t)s->ones[b] > s->shingles) /* more votes for 1 than for 0 */
			h |= 1ull << b;
	return h ? h : 1;
}

uint64_t spam_fuzzy_hash(const struct spam_msg *m)
{
	uint64_t *tok = xmalloc(SPAM_TOKENS_MAX * sizeof *tok), h;
	spam_tokens_fuzzy(m, tok, SPAM_TOKENS_MAX, &h);
	free(tok);
	return h;
}

int spam_fuzzy_distance(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}
