/*
 * spam_model.c — the statistical classifier's model and its naive Bayes
 * scoring (spam_private.h).
 *
 * Why naive Bayes with sparse bigrams and not hashed-feature logistic
 * regression: both were measured by 5-fold cross-validation on the
 * corpus's train/ split (scripts/spam-cv, README "Spam filter"); see the
 * README for the figures. Counts also make the per-user operations the
 * filter needs exact and cheap: learning one message, forgetting it
 * again when a user moves it back, adding a user's model to the global
 * one, and pruning to a memory bound, none of which a trained weight
 * vector allows without retraining.
 *
 * Scoring is Gary Robinson's: each token's probability from its counts
 * (normalised by how many spam and ham were learned), pulled towards a prior
 * by how rarely it was seen, then the SPAM_CLUES strongest combined by
 * Fisher's chi-square method into one spam probability.
 *
 * The probability (1 + S - H) / 2 says 0.5 both when there is no
 * evidence and when there is strong evidence both ways (S and H near 1):
 * spam that came through a mailing list, or long narrative spam, has
 * both, and a third of the spam cross-validation missed sat there. So
 * the classifier also gives the evidence, ln(1 - H) - ln(1 - S): the two
 * chi-square tails compared in log space, where they do not underflow.
 * It keeps ordering messages where the probability has saturated, and
 * the score is made from it (spam_bayes_points).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "spam/spam_private.h"

#define ROBINSON_S 0.45       /* strength of the prior */
/* The prior a rarely seen token is pulled towards. A little above 0.5: a
 * word seen once or twice comes more often with spam (made-up names,
 * obfuscations, one-off domains) than with ham. Cross-validated on
 * train/ over eight fold deals, held-out ham flagged / spam missed at the
 * tag threshold: 0.50 31 / 157, 0.51 31 / 132, 0.52 31 / 126, 0.53
 * 34 / 118 (app/spam/ACCURACY.md). */
#define ROBINSON_X 0.52
#define MIN_STRENGTH 0.1      /* tokens nearer 0.5 than this are not clues */
#define SPAM_CLUES 35 /* cross-validated: 150 missed 2x the spam at the same ham */
/* At most this many of the SPAM_CLUES are the header's tokens (field
 * names and the words of their values): a message's relays, mailer and
 * addresses give dozens of tokens, many strong, that say who sent it
 * rather than what it is, and they crowded out the text's clues.
 * Cross-validated on train/ (app/spam/ACCURACY.md, session 54, continued). */
#define SPAM_HEADER_CLUES 15

size_t spam_header_clues = SPAM_HEADER_CLUES;

int spam_model_decode(const void *rec, size_t len, struct spam_model *m)
{
	const unsigned char *p = rec;
	memset(m, 0, sizeof *m);
	if (!rec || len == 0)
		return 0;
	if (len < SPAM_MODEL_HDR || memcmp(p, "TSM1", 4) != 0)
		return -1;
	uint32_t n = spam_le32(p + 12);
	if ((len - SPAM_MODEL_HDR) / SPAM_MODEL_ENT != n || (len - SPAM_MODEL_HDR) % SPAM_MODEL_ENT)
		return -1;
	m->nspam = spam_le32(p + 4);
	m->nham = spam_le32(p + 8);
	m->ntok = n;
	m->ent = p + SPAM_MODEL_HDR;
	return 0;
}

int spam_model_encode(const struct spam_model *m, struct buf *out)
{
	unsigned char h[SPAM_MODEL_HDR];
	memcpy(h, "TSM1", 4);
	spam_put32(h + 4, m->nspam);
	spam_put32(h + 8, m->nham);
	spam_put32(h + 12, m->ntok);
	if (buf_append(out, h, sizeof h) < 0)
		return -1;
	return buf_append(out, m->ent, (size_t)m->ntok * SPAM_MODEL_ENT);
}

void spam_model_free(struct spam_model *m)
{
	free(m->own);
	memset(m, 0, sizeof *m);
}

int spam_model_get(const struct spam_model *m, uint64_t h, uint32_t *spam_r, uint32_t *ham_r)
{
	const unsigned char *e = spam_rec_find(m->ent, m->ntok, SPAM_MODEL_ENT, h);
	*spam_r = e ? spam_le32(e + 8) : 0;
	*ham_r = e ? spam_le32(e + 12) : 0;
	return e != NULL;
}

/* As spam_model_get for ascending hashes: *pos (start 0) is where the
 * previous one ended, so a message's sorted tokens walk the model once,
 * galloping forward, instead of a whole binary search each. */
