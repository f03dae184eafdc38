/*
 * spam_hashes.h — the local malware attachment list: the SHA-256 of files
 * known to be malicious, as abuse.ch's MalwareBazaar and others publish
 * them, loaded by the administrator (`tern spam hashes load`, the API,
 * the web admin) or fetched from a URL every few hours, and the check of
 * a message's attachments against it (rule FILE_HASH_LISTED).
 *
 * Design. An attachment's digest is the SHA-256 of its decoded content
 * (spam_msg.c, for attachments read whole, SPAM_VIEW_DIGESTS); the list keeps the first 64
 * bits of each listed digest (spam_feed.h: one record, sorted, binary
 * searched in place). 64 bits of a cryptographic hash collide by chance
 * about once in 2^64 / 10^6 lookups at a million entries: never in
 * practice.
 *
 * Feeds: one digest a line, as 64 hex digits; a line's first field of 64
 * hex digits is taken, so MalwareBazaar's text and CSV exports and
 * ClamAV's "sha256:size:name" lines load alike; '#' lines and lines
 * without a digest are skipped (counted bad when not blank or comment).
 */
#ifndef TERN_SPAM_SPAM_HASHES_H
#define TERN_SPAM_SPAM_HASHES_H

#include <stddef.h>
#include <stdint.h>

struct spam_feed;

#define SPAM_HASHES_WEIGHT 10.0 /* a known malicious file: Junk on its own */

/* The list's kind (spam_feed.h): STORE_SPAM_HASHES, setting/spam_hashes_url;
 * spam_feed_check with it adds FILE_HASH_LISTED (SPAM_HASHES_WEIGHT,
 * naming the first listed attachment). */
extern const struct spam_feed_kind spam_hashes_kind;

/* The entry of a SHA-256 digest (its first 8 octets, big-endian). */
uint64_t spam_hashes_key(const uint8_t sha256[32]);

/* Parses a feed text[0..len) into f (above). Never fails; free with
 * spam_feed_free. */
void spam_hashes_parse(const char *text, size_t len, struct spam_feed *f);

/* 1 when digest is on the list in record rec (a STORE_SPAM_HASHES record). */
int spam_hashes_listed(const char *rec, size_t reclen, const uint8_t sha256[32]);

#endif
