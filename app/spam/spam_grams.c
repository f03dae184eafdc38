/*
 * spam_grams.c — the byte-gram regression, the classifier's second
 * opinion (spam_private.h; issue 34).
 *
 * A message's first SPAM_GRAM_TEXT octets as it came (its header fields
 * but those tern adds, then the body raw, with its encodings and
 * markup) are cut into overlapping 4-octet grams, each hashed to one of
 * 2^SPAM_GRAM_BITS weights of a logistic regression.
 * The message's log odds are the bias plus the weights of its distinct
 * grams. Naive Bayes over words (spam_model.c) reads what a message
 * says; the grams read how it was made: the relays, the mailer, the
 * boundary and encoding habits of a sender's software, which words
 * never see. Chosen by 5-fold cross-validation on the corpus's train/
 * over eight fold deals (app/spam/ACCURACY.md), as the TREC spam
 * track's best online filters did (binary 4-grams of a message's start,
 * logistic regression).
 *
 * Training keeps the lessons (each message's grams and class) in one
 * bounded record, the oldest dropped past SPAM_GRAM_LESSONS_MAX or the
 * record ceiling, and fits the weights anew over all of them after each
 * training: the average of SPAM_GRAM_FITS fits, each SGD on the log
 * loss, SPAM_GRAM_EPOCHS passes in its own fixed pseudo-random orders of
 * the lessons sorted by id. So the weights do not depend on the order
 * lessons came in (`tern spam train ham DIR` then `spam DIR` would
 * otherwise leave them leaning to the last class, and a directory's
 * files come in the order the file system lists them), the same lessons
 * always give the same weights, and forgetting is exact: the lesson goes
 * and the weights are fitted again. Training one message where 2,964
 * lessons are kept, the four fits included, takes 0.37 s (`tern spam
 * train`, wall clock).
 *
 * Records (account 0 only: the regression is global; an account's own
 * lessons are its naive Bayes model and fuzzy memory):
 *   STORE_SPAM_LESSONS  "TGL1", then per lesson: class ('s' or 'h'),
 *                       id (u64 LE: the hash of its grams), count (u16
 *                       LE), the grams ascending as deltas (core/varint.h)
 *   STORE_SPAM_GRAMS    "TGW1", spam and ham lessons (u32 LE each), the
 *                       bias and 2^SPAM_GRAM_BITS weights (f32 LE); the
 *                       16-octet head alone while a class has too few
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/varint.h"
#include "core/xalloc.h"
#include "mime/rfc5322.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define GRAMS_NW ((size_t)1 << SPAM_GRAM_BITS)
#define WEIGHTS_HDR 16 /* magic, two counts, bias */
#define WEIGHTS_LEN (WEIGHTS_HDR + GRAMS_NW * 4)
#define GRAM_SET 4096 /* slots of the set that keeps each gram once: > 2 x SPAM_GRAM_TEXT */

/* ---- the text and its grams ---- */

/* Sorts v[0..n) of SPAM_GRAM_BITS-bit values ascending: LSD radix,
 * two passes of 10 bits (musl's qsort is slow). */
static void sort_grams(uint32_t *v, size_t n)
{
	uint32_t tmp[SPAM_GRAM_TEXT], *src = v, *dst = tmp;
	for (unsigned shift = 0; shift < SPAM_GRAM_BITS; shift += 10) {
		size_t count[1025] = {0};
		for (size_t i = 0; i < n; i++)
			count[((src[i] >> shift) & 1023) + 1]++;
		for (unsigned b = 1; b < 1025; b++)
			count[b] += count[b - 1];
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 1023]++] = src[i];
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
}

