/*
 * dmarc_fail.c — DMARC failure reports: which outcome is reported, the
 * queue in memory, the AFRF message, the sending (dmarc_fail.h).
 */
#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/dmarc.h"
#include "auth/spf.h"
#include "dkim/dkim_verify.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "mime/mime_header_text.h"
#include "report/dmarc_fail.h"
#include "report/dmarc_out.h"
#include "report/dmarc_reporter.h"
#include "report/report_queue.h"
#include "store/store.h"

#define MSG_MAX ((size_t)1 << 20)

const char *dmarc_fail_type(const char *fo, int dmarc_failed, int spf_aligned, int dkim_aligned,
			    int spf_failed, int dkim_failed)
{
	int dmarc = 0, dkim = 0, spf = 0;
	for (const char *p = fo && *fo ? fo : "0"; *p; p++) {
		switch (*p) {
		case '0':
			dmarc |= dmarc_failed;
			break;
		case '1':
			dmarc |= dmarc_failed || !spf_aligned || !dkim_aligned;
			break;
		case 'd':
		case 'D':
			dkim |= dkim_failed;
			break;
		case 's':
		case 'S':
			spf |= spf_failed;
			break;
		default:
			break;
		}
	}
	return dmarc ? "dmarc" : dkim ? "signature" : spf ? "spf" : NULL;
}

/* ---- the queue ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct dmarc_fail_job *pending[DMARC_FAIL_PENDING];
static unsigned npending;
static atomic_int stop_asked; /* dmarc_fail_stop */
static struct {
	uint64_t key;
	int64_t at;
} slots[DMARC_FAIL_SLOTS];
static int64_t hour_start;
static unsigned hour_count;

static uint64_t pair_key(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = a; *p; p++)
		h = (h ^ (uint8_t)tolower((unsigned char)*p)) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = b; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h | 1; /* 0 marks an empty slot */
}

/* The header section of msg: its length up to (not with) the empty line. */
static size_t header_len(const char *msg, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (msg[i] == '\n' && (msg[i + 1] == '\n' || (msg[i + 1] == '\r' && i + 2 < len &&
							     msg[i + 2] == '\n')))
			return i + 1;
	return len;
}

/* The top-level Content-Type is multipart/report: a report itself. */
static int is_report(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((i == 0 || h[i - 1] == '\n') && n - i > 13 && strncasecmp(h + i, "content-type:", 13) == 0) {
			size_t j = i + 13;
			while (j < n && (h[j] == ' ' || h[j] == '\t' || h[j] == '\r' || h[j] == '\n'))
				j++;
			return n - j >= 16 && strncasecmp(h + j, "multipart/report", 16) == 0;
		}
	}
	return 0;
}

/*
 * The SPF-DNS values of an evaluation (RFC 6591 §3.1: "txt", the name,
 * the record, colons between), one a line. A record's bytes other than
 * printable ASCII (a TXT may hold any) become spaces, so none can end
 * the field early. Owned by the caller; "" without records.
 */
static char *spf_dns_lines(const struct spf_eval *spf)
{
	struct buf b;
	buf_init(&b, SPF_KEPT_BYTES * 2);
	const char *dom, *rec;
	for (size_t i = 0; spf && spf_eval_record(spf, i, &dom, &rec); i++) {
		buf_printf(&b, "txt: %s: ", dom);
		for (const char *c = rec; *c; c++)
			buf_append(&b, (unsigned char)*c >= ' ' && (unsigned char)*c < 0x7f ? c : " ", 1);
		buf_append_c(&b, "\n");
	}
	char *out = xstrdup(buf_len(&b) ? buf_data(&b) : "");
	buf_free(&b);
	return out;
}

