/*
 * smtp_data.h — incremental reader for the SMTP DATA phase.
 *
 * After the 354 reply the session feeds whatever bytes arrive to
 * smtp_data_feed(); the reader removes dot-stuffing (RFC 5321 §4.5.2),
 * appends the message to an output buffer and stops right after the end
 * marker CRLF "." CRLF, so pipelined commands that follow stay in the
 * session's input. Its state is a few integers: any split of the input
 * gives the same output and flags.
 *
 * Line ends: only CRLF ends a line. The end marker is recognised only as
 * "." CRLF at the start of the data or after a CRLF, so "\n.\n", "\r.\r",
 * "\n.\r\n" and "\r\n.\n" do not end the message (SMTP smuggling defence);
 * bare CR, bare LF and NUL are passed through unchanged and flagged, and the
 * session decides whether to refuse the message. A dot is unstuffed only at
 * the start of a CRLF line.
 *
 * Size: the output stops growing once the message passes max_size (or the
 * output buffer's own ceiling) and too_big is set, but input is consumed
 * up to the end marker all the same so the session can answer 552 and stay
 * in step with the client.
 *
 * Caveats: the output is the message exactly as received minus the
 * stuffing dots; no line end is converted. After too_big the output holds
 * the first max_size octets (or as many as out took) whatever the
 * chunking, and is meant to be thrown away.
 * The reader does no hashing: that is the caller's.
 */
#ifndef TERN_SMTP_SMTP_DATA_H
#define TERN_SMTP_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Longest text line allowed by RFC 5321 §4.5.3.1.6, CRLF included. */
#define SMTP_DATA_LINE_MAX 1000

struct smtp_data_reader {
	int state;                /* private */
	size_t line_len;          /* private: octets of the current line so far */
	size_t max_size;          /* as given to smtp_data_init() */
	uint64_t size;            /* message octets seen after unstuffing, also past max_size */
	unsigned done : 1;        /* the end marker was consumed */
	unsigned too_big : 1;     /* size passed max_size, or out refused an append */
	unsigned saw_bare_lf : 1; /* an LF not preceded by CR */
	unsigned saw_bare_cr : 1; /* a CR not followed by LF */
	unsigned saw_nul : 1;     /* a NUL octet */
	unsigned long_line : 1;   /* a line longer than SMTP_DATA_LINE_MAX */
};

/* Starts a new message of at most max_size octets (after unstuffing). */
void smtp_data_init(struct smtp_data_reader *r, size_t max_size);

/*
 * Consumes bytes from in[0..len): the unstuffed message goes to the end of
 * out, until the end marker. Returns how many bytes were consumed: len,
 * or fewer exactly when the end marker was reached (r->done is then set
 * and in[returned..len) is what the client sent after it). Once done it
 * consumes nothing. It cannot fail: problems are the flags in *r.
 */
size_t smtp_data_feed(struct smtp_data_reader *r, const char *in, size_t len, struct buf *out);

#endif
