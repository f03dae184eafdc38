/*
 * dmarc_reporter.c — the report thread and the run it shares with the
 * CLI (dmarc_reporter.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin_meta.h"
#include "core/config.h"
#include "core/hostname.h"
#include "core/log.h"
#include "core/loop.h"
#include "dns/dns.h"
#include "dns/dns_drive.h"
#include "report/dmarc_fail.h"
#include "report/dmarc_out.h"
#include "report/dmarc_reporter.h"
#include "report/dmarc_seen.h"
#include "report/tlsrpt_seen.h"
#include "report/tlsrpt_send.h"
#include "store/store.h"

#define LOOKUP_DEADLINE_MS 20000
#define SEND_EVERY_S 3600

static void first_domain(void *arg, const char *d)
{
	char *out = arg;
	if (out[0] == '\0')
		snprintf(out, 256, "%s", d);
}

void dmarc_reporter_from(const struct config *cfg, struct store *st, char *out, size_t outsz)
{
	char v[320] = "", dom[256] = "";
	if (admin_setting_locked(SETTING_DMARC_REPORT_FROM))
		snprintf(v, sizeof v, "%s", cfg->dmarc_report_from);
	else if (admin_setting_get(st, SETTING_DMARC_REPORT_FROM, v, sizeof v) != STORE_OK)
		v[0] = '\0';
	if (strcmp(v, "off") == 0) {
		out[0] = '\0';
		return;
	}
	if (v[0]) {
		snprintf(out, outsz, "%s", v);
		return;
	}
	if (admin_setting_locked(SETTING_DOMAIN) ||
	    admin_setting_get(st, SETTING_DOMAIN, dom, sizeof dom) != STORE_OK || !dom[0])
		snprintf(dom, sizeof dom, "%s", cfg->domain);
	if (!dom[0])
		store_domain_list(st, first_domain, dom);
	if (dom[0])
		snprintf(out, outsz, "postmaster@%s", dom);
	else
		out[0] = '\0';
}

struct lookup {
	const struct config *cfg;
	int stoppable; /* a failure report's: the stop ends it (dmarc_fail_stopping) */
};

static void lookup_done(void *arg)
{
	loop_stop(arg);
}

static void lookup_deadline(struct loop *l, void *arg)
{
	*(int *)arg = 1;
	loop_stop(l);
}

/* A failure report's lookup gives up at the stop, which then waits for
 * no DNS server (the report is saved for the next start). */
#define STOP_CHECK_MS 100

static void lookup_stop_check(struct loop *l, void *arg)
{
	if (dmarc_fail_stopping())
		lookup_deadline(l, arg);
	else
		loop_timer_add(l, STOP_CHECK_MS, lookup_stop_check, arg);
}

/* One evaluation on a loop and DNS channel of its own (a stopped loop
 * stays stopped, so each lookup gets a new one). */
static int net_lookup(void *arg, struct dmarc_dest *d)
{
	struct lookup *lk = arg;
	char err[256];
	int timed_out = 0;
	struct loop *loop = loop_new();
	struct dns *dns = dns_new(loop, lk->cfg->dns_servers, err, sizeof err);
	if (dns == NULL) {
		log_warn("dmarc", NULL, "event=dns_unavailable reason=\"%s\"", err);
		loop_free(&loop);
		return -1;
	}
	struct dns_resolver r = dns_resolver_of(dns);
	struct dns_drive *dr = dns_drive(&r, &dmarc_dest_ops, d, lookup_done, loop);
	if (dr != NULL) {
		uint64_t t = loop_timer_add(loop, LOOKUP_DEADLINE_MS, lookup_deadline, &timed_out);
		if (lk->stoppable)
			loop_timer_add(loop, STOP_CHECK_MS, lookup_stop_check, &timed_out);
		loop_run(loop);
		if (timed_out)
			dns_drive_cancel(dr);
		else
			loop_timer_del(loop, t);
	}
	dns_free(&dns);
	loop_free(&loop);
	return timed_out ? -1 : 0;
}

int dmarc_reporter_run(const struct config *cfg, struct store *st, uint32_t before_day, int64_t now,
		       struct dmarc_send_result *res)
{
	char from[320];
	struct lookup lk = {cfg, 0};