int dmarc_fail_note(const struct dmarc_fail_msg *m, int64_t now)
{
	const struct dmarc_verdict *v = m->verdict;
	if (!v || !v->policy_domain[0] || !v->has_ruf || !m->mail_from || !m->mail_from[0])
		return 0;
	int failed = v->result == DMARC_RESULT_FAIL;
	if (v->result != DMARC_RESULT_FAIL && v->result != DMARC_RESULT_PASS)
		return 0;
	const char *type = dmarc_fail_type(v->fo, failed, v->spf_aligned, v->dkim_aligned,
					   m->spf_failed, m->dkim_failed);
	if (!type)
		return 0;
	size_t hl = header_len(m->msg, m->len);
	if (is_report(m->msg, hl))
		return 0;

	uint64_t key = pair_key(v->policy_domain, m->source_ip ? m->source_ip : "");
	size_t slot = (size_t)(key % DMARC_FAIL_SLOTS);
	pthread_mutex_lock(&mu);
	if (now - hour_start >= 3600) {
		hour_start = now;
		hour_count = 0;
	}
	int limited = (slots[slot].key == key && now - slots[slot].at < 3600) ? 1
		      : hour_count >= DMARC_FAIL_PER_HOUR                   ? 2
		      : npending >= DMARC_FAIL_PENDING                      ? 3
									    : 0;
	if (!limited) {
		slots[slot].key = key;
		slots[slot].at = now;
		hour_count++;
	}
	pthread_mutex_unlock(&mu);
	if (limited) {
		if (limited > 1)
			log_info("dmarc", NULL, "event=failure_report_dropped domain=%s reason=%s",
				 v->policy_domain, limited == 2 ? "hourly_limit" : "queue_full");
		return 0;
	}

	struct dmarc_fail_job *j = xcalloc(1, sizeof *j);
	snprintf(j->pdomain, sizeof j->pdomain, "%s", v->policy_domain);
	snprintf(j->header_from, sizeof j->header_from, "%s", v->header_from);
	snprintf(j->source_ip, sizeof j->source_ip, "%s", m->source_ip ? m->source_ip : "");
	snprintf(j->mail_from, sizeof j->mail_from, "%s", m->mail_from);
	snprintf(j->delivery, sizeof j->delivery, "%s", m->delivery ? m->delivery : "other");
	/* RFC 6591 §3.2.2 (RFC 6651): a DKIM report says what failed. */
	if (strcmp(type, "signature") == 0 && m->dkim_failure == DKIM_FAILED_BODYHASH)
		type = "bodyhash";
	else if (strcmp(type, "signature") == 0 && m->dkim_failure == DKIM_FAILED_REVOKED)
		type = "revoked";
	snprintf(j->type, sizeof j->type, "%s", type);
	/* RFC 9991 redefines RFC 7489's field: what failed to authenticate
	 * an aligned identity, not what passed aligned (always "none" when
	 * DMARC failed, which told the Domain Owner nothing). */
	snprintf(j->alignment, sizeof j->alignment, "%s",
		 m->dkim_aligned_failed && m->spf_aligned_failed ? "dkim, spf"
		 : m->dkim_aligned_failed                        ? "dkim"
		 : m->spf_aligned_failed                         ? "spf"
								 : "none");
	if (m->dkim_domain)
		snprintf(j->dkim_domain, sizeof j->dkim_domain, "%s", m->dkim_domain);
	if (m->dkim_selector)
		snprintf(j->dkim_selector, sizeof j->dkim_selector, "%s", m->dkim_selector);
	/* i= as written may fold (FWS inside a tag value, RFC 6376 §3.2):
	 * the value without it, one line. */
	size_t il = 0;
	const char *auid = m->dkim_identity ? m->dkim_identity : "";
	for (const char *c = auid; *c && il + 1 < sizeof j->dkim_identity; c++)
		if ((unsigned char)*c > ' ' && *c != 0x7f)
			j->dkim_identity[il++] = *c;
	j->dkim_identity[il] = '\0';
	j->auth_results = xstrdup(m->auth_results ? m->auth_results : "");
	j->spf_dns = spf_dns_lines(m->spf);
	/* Whole lines, at most DMARC_FAIL_HEADER_MAX bytes. */
	size_t keep = hl;
	if (keep > DMARC_FAIL_HEADER_MAX) {
		keep = DMARC_FAIL_HEADER_MAX;
		while (keep > 0 && m->msg[keep - 1] != '\n')
			keep--;
	}
	j->header = xmalloc(keep + 1);
	memcpy(j->header, m->msg, keep);
	j->header[keep] = '\0';
	j->arrived = now;

	pthread_mutex_lock(&mu);
	int queued = npending < DMARC_FAIL_PENDING;
	if (queued)
		pending[npending++] = j;
	pthread_mutex_unlock(&mu);
	if (!queued) {
		dmarc_fail_job_free(j);
		return 0;
	}
	dmarc_reporter_fail_soon();
	return 1;
}

void dmarc_fail_job_free(struct dmarc_fail_job *j)
{
	if (!j)
		return;
	free(j->auth_results);
	free(j->header);
	free(j->spf_dns);
	free(j);
}

