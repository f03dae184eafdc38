/*
 * smtp_rate.h — per-account sending rate limit for submission
 * (TERN_SEND_RATE messages per hour).
 *
 * Design. An exact sliding window: each account that has sent keeps the
 * times of its last `limit` accepted messages in a ring; a new message is
 * allowed when fewer than `limit` of them are younger than an hour. The
 * table is process-wide under one mutex (a check is a few comparisons,
 * next to a message's DKIM signature and queue commit), hashed by account
 * id. Memory is limit * 8 octets per account that sent in this process.
 *
 * Caveats. The window lives in memory only: it resets when the server
 * restarts (a restart is rare and an operator's act; persisting it would
 * cost a store write per message). A changed limit applies from the next
 * smtp_rate_init(). Times are monotonic milliseconds from the caller.
 * Submission checks at MAIL and counts after the queue's commit, so one
 * session is held exactly to the limit (it waits for each 250), while N
 * sessions of one account sending at the same moment may pass it by up to
 * N - 1 messages.
 */
#ifndef TERN_SMTP_SMTP_RATE_H
#define TERN_SMTP_SMTP_RATE_H

#include <stdint.h>

#define SMTP_RATE_WINDOW_MS (3600u * 1000u)

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
