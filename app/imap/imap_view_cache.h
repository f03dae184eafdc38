/*
 * imap_view_cache.h — recent mailbox snapshots kept across sessions.
 *
 * Why: a session that SELECTs a mailbox reads every message of it
 * (imap_view_load). Clients reconnect often (a phone, mbsync runs, a
 * webmail), usually to the mailbox some session had open a moment ago.
 * A snapshot closed by one session is kept here with the account modseq
 * it is exact at; the next SELECT of that mailbox copies it and brings
 * it up to date from the change log (imap_view_refresh), like a session
 * does after each change, instead of reading the whole mailbox.
 *
 * Correctness rests on the snapshot rule of imap_mailbox_view.h: a view
 * is the store's state at its modseq, except for messages a change above
 * that modseq names (the session's own STORE results), which the refresh
 * reads again. So a cached snapshot is never wrong, only older.
 *
 * Bounds: at most IMAP_VIEW_CACHE_ENTRIES snapshots and
 * IMAP_VIEW_CACHE_MSGS messages in all (about 56 octets each plus
 * keywords); the least recently used go first. One mutex: loops on
 * several threads share it, and it is held only to copy or swap.
 */
#ifndef TERN_IMAP_IMAP_VIEW_CACHE_H
#define TERN_IMAP_IMAP_VIEW_CACHE_H

#include <stdint.h>

#include "imap/imap_mailbox_view.h"

#define IMAP_VIEW_CACHE_ENTRIES 256
#define IMAP_VIEW_CACHE_MSGS (256u * 1024)

/*
 * Takes v's snapshot into the cache (unless the cache holds a newer one
 * of the mailbox, or it is too big) and leaves v empty (freed).
 */
void imap_view_cache_put(struct store *st, struct imap_mailbox_view *v);

/*
 * A copy of the cached snapshot of (account, mailbox) in a fresh *v:
 * 1 when there was one, 0 when not (*v zeroed). The copy may be old:
 * refresh it before use.
 */
int imap_view_cache_get(struct store *st, uint32_t account, uint32_t mailbox,
			struct imap_mailbox_view *v);

/* Drops every snapshot (tests; a store closed). */
void imap_view_cache_clear(void);

#endif
