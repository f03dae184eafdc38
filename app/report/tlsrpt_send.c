/*
 * tlsrpt_send.c — the day's TLS-RPT reports, made and sent
 * (tlsrpt_send.h).
 */
#include "report/tlsrpt_send.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme/acme_http.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "dns/dns.h"
#include "mime/mime_decode.h"
#include "mime/mime_header_text.h"
#include "report/dmarc_report.h"
#include "report/report_queue.h"
#include "report/report_uri.h"
#include "report/tlsrpt_seen.h"
#include "store/store.h"
#include "tlspol/tlsrpt.h"

#define RECORD_MAX (64 * 1024)
#define JSON_MAX ((size_t)4 << 20)
#define MSG_MAX ((size_t)8 << 20)
#define NET_DEADLINE_MS 30000

/* ---- DNS and HTTPS on a loop of their own ---- */

enum { REC_OK, REC_NONE, REC_TEMP };

struct net {
	struct loop *loop;
	struct dns *dns;
	int state; /* REC_* for the lookup; the HTTP status for the POST */
	struct tlsrpt_record *rec;
	char error[256];
	int timed_out;
};

static void deadline(struct loop *l, void *arg)
{
	((struct net *)arg)->timed_out = 1;
	loop_stop(l);
}

static int net_open(struct net *n, const char *servers)
{
	char err[256];
	memset(n, 0, sizeof *n);
	n->loop = loop_new();
	n->dns = dns_new(n->loop, servers, err, sizeof err);
	if (n->dns == NULL) {
		log_warn("tlsrpt", NULL, "event=dns_unavailable reason=\"%s\"", err);
		loop_free(&n->loop);
		return -1;
	}
	return 0;
}

static void net_close(struct net *n)
{
	dns_free(&n->dns);
	loop_free(&n->loop);
}

/* Runs n's loop until a callback stops it or the deadline passes. */
static void net_run(struct net *n)
{
	uint64_t t = loop_timer_add(n->loop, NET_DEADLINE_MS, deadline, n);
	loop_run(n->loop);
	if (!n->timed_out)
		loop_timer_del(n->loop, t);
}

static void txt_done(void *arg, const struct dns_answer *a)
{
	struct net *n = arg;
	n->state = REC_NONE;
	if (a->status == DNS_ANS_TEMP)
		n->state = REC_TEMP;
	else if (a->status == DNS_ANS_OK) {
		const char **texts = xcalloc(a->nrr ? a->nrr : 1, sizeof *texts);
		size_t k = 0;
		for (size_t i = 0; i < a->nrr; i++)
			if (a->rr[i].type == DNS_T_TXT)
				texts[k++] = dns_rr_text(a, i);
		/* §3: one TLSRPTv1 record, valid; several are none. */
		if (tlsrpt_txt_pick(texts, k, n->rec) == 0)
			n->state = REC_OK;
		free(texts);
	}
	loop_stop(n->loop);
}

static int lookup_record(const char *servers, const char *domain, struct tlsrpt_record *rec)
{
	struct net n;
	char name[300];
	if (net_open(&n, servers) < 0)
		return REC_TEMP;
	n.rec = rec;
	n.state = -1;
	snprintf(name, sizeof name, "_smtp._tls.%s", domain);
	if (dns_query(n.dns, name, DNS_T_TXT, txt_done, &n) != NULL)
		net_run(&n);
	int st = n.timed_out || n.state < 0 ? REC_TEMP : n.state;
	net_close(&n);
	return st;
}

static void post_done(void *arg, const struct acme_http_resp *r)
{
	struct net *n = arg;
	n->state = r->status;
	snprintf(n->error, sizeof n->error, "%s", r->error);
	loop_stop(n->loop);
}

/* POSTs the report to an https: rua. 0 when answered 2xx, else -1 (logged). */
static int post(const char *servers, const char *url, const char *domain, const uint8_t *gz,
		size_t gzlen)
{
	struct net n;
	char qu[TLSRPT_URI_MAX * 2 + 8], qe[600];
	if (net_open(&n, servers) < 0)
		return -1;
	if (acme_http_request(n.loop, n.dns, "POST", url, "application/tlsrpt+gzip", gz, gzlen,
			      NET_DEADLINE_MS - 1000, post_done, &n) == 0)
		net_run(&n);
	else
		snprintf(n.error, sizeof n.error, "not an https URL");
	net_close(&n);
	if (n.state >= 200 && n.state < 300) {
		log_info("tlsrpt", NULL, "event=report_posted domain=%s url=%s status=%d", domain,
			 log_q(url, qu, sizeof qu), n.state);
		return 0;
	}
	log_warn("tlsrpt", NULL, "event=report_post_failed domain=%s url=%s status=%d error=%s",
		 domain, log_q(url, qu, sizeof qu), n.state,
		 log_q(n.timed_out ? "timed out" : n.error, qe, sizeof qe));
	return -1;
}

/* ---- the message (§5.3) ---- */

