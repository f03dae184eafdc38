/*
 * tlsrpt_seen.h — the outcomes of outbound TLS sessions, counted per
 * policy domain for the TLS-RPT reports tern sends (RFC 8460 §4).
 *
 * Design. The queue calls tlsrpt_seen_note() once per SMTP session whose
 * TLS outcome is known (a success, or one of the RFC's failure types),
 * and once per policy problem found before any session (an MTA-STS fetch
 * that failed, an MX host the policy does not name, TLSA records that
 * could not be read). Counts wait in memory under a mutex, as
 * dmarc_seen.h's do (a session costs a lookup, never a store write), and
 * tlsrpt_seen_flush() adds them to the store: one meta record per (UTC
 * day, policy domain), `tlsrpt-seen/DDDDDDDD/DOMAIN` (SCHEMA.md), whose
 * lines are "COUNT<TAB>ROW". The report thread flushes every minute
 * (DMARC_REPORTER_TICK_S), at SIGHUP and at stop.
 *
 * A row is tab-separated text: "S<TAB>TYPE" (successful sessions),
 * "F<TAB>TYPE<TAB>RESULT<TAB>MX<TAB>IP<TAB>INFO<TAB>OURIP" (failed ones), or
 * "P<TAB>TYPE<TAB>STRING<US>STRING..." (the policy in force, its strings
 * joined by 0x1f; the last one noted wins). TYPE and RESULT are RFC
 * 8460's spellings (tlsrpt.h).
 *
 * Bounds: at most TLSRPT_SEEN_MEM_MAX distinct rows wait in memory and
 * TLSRPT_SEEN_ROWS_MAX rows are kept per (day, domain); more are dropped
 * (and counted in tlsrpt_seen_dropped()).
 *
 * Caveats: read-modify-write of a meta record: every writer (the flush,
 * the sender deleting what it reported) holds tlsrpt_seen_lock().
 */
#ifndef TERN_REPORT_TLSRPT_SEEN_H
#define TERN_REPORT_TLSRPT_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tlspol/tlsrpt.h"

struct store;

#define TLSRPT_SEEN_MEM_MAX 2048
#define TLSRPT_SEEN_ROWS_MAX 200
#define TLSRPT_SEEN_PREFIX STORE_TLSRPT_SEEN_PREFIX

/* One outcome (strings the caller's, read during the call). */
struct tlsrpt_seen_sess {
	const char *domain; /* the policy (recipient) domain */
	enum tlsrpt_policy_type type;
	int ok;             /* 1: a successful session; result is then unused */
	enum tlsrpt_result result;
	const char *mx;     /* receiving-mx-hostname ("" none) */
	const char *ip;     /* receiving-ip ("" not known) */
	const char *info;   /* the failure in words, its failure-reason-code ("" none) */
	const char *sending_ip; /* our address (sending-mta-ip; "" not known) */
	/* The policy in force: its strings, '\n'-separated (MTA-STS policy
	 * lines or TLSA records in presentation form); NULL or "" none. */
	const char *policy;
};

/* Counts one outcome (thread-safe); now stamps its UTC day. */
void tlsrpt_seen_note(const struct tlsrpt_seen_sess *s, int64_t now);

/*
 * Adds the counts in memory to the store (taking the lock). Returns the
 * rows written, or -1 when a write failed (those counts are lost, and
 * logged). Thread-safe.
 */
int tlsrpt_seen_flush(struct store *st);

/* Rows dropped (memory or record full) since start. */
uint64_t tlsrpt_seen_dropped(void);

/*
 * The cross-process lock on DATA_DIR/tlsrpt-report.lock: returns a
 * descriptor to pass to tlsrpt_seen_unlock (-1 when the file cannot be
 * opened: then nothing is locked).
 */
int tlsrpt_seen_lock(struct store *st);
void tlsrpt_seen_unlock(int fd);

/*
 * Reads a stored record (the meta value) into a report's policies: one
 * policy per type seen, with its counts, failure details (at most
 * TLSRPT_FAILURES_MAX each; the rest are added to the last one's count)
 * and strings. Strings point into text, which the caller keeps (and
 * which is modified: tabs and separators become NULs). 0, or -1 when
 * malformed.
 */
int tlsrpt_seen_parse(char *text, size_t len, const char *domain, struct tlsrpt_report *r);

#endif
