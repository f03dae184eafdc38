/*
 * imap_bodystructure.h — IMAP BODY, BODYSTRUCTURE and ENVELOPE (RFC 9051
 * §7.5.2) written from a struct mime_tree, normally the one decoded from
 * the cache (mime_cache.h), never from the message.
 *
 * Design: the writers append to a bounded struct buf and stop with -1 when
 * its ceiling is reached, so a hostile message (10,000 parts with long
 * parameters) costs the connection at most the ceiling the caller chose.
 * Strings are quoted when they can be and sent as literals otherwise: a
 * string with CR or LF, or with 8-bit octets when the client has not
 * enabled UTF8=ACCEPT (or with octets that are not valid UTF-8 when it
 * has), becomes "{n}\r\n" and the octets. NUL, which no IMAP string may
 * hold, is sent as a space. Absent values are NIL.
 *
 * Output follows Dovecot where RFC 9051 leaves a choice: every extension
 * field is written in BODYSTRUCTURE (NIL when absent); a text part
 * without parameters gets ("charset" "us-ascii"); a part without
 * Content-Transfer-Encoding says "7bit"; types keep the case they were
 * written in; a multipart without parts and a message/rfc822 that was not
 * parsed (too deep, or base64-encoded) get an empty text/plain body and
 * an all-NIL envelope so the result always parses; Sender and Reply-To
 * fall back to From when absent or empty. An RFC 2231 parameter decoded
 * to UTF-8 is sent decoded when it is plain ASCII or the client takes
 * UTF-8, and otherwise re-encoded as name*=utf-8'lang'%XX, as Dovecot
 * passes RFC 2231 parameters on.
 *
 * Caveats: the tree must be one that mime_tree_parse() built or
 * mime_cache_decode() accepted (depth and links are trusted).
 */
#ifndef TERN_MIME_IMAP_BODYSTRUCTURE_H
#define TERN_MIME_IMAP_BODYSTRUCTURE_H

#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_tree.h"

#define IMAP_BS_EXTENDED 0x1u /* BODYSTRUCTURE: with extension data (else BODY) */
#define IMAP_BS_UTF8 0x2u     /* the client enabled UTF8=ACCEPT: UTF-8 may be quoted */
#define IMAP_BS_CRLF 0x4u     /* sizes as sent with bare LF turned into CRLF */
/* ENVELOPE for a client that enabled neither UTF8=ACCEPT nor IMAP4rev2
 * (RFC 6855): UTF-8 text as RFC 2047 words, U-label hosts as A-labels, a
 * mailbox with a UTF-8 local part as an empty group named after it (left
 * out inside a group), a message id whose domain alone is UTF-8 with its
 * A-labels and any other UTF-8 one NIL; in BODY and BODYSTRUCTURE a
 * parameter in raw UTF-8 as name*=utf-8''%XX, a UTF-8 Content-Description
 * as words, a Content-ID as a message id, and a UTF-8 Content-Location,
 * Content-MD5 or Content-Language NIL: what the header downgrade
 * (mime_header_downgrade.h) shows in the same message. */
#define IMAP_BS_ASCII 0x8u

/*
 * Appends the BODY or BODYSTRUCTURE of part i (0 for the message) of t,
 * from its opening parenthesis to its closing one. Returns 0, or -1 when
 * out's ceiling was reached (out then holds a prefix) or i is out of
 * range.
 */
int imap_bodystructure_write(struct buf *out, const struct mime_tree *t, uint32_t i,
                             unsigned flags);

/*
 * Appends an ENVELOPE. env NULL writes the all-NIL envelope. Returns 0, or
 * -1 when out's ceiling was reached.
 */
int imap_envelope_write(struct buf *out, const struct mime_envelope *env, unsigned flags);

/*
 * Appends s as an IMAP string (quoted or literal as above); with
 * imap_nstring_write, NIL when s.p is NULL. Returns 0 or -1 (ceiling).
 */
int imap_string_write(struct buf *out, struct str s, unsigned flags);
int imap_nstring_write(struct buf *out, struct str s, unsigned flags);

#endif