static void get_from(const struct spam_model *m, uint64_t h, size_t *pos, uint32_t *spam_r,
		     uint32_t *ham_r)
{
	size_t lo = *pos, step = 1, hi = lo;
	while (hi < m->ntok && spam_le64(m->ent + hi * SPAM_MODEL_ENT) < h) {
		lo = hi + 1;
		hi += step;
		step *= 2;
	}
	if (hi > m->ntok)
		hi = m->ntok;
	while (lo < hi) { /* first entry >= h in [lo, hi] */
		size_t mid = lo + (hi - lo) / 2;
		if (spam_le64(m->ent + mid * SPAM_MODEL_ENT) < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	if (lo < m->ntok && spam_le64(m->ent + lo * SPAM_MODEL_ENT) == h) {
		*spam_r = spam_le32(m->ent + lo * SPAM_MODEL_ENT + 8);
		*ham_r = spam_le32(m->ent + lo * SPAM_MODEL_ENT + 12);
	} else {
		*spam_r = *ham_r = 0;
	}
}

static int cmp_delta(const void *x, const void *y)
{
	uint64_t a = ((const struct spam_delta *)x)->h, b = ((const struct spam_delta *)y)->h;
	return a < b ? -1 : a > b;
}

size_t spam_delta_sort(struct spam_delta *d, size_t n)
{
	qsort(d, n, sizeof *d, cmp_delta);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u && d[u - 1].h == d[i].h) {
			d[u - 1].spam += d[i].spam;
			d[u - 1].ham += d[i].ham;
		} else {
			d[u++] = d[i];
		}
	}
	return u;
}

static uint32_t add_clamp(uint32_t v, int32_t d)
{
	int64_t r = (int64_t)v + d;
	return r < 0 ? 0 : r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

/* Keeps at most max entries of e[0..n): the rarest (spam + ham) go first,
 * among equals the later ones. Returns the new count. */
static size_t prune(unsigned char *e, size_t n, uint32_t max)
{
	if (n <= max)
		return n;
	size_t hist[65] = {0};
	for (size_t i = 0; i < n; i++) {
		uint64_t t = (uint64_t)spam_le32(e + i * SPAM_MODEL_ENT + 8) + spam_le32(e + i * SPAM_MODEL_ENT + 12);
		hist[t > 64 ? 64 : t]++;
	}
	/* cut: drop every entry with a total under cut, and `extra` at cut */
	size_t excess = n - max, cut = 0, below = 0;
	while (cut < 64 && below + hist[cut] < excess)
		below += hist[cut++];
	size_t extra = excess - below, o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char *x = e + i * SPAM_MODEL_ENT;
		uint64_t t = (uint64_t)spam_le32(x + 8) + spam_le32(x + 12);
		if (t > 64)
			t = 64;
		if (t < cut)
			continue;
		if (t == cut && extra) {
			extra--;
			continue;
		}
		if (o != i)
			memmove(e + o * SPAM_MODEL_ENT, x, SPAM_MODEL_ENT);
		o++;
	}
	return o;
}

void spam_model_apply(struct spam_model *m, const struct spam_delta *d, size_t n,
                      int32_t dspam, int32_t dham, uint32_t max)
{
	unsigned char *ne = xmalloc(((size_t)m->ntok + n) * SPAM_MODEL_ENT + 1);
	size_t i = 0, j = 0, o = 0;
	while (i < m->ntok || j < n) {
		const unsigned char *e = i < m->ntok ? m->ent + i * SPAM_MODEL_ENT : NULL;
		uint64_t eh = e ? spam_le64(e) : 0;
		unsigned char *x = ne + o * SPAM_MODEL_ENT;
		uint32_t s, h;
		if (e && (j == n || eh < d[j].h)) {
			memcpy(x, e, SPAM_MODEL_ENT);
			i++;
			o++;
			continue;
		}
		if (e && eh == d[j].h) {
			s = add_clamp(spam_le32(e + 8), d[j].spam);
			h = add_clamp(spam_le32(e + 12), d[j].ham);
			i++;
		} else {
			s = add_clamp(0, d[j].spam);
			h = add_clamp(0, d[j].ham);
		}
		spam_put64(x, d[j].h);
		j++;
		if (s == 0 && h == 0)
			continue; /* forgotten entirely */
		spam_put32(x + 8, s);
		spam_put32(x + 12, h);
		o++;
	}
	o = prune(ne, o, max);
	free(m->own);
	m->own = ne;
	m->ent = ne;
	m->ntok = (uint32_t)o;
	m->nspam = add_clamp(m->nspam, dspam);
	m->nham = add_clamp(m->nham, dham);
}

/* Survival function of chi-square with v (even) degrees of freedom at x2,
 * as SpamBayes' chi2Q. */