int tlsrpt_message(const char *from, const char *to, const char *hostname, const char *domain,
		   const char *report_id, int64_t begin, int64_t end, int64_t now,
		   const uint8_t *gz, size_t gzlen, struct buf *out)
{
	char date[64], bnd[40], fname[700], fid[400];
	unsigned char rnd[8];
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	randombytes_buf(rnd, sizeof rnd);
	snprintf(bnd, sizeof bnd, "=_tern_tlsrpt_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	/* §5.1: submitter!policy-domain!begin!end!unique-id.json.gz, seconds
	 * since 1970, the unique-id letters and digits only. */
	report_file_id(report_id, fid, sizeof fid);
	snprintf(fname, sizeof fname, "%s!%s!%lld!%lld!%s.json.gz", hostname, domain,
		 (long long)begin, (long long)end, fid);

	/* Folded (RFC 5322 §2.1.1, §2.2.3): four mailto: URIs of up to
	 * 512 octets, or a long domain and submitter, would pass a line's
	 * 998 octets. */
	char subject[1200];
	snprintf(subject, sizeof subject, "Report Domain: %s Submitter: %s Report-ID: <%s>", domain,
		 hostname, report_id);
	buf_printf(out, "From: %s\r\nTo: ", from);
	mime_header_fold(out, str_c(to));
	buf_printf(out, "\r\nDate: %s\r\nSubject: ", date);
	mime_header_fold(out, str_c(subject));
	buf_append_c(out, "\r\n");
	buf_printf(out, "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n", domain, hostname);
	/* §5.3: a report "MUST" be delivered "despite any TLS-related
	 * failures", in the clear if need be: the domain's MTA-STS or DANE
	 * trouble is what it reports, and must not hold it in the queue.
	 * RFC 8689 §5's field makes the queue skip those checks. */
	buf_append_c(out, "TLS-Required: No\r\n");
	buf_printf(out, "Message-ID: <tlsrpt.%02x%02x%02x%02x.%s>\r\n", rnd[0], rnd[1], rnd[2],
		   rnd[3], report_id);
	buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
			"report-type=\"tlsrpt\"; boundary=\"%s\"\r\n\r\n", bnd);
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
			"This is an aggregate TLS report (RFC 8460) from %s for %s,\r\n"
			"covering %lld to %lld (seconds since 1970, UTC).\r\n\r\n",
		   bnd, hostname, domain, (long long)begin, (long long)end);
	buf_printf(out, "--%s\r\nContent-Type: application/tlsrpt+gzip; name=\"%s\"\r\n"
			"Content-Transfer-Encoding: base64\r\n"
			"Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
		   bnd, fname, fname);
	(void)mime_base64_lines(out, gz, gzlen); /* full: the closing line fails too */
	return buf_printf(out, "--%s--\r\n", bnd);
}

/* ---- one (day, domain) ---- */

struct group {
	uint32_t day;
	char domain[256];
	char key[300];
	char *text;
	size_t len;
	uint8_t consumed; /* the report's commit deleted the record (consume_record) */
};

struct groups {
	struct group *v;
	size_t n, cap;
	uint32_t before;
};

static void on_meta(void *arg, const char *name, const void *val, size_t len)
{
	struct groups *g = arg;
	const char *p = name + strlen(TLSRPT_SEEN_PREFIX);
	char *end;
	unsigned long day = strtoul(p, &end, 10);
	if (end != p + 8 || *end != '/' || day >= g->before || len > RECORD_MAX)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = xrealloc(g->v, g->cap * sizeof *g->v);
	}
	struct group *x = &g->v[g->n++];
	x->day = (uint32_t)day;
	snprintf(x->domain, sizeof x->domain, "%s", end + 1);
	snprintf(x->key, sizeof x->key, "%s", name);
	x->text = xmalloc(len + 1);
	memcpy(x->text, val, len);
	x->text[len] = '\0';
	x->len = len;
	x->consumed = 0;
}

/* Inside the commit that queues the mailed report: the day's record goes
 * with it, so it is gone if and only if the report is queued. A delete of
 * its own after the commit could fail and the next run sent the same
 * results again, counted twice by the receiver. */
static int consume_record(struct store *st, void *txn, void *arg)
{
	const struct group *g = arg;
	return store_meta_del_txn(st, txn, g->key);
}

/* 1 sent somewhere, 0 nobody to send to, 2 deferred (DNS), -1 every destination failed. */
static int one(struct store *st, const struct tlsrpt_send_opts *o, struct group *g,
	       struct tlsrpt_send_result *res)
{
	struct tlsrpt_record rec;
	int rs = lookup_record(o->dns_servers, g->domain, &rec);
	if (rs != REC_OK) {
		log_info("tlsrpt", NULL, "event=report_skipped domain=%s day=%u reason=%s", g->domain,
			 g->day, rs == REC_TEMP ? "dns_temporary" : "no_record");
		return rs == REC_TEMP ? 2 : 0;
	}
	struct tlsrpt_report *r = xcalloc(1, sizeof *r);
	char rid[400];
	/* Unique per run, not per day: a day sent in parts (--today, then
	 * the rest) would otherwise repeat the id, and a receiver drops a
	 * report whose id it has seen. */
	snprintf(rid, sizeof rid, "%u.%lld.%s@%s", g->day, (long long)o->now, g->domain,
		 o->hostname);
	r->organization = o->hostname;
	r->contact = o->from;
	r->report_id = rid;
	r->start = (int64_t)g->day * 86400;
	r->end = r->start + 86399; /* the day's last second, as §4.4's example */
	tlsrpt_seen_parse(g->text, g->len, g->domain, r);

