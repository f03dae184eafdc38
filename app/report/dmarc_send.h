/*
 * dmarc_send.h — making and queueing the day's DMARC aggregate reports
 * from the results kept in the store (dmarc_seen.h, dmarc_out.h).
 *
 * For every (day, policy domain) kept for a day before opts->before_day:
 * the destinations are looked up (dmarc_dest_*: the domain's rua= and the
 * external destinations' verification records); the rows become one
 * report (RFC 9990; more than DMARC_REPORT_ROWS_MAX of them, several,
 * each with its own Report-ID, sent only when the first was),
 * gzip-compressed, attached to a message From
 * opts->from, DKIM-signed with the keys of that address's domain, and
 * queued (queue_submit) to every verified destination whose size limit
 * it fits. The day's rows are then deleted. A domain without a record or
 * usable destination has its rows deleted too (nobody to tell); a
 * temporary DNS failure or a failure to sign or queue keeps them for the
 * next run, for at most DMARC_SEND_RETRY_DAYS days.
 *
 * Caveats: blocking (DNS through opts->lookup, the store, the queue's
 * commit): run it on a thread of its own (the report thread) or in the
 * CLI, never on an I/O loop.
 */
#ifndef TERN_REPORT_DMARC_SEND_H
#define TERN_REPORT_DMARC_SEND_H

#include <stdint.h>

struct store;
struct dmarc_dest;

#define DMARC_SEND_RETRY_DAYS 3

struct dmarc_send_opts {
	const char *from;      /* the reports' From and envelope sender; its domain signs */
	const char *hostname;  /* the reporting receiver (org_name, file names) */
	uint32_t before_day;   /* report the days before this one (days since the epoch) */
	int64_t now;
	/* Runs the destinations evaluation d (dmarc_dest_ops) to its end over
	 * some resolver: 0, or -1 when it could not finish (a deadline). */
	int (*lookup)(void *arg, struct dmarc_dest *d);
	void *lookup_arg;
};

struct dmarc_send_result {
	unsigned reports;    /* messages queued */
	unsigned no_dest;    /* (day, domain) pairs dropped: no record or destination */
	unsigned deferred;   /* kept for a later run (temporary DNS failure) */
	unsigned failed;     /* could not be made or queued (logged) */
};

/* Does the work above. 0, or -1 when the store could not be read. */
int dmarc_send_reports(struct store *st, const struct dmarc_send_opts *o,
		       struct dmarc_send_result *res);

#endif