	memset(res, 0, sizeof *res);
	dmarc_seen_flush(st);
	dmarc_reporter_from(cfg, st, from, sizeof from);
	if (from[0] == '\0')
		return 1;
	struct dmarc_send_opts o = {from, hostname_now(), before_day, now, net_lookup, &lk};
	/* One run at a time across processes (the server's thread and tern
	 * dmarc report --send): both would read a day's rows before either
	 * deleted them, and the day would be reported twice. */
	char lp[4096];
	snprintf(lp, sizeof lp, "%s/dmarc-report.lock", store_data_dir(st));
	int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd >= 0)
		flock(lfd, LOCK_EX);
	int rc = dmarc_send_reports(st, &o, res);
	if (lfd >= 0)
		close(lfd); /* releases the lock */
	if (rc == 0 && (res->reports || res->no_dest || res->deferred || res->failed))
		log_info("dmarc", NULL,
		         "event=reports_sent from=%s reports=%u no_destination=%u deferred=%u failed=%u",
		         from, res->reports, res->no_dest, res->deferred, res->failed);
	return rc;
}

int tlsrpt_reporter_run(const struct config *cfg, struct store *st, uint32_t before_day,
			int64_t now, struct tlsrpt_send_result *res)
{
	char from[320];
	memset(res, 0, sizeof *res);
	tlsrpt_seen_flush(st);
	dmarc_reporter_from(cfg, st, from, sizeof from);
	if (from[0] == '\0')
		return 1;
	struct tlsrpt_send_opts o = {from, hostname_now(), cfg->dns_servers, before_day, now};
	int rc = tlsrpt_send_reports(st, &o, res);
	if (rc == 0 && (res->mailed || res->posted || res->no_dest || res->deferred || res->failed))
		log_info("tlsrpt", NULL,
			 "event=reports_sent from=%s mailed=%u posted=%u no_record=%u deferred=%u failed=%u",
			 from, res->mailed, res->posted, res->no_dest, res->deferred, res->failed);
	return rc;
}

/* ---- the thread ---- */

static pthread_t thread;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int started, stopping, flush_asked, fail_asked;
static const struct config *r_cfg;
static struct store *r_st;

static void *reporter_main(void *arg)
{
	int64_t last_send = 0;
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += DMARC_REPORTER_TICK_S;
		if (!flush_asked && !fail_asked)
			pthread_cond_timedwait(&cv, &mu, &ts);
		if (stopping)
			break;
		int asked = flush_asked, fail = fail_asked;
		flush_asked = fail_asked = 0;
		pthread_mutex_unlock(&mu);
		int64_t now = time_wall();
		if (fail) {
			dmarc_fail_run(r_cfg, r_st, now);
			if (!asked) {
				pthread_mutex_lock(&mu);
				continue;
			}
		}
		if (asked) {
			int n = dmarc_seen_flush(r_st);
			int t = tlsrpt_seen_flush(r_st);
			log_info("dmarc", NULL, "event=seen_flushed rows=%d", n);
			log_info("tlsrpt", NULL, "event=seen_flushed rows=%d", t);
		} else if (now - last_send >= SEND_EVERY_S) {
			struct dmarc_send_result res;
			struct tlsrpt_send_result tres;
			dmarc_reporter_run(r_cfg, r_st, (uint32_t)(now / 86400), now, &res);
			tlsrpt_reporter_run(r_cfg, r_st, (uint32_t)(now / 86400), now, &tres);
			last_send = now;
		} else {
			dmarc_seen_flush(r_st);
			tlsrpt_seen_flush(r_st);
		}
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	dmarc_seen_flush(r_st);
	tlsrpt_seen_flush(r_st);
	return NULL;
}

int dmarc_reporter_start(const struct config *cfg, struct store *st)
{
	r_cfg = cfg;
	r_st = st;
	stopping = 0;
	/* Failure reports the last stop kept: sent now. */
	fail_asked = dmarc_fail_load(st) > 0;
	if (pthread_create(&thread, NULL, reporter_main, NULL) != 0) {
		log_error("dmarc", NULL, "event=reporter_not_started reason=\"pthread_create failed\"");
		return -1;
	}
	started = 1;
	return 0;
}

unsigned dmarc_fail_run(const struct config *cfg, struct store *st, int64_t now)
{
	char from[320];
	struct lookup lk = {cfg, 1};
	dmarc_reporter_from(cfg, st, from, sizeof from);
	/* Off with the aggregate reports, or alone (the setting). */
	char v[8] = "";
	size_t n = 0;
	if (store_meta_get(st, DMARC_FAIL_SETTING, v, sizeof v - 1, &n) == STORE_OK)
		v[n] = '\0';
	if (strcmp(v, "off") == 0)
		from[0] = '\0';
	return dmarc_fail_send(st, from, hostname_now(), net_lookup, &lk, now);
}

void dmarc_reporter_fail_soon(void)
{
	pthread_mutex_lock(&mu);
	fail_asked = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void dmarc_reporter_flush_soon(void)
{
	pthread_mutex_lock(&mu);
	flush_asked = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

void dmarc_reporter_stop(void)
{
	if (!started)
		return;
	dmarc_fail_stop();
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	started = 0;
	dmarc_fail_save(r_st); /* what waits, for the next start */
}
