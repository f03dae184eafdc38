/*
 * tlsrpt_seen.c — outbound TLS outcomes counted for TLS-RPT
 * (tlsrpt_seen.h).
 */
#include "report/tlsrpt_seen.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "store/store.h"

#define ROW_MAX 1024
#define RECORD_MAX (60 * 1024) /* under meta's 64 KiB */

struct mem_row {
	uint32_t day;
	char domain[256];
	char *row;
	uint32_t count;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct mem_row *mem;
static size_t nmem;
static atomic_uint_least64_t dropped;

/* Copies s into out without the bytes that would break a row (tabs, line ends, separators). */
static void clean(char *out, size_t outsz, const char *s)
{
	size_t n = 0;
	for (; s && *s && n + 1 < outsz; s++)
		if ((unsigned char)*s >= 0x20 && *s != 0x7f)
			out[n++] = *s;
	out[n] = '\0';
}

static int row_text(const struct tlsrpt_seen_sess *s, char *out, size_t outsz)
{
	const char *type = tlsrpt_policy_type_name(s->type);
	int n;
	if (s->policy) {
		/* The policy row: its lines joined by 0x1f. */
		char pol[ROW_MAX - 32];
		size_t k = 0;
		for (const char *p = s->policy; *p && k + 1 < sizeof pol; p++) {
			if (*p == '\n')
				pol[k++] = 0x1f;
			else if ((unsigned char)*p >= 0x20 && *p != 0x7f)
				pol[k++] = *p;
		}
		pol[k] = '\0';
		n = snprintf(out, outsz, "P\t%s\t%s", type, pol);
	} else if (s->ok) {
		n = snprintf(out, outsz, "S\t%s", type);
	} else {
		char mx[256], ip[48], info[256], our[48];
		clean(mx, sizeof mx, s->mx);
		clean(ip, sizeof ip, s->ip);
		clean(info, sizeof info, s->info);
		clean(our, sizeof our, s->sending_ip);
		n = snprintf(out, outsz, "F\t%s\t%s\t%s\t%s\t%s\t%s", type, tlsrpt_result_name(s->result),
			     mx, ip, info, our);
	}
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static void add(uint32_t day, const char *domain, const char *row)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nmem; i++)
		if (mem[i].day == day && strcmp(mem[i].row, row) == 0 &&
		    strcmp(mem[i].domain, domain) == 0) {
			mem[i].count++;
			pthread_mutex_unlock(&mu);
			return;
		}
	if (nmem == TLSRPT_SEEN_MEM_MAX) {
		pthread_mutex_unlock(&mu);
		atomic_fetch_add(&dropped, 1);
		return;
	}
	if ((nmem & (nmem - 1)) == 0)
		mem = xrealloc(mem, (nmem ? nmem * 2 : 1) * sizeof *mem);
	struct mem_row *m = &mem[nmem++];
	m->day = day;
	snprintf(m->domain, sizeof m->domain, "%s", domain);
	m->row = xstrdup(row);
	m->count = 1;
	pthread_mutex_unlock(&mu);
}

void tlsrpt_seen_note(const struct tlsrpt_seen_sess *s, int64_t now)
{
	char row[ROW_MAX], dom[256];
	if (!s->domain || !s->domain[0] || strlen(s->domain) >= sizeof dom)
		return;
	/* Policy domains compare in lower case (the queue groups them so). */
	size_t i = 0;
	for (; s->domain[i]; i++)
		dom[i] = (char)(s->domain[i] >= 'A' && s->domain[i] <= 'Z' ? s->domain[i] + 32
									   : s->domain[i]);
	dom[i] = '\0';
	if (strchr(dom, '/') || row_text(s, row, sizeof row) < 0)
		return;
	uint32_t day = (uint32_t)(now / 86400);
	if (s->policy) {
		/* The policy is noted with every session that used it: keep one. */
		pthread_mutex_lock(&mu);
		for (size_t k = 0; k < nmem; k++)
			if (mem[k].day == day && strcmp(mem[k].row, row) == 0 &&
			    strcmp(mem[k].domain, dom) == 0) {
				pthread_mutex_unlock(&mu);
				return;
			}
		pthread_mutex_unlock(&mu);
	}
	add(day, dom, row);
}

