/*
 * rfc5322.h — incremental parser for an RFC 5322 header section.
 *
 * Design: the caller feeds bytes in any chunks to rfc5322_parse() and gets
 * the header fields back one at a time, then RFC5322_END with the offset
 * where the body starts. A field is only known to be complete when the
 * first octet of the next line is seen (a space or tab there continues
 * it), so a field that spans calls is assembled in a bounded internal
 * buffer; a field that lies within one input is returned as slices of that
 * input, without copying. State lives in the struct, never on the stack.
 *
 * Consumption contract (as in picohttpparser): each call reports through
 * *consumed_r how many input octets it used; the caller keeps the rest and
 * presents them again, followed by new bytes, on the next call. The parser
 * leaves at most the start of one line unconsumed (the part before its
 * colon, at most RFC5322_NAME_MAX + a few octets) so it can decide whether
 * the line is a field before taking it.
 *
 * Line ends: CRLF and bare LF are both accepted (stored mail may have
 * either). A CR not followed by LF is an ordinary octet of the value.
 *
 * Malformed lines: a line that is neither a field ("name:" with optional
 * white space before the colon, RFC 5322 §4.5.3), nor a continuation of
 * one, nor empty, stays inside the header section: only an empty line
 * ends it (RFC 5322 §2.1), as in Dovecot. It is returned as a field with
 * an empty name whose value is the whole line (with its continuation
 * lines), so a consumer looking fields up by name never sees it and one
 * that must refuse such lines (submission) can. This includes a first
 * line that starts with white space, a line without a colon (a stray mbox
 * "From " line), a line starting with a lone CR and a field name with
 * octets outside 33..126. Nothing is dropped: the body offset is exact.
 *
 * Limits: a field name is at most RFC5322_NAME_MAX octets, a field with its
 * folds and line ends at most RFC5322_FIELD_MAX, the whole header section
 * including the empty line at most RFC5322_HEADER_MAX. Going past one is an
 * error that sticks: the parser returns it from then on.
 *
 * Caveats: values are returned raw (folds kept, encoded-words not decoded);
 * see rfc5322_unfold() and rfc5322_decode_words(). Obsolete syntax is not
 * otherwise interpreted.
 */
#ifndef TERN_MIME_RFC5322_H
#define TERN_MIME_RFC5322_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

#define RFC5322_NAME_MAX 256
#define RFC5322_FIELD_MAX (64 * 1024)
#define RFC5322_HEADER_MAX (1024 * 1024)

enum rfc5322_result {
	RFC5322_END = 2,   /* header section over; body_offset is set */
	RFC5322_FIELD = 1, /* *f holds the next field */
	RFC5322_MORE = 0,  /* need more input (or eof) */
	RFC5322_ERR_NAME_TOO_LONG = -1,
	RFC5322_ERR_FIELD_TOO_LONG = -2,
	RFC5322_ERR_HEADER_TOO_LONG = -3,
};

struct rfc5322_field {
	struct str name;  /* without white space before the colon; empty for a
	                   * malformed line (see above) */
	struct str value; /* after the colon to the end of its last line, folds
	                   * kept, the final line end removed */
	struct str raw;   /* the whole field as it appeared, final line end
	                   * included when there was one (for DKIM) */
};

struct rfc5322_parser {
	/* public, read-only */
	uint64_t offset;           /* octets consumed so far */
	uint64_t body_offset;      /* where the body starts, once RFC5322_END was returned */
	unsigned no_separator : 1; /* the header ended at the end of the
	                            * input, not at an empty line */
	unsigned bare_lf : 1;      /* some line ended with LF alone */

	/* private */
	int state;
	int err;
	unsigned have_field : 1; /* a field went through a line end; waiting for
	                          * the next line's first octet */
	unsigned reset_pending : 1;
	struct buf pending; /* field assembled across calls */
	size_t name_len;    /* of the current field */
	size_t value_off;   /* offset of the value inside the field */
};

/* Prepares p for a new header section. No allocation. */
void rfc5322_init(struct rfc5322_parser *p);
/* Frees the internal buffer; p may then be given to rfc5322_init() again. */
void rfc5322_clear(struct rfc5322_parser *p);

/*
 * Parses from in[0..len). eof says in holds the last bytes of the message
 * (a field then may end without a line end, and a message without an
 * empty line ends its header at its end).
 *
 * Returns:
 *   RFC5322_FIELD  *f is set. Its slices point into in or into p's buffer
 *                  and stay valid until the next call on p (and, for those
 *                  into in, while in does).
 *   RFC5322_END    the header section ended; p->body_offset is the body's
 *                  absolute offset (the empty line is consumed, a
 *                  malformed first body line is not). Returned again on
 *                  later calls, consuming nothing.
 *   RFC5322_MORE   everything usable was consumed; call again with the
 *                  unconsumed rest and more bytes, or with eof set.
 *   RFC5322_ERR_*  a limit was passed; sticky.
 * *consumed_r is always set.
 */
int rfc5322_parse(struct rfc5322_parser *p, const char *in, size_t len, int eof, size_t *consumed_r,
                  struct rfc5322_field *f);

/*
 * Unfolds a raw value: removes the line ends of folds (CRLF or LF), and
 * leading and trailing spaces and tabs. Writes to dst, which needs room
 * for value.len octets (the result is never longer). Returns the length;
 * no NUL is added.
 */
size_t rfc5322_unfold(struct str value, char *dst);

/*
 * Decodes RFC 2047 encoded-words ("=?charset?B|Q?text?=") in an unfolded
 * unstructured value to UTF-8, appending to out. Charsets us-ascii, utf-8,
 * iso-8859-1 (as windows-1252) and the others mime_charset_to_utf8() knows (windows-125x,
 * the ISO 8859 family, the East Asian ones) are decoded (with an RFC 2231
 * "*lang" suffix ignored);
 * a word in another charset, or malformed, is copied as it is. White space
 * between two encoded-words is dropped (RFC 2047 §6.2). Decoded control
 * octets other than tab become spaces and invalid UTF-8 becomes U+FFFD, so
 * the output is printable UTF-8 when the input's plain parts were.
 * Returns 0, or -1 when out's ceiling was reached (out then holds a
 * prefix).
 */
int rfc5322_decode_words(struct str in, struct buf *out);

#endif
