/*
 * imap_utf7.h — modified UTF-7 mailbox names (RFC 3501 §5.1.3) and UTF-8
 * validation.
 *
 * Design: the store keeps mailbox names in UTF-8. A session that has not
 * enabled IMAP4rev2 or UTF8=ACCEPT exchanges names in modified UTF-7, so
 * the daemon decodes each name a client sends with imap_utf7_to_utf8()
 * and encodes each name it sends with imap_utf8_to_utf7(). Both append to
 * a caller's bounded buffer and never read past the input slice.
 *
 * Strictness: decoding accepts exactly the strings the encoder produces,
 * so utf7 -> utf8 -> utf7 gives back the input and every name has one
 * spelling. Refused: octets outside 0x20..0x7e; "&" not followed by "-"
 * or a base64 run; a run not closed by "-"; "=" padding or any character
 * outside the modified base64 alphabet (A-Z a-z 0-9 + ,); a run that
 * encodes a printable ASCII character (0x20..0x7e, "&" included: it must
 * be "&-"); a run that ends with 6 or more spare bits or with non-zero
 * spare bits; a run right after another ("&AOk-&AOk-" must be
 * "&AOkA6Q-"); UTF-16 that is not well formed (a lone or reversed
 * surrogate); U+0000. The encoder refuses input that is not well-formed
 * UTF-8 (imap_utf8_valid()) or contains NUL.
 *
 * Caveats: no Unicode normalisation is done here; the store keeps names
 * in NFC and finds them by any canonically equivalent spelling
 * (store_mailbox_ops.c), and LIST puts patterns in NFC (cmd_list.c).
 */
#ifndef TERN_IMAP_IMAP_UTF7_H
#define TERN_IMAP_IMAP_UTF7_H

#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"

enum imap_utf7_result {
	IMAP_UTF7_OK = 0,
	IMAP_UTF7_INVALID = -1, /* the input is not valid (see above) */
	IMAP_UTF7_NO_ROOM = -2, /* the output would pass the buffer's max */
};

/*
 * Decodes the modified UTF-7 name in to UTF-8, appended to out.
 * Returns IMAP_UTF7_OK, IMAP_UTF7_INVALID or IMAP_UTF7_NO_ROOM; on an
 * error out is left as it was before the call.
 */
int imap_utf7_to_utf8(struct str in, struct buf *out);

/*
 * Encodes the UTF-8 name in to modified UTF-7, appended to out.
 * Returns IMAP_UTF7_OK, IMAP_UTF7_INVALID (in is not well-formed UTF-8 or
 * holds NUL) or IMAP_UTF7_NO_ROOM; on an error out is left as it was.
 */
int imap_utf8_to_utf7(struct str in, struct buf *out);

/* 1 when in is a valid modified UTF-7 name (as imap_utf7_to_utf8() decides), else 0. */
int imap_utf7_valid(struct str in);

/*
 * 1 when s is well-formed UTF-8 (RFC 3629: shortest forms only, no
 * surrogates, nothing above U+10FFFF), else 0. NUL octets are allowed
 * here; callers that refuse them check separately.
 */
int imap_utf8_valid(struct str s);

#endif
