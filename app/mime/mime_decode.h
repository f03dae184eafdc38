/*
 * mime_decode.h — content transfer decoding (base64, quoted-printable) and
 * the few charset conversions to UTF-8 that need no tables beyond a page.
 *
 * Design: a struct mime_decoder is a resumable state machine. The caller
 * feeds the encoded body in chunks of any size (one octet at a time works)
 * and gets the decoded octets in a caller-owned output area; state that
 * spans chunks (an incomplete base64 quantum, "=" and one hex digit, white
 * space that is only dropped if the line ends) lives in the struct, bounded
 * by a small constant. Nothing allocates. This serves IMAP BINARY[] (stream
 * a part out decoded), BINARY.SIZE (count without keeping) and search text
 * extraction.
 *
 * Leniency, as Dovecot's decoders: nothing is ever an error that stops
 * decoding. Base64 skips white space silently and any other octet outside
 * its alphabet counting it in `errors`; "=" padding ends a quantum, and
 * decoding resumes afterwards (concatenated base64 blocks exist); a final
 * incomplete quantum of two or three sextets still yields its octets.
 * Quoted-printable keeps an "=" that does not start "=XX" or a soft line
 * break as a literal "=" (counted in errors), accepts lowercase hex,
 * removes white space at the end of a line (RFC 2045 §6.7 rule 3) and after
 * a soft-break "=", and passes line ends through as they came (CRLF or LF).
 *
 * Caveats: 7bit, 8bit, binary and unknown encodings are passed through
 * unchanged; it is the caller's business to refuse an unknown one
 * (IMAP BINARY answers NO [UNKNOWN-CTE]). Charset conversion covers
 * UTF-8, US-ASCII, ISO-8859-15, windows-1252 (ISO-8859-1 by any of its
 * IANA names too, read as windows-1252 as the WHATWG Encoding Standard
 * and mail readers do; ISO-8859-9 as windows-1254 likewise) and the
 * single-octet tables of mime_charset_tables.c (KOI8-R, KOI8-U,
 * windows-1251, ISO-8859-5, windows-1250, ISO-8859-2), and through libc's
 * iconv the East Asian multi-octet charsets (GB2312/GBK/GB18030, Big5,
 * Big5-HKSCS, EUC-KR/CP949, Shift_JIS/CP932, EUC-JP, ISO-2022-JP and their
 * usual aliases; the Japanese ones with CP932's NEC and IBM characters,
 * which musl's lacks, decoded here) and the other single-octet ones mail uses (ISO-8859-3, -4,
 * -6 to -11, -13, -14, -16, windows-1253 to -1258, TIS-620/windows-874,
 * IBM866; "iso8859-7", "ISO_8859-7", "cp1253" spellings too), and UTF-7
 * (RFC 2152) and UTF-16 (RFC 2781) decoded here; other charsets (UTF-32,
 * ISO-2022-KR...) are unknown.
 */
#ifndef TERN_MIME_DECODE_H
#define TERN_MIME_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

enum mime_cte {
	MIME_CTE_7BIT = 0,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_UNKNOWN, /* x-uuencode and friends: passed through */
};

/* Longest run of white space quoted-printable holds back, waiting to see
 * whether the line ends; a longer run is partly emitted as is. */
#define MIME_QP_WS_MAX 64

/* Room the output of one mime_decoder_feed() of n input octets may need;
 * mime_decoder_finish() needs MIME_DECODE_OUT_MAX(0). */
#define MIME_DECODE_OUT_MAX(n) ((n) + MIME_QP_WS_MAX + 8)

struct mime_decoder {
	enum mime_cte cte;
	uint64_t errors; /* octets that were garbage (skipped or kept literally) */

	/* private */
	uint32_t acc;   /* base64: sextets of the current quantum */
	unsigned nsext; /* base64: how many */
	int state;      /* quoted-printable */
	char hex1;      /* quoted-printable: first digit after "=" */
	size_t nws;
	char ws[MIME_QP_WS_MAX];
};

/*
 * Maps a Content-Transfer-Encoding value (trimmed token, any case) to its
 * enum. An absent value (p == NULL) or an empty one is 7bit.
 */
enum mime_cte mime_cte_parse(struct str value);

/* Prepares d to decode a body in encoding cte. */
void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte);

/*
 * Decodes in[0..len) and writes the result to out, which must have room
 * for MIME_DECODE_OUT_MAX(len) octets. All of in is always consumed.
 * Returns the number of octets written.
 */
