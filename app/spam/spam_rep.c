/*
 * spam_rep.c — the sender reputation table (spam_rep.h): the counts, the
 * corrections, and the record that keeps them across a restart.
 */
#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cidr.h"
#include "core/xalloc.h"
#include "spam/spam_private.h"
#include "spam/spam_rep.h"
#include "store/store.h"

#define REC_NAME "spam-rep/table"
#define REC_HDR 16 /* "TSR1", u32 count, i64 when decayed to (LE) */
#define REC_ENT 16 /* u64 key hash, f32 ham, f32 spam (LE) */

struct slot {
	uint64_t key; /* 0: empty */
	double ham, spam;
	int64_t at; /* when ham and spam were last decayed */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[SPAM_REP_SLOTS];
static unsigned notes_unsaved;

int spam_rep_ip_key(const char *ip, char *out, size_t outsz)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	out[0] = '\0';
	/* The DNS blocklists' rule (cidr_ip_global): behind an address that
	 * is not globally reachable are our own relays and fetchers, or a
	 * carrier's shared CGNAT range, not a sender's network. */
	if (!cidr_ip_global(ip))
		return -1;
	if (inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, outsz, "ip:%u.%u.%u.0/24", a[0], a[1], a[2]);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		if (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) /* v4-mapped: as v4 */
			return snprintf(txt, sizeof txt, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]),
			       spam_rep_ip_key(txt, out, outsz);
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, txt, sizeof txt);
		snprintf(out, outsz, "ip:%s/64", txt);
		return 0;
	}
	return -1;
}

int spam_rep_domain_key(const char *domain, char *out, size_t outsz)
{
	out[0] = '\0';
	if (!domain || !*domain || outsz < 5)
		return -1;
	size_t o = (size_t)snprintf(out, outsz, "dom:");
	for (const char *p = domain; *p && o + 1 < outsz; p++)
		out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	out[o] = '\0';
	return 0;
}

static uint64_t key_hash(const char *key)
{
	uint64_t h = spam_hash(key, strlen(key), 0x7265707574ull);
	return h ? h : 1;
}

/* Brings s's counts to now. */
static void decay(struct slot *s, int64_t now)
{
	if (now > s->at) {
		double f = pow(0.5, (double)(now - s->at) / SPAM_REP_HALF_LIFE);
		s->ham *= f;
		s->spam *= f;
		s->at = now;
	}
}

/* The slot of h, or NULL; with make, a new one in the weakest slot of
 * the probe when h has none. Under lock. */
static struct slot *find(uint64_t h, int64_t now, int make)
{
	struct slot *weak = NULL;
	double weakest = 0;
	for (unsigned i = 0; i < SPAM_REP_PROBE; i++) {
		struct slot *s = &table[(h + i) % SPAM_REP_SLOTS];
		if (s->key == h)
			return s;
		double w = 0;
		if (s->key) {
			decay(s, now);
			w = s->ham + s->spam;
		}
		if (!weak || w < weakest) {
			weak = s;
			weakest = w;
		}
	}
	if (!make)
		return NULL;
	*weak = (struct slot){h, 0, 0, now};
	return weak;
}

/* Adds n (negative: takes back, never below 0, and never makes a
 * slot) verdicts is_spam's way to key's counts. */
static void add(const char *key, int is_spam, double n, int64_t now)
{
	if (!key || !*key)
		return;
	uint64_t h = key_hash(key);
	pthread_mutex_lock(&lock);
	struct slot *s = find(h, now, n > 0);
	if (s) {
		decay(s, now);
		double *c = is_spam ? &s->spam : &s->ham;
		*c = *c + n > 0 ? *c + n : 0;
		notes_unsaved++;
	}
	pthread_mutex_unlock(&lock);
}

void spam_rep_note(const char *key, int is_spam, int64_t now)
{
	add(key, is_spam, 1, now);
}

void spam_rep_correct(const char *key, int is_spam, int64_t now)
{
	add(key, is_spam, SPAM_REP_CORRECTION, now);
}

void spam_rep_uncorrect(const char *key, int is_spam, int64_t now)
{
	add(key, is_spam, -SPAM_REP_CORRECTION, now);
}

int spam_rep_save_due(void)
{
	pthread_mutex_lock(&lock);
	int due = notes_unsaved >= SPAM_REP_SAVE_EVERY;
	if (due)
		notes_unsaved = 0;
	pthread_mutex_unlock(&lock);
	return due;
}

int spam_rep_get(const char *key, int64_t now, double *ham_r, double *spam_r)
{
	*ham_r = *spam_r = 0;
	if (!key || !*key)
		return -1;
	uint64_t h = key_hash(key);
	pthread_mutex_lock(&lock);
	struct slot *s = find(h, now, 0);
	if (s) {
		decay(s, now);
		*ham_r = s->ham;
		*spam_r = s->spam;
	}
	pthread_mutex_unlock(&lock);
	return s ? 0 : -1;
}

