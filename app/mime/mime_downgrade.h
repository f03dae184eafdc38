/*
 * mime_downgrade.h — an 8-bit MIME message made 7-bit (RFC 6152 §3: what
 * a client may do instead of sending 8-bit data to a server without
 * 8BITMIME), as Postfix's smtp client does.
 *
 * Design. The message's MIME tree (mime_tree.h) is walked once: a leaf
 * part whose body holds 8-bit octets gets Content-Transfer-Encoding:
 * quoted-printable and its body encoded; a multipart or message/rfc822
 * part above such a leaf keeps its structure (RFC 2046 §5.2.1 allows no
 * other encoding of message/rfc822 than 7bit, 8bit or binary, so its
 * inner parts are what is converted) and its encoding field, if it says
 * 8bit or binary, becomes 7bit. A message without MIME-Version gets
 * "MIME-Version: 1.0" first (RFC 2045 §4: an encoding field means nothing
 * outside MIME). A converted leaf without Content-Type whose body is
 * valid UTF-8 gets "Content-Type: text/plain; charset=utf-8": the default
 * (US-ASCII) would misname its decoded octets. Everything else is copied
 * as it is.
 *
 * A leaf not yet encoded (7bit, 8bit, binary or no encoding field) with
 * a line longer than the 998 octets RFC 5322 §2.1.1 allows is made
 * quoted-printable too, 8-bit octets or not (RFC 5321 §4.5.3.1.6: a hop
 * may refuse or break such a line), as a 7-bit form is the one that
 * passes every hop; a header line that long is copied as it is.
 *
 * An 8-bit unstructured field (Subject, Comments, Content-Description)
 * whose value is UTF-8 becomes RFC 2047 words (mime_header_text.h).
 *
 * Caveats: a message that cannot be converted is refused (-1), never
 * half converted: any other 8-bit header field (an address, an id or a
 * parameter has no encoded form a reader would take), 8-bit octets in a
 * multipart's preamble or epilogue (which belong to no part),
 * in a body already declared base64 or quoted-printable, in a part the
 * tree could not expand (MIME_TREE_LIMITED), or a part whose header has
 * no empty line after it. A DKIM signature over the 8-bit body no longer
 * verifies after the conversion (RFC 6376 §5.3 asks signers to convert
 * first); the caller decides whether that is worth it.
 */
#ifndef TERN_MIME_MIME_DOWNGRADE_H
#define TERN_MIME_MIME_DOWNGRADE_H

#include <stddef.h>

#include "core/buf.h"

/*
 * Appends msg[0..len) converted to 7 bit to out: 0; -1 when the message
 * cannot be converted (see above) or out's ceiling was reached (out then
 * holds a part of it: the caller resets it). A message without 8-bit
 * octets or a line over MIME_LINE_MAX is appended unchanged.
 */
int mime_downgrade_7bit(const char *msg, size_t len, struct buf *out);

/* The longest line RFC 5322 §2.1.1 allows, without its CRLF. */
#define MIME_LINE_MAX 998

/* Whether p[0..n) has a line longer than MIME_LINE_MAX (its CR LF or
 * lone LF not counted). */
int mime_has_long_line(const char *p, size_t n);

/* Whether p[0..n) holds an 8-bit octet (one RFC 6152's 8BITMIME covers). */
int mime_has_8bit(const char *p, size_t n);

#endif
