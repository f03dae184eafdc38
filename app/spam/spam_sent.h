/*
 * spam_sent.h — replies to mail the user sent lean ham (REPLY_TO_SENT,
 * spam_conn.h): submission notes the Message-ID of every message an
 * account sends, and port 25's stage asks whether a message's
 * In-Reply-To or References names one the recipient account sent.
 *
 * Design. meta holds sentid/HEX, HEX 32 hex digits of a BLAKE2b-128 of
 * the account id and the Message-ID (the id never appears in the store),
 * value i64 expiry (big-endian), SPAM_SENT_TTL after the sending. The
 * write is queued on the worker pool (the submission's reply does not
 * wait for it); every SPAM_SENT_SWEEP_EVERY writes, a sweep reads the
 * next records of the table (spam_sent_sweep: where the last one
 * stopped) and deletes the expired ones.
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

/* Reads the next `visit` sentid/ records (after where the last sweep
 * stopped, from the first again past the last) and deletes the expired
 * ones among them. Returns how many were deleted. */
size_t spam_sent_sweep(struct store *st, int64_t now, size_t visit);

/*
 * Notes the Message-ID found in the header fields a[0..alen) (fields we
 * add) or else b[0..blen) (the message as the client sent it) as sent by
 * account. Queues the store write; nothing when there is no Message-ID.
 */
void spam_sent_note(struct store *st, uint32_t account, const char *a, size_t alen, const char *b,
		    size_t blen);
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
