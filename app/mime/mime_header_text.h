/*
 * mime_header_text.h — unstructured header text, folded and encoded as
 * RFC 5322 and RFC 2047 want (mime_header_text.c).
 */
#ifndef TERN_MIME_HEADER_TEXT_H
#define TERN_MIME_HEADER_TEXT_H

#include "core/buf.h"
#include "core/str.h"

/*
 * Appends s as an unstructured header value (RFC 5322 §3.2.5), folded:
 * the line it starts on is out's last (what follows its last LF). ASCII
 * is written as it is, controls made spaces, folded before whitespace
 * where a line would pass 78 columns; folds s has (CRLF or LF before
 * whitespace) are kept. Text that is not ASCII, or has a word that no
 * line of 998 could hold, becomes RFC 2047 "Q" words in UTF-8, one a
 * line of at most 76. Every line stays within 998 unless out's own
 * already did not.
 */
void mime_header_text(struct buf *out, struct str s);

/*
 * mime_header_text() for a value that is text and nothing else (JMAP's
 * asText, RFC 8621 §4.1.2.2): one holding "=?", which a reader would
 * take for the start of an encoded word, is written as encoded words
 * throughout, so it reads back as given. A Sieve script's value goes
 * through mime_header_text(): a script may write encoded words of its
 * own.
 */
void mime_header_text_literal(struct buf *out, struct str s);

/*
 * A field's value that may be structured (addresses, ids), written as
 * given but folded before whitespace where a line would pass 78 columns,
 * or 76 where the line holds an encoded word ("=?", RFC 2047 §2) (RFC
 * 5322 §2.2.3: FWS may be folded wherever it occurs), folds s has kept
 * and controls made spaces; nothing is encoded, so a word longer than a
 * line stays as it is. s may start with whitespace: the first word can
 * then go to a line of its own (the caller wrote "Name:" without the
 * space). For whole fields a script gives (Sieve's enclose :headers) and
 * downgraded address lists.
 */
void mime_header_fold(struct buf *out, struct str s);

#endif
