/*
 * imap_dg_cache.h — how much the header downgrade (imap_downgrade.h)
 * adds to a message's size, kept across commands and sessions.
 *
 * Why: a session without UTF-8 (neither UTF8=ACCEPT nor IMAP4rev2) is
 * given a message whose header has UTF-8 fields at its downgraded size
 * (RFC 6855 §3), and STATUS (SIZE), LIST-STATUS and NOTIFY's STATUS sum
 * those sizes (RFC 8438 §1). Each such message had to be read and
 * downgraded on every STATUS, on the loop: 2000 of them cost 60 to 95 ms
 * a STATUS against 0.5 ms with UTF-8, and clients poll STATUS of every
 * mailbox. The difference never changes: a message is immutable and an
 * email id is never reused within an account (app/store/SCHEMA.md), so
 * it is kept, keyed by store, account and email id.
 *
 * Bounds: IMAP_DG_CACHE_SLOTS entries, direct-mapped (an entry taking a
 * slot replaces the one there), allocated on first use. A lost entry
 * costs one more read; a found one is never wrong. One mutex (the loops
 * share it); each call holds it for one slot.
 */
#ifndef TERN_IMAP_IMAP_DG_CACHE_H
#define TERN_IMAP_IMAP_DG_CACHE_H

#include <stdint.h>

struct store;

#define IMAP_DG_CACHE_SLOTS 65536u /* 16 octets each: 1 MiB */

/* 1 with *delta_r when email_id of account in st is kept, else 0. */
int imap_dg_cache_get(const struct store *st, uint32_t account, uint32_t email_id,
		      int64_t *delta_r);

/* Keeps what the downgrade adds to email_id of account in st (a delta
 * that does not fit 32 bits is not kept). */
void imap_dg_cache_put(const struct store *st, uint32_t account, uint32_t email_id, int64_t delta);

/* Drops everything (tests; a store closed). */
void imap_dg_cache_clear(void);

#endif
