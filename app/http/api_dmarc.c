/*
 * api_dmarc.c — GET /api/v1/domains/{domain}/dmarc-reports: the DMARC
 * aggregate reports received for a served domain (store_dmarc.c), as the
 * web admin shows them: a summary per report, the sending sources over
 * all of them, and messages per day passing and failing DMARC for the
 * chart. ?days=N (1..366, default 30) keeps the reports whose period
 * ended in the last N days.
 *
 * A row passes DMARC when its policy_evaluated dkim or spf is "pass"
 * (RFC 9990: those are the aligned results). Sources are counted per
 * source IP and header_from; at most SOURCES_MAX are kept (the rest add
 * to "other_messages"), the largest first in the answer.
 */
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/xalloc.h"
#include "http/http_internal.h"
#include "report/dmarc_report.h"
#include "store/store.h"

#define SOURCES_MAX 500
#define DAYS_MAX 366

struct source {
	char ip[46];
	char header_from[254];
	uint64_t messages, pass, fail, dkim_pass, spf_pass;
	uint64_t quarantined, rejected;
};

struct agg {
	struct jw *w;
	int64_t since;
	int64_t first_day; /* days since the epoch of days[0] */
	int ndays;
	uint64_t day_pass[DAYS_MAX], day_fail[DAYS_MAX];
	struct source *src;
	size_t nsrc;
	uint64_t other, total, pass, fail;
	unsigned reports;
};

static int row_pass(const struct dmarc_report_row *w)
{
	return strcmp(w->dkim, "pass") == 0 || strcmp(w->spf, "pass") == 0;
}

static struct source *source_of(struct agg *g, const struct dmarc_report_row *w)
{
	for (size_t i = 0; i < g->nsrc; i++)
		if (strcmp(g->src[i].ip, w->source_ip) == 0 &&
		    strcmp(g->src[i].header_from, w->header_from) == 0)
			return &g->src[i];
	if (g->nsrc == SOURCES_MAX)
		return NULL;
	struct source *s = &g->src[g->nsrc++];
	memset(s, 0, sizeof *s);
	memcpy(s->ip, w->source_ip, sizeof s->ip);
	memcpy(s->header_from, w->header_from, sizeof s->header_from);
	return s;
}

static void on_report(void *arg, const struct dmarc_report *r, int64_t received_at)
{
	struct agg *g = arg;
	struct jw *w = g->w;
	uint64_t pass = 0, fail = 0;

	if (r->end < g->since)
		return;
	g->reports++;
	for (size_t i = 0; i < r->nrows; i++) {
		const struct dmarc_report_row *x = &r->rows[i];
		int ok = row_pass(x);
		*(ok ? &pass : &fail) += x->count;
		struct source *s = source_of(g, x);
		if (s == NULL) {
			g->other += x->count;
			continue;
		}
		s->messages += x->count;
		*(ok ? &s->pass : &s->fail) += x->count;
		s->dkim_pass += strcmp(x->dkim, "pass") == 0 ? x->count : 0;
		s->spf_pass += strcmp(x->spf, "pass") == 0 ? x->count : 0;
		s->quarantined += strcmp(x->disposition, "quarantine") == 0 ? x->count : 0;
		s->rejected += strcmp(x->disposition, "reject") == 0 ? x->count : 0;
	}
	g->total += r->total_count;
	g->pass += pass;
	g->fail += fail;
	/* The chart counts a report on the day its period began. */
	int64_t day = r->begin / 86400 - g->first_day;
	if (day >= 0 && day < g->ndays) {
		g->day_pass[day] += pass;
		g->day_fail[day] += fail;
	}

	jw_obj_begin(w);
	jw_kstr(w, "org_name", r->org_name);
	jw_kstr(w, "email", r->email);
	jw_kstr(w, "report_id", r->report_id);
	jw_kint(w, "begin", r->begin);
	jw_kint(w, "end", r->end);
	jw_kint(w, "received", received_at);
	jw_kstr(w, "policy_domain", r->domain);
	jw_key(w, "policy");
	jw_obj_begin(w);
	jw_kstr(w, "p", r->p);
	jw_kstr(w, "sp", r->sp);
	jw_kstr(w, "np", r->np);
	jw_kstr(w, "adkim", r->adkim);
	jw_kstr(w, "aspf", r->aspf);
	jw_kstr(w, "testing", r->testing);
	if (r->pct >= 0)
		jw_kint(w, "pct", r->pct);
	jw_obj_end(w);
	jw_kuint(w, "messages", r->total_count);
	jw_kuint(w, "pass", pass);
	jw_kuint(w, "fail", fail);
	jw_kuint(w, "rows", r->nrows);
	jw_kbool(w, "truncated", (r->flags & (DMARC_REPORT_CUT | DMARC_REPORT_ROWS_CUT)) != 0);
	jw_obj_end(w);
}

