/*
 * dmarc_seen.h — the DMARC results of the mail tern receives, counted for
 * the aggregate reports it sends (RFC 9990 §2.1: one row per source IP,
 * disposition, aligned results, identifiers and authentication results,
 * with a message count).
 *
 * Design. The delivery pipeline calls dmarc_seen_note() once per message
 * whose DMARC evaluation found a policy record (the end of DATA, where
 * the verdict is known). Rows are counted in memory under a mutex (a
 * message costs a hash and a lookup, never a store write) and moved to
 * the store (dmarc_seen, store_dmarc_seen_add) by dmarc_seen_flush(),
 * which the report thread calls every minute and at shutdown; a
 * crash loses at most that interval's counts, which reports tolerate.
 * A row is a line of tab-separated fields (dmarc_seen_row_text), opaque to
 * the store, read back by dmarc_seen_row_parse() when the report is made.
 *
 * Bounds: at most DMARC_SEEN_MEM_MAX distinct rows wait in memory; more
 * are dropped (counted in dmarc_seen_dropped()) until the next flush.
 *
 * Caveats: the day is the UTC day the message arrived; reports cover
 * whole UTC days (RFC 9990 §2.1.1 asks for day boundaries).
 */
#ifndef TERN_REPORT_DMARC_SEEN_H
#define TERN_REPORT_DMARC_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "auth/dmarc.h"
#include "report/dmarc_report.h"

#define DMARC_SEEN_MEM_MAX 4096

struct dmarc_seen_dkim {
	const char *domain, *selector;
	const char *result; /* RFC 8601 name: "pass", "fail", "temperror", ... */
};

/* One message's results (all strings the caller's, read during the call). */
struct dmarc_seen_msg {
	const struct dmarc_verdict *verdict; /* policy_domain "" = nothing recorded */
	const char *source_ip;               /* the client's address, text */
	const char *envelope_from;           /* MAIL FROM domain; the HELO name for <> */
	const char *spf_domain;              /* the domain SPF checked */
	const char *spf_scope;               /* "mfrom" or "helo" */
	const char *spf_result;              /* RFC 8601 name */
	const struct dmarc_seen_dkim *dkim;  /* every signature evaluated */
	size_t ndkim;
	/* What was done with the message, when the local policy overrode
	 * the verdict's disposition (a tolerated domain, a trusted ARC
	 * sealer, a refusal of our own domain's spoof): "none",
	 * "quarantine" or "reject". NULL: none on pass, else the verdict's. */
	const char *applied;
	/* Why, when applied is not what the DMARC policy asked (RFC 9990
	 * PolicyOverrideType: "local_policy", "trusted_forwarder",
	 * "policy_test_mode" (t=y, or an old pct= sample, lowered it),
	 * "mailing_list", "other"), else NULL. */
	const char *reason;
};

/*
 * Counts one message (thread-safe). Nothing happens when the verdict has
 * no policy domain (no DMARC record applied: nobody to report to).
 */
void dmarc_seen_note(const struct dmarc_seen_msg *m, int64_t now);

/* The row text of a message (what dmarc_seen_note counts). 0, or -1 when it does not fit. */
int dmarc_seen_row_text(const struct dmarc_seen_msg *m, char *out, size_t outsz);

/* Reads a row text back into a report row (count 0). 0, or -1 when malformed. */
int dmarc_seen_row_parse(const char *text, struct dmarc_report_row *r);

struct store;
/*
 * Moves the counts in memory to the store (one write per (day, policy
 * domain)). Returns the rows written, or -1 when a write failed (those
 * counts are lost, and logged). Thread-safe.
 */
int dmarc_seen_flush(struct store *st);

/* Rows dropped because memory was full, since start (for the log and tests). */
uint64_t dmarc_seen_dropped(void);

#endif
