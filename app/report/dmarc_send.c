/*
 * dmarc_send.c — the day's reports, made and queued (dmarc_send.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "report/report_queue.h"
#include "report/dmarc_out.h"
#include "report/dmarc_seen.h"
#include "report/dmarc_send.h"
#include "store/store.h"

#define GROUP_ROWS_MAX DMARC_REPORT_ROWS_MAX
#define MSG_MAX ((size_t)24 << 20)

struct group {
	uint32_t day;
	char pdomain[254];
	struct dmarc_report_row *rows;
	size_t nrows;
	uint64_t skipped; /* messages in unreadable rows */
	unsigned part;    /* 0, or the n-th further report of the same day and domain */
	uint8_t last;     /* the day's last part: its commit consumes the day's rows */
	uint8_t consumed; /* set when it did (queued with them deleted) */
};

struct groups {
	struct group *v;
	size_t n, cap;
};

static void on_seen(void *arg, uint32_t day, const char *pdomain, const char *row, uint32_t count)
{
	struct groups *g = arg;
	struct group *cur = g->n ? &g->v[g->n - 1] : NULL;
	int same = cur != NULL && cur->day == day && strcmp(cur->pdomain, pdomain) == 0;
	/* More rows than one report holds: the rest go in further reports of
	 * the same day (they were dropped, the report undercounting). */
	if (!same || cur->nrows == GROUP_ROWS_MAX) {
		unsigned part = same ? cur->part + 1 : 0;
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 16;
			g->v = xrealloc(g->v, g->cap * sizeof *g->v);
		}
		cur = &g->v[g->n++];
		memset(cur, 0, sizeof *cur);
		cur->day = day;
		cur->part = part;
		snprintf(cur->pdomain, sizeof cur->pdomain, "%s", pdomain);
	}
	struct dmarc_report_row w;
	if (dmarc_seen_row_parse(row, &w) != 0) {
		cur->skipped += count;
		return;
	}
	w.count = count;
	if ((cur->nrows & (cur->nrows - 1)) == 0 || cur->nrows == 0)
		cur->rows = xrealloc(cur->rows, (cur->nrows ? cur->nrows * 2 : 1) * sizeof w);
	cur->rows[cur->nrows++] = w;
}

/* Inside the commit that queues the day's last report: its rows go with
 * it, so they are gone if and only if the report is queued. A delete of
 * its own after the queue's commit could fail (a full disk, a crash in
 * between) and the next run sent the same rows again: counted twice by
 * the receiver, under a new Report-ID. */
static int consume_rows(struct store *st, void *txn, void *arg)
{
	const struct group *g = arg;
	return store_dmarc_seen_del_txn(st, txn, g->day, g->pdomain);
}

/* Signs and queues one report message to rcpts[0..n), written in to_list. 0 or -1 (logged). */
static int submit(struct store *st, const struct dmarc_send_opts *o, struct group *g,
		  const char *to_list, const char *const *rcpts, size_t n, struct buf *msg)
{
	uint64_t qid = 0;
	if (report_queue_signed(st, "dmarc", o->from, rcpts, n, buf_data(msg), buf_len(msg), o->now,
				g->last ? consume_rows : NULL, g, &qid) < 0)
		return -1;
	g->consumed = g->last;
	/* The addresses are the rua= of the reported domain's own record:
	 * quoted and escaped, so a quote or a space in one cannot add pairs
	 * of its own to the record. */
	char qt[2048];
	log_info("dmarc", NULL, "event=report_queued domain=%s day=%u rows=%zu to=%s size=%zu queue_id=%llu",
		 g->pdomain, g->day, g->nrows, log_quoted(to_list, qt, sizeof qt), buf_len(msg),
		 (unsigned long long)qid);
	return 0;
}

/* What the report message is made of (dmarc_build_fn). */
struct build {
	const struct dmarc_report *r;
	const struct dmarc_send_opts *o;
	uint8_t *gz;
	size_t gzlen;
};

static int build_message(void *arg, const char *to, struct buf *out)
{
	const struct build *b = arg;
	return dmarc_out_message(b->r, b->o->from, to, b->o->hostname, b->o->now, b->gz, b->gzlen,
				 out);
}