size_t spam_grams(const struct spam_msg *m, uint32_t *out)
{
	char text[SPAM_GRAM_TEXT];
	size_t n = 0;
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	rfc5322_init(&p);
	while (n < sizeof text &&
	       rfc5322_parse(&p, m->hdr + off, m->hdr_len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (spam_field_ours(f.name, f.value))
			continue;
		size_t k = f.raw.len < sizeof text - n ? f.raw.len : sizeof text - n;
		memcpy(text + n, f.raw.p, k);
		n += k;
	}
	rfc5322_clear(&p);
	if (n < sizeof text && off < m->hdr_len) { /* the blank line */
		size_t k = m->hdr_len - off < sizeof text - n ? m->hdr_len - off : sizeof text - n;
		memcpy(text + n, m->hdr + off, k);
		n += k;
	}
	if (n < sizeof text) {
		size_t k = m->body_head.len < sizeof text - n ? m->body_head.len : sizeof text - n;
		if (k)
			memcpy(text + n, m->body_head.p, k);
		n += k;
	}
	/* a gram is its 4 octets as one 32-bit number, hashed by one
	 * multiplication (odd: a bijection) keeping the top bits; each
	 * kept once, by an open-addressing set at most half full (sorting
	 * them cost more than the rest of the regression; grams chosen to
	 * collide cost at most SPAM_GRAM_TEXT^2 / 2 probes) */
	uint32_t set[GRAM_SET];
	memset(set, 0xff, sizeof set);
	size_t u = 0;
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		v = v << 8 | (unsigned char)text[i];
		if (i < 3)
			continue;
		uint32_t h = (v * 0x9e3779b1u) >> (32 - SPAM_GRAM_BITS);
		size_t k = h & (GRAM_SET - 1);
		while (set[k] != h && set[k] != UINT32_MAX)
			k = (k + 1) & (GRAM_SET - 1);
		if (set[k] == UINT32_MAX) {
			set[k] = h;
			out[u++] = h;
		}
	}
	return u;
}

/* ---- scoring ---- */

static float weight_at(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	             (uint32_t)p[3] << 24;
	float w;
	memcpy(&w, &v, sizeof w);
	return w;
}

static void put_weight(unsigned char *p, float w)
{
	uint32_t v;
	memcpy(&v, &w, sizeof v);
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int spam_grams_score(struct str rec, const uint32_t *g, size_t n, double *z_r)
{
	const unsigned char *p = (const unsigned char *)rec.p;
	if (!p || rec.len != WEIGHTS_LEN || memcmp(p, "TGW1", 4) != 0)
		return -1;
	double z = weight_at(p + 12);
	const unsigned char *w = p + WEIGHTS_HDR;
	for (size_t i = 0; i < n; i++)
		z += weight_at(w + (size_t)g[i] * 4);
	*z_r = z;
	return 0;
}

void spam_grams_status(struct str rec, uint32_t *nspam_r, uint32_t *nham_r, int *fitted_r)
{
	const unsigned char *p = (const unsigned char *)rec.p;
	*nspam_r = *nham_r = 0;
	*fitted_r = 0;
	if (!p || rec.len < WEIGHTS_HDR || memcmp(p, "TGW1", 4) != 0)
		return;
	for (int i = 3; i >= 0; i--) {
		*nspam_r = *nspam_r << 8 | p[4 + i];
		*nham_r = *nham_r << 8 | p[8 + i];
	}
	*fitted_r = rec.len == WEIGHTS_LEN;
}

/* ---- lessons ---- */

struct lesson {
	uint8_t cls; /* 's' or 'h' */
	uint64_t id;
	uint32_t n;
	uint32_t *g;
};

struct lessons {
	struct lesson *v;
	size_t n, cap;
};

static uint64_t grams_id(const uint32_t *g, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ g[i]) * 1099511628211ull;
	return h;
}

static void lessons_free(struct lessons *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i].g);
	free(ls->v);
	memset(ls, 0, sizeof *ls);
}

static void lessons_push(struct lessons *ls, struct lesson l)
{
	if (ls->n == ls->cap)
		ls->v = xrealloc(ls->v, (ls->cap = ls->cap ? ls->cap * 2 : 256) * sizeof *ls->v);
	ls->v[ls->n++] = l;
}

