/*
 * dmarc_reporter.h — when tern sends its DMARC aggregate reports: a
 * thread of its own in `tern serve`, and `tern dmarc report` for users
 * and tests (cli/cmd_dmarc.c).
 *
 * Design. The thread wakes every DMARC_REPORTER_TICK_S seconds: it moves
 * the counts waiting in memory to the store (dmarc_seen_flush), and, at
 * most once an hour, sends the reports of the UTC days before today
 * (dmarc_send_reports) with a loop and a DNS channel of its own, made for
 * each lookup (TERN_DNS_SERVERS, 20 s each). Days are whole UTC days; a
 * restart loses nothing the last flush stored. At stop it flushes once
 * more. Blocking work (DNS, store writes, the queue's commit) stays off
 * the I/O loops.
 *
 * The From address (dmarc_reporter_from): TERN_DMARC_REPORT_FROM, else
 * the setting stored by the admin API, else postmaster@ the primary
 * domain (TERN_DOMAIN or the wizard's), else of the first served domain.
 * "off" sends nothing (counts are still kept, and dropped once too old to
 * report). The address's domain must be served: its DKIM keys sign.
 *
 * The same thread serves TLS-RPT (RFC 8460, report/tlsrpt_*.h): the
 * outbound TLS outcomes the queue counted are stored at each tick and
 * SIGHUP, and the days before today are reported once an hour, From the
 * same address (so "off" turns both kinds of report off).
 *
 * Failure reports (report/dmarc_fail.h) are sent as soon as port 25
 * queues one: dmarc_reporter_fail_soon() wakes the thread. Also From the
 * same address; the setting DMARC_FAIL_SETTING "off" turns them alone
 * off (on by default, as Stalwart's, rate-limited).
 */
#ifndef TERN_REPORT_DMARC_REPORTER_H
#define TERN_REPORT_DMARC_REPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "report/dmarc_send.h"

struct config;
struct store;

/* 60 s: a crash loses at most a minute of DMARC and TLS-RPT counts (issue 30). */
#define DMARC_REPORTER_TICK_S 60

/* The From address now (see above) into out; "" when off or no domain. */
void dmarc_reporter_from(const struct config *cfg, struct store *st, char *out, size_t outsz);

/*
 * Flushes the counts in memory, then sends the reports of the days
 * before before_day (blocking; DNS from cfg), holding an flock on
 * DATA_DIR/dmarc-report.lock so that two processes never report a day
 * twice. 0, 1 when reports are off
 * (nothing sent), -1 when the store could not be read.
 */
int dmarc_reporter_run(const struct config *cfg, struct store *st, uint32_t before_day, int64_t now,
		       struct dmarc_send_result *res);

struct tlsrpt_send_result;
/*
 * The TLS-RPT counterpart of dmarc_reporter_run: flushes the counts in
 * memory, then sends the reports of the days before before_day. 0, 1 when
 * reports are off, -1 when the store could not be read.
 */
int tlsrpt_reporter_run(const struct config *cfg, struct store *st, uint32_t before_day,
			int64_t now, struct tlsrpt_send_result *res);

/* The store key of the failure reports' switch: "off" sends none
 * (absent or anything else: on while the aggregate reports are). */
#define DMARC_FAIL_SETTING "setting/dmarc_failure_reports"

/*
 * Sends the failure reports waiting in memory (report/dmarc_fail.h) From
 * the address above; dropped when off. Returns the reports queued.
 */
unsigned dmarc_fail_run(const struct config *cfg, struct store *st, int64_t now);
/* Wakes the thread to send the failure reports waiting. Thread-safe; a
 * no-op for the thread when none was started (the CLI). */
void dmarc_reporter_fail_soon(void);

/* Starts the thread (tern serve). 0, or -1 (logged; the server runs without). */
int dmarc_reporter_start(const struct config *cfg, struct store *st);
/* Wakes the thread to store the counts in memory now (SIGHUP). Thread-safe. */
void dmarc_reporter_flush_soon(void);
/* Stops it after a last flush (before the store closes). No-op when not started. */
void dmarc_reporter_stop(void);

#endif