double spam_rep_weight(double ham, double spam)
{
	double n = ham + spam;
	if (n < SPAM_REP_MIN)
		return 0;
	double rate = (spam - ham) / n, trust = n / (n + 8.0);
	double w = rate * trust * (rate > 0 ? SPAM_REP_SPAM_MAX : SPAM_REP_HAM_MAX);
	return fabs(w) < 0.05 ? 0 : round(w * 100) / 100;
}

double spam_rep_rule(const char *key, const char *name, int64_t now, struct spam_result *res)
{
	double ham, spam;
	if (spam_rep_get(key, now, &ham, &spam) != 0)
		return 0;
	double w = spam_rep_weight(ham, spam);
	if (w == 0)
		return 0;
	char desc[800]; /* spam_result_add_desc cuts it */
	const char *k = strchr(key, ':');
	snprintf(desc, sizeof desc, "%.60s: %.1f spam, %.1f ham verdicts (decayed)", k ? k + 1 : key,
		 spam, ham);
	spam_result_add_desc(res, name, w, desc);
	return w;
}

void spam_rep_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(table, 0, sizeof table);
	pthread_mutex_unlock(&lock);
}

/* ---- persistence ---- */

static void putf(unsigned char *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	spam_put32(p, v);
}

static float getf(const unsigned char *p)
{
	uint32_t v = spam_le32(p);
	float f;
	memcpy(&f, &v, 4);
	return f;
}

struct kept {
	uint64_t key;
	float ham, spam;
};

static int cmp_kept(const void *x, const void *y)
{
	const struct kept *a = x, *b = y;
	float u = a->ham + a->spam, v = b->ham + b->spam;
	return u < v ? 1 : u > v ? -1 : (a->key > b->key) - (a->key < b->key);
}

int spam_rep_save(struct store *st, int64_t now)
{
	struct kept *k = xmalloc(SPAM_REP_SLOTS * sizeof *k);
	size_t n = 0;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SPAM_REP_SLOTS; i++) {
		struct slot *s = &table[i];
		if (!s->key)
			continue;
		decay(s, now);
		if (s->ham + s->spam >= 0.01)
			k[n++] = (struct kept){s->key, (float)s->ham, (float)s->spam};
	}
	notes_unsaved = 0;
	pthread_mutex_unlock(&lock);
	/* the strongest first, so the cut keeps what weighs */
	qsort(k, n, sizeof *k, cmp_kept);
	if (n > SPAM_REP_KEEP)
		n = SPAM_REP_KEEP;
	unsigned char *rec = xmalloc(REC_HDR + n * REC_ENT);
	memcpy(rec, "TSR1", 4);
	spam_put32(rec + 4, (uint32_t)n);
	spam_put64(rec + 8, (uint64_t)now);
	for (size_t i = 0; i < n; i++) {
		unsigned char *e = rec + REC_HDR + i * REC_ENT;
		spam_put64(e, k[i].key);
		putf(e + 8, k[i].ham);
		putf(e + 12, k[i].spam);
	}
	int rc = store_meta_put(st, REC_NAME, rec, REC_HDR + n * REC_ENT, 0);
	free(rec);
	free(k);
	return rc;
}

int spam_rep_load(struct store *st)
{
	size_t cap = REC_HDR + SPAM_REP_KEEP * REC_ENT, len = 0;
	unsigned char *rec = xmalloc(cap);
	int rc = store_meta_get(st, REC_NAME, rec, cap, &len);
	if (rc != STORE_OK) {
		free(rec);
		return rc == STORE_ENOTFOUND ? 0 : rc;
	}
	uint32_t n = len >= REC_HDR ? spam_le32(rec + 4) : 0;
	if (len < REC_HDR || memcmp(rec, "TSR1", 4) || n > SPAM_REP_KEEP ||
	    len != REC_HDR + (size_t)n * REC_ENT) {
		free(rec);
		return 0;
	}
	int64_t at = (int64_t)spam_le64(rec + 8);
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *e = rec + REC_HDR + (size_t)i * REC_ENT;
		uint64_t key = spam_le64(e);
		float ham = getf(e + 8), spam = getf(e + 12);
		if (!key || !(ham >= 0) || !(spam >= 0))
			continue; /* not ours (NaN, negative) */
		struct slot *s = find(key, at, 1);
		decay(s, at);
		s->ham += ham;
		s->spam += spam;
	}
	pthread_mutex_unlock(&lock);
	free(rec);
	return 0;
}
