/*
 * metrics.h — process-wide counters for /metrics and the dashboard.
 *
 * Design. A fixed set of counters (enum metric), each one relaxed atomic
 * 64-bit integer, so any thread (loops, the store writer, the queue, the
 * HTTP threads) counts with one instruction and no lock. Three of them
 * (received, sent, rejected) are also kept per hour for the last
 * METRICS_HOURS hours, for the dashboard chart; that table is under a
 * mutex (a few hundred increments a second at most).
 *
 * Who counts what: inbound SMTP counts connections, messages received
 * (stored after DATA) and rejected (a refused recipient or message);
 * submission counts connections and messages sent (queued after DATA);
 * POP3 and IMAP count connections and failed logins; the outbound queue
 * counts each recipient's attempt as delivered, deferred or bounced.
 *
 * Latency histograms (enum metric_hist) work the same way: fixed bucket
 * bounds, one relaxed atomic per bucket plus the sum, no lock. The store
 * writer observes each group commit and each delivery's wait, so an
 * operator can see from /metrics what a slow disk costs the senders.
 *
 * Caveats: counters start at zero with the process (Prometheus counters do).
 * A histogram read while other threads observe may have its sum a few
 * observations out of step with its buckets; the buckets and the count
 * always agree (the count is their total, read in one pass).
 */
#ifndef TERN_CORE_METRICS_H
#define TERN_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metric {
	METRIC_RECEIVED,  /* messages accepted by inbound SMTP */
	METRIC_REJECTED,  /* recipients or messages refused by inbound SMTP */
	METRIC_SENT,      /* messages accepted by submission for delivery */
	METRIC_DELIVERED, /* outbound deliveries that succeeded */
	METRIC_DEFERRED,  /* outbound attempts that failed temporarily */
	METRIC_BOUNCED,   /* outbound messages given up (DSN sent) */
	METRIC_CONN_SMTP,
	METRIC_CONN_SUBMISSION,
	METRIC_CONN_IMAP,
	METRIC_CONN_POP3,
	METRIC_CONN_HTTP,
	METRIC_CONN_SIEVE,
	METRIC_AUTHFAIL_SUBMISSION,
	METRIC_AUTHFAIL_IMAP,
	METRIC_AUTHFAIL_POP3,
	METRIC_AUTHFAIL_HTTP,
	METRIC_AUTHFAIL_SIEVE,
	METRIC_VIRUS_CLEAN,    /* messages clamd scanned and found clean */
	METRIC_VIRUS_INFECTED, /* messages refused for the virus clamd found */
	METRIC_VIRUS_FAILED,   /* scans that gave no verdict (451) */
	METRIC_VIRUS_SKIPPED,  /* messages over CLAMD_SCAN_MAX, not scanned */
	METRIC_RETENTION_TRASH, /* messages expunged from \Trash by retention (server/retention.h) */
	METRIC_RETENTION_JUNK,  /* ... from \Junk */
	METRIC_COUNT
};

enum metric_hist {
	HIST_STORE_COMMIT, /* one group commit by the store writer: transaction and fsync, wall time */
	HIST_STORE_WAIT,   /* one delivery request: queued for the writer until its commit returned */
	HIST_COUNT
};

/* Upper bounds of the buckets, in microseconds, ascending; observations
 * above the last one are counted in the +Inf bucket only. */
#define METRIC_HIST_BUCKETS 12
extern const uint64_t metric_hist_bounds_us[METRIC_HIST_BUCKETS];

struct metric_hist_snapshot {
	uint64_t le[METRIC_HIST_BUCKETS]; /* cumulative: observations <= that bound */
	uint64_t count;                   /* all observations (the +Inf bucket) */
	uint64_t sum_us;
};

/* Records one observation of us microseconds. Thread-safe, lock-free. */
void metrics_observe_us(enum metric_hist h, uint64_t us);
void metrics_hist_get(enum metric_hist h, struct metric_hist_snapshot *out);

/*
 * Results of the authentication checks on port 25, per check and result
 * (tern_auth_results_total{check,result}). result is one of the RFC 8601
 * names (none, pass, fail, neutral, softfail, policy, temperror,
 * permerror) or, for METRIC_AUTH_ACTION, the policy's action (accept,
 * junk, reject, tempfail); another name is not counted.
 */
enum metric_auth {
	METRIC_AUTH_IPREV,
	METRIC_AUTH_SPF,
	METRIC_AUTH_DKIM,
	METRIC_AUTH_ARC,
	METRIC_AUTH_DMARC,
	METRIC_AUTH_ACTION,
	METRIC_AUTH_COUNT
};
#define METRIC_AUTH_RESULTS 12
/* Adds one. Thread-safe, lock-free. */
void metrics_auth_inc(enum metric_auth check, const char *result);
/* The check's name ("iprev", ..., "action") and result name i (0 ..
 * METRIC_AUTH_RESULTS-1) with its count; 0, or -1 when i is not a result
 * of that check. */
int metrics_auth_get(enum metric_auth check, unsigned i, const char **check_r,
		     const char **result_r, uint64_t *count_r);

#define METRICS_HOURS 24

/* Adds one (or n). Thread-safe, lock-free. RECEIVED, SENT and REJECTED
 * are also added to the current hour. */
void metrics_inc(enum metric m);
void metrics_add(enum metric m, uint64_t n);
/* Current value. */
uint64_t metrics_get(enum metric m);

struct metrics_hour {
	int64_t start; /* Unix time of the hour's start */
	uint64_t received, sent, rejected;
};
/* Fills out[METRICS_HOURS] for the hours ending with the current one,
 * oldest first (hours with no traffic are zero). */
void metrics_hours(int64_t now, struct metrics_hour out[METRICS_HOURS]);
/*
 * The hourly table as text to keep across restarts (the dashboard's chart
 * forgot everything at each start): one line "START RECEIVED SENT
 * REJECTED" per hour with traffic in the last METRICS_HOURS. Writes at
 * most outsz bytes with a NUL (METRICS_HOURS_TEXT_MAX is enough) and
 * returns the length. metrics_hours_load adds the hours of such a text
 * that are still inside the window to the table (lines it cannot read
 * are skipped).
 */
#define METRICS_HOURS_TEXT_MAX (METRICS_HOURS * 88 + 1)
size_t metrics_hours_save(int64_t now, char *out, size_t outsz);
void metrics_hours_load(int64_t now, const char *text, size_t len);

#endif
