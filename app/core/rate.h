/*
 * rate.h — sliding-window rate limits kept in memory: at most `limit`
 * events per key in any hour. Submission counts messages per account
 * (smtp/smtp_rate.h); forwarding counts forwarded messages per alias
 * (forward/forward.h).
 *
 * Design. An exact sliding window: each key that has had an event keeps
 * the times of its last `limit` events in a ring; one more is allowed
 * when fewer than `limit` of them are younger than the window. A table
 * is shared by threads under one mutex (a check is a few comparisons),
 * hashed by a 64-bit key the caller derives (an account id, a hash of an
 * address). Memory is limit * 8 octets per key seen since the last init.
 *
 * Caveats. Windows live in memory only: they reset when the server
 * restarts (rare, and an operator's act; persisting them would cost a
 * store write per event). Times are monotonic milliseconds from the
 * caller. A check and its record are two calls, so concurrent callers
 * may pass the limit by their number less one.
 */
#ifndef TERN_CORE_RATE_H
#define TERN_CORE_RATE_H

#include <pthread.h>
#include <stdint.h>

#define RATE_WINDOW_MS (3600u * 1000u)
#define RATE_BUCKETS 1024

struct rate_entry;

/* Zero-initialised or set up by rate_table_init; never moved once used. */
struct rate_table {
	pthread_mutex_t mu;
	unsigned limit; /* events per window per key; 0 = unlimited */
	struct rate_entry *buckets[RATE_BUCKETS];
	int ready;
};

/* Sets t's limit (0 = unlimited) and forgets every count. Not thread-safe
 * against the calls below. */
void rate_table_init(struct rate_table *t, unsigned limit);
/* 1 when key may have one more event at now_ms, 0 when its window is full. */
int rate_table_allowed(struct rate_table *t, uint64_t key, uint64_t now_ms);
/* Counts one event of key at now_ms. */
void rate_table_record(struct rate_table *t, uint64_t key, uint64_t now_ms);
/* Frees every entry (tests, shutdown); the limit stays. */
void rate_table_free(struct rate_table *t);

#endif
