/*
 * queue_7bit.h — the 7-bit form of a queued message for a next hop that
 * offers no 8BITMIME, with our own DKIM signatures made again over it.
 *
 * Design. RFC 6152 §3 lets a client that meets a server without 8BITMIME
 * convert the message to 7 bit instead of returning it, as Postfix does:
 * mime_downgrade_7bit() turns each 8-bit leaf into quoted-printable. That
 * breaks every DKIM signature over the body, and ours sign the MIME fields
 * too; but we hold our keys, so each DKIM-Signature of ours is dropped and
 * made again over the converted message, with every key of its domain.
 * "Ours" is proven, not assumed: a signature counts only when its d= is a
 * domain we hold keys for and it verifies against those keys over the
 * message as queued; a forged d=<our domain> field on mail relayed for
 * someone else is left as it is (broken), never blessed. Foreign
 * signatures stay as they are and break, as after Postfix's conversion.
 * ARC (RFC 8617 §5.1) likewise: when the newest ARC set is ours (a
 * forwarded copy or a Sieve redirect we sealed) — its seal's d= a domain
 * we hold keys for, and its AMS and AS verify with those keys over the
 * message as queued — that set is dropped and sealed again over the
 * converted message (same instance, AAR and cv), on top of the new DKIM
 * signatures; earlier sets are left as they are (their AMS break, as ARC
 * allows: only the newest must verify). A set of ours the validator
 * turns down before checking it (a chain whose newest seal says cv=fail,
 * or a malformed one) is left broken.
 *
 * Caveats: linear in the size, plus a signature and a verification per
 * domain of ours (a fraction of a millisecond each); the scheduler runs
 * it on the worker pool for big messages. Thread-safe (reads the store).
 */
#ifndef TERN_QUEUE_QUEUE_7BIT_H
#define TERN_QUEUE_QUEUE_7BIT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"

struct store;

/*
 * Appends to out the message m without its DKIM-Signature fields of
 * domain, with the domain's new signatures over that on top. DKIM_OK;
 * else the error store_dkim_sign() gave (out then unchanged).
 */
int queue_resign(struct store *st, const char *domain, struct str m, struct buf *out);

/* 1 when the raw DKIM-Signature field f has d=domain (either spelling of
 * an IDN), else 0 (also for a field that does not parse). */
int queue_sig_of(struct str f, const char *domain);

/*
 * Appends the 7-bit form of msg[0..len) to out (a buf with a ceiling),
 * the number of our domains whose signatures were made again to
 * *resigned_r and 1 to *resealed_r when our ARC set was (else 0). 0; -1
 * when the message has no 7-bit form (mime_downgrade_7bit()) or out's
 * ceiling was reached (out may then hold part of it: the caller resets
 * it). A domain that cannot sign now (its keys gone) keeps its broken
 * signature or set and a warning is logged.
 */
int queue_to_7bit(struct store *st, const char *msg, size_t len, struct buf *out,
		  unsigned *resigned_r, unsigned *resealed_r);

#endif
