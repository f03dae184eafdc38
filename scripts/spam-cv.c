/*
 * spam-cv.c — k-fold cross-validation of the spam classifier on a
 * corpus's train/ split (issue 34: choose the classifier and its weights
 * by measurement, never on test/). Built by `make build/spam-cv` (with the
 * unit tests' objects, so under ASan: slower, and checked).
 *
 *   build/spam-cv DIR [FOLDS]
 *
 * SPAM_CV_VERBOSE=1 also lists the messages tern's score gets wrong at the
 * default tag threshold,
 * CV_CAP=N changes the model's token bound, CV_SEED=N deals the messages
 * into folds at random (seeded) instead of by index, so a choice can be
 * checked on other splits; SPAM_CV_RULES=1 checks each content rule's
 * weight (fires on ham and spam, the counts without it and doubled);
 * SPAM_CV_DUMP=FILE writes every held-out score (dump);
 * SPAM_CV_TEST=TESTDIR learns all of DIR and scores TESTDIR once instead
 * (scripts/bench-spam's measure, in process: only to check a choice
 * already made on DIR's folds, never to make one);
 * SPAM_CV_GRAMS=FILE keeps the byte-gram regression's held-out log odds
 * in FILE (written when it does not exist, read when it does: they do not
 * depend on the word tokens, so a tokenizer change measured on the same
 * CV_SEED and folds need not fit them again);
 * CV_FIT_SEED=N moves the byte-gram fits' seed base by N steps
 * (spam_grams_fit_seed; 0 or unset: tern's), so a change to the
 * regression can be told from the chance of its fits' orders (give each
 * seed its own SPAM_CV_GRAMS file);
 * CV_GRAM_HAM_W=X multiplies a ham lesson's gradient in the byte-gram
 * fits by X (spam_grams_ham_weight; unset: SPAM_GRAM_HAM_WEIGHT, tern's), a class weight
 * (give each X its own SPAM_CV_GRAMS file);
 * CV_HEADER_CLUES=N lets at most N of the classifier's clues be the
 * header's (spam_header_clues);
 * LR_RATE, LR_EPOCHS and LR_L2 the token regression's
 * training, CV_NO_LR=1 skips it (the slow part).
 *
 * DIR holds ham/ and spam/, each with subset folders of one message per
 * file (the SpamAssassin corpus's train/). Every message is tokenized
 * once; fold k (messages whose index in their class is k mod FOLDS) is
 * scored by a model learned on the others, for
 *   nb  naive Bayes with sparse bigrams (spam_model.c, what tern uses)
 *   lr  logistic regression over the same tokens hashed into 2^20
 *       weights, trained by SGD (log loss, L2), 6 epochs
 *   grams  the byte-gram regression (spam_grams.c, what tern uses)
 * and tern's score: the classifier's and the regression's points with
 * the content rules (spam_rules_*: the score tern gives without DNS). Prints, per method and threshold, ham flagged and spam
 * missed, so the thresholds can be chosen from held-out scores.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/xalloc.h"
#include "spam/spam_private.h"

#define LR_BITS 20

#define ITEM_RULES 16

struct item {
	char *path;
	int spam;
	uint64_t *tok;
	unsigned char *hdr; /* the header's tokens (spam_tokens_marked) */
	size_t ntok;
	double rules; /* content rules' score */
	uint8_t nrule;              /* the rules that fired: */
	uint8_t rule[ITEM_RULES];   /* index in rule_names */
	double weight[ITEM_RULES];  /* and weight */
	struct spam_bayes nb; /* held-out */
	double lr;            /* held-out */
	uint32_t *g;          /* the byte grams (spam_grams) */
	size_t ng;
	uint64_t gid;         /* their lesson's id */
	double grams;         /* the byte-gram regression's log odds, held out */
	int fold;             /* held out in fold `fold`; -1: always learned */
	char from[128];       /* From's address, lower case */
};

static struct item *items;
static size_t nitems, capitems;

#define RULE_NAMES 64
static char rule_names[RULE_NAMES][SPAM_RULE_NAME_MAX];
static size_t nrule_names;

