/*
 * retention.h — Trash and Junk emptied after N days (as Stalwart's and
 * Gmail's 30 days, Dovecot's autoexpunge).
 *
 * Design. Every mailbox of every account whose special-use role (RFC
 * 6154) is \Trash or \Junk loses the messages saved there at least
 * TERN_TRASH_RETENTION_DAYS / TERN_JUNK_RETENTION_DAYS days ago (the
 * save date, RFC 8514 SAVEDATE: a six-month-old message deleted today
 * stays the whole period). A pass runs on a thread of its own, started
 * only when a retention is set, a minute after start and then hourly
 * (a pass over a 100,000-message Junk takes about a minute: on the main
 * thread it held back signals, certificate reloads and the rest of its
 * tick); one pass at a time. It reads each mailbox a
 * slice at a time (store_retention_scan) and removes each slice through
 * store_expunge(), the one expunge, in its own write transaction: IMAP
 * sessions get EXPUNGE/VANISHED, JMAP sees the destroyed emails, the
 * quota drops and blobs go by their reference count. Between slices the
 * pass rests as long as the slice took, and the writer serves deliveries
 * alone: a Junk of 200,000 slows them by one slice at most, never stalls
 * them.
 *
 * \Flagged is not an exception: what is in Trash or Junk was put there
 * to go (Gmail and Stalwart ignore flags too), and a flag kept by habit
 * would keep spam for ever.
 *
 * One log line per account and mailbox that lost messages
 * (event=retention_expunged user= account= mailbox= role= days= messages=),
 * and tern_retention_expunged_total{mailbox="trash|junk"}.
 *
 * TERN_TEST_RETENTION_CLOCK_FILE (test-only, not a user setting): no
 * timed passes; instead, each look (every 5 s) that finds the file reads
 * a number of seconds from it, removes it and runs one pass with the
 * clock that far ahead, logging event=retention_pass clock_offset=...
 * expunged=N ms=(the pass's time). While the file of the same name plus
 * ".hold" exists, a pass waits before its next slice (logging
 * event=retention_held): a test sees the server while a pass runs.
 *
 * Caveats: SIGTERM stops a pass between slices (retention_stop), and
 * it goes on at the next start.
 */
#ifndef TERN_SERVER_RETENTION_H
#define TERN_SERVER_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "store/store.h"

/* UIDs per expunge transaction, and uid entries read per scan. A slice
 * of 200 is about 30 ms of the writer on a virtual disk (7,000 expunges
 * a second, scripts/bench-retention); after each the pass rests as long
 * as the slice took (at most RETENTION_REST_MAX_MS), so the writer is
 * free at least half the time and a delivery waits one slice at most. */
#define RETENTION_BATCH 200
#define RETENTION_VISIT 20000
#define RETENTION_REST_MAX_MS 1000

/* Starts the thread when a retention is set (cfg and st outlive it):
 * 0, or -1 when it could not start (logged). */
int retention_start(const struct config *cfg, struct store *st);

/* Ends the pass under way between slices and joins the thread; before
 * the store closes. Nothing when it was not started. */
void retention_stop(void);

/*
 * One pass over every account at clock now: returns the messages
 * expunged. stop() returning 1 ends it between slices. Exposed for
 * tests and the benchmark.
 */
size_t retention_pass(struct store *st, unsigned trash_days, unsigned junk_days, int64_t now,
                      int (*stop)(void));

#endif
