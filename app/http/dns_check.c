/*
 * dns_check.c — DNS lookups (dns_query) comparing published records with
 * the ones tern asks for. See dns_check.h.
 *
 * Comparison rules: MX, SRV and CNAME compare the target host (and the SRV
 * port), not priorities or weights, which users tune; TXT records compare
 * the whole text with white space squeezed, except DKIM keys, which
 * compare the p= tag. A record of the same kind with another value (an
 * MX to another host, a "v=spf1" with other terms) is "different".
 */
#include "http/dns_check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"

const char *dns_status_name(enum dns_check_status s)
{
	switch (s) {
	case DNS_CHECK_FOUND: return "found";
	case DNS_CHECK_MISSING: return "missing";
	case DNS_CHECK_DIFFERENT: return "different";
	default: return "error";
	}
}

struct check_run {
	struct loop *loop;
	size_t pending;
	struct check_run *next; /* in runs */
};

/*
 * The checks under way, so that a stopping server ends them at once
 * (dns_check_stop_all) rather than waiting up to DNS_CHECK_TIMEOUT_MS:
 * that was longer than the drain, so the answer was cut, and the HTTP
 * daemon's stop gave up waiting for the check's thread.
 */
static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct check_run *runs;
static int stopping;

static void run_end(void *arg)
{
	loop_stop(arg);
}

void dns_check_stop_all(void)
{
	pthread_mutex_lock(&runs_mu);
	stopping = 1;
	for (struct check_run *r = runs; r; r = r->next)
		loop_post(r->loop, run_end, r->loop);
	pthread_mutex_unlock(&runs_mu);
}

/* Adds run to runs; -1 (not added) once the server is stopping. */
static int run_enter(struct check_run *run)
{
	pthread_mutex_lock(&runs_mu);
	int ok = !stopping;
	if (ok) {
		run->next = runs;
		runs = run;
	}
	pthread_mutex_unlock(&runs_mu);
	return ok ? 0 : -1;
}

static void run_leave(struct check_run *run)
{
	pthread_mutex_lock(&runs_mu);
	for (struct check_run **p = &runs; *p; p = &(*p)->next)
		if (*p == run) {
			*p = run->next;
			break;
		}
	pthread_mutex_unlock(&runs_mu);
}

struct query {
	const struct admin_dns_record *rec;
	struct dns_result *res;
	struct check_run *run;
	struct dns_query *q; /* NULL once answered */
	int done;
};

static void on_answer(void *arg, const struct dns_answer *a)
{
	struct query *q = arg;
	char v[ADMIN_DNS_VALUE_MAX];

	q->done = 1;
	q->q = NULL;
	if (--q->run->pending == 0)
		loop_stop(q->run->loop);
	if (a->status == DNS_ANS_TEMP) {
		q->res->status = DNS_CHECK_ERROR;
		dns_check_note_found(q->res, "DNS error or timeout");
		return;
	}
	q->res->status = DNS_CHECK_MISSING; /* until a record of its kind shows up */
	for (size_t i = 0; i < a->nrr; i++) {
		const struct dns_rr *r = &a->rr[i];
		const char *t = dns_rr_text(a, i);
		if (r->type == DNS_T_MX)
			snprintf(v, sizeof(v), "%u %s.", r->pref, t);
		else if (r->type == DNS_T_SRV)
			snprintf(v, sizeof(v), "%u %u %u %s.", r->pref, r->weight, r->port, t);
		else if (r->type == DNS_T_CNAME)
			snprintf(v, sizeof(v), "%s.", t);
		else
			snprintf(v, sizeof(v), "%s", t); /* TXT: the strings joined (RFC 7208 §3.3) */
		dns_check_compare(q->rec, q->res, v);
	}
}

static void deadline(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static uint16_t rr_type(const char *t)
{
	if (strcmp(t, "MX") == 0)
		return DNS_T_MX;
	if (strcmp(t, "SRV") == 0)
		return DNS_T_SRV;
	if (strcmp(t, "TXT") == 0)
		return DNS_T_TXT;
	return DNS_T_CNAME;
}

void dns_check(const struct admin_dns *d, const char *servers, struct dns_result *res)
{
	struct query q[ADMIN_DNS_MAX];
	char err[256];

	memset(res, 0, sizeof(res[0]) * d->n);
	for (size_t i = 0; i < d->n; i++)
		res[i].status = DNS_CHECK_ERROR;
	struct check_run run = { .loop = loop_new() };
	struct dns *dns = dns_new(run.loop, servers, err, sizeof(err));
	if (!dns) {
		log_warn("http", NULL, "event=dns_check_failed error=\"%s\"", err);
		loop_free(&run.loop);
		return;
	}
	/* Counted before any query starts: a cached answer comes at once. */
	run.pending = d->n + 1;
	for (size_t i = 0; i < d->n; i++) {
		char name[sizeof(d->rec[i].name)];
		q[i] = (struct query){ .rec = &d->rec[i], .res = &res[i], .run = &run };
		dns_check_canon(d->rec[i].name, name, sizeof(name));
		/* Fresh answers: the user may have just fixed the record. */
		q[i].q = dns_query_flags(dns, name, rr_type(d->rec[i].type), DNS_QUERY_FRESH, on_answer,
					 &q[i]);
	}
	if (--run.pending > 0 && run_enter(&run) == 0) {
		uint64_t t = loop_timer_add(run.loop, DNS_CHECK_TIMEOUT_MS, deadline, NULL);
		loop_run(run.loop);
		loop_timer_del(run.loop, t);
		run_leave(&run);
	}
	for (size_t i = 0; i < d->n; i++) {
		if (!q[i].done) {
			dns_query_cancel(q[i].q);
			dns_check_note_found(&res[i], "timeout");
		}
	}
	dns_free(&dns);
	loop_free(&run.loop);
}
