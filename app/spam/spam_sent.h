/*
 * spam_sent.h — replies to mail the user sent lean ham (REPLY_TO_SENT,
 * spam_conn.h): submission notes the Message-ID of every message an
 * account sends, and port 25's stage asks whether a message's
 * In-Reply-To or References names one the recipient account sent.
 *
 * Design. meta holds sentid/HEX, HEX 32 hex digits of a BLAKE2b-128 of
 * the account id and the Message-ID (the id never appears in the store),
 * value i64 expiry (big-endian), SPAM_SENT_TTL after the sending. The
 * record is written in the commit that queues the message
 * (queue_request.txn_also), not in a write transaction of its own: that
 * one waited for LMDB's writer lock and flushed twice for every message,
 * outside the group commit, on the two worker threads that sign the
 * next messages (an strace of bench-submission at 10 sessions: two
 * fdatasync a message on the workers). Every SPAM_SENT_SWEEP_EVERY
 * notes, a sweep on the worker pool reads the next records of the
 * table (spam_sent_sweep: where the last one stopped) and deletes the
 * expired ones.
 *
 * Caveats: a forged In-Reply-To needs the Message-ID, which only the
 * recipients of the original saw; it lowers the score, never decides.
 */
#ifndef TERN_SPAM_SPAM_SENT_H
#define TERN_SPAM_SPAM_SENT_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define SPAM_SENT_TTL (180 * 86400)
#define SPAM_SENT_SWEEP_EVERY 64
#define SPAM_SENT_REFS_MAX 20
#define SPAM_SENT_NAME_MAX 48 /* "sentid/" and 32 hex digits, NUL-ended */

/* Reads the next `visit` sentid/ records (after where the last sweep
 * stopped, from the first again past the last) and deletes the expired
 * ones among them. Returns how many were deleted. */
size_t spam_sent_sweep(struct store *st, int64_t now, size_t visit);

/* The note of one sent message: made before its commit, written in it. */
struct spam_sent_note {
	char name[SPAM_SENT_NAME_MAX];
	uint8_t expires[8];
};

/*
 * Makes *n for the Message-ID found in the header fields a[0..alen)
 * (fields we add) or else b[0..blen) (the message as the client sent
 * it), sent by account. 1 when there is one: the caller sets
 * queue_request.txn_also to spam_sent_note_txn with n (kept until the
 * request's done) and calls spam_sent_noted after a commit; 0 when there
 * is none (nothing to write).
 */
int spam_sent_note_make(struct spam_sent_note *n, uint32_t account, const char *a, size_t alen,
			const char *b, size_t blen);
/* A queue_request.txn_also: writes the note arg (a struct
 * spam_sent_note *) in txn. 0, or an LMDB error (the request fails). */
int spam_sent_note_txn(struct store *st, void *txn, void *arg);
/* After a commit that wrote a note: every SPAM_SENT_SWEEP_EVERY-th call
 * queues a sweep on the worker pool (runs it here without one). */
void spam_sent_noted(struct store *st);
/*
 * 1 when an id in msg's In-Reply-To or References (the first
 * SPAM_SENT_REFS_MAX) was noted for account and has not expired; else 0.
 * LMDB reads: call it where a few reads are fine (the worker pool).
 */
int spam_sent_is_reply(struct store *st, uint32_t account, const char *msg, size_t len);

/* The ids <...> in the unfolded fields named name of the header section
 * of msg, at most max, each copied NUL-ended into ids[i] (idsz bytes;
 * longer ids are skipped). Returns how many. For tests. */
size_t spam_sent_ids(const char *msg, size_t len, const char *name, char (*ids)[256], size_t max);

#endif