unsigned dmarc_fail_pending(void)
{
	pthread_mutex_lock(&mu);
	unsigned n = npending;
	pthread_mutex_unlock(&mu);
	return n;
}

/* ---- the message ---- */

/* An SPF-DNS field for each line of lines, folded (a record may be
 * near 4 KB, a line at most 998 octets: RFC 5322 §2.1.1). */
static void spf_dns_fields(struct buf *out, const char *lines)
{
	for (const char *p = lines; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_append_c(out, "SPF-DNS: ");
		mime_header_fold(out, str_make(p, n));
		buf_append_c(out, "\r\n");
		p += n + (nl != NULL);
	}
}

int dmarc_fail_message(const struct dmarc_fail_job *j, const char *from, const char *to,
		       const char *hostname, int64_t now, struct buf *out)
{
	char date[64], arrived[64], bnd[40];
	uint8_t rnd[8];
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	t = (time_t)j->arrived;
	gmtime_r(&t, &tm);
	strftime(arrived, sizeof arrived, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	randombytes_buf(rnd, sizeof rnd);
	snprintf(bnd, sizeof bnd, "=_tern_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);

	char subject[700];
	snprintf(subject, sizeof subject, "DMARC failure report for %s from %s", j->pdomain,
		 j->source_ip);
	buf_printf(out, "From: %s\r\nTo: ", from);
	mime_header_fold(out, str_c(to));
	buf_printf(out, "\r\nDate: %s\r\nSubject: ", date);
	mime_header_fold(out, str_c(subject));
	buf_printf(out, "\r\nMessage-ID: <dmarc-fail.%lld.%02x%02x%02x%02x%02x%02x@%s>\r\n",
		   (long long)now, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], hostname);
	/* RFC 3834: a machine's message, not to be answered by one. */
	buf_printf(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/report; report-type=feedback-report;\r\n"
			"\tboundary=\"%s\"\r\n\r\n", bnd);
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
			"This is a DMARC failure report (RFC 7489 section 7.3) from %s:\r\n"
			"a message with From domain %s arrived from %s on %s\r\n"
			"with an authentication result the DMARC record of %s asks to\r\n"
			"hear about (its fo= tag).\r\n"
			"Only the message's header is included, not its body.\r\n\r\n",
		   bnd, hostname, j->header_from, j->source_ip, arrived, j->pdomain);
	/* RFC 5965 §3.1/§3.2 and RFC 6591 §3.1 fields; Identity-Alignment
	 * is RFC 7489 §7.3.1's. */
	buf_printf(out, "--%s\r\nContent-Type: message/feedback-report\r\n\r\n"
			"Feedback-Type: auth-failure\r\nUser-Agent: tern/1\r\nVersion: 1\r\n"
			"Auth-Failure: %s\r\n",
		   bnd, j->type[0] ? j->type : "dmarc");
	buf_append_c(out, j->auth_results);
	buf_printf(out, "Original-Mail-From: <%s>\r\nArrival-Date: %s\r\nSource-IP: %s\r\n"
			"Reporting-MTA: dns; %s\r\nReported-Domain: %s\r\nIdentity-Alignment: %s\r\n"
			"Delivery-Result: %s\r\n",
		   j->mail_from, arrived, j->source_ip, hostname, j->header_from, j->alignment,
		   j->delivery);
	if (j->dkim_domain[0])
		buf_printf(out, "DKIM-Domain: %s\r\n", j->dkim_domain);
	if (j->dkim_identity[0])
		buf_printf(out, "DKIM-Identity: %s\r\n", j->dkim_identity);
	if (j->dkim_selector[0])
		buf_printf(out, "DKIM-Selector: %s\r\n", j->dkim_selector);
	spf_dns_fields(out, j->spf_dns);
	buf_printf(out, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", bnd);
	buf_append_crlf(out, j->header, strlen(j->header));
	size_t n = strlen(j->header);
	if (n && j->header[n - 1] != '\n')
		buf_append_c(out, "\r\n");
	return buf_printf(out, "\r\n--%s--\r\n", bnd);
}

/* ---- sending ---- */

/* What the report message is made of (dmarc_build_fn). */
struct build {
	const struct dmarc_fail_job *j;
	const char *from, *hostname;
	int64_t now;
};

static int build_message(void *arg, const char *to, struct buf *out)
{
	const struct build *b = arg;
	return dmarc_fail_message(b->j, b->from, to, b->hostname, b->now, out);
}

static int send_one(struct store *st, const char *from, const char *hostname,
		    int (*lookup)(void *, struct dmarc_dest *), void *arg, int64_t now,
		    const struct dmarc_fail_job *j)
{
	struct dmarc_dest *d = xcalloc(1, sizeof *d);
	dmarc_dest_init(d, j->pdomain);
	d->ruf = 1;
	int rc = 0;
	int looked = lookup(arg, d);
	if (looked != 0 && atomic_load(&stop_asked)) {
		dmarc_dest_clear(d);
		free(d);
		return -1; /* cut short by the stop: kept for the next start */
	}
	if (looked != 0 || dmarc_dest_status(d) != DMARC_DEST_OK) {
		log_info("dmarc", NULL, "event=failure_report_skipped domain=%s reason=no_destination",
			 j->pdomain);
		dmarc_dest_clear(d);
		free(d);
		return 0;
	}
	struct buf msg;
	buf_init(&msg, MSG_MAX);
	char to[DMARC_TO_MAX];
	const char *rcpt[DMARC_DEST_MAX];
	size_t n = 0;
	struct build b = {j, from, hostname, now};
	int fit = dmarc_dest_fit(d, build_message, &b, &msg, to, rcpt, &n);
	uint64_t qid = 0;
	if (fit == 0 && n > 0 &&
	    report_queue_signed(st, "dmarc", from, rcpt, n, buf_data(&msg), buf_len(&msg), now,
				NULL, NULL, &qid) == 0) {
		char qt[2048];
		log_info("dmarc", NULL,
			 "event=failure_report_queued domain=%s source_ip=%s to=%s size=%zu queue_id=%llu",
			 j->pdomain, j->source_ip, log_quoted(to, qt, sizeof qt), buf_len(&msg),
			 (unsigned long long)qid);
		rc = 1;
	} else if (fit == 0 && n == 0) {
		log_info("dmarc", NULL, "event=failure_report_skipped domain=%s reason=too_big",
			 j->pdomain);
	}
	buf_free(&msg);
	dmarc_dest_clear(d);
	free(d);
	return rc;
}

unsigned dmarc_fail_send(struct store *st, const char *from, const char *hostname,
			 int (*lookup)(void *, struct dmarc_dest *), void *arg, int64_t now)
{
	unsigned sent = 0;
	while (!atomic_load(&stop_asked)) {
		pthread_mutex_lock(&mu);
		struct dmarc_fail_job *j = npending ? pending[0] : NULL;
		if (j) {
			memmove(pending, pending + 1, (npending - 1) * sizeof pending[0]);
			npending--;
		}
		pthread_mutex_unlock(&mu);
		if (!j)
			break;
		int rc = 0;
		if (from && from[0])
			rc = send_one(st, from, hostname, lookup, arg, now, j);
		else
			log_info("dmarc", NULL, "event=failure_report_skipped domain=%s reason=off",
				 j->pdomain);
		if (rc < 0) {
			/* Back at the head, for dmarc_fail_save. */
			pthread_mutex_lock(&mu);
			memmove(pending + 1, pending, npending * sizeof pending[0]);
			pending[0] = j;
			npending++;
			pthread_mutex_unlock(&mu);
			break;
		}
		sent += (unsigned)rc;
		dmarc_fail_job_free(j);
	}
	return sent;
}

/* ---- across a stop ---- */

/* One record per report: the fields in struct order, each ended by a
 * NUL (none holds one: they are C strings), then the arrival time, then
 * the DKIM identity, the Auth-Failure type and the SPF-DNS lines (added
 * later: a record saved without them still loads, as a "dmarc" report
 * without SPF-DNS). */
#define SAVED_PREFIX STORE_DMARC_FAIL_PREFIX
#define SAVED_FIELDS 14
#define SAVED_FIELDS_OLD 11

void dmarc_fail_stop(void)
{
	atomic_store(&stop_asked, 1);
}

int dmarc_fail_stopping(void)
{
	return atomic_load(&stop_asked);
}

unsigned dmarc_fail_save(struct store *st)
{
	struct dmarc_fail_job *jobs[DMARC_FAIL_PENDING];
	pthread_mutex_lock(&mu);
	unsigned n = npending;
	memcpy(jobs, pending, n * sizeof jobs[0]);
	npending = 0;
	pthread_mutex_unlock(&mu);
	unsigned saved = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct dmarc_fail_job *j = jobs[i];
		char name[64], at[24];
		snprintf(name, sizeof name, SAVED_PREFIX "%02u", i);
		snprintf(at, sizeof at, "%lld", (long long)j->arrived);
		const char *f[SAVED_FIELDS] = {j->pdomain,    j->header_from,   j->source_ip,
					       j->mail_from,  j->delivery,      j->alignment,
					       j->dkim_domain, j->dkim_selector, j->auth_results,
					       j->header,     at,               j->dkim_identity,
					       j->type,       j->spf_dns ? j->spf_dns : ""};
		struct buf b;
		buf_init(&b, 1u << 20);
		for (int k = 0; k < SAVED_FIELDS; k++)
			buf_append(&b, f[k], strlen(f[k]) + 1);
		int rc = store_meta_put(st, name, buf_data(&b), buf_len(&b), 0);
		if (rc == STORE_OK)
			saved++;
		else
			log_warn("dmarc", NULL, "event=failure_report_dropped domain=%s reason=not_saved rc=%d",
				 j->pdomain, rc);
		buf_free(&b);
		dmarc_fail_job_free(jobs[i]);
	}
	if (saved)
		log_info("dmarc", NULL, "event=failure_reports_saved count=%u", saved);
	return saved;
}