static int rule_index(const char *name)
{
	for (size_t i = 0; i < nrule_names; i++)
		if (!strcmp(rule_names[i], name))
			return (int)i;
	if (nrule_names == RULE_NAMES)
		return -1;
	snprintf(rule_names[nrule_names], sizeof rule_names[0], "%s", name);
	return (int)nrule_names++;
}

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = xmalloc((size_t)n + 1);
	*len_r = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir, int spam)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			names = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof *names);
		size_t l = strlen(dir) + strlen(e->d_name) + 2;
		names[n] = xmalloc(l);
		snprintf(names[n], l, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_name);
	for (size_t i = 0; i < n; i++) {
		DIR *sub = opendir(names[i]);
		if (sub) {
			closedir(sub);
			walk(names[i], spam);
			free(names[i]);
			continue;
		}
		if (nitems == capitems)
			items = realloc(items, (capitems = capitems ? capitems * 2 : 1024) * sizeof *items);
		items[nitems++] = (struct item){.path = names[i], .spam = spam};
	}
	free(names);
}

static void prepare(struct item *it)
{
	size_t len;
	char *p = slurp(it->path, &len);
	if (!p)
		return;
	struct spam_msg *m;
	spam_msg_new(p, len, &m);
	uint64_t *t = xmalloc(SPAM_TOKENS_MAX * sizeof *t);
	it->hdr = xmalloc(SPAM_TOKENS_MAX);
	it->ntok = spam_tokens_marked(m, t, it->hdr, SPAM_TOKENS_MAX, NULL);
	it->tok = t;
	struct spam_result r;
	spam_result_init(&r);
	spam_analyse(NULL, 0, m, &r);
	it->rules = r.score;
	for (uint32_t i = 0; i < r.nrules && it->nrule < ITEM_RULES; i++) {
		int k = rule_index(r.rules[i].name);
		if (k < 0)
			continue;
		it->rule[it->nrule] = (uint8_t)k;
		it->weight[it->nrule++] = r.rules[i].weight;
	}
	size_t fl = m->from_addr.len < sizeof it->from - 1 ? m->from_addr.len : sizeof it->from - 1;
	for (size_t i = 0; i < fl; i++) {
		char c = m->from_addr.p[i];
		it->from[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c <= ' ' ? '_' : c;
	}
	it->from[fl] = 0;
	struct spam_gram_lesson l = {.g = xmalloc(SPAM_GRAM_TEXT * sizeof *it->g)};
	spam_gram_lesson_of(m, it->spam, &l); /* as `tern spam train` keeps it */
	it->g = l.g;
	it->ng = l.n;
	it->gid = l.id;
	spam_msg_free(&m);
	free(p);
}

/* The byte-gram regression (spam_grams.c) fitted on the other folds. */
static void run_grams(int k)
{
	size_t nw = (size_t)1 << SPAM_GRAM_BITS;
	float *w = xmalloc(nw * sizeof *w);
	const struct spam_gram_lesson **v = xmalloc(nitems * sizeof *v);
	struct spam_gram_lesson *ls = xmalloc(nitems * sizeof *ls);
	size_t n = 0;
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold == k)
			continue;
		ls[n] = (struct spam_gram_lesson){items[i].spam ? 's' : 'h', items[i].gid,
		                                  (uint32_t)items[i].ng, items[i].g};
		v[n] = &ls[n];
		n++;
	}
	double bias;
	spam_grams_fit_weights(v, n, w, &bias);
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold != k)
			continue;
		struct item *it = &items[i];
		double z = bias;
		for (size_t j = 0; j < it->ng; j++)
			z += w[it->g[j]];
		it->grams = z;
	}
	free(ls);
	free(v);
	free(w);
}

/* SPAM_CV_GRAMS: the held-out log odds by message, one "path<TAB>fold<TAB>odds" a line */
static int grams_load(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[8192];
	size_t i = 0;
	while (fgets(line, sizeof line, f) && i < nitems) {
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			break;
		*t1 = 0;
		if (strcmp(line, items[i].path) || atoi(t1 + 1) != items[i].fold)
			break; /* another corpus, seed or fold count */
		items[i++].grams = atof(t2 + 1);
	}
	fclose(f);
	if (i != nitems) {
		fprintf(stderr, "spam-cv: %s: not this corpus and deal\n", path);
		exit(2);
	}
	return 1;
}

