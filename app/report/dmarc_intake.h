/*
 * dmarc_intake.h — DMARC aggregate reports arriving by mail: the address
 * they are asked to go to, its recognition at delivery, and the parsing
 * and storing of what arrives there.
 *
 * Design. `tern domain dns` suggests rua=mailto:postmaster@DOMAIN
 * (dmarc_rua_address, the one place that spells it). Mail to that address
 * is delivered as any other (postmaster reaches the administrator);
 * after the SMTP reply, the message is also offered here: its report
 * attachments (gzip, zip or plain XML, found by their bytes, not their
 * names) are unpacked, parsed (dmarc_report.h) and stored under the
 * served domain (store_dmarc_report_put). The work runs on the worker
 * pool; a message that holds no report costs a MIME parse.
 *
 * Caveats: reports are taken from anyone (RFC 9990 has no sender
 * authentication for reports; DMARCbis reporters sign, but nothing
 * requires it): a forged report can only add rows to the domain's view,
 * which the retention limits bound. A message over DMARC_INTAKE_MAX bytes
 * is not looked at.
 */
#ifndef TERN_REPORT_DMARC_INTAKE_H
#define TERN_REPORT_DMARC_INTAKE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define DMARC_INTAKE_MAX ((size_t)32 << 20) /* message bytes looked at */
#define DMARC_INTAKE_PARTS_MAX 8            /* report attachments per message */

/* The rua address tern suggests for domain ("postmaster@DOMAIN"). 0, or -1 when too long. */
int dmarc_rua_address(const char *domain, char *out, size_t outsz);

/* 1 when rcpt (an address as given in RCPT TO) is the rua address of a
 * served domain, else 0 (store errors count as 0). */
int dmarc_intake_is_rua(struct store *st, const char *rcpt);

/*
 * Looks for reports in a message (msg[0..len)) and stores each; now is
 * the time stored (seconds). dkim: what the message's DKIM check found,
 * as dmarc_intake_dkim() words it (NULL: "unchecked"), kept with each
 * TLS-RPT report. Returns how many reports were stored, of which *cut_r
 * (cut_r may be NULL) were kept with a text field cut to its room; the
 * reason the last refused attachment was refused is in err ("" when none
 * was). Synchronous: for the worker job and the tests.
 */
unsigned dmarc_intake_message(struct store *st, const char *msg, size_t len, int64_t now,
			      const char *dkim, unsigned *cut_r, char *err, size_t errsz);

/*
 * The DKIM verdict a received report carries, from the message's own
 * DKIM results (the inbound checks', smtp_checks.c: one verifier for
 * every purpose) into out: "pass:DOMAIN" for the first signature that
 * verified with a key whose s= allows TLS-RPT (RFC 8460 §3: s=tlsrpt,
 * or email's default "*"; not a t=y key), else "fail" (signed, none
 * such), else "none" (unsigned).
 */
struct dkim_sig_result;
void dmarc_intake_dkim(const struct dkim_sig_result *const *res, size_t n, char *out,
		       size_t outsz);

/*
 * dmarc_intake_message() on the worker pool over a copy of the message
 * (inline when no pool runs). Logs what it stored. Thread-safe; st must
 * outlive the job (the pool drains before the store closes).
 */
void dmarc_intake_submit(struct store *st, const char *msg, size_t len, const char *dkim);

#endif
