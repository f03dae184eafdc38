/*
 * spam_status.c — a model's counts for the web admin (spam_status.h), and
 * for the global model the byte-gram regression's.
 */
#include <string.h>

#include "spam/spam_private.h"
#include "spam/spam_status.h"
#include "store/store.h"

struct get {
	struct spam_model_status *out;
	int rc;
};

static void got(void *arg, const struct str *recs)
{
	struct get *g = arg;
	struct spam_model m;
	if (spam_model_decode(recs[0].p, recs[0].p ? recs[0].len : 0, &m) < 0) {
		g->rc = -1;
		return;
	}
	g->out->spam = m.nspam;
	g->out->ham = m.nham;
	g->out->tokens = m.ntok;
	g->out->bytes = recs[0].p ? recs[0].len : 0;
}

static void got_grams(void *arg, const struct str *recs)
{
	struct spam_model_status *out = arg;
	spam_grams_status(recs[0], &out->grams_spam, &out->grams_ham, &out->grams_fitted);
}

int spam_model_status(struct store *st, uint32_t account, struct spam_model_status *out)
{
	struct get g = {out, 0};
	memset(out, 0, sizeof *out);
	out->min_learned = SPAM_MODEL_MIN_LEARNED;
	if (store_spam_get(st, &account, 1, STORE_SPAM_MODEL, got, &g) != STORE_OK)
		return -1;
	out->usable = (uint64_t)out->spam + out->ham >= SPAM_MODEL_MIN_LEARNED;
	out->grams_min = SPAM_GRAM_MIN_LESSONS;
	uint32_t zero = 0;
	if (account == 0 &&
	    store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, got_grams, out) != STORE_OK)
		return -1;
	return g.rc;
}
