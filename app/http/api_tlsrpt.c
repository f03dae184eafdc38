/*
 * api_tlsrpt.c — GET /api/v1/domains/{domain}/tlsrpt-reports: the TLS-RPT
 * reports (RFC 8460) other senders mailed about a served domain
 * (report/tlsrpt_intake.h), as the web admin shows them beside the DMARC
 * reports: each report with its policies and failure details, and the
 * totals. ?days=N (1..366, default 30) keeps the reports whose period
 * ended in the last N days.
 */
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "http/http_internal.h"
#include "report/tlsrpt_intake.h"
#include "store/store.h"

#define DAYS_MAX 366

struct agg {
	struct jw *w;
	int64_t since;
	uint64_t reports, successful, failed;
};

static void on_report(void *arg, const struct tlsrpt_report *r, int64_t received_at,
		      const char *dkim)
{
	struct agg *g = arg;
	struct jw *w = g->w;
	uint64_t ok = 0, failed = 0;
	if (r->end < g->since)
		return;
	for (size_t i = 0; i < r->npolicies; i++) {
		ok += r->policies[i].successful;
		failed += r->policies[i].failed;
	}
	g->reports++;
	g->successful += ok;
	g->failed += failed;
	jw_obj_begin(w);
	jw_kstr(w, "organization", r->organization);
	jw_kstr(w, "contact", r->contact ? r->contact : "");
	jw_kstr(w, "report_id", r->report_id);
	jw_kint(w, "start", r->start);
	jw_kint(w, "end", r->end);
	jw_kint(w, "received", received_at);
	/* "pass" with the signing domain, "fail", "none", "unchecked" or
	 * "unknown" (tlsrpt_intake.h). */
	const char *colon = strchr(dkim, ':');
	if (colon) {
		jw_key(w, "dkim");
		jw_strn(w, dkim, (size_t)(colon - dkim));
		jw_kstr(w, "dkim_domain", colon + 1);
	} else {
		jw_kstr(w, "dkim", dkim);
		jw_kstr(w, "dkim_domain", "");
	}
	jw_kuint(w, "successful", ok);
	jw_kuint(w, "failed", failed);
	jw_key(w, "policies");
	jw_arr_begin(w);
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		jw_obj_begin(w);
		jw_kstr(w, "type", tlsrpt_policy_type_name(p->type));
		jw_kstr(w, "domain", p->domain);
		jw_kuint(w, "successful", p->successful);
		jw_kuint(w, "failed", p->failed);
		jw_key(w, "failures");
		jw_arr_begin(w);
		for (size_t k = 0; k < p->nfailures; k++) {
			const struct tlsrpt_failure *f = &p->failures[k];
			jw_obj_begin(w);
			jw_kstr(w, "result", tlsrpt_result_name(f->result));
			jw_kstr(w, "mx", f->receiving_mx_hostname);
			jw_kstr(w, "ip", f->receiving_ip);
			jw_kstr(w, "sending_ip", f->sending_mta_ip);
			jw_kuint(w, "sessions", f->failed_session_count);
			/* The URI of more, else the error in words (RFC 8460 §4.4). */
			const char *info = f->additional_information[0] ? f->additional_information
								      : f->failure_reason_code;
			jw_kstr(w, "info", info);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void api_domain_tlsrpt(struct http_ctx *x)
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
	struct jw w;
	struct agg g = {&w, (time_wall() / 86400 - (int64_t)days + 1) * 86400, 0, 0, 0};
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "domain", d);
	jw_kint(&w, "days", days);
	jw_key(&w, "reports");
	jw_arr_begin(&w);
	int rc = tlsrpt_report_list(http_store, d, on_report, &g);
	jw_arr_end(&w);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "store error, see the log");
		return;
	}
	jw_key(&w, "totals");
	jw_obj_begin(&w);
	jw_kuint(&w, "reports", g.reports);
	jw_kuint(&w, "successful", g.successful);
	jw_kuint(&w, "failed", g.failed);
	jw_obj_end(&w);
	jw_obj_end(&w);
}
