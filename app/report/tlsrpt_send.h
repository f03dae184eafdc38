/*
 * tlsrpt_send.h — making and sending the day's TLS-RPT reports (RFC 8460)
 * from the outcomes kept in the store (tlsrpt_seen.h).
 *
 * For every (day, policy domain) kept for a day before o->before_day:
 * `_smtp._tls.DOMAIN` TXT is read (tlsrpt_txt_parse); the counts become
 * one JSON report (tlsrpt_report_json), gzip-compressed, and go to each
 * rua URI (read by report_uri.h, as DMARC's are: a mailto: address
 * percent-decoded and without its hfields, a URI of another scheme or a
 * malformed one skipped, the same destination written twice used once):
 * the mailto: ones together in one message (multipart/report;
 * report-type="tlsrpt", with TLS-Report-Domain and TLS-Report-Submitter,
 * §5.3), From o->from, DKIM-signed with that domain's keys and queued;
 * each https: one by a POST of application/tlsrpt+gzip (§5.4), a 2xx
 * answer counting as delivered. The day's record is then deleted. A
 * domain with no record is deleted too (nobody to tell); a temporary DNS
 * failure, or every destination failing, keeps it for the next run, for
 * at most TLSRPT_SEND_RETRY_DAYS days.
 *
 * Caveats: blocking (DNS and HTTPS on a loop of its own, made per call
 * from o->dns_servers; the queue's commit): run it on the report thread
 * or in the CLI, never on an I/O loop.
 */
#ifndef TERN_REPORT_TLSRPT_SEND_H
#define TERN_REPORT_TLSRPT_SEND_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define TLSRPT_SEND_RETRY_DAYS 3

struct tlsrpt_send_opts {
	const char *from;        /* the reports' From, envelope sender and contact-info */
	const char *hostname;    /* the submitter (organization-name, file names) */
	const char *dns_servers; /* TERN_DNS_SERVERS */
	uint32_t before_day;     /* report the days before this one */
	int64_t now;
};

struct tlsrpt_send_result {
	unsigned mailed;   /* reports queued by mail (one per (day, domain)) */
	unsigned posted;   /* reports POSTed and answered 2xx */
	unsigned no_dest;  /* (day, domain) pairs dropped: no TLSRPT record */
	unsigned deferred; /* kept for a later run */
	unsigned failed;   /* destinations that could not be reached or queued (logged) */
};

/* Does the work above. 0, or -1 when the store could not be read. */
int tlsrpt_send_reports(struct store *st, const struct tlsrpt_send_opts *o,
			struct tlsrpt_send_result *res);

/*
 * The report message (CRLF lines, not signed): RFC 8460 §5.3's headers
 * and parts, and "TLS-Required: No" (RFC 8689 §5) so that the queue
 * delivers it despite the domain's MTA-STS or DANE failures, as §5.3
 * requires; the attachment is gz[0..gzlen) named
 * "SUBMITTER!DOMAIN!BEGIN!END!ID.json.gz". 0, or -1 when out is full.
 */
struct buf;
int tlsrpt_message(const char *from, const char *to, const char *hostname, const char *domain,
		   const char *report_id, int64_t begin, int64_t end, int64_t now,
		   const uint8_t *gz, size_t gzlen, struct buf *out);

#endif
