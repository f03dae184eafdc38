/*
 * spam_analyse.c — spam_analyse, spam_train and spam_forget (spam.h):
 * the content rules, the classifier over the account's and the global
 * model, and the account's fuzzy memory, with the store.
 *
 * The classifier adds one rule, BAYES_SPAM or BAYES_HAM, whose points
 * grow with how sure it is (spam_bayes_points). Models are read in place
 * from the store (no copy), both in one read transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define OURS_MAX 64

double spam_bayes_points(double p)
{
	if (p < 0)
		return 0;
	if (p >= 0.5)
		return 8.0 * (p - 0.5) * 2.0;
	return -3.0 * (0.5 - p) * 2.0;
}

struct ours_acc {
	char *names[OURS_MAX];
	size_t n;
};

static void on_domain(void *arg, const char *domain)
{
	struct ours_acc *a = arg;
	if (a->n < OURS_MAX)
		a->names[a->n++] = strdup(domain);
}

struct classify_ctx {
	const uint64_t *tok;
	size_t ntok;
	uint64_t fuzzy;
	double p;
	int fuzzy_hit;
	size_t nmodels;
};

static int fuzzy_has(struct str rec, uint64_t h)
{
	const unsigned char *p = (const unsigned char *)rec.p;
	for (size_t off = 0; off + 16 <= rec.len; off += 16) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = v << 8 | p[off + (size_t)b];
		if (spam_fuzzy_distance(v, h) <= SPAM_FUZZY_NEAR)
			return 1;
	}
	return 0;
}

static void on_models(void *arg, const struct str *recs)
{
	struct classify_ctx *c = arg;
	struct spam_model g, u;
	int hg = spam_model_decode(recs[0].p, recs[0].len, &g) == 0;
	int hu = c->nmodels > 1 && spam_model_decode(recs[1].p, recs[1].len, &u) == 0;
	struct spam_model empty = {0};
	c->p = spam_model_classify(hg ? &g : &empty, hu ? &u : NULL, c->tok, c->ntok);
}

static void on_fuzzy(void *arg, const struct str *recs)
{
	struct classify_ctx *c = arg;
	c->fuzzy_hit = recs[0].p && c->fuzzy && fuzzy_has(recs[0], c->fuzzy);
}

int spam_analyse(struct store *st, uint32_t account, const struct spam_msg *m,
                 struct spam_result *res)
{
	struct ours_acc oa = {.n = 0};
	if (st)
		store_domain_list(st, on_domain, &oa);
	struct spam_ours ours = {(const char *const *)oa.names, oa.n};

	spam_rules_header(m, &ours, res);
	spam_rules_body(m, res);
	spam_rules_phish(m, &ours, res);
	for (size_t i = 0; i < oa.n; i++)
		free(oa.names[i]);
	if (!st)
		return 0;

	uint64_t *tok = xmalloc(SPAM_TOKENS_MAX * sizeof *tok);
	struct classify_ctx c = {.tok = tok, .p = -1, .nmodels = account ? 2 : 1};
	c.ntok = spam_tokens(m, tok, SPAM_TOKENS_MAX);
	uint32_t accts[2] = {0, account};
	int rc = store_spam_get(st, accts, c.nmodels, STORE_SPAM_MODEL, on_models, &c);
	if (rc == 0 && account) {
		c.fuzzy = spam_fuzzy_hash(m);
		if (c.fuzzy)
			rc = store_spam_get(st, &account, 1, STORE_SPAM_FUZZY, on_fuzzy, &c);
	}
	free(tok);
	if (c.p >= 0) {
		double pts = spam_bayes_points(c.p);
		char desc[SPAM_RULE_DESC_MAX];
		snprintf(desc, sizeof desc, "the classifier: spam probability %.3f", c.p);
		spam_result_add_desc(res, pts >= 0 ? "BAYES_SPAM" : "BAYES_HAM", pts, desc);
	}
	if (c.fuzzy_hit)
		spam_result_add(res, "FUZZY_JUNK", 8.0);
	return rc;
}

struct learn_ctx {
	struct spam_delta *d;
	size_t n;
	int32_t dspam, dham; /* message counts */
	int sign;
	uint64_t fuzzy;
	int64_t now;
};