/* Decodes a lessons record; a record it does not know gives none. */
static void lessons_decode(const void *rec, size_t len, struct lessons *ls)
{
	const unsigned char *p = rec, *e = p + len;
	if (!p || len < 4 || memcmp(p, "TGL1", 4) != 0)
		return;
	p += 4;
	while (e - p >= 11) {
		struct lesson l = {.cls = p[0]};
		for (int i = 7; i >= 0; i--)
			l.id = l.id << 8 | p[1 + i];
		l.n = (uint32_t)p[9] | (uint32_t)p[10] << 8;
		p += 11;
		if (l.n > SPAM_GRAM_TEXT || (l.cls != 's' && l.cls != 'h'))
			break;
		l.g = xmalloc((l.n ? l.n : 1) * sizeof *l.g);
		uint32_t prev = 0;
		size_t k = 0;
		while (k < l.n) {
			uint64_t d;
			size_t used = varint_get(p, (size_t)(e - p), &d);
			if (used == 0)
				break; /* a number cut short */
			p += used;
			prev += (uint32_t)d;
			l.g[k++] = prev & (GRAMS_NW - 1);
		}
		if (k < l.n) { /* cut short: the record is damaged from here */
			free(l.g);
			break;
		}
		lessons_push(ls, l);
	}
}

static size_t lesson_size(const struct lesson *l)
{
	unsigned char v[VARINT_MAX];
	size_t s = 11;
	uint32_t prev = 0;
	for (uint32_t i = 0; i < l->n; i++) {
		s += varint_put(v, l->g[i] - prev);
		prev = l->g[i];
	}
	return s;
}

static int lesson_encode(const struct lesson *l, struct buf *out)
{
	unsigned char h[11];
	h[0] = l->cls;
	for (int i = 0; i < 8; i++)
		h[1 + i] = (unsigned char)(l->id >> (8 * i));
	h[9] = (unsigned char)l->n;
	h[10] = (unsigned char)(l->n >> 8);
	if (buf_append(out, h, sizeof h) < 0)
		return -1;
	uint32_t prev = 0;
	for (uint32_t i = 0; i < l->n; i++) {
		unsigned char v[VARINT_MAX];
		size_t k = varint_put(v, l->g[i] - prev);
		prev = l->g[i];
		if (buf_append(out, v, k) < 0)
			return -1;
	}
	return 0;
}

struct change {
	const struct spam_gram_lesson *add; /* lessons to add (sign > 0) or remove */
	size_t n;
	int sign;
};

int spam_grams_lessons_edit(const void *old, size_t oldlen, const struct spam_gram_lesson *v,
                            size_t n, int sign, struct buf *out)
{
	struct lessons ls = {0};
	lessons_decode(old, oldlen, &ls);
	int rc = 0;
	if (sign < 0) {
		for (size_t i = 0; i < n; i++)
			for (size_t k = ls.n; k-- > 0;)
				if (ls.v[k].id == v[i].id && ls.v[k].cls == v[i].cls) {
					free(ls.v[k].g);
					memmove(&ls.v[k], &ls.v[k + 1], (ls.n - k - 1) * sizeof *ls.v);
					ls.n--;
					break;
				}
	} else {
		for (size_t i = 0; i < n; i++) {
			struct lesson l = {v[i].cls, v[i].id, v[i].n, NULL};
			l.g = xmalloc((l.n ? l.n : 1) * sizeof *l.g);
			memcpy(l.g, v[i].g, l.n * sizeof *l.g);
			lessons_push(&ls, l);
		}
	}
	/* the newest that fit */
	size_t first = ls.n > SPAM_GRAM_LESSONS_MAX ? ls.n - SPAM_GRAM_LESSONS_MAX : 0;
	size_t total = 4;
	for (size_t k = ls.n; k-- > first;) {
		size_t s = lesson_size(&ls.v[k]);
		if (total + s > STORE_SPAM_RECORD_MAX - 1) {
			first = k + 1;
			break;
		}
		total += s;
	}
	if (ls.n > first) {
		rc = buf_append(out, "TGL1", 4) < 0 ? -1 : 0;
		for (size_t k = first; k < ls.n && rc == 0; k++)
			rc = lesson_encode(&ls.v[k], out);
	}
	lessons_free(&ls);
	return rc;
}

/* The store's update: the record edited as spam_grams_lessons_edit says. */
static int change_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	struct change *c = arg;
	return spam_grams_lessons_edit(old, oldlen, c->add, c->n, c->sign, out);
}