/* One (day, domain): 1 reported, 0 nobody to report to, 2 deferred, -1 failed. */
static int one(struct store *st, const struct dmarc_send_opts *o, struct group *g)
{
	struct dmarc_dest *d = xcalloc(1, sizeof *d);
	int rc;

	dmarc_dest_init(d, g->pdomain);
	if (o->lookup(o->lookup_arg, d) != 0) {
		log_info("dmarc", NULL, "event=report_skipped domain=%s day=%u reason=dns_timeout",
		         g->pdomain, g->day);
		dmarc_dest_clear(d);
		free(d);
		return 2;
	}
	enum dmarc_dest_status ds = dmarc_dest_status(d);
	if (ds != DMARC_DEST_OK) {
		log_info("dmarc", NULL, "event=report_skipped domain=%s day=%u reason=%s", g->pdomain,
		         g->day, ds == DMARC_DEST_TEMP ? "dns_temporary" : "no_destination");
		dmarc_dest_clear(d);
		free(d);
		return ds == DMARC_DEST_TEMP ? 2 : 0;
	}

	struct dmarc_report r;
	memset(&r, 0, sizeof r);
	r.pct = -1;
	snprintf(r.org_name, sizeof r.org_name, "%s", o->hostname);
	snprintf(r.email, sizeof r.email, "%s", o->from);
	/* The day, the domain and the time of the run: a day reported in
	 * parts (tern dmarc report --send --today, then the rest after
	 * midnight) needs a new id for each part, since a receiver ignores
	 * a report whose id it has seen (RFC 7489 §7.2.1.1: the Report-ID
	 * is what duplicates are found by); with the day and domain alone
	 * the second part, the same id, was dropped there. */
	char rid[sizeof r.report_id];
	if (g->part)
		snprintf(rid, sizeof rid, "%u.%lld-%u.%.100s", g->day, (long long)o->now, g->part,
		         g->pdomain);
	else
		snprintf(rid, sizeof rid, "%u.%lld.%.100s", g->day, (long long)o->now, g->pdomain);
	/* Letters and digits only: RFC 9990 says the Report-ID and the file
	 * name's unique-id (1*(ALPHA / DIGIT)) "MUST be identical", so the
	 * one id is both. Still unique for the domain: the day and the run
	 * time are 15 digits, a part's number makes it longer. */
	report_file_id(rid, r.report_id, sizeof r.report_id);
	snprintf(r.domain, sizeof r.domain, "%s", g->pdomain);
	r.begin = (int64_t)g->day * 86400;
	r.end = r.begin + 86399;
	dmarc_out_policy(d->record, &r);
	r.rows = g->rows;
	r.nrows = g->nrows;

	struct buf xml, msg;
	struct build b = {&r, o, NULL, 0};
	buf_init(&xml, (size_t)16 << 20);
	buf_init(&msg, MSG_MAX);
	rc = -1;
	if (dmarc_out_xml(&r, &xml) == 0 &&
	    dmarc_report_gzip((const uint8_t *)buf_data(&xml), buf_len(&xml), &b.gz, &b.gzlen) == 0) {
		char to[DMARC_TO_MAX];
		const char *rcpt[DMARC_DEST_MAX];
		size_t nrcpt = 0;
		if (dmarc_dest_fit(d, build_message, &b, &msg, to, rcpt, &nrcpt) != 0)
			rc = -1;
		else if (nrcpt == 0)
			rc = 0;
		else
			rc = submit(st, o, g, to, rcpt, nrcpt, &msg) == 0 ? 1 : -1;
	}
	free(b.gz);
	buf_free(&xml);
	buf_free(&msg);
	dmarc_dest_clear(d);
	free(d);
	return rc;
}

int dmarc_send_reports(struct store *st, const struct dmarc_send_opts *o,
		       struct dmarc_send_result *res)
{
	struct groups g = {0};
	memset(res, 0, sizeof *res);
	if (store_dmarc_seen_list(st, o->before_day, on_seen, &g) != STORE_OK) {
		for (size_t i = 0; i < g.n; i++)
			free(g.v[i].rows);
		free(g.v);
		return -1;
	}
	int first_rc = 0;
	for (size_t i = 0; i < g.n; i++) {
		int last = i + 1 == g.n || g.v[i + 1].part == 0;
		g.v[i].last = (uint8_t)last;
		/* Further parts follow their day's first: sent when it was,
		 * else left with the rows for the next run. */
		if (g.v[i].part == 0 || first_rc == 1) {
			int rc = one(st, o, &g.v[i]);
			if (g.v[i].part == 0)
				first_rc = rc;
			if (rc == 1)
				res->reports++;
			else if (rc == 0)
				res->no_dest++;
			else if (rc == 2)
				res->deferred++;
			else
				res->failed++;
		}
		/* Deferred or failed rows wait for the next run, but not forever;
		 * a day of several parts is forgotten after its last (when an
		 * earlier part went and the last did not, here: the parts
		 * sent would go again). Queued, the last took them with it. */
		if (last && !g.v[i].consumed && (first_rc == 0 || first_rc == 1 ||
		             g.v[i].day + DMARC_SEND_RETRY_DAYS < o->before_day))
			store_dmarc_seen_del(st, g.v[i].day, g.v[i].pdomain);
		free(g.v[i].rows);
	}
	free(g.v);
	return 0;
}