size_t mime_decoder_feed(struct mime_decoder *d, const char *in, size_t len, char *out);

/*
 * Ends the input: writes what the state still holds (the octets of a final
 * base64 quantum without padding, a dangling "=X") to out, which must have
 * room for MIME_DECODE_OUT_MAX(0) octets. Returns the number written. d may
 * then be given to mime_decoder_init() again.
 */
size_t mime_decoder_finish(struct mime_decoder *d, char *out);

/*
 * Decodes all of in and appends the result to out. Returns 0, or -1 when
 * out's ceiling was reached (out then holds a prefix of the result).
 */
int mime_decode_all(enum mime_cte cte, struct str in, struct buf *out);

/* The size of in once decoded (what IMAP BINARY.SIZE reports). */
uint64_t mime_decoded_size(enum mime_cte cte, struct str in);

/*
 * Converts in[0..len) in the named charset (any case; p == NULL or empty
 * means US-ASCII) to UTF-8 in out, which needs room for 3 * len octets.
 * Octets that are not valid in the charset (invalid UTF-8) become U+FFFD;
 * US-ASCII with 8-bit octets is read as UTF-8, as mail in the wild means.
 * Returns the length written, or -1 when the charset is not one of those
 * listed in the Caveats (out is then untouched).
 */
ptrdiff_t mime_charset_to_utf8(struct str charset, const char *in, size_t len, char *out);

/* 1 when mime_charset_to_utf8() knows the charset. */
int mime_charset_known(struct str charset);

/* 1 when charset is UTF-7 (by any of its names), whose text may only be
 * cut for conversion in pieces after an octet outside base64 ("+" and
 * "/" are in it, so mime_search cuts it by its own rule). */
int mime_charset_is_utf7(struct str charset);

/* For UTF-16 (by any of its names), whose text may only be cut for
 * conversion at an even octet and not inside a surrogate pair, and whose
 * BOM only the first piece has: 2 when its octets are little-endian
 * (the label, or a BOM at p[0..n) for plain "UTF-16"), 1 when
 * big-endian; 0 for another charset. */
int mime_charset_utf16(struct str charset, const char *p, size_t n);

/* A single-octet charset by table: hi[i] is the code point of 0x80 + i. */
struct mime_charset_table {
	const char *name;
	const uint16_t *hi;
};
/* mime_charset_tables.c; ends with a NULL name. */
extern const struct mime_charset_table mime_charset_tables[];
/* mime_charset_tables.c: CP932's code points for Shift_JIS leads 0x87,
 * 0xED, 0xEE, 0xFA, 0xFB, 0xFC (rows 0..5), by trail 0x40..0x7E,
 * 0x80..0xFC; 0 for none. */
extern const uint16_t mime_cp932_ext[6][188];


/*
 * Appends p[0..n) as base64 body lines of a MIME part (76 columns, CRLF;
 * RFC 2045 §6.8), the one encoder of such bodies (JMAP's created parts,
 * vacation replies, encrypted messages), core/base64.h's lines at 76
 * columns. 0, or -1 at out's ceiling.
 */
int mime_base64_lines(struct buf *out, const void *p, size_t n);

/*
 * Appends p[0..n) as a quoted-printable body (RFC 2045 §6.7): line ends
 * (CRLF or a bare LF) stay hard line breaks written CRLF, every other
 * octet that is not printable ASCII (a bare CR too) and white space
 * before a line end are encoded, longer lines are broken softly at 76
 * columns. 0, or -1 at out's ceiling.
 */
int mime_qp_lines(struct buf *out, const void *p, size_t n);

/*
 * The end of a text part's header and its body, for text tern composes
 * from what a user or a script gave (vacation and notify replies, MDNs):
 * appends "Content-Transfer-Encoding: X" CRLF CRLF and p[0..n) with its
 * line ends (CRLF or a bare LF) written CRLF and one at the end. X is
 * 7bit for ASCII, 8bit with octets over 127 (the queue makes a 7-bit
 * form for a hop without 8BITMIME), quoted-printable (mime_qp_lines)
 * when a line is longer than the 998 octets RFC 5322 §2.1.1 allows or
 * holds a NUL or a bare CR, which neither 7bit nor 8bit may (RFC 2045
 * §2.7, §2.8). 0, or -1 at out's ceiling.
 */
int mime_text_body(struct buf *out, const void *p, size_t n);

#endif
