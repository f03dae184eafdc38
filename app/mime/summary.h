/*
 * summary.h — the few header fields every mail client lists, parsed once
 * at delivery and cached with the email.
 *
 * Design: msg_summary_parse() reads the header section of a message with
 * the rfc5322 parser and keeps From, To, Cc, Subject, Date, Message-ID and
 * In-Reply-To: the first occurrence of each wins, unfolded, trimmed and cut
 * to MSG_SUMMARY_VALUE_MAX octets (on a UTF-8 character boundary).
 * Values stay raw otherwise — encoded-words are not decoded — because IMAP
 * ENVELOPE must return them as they are; rfc5322_decode_words() turns them
 * into display text for JMAP and the web UI.
 *
 * msg_summary_encode() writes the compact record the store keeps in the
 * email row; msg_summary_decode() reads it back as slices into the record,
 * so an LMDB read transaction can serve it without copying.
 *
 * Record layout, version 1:
 *   u8 version (1), then per present field, in any order:
 *   u8 tag (1 from, 2 to, 3 cc, 4 subject, 5 date, 6 message-id,
 *   7 in-reply-to), u16 big-endian length (<= MSG_SUMMARY_VALUE_MAX),
 *   the value's octets.
 * A reader skips tags it does not know, so a field can be added without a
 * new version; the version changes only when the layout does.
 *
 * Caveats: an absent field is a slice with p == NULL; a field present but
 * empty has p != NULL and len 0 (IMAP distinguishes NIL from "").
 */
#ifndef TERN_MIME_SUMMARY_H
#define TERN_MIME_SUMMARY_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"

#define MSG_SUMMARY_VERSION 1
#define MSG_SUMMARY_VALUE_MAX 1024

struct msg_summary {
	struct str from, to, cc, subject, date, message_id, in_reply_to;
};

/*
 * Parses the header section of msg[0..len) (the body is not looked at)
 * into *s. Values are copied into a, and live as long as its allocations.
 * Returns 0, or -1 when the header section broke a limit of rfc5322.h
 * (*s then holds the fields found before that point).
 */
int msg_summary_parse(const char *msg, size_t len, struct arena *a, struct msg_summary *s);

/*
 * Appends the record for *s to out; values longer than
 * MSG_SUMMARY_VALUE_MAX are cut on a UTF-8 boundary. Returns 0, or -1
 * when out's ceiling was reached (out may then hold part of a record).
 */
int msg_summary_encode(const struct msg_summary *s, struct buf *out);

/*
 * Reads a record. Slices in *s point into p[0..len). Returns 0, or -1 when
 * the record is not a valid version-1 record (wrong version, truncated,
 * over-long value, a tag twice, tag 0); *s is then all absent.
 */
int msg_summary_decode(const void *p, size_t len, struct msg_summary *s);

#endif