static void grams_save(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "spam-cv: %s: cannot write\n", path);
		return;
	}
	for (size_t i = 0; i < nitems; i++)
		fprintf(f, "%s\t%d\t%.17g\n", items[i].path, items[i].fold, items[i].grams);
	fclose(f);
}

static void run_nb(int k)
{
	struct spam_model m = {0};
	size_t cap = 0, n = 0;
	struct spam_delta *d = NULL;
	int32_t ns = 0, nh = 0;
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold == k)
			continue;
		if (n + items[i].ntok > cap)
			d = realloc(d, (cap = (n + items[i].ntok) * 2) * sizeof *d);
		for (size_t j = 0; j < items[i].ntok; j++)
			d[n++] = (struct spam_delta){items[i].tok[j], items[i].spam, !items[i].spam};
		if (items[i].spam)
			ns++;
		else
			nh++;
	}
	n = spam_delta_sort(d, n);
	spam_model_apply(&m, d, n, ns, nh, getenv("CV_CAP") ? (uint32_t)atoi(getenv("CV_CAP")) : SPAM_MODEL_TOKENS_MAX);
	free(d);
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold != k)
			continue;
		spam_model_classify(&m, NULL, items[i].tok, items[i].hdr, items[i].ntok,
		                    &items[i].nb);
	}
	if (k == 0)
		printf("nb fold 0: %u tokens after pruning, %u spam %u ham\n", m.ntok, m.nspam, m.nham);
	spam_model_free(&m);
}

static double sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

static void run_lr(int k)
{
	size_t nw = (size_t)1 << LR_BITS;
	float *w = calloc(nw, sizeof *w);
	double b = 0;
	size_t *order = xmalloc(nitems * sizeof *order), no = 0;
	for (size_t i = 0; i < nitems; i++)
		if (items[i].fold != k)
			order[no++] = i;
	unsigned long long rng = 12345;
	int epochs = getenv("LR_EPOCHS") ? atoi(getenv("LR_EPOCHS")) : 6;
	double lr0 = getenv("LR_RATE") ? atof(getenv("LR_RATE")) : 0.2;
	double l2 = getenv("LR_L2") ? atof(getenv("LR_L2")) : 1e-6;
	for (int epoch = 0; epoch < epochs; epoch++) {
		for (size_t i = no; i > 1; i--) { /* shuffle */
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t j = (size_t)(rng >> 33) % i;
			size_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		double lr = lr0 / (1 + epoch);
		for (size_t oi = 0; oi < no; oi++) {
			struct item *it = &items[order[oi]];
			double z = b;
			double scale = 1.0 / sqrt((double)it->ntok + 1);
			for (size_t j = 0; j < it->ntok; j++)
				z += w[it->tok[j] >> (64 - LR_BITS)] * scale;
			double g = sigmoid(z) - it->spam;
			for (size_t j = 0; j < it->ntok; j++) {
				float *x = &w[it->tok[j] >> (64 - LR_BITS)];
				*x -= (float)(lr * (g * scale + l2 * *x));
			}
			b -= lr * g;
		}
	}
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold != k)
			continue;
		struct item *it = &items[i];
		double z = b, scale = 1.0 / sqrt((double)it->ntok + 1);
		for (size_t j = 0; j < it->ntok; j++)
			z += w[it->tok[j] >> (64 - LR_BITS)] * scale;
		it->lr = sigmoid(z);
	}
	free(order);
	free(w);
}

/* 0: the classifier's probability, 1: the token regression's, 2: tern's
 * score (the classifier's and the byte grams' points plus the content
 * rules), 3: the byte-gram regression's log odds */
static double score_of(const struct item *it, int which)
{
	if (which == 0)
		return it->nb.p;
	if (which == 1)
		return it->lr;
	if (which == 3)
		return it->grams;
	return spam_bayes_points(&it->nb) + spam_grams_points(it->grams) + it->rules;
}

