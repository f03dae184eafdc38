/*
 * mime_cache.h — compact, versioned binary form of a struct mime_tree
 * (part structure, Content-* fields and the envelopes), stored with every
 * email so FETCH and Email/get never parse the message again.
 *
 * Design: varints and a fixed dictionary of common strings keep a typical
 * record at a few hundred octets (a Thunderbird multipart/alternative with
 * a usual envelope takes 230, most of it the envelope's own text; 10,000
 * parts about 80 KB). Decoding
 * allocates only arrays from the caller's arena; every string slice points
 * into the record (or into the static dictionary), so a record read from
 * an LMDB read transaction is used where it lies. Decoding checks every
 * length against the record and every structural rule the users of the
 * tree rely on (part offsets within the message and nested in their
 * parents, pre-order, depth and counts within the mime_tree.h limits, one
 * child per message part, envelopes exactly on messages), so a corrupt or
 * hostile record is rejected, never followed.
 *
 * Record, version 1 (all integers unsigned LEB128 varints, "str" is a
 * varint c: odd c is dictionary entry c >> 1, even c is c >> 1 literal
 * octets that follow):
 *   u8 version (1), tree flags (MIME_TREE_FLAGS; records written before
 *   MIME_TREE_REPEATED_ENV existed never have it), size, nparts, then per
 *   part in pre-order:
 *   bits          MIME_PART_* flags in bits 0..7, and which optional items
 *                 follow in bits 8.. (lines, bare-LF counts, params, id,
 *                 description, encoding, md5, location, disposition,
 *                 languages, envelope)
 *   parent delta  (index - parent index; not for the root)
 *   hdr_off delta (from the previous part's hdr_off), header length,
 *   body length, [lines], [hdr_bare_lf, body_bare_lf], str type,
 *   str subtype, [n, n * param], [str id] [str description]
 *   [str encoding] [str md5] [str location], [str disposition, n,
 *   n * param], [n, n * str language], [envelope]
 *   param: flags, str name, str value, [str charset, str language] with
 *   MIME_PARAM_EXTENDED.
 *   envelope: bits (1 date, 2 subject, 4 in-reply-to, 8 message-id,
 *   16 from, 32 sender, 64 reply-to, 128 to, 256 cc, 512 bcc), the present
 *   strings in that order, then each present list: n, n * address.
 *   address: bits (1 name, 2 adl, 4 mailbox, 8 host), the present strings.
 * The dictionary is append-only; a record naming an entry this build does
 * not know is rejected (and the caller parses the message again).
 *
 * Caveats: the record does not hold the message, only its size; a caller
 * must check that the blob it cuts sections from has that size. The bytes
 * of a decoded tree live as long as the record.
 */
#ifndef TERN_MIME_CACHE_H
#define TERN_MIME_CACHE_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_tree.h"

#define MIME_CACHE_VERSION 1

/*
 * Appends the record for t to out. The encoding is deterministic: the
 * same tree always gives the same octets. Returns 0, or -1 when out's
 * ceiling was reached (out may then hold part of a record).
 */
int mime_cache_encode(const struct mime_tree *t, struct buf *out);

/*
 * Reads a record into *t, allocating arrays from a; strings point into
 * p[0..len) or static storage. Returns 0, or -1 when the record is not a
 * valid version-1 record (*t is then a single empty text/plain part of
 * size 0, safe to render).
 */
int mime_cache_decode(const void *p, size_t len, struct arena *a, struct mime_tree *t);

/*
 * The tree of a stored message msg[0..len): decodes meta[0..metalen) when
 * it is a valid record for a message of exactly len octets, and parses msg
 * otherwise (no record, a record this build cannot read, or the
 * mime/summary.h record earlier builds stored as an email's meta: both
 * formats start with version byte 1, and the size check tells them
 * apart). Strings point into meta, into a or static storage. Returns 1
 * when the tree came from the record, 0 when msg was parsed.
 */
int mime_cache_load(const void *meta, size_t metalen, const char *msg, size_t len,
                    struct arena *a, struct mime_tree *t);

/*
 * The root message's Subject (an unfolded raw value, p NULL when the
 * message has none) and the message's size from a record, reading only
 * the record's root part (IMAP SEARCH SUBJECT over a whole mailbox).
 * The rest of the record is not checked: a caller compares *size_r with
 * the stored message's size as mime_cache_load() does. Returns 0, or -1
 * when the record cannot be read that far.
 */
int mime_cache_root_subject(const void *p, size_t len, struct arena *a, uint64_t *size_r,
                            struct str *subject_r);
/*
 * The message's size and its count of bare LFs (LFs without a CR before
 * them) from a record, reading only the root part: the size it has with
 * CRLF line ends is *size_r + *bare_lf_r (POP3's LIST). As with
 * mime_cache_root_subject(), the caller compares *size_r with the stored
 * size. Returns 0, or -1 when the record cannot be read that far.
 */
int mime_cache_root_bare_lf(const void *p, size_t len, struct arena *a, uint64_t *size_r,
                            uint64_t *bare_lf_r);
/*
 * Whether some header of the message of size octets has UTF-8 fields
 * (MIME_TREE_HDR_UTF8), from the record's first octets alone (an IMAP
 * view reads it for every message): 1 it has, 0 it has none, -1 the
 * record cannot tell (none, another size, or written before the scan).
 */
int mime_cache_header_utf8(const void *p, size_t len, uint64_t size);
/*
 * Whether the message of size octets ends with an LF (MIME_TREE_NO_FINAL_LF
 * clear), from the record's first octets alone (POP3 sizes every message
 * of a maildrop at login): 1 it does (or it is empty), 0 its last octet is
 * something else, -1 the record cannot tell (none, another size, or
 * written before the check).
 */
int mime_cache_final_lf(const void *p, size_t len, uint64_t size);
/* The store's ceiling for one record, and the address-list cut of the
 * degraded (root part only) record used when the full one does not fit. */
#define MIME_CACHE_META_MAX (256 * 1024)
#define MIME_CACHE_ADDRS_DEGRADED 100
/*
 * Parses msg[0..len) and writes its record into out (initialised here with
 * the MIME_CACHE_META_MAX ceiling; the caller frees it), falling back to
 * the degraded record as SMTP delivery does. Returns 0, or -1 when not even
 * that fits (out is empty: store the email without a record). Linear in
 * len: call it off the event loop for big messages.
 */
int mime_cache_build(const char *msg, size_t len, struct buf *out);

#endif
