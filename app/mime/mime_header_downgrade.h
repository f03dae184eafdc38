/*
 * mime_header_downgrade.h — a message's UTF-8 header fields (RFC 6532)
 * rewritten in ASCII for a client that did not ask for UTF-8: POP3
 * without the UTF8 command (RFC 6856 §3), following RFC 6857's
 * post-delivery downgrade of the header.
 *
 * Design. Only the header section is rewritten; the body is left as it
 * is (8-bit bodies are nothing new to a POP3 client). A field without
 * 8-bit octets is copied as it is, and so is one whose 8-bit octets are
 * not UTF-8 (legacy mail in some other charset: it is not an RFC 6532
 * message, and clients took such fields before). A UTF-8 field becomes:
 *   - unstructured (Subject, Comments, Keywords, Content-Description,
 *     X-*): its value in RFC 2047 words (mime_header_text.h);
 *   - an address list (From, Sender, Reply-To, To, Cc, Bcc, their
 *     Resent- forms, Disposition-Notification-To): each mailbox keeps
 *     its place; a UTF-8 display name becomes RFC 2047 "B" words; an
 *     address whose domain alone is UTF-8 takes its A-labels (the same
 *     address); a mailbox whose local part is UTF-8 has no ASCII form,
 *     and becomes an empty group (RFC 6854 allows one in From and
 *     Sender) whose name is its display name and the address in RFC 2047
 *     words, so a reader still shows who it was (RFC 6857 §3's
 *     form); inside a group, where no group may nest, it is left out and
 *     shown in a comment instead. A mailbox this parser cannot take
 *     apart becomes such a group as a whole;
 *   - Content-Type and Content-Disposition: each parameter whose value
 *     is UTF-8 (a file name) in RFC 2231's extended form (name*=utf-8''
 *     %XX.., in sections when long), the field and its type kept, so the
 *     part keeps its type and name;
 *   - Return-Path with an A-label form: that; any other field (ids,
 *     Received, a Return-Path without an ASCII form, a field this code
 *     does not know): renamed "Downgraded-<name>" with its value in RFC
 *     2047 words (RFC 6857 §3), so no reader parses a mangled id or
 *     address, and the original stays readable.
 * The result depends only on the input, so its length, worked out once
 * (POP3's LIST) is what a later call sends (RETR).
 */
#ifndef TERN_MIME_HEADER_DOWNGRADE_H
#define TERN_MIME_HEADER_DOWNGRADE_H

#include <stddef.h>

#include "core/buf.h"

/* The length of msg[0..len)'s header section, its empty line included
 * (CRLF or a bare LF); len when the message has no empty line. At most
 * RFC5322_HEADER_MAX (rfc5322.h): a header section that runs past it
 * ends before the field that crosses it (0 when that is the first), as
 * the MIME parser ends it, so what the downgrade builds stays bounded. */
size_t mime_header_section_len(const char *msg, size_t len);

/* 1 when the header section h[0..n) has a field the downgrade rewrites
 * (one with 8-bit octets that are UTF-8), 0 when it goes out unchanged. */
int mime_header_needs_downgrade(const char *h, size_t n);

/* s as RFC 2047 "B" words of UTF-8 on one line, a space between words
 * (a display name in ASCII: IMAP's ENVELOPE without UTF8=ACCEPT). */
void mime_header_words(struct buf *out, struct str s);

/* s as the same words folded for a header field (a display name
 * submission writes): col is the columns out's current line already
 * holds; the first word fits within 76 of them (RFC 2047 §2) or starts a
 * new line, each further one is on a line of its own after CRLF SP.
 * Returns the column the last word ends at (col when s is empty). */
size_t mime_header_words_folded(struct buf *out, struct str s, size_t col);

/* A ceiling for the downgrade of a header section of n octets: an octet
 * may become four in "B" words, plus the words' and the folds' own. */
#define MIME_HEADER_DOWNGRADE_MAX(n) (6 * (size_t)(n) + 65536)

/* Appends the header section h[0..n) downgraded (see above) to out: 0, or
 * -1 when out's ceiling was reached. */
int mime_header_downgrade(const char *h, size_t n, struct buf *out);

#endif
