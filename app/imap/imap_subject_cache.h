/*
 * imap_subject_cache.h — the subjects SEARCH SUBJECT compares, kept
 * across commands and sessions.
 *
 * Why: SEARCH SUBJECT x compares the envelope's subject (RFC 9051
 * §6.4.4), which cmd_search.c takes from the envelope cached with each
 * email instead of the message; but that is still one email record found
 * and decoded per message on every SEARCH. On bench-imap's mixed load
 * (UID SEARCH UNSEEN SUBJECT over 2000 messages an account) that was
 * about 28% of tern's CPU, most of it spent walking a megabyte of records
 * per SEARCH. A subject never changes: a message is immutable and an
 * email id is never reused within an account (app/store/SCHEMA.md), so
 * its decoded, folded form (mime_search_fold_value) can be kept, keyed by
 * account and email id, and a SEARCH then reads a few octets a message.
 *
 * Entries come from searches: what one SEARCH had to read from the store
 * it adds, and the next finds. An expunged email's entry stays until its
 * account's entries are dropped (no one asks for it again); a cached
 * subject is never wrong, only perhaps unused.
 *
 * Bounds: IMAP_SUBJECT_CACHE_BYTES in all (ids, offsets and text), and a
 * subject is kept only up to IMAP_SUBJECT_CACHE_TEXT_MAX octets (a longer
 * one is read from the store each time); when full, the least recently
 * used account's entries go first. At most IMAP_SUBJECT_CACHE_ACCOUNTS
 * accounts. One mutex, held while a lookup pass runs its callback over
 * the cached entries (a few microseconds a thousand messages).
 */
#ifndef TERN_IMAP_IMAP_SUBJECT_CACHE_H
#define TERN_IMAP_IMAP_SUBJECT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct store;

#define IMAP_SUBJECT_CACHE_BYTES (16u * 1024 * 1024)
#define IMAP_SUBJECT_CACHE_ACCOUNTS 256
#define IMAP_SUBJECT_CACHE_TEXT_MAX 1024

/* A cached subject of ids[i]: folded (p == NULL: the message has none). */
typedef void imap_subject_cb(void *arg, size_t i, struct str folded);

/*
 * Calls cb for each ids[i] of account whose subject is cached (with the
 * cache locked: cb must not call into it); found[i] is set to 1 for
 * those. Returns how many were found.
 */
size_t imap_subject_cache_each(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
			       uint8_t *found, imap_subject_cb *cb, void *arg);

/* Keeps the folded subjects of n emails of account (p == NULL: none). */
void imap_subject_cache_add(struct store *st, uint32_t account, const uint32_t *ids,
			    const struct str *folded, size_t n);

/* Drops everything (tests; a store closed). */
void imap_subject_cache_clear(void);

#endif
