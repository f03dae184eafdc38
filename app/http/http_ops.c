/*
 * http_ops.c — /healthz and /metrics (Prometheus text format 0.0.4).
 *
 * /metrics is readable with an API token or from the networks in
 * TERN_METRICS_ALLOW (default loopback only): counters say how busy the
 * server is and which protocols are attacked, which is worth keeping from
 * strangers. Plain HTTP serves it too (Prometheus inside a compose
 * network), but there, beside an HTTPS listener, only a read-scope token
 * is taken from another host: an admin token would cross the network in
 * the clear, and with it everything the API can do.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "admin/admin_meta.h"
#include "backup/backup_sched.h"
#include "core/cidr.h"
#include "core/metrics.h"
#include "http/http_internal.h"
#include "imap/imap_server.h"
#include "net/limits.h"
#include "net/tls.h"
#include "pop3/pop3_server.h"
#include "sieve/msieve_server.h"
#include "smtp/smtp_server.h"
#include "store/store.h"

void http_healthz(struct http_ctx *x)
{
	uint64_t mapsize, used;
	int store_ok = store_map_info(http_store, &mapsize, &used) == STORE_OK;

	http_header(x, "Cache-Control", "no-store");
	if (store_ok && http_is_ready())
		http_text(x, 200, "text/plain; charset=utf-8", "ok\n");
	else
		http_text(x, 503, "text/plain; charset=utf-8",
			  store_ok ? "starting\n" : "store unavailable\n");
}

static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct buf *b, const char *name, const char *help, enum metric m)
{
	family(b, name, "counter", help);
	buf_printf(b, "%s %llu\n", name, (unsigned long long)metrics_get(m));
}

static void histogram(struct buf *b, const char *name, const char *help, enum metric_hist h)
{
	struct metric_hist_snapshot snap;

	metrics_hist_get(h, &snap);
	family(b, name, "histogram", help);
	for (size_t i = 0; i < METRIC_HIST_BUCKETS; i++)
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name,
			   (double)metric_hist_bounds_us[i] / 1e6, (unsigned long long)snap.le[i]);
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)snap.count);
	buf_printf(b, "%s_sum %llu.%06llu\n", name, (unsigned long long)(snap.sum_us / 1000000),
		   (unsigned long long)(snap.sum_us % 1000000));
	buf_printf(b, "%s_count %llu\n", name, (unsigned long long)snap.count);
}

/*
 * 1 when x came over plain HTTP from another host while HTTPS is served:
 * the case where credentials would travel in the clear. Without an HTTPS
 * listener plain HTTP is all there is (a proxy ends TLS in front), and
 * from this host (scripts, a local Prometheus) nothing crosses a network.
 */
static int cleartext_remote(const struct http_ctx *x)
{
	return !x->https && http_https_port() && !x->loopback;
}

