/*
 * dmarc_seen.c — DMARC results counted for the reports tern sends
 * (dmarc_seen.h).
 *
 * Row text, tab-separated, fields never holding a tab or line end (they
 * become spaces): source IP, disposition, aligned DKIM (pass/fail),
 * aligned SPF (pass/fail), header_from, envelope_from, the number of
 * DKIM results n (at most DMARC_REPORT_AUTH_MAX), n times (domain,
 * selector, result), then SPF's domain, scope and result, then the
 * override reason (empty when none).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "report/dmarc_seen.h"
#include "store/store.h"

/* A row with every name and selector at 253 octets is about 2,700 octets;
 * 2048 dropped such rows (long multi-label DKIM selectors) from the
 * report. The store keeps rows of up to 4,000 (store_dmarc.c). */
#define ROW_MAX 4001
#define SLOTS (DMARC_SEEN_MEM_MAX * 2)

struct slot {
	uint32_t day; /* 0 = empty */
	uint32_t count;
	char *pdomain;
	char *row;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots; /* SLOTS of them, made on first use */
static size_t used;
static uint64_t dropped;

/* Appends s to out with tabs and line ends made spaces, then sep. */
static int field(char *out, size_t outsz, size_t *n, const char *s, char sep)
{
	for (s = s ? s : ""; *s; s++) {
		if (*n + 2 >= outsz)
			return -1;
		out[(*n)++] = (*s == '\t' || *s == '\r' || *s == '\n') ? ' ' : *s;
	}
	if (*n + 2 >= outsz)
		return -1;
	out[(*n)++] = sep;
	out[*n] = '\0';
	return 0;
}

int dmarc_seen_row_text(const struct dmarc_seen_msg *m, char *out, size_t outsz)
{
	const struct dmarc_verdict *v = m->verdict;
	size_t n = 0, nd = m->ndkim > DMARC_REPORT_AUTH_MAX ? DMARC_REPORT_AUTH_MAX : m->ndkim;
	char cnt[4];
	int rc = 0;

	snprintf(cnt, sizeof cnt, "%zu", nd);
	out[0] = '\0';
	rc |= field(out, outsz, &n, m->source_ip, '\t');
	/* Without what was applied: a fail's disposition; anything else
	 * (a temperror carries what a fail would get) none. */
	rc |= field(out, outsz, &n, m->applied ? m->applied
	                            : v->result != DMARC_RESULT_FAIL ? "none"
	                            : dmarc_policy_name(v->disposition), '\t');
	rc |= field(out, outsz, &n, v->dkim_aligned ? "pass" : "fail", '\t');
	rc |= field(out, outsz, &n, v->spf_aligned ? "pass" : "fail", '\t');
	rc |= field(out, outsz, &n, v->header_from, '\t');
	rc |= field(out, outsz, &n, m->envelope_from, '\t');
	rc |= field(out, outsz, &n, cnt, '\t');
	for (size_t i = 0; i < nd; i++) {
		rc |= field(out, outsz, &n, m->dkim[i].domain, '\t');
		rc |= field(out, outsz, &n, m->dkim[i].selector, '\t');
		rc |= field(out, outsz, &n, m->dkim[i].result, '\t');
	}
	rc |= field(out, outsz, &n, m->spf_domain, '\t');
	rc |= field(out, outsz, &n, m->spf_scope, '\t');
	rc |= field(out, outsz, &n, m->spf_result, '\t');
	rc |= field(out, outsz, &n, m->reason, '\0');
	return rc ? -1 : 0;
}

/* Copies the next tab-separated field of *p into dst (cut to dstsz). */
static int next(const char **p, char *dst, size_t dstsz)
{
	if (*p == NULL)
		return -1;
	const char *e = strchr(*p, '\t');
	size_t len = e ? (size_t)(e - *p) : strlen(*p);
	size_t k = len < dstsz - 1 ? len : dstsz - 1;
	memcpy(dst, *p, k);
	dst[k] = '\0';
	*p = e ? e + 1 : NULL;
	return 0;
}

int dmarc_seen_row_parse(const char *text, struct dmarc_report_row *r)
{
	const char *p = text;
	char nb[8];
	memset(r, 0, sizeof *r);
	if (next(&p, r->source_ip, sizeof r->source_ip) || next(&p, r->disposition, sizeof r->disposition) ||
	    next(&p, r->dkim, sizeof r->dkim) || next(&p, r->spf, sizeof r->spf) ||
	    next(&p, r->header_from, sizeof r->header_from) ||
	    next(&p, r->envelope_from, sizeof r->envelope_from) || next(&p, nb, sizeof nb))
		return -1;
	if (nb[0] < '0' || nb[0] > '0' + DMARC_REPORT_AUTH_MAX || nb[1])
		return -1;
	r->ndkim = (uint8_t)(nb[0] - '0');
	for (unsigned i = 0; i < r->ndkim; i++) {
		struct dmarc_report_auth *a = &r->dkim_auth[i];
		if (next(&p, a->domain, sizeof a->domain) || next(&p, a->selector, sizeof a->selector) ||
		    next(&p, a->result, sizeof a->result))
			return -1;
	}
	struct dmarc_report_auth *s = &r->spf_auth[0];
	if (next(&p, s->domain, sizeof s->domain) || next(&p, s->scope, sizeof s->scope) ||
	    next(&p, s->result, sizeof s->result) || next(&p, r->reason, sizeof r->reason) ||
	    p != NULL)
		return -1;
	r->nspf = s->domain[0] || s->result[0] ? 1 : 0;
	return 0;
}

static uint64_t hash(uint32_t day, const char *d, const char *row)
{
	uint64_t h = 1469598103934665603ull ^ day;
	for (const char *s = d; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h = (h ^ 0xFF) * 1099511628211ull;
	for (const char *s = row; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

void dmarc_seen_note(const struct dmarc_seen_msg *m, int64_t now)
{
	char row[ROW_MAX];
	const char *d = m->verdict->policy_domain;

	if (d[0] == '\0' || now < 86400 || dmarc_seen_row_text(m, row, sizeof row) != 0)
		return;
	uint32_t day = (uint32_t)(now / 86400);
	uint64_t h = hash(day, d, row);

	pthread_mutex_lock(&mu);
	if (slots == NULL)
		slots = xcalloc(SLOTS, sizeof *slots);
	for (size_t i = h % SLOTS;; i = (i + 1) % SLOTS) {
		struct slot *s = &slots[i];
		if (s->day == 0) {
			if (used == DMARC_SEEN_MEM_MAX) {
				dropped++;
				break;
			}
			s->day = day;
			s->count = 1;
			s->pdomain = xstrdup(d);
			s->row = xstrdup(row);
			used++;
			break;
		}
		if (s->day == day && strcmp(s->pdomain, d) == 0 && strcmp(s->row, row) == 0) {
			if (s->count < UINT32_MAX)
				s->count++;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
}

static int by_day_domain(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->pdomain, y->pdomain);
}

int dmarc_seen_flush(struct store *st)
{
	struct slot *take = NULL;
	size_t n = 0;

	pthread_mutex_lock(&mu);
	if (used) {
		take = xmalloc(used * sizeof *take);
		for (size_t i = 0; i < SLOTS; i++)
			if (slots[i].day) {
				take[n++] = slots[i];
				slots[i] = (struct slot){0};
			}
		used = 0;
	}
	pthread_mutex_unlock(&mu);
	if (n == 0)
		return 0;

	qsort(take, n, sizeof *take, by_day_domain);
	const char **rows = xmalloc(n * sizeof *rows);
	uint32_t *counts = xmalloc(n * sizeof *counts);
	int written = 0, failed = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i, k = 0;
		for (; j < n && take[j].day == take[i].day && strcmp(take[j].pdomain, take[i].pdomain) == 0; j++) {
			rows[k] = take[j].row;
			counts[k++] = take[j].count;
		}
		if (store_dmarc_seen_add(st, take[i].day, take[i].pdomain, rows, counts, k) == STORE_OK)
			written += (int)k;
		else {
			failed = 1;
			log_error("dmarc", NULL, "event=seen_flush_failed day=%u domain=%s rows=%zu",
			          take[i].day, take[i].pdomain, k);
		}
		i = j;
	}
	for (size_t i = 0; i < n; i++) {
		free(take[i].pdomain);
		free(take[i].row);
	}
	free(take);
	free(rows);
	free(counts);
	return failed ? -1 : written;
}

uint64_t dmarc_seen_dropped(void)
{
	pthread_mutex_lock(&mu);
	uint64_t d = dropped;
	pthread_mutex_unlock(&mu);
	return d;
}
