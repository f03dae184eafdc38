/*
 * dmarc_fail.h — the DMARC failure reports tern sends (RFC 7489 §7.3,
 * RFC 9991; the AFRF format of RFC 6591 over RFC 5965).
 *
 * Design. Port 25 calls dmarc_fail_note() once per message whose DMARC
 * result is known (smtp_checks.c, beside auth_results_observe). The
 * record that gave the policy names ruf= (not a psd=y record: RFC 9991;
 * dmarc_dest drops its ruf=) and its fo= asks for a report
 * of this outcome (dmarc_fail_type): the header section of the
 * message (never its body: privacy; cut to DMARC_FAIL_HEADER_MAX) and
 * the results are copied into a small queue in memory and the report
 * thread is woken (dmarc_reporter.h). The thread (dmarc_fail_send) asks
 * the ruf= destinations as for rua= (dmarc_dest with ruf set: the same
 * external verification and "!size" limits), writes the report
 * (dmarc_fail_message: multipart/report; report-type=feedback-report,
 * Feedback-Type: auth-failure, Auth-Failure: dmarc (or signature,
 * bodyhash, revoked, spf: dmarc_fail_type and the reported signature's
 * failure), SPF-DNS: the SPF records the evaluation read (RFC 6591
 * §3.1; the records only, not the A/MX/PTR answers its mechanisms
 * used, which tern does not keep), the message's header
 * as text/rfc822-headers) and queues it DKIM-signed (report_queue.h)
 * From the aggregate reports' address.
 *
 * Not reported: a message from the null path (a bounce) or one that is
 * itself a report (Content-Type: multipart/report), one whose Author
 * Domain we serve (our own mail; the caller checks), a 451 (the retry
 * counts). Bounds: one report per (policy domain, source address) per
 * hour (DMARC_FAIL_SLOTS remembered pairs; a pair pushed out early
 * only allows an extra report), at most DMARC_FAIL_PER_HOUR in all per
 * hour, at most DMARC_FAIL_PENDING waiting (more are dropped, logged).
 *
 * Across a stop (dmarc_fail_stop, then dmarc_fail_save): what waits, and
 * one whose destinations' lookup the stop cut short, is kept in the store
 * (dmarc/fail-pending/NN) and queued again by the next start
 * (dmarc_fail_load); the stop waits for no lookup. A crash loses what
 * waits in memory (a failure report is a best-effort sample; RFC 7489
 * §7.3 asks for nothing more).
 */
#ifndef TERN_REPORT_DMARC_FAIL_H
#define TERN_REPORT_DMARC_FAIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct dmarc_verdict;
struct spf_eval;
struct dmarc_dest;
struct store;

#define DMARC_FAIL_HEADER_MAX (32u << 10)
#define DMARC_FAIL_PENDING 16
#define DMARC_FAIL_PER_HOUR 100
#define DMARC_FAIL_SLOTS 1024

/*
 * Whether a record's fo= (colon-separated options, blanks dropped) asks
 * for a report, and of which Auth-Failure type (RFC 6591 §3.2.2): "0"
 * when DMARC failed (no aligned pass) and "1" when either mechanism gave
 * no aligned pass ask for "dmarc" (RFC 9991: some mechanism failed to
 * produce an aligned identifier); "d" when a DKIM signature failed to
 * verify asks for a DKIM failure report, "signature" (RFC 6651); "s"
 * when SPF failed for an SPF one, "spf" (RFC 6652). The first of those
 * that applies, in that order; NULL when none does.
 */
const char *dmarc_fail_type(const char *fo, int dmarc_failed, int spf_aligned, int dkim_aligned,
			    int spf_failed, int dkim_failed);