static int by_messages(const void *a, const void *b)
{
	const struct source *x = a, *y = b;
	if (x->messages != y->messages)
		return x->messages < y->messages ? 1 : -1;
	return strcmp(x->ip, y->ip);
}

void api_domain_dmarc(struct http_ctx *x)
{
	char d[256];
	uint64_t days = 30;

	if (!x->param[0] || str_lower_into(str_c(x->param[0]), d, sizeof d) != 0 ||
	    store_domain_is_local(http_store, d) != 1) {
		http_problem(x, 404, "not_found", NULL, "no domain %.100s",
		             x->param[0] ? x->param[0] : "");
		return;
	}
	if (http_query_u64(x, "days", 1, DAYS_MAX, &days) < 0)
		return;

	struct agg *g = xcalloc(1, sizeof *g);
	struct jw w;
	int64_t now = time_wall();
	g->w = &w;
	g->ndays = (int)days;
	g->first_day = now / 86400 - (int64_t)days + 1;
	g->since = g->first_day * 86400;
	g->src = xcalloc(SOURCES_MAX, sizeof *g->src);

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "domain", d);
	jw_kint(&w, "days", days);
	jw_key(&w, "reports");
	jw_arr_begin(&w);
	int rc = store_dmarc_report_list(http_store, d, on_report, g);
	jw_arr_end(&w);
	if (rc != STORE_OK) {
		free(g->src);
		free(g);
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	jw_key(&w, "totals");
	jw_obj_begin(&w);
	jw_kuint(&w, "reports", g->reports);
	jw_kuint(&w, "messages", g->total);
	jw_kuint(&w, "pass", g->pass);
	jw_kuint(&w, "fail", g->fail);
	jw_obj_end(&w);

	qsort(g->src, g->nsrc, sizeof *g->src, by_messages);
	jw_key(&w, "sources");
	jw_arr_begin(&w);
	for (size_t i = 0; i < g->nsrc; i++) {
		const struct source *s = &g->src[i];
		jw_obj_begin(&w);
		jw_kstr(&w, "source_ip", s->ip);
		jw_kstr(&w, "header_from", s->header_from);
		jw_kuint(&w, "messages", s->messages);
		jw_kuint(&w, "pass", s->pass);
		jw_kuint(&w, "fail", s->fail);
		jw_kuint(&w, "dkim_pass", s->dkim_pass);
		jw_kuint(&w, "spf_pass", s->spf_pass);
		jw_kuint(&w, "quarantined", s->quarantined);
		jw_kuint(&w, "rejected", s->rejected);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kuint(&w, "other_messages", g->other);

	jw_key(&w, "by_day");
	jw_arr_begin(&w);
	for (int i = 0; i < g->ndays; i++) {
		jw_obj_begin(&w);
		jw_kint(&w, "day", (g->first_day + i) * 86400);
		jw_kuint(&w, "pass", g->day_pass[i]);
		jw_kuint(&w, "fail", g->day_fail[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(g->src);
	free(g);
}
