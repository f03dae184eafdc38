/*
 * spam_status.h — the classifier's state as the web admin shows it: how
 * many messages a model learned as spam and as ham, its distinct tokens
 * and its size in the store (the Spam page, GET /api/v1/spam).
 */
#ifndef TERN_SPAM_SPAM_STATUS_H
#define TERN_SPAM_SPAM_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct spam_model_status {
	uint32_t spam, ham, tokens;
	uint64_t bytes;  /* the record's size */
	int usable;      /* learned enough to be used (spam + ham >= the minimum) */
	uint32_t min_learned;
	/* the byte-gram regression (global): its lessons, and whether it has
	 * weights (each class needs grams_min lessons) */
	uint32_t grams_spam, grams_ham, grams_min;
	int grams_fitted;
};

/* The model of account (0: the global one). 0 (an absent model reads as
 * empty), or -1 when the store could not be read or the record is not a model. */
int spam_model_status(struct store *st, uint32_t account, struct spam_model_status *out);

#endif
