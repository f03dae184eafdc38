/*
 * metrics.c — counters and the hourly table. See metrics.h.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t counters[METRIC_COUNT];

/* 0.25 ms .. 5 s: a commit on a fast SSD lands in the first buckets, one
 * on a busy spinning disk or a network volume in the middle, a stalled
 * disk at the top. */
const uint64_t metric_hist_bounds_us[METRIC_HIST_BUCKETS] = {
	250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

/* Per histogram: observations per bucket (not cumulative; the last slot
 * is above every bound) and the sum. */
static struct {
	uint64_t n[METRIC_HIST_BUCKETS + 1];
	uint64_t sum_us;
} hists[HIST_COUNT];
static pthread_mutex_t hours_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_hour hours[METRICS_HOURS]; /* slot = hour number % METRICS_HOURS */

static void hour_add(enum metric m, uint64_t n)
{
	int64_t h = (int64_t)time(NULL) / 3600;
	struct metrics_hour *e = &hours[(uint64_t)h % METRICS_HOURS];

	pthread_mutex_lock(&hours_lock);
	if (e->start != h * 3600) {
		memset(e, 0, sizeof(*e));
		e->start = h * 3600;
	}
	if (m == METRIC_RECEIVED)
		e->received += n;
	else if (m == METRIC_SENT)
		e->sent += n;
	else
		e->rejected += n;
	pthread_mutex_unlock(&hours_lock);
}

void metrics_add(enum metric m, uint64_t n)
{
	if ((unsigned)m >= METRIC_COUNT)
		return;
	__atomic_add_fetch(&counters[m], n, __ATOMIC_RELAXED);
	if (m == METRIC_RECEIVED || m == METRIC_SENT || m == METRIC_REJECTED)
		hour_add(m, n);
}

void metrics_inc(enum metric m)
{
	metrics_add(m, 1);
}

uint64_t metrics_get(enum metric m)
{
	if ((unsigned)m >= METRIC_COUNT)
		return 0;
	return __atomic_load_n(&counters[m], __ATOMIC_RELAXED);
}

void metrics_hours(int64_t now, struct metrics_hour out[METRICS_HOURS])
{
	int64_t cur = now / 3600;

	pthread_mutex_lock(&hours_lock);
	for (int i = 0; i < METRICS_HOURS; i++) {
		int64_t h = cur - (METRICS_HOURS - 1) + i;
		const struct metrics_hour *e = &hours[(uint64_t)h % METRICS_HOURS];
		if (e->start == h * 3600)
			out[i] = *e;
		else
			out[i] = (struct metrics_hour){ .start = h * 3600 };
	}
	pthread_mutex_unlock(&hours_lock);
}

size_t metrics_hours_save(int64_t now, char *out, size_t outsz)
{
	struct metrics_hour v[METRICS_HOURS];
	size_t o = 0;

	metrics_hours(now, v);
	out[0] = '\0';
	for (int i = 0; i < METRICS_HOURS; i++) {
		if (!v[i].received && !v[i].sent && !v[i].rejected)
			continue;
		int k = snprintf(out + o, outsz - o, "%lld %llu %llu %llu\n", (long long)v[i].start,
				 (unsigned long long)v[i].received, (unsigned long long)v[i].sent,
				 (unsigned long long)v[i].rejected);
		if (k < 0 || (size_t)k >= outsz - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)k;
	}
	return o;
}

void metrics_hours_load(int64_t now, const char *text, size_t len)
{
	int64_t cur = now / 3600;
	char line[96];

	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		if (n < sizeof line) {
			long long start;
			unsigned long long r, s, j;
			memcpy(line, text, n);
			line[n] = '\0';
			if (sscanf(line, "%lld %llu %llu %llu", &start, &r, &s, &j) == 4 && start >= 0 &&
			    start % 3600 == 0 && start / 3600 <= cur &&
			    start / 3600 > cur - METRICS_HOURS) {
				struct metrics_hour *e = &hours[(uint64_t)(start / 3600) % METRICS_HOURS];
				pthread_mutex_lock(&hours_lock);
				if (e->start != start) {
					memset(e, 0, sizeof(*e));
					e->start = start;
				}
				e->received += r;
				e->sent += s;
				e->rejected += j;
				pthread_mutex_unlock(&hours_lock);
			}
		}
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
}

void metrics_observe_us(enum metric_hist h, uint64_t us)
{
	if ((unsigned)h >= HIST_COUNT)
		return;
	size_t i = 0;
	while (i < METRIC_HIST_BUCKETS && us > metric_hist_bounds_us[i])
		i++;
	__atomic_add_fetch(&hists[h].n[i], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&hists[h].sum_us, us, __ATOMIC_RELAXED);
}

void metrics_hist_get(enum metric_hist h, struct metric_hist_snapshot *out)
{
	uint64_t total = 0;

	memset(out, 0, sizeof(*out));
	if ((unsigned)h >= HIST_COUNT)
		return;
	for (size_t i = 0; i <= METRIC_HIST_BUCKETS; i++) {
		total += __atomic_load_n(&hists[h].n[i], __ATOMIC_RELAXED);
		if (i < METRIC_HIST_BUCKETS)
			out->le[i] = total;
	}
	out->count = total;
	out->sum_us = __atomic_load_n(&hists[h].sum_us, __ATOMIC_RELAXED);
}

static const char *const auth_checks[METRIC_AUTH_COUNT] = {"iprev", "spf", "dkim", "arc", "dmarc", "action"};
static const char *const auth_results[METRIC_AUTH_RESULTS] = {
    "none", "pass", "fail", "neutral", "softfail", "policy", "temperror", "permerror",
    "accept", "junk", "reject", "tempfail",
};
static uint64_t auth_counters[METRIC_AUTH_COUNT][METRIC_AUTH_RESULTS];

/* Which results each check has: a bit per auth_results entry. */
static const unsigned auth_valid[METRIC_AUTH_COUNT] = {
    [METRIC_AUTH_IPREV] = 0x00c6,  /* pass fail temperror permerror */
    [METRIC_AUTH_SPF] = 0x00df,    /* none pass fail neutral softfail temperror permerror */
    [METRIC_AUTH_DKIM] = 0x00ef,   /* none pass fail neutral policy temperror permerror */
    [METRIC_AUTH_ARC] = 0x0007,    /* none pass fail */
    [METRIC_AUTH_DMARC] = 0x00c7,  /* none pass fail temperror permerror */
    [METRIC_AUTH_ACTION] = 0x0f00, /* accept junk reject tempfail */
};

void metrics_auth_inc(enum metric_auth check, const char *result)
{
	if ((unsigned)check >= METRIC_AUTH_COUNT || !result)
		return;
	for (unsigned i = 0; i < METRIC_AUTH_RESULTS; i++)
		if ((auth_valid[check] >> i & 1) && strcmp(auth_results[i], result) == 0) {
			__atomic_add_fetch(&auth_counters[check][i], 1, __ATOMIC_RELAXED);
			return;
		}
}

int metrics_auth_get(enum metric_auth check, unsigned i, const char **check_r,
		     const char **result_r, uint64_t *count_r)
{
	if ((unsigned)check >= METRIC_AUTH_COUNT || i >= METRIC_AUTH_RESULTS || !(auth_valid[check] >> i & 1))
		return -1;
	*check_r = auth_checks[check];
	*result_r = auth_results[i];
	*count_r = __atomic_load_n(&auth_counters[check][i], __ATOMIC_RELAXED);
	return 0;
}
