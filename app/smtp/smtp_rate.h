/*
 * smtp_rate.h — per-account sending rate limit for submission
 * (TERN_SEND_RATE messages per hour).
 *
 * Design. One process-wide core/rate.h table keyed by account id (an
 * exact sliding window of the last `limit` messages; see there for the
 * memory it takes and why it is not persisted).
 *
 * Caveats. A changed limit applies from the next smtp_rate_init().
 * Submission checks at MAIL and counts after the queue's commit, so one
 * session is held exactly to the limit (it waits for each 250), while N
 * sessions of one account sending at the same moment may pass it by up to
 * N - 1 messages.
 */
#ifndef TERN_SMTP_SMTP_RATE_H
#define TERN_SMTP_SMTP_RATE_H

#include <stdint.h>

#include "core/rate.h"

#define SMTP_RATE_WINDOW_MS RATE_WINDOW_MS

/* Sets the limit (messages per hour per account; 0 = unlimited) and
 * forgets every count. Not thread-safe against the calls below. */
void smtp_rate_init(unsigned per_hour);

/* 1 when account may send one more message at now_ms, 0 when the hour's
 * limit is reached. Thread-safe. */
int smtp_rate_allowed(uint32_t account, uint64_t now_ms);

/* Counts one accepted message of account at now_ms. Thread-safe. */
void smtp_rate_record(uint32_t account, uint64_t now_ms);

/* Frees the table (tests, shutdown). */
void smtp_rate_free(void);

#endif
