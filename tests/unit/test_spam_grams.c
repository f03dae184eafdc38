/*
 * test_spam_grams.c — the byte-gram regression (spam_grams.c): the grams
 * of a message (tern's own fields left out, distinct, bounded), the
 * lessons record (add, remove, damaged), fitting from lessons stored by spam_train on the global
 * model, the GRAMS_SPAM / GRAMS_HAM rule it adds, no weights while a
 * class has too few lessons, exact forgetting (the weights after
 * training and forgetting a message are those without it), a damaged
 * weights record refused, and trap lessons fitted at most once a minute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam.h"
#include "spam/spam_private.h"
#include "store/store.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

#define BODY "\r\nHello Bob, the minutes of the meeting are attached.\r\n"
#define HDR                                                                                        \
	"From: Ann <ann@friend.example>\r\nTo: bob@ours.example\r\nSubject: minutes\r\n"          \
	"Message-ID: <7@friend.example>\r\n"

static size_t grams_of(const char *msg, uint32_t *g)
{
	struct spam_msg *m;
	spam_msg_new(msg, strlen(msg), &m);
	size_t n = spam_grams(m, g);
	spam_msg_free(&m);
	return n;
}

static void test_grams(void)
{
	uint32_t *a = malloc(SPAM_GRAM_TEXT * sizeof *a), *b = malloc(SPAM_GRAM_TEXT * sizeof *b);
	size_t na = grams_of(HDR BODY, a);
	CHECK(na > 50);
	size_t bad = 0;
	for (size_t i = 0; i < na; i++) {
		bad += a[i] >= (1u << SPAM_GRAM_BITS);
		for (size_t j = 0; j < i; j++)
			bad += a[j] == a[i]; /* distinct */
	}
	CHECK_EQ_INT((int)bad, 0);
	/* the fields tern adds change nothing */
	size_t nb = grams_of("X-Spam-Status: Yes, score=9.00\r\n"
	                     "Authentication-Results: mx.ours.example; spf=pass\r\n"
	                     "Received: from a.example ([192.0.2.1])\r\n\tby mx.ours.example (tern) "
	                     "with ESMTPS id 1.2; Mon, 2 Sep 2024 10:00:00 +0000\r\n" HDR BODY,
	                     b);
	CHECK_EQ_INT((int)nb, (int)na);
	CHECK(nb == na && memcmp(a, b, na * sizeof *a) == 0);
	/* another relay's Received is the sender's trace: it counts */
	nb = grams_of("Received: from a.example by relay.example with SMTP\r\n" HDR BODY, b);
	CHECK(nb > na);
	/* a long message: only its start */
	char *big = malloc(200000);
	size_t off = (size_t)snprintf(big, 200000, "%s\r\n", HDR);
	for (unsigned i = 0; off < 190000; i++)
		off += (size_t)snprintf(big + off, 200000 - off, "line %u of a long text %x\r\n", i,
		                        i * 2654435761u);
	nb = grams_of(big, b);
	CHECK(nb <= SPAM_GRAM_TEXT - 3);
	free(big);
	free(a);
	free(b);
}

/* The lessons record: added, removed by id and class, and a damaged one
 * keeps the lessons before the damage. */
static void test_lessons(void)
{
	uint32_t g1[] = {3, 70, 5000, 1048575}, g2[] = {1, 2, 900000};
	struct spam_gram_lesson l[2] = {{'s', 11, 4, g1}, {'h', 22, 3, g2}};
	struct buf a, b;
	uint32_t ns, nh;
	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	CHECK_EQ_INT(spam_grams_lessons_edit(NULL, 0, l, 2, 1, &a), 0);
	spam_grams_lessons_count(buf_data(&a), buf_len(&a), &ns, &nh);
	CHECK(ns == 1 && nh == 1);
	/* cut inside the second lesson: the first is still there */
	spam_grams_lessons_count(buf_data(&a), buf_len(&a) - 2, &ns, &nh);
	CHECK(ns == 1 && nh == 0);
	/* removing needs the id and the class */
	struct spam_gram_lesson wrong = {'s', 22, 0, NULL};
	CHECK_EQ_INT(spam_grams_lessons_edit(buf_data(&a), buf_len(&a), &wrong, 1, -1, &b), 0);
	spam_grams_lessons_count(buf_data(&b), buf_len(&b), &ns, &nh);
	CHECK(ns == 1 && nh == 1);
	buf_reset(&b);
	CHECK_EQ_INT(spam_grams_lessons_edit(buf_data(&a), buf_len(&a), &l[0], 1, -1, &b), 0);
	spam_grams_lessons_count(buf_data(&b), buf_len(&b), &ns, &nh);
	CHECK(ns == 0 && nh == 1);
	/* not a lessons record: none */
	spam_grams_lessons_count("TGW1xxxxxxxxxxxxxxxx", 20, &ns, &nh);
	CHECK(ns == 0 && nh == 0);
	buf_free(&a);
	buf_free(&b);
}