/* One message's results (the caller's strings, read during the call). */
struct dmarc_fail_msg {
	const struct dmarc_verdict *verdict;
	const char *source_ip;
	const char *mail_from;      /* "" for the null path */
	const char *auth_results;   /* the whole Authentication-Results field, CRLF-ended */
	const char *delivery;       /* RFC 6591 Delivery-Result: "delivered", "spam", "reject" */
	int spf_failed, dkim_failed;
	/* The failed signature reported (DKIM-Domain, -Selector): the
	 * first whose d= is aligned, else the first; NULL when none. */
	const char *dkim_domain, *dkim_selector;
	const char *msg;            /* the message as received */
	size_t len;
	/* Identity-Alignment (RFC 9991, "Reporting Format Update"): the mechanisms that
	 * failed to authenticate an aligned identity: SPF did not pass for
	 * a MAIL FROM domain aligned with the Author Domain, a signature
	 * whose d= is aligned did not pass (dmarc_verdict_aligned). */
	int spf_aligned_failed, dkim_aligned_failed;
	const char *dkim_identity;  /* the reported signature's AUID (i=, or "@d"), or NULL */
	/* What failed in the reported signature, a DKIM_FAILED_* (its
	 * dkim_sig_result.failed): a DKIM report's Auth-Failure is
	 * "bodyhash", "revoked" or "signature" by it (RFC 6591 §3.2.2). */
	int dkim_failure;
	/* The MAIL FROM's SPF evaluation, for the SPF-DNS fields (its
	 * records: spf_eval_record), or NULL. */
	const struct spf_eval *spf;
};

/*
 * Queues a failure report for m when one is due (see above) and wakes
 * the report thread. 1 queued, 0 not. Thread-safe.
 */
int dmarc_fail_note(const struct dmarc_fail_msg *m, int64_t now);

/* A queued report (what dmarc_fail_note keeps). */
struct dmarc_fail_job {
	char pdomain[254];
	char header_from[254];
	char source_ip[64];
	char mail_from[320];
	char delivery[16];
	char alignment[16];     /* "none", "dkim", "spf" or "dkim, spf" */
	char type[16];          /* Auth-Failure: "dmarc", "signature", "bodyhash", "revoked" or "spf" */
	char dkim_domain[254], dkim_selector[254]; /* a selector: up to 253 octets */
	char dkim_identity[324]; /* an AUID: up to 320 octets */
	char *auth_results;     /* owned */
	char *header;           /* owned: the header section, CRLF lines, no empty line */
	/* owned: one SPF-DNS value a line ("txt: <domain>: <record>", LF
	 * after each), the SPF records the evaluation read; "" for none */
	char *spf_dns;
	int64_t arrived;
};

void dmarc_fail_job_free(struct dmarc_fail_job *j);

/*
 * The report message for j (CRLF lines, no DKIM signature yet) From from
 * To to (comma-separated), reporting MTA hostname. 0, or -1 when out's
 * ceiling was reached.
 */
int dmarc_fail_message(const struct dmarc_fail_job *j, const char *from, const char *to,
		       const char *hostname, int64_t now, struct buf *out);

/*
 * Sends the queued reports (the report thread): for each, the ruf=
 * destinations through lookup, then the message, signed and queued to
 * those it fits. from "" drops them (reports off). Returns the reports
 * queued. Blocking.
 */
unsigned dmarc_fail_send(struct store *st, const char *from, const char *hostname,
			 int (*lookup)(void *arg, struct dmarc_dest *d), void *lookup_arg,
			 int64_t now);

/* Reports waiting (tests, the log). */
unsigned dmarc_fail_pending(void);

/*
 * The stop: dmarc_fail_stop() makes dmarc_fail_send take no more and a
 * lookup ask dmarc_fail_stopping() to give up; once the report thread
 * ended, dmarc_fail_save() writes what waits into st (and frees it).
 * dmarc_fail_load() at the start queues it again, removes it from st and
 * clears the stop; it returns how many came back.
 */
void dmarc_fail_stop(void);
int dmarc_fail_stopping(void);
unsigned dmarc_fail_save(struct store *st);
unsigned dmarc_fail_load(struct store *st);

#endif
