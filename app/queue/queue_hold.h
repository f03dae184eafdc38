/*
 * queue_hold.h — Future Release (RFC 4865): releasing a held message.
 *
 * Design. Submission with HOLDFOR/HOLDUNTIL queues the message whole as
 * one entry (QUEUE_HOLD, store flag SQ_HOLD) due at its release time, its
 * recipients as the client gave them: none is resolved, so no local copy
 * is stored and no remote is tried before then. When the scheduler finds
 * such an entry due, it calls queue_hold_release(), which submits the
 * message again through queue_submit() as the account that sent it, as
 * if it had arrived at the release time: local recipients get their
 * copies (their Sieve scripts run then), the others a queue entry of
 * their own whose retry lifetime and delay notices count from the
 * release, not from the submission (a message held for a week is not
 * "delayed"). The held entry is deleted in the commit that stores the
 * released message (queue_request.txn_also), so a crash between the two
 * neither loses the message nor sends it twice. Recipients delivered
 * locally that asked NOTIFY=SUCCESS get their notice after that commit,
 * as submission's local copies do (smtp_tx_notify_delivered).
 *
 * Caveats: a Sieve-edited copy redirected outside is not signed again at
 * the release (the held entry keeps no signing domain); the message as
 * submitted was signed at submission. A recipient whose local account
 * is gone by the release is dropped with a log line, as queue_submit()
 * drops any unknown local recipient; when none is left the entry goes.
 */
#ifndef TERN_QUEUE_QUEUE_HOLD_H
#define TERN_QUEUE_QUEUE_HOLD_H

#include <stddef.h>

struct loop;
struct store;
struct store_queue_entry;

/*
 * Submits held entry e (SQ_HOLD) with its message data[0..len) now and
 * deletes e in the same commit. e and data are the caller's and must
 * stay unchanged until done runs. done runs once on loop with the
 * queue_submit() result: STORE_OK (released; e is gone, or was deleted
 * meanwhile and nothing was sent), STORE_EINVAL (no recipient is left
 * to submit to: e is still there, the caller removes it), or a temporary
 * failure (STORE_ETEMP, STORE_EFULL: e is still there, try later).
 */
void queue_hold_release(struct store *st, struct loop *loop, const struct store_queue_entry *e,
			const char *data, size_t len, void (*done)(void *arg, int result), void *arg);

#endif