uint64_t tlsrpt_seen_dropped(void)
{
	return atomic_load(&dropped);
}

int tlsrpt_seen_lock(struct store *st)
{
	char lp[4096];
	snprintf(lp, sizeof lp, "%s/tlsrpt-report.lock", store_data_dir(st));
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

void tlsrpt_seen_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the lock */
}

/* A record's rows: (count, row) pairs over one text. */
struct rec {
	char **row;
	uint32_t *count;
	size_t n;
};

static void rec_parse(char *text, size_t len, struct rec *r)
{
	char *p = text, *end = text + len;
	r->row = xcalloc(TLSRPT_SEEN_ROWS_MAX + 1, sizeof *r->row);
	r->count = xcalloc(TLSRPT_SEEN_ROWS_MAX + 1, sizeof *r->count);
	r->n = 0;
	while (p < end && r->n < TLSRPT_SEEN_ROWS_MAX) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		*nl = '\0';
		char *tab = strchr(p, '\t');
		if (tab) {
			*tab = '\0';
			r->count[r->n] = (uint32_t)strtoul(p, NULL, 10);
			r->row[r->n++] = tab + 1;
		}
		p = nl + 1;
	}
}

/* Whether rows a and b are policy rows of the same type. */
static int same_policy(const char *a, const char *b)
{
	if (a[0] != 'P' || b[0] != 'P')
		return 0;
	const char *ea = strchr(a + 2, '\t'), *eb = strchr(b + 2, '\t');
	return ea && eb && ea - a == eb - b && memcmp(a, b, (size_t)(ea - a)) == 0;
}

/* Merges mem rows [from, to) (one day and domain) into their record. -1 when the write failed. */
static int flush_group(struct store *st, struct mem_row *m, size_t from, size_t to)
{
	char key[300];
	char *text = xmalloc(RECORD_MAX + 1);
	size_t len = 0;
	struct rec r;
	int rc = 0;

	snprintf(key, sizeof key, TLSRPT_SEEN_PREFIX "%08u/%s", m[from].day, m[from].domain);
	if (store_meta_get(st, key, text, RECORD_MAX, &len) != STORE_OK)
		len = 0;
	rec_parse(text, len, &r);
	for (size_t i = from; i < to; i++) {
		size_t k;
		for (k = 0; k < r.n; k++)
			if (strcmp(r.row[k], m[i].row) == 0 || same_policy(r.row[k], m[i].row))
				break;
		if (k < r.n && m[i].row[0] == 'P') {
			r.row[k] = m[i].row; /* the latest policy wins */
			r.count[k] = 1;
		} else if (k < r.n) {
			r.count[k] += m[i].count;
		} else if (r.n < TLSRPT_SEEN_ROWS_MAX) {
			r.row[r.n] = m[i].row;
			r.count[r.n++] = m[i].count;
		} else {
			atomic_fetch_add(&dropped, m[i].count);
		}
	}
	struct buf b;
	buf_init(&b, RECORD_MAX);
	for (size_t k = 0; k < r.n; k++)
		if (buf_printf(&b, "%u\t%s\n", r.count[k], r.row[k]) != 0)
			break; /* full: the rows that fit are kept */
	if (store_meta_put(st, key, buf_data(&b), buf_len(&b), 0) != STORE_OK) {
		log_error("tlsrpt", NULL, "event=seen_write_failed domain=%s", m[from].domain);
		rc = -1;
	}
	buf_free(&b);
	free(r.row);
	free(r.count);
	free(text);
	return rc;
}

static int by_group(const void *a, const void *b)
{
	const struct mem_row *x = a, *y = b;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

int tlsrpt_seen_flush(struct store *st)
{
	pthread_mutex_lock(&mu);
	struct mem_row *m = mem;
	size_t n = nmem;
	mem = NULL;
	nmem = 0;
	pthread_mutex_unlock(&mu);
	if (n == 0)
		return 0;
	/* Stable enough: rows of one group keep no order that matters but the
	 * policy's, and a group holds one policy row per type. */
	qsort(m, n, sizeof *m, by_group);
	int fd = tlsrpt_seen_lock(st), rc = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && m[j].day == m[i].day && strcmp(m[j].domain, m[i].domain) == 0)
			j++;
		if (flush_group(st, m, i, j) < 0)
			rc = -1;
		i = j;
	}
	tlsrpt_seen_unlock(fd);
	for (size_t i = 0; i < n; i++)
		free(m[i].row);
	free(m);
	return rc < 0 ? -1 : (int)n;
}

