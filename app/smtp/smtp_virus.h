/*
 * smtp_virus.h — the virus scan of a message at the end of DATA or BDAT
 * LAST, inbound (port 25) and submission alike, before any other stage
 * of delivery and before the reply (DESIGN.md §3b: refuse, never accept
 * then bounce). clamd (virus/clamd.h) says clean: delivery goes on
 * (smtp_tx_scanned) and Sieve's virustest sees 1; a virus: 554 5.7.1,
 * nothing stored (event=virus_found); no verdict (clamd down, a timeout,
 * its ERROR): 451 4.7.1, nothing stored (event=virus_scan_failed), as
 * clamav-milter's OnFail Defer. A message over CLAMD_SCAN_MAX goes on
 * unscanned (event=virus_scan_skipped), as clamav-milter's MaxFileSize.
 */
#ifndef TERN_SMTP_SMTP_VIRUS_H
#define TERN_SMTP_SMTP_VIRUS_H

struct smtp_session;
struct smtp_tx;

/*
 * Starts the scan of the spooled message when TERN_CLAMD is set and it is
 * small enough: 1, the session then waits in SMTP_S_WAIT_STORE (reading
 * paused) and goes on in smtp_tx_scanned() or with the refusal sent. 0
 * when there is nothing to wait for: the caller goes on.
 */
int smtp_virus_scan(struct smtp_session *s);
/* The transaction ends: stops a scan in flight. */
void smtp_virus_tx_free(struct smtp_tx *tx);

#endif