static int learn_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	struct learn_ctx *c = arg;
	struct spam_model m;
	if (spam_model_decode(old, oldlen, &m) != 0)
		memset(&m, 0, sizeof m); /* not a model we know: start again */
	spam_model_apply(&m, c->d, c->n, c->dspam, c->dham, SPAM_MODEL_TOKENS_MAX);
	int rc = spam_model_encode(&m, out);
	spam_model_free(&m);
	return rc < 0 ? -1 : 0;
}

static void put64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The fuzzy memory: entries of (u64 hash, i64 added) little-endian; a
 * new entry goes last, the oldest are dropped past SPAM_FUZZY_ENTRIES;
 * forgetting removes entries within SPAM_FUZZY_NEAR of the hash. */
static int fuzzy_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	struct learn_ctx *c = arg;
	const unsigned char *p = old;
	size_t n = oldlen / 16, skip = 0;
	if (c->sign > 0 && n >= SPAM_FUZZY_ENTRIES)
		skip = n - SPAM_FUZZY_ENTRIES + 1;
	for (size_t i = skip; i < n; i++) {
		uint64_t v = 0;
		for (int b = 7; b >= 0; b--)
			v = v << 8 | p[i * 16 + (size_t)b];
		if (c->sign < 0 && spam_fuzzy_distance(v, c->fuzzy) <= SPAM_FUZZY_NEAR)
			continue;
		if (buf_append(out, p + i * 16, 16) < 0)
			return -1;
	}
	if (c->sign > 0) {
		unsigned char e[16];
		put64le(e, c->fuzzy);
		put64le(e + 8, (uint64_t)c->now);
		if (buf_append(out, e, 16) < 0)
			return -1;
	}
	return 0;
}

int spam_fuzzy_learn(struct store *st, uint32_t account, const struct spam_msg *m, int sign)
{
	struct learn_ctx c = {NULL, 0, 0, 0, sign, spam_fuzzy_hash(m), (int64_t)time(NULL)};
	if (!c.fuzzy)
		return 0;
	int rc = store_spam_update(st, account, STORE_SPAM_FUZZY, fuzzy_fn, &c);
	return rc < 0 ? rc : rc ? STORE_ETEMP : 0;
}

static int learn(struct store *st, uint32_t account, const struct spam_msg *m, int is_spam,
                 int sign)
{
	uint64_t *tok = xmalloc(SPAM_TOKENS_MAX * sizeof *tok);
	size_t n = spam_tokens(m, tok, SPAM_TOKENS_MAX);
	struct spam_delta *d = xmalloc((n ? n : 1) * sizeof *d);
	for (size_t i = 0; i < n; i++)
		d[i] = (struct spam_delta){tok[i], is_spam ? sign : 0, is_spam ? 0 : sign};
	free(tok);
	struct learn_ctx c = {d, n, is_spam ? sign : 0, is_spam ? 0 : sign, sign, 0, (int64_t)time(NULL)};
	int rc = store_spam_update(st, account, STORE_SPAM_MODEL, learn_fn, &c);
	free(d);
	if (rc == 0 && is_spam && account)
		return spam_fuzzy_learn(st, account, m, sign);
	return rc < 0 ? rc : rc ? STORE_ETEMP : 0;
}

int spam_learn_batch(struct store *st, uint32_t account, struct spam_delta *d, size_t n,
                     int32_t dspam, int32_t dham)
{
	n = spam_delta_sort(d, n);
	struct learn_ctx c = {d, n, dspam, dham, 1, 0, 0};
	int rc = store_spam_update(st, account, STORE_SPAM_MODEL, learn_fn, &c);
	return rc < 0 ? rc : rc ? STORE_ETEMP : 0;
}

int spam_train(struct store *st, uint32_t account, const struct spam_msg *m, int is_spam)
{
	return learn(st, account, m, is_spam, 1);
}

int spam_forget(struct store *st, uint32_t account, const struct spam_msg *m, int was_spam)
{
	return learn(st, account, m, was_spam, -1);
}