/* Ham flagged and spam missed when score >= th is spam. */
static void sweep(const char *name, int which, const double *ths, size_t nth)
{
	for (size_t t = 0; t < nth; t++) {
		size_t fp = 0, fn = 0, nh = 0, ns = 0;
		for (size_t i = 0; i < nitems; i++) {
			if (items[i].fold < 0)
				continue;
			double s = score_of(&items[i], which);
			int flagged = s >= ths[t];
			if (items[i].spam) {
				ns++;
				fn += !flagged;
			} else {
				nh++;
				fp += flagged;
			}
		}
		printf("%-6s th %7.4f: ham flagged %3zu/%zu  spam missed %3zu/%zu\n", name, ths[t], fp,
		       nh, fn, ns);
	}
}

static int cmp_dbl_desc(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* The operating point: spam missed when the threshold lets at most
 * `allow` held-out ham through as spam (just above the next ham score). */
static void frontier(const char *name, int which, size_t allow)
{
	double *hs = xmalloc(nitems * sizeof *hs);
	size_t nh = 0;
	for (size_t i = 0; i < nitems; i++) {
		double s = score_of(&items[i], which);
		if (!items[i].spam && items[i].fold >= 0)
			hs[nh++] = s;
	}
	qsort(hs, nh, sizeof *hs, cmp_dbl_desc);
	double th = allow < nh ? hs[allow] : -1e9;
	size_t fn = 0;
	for (size_t i = 0; i < nitems; i++) {
		double s = score_of(&items[i], which);
		if (items[i].spam && items[i].fold >= 0 && s <= th)
			fn++;
	}
	printf("%-6s with at most %zu ham flagged (threshold above %.4f): spam missed %zu\n", name,
	       allow, th, fn);
	free(hs);
}

/* The weight check of each content rule, held out: how often it fires
 * on ham and on spam, and the ham flagged and spam missed at the default
 * tag threshold with the rule's weight taken away or doubled, against
 * the score as it is. */
static void rule_check(void)
{
	size_t fp0 = 0, fn0 = 0;
	for (size_t i = 0; i < nitems; i++) {
		if (items[i].fold < 0)
			continue;
		int flagged = score_of(&items[i], 2) >= SPAM_DEFAULT_TAG;
		fp0 += !items[i].spam && flagged;
		fn0 += items[i].spam && !flagged;
	}
	printf("rules: as built, ham flagged %zu, spam missed %zu\n", fp0, fn0);
	for (size_t k = 0; k < nrule_names; k++) {
		size_t on_ham = 0, on_spam = 0, fp[2] = {0}, fn[2] = {0};
		for (size_t i = 0; i < nitems; i++) {
			const struct item *it = &items[i];
			if (it->fold < 0)
				continue;
			double w = 0;
			for (size_t j = 0; j < it->nrule; j++)
				if (it->rule[j] == k)
					w += it->weight[j];
			int fired = 0;
			for (size_t j = 0; j < it->nrule; j++)
				fired |= it->rule[j] == k;
			if (fired)
				it->spam ? on_spam++ : on_ham++;
			double s = score_of(it, 2);
			for (int v = 0; v < 2; v++) {
				int flagged = s + (v ? w : -w) >= SPAM_DEFAULT_TAG;
				fp[v] += !it->spam && flagged;
				fn[v] += it->spam && !flagged;
			}
		}
		printf("rule %-20s fires on ham %4zu spam %4zu; without: ham %zu missed %zu; doubled: ham %zu missed %zu\n",
		       rule_names[k], on_ham, on_spam, fp[0], fn[0], fp[1], fn[1]);
	}
}

/* One line per message, every score held out: path, class (1 spam),
 * the classifier's probability, evidence and clues, the token
 * regression's probability, the byte-gram regression's log odds, tern's
 * score, then each content rule that fired as NAME=WEIGHT, then
 * from=ADDRESS and fold=K, tab separated; for trying a combination of
 * them (stacking, a new rule's weight, a sender's history) without
 * rebuilding. */
static void dump(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "spam-cv: %s: cannot write\n", path);
		return;
	}
	for (size_t i = 0; i < nitems; i++) {
		const struct item *it = &items[i];
		if (it->fold < 0)
			continue;
		fprintf(f, "%s\t%d\t%.6f\t%.4f\t%u\t%.6f\t%.4f\t%.4f", it->path, it->spam, it->nb.p,
		        it->nb.evidence, it->nb.clues, it->lr, it->grams, score_of(it, 2));
		for (size_t j = 0; j < it->nrule; j++)
			fprintf(f, "\t%s=%.2f", rule_names[it->rule[j]], it->weight[j]);
		fprintf(f, "\tfrom=%s\tfold=%d\n", it->from[0] ? it->from : "-", it->fold);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: spam-cv DIR [FOLDS]\n");
		return 2;
	}
	int folds = argc > 2 ? atoi(argv[2]) : 5;
	char p[4096];
	snprintf(p, sizeof p, "%s/ham", argv[1]);
	walk(p, 0);
	snprintf(p, sizeof p, "%s/spam", argv[1]);
	walk(p, 1);
	if (getenv("CV_FIT_SEED"))
		spam_grams_fit_seed += strtoull(getenv("CV_FIT_SEED"), NULL, 10) * 0xd1b54a32d192ed03ull;
	if (getenv("CV_GRAM_HAM_W"))
		spam_grams_ham_weight = atof(getenv("CV_GRAM_HAM_W"));
	if (getenv("CV_HEADER_CLUES"))
		spam_header_clues = (size_t)atoi(getenv("CV_HEADER_CLUES"));
	if (getenv("CV_SEED")) { /* shuffle: the folds are index mod FOLDS */
		unsigned long long rng = strtoull(getenv("CV_SEED"), NULL, 10) * 2654435761u + 1;
		for (size_t i = nitems; i > 1; i--) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t j = (size_t)(rng >> 33) % i;
			struct item t = items[i - 1];
			items[i - 1] = items[j];
			items[j] = t;
		}
	}
	const char *test = getenv("SPAM_CV_TEST");
	size_t ntrain = nitems;
	if (test) { /* learn all of DIR, score test/ once, as bench-spam */
		snprintf(p, sizeof p, "%s/ham", test);
		walk(p, 0);
		snprintf(p, sizeof p, "%s/spam", test);
		walk(p, 1);
		folds = 1;
	}
	for (size_t i = 0; i < nitems; i++) {
		items[i].fold = test ? (i < ntrain ? -1 : 0) : (int)(i % (size_t)folds);
		prepare(&items[i]);
	}
	printf("%zu messages, %d folds\n", nitems, folds);
	const char *gc = getenv("SPAM_CV_GRAMS");
	int have_grams = gc && grams_load(gc);
	for (int k = 0; k < folds; k++) {
		run_nb(k);
		if (!getenv("CV_NO_LR"))
			run_lr(k);
		if (!have_grams)
			run_grams(k);
	}
	if (gc && !have_grams)
		grams_save(gc);
	if (getenv("SPAM_CV_VERBOSE"))
		for (size_t i = 0; i < nitems; i++)
			if (items[i].fold >= 0 && items[i].spam != (score_of(&items[i], 2) >= SPAM_DEFAULT_TAG))
				printf("%s nb %.4f evidence %.1f grams %.2f rules %.1f score %.2f tokens %zu\n",
				       items[i].path, items[i].nb.p, items[i].nb.evidence, items[i].grams,
				       items[i].rules, score_of(&items[i], 2), items[i].ntok);
	if (getenv("SPAM_CV_RULES"))
		rule_check();
	if (getenv("SPAM_CV_DUMP"))
		dump(getenv("SPAM_CV_DUMP"));
	const double pth[] = {0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999};
	sweep("nb", 0, pth, sizeof pth / sizeof pth[0]);
	sweep("lr", 1, pth, sizeof pth / sizeof pth[0]);
	const double sth[] = {2, 3, 4, 5, 6, 7, 8, 10, 12};
	sweep("tern", 2, sth, sizeof sth / sizeof sth[0]);
	for (size_t a = 2; a <= 6; a++) {
		frontier("nb", 0, a);
		frontier("tern", 2, a);
		frontier("grams", 3, a);
	}
	return 0;
}