/* A saved record back as a job, or NULL when it is not one. */
static struct dmarc_fail_job *job_parse(const char *v, size_t len)
{
	const char *f[SAVED_FIELDS] = {0};
	size_t at = 0;
	for (int k = 0; k < SAVED_FIELDS; k++) {
		const char *end = at < len ? memchr(v + at, '\0', len - at) : NULL;
		if (!end && k >= SAVED_FIELDS_OLD) {
			while (k < SAVED_FIELDS)
				f[k++] = ""; /* saved before these were */
			break;
		}
		if (!end)
			return NULL;
		f[k] = v + at;
		at = (size_t)(end - v) + 1;
	}
	struct dmarc_fail_job *j = xcalloc(1, sizeof *j);
	struct { char *dst; size_t sz; } fixed[10] = {
		{j->pdomain, sizeof j->pdomain},     {j->header_from, sizeof j->header_from},
		{j->source_ip, sizeof j->source_ip}, {j->mail_from, sizeof j->mail_from},
		{j->delivery, sizeof j->delivery},   {j->alignment, sizeof j->alignment},
		{j->dkim_domain, sizeof j->dkim_domain}, {j->dkim_selector, sizeof j->dkim_selector},
		{j->dkim_identity, sizeof j->dkim_identity}, {j->type, sizeof j->type}};
	static const int field_of[10] = {0, 1, 2, 3, 4, 5, 6, 7, 11, 12};
	for (int k = 0; k < 10; k++) {
		if (strlen(f[field_of[k]]) >= fixed[k].sz) {
			free(j);
			return NULL;
		}
		memcpy(fixed[k].dst, f[field_of[k]], strlen(f[field_of[k]]) + 1);
	}
	j->auth_results = xstrdup(f[8]);
	j->header = xstrdup(f[9]);
	j->spf_dns = xstrdup(f[13]);
	j->arrived = strtoll(f[10], NULL, 10);
	if (!j->pdomain[0]) {
		dmarc_fail_job_free(j);
		return NULL;
	}
	return j;
}

