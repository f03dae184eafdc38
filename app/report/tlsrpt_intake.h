/*
 * tlsrpt_intake.h — TLS-RPT reports (RFC 8460) other senders mail to a
 * served domain, stored and read back for the admin (the CLI, the API,
 * the web admin's domain page).
 *
 * Design. They arrive at the same address as DMARC's aggregate reports
 * (`tern domain dns` publishes rua=mailto:postmaster@DOMAIN for both);
 * dmarc_intake.c hands every report attachment whose content is JSON
 * (application/tlsrpt+gzip or +json, found by the bytes) to
 * tlsrpt_intake_json(). The report is parsed (tlspol/tlsrpt_in.h) and
 * stored, rewritten by tern's own writer (so what is kept is bounded
 * and well-formed), in meta under
 * `tlsrpt-report/SERVED-DOMAIN/BEGIN/HASH` (SCHEMA.md): the served
 * domain its first policy domain is or belongs to, the start of its date
 * range (16 hex digits, so a domain's reports sort by period) and 16 hex
 * digits of BLAKE2b over organization-name and report-id (a report
 * mailed twice is kept once). A policy of another domain in the same
 * report (not that served domain nor under it) is dropped. Retention is applied to the domain at each
 * store: reports whose period ended more than TLSRPT_KEEP_DAYS ago go,
 * then the oldest beyond TLSRPT_KEEP_MAX.
 *
 * Each report keeps the DKIM verdict of the message that carried it
 * (RFC 8460 §3 asks reporters to sign, with a key whose s= allows
 * "tlsrpt"): the inbound checks' own results, no second verifier.
 *
 * Caveats: anyone can mail a report; one that is unsigned or whose
 * signature fails is kept and shown as such, not dropped: a forged one
 * only adds to the view.
 */
#ifndef TERN_REPORT_TLSRPT_INTAKE_H
#define TERN_REPORT_TLSRPT_INTAKE_H

#include <stddef.h>
#include <stdint.h>

#include "tlspol/tlsrpt.h"

struct store;

#define TLSRPT_KEEP_DAYS 180
#define TLSRPT_KEEP_MAX 500
#define TLSRPT_REPORT_PREFIX "tlsrpt-report/"
#define TLSRPT_DKIM_MAX 270 /* "pass:" and a domain */

/*
 * Parses and stores the report json[0..n) (received now) with dkim, the
 * DKIM verdict of the message that carried it (dmarc_intake_dkim():
 * "pass:DOMAIN", "fail", "none"; or "unchecked"). 0, with *cut_r (may
 * be NULL) 1 when a text field was cut (TLSRPT_REPORT_CUT) else 0; or -1
 * with a reason in err: not a report, no served domain for its policy
 * domain, a store error.
 */
int tlsrpt_intake_json(struct store *st, const char *json, size_t n, int64_t now,
		       const char *dkim, int *cut_r, char *err, size_t errsz);

/* Called with each stored report (valid during the call), when it came,
 * and its DKIM verdict (as stored; "unknown" for reports kept before
 * tern recorded it). */
typedef void tlsrpt_report_cb(void *arg, const struct tlsrpt_report *r, int64_t received_at,
			      const char *dkim);

/*
 * Calls cb for each report stored under the served domain, oldest period
 * first. STORE_OK, STORE_ETEMP; a record that no longer parses is skipped.
 */
int tlsrpt_report_list(struct store *st, const char *domain, tlsrpt_report_cb *cb, void *arg);

#endif