static void mk(char *out, size_t cap, int spam, int i)
{
	if (spam)
		snprintf(out, cap,
		         "From: \"Deals\" <offer%d@promo%d.example>\r\nTo: undisclosed-recipients:;\r\n"
		         "Subject: LIMITED OFFER %d\r\nX-Mailer: MassBlaster 9\r\n"
		         "Content-Type: text/html\r\n\r\n<html><body><b>BUY NOW</b> cheap pills %d "
		         "click <a href=\"http://promo%d.example/\">here</a></body></html>\r\n",
		         i, i % 7, i, i * 31, i % 7);
	else
		snprintf(out, cap,
		         "From: Ann <ann%d@friend.example>\r\nTo: bob@ours.example\r\n"
		         "Subject: re: the build %d\r\nUser-Agent: Mutt/1.5\r\n"
		         "In-Reply-To: <%d@ours.example>\r\n\r\nBob, the build of branch %d passed; "
		         "see you at the review on Tuesday.\r\n",
		         i % 5, i, i, i * 17);
}

static void train(struct store *st, int spam, int i, int sign)
{
	char msg[2048];
	struct spam_msg *m;
	mk(msg, sizeof msg, spam, i);
	spam_msg_new(msg, strlen(msg), &m);
	CHECK_EQ_INT(sign > 0 ? spam_train(st, 0, m, spam) : spam_forget(st, 0, m, spam), 0);
	spam_msg_free(&m);
}

/* The GRAMS_* rule's weight for a message (0 and *has_r 0 when none). */
static double grams_rule(struct store *st, const char *msg, int *has_r)
{
	struct spam_msg *m;
	struct spam_result r;
	spam_msg_new(msg, strlen(msg), &m);
	spam_result_init(&r);
	CHECK_EQ_INT(spam_analyse(st, 0, m, &r), 0);
	spam_msg_free(&m);
	*has_r = 0;
	for (uint32_t i = 0; i < r.nrules; i++)
		if (!strncmp(r.rules[i].name, "GRAMS_", 6)) {
			*has_r = 1;
			return r.rules[i].weight;
		}
	return 0;
}

struct copy {
	char *p;
	size_t len;
};

static void on_weights(void *arg, const struct str *recs)
{
	struct copy *c = arg;
	free(c->p);
	c->p = NULL;
	c->len = recs[0].len;
	if (recs[0].p) {
		c->p = malloc(c->len);
		memcpy(c->p, recs[0].p, c->len);
	}
}

static void test_fit(void)
{
	uint32_t acc;
	struct store *st = unit_store_with_account(base, 0, "bob@ours.example", &acc);
	if (!st)
		return;
	char msg[2048];
	int has;
	/* one class only, or too few of the other: no weights, no rule */
	for (int i = 0; i < SPAM_GRAM_MIN_LESSONS; i++)
		train(st, 1, i, 1);
	for (int i = 0; i < SPAM_GRAM_MIN_LESSONS - 1; i++)
		train(st, 0, i, 1);
	mk(msg, sizeof msg, 1, 100);
	grams_rule(st, msg, &has);
	CHECK(!has);
	train(st, 0, SPAM_GRAM_MIN_LESSONS - 1, 1);

	/* both classes: new messages of each kind get their side */
	mk(msg, sizeof msg, 1, 100);
	double ws = grams_rule(st, msg, &has);
	CHECK(has);
	CHECK(ws > 0);
	mk(msg, sizeof msg, 0, 100);
	double wh = grams_rule(st, msg, &has);
	CHECK(has);
	CHECK(wh < 0);
	uint32_t g[SPAM_GRAM_TEXT];
	double z;
	CHECK_EQ_INT(spam_grams_score(STR_LIT("TGW1 too short"), g, 0, &z), -1);

	/* forgetting is exact: train one more, forget it, same weights */
	struct copy before = {0}, after = {0};
	uint32_t zero = 0;
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &before), 0);
	CHECK(before.p != NULL);
	train(st, 1, 500, 1);
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &after), 0);
	CHECK(after.len == before.len && memcmp(after.p, before.p, before.len) != 0);
	train(st, 1, 500, -1);
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &after), 0);
	CHECK(after.len == before.len && memcmp(after.p, before.p, before.len) == 0);

	/* trap lessons: kept at once, fitted at most once a minute */
	uint32_t ns0, nh0, ns, nh;
	int fitted;
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &after), 0);
	spam_grams_status(str_make(after.p, after.len), &ns0, &nh0, &fitted);
	CHECK(fitted);
	struct spam_msg *m;
	mk(msg, sizeof msg, 1, 600);
	spam_msg_new(msg, strlen(msg), &m);
	CHECK_EQ_INT(spam_train_trap(st, m), 0); /* the first fits */
	spam_msg_free(&m);
	mk(msg, sizeof msg, 1, 601);
	spam_msg_new(msg, strlen(msg), &m);
	CHECK_EQ_INT(spam_train_trap(st, m), 0); /* the second waits */
	spam_msg_free(&m);
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &after), 0);
	spam_grams_status(str_make(after.p, after.len), &ns, &nh, &fitted);
	CHECK_EQ_INT((int)ns, (int)ns0 + 1);
	train(st, 0, 700, 1); /* any other training brings it in */
	CHECK_EQ_INT(store_spam_get(st, &zero, 1, STORE_SPAM_GRAMS, on_weights, &after), 0);
	spam_grams_status(str_make(after.p, after.len), &ns, &nh, &fitted);
	CHECK_EQ_INT((int)ns, (int)ns0 + 2);
	CHECK_EQ_INT((int)nh, (int)nh0 + 1);
	free(before.p);
	free(after.p);
	store_close(&st);
}