struct load_ctx {
	char names[DMARC_FAIL_PENDING * 2][64];
	unsigned n;
};

static void load_one(void *arg, const char *name, const void *val, size_t len)
{
	struct load_ctx *c = arg;
	if (c->n < sizeof c->names / sizeof c->names[0] && strlen(name) < sizeof c->names[0])
		snprintf(c->names[c->n++], sizeof c->names[0], "%s", name);
	struct dmarc_fail_job *j = job_parse(val, len);
	pthread_mutex_lock(&mu);
	int queued = j && npending < DMARC_FAIL_PENDING;
	if (queued)
		pending[npending++] = j;
	pthread_mutex_unlock(&mu);
	if (!queued)
		dmarc_fail_job_free(j);
}

unsigned dmarc_fail_load(struct store *st)
{
	atomic_store(&stop_asked, 0);
	struct load_ctx *c = xcalloc(1, sizeof *c);
	unsigned before = dmarc_fail_pending();
	store_meta_list(st, SAVED_PREFIX, load_one, c);
	for (unsigned i = 0; i < c->n; i++)
		(void)store_meta_del(st, c->names[i]);
	free(c);
	unsigned n = dmarc_fail_pending() - before;
	if (n)
		log_info("dmarc", NULL, "event=failure_reports_restored count=%u", n);
	return n;
}
