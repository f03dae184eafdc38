/*
 * hex.h — hexadecimal digits: one decoder and one encoder for the whole
 * server.
 *
 * Hex turns up everywhere in mail: percent escapes (URLs, IMAP URLs,
 * sieve, RFC 2231), quoted-printable and xtext, reverse-DNS nibbles,
 * character references, and the digests and ids we print ourselves
 * (blob ids, backup hashes, tokens). Each used to carry a private copy
 * of the same few lines; they now share these, and the percent escapes
 * share one decoder (pct_decode).
 *
 * Case: what peers send is read in either case (hex_digit). Ids and
 * digests that tern writes are lowercase and have one spelling, so that
 * they compare as strings; readers of those use hex_digit_lower and
 * refuse the uppercase spelling. Writers pick the table the format
 * asks for: lowercase for ours, uppercase where an RFC recommends it
 * (percent-encoding, quoted-printable, xtext).
 *
 * Caveats: nothing here allocates or NUL-terminates unless it says so.
 */
#ifndef TERN_CORE_HEX_H
#define TERN_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The sixteen digits, indexed by value ("0123456789abcdef", "...ABCDEF"). */
extern const char hex_lower[17];
extern const char hex_upper[17];

/* The value 0..15 of the digit c (0-9, a-f, A-F), or -1 for any other
 * c, including negative ones (a signed char over 0x7f). */
int hex_digit(int c);

/* As hex_digit, but only 0-9 and a-f: for the ids and digests tern
 * writes, where "AB" is not another spelling of "ab". */
int hex_digit_lower(int c);

/*
 * The object ids clients see (IMAP OBJECTID, JMAP ids, Sieve's
 * :mailboxid): a letter naming the kind ('M' mailbox, 'E' email, 'T'
 * thread, 'A' account, ...) and the store's number as exactly eight
 * lowercase digits, "M0000002a". Returns the number, or -1 when
 * s[0..len) is not prefix followed by that: the one reader of the
 * spelling every writer prints with "%c%08x".
 */
int64_t hex_objid_parse(const char *s, size_t len, char prefix);

/* Writes the n octets of in as 2n lowercase digits, then a NUL: out must
 * have room for 2n + 1 chars. */
void hex_encode(char *out, const void *in, size_t n);

enum hex_case { HEX_ANY_CASE, HEX_LOWER_ONLY };

/*
 * Decodes the n digits in[0..n) (n even; no NUL needed) into the n / 2
 * octets out[0..n/2), reading digits as hex_digit does, or as
 * hex_digit_lower with HEX_LOWER_ONLY. Returns 0, or -1 for an odd n or
 * a non-digit; out may then be partly written.
 */
int hex_decode(uint8_t *out, const char *in, size_t n, enum hex_case cs);

/* How pct_decode treats what is not a plain character (bits, or'ed). */
enum {
	/* A '%' not followed by two digits is kept as it is, as browsers
	 * and libmicrohttpd do; without it, it fails the whole decoding
	 * (RFC 3986 §2.1: such a URI is malformed). */
	PCT_LENIENT = 1,
	/* With PCT_LENIENT: "%00" counts as malformed and stays the three
	 * characters, for callers whose readers see C strings. */
	PCT_KEEP_00 = 2,
	/* An octet 0, sent as it is or as %00, fails the decoding. */
	PCT_NO_NUL = 4,
	/* '+' is a space (application/x-www-form-urlencoded); "%2B" stays
	 * a '+'. */
	PCT_PLUS_SPACE = 8,
};

/*
 * Undoes the %XX escapes (RFC 3986 §2.1; digits in either case) of
 * in[0..n) (no NUL needed) into out, NUL-terminated, its length in
 * *len_r. out has room for outsz chars, the NUL included; out may be
 * in (decoding never lengthens). Returns 0, or -1 for a malformed
 * escape (unless PCT_LENIENT), a NUL refused by PCT_NO_NUL, or no room;
 * out may then be partly written and *len_r is left alone.
 */
int pct_decode(const char *in, size_t n, char *out, size_t outsz, size_t *len_r, unsigned flags);

#endif