/* The fit is the same whatever order its lessons come in (a directory's
 * files come in the order the file system lists them), and it separates
 * the classes it learned. */
static void test_fit_order(void)
{
	enum { N = 60 };
	static struct spam_gram_lesson ls[N];
	const struct spam_gram_lesson *fwd[N], *rev[N];
	char msg[2048];
	for (int i = 0; i < N; i++) {
		struct spam_msg *m;
		mk(msg, sizeof msg, i % 2, i);
		spam_msg_new(msg, strlen(msg), &m);
		ls[i].g = malloc(SPAM_GRAM_TEXT * sizeof *ls[i].g);
		spam_gram_lesson_of(m, i % 2, &ls[i]);
		spam_msg_free(&m);
		fwd[i] = &ls[i];
		rev[N - 1 - i] = &ls[i];
	}
	size_t nw = (size_t)1 << SPAM_GRAM_BITS;
	float *a = malloc(nw * sizeof *a), *b = malloc(nw * sizeof *b);
	double ba, bb;
	spam_grams_fit_weights(fwd, N, a, &ba);
	spam_grams_fit_weights(rev, N, b, &bb);
	CHECK(ba == bb && memcmp(a, b, nw * sizeof *a) == 0);
	int right = 0;
	for (int i = 0; i < N; i++) {
		double z = ba;
		for (uint32_t k = 0; k < ls[i].n; k++)
			z += a[ls[i].g[k]];
		right += (z > 0) == (i % 2);
	}
	CHECK_EQ_INT(right, N);
	/* Cross-validation's other seed base (spam-cv's CV_FIT_SEED) fits
	 * other orders, and the built one the same weights again. */
	uint64_t seed0 = spam_grams_fit_seed;
	spam_grams_fit_seed += 0xd1b54a32d192ed03ull;
	spam_grams_fit_weights(fwd, N, b, &bb);
	CHECK(ba != bb && memcmp(a, b, nw * sizeof *a) != 0);
	spam_grams_fit_seed = seed0;
	spam_grams_fit_weights(rev, N, b, &bb);
	CHECK(ba == bb && memcmp(a, b, nw * sizeof *a) == 0);
	/* A class weight on ham lessons (SPAM_GRAM_HAM_WEIGHT, spam-cv's
	 * CV_GRAM_HAM_W) moves the fit towards ham (a lower bias): an
	 * unweighted fit has a higher one; the built weight is tern's fit
	 * again. */
	CHECK(spam_grams_ham_weight == SPAM_GRAM_HAM_WEIGHT && SPAM_GRAM_HAM_WEIGHT > 1);
	spam_grams_ham_weight = 1;
	spam_grams_fit_weights(fwd, N, b, &bb);
	CHECK(bb > ba && memcmp(a, b, nw * sizeof *a) != 0);
	spam_grams_ham_weight = SPAM_GRAM_HAM_WEIGHT;
	spam_grams_fit_weights(fwd, N, b, &bb);
	CHECK(ba == bb && memcmp(a, b, nw * sizeof *a) == 0);
	for (int i = 0; i < N; i++)
		free(ls[i].g);
	free(a);
	free(b);
}

int main(void)
{
	test_grams();
	test_lessons();
	test_fit_order();
	if (unit_env_begin(base, sizeof base, "spamgrams") == 0) {
		test_fit();
		unit_rmrf(base);
	}
	return unit_done("test_spam_grams");
}