static int type_of(const char *s, enum tlsrpt_policy_type *t)
{
	for (int i = TLSRPT_STS; i <= TLSRPT_NO_POLICY; i++)
		if (strcmp(s, tlsrpt_policy_type_name((enum tlsrpt_policy_type)i)) == 0) {
			*t = (enum tlsrpt_policy_type)i;
			return 0;
		}
	return -1;
}

static int result_of(const char *s, enum tlsrpt_result *r)
{
	for (int i = TLSRPT_STARTTLS_NOT_SUPPORTED; i <= TLSRPT_STS_WEBPKI_INVALID; i++)
		if (strcmp(s, tlsrpt_result_name((enum tlsrpt_result)i)) == 0) {
			*r = (enum tlsrpt_result)i;
			return 0;
		}
	return -1;
}

static struct tlsrpt_policy *policy_for(struct tlsrpt_report *r, enum tlsrpt_policy_type t,
					const char *domain)
{
	for (size_t i = 0; i < r->npolicies; i++)
		if (r->policies[i].type == t)
			return &r->policies[i];
	if (r->npolicies == TLSRPT_POLICIES_MAX)
		return NULL;
	struct tlsrpt_policy *p = &r->policies[r->npolicies++];
	memset(p, 0, sizeof *p);
	p->type = t;
	snprintf(p->domain, sizeof p->domain, "%s", domain);
	return p;
}

/* Splits s at sep into at most max fields (NULs written). Returns the count. */
static size_t split(char *s, char sep, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = s;
	for (char *p = s; *p && n < max; p++)
		if (*p == sep) {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

int tlsrpt_seen_parse(char *text, size_t len, const char *domain, struct tlsrpt_report *r)
{
	struct rec rec;
	int rc = 0;
	rec_parse(text, len, &rec);
	for (size_t k = 0; k < rec.n; k++) {
		char *f[7];
		enum tlsrpt_policy_type t;
		size_t nf = split(rec.row[k], '\t', f, 7);
		if (nf < 2 || type_of(f[1], &t) < 0) {
			rc = -1;
			continue;
		}
		struct tlsrpt_policy *p = policy_for(r, t, domain);
		if (!p)
			continue;
		if (f[0][0] == 'S' && nf == 2) {
			p->successful += rec.count[k];
		} else if (f[0][0] == 'F' && nf == 7) {
			enum tlsrpt_result res;
			if (result_of(f[2], &res) < 0) {
				rc = -1;
				continue;
			}
			p->failed += rec.count[k];
			struct tlsrpt_failure *x = tlsrpt_failure_add(p, res, rec.count[k]);
			if (!x)
				continue; /* its count joined one of its type */
			snprintf(x->receiving_mx_hostname, sizeof x->receiving_mx_hostname, "%s", f[3]);
			snprintf(x->receiving_ip, sizeof x->receiving_ip, "%s", f[4]);
			/* Our words for the failure: a failure-reason-code
			 * (RFC 8460 §4.4), not additional-information (a URI). */
			snprintf(x->failure_reason_code, sizeof x->failure_reason_code, "%s", f[5]);
			snprintf(x->sending_mta_ip, sizeof x->sending_mta_ip, "%s", f[6]);
		} else if (f[0][0] == 'P' && nf >= 3) {
			p->nstrings = split(f[2], 0x1f, (char **)p->strings, TLSRPT_POLICY_STRINGS_MAX);
			if (p->nstrings == 1 && !p->strings[0][0])
				p->nstrings = 0;
			/* MTA-STS: the policy's mx patterns are also listed apart. */
			p->nmx = 0;
			for (size_t i = 0; i < p->nstrings; i++)
				if (strncmp(p->strings[i], "mx:", 3) == 0 && p->nmx < TLSRPT_POLICY_STRINGS_MAX) {
					const char *v = p->strings[i] + 3;
					while (*v == ' ')
						v++;
					p->mx_hosts[p->nmx++] = v;
				}
		} else {
			rc = -1;
		}
	}
	free(rec.row);
	free(rec.count);
	return rc;
}