void spam_grams_lessons_count(const void *rec, size_t len, uint32_t *nspam_r, uint32_t *nham_r)
{
	struct lessons ls = {0};
	lessons_decode(rec, len, &ls);
	*nspam_r = *nham_r = 0;
	for (size_t i = 0; i < ls.n; i++)
		ls.v[i].cls == 's' ? (*nspam_r)++ : (*nham_r)++;
	lessons_free(&ls);
}

void spam_gram_lesson_of(const struct spam_msg *m, int is_spam, struct spam_gram_lesson *l)
{
	l->n = (uint32_t)spam_grams(m, l->g);
	sort_grams(l->g, l->n); /* ascending: stored as deltas, and the id */
	l->cls = is_spam ? 's' : 'h';
	l->id = grams_id(l->g, l->n);
}

int spam_grams_change(struct store *st, const struct spam_gram_lesson *v, size_t n, int sign)
{
	struct change c = {v, n, sign};
	int rc = store_spam_update(st, 0, STORE_SPAM_LESSONS, change_fn, &c);
	return rc < 0 ? rc : rc ? STORE_ETEMP : 0;
}

/* ---- fitting ---- */

struct fit {
	struct lessons ls;
};

static void on_lessons(void *arg, const struct str *recs)
{
	struct fit *f = arg;
	lessons_decode(recs[0].p, recs[0].len, &f->ls);
}

static double sigmoid(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/* A lesson's place in the fit's starting order: by id, then class, so
 * the fit never depends on the order lessons were learned in. */
struct lesson_key {
	uint64_t id;
	int cls;
	size_t i; /* in v */
};

static int cmp_key(const void *x, const void *y)
{
	const struct lesson_key *a = x, *b = y;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* One SGD fit over v in the pseudo-random orders seed gives, from zero
 * weights, into w and *bias_r. */
static void fit_once(const struct spam_gram_lesson *const *v, const size_t *sorted, size_t n,
                     uint64_t seed, float *w, double *bias_r)
{
	size_t *order = xmalloc((n ? n : 1) * sizeof *order);
	memcpy(order, sorted, n * sizeof *order);
	memset(w, 0, GRAMS_NW * sizeof *w);
	double b = 0;
	uint64_t rng = seed;
	for (int epoch = 0; epoch < SPAM_GRAM_EPOCHS; epoch++) {
		for (size_t i = n; i > 1; i--) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t j = (size_t)(rng >> 33) % i;
			size_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t oi = 0; oi < n; oi++) {
			const struct spam_gram_lesson *l = v[order[oi]];
			double z = b;
			for (uint32_t k = 0; k < l->n; k++)
				z += w[l->g[k]];
			double g = (sigmoid(z) - (l->cls == 's')) * SPAM_GRAM_RATE;
			if (l->cls != 's')
				g *= spam_grams_ham_weight;
			for (uint32_t k = 0; k < l->n; k++)
				w[l->g[k]] -= (float)g;
			b -= g;
		}
	}
	free(order);
	*bias_r = b;
}

uint64_t spam_grams_fit_seed = 0x9e3779b97f4a7c15ull;
double spam_grams_ham_weight = SPAM_GRAM_HAM_WEIGHT;

/* The average of SPAM_GRAM_FITS fits, each over its own orders: five
 * passes of SGD stop early (more passes overfit, ACCURACY.md), and where
 * they stop depends on the order the lessons came in; averaging takes
 * that chance out. */
void spam_grams_fit_weights(const struct spam_gram_lesson *const *v, size_t n, float *w,
                            double *bias_r)
{
	struct lesson_key *key = xmalloc((n ? n : 1) * sizeof *key);
	size_t *sorted = xmalloc((n ? n : 1) * sizeof *sorted);
	for (size_t i = 0; i < n; i++)
		key[i] = (struct lesson_key){v[i]->id, v[i]->cls, i};
	qsort(key, n, sizeof *key, cmp_key);
	for (size_t i = 0; i < n; i++)
		sorted[i] = key[i].i;
	free(key);
	float *one = xmalloc(GRAMS_NW * sizeof *one);
	double bias = 0;
	memset(w, 0, GRAMS_NW * sizeof *w);
	for (int k = 0; k < SPAM_GRAM_FITS; k++) {
		double b;
		fit_once(v, sorted, n, spam_grams_fit_seed + (uint64_t)k * 0x2545f4914f6cdd1dull, one, &b);
		for (size_t i = 0; i < GRAMS_NW; i++)
			w[i] += one[i] / SPAM_GRAM_FITS;
		bias += b / SPAM_GRAM_FITS;
	}
	free(one);
	free(sorted);
	*bias_r = bias;
}

struct weights_out {
	const float *w;
	double bias;
	uint32_t nspam, nham;
};

static int weights_fn(void *arg, const void *old, size_t oldlen, struct buf *out)
{
	(void)old;
	(void)oldlen;
	struct weights_out *o = arg;
	unsigned char *p = xmalloc(WEIGHTS_LEN);
	memcpy(p, "TGW1", 4);
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (unsigned char)(o->nspam >> (8 * i));
		p[8 + i] = (unsigned char)(o->nham >> (8 * i));
	}
	put_weight(p + 12, (float)o->bias);
	for (size_t i = 0; o->w && i < GRAMS_NW; i++)
		put_weight(p + WEIGHTS_HDR + i * 4, o->w[i]);
	/* too few lessons: the counts alone, no weights */
	int rc = buf_append(out, p, o->w ? WEIGHTS_LEN : WEIGHTS_HDR) < 0 ? -1 : 0;
	free(p);
	return rc;
}