	struct buf json;
	uint8_t *gz = NULL;
	size_t gzlen = 0;
	int rc = -1, sent = 0, tried = 0;
	buf_init(&json, JSON_MAX);
	if (r->npolicies == 0 || tlsrpt_report_json(r, &json) < 0 ||
	    dmarc_report_gzip((const uint8_t *)buf_data(&json), buf_len(&json), &gz, &gzlen) < 0) {
		log_warn("tlsrpt", NULL, "event=report_not_made domain=%s day=%u", g->domain, g->day);
		goto out;
	}
	/* One parse of each URI (report_uri.h), each destination once. */
	struct report_uri *u = xcalloc(rec.nrua, sizeof *u);
	int *use = xcalloc(rec.nrua, sizeof *use);
	for (size_t i = 0; i < rec.nrua; i++) {
		use[i] = report_uri_parse(str_c(rec.rua[i]), 0, &u[i]) == 0;
		for (size_t k = 0; k < i && use[i]; k++)
			if (use[k] && u[k].kind == u[i].kind &&
			    (u[i].kind == REPORT_URI_MAILTO ? strcmp(u[k].addr, u[i].addr) == 0
			                                    : strcmp(rec.rua[k], rec.rua[i]) == 0))
				use[i] = 0;
	}
	/* https: each on its own. */
	for (size_t i = 0; i < rec.nrua; i++)
		if (use[i] && u[i].kind == REPORT_URI_HTTPS) {
			tried++;
			if (post(o->dns_servers, rec.rua[i], g->domain, gz, gzlen) == 0) {
				sent++;
				res->posted++;
			} else {
				res->failed++;
			}
		}
	/* mailto: together, in one message. */
	const char *to[TLSRPT_RUA_MAX];
	char tolist[TLSRPT_RUA_MAX * (REPORT_URI_ADDR_MAX + 2)] = "";
	size_t nto = 0;
	for (size_t i = 0; i < rec.nrua; i++)
		if (use[i] && u[i].kind == REPORT_URI_MAILTO) {
			to[nto++] = u[i].addr;
			if (tolist[0])
				strcat(tolist, ", ");
			strcat(tolist, u[i].addr);
		}
	if (nto) {
		struct buf msg;
		uint64_t qid = 0;
		buf_init(&msg, MSG_MAX);
		tried++;
		if (tlsrpt_message(o->from, tolist, o->hostname, g->domain, rid, r->start, r->end,
				   o->now, gz, gzlen, &msg) == 0 &&
		    report_queue_signed(st, "tlsrpt", o->from, to, nto, buf_data(&msg), buf_len(&msg),
					o->now, consume_record, g, &qid) == 0) {
			g->consumed = 1;
			char qt[sizeof tolist * 2 + 8];
			log_info("tlsrpt", NULL,
				 "event=report_queued domain=%s day=%u to=%s size=%zu queue_id=%llu",
				 g->domain, g->day, log_q(tolist, qt, sizeof qt), buf_len(&msg),
				 (unsigned long long)qid);
			sent++;
			res->mailed++;
		} else {
			res->failed++;
		}
		buf_free(&msg);
	}
	rc = sent ? 1 : tried ? -1 : 0;
	free(use);
	free(u);
out:
	free(gz);
	buf_free(&json);
	free(r);
	return rc;
}

int tlsrpt_send_reports(struct store *st, const struct tlsrpt_send_opts *o,
			struct tlsrpt_send_result *res)
{
	struct groups g = {0};
	memset(res, 0, sizeof *res);
	g.before = o->before_day;
	int fd = tlsrpt_seen_lock(st);
	int lrc = store_meta_list(st, TLSRPT_SEEN_PREFIX, on_meta, &g);
	for (size_t i = 0; lrc == STORE_OK && i < g.n; i++) {
		int rc = one(st, o, &g.v[i], res);
		if (rc == 0)
			res->no_dest++;
		else if (rc == 2 || rc < 0)
			res->deferred++;
		/* What could not go waits for the next run, but not forever. */
		if (!g.v[i].consumed &&
		    (rc == 0 || rc == 1 || g.v[i].day + TLSRPT_SEND_RETRY_DAYS < o->before_day))
			store_meta_del(st, g.v[i].key);
	}
	tlsrpt_seen_unlock(fd);
	for (size_t i = 0; i < g.n; i++)
		free(g.v[i].text);
	free(g.v);
	return lrc == STORE_OK ? 0 : -1;
}