void http_metrics(struct http_ctx *x)
{
	const char *authz = http_req_header(x, "Authorization");
	int allowed = cidr_list_match(http_cfg->metrics_allow, x->ip);

	if (!allowed && authz && strncasecmp(authz, "Bearer ", 7) == 0) {
		allowed = http_bearer_check(x, authz + 7);
		if (allowed < 0)
			return; /* 429 sent */
		if (allowed && !x->read_only && cleartext_remote(x)) {
			/* A valid token, so no failed login; but it was sent in
			 * the clear, which its owner should hear about. */
			log_warn("http", NULL,
				 "event=token_refused reason=plain_http scope=admin ip=%s "
				 "hint=\"an admin token crossed the network unencrypted: replace it, "
				 "and scrape with a read token or over HTTPS\"",
				 x->ip);
			http_problem(x, 403, "forbidden", NULL,
				     "plain HTTP takes only a read-scope token (tern token add NAME "
				     "--read); send an admin token over HTTPS");
			return;
		}
	}
	if (!allowed) {
		http_problem(x, 403, "forbidden", NULL,
			     "send an API token, or list this network in TERN_METRICS_ALLOW");
		return;
	}
	struct buf *b = &x->out;
	uint64_t mapsize = 0, used = 0;
	long held = 0, q = http_queue_size(&held);
	static const struct {
		const char *proto;
		enum metric m;
	} conns[] = {
		{ "smtp", METRIC_CONN_SMTP }, { "submission", METRIC_CONN_SUBMISSION },
		{ "imap", METRIC_CONN_IMAP }, { "pop3", METRIC_CONN_POP3 },
		{ "http", METRIC_CONN_HTTP }, { "sieve", METRIC_CONN_SIEVE },
	}, virus[] = {
		{ "clean", METRIC_VIRUS_CLEAN }, { "infected", METRIC_VIRUS_INFECTED },
		{ "failed", METRIC_VIRUS_FAILED }, { "skipped", METRIC_VIRUS_SKIPPED },
	}, retention[] = {
		{ "trash", METRIC_RETENTION_TRASH }, { "junk", METRIC_RETENTION_JUNK },
	}, fails[] = {
		{ "submission", METRIC_AUTHFAIL_SUBMISSION }, { "imap", METRIC_AUTHFAIL_IMAP },
		{ "pop3", METRIC_AUTHFAIL_POP3 }, { "http", METRIC_AUTHFAIL_HTTP },
		{ "sieve", METRIC_AUTHFAIL_SIEVE },
	};

	buf_reset(b);
	counter(b, "tern_messages_received_total", "Messages accepted by inbound SMTP.", METRIC_RECEIVED);
	counter(b, "tern_messages_rejected_total", "Recipients or messages refused by inbound SMTP.",
		METRIC_REJECTED);
	counter(b, "tern_messages_sent_total", "Messages accepted by submission for delivery.", METRIC_SENT);
	counter(b, "tern_messages_delivered_total", "Outbound deliveries that succeeded.",
		METRIC_DELIVERED);
	counter(b, "tern_messages_deferred_total", "Outbound delivery attempts that failed temporarily.",
		METRIC_DEFERRED);
	counter(b, "tern_messages_bounced_total", "Outbound messages given up.", METRIC_BOUNCED);
	family(b, "tern_connections_total", "counter", "Client connections accepted, per protocol.");
	for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++)
		buf_printf(b, "tern_connections_total{protocol=\"%s\"} %llu\n", conns[i].proto,
			   (unsigned long long)metrics_get(conns[i].m));
	family(b, "tern_auth_failures_total", "counter", "Failed logins, per protocol.");
	for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++)
		buf_printf(b, "tern_auth_failures_total{protocol=\"%s\"} %llu\n", fails[i].proto,
			   (unsigned long long)metrics_get(fails[i].m));
	family(b, "tern_auth_results_total", "counter",
	       "Port 25 authentication results (RFC 8601 names) and policy actions, per check.");
	for (int c = 0; c < METRIC_AUTH_COUNT; c++)
		for (unsigned i = 0; i < METRIC_AUTH_RESULTS; i++) {
			const char *cn, *rn;
			uint64_t v;
			if (metrics_auth_get(c, i, &cn, &rn, &v) == 0)
				buf_printf(b, "tern_auth_results_total{check=\"%s\",result=\"%s\"} %llu\n", cn,
					   rn, (unsigned long long)v);
		}
	family(b, "tern_virus_scans_total", "counter",
	       "Messages given to clamd (TERN_CLAMD), per result; skipped: too big to scan.");
	for (size_t i = 0; i < sizeof(virus) / sizeof(virus[0]); i++)
		buf_printf(b, "tern_virus_scans_total{result=\"%s\"} %llu\n", virus[i].proto,
			   (unsigned long long)metrics_get(virus[i].m));
	family(b, "tern_retention_expunged_total", "counter",
	       "Messages expunged from Trash and Junk after their retention days, per role.");
	for (size_t i = 0; i < sizeof(retention) / sizeof(retention[0]); i++)
		buf_printf(b, "tern_retention_expunged_total{mailbox=\"%s\"} %llu\n",
			   retention[i].proto, (unsigned long long)metrics_get(retention[i].m));
	/* The protocols of tern_connections_total but http (its requests
	 * are not sessions): smtp is port 25 alone, as there. */
	unsigned smtp_all = smtp_server_sessions(), sub = smtp_server_submission_sessions();
	family(b, "tern_sessions", "gauge", "Sessions open now, per protocol.");
	buf_printf(b, "tern_sessions{protocol=\"smtp\"} %u\n", smtp_all > sub ? smtp_all - sub : 0);
	buf_printf(b, "tern_sessions{protocol=\"submission\"} %u\n", sub);
	buf_printf(b, "tern_sessions{protocol=\"imap\"} %u\n", imap_server_sessions());
	buf_printf(b, "tern_sessions{protocol=\"pop3\"} %u\n", pop3_server_sessions());
	buf_printf(b, "tern_sessions{protocol=\"sieve\"} %u\n", msieve_server_sessions());
	family(b, "tern_connection_slots", "gauge",
	       "Connection slots taken now, per pool (TERN_<POOL>_MAX_CONNECTIONS).");
	for (int p = 0; p < POOL_COUNT; p++)
		buf_printf(b, "tern_connection_slots{pool=\"%s\"} %u\n", config_pool_name(p),
			   limits_current(p));
	family(b, "tern_connection_pressure", "gauge",
	       "1 while a pool is under pressure (port 25 then shortens its idle timeout).");
	for (int p = 0; p < POOL_COUNT; p++)
		buf_printf(b, "tern_connection_pressure{pool=\"%s\"} %d\n", config_pool_name(p),
			   limits_pressure(p));
	family(b, "tern_queue_size", "gauge", "Messages in the outbound queue.");
	buf_printf(b, "tern_queue_size %ld\n", q < 0 ? 0 : q);
	family(b, "tern_queue_held", "gauge",
	       "Of those, messages held (restored from a backup): never sent nor expired until "
	       "released (tern queue flush, the API's retry) or deleted.");
	buf_printf(b, "tern_queue_held %ld\n", held);
	store_map_info(http_store, &mapsize, &used);
	family(b, "tern_store_bytes", "gauge", "Bytes of the store in use.");
	buf_printf(b, "tern_store_bytes %llu\n", (unsigned long long)used);
	family(b, "tern_store_map_bytes", "gauge", "Size of the store's memory map.");
	buf_printf(b, "tern_store_map_bytes %llu\n", (unsigned long long)mapsize);
	histogram(b, "tern_store_commit_seconds",
		  "Wall time of one group commit by the store writer (transaction and fsync).",
		  HIST_STORE_COMMIT);
	histogram(b, "tern_store_delivery_wait_seconds",
		  "Time a delivery waited for the store, from queueing to its commit returning.",
		  HIST_STORE_WAIT);
	{
		int64_t last_good;
		uint64_t nfail, bytes, ms;
		int configured, running;
		backup_sched_metrics(&last_good, &bytes, &ms, &nfail, &configured, &running);
		family(b, "tern_backup_failures_total", "counter",
		       "Scheduled backups that failed since the server started.");
		buf_printf(b, "tern_backup_failures_total %llu\n", (unsigned long long)nfail);
		family(b, "tern_backup_running", "gauge", "1 while a scheduled backup runs.");
		buf_printf(b, "tern_backup_running %d\n", running);
		/* No sample without a good backup: an alert on absent() or on
		 * the age catches both "never" and "too long ago". */
		if (configured && last_good > 0) {
			int64_t age = (int64_t)time(NULL) - last_good;
			family(b, "tern_backup_last_success_timestamp_seconds", "gauge",
			       "Unix time of the newest good backup in TERN_BACKUP_DIR.");
			buf_printf(b, "tern_backup_last_success_timestamp_seconds %lld\n", (long long)last_good);
			family(b, "tern_backup_last_success_age_seconds", "gauge",
			       "Seconds since the newest good backup in TERN_BACKUP_DIR.");
			buf_printf(b, "tern_backup_last_success_age_seconds %lld\n", (long long)(age < 0 ? 0 : age));
			family(b, "tern_backup_last_success_bytes", "gauge",
			       "Size of the newest good backup (its blobs, shared with older ones, "
			       "included).");
			buf_printf(b, "tern_backup_last_success_bytes %llu\n",
			           (unsigned long long)bytes);
			family(b, "tern_backup_last_success_duration_seconds", "gauge",
			       "How long the newest good backup took to make.");
			buf_printf(b, "tern_backup_last_success_duration_seconds %llu.%03llu\n",
			           (unsigned long long)(ms / 1000),
			           (unsigned long long)(ms % 1000));
		}
	}
	{
		struct tls_conf *tc = tls_current();
		if (tc != NULL) {
			family(b, "tern_tls_certificate_expiry_timestamp_seconds", "gauge",
			       "Unix time the certificate new TLS connections get expires.");
			buf_printf(b, "tern_tls_certificate_expiry_timestamp_seconds %lld\n",
				   (long long)tls_conf_not_after(tc));
			tls_conf_unref(&tc);
		}
		struct acme_status as;
		acme_status_get(&as);
		family(b, "tern_acme_failing", "gauge",
		       "1 while the last ACME attempt failed (the Settings page says why), else 0.");
		buf_printf(b, "tern_acme_failing %d\n", as.enabled && strcmp(as.state, "failed") == 0);
	}
	family(b, "tern_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
	buf_printf(b, "tern_process_resident_memory_bytes %llu\n", (unsigned long long)rss_bytes());
	family(b, "tern_start_time_seconds", "gauge", "Unix time the server started.");
	buf_printf(b, "tern_start_time_seconds %lld\n", (long long)http_started_at);
	x->status = 200;
	x->type = "text/plain; version=0.0.4; charset=utf-8";
	http_header(x, "Cache-Control", "no-store");
}