/* One fit at a time in a process: a fit that read the lessons earlier
 * must not store its weights after one that read them later. */
static pthread_mutex_t fit_lock = PTHREAD_MUTEX_INITIALIZER;

static int refit(struct store *st, uint32_t *nspam_r, uint32_t *nham_r);

int spam_grams_refit(struct store *st, uint32_t *nspam_r, uint32_t *nham_r)
{
	pthread_mutex_lock(&fit_lock);
	int rc = refit(st, nspam_r, nham_r);
	pthread_mutex_unlock(&fit_lock);
	return rc;
}

static int refit(struct store *st, uint32_t *nspam_r, uint32_t *nham_r)
{
	struct fit f = {{0}};
	uint32_t acct = 0;
	int rc = store_spam_get(st, &acct, 1, STORE_SPAM_LESSONS, on_lessons, &f);
	if (rc != 0)
		return rc;
	struct weights_out o = {NULL, 0, 0, 0};
	const struct spam_gram_lesson **v = xmalloc((f.ls.n ? f.ls.n : 1) * sizeof *v);
	struct spam_gram_lesson *gl = xmalloc((f.ls.n ? f.ls.n : 1) * sizeof *gl);
	for (size_t i = 0; i < f.ls.n; i++) {
		/* the decoded lesson's grams, in place (no copy) */
		gl[i].cls = f.ls.v[i].cls;
		gl[i].id = f.ls.v[i].id;
		gl[i].n = f.ls.v[i].n;
		gl[i].g = f.ls.v[i].g;
		v[i] = &gl[i];
		f.ls.v[i].cls == 's' ? o.nspam++ : o.nham++;
	}
	float *w = NULL;
	if (o.nspam >= SPAM_GRAM_MIN_LESSONS && o.nham >= SPAM_GRAM_MIN_LESSONS) {
		w = xmalloc(GRAMS_NW * sizeof *w);
		spam_grams_fit_weights(v, f.ls.n, w, &o.bias);
		o.w = w;
	}
	rc = store_spam_update(st, 0, STORE_SPAM_GRAMS, weights_fn, &o);
	free(w);
	free(gl);
	free(v);
	lessons_free(&f.ls);
	if (nspam_r)
		*nspam_r = o.nspam;
	if (nham_r)
		*nham_r = o.nham;
	return rc < 0 ? rc : rc ? STORE_ETEMP : 0;
}

double spam_grams_points(double z)
{
	if (z > SPAM_GRAM_Z_MAX)
		z = SPAM_GRAM_Z_MAX;
	if (z < -SPAM_GRAM_Z_MAX)
		z = -SPAM_GRAM_Z_MAX;
	return SPAM_GRAM_SCALE * (z - SPAM_GRAM_Z_OFFSET);
}