static double chi2q(double x2, unsigned v)
{
	double m = x2 / 2.0, sum, term;
	sum = term = exp(-m);
	for (unsigned i = 1; i < v / 2; i++) {
		term *= m / i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

/* ln chi2q(x2, v), as chi2q but summed in log space (log-sum-exp over
 * the series' terms), so tails far below DBL_MIN still compare. */
static double log_chi2q(double x2, unsigned v)
{
	double m = x2 / 2.0, lt = 0, mx = 0, sum = 0;
	unsigned n = v / 2;
	if (m <= 0)
		return 0;
	/* the terms m^i / i! grow while i < m: the largest is at min(n-1, m) */
	for (unsigned i = 1; i < n && (double)i <= m; i++)
		mx += log(m) - log((double)i);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			lt += log(m) - log((double)i);
		sum += exp(lt - mx);
	}
	double r = -m + mx + log(sum);
	return r < 0 ? r : 0;
}

static int cmp_strength(const void *x, const void *y)
{
	double a = fabs(*(const double *)x - 0.5), b = fabs(*(const double *)y - 0.5);
	if (a != b)
		return a < b ? 1 : -1;
	/* equally strong: the spammier first, so the clues kept never
	 * depend on the order they came in */
	double u = *(const double *)x, v = *(const double *)y;
	return u < v ? 1 : u > v ? -1 : 0;
}

/* Moves the want strongest of p[0..k) (farthest from 0.5) to the front;
 * returns want. Strengths bucketed into 1024 bins (0.5 - MIN_STRENGTH
 * wide), every bin above the cut kept, the cut bin sorted: the result of
 * sorting everything (cmp_strength's total order), without sorting
 * everything. */
static size_t strongest(double *p, size_t k, size_t want)
{
	enum { BINS = 1024 };
	size_t count[BINS] = {0};
	const double scale = (BINS - 1) / (0.5 - MIN_STRENGTH + 1e-9);
#define BIN(x) ((size_t)((fabs((x) - 0.5) - MIN_STRENGTH) * scale))
	for (size_t i = 0; i < k; i++)
		count[BIN(p[i])]++;
	size_t cut = BINS, above = 0;
	while (cut > 0 && above + count[cut - 1] <= want)
		above += count[--cut];
	/* bins >= cut are all kept; bin cut - 1 gives want - above */
	size_t o = 0, nc = 0;
	double *c = xmalloc((k ? k : 1) * sizeof *c);
	for (size_t i = 0; i < k; i++) {
		size_t b = BIN(p[i]);
		if (b >= cut)
			p[o++] = p[i];
		else if (cut && b == cut - 1)
			c[nc++] = p[i];
	}
#undef BIN
	qsort(c, nc, sizeof *c, cmp_strength);
	for (size_t i = 0; o < want && i < nc; i++)
		p[o++] = c[i];
	free(c);
	return o;
}

double spam_model_classify(const struct spam_model *m1, const struct spam_model *m2,
                           const uint64_t *tokens, const unsigned char *hdr, size_t n,
                           struct spam_bayes *b_r)
{
	struct spam_bayes b = {-1, 0, 0};
	if (b_r)
		*b_r = b;
	double nspam = m1->nspam + (m2 ? m2->nspam : 0);
	double nham = m1->nham + (m2 ? m2->nham : 0);
	if (nspam < SPAM_MODEL_MIN_LEARNED || nham < SPAM_MODEL_MIN_LEARNED)
		return -1;
	/* the body's clues from the front, the header's from the back */
	double *p = xmalloc((n ? n : 1) * sizeof *p);
	size_t k = 0, kh = 0;
	size_t pos1 = 0, pos2 = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t s1, h1, s2 = 0, h2 = 0;
		if (i && tokens[i] < tokens[i - 1])
			pos1 = pos2 = 0; /* not sorted after all: start over */
		get_from(m1, tokens[i], &pos1, &s1, &h1);
		if (m2)
			get_from(m2, tokens[i], &pos2, &s2, &h2);
		double s = (double)s1 + s2, h = (double)h1 + h2;
		if (s + h == 0)
			continue;
		double ps = s / nspam, ph = h / nham;
		double pw = ps / (ps + ph);
		double f = (ROBINSON_S * ROBINSON_X + (s + h) * pw) / (ROBINSON_S + s + h);
		if (fabs(f - 0.5) < MIN_STRENGTH)
			continue;
		if (hdr && hdr[i])
			p[n - ++kh] = f;
		else
			p[k++] = f;
	}
	/* The SPAM_CLUES strongest, passing over the header's past the
	 * spam_header_clues strongest of them: the strongest of the body's
	 * and of those. */
	double *hp = p + n - kh;
	if (kh > spam_header_clues)
		kh = strongest(hp, kh, spam_header_clues);
	memmove(p + k, hp, kh * sizeof *p);
	k += kh;
	if (k == 0) {
		free(p);
		if (b_r)
			b_r->p = 0.5;
		return 0.5;
	}
	if (k > SPAM_CLUES)
		k = strongest(p, k, SPAM_CLUES);
	double lh = 0, ls = 0;
	for (size_t i = 0; i < k; i++) {
		lh += log(p[i]);
		ls += log(1.0 - p[i]);
	}
	free(p);
	double hs = chi2q(-2.0 * lh, 2 * (unsigned)k); /* small: hammy (1 - H) */
	double ss = chi2q(-2.0 * ls, 2 * (unsigned)k); /* small: spammy (1 - S) */
	b.p = (1.0 + hs - ss) / 2.0;
	b.evidence = log_chi2q(-2.0 * lh, 2 * (unsigned)k) - log_chi2q(-2.0 * ls, 2 * (unsigned)k);
	b.clues = (uint32_t)k;
	if (b_r)
		*b_r = b;
	return b.p;
}
