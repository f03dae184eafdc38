/*
 * base64.h — base64 (RFC 4648): one strict decoder and one encoder for the
 * whole server.
 *
 * Base64 turns up in SASL (RFC 4422: challenges and responses, SCRAM's
 * salt, nonce and proof), HTTP Basic and the WebSocket accept key, JMAP
 * blobs, DKIM and ARC tags (b=, bh=, p=), DKIM keys, TSIG secrets, PGP
 * armor, and in base64url (§5) for ACME JWS, Web Push and SRS hashes.
 * Each of those used to carry its own loop or call libsodium, whose
 * decoder reads a char as signed (0xFF passes for '/') and skips NULs;
 * they now share these.
 *
 * Strict means: every octet is an alphabet digit, padding comes only at
 * the end and exactly as long as the last quantum needs ("Zg==", not
 * "Zg=" or "Zg==="), nothing follows it, a single leftover digit is
 * refused, and so is a non-canonical encoding, where the bits the
 * padding hides are not zero (RFC 4648 §3.5 lets a decoder refuse it;
 * every encoder writes zeros, so only a forgery or damage shows them).
 * Flags relax exactly what a caller's RFC relaxes: white space for the
 * DKIM tags (RFC 6376 §3.5: FWS anywhere) and key text, missing padding
 * and the URL-safe digits for base64url.
 *
 * Message content is another contract: MIME bodies (RFC 2045 §6.8) and
 * encoded words skip or tolerate what is not base64 rather than refuse
 * it. Their decoders (mime/mime_decode.c, mime/rfc5322.c) read digits
 * through base64_digit() and keep their own loops.
 *
 * Caveats: nothing here allocates. Decoding may write part of out
 * before it fails; outputs that must not keep such a part (a secret) are
 * the caller's to wipe.
 */
#ifndef TERN_CORE_BASE64_H
#define TERN_CORE_BASE64_H

#include <stddef.h>

#include "core/str.h"

struct buf;

/* How base64_encode and base64_decode read and write (bits, or'ed). */
enum {
	/* Encode with the URL-safe digits '-' '_' (RFC 4648 §5); decode
	 * them as well as '+' '/' (one text may mix them: the readers of
	 * base64url also take keys pasted in the standard spelling). */
	BASE64_URL = 1,
	/* Encode without '='; decode a text with or without it (when it
	 * is there, it must still be exact). base64url as JWS (RFC 7515
	 * §2) and Web Push write it. */
	BASE64_NOPAD = 2,
	/* Decode: SP, HT, CR and LF anywhere are skipped, before, inside
	 * and after the digits and the padding (DKIM's FWS, RFC 6376 §3.5;
	 * line breaks of key text). */
	BASE64_SKIP_WS = 4,
};

/* The value 0..63 of the standard digit c (A-Z a-z 0-9 + /), or -1 for
 * any other c, including '=', '-', '_', NUL and every octet over 0x7f
 * (c is read as unsigned char). A table, inline: the MIME body decoder
 * reads every octet of every base64 part through it. */
extern const signed char base64_values[256];
static inline int base64_digit(unsigned char c)
{
	return base64_values[c];
}

/* The size of an array that holds the padded base64 of n octets and a
 * NUL: for buffers sized at compile time. */
#define BASE64_ENCODED_SIZE(n) (((n) + 2) / 3 * 4 + 1)

/* The length of the base64 of n octets with flags (BASE64_URL does not
 * change it; BASE64_NOPAD does), the NUL not counted. */
size_t base64_encoded_len(size_t n, unsigned flags);

/*
 * Writes the base64 of in[0..n) to out, NUL-terminated: out has room for
 * outsz chars. Returns 0, or -1 when outsz < base64_encoded_len() + 1
 * (out then holds "" when outsz > 0). No line breaks: lines are
 * struct base64_lines' (below).
 */
int base64_encode(const void *in, size_t n, unsigned flags, char *out, size_t outsz);

/* Appends the base64 of in[0..n) to b (no NUL). 0, or -1 when b cannot
 * hold it all (b may then hold part of it). */
int base64_encode_buf(struct buf *b, const void *in, size_t n, unsigned flags);

/*
 * Decodes in strictly (see above; flags relax it) into out, which has
 * room for outsz octets, and sets *len_r. An empty text, or one of white
 * space only under BASE64_SKIP_WS, decodes to 0 octets. Returns 0, or
 * -1 for a non-digit, bad or misplaced padding, a leftover digit, a
 * non-canonical end, or more than outsz octets; *len_r is then left
 * alone.
 */
int base64_decode(struct str in, unsigned flags, void *out, size_t outsz, size_t *len_r);

/*
 * The one encoder of base64 in lines: `cols` digits (a multiple of 4, 4
 * to 76) and CRLF a line, the last line shorter, written through write()
 * as the octets come, so a body of any size needs no copy of its own.
 * MIME bodies take 76 columns (RFC 2045 §6.8: mime_base64_lines()),
 * OpenPGP armor 64 (RFC 9580 §6.3), S/MIME's 76 (crypt/crypt_rest.c).
 * Nothing is written for no octets at all.
 */
struct base64_lines {
	int (*write)(void *arg, const void *p, size_t n); /* 0, or -1: stop */
	void *arg;
	size_t group; /* octets a line: cols / 4 * 3 */
	unsigned char pend[57];
	size_t npend;
	int err; /* a write failed: nothing more is written */
};

/* Starts b writing through write(arg, ...); write and arg outlive b. */
void base64_lines_init(struct base64_lines *b, int (*write)(void *arg, const void *p, size_t n),
		       void *arg, size_t cols);
/* Takes p[0..n), writing each line as it fills (not the last, short one). */
void base64_lines_put(struct base64_lines *b, const void *p, size_t n);
/* Writes the last, short line. 0, or -1 when any write failed. */
int base64_lines_end(struct base64_lines *b);
/* All of p[0..n) as lines of cols appended to out: 0, or -1 at out's
 * ceiling (out may then hold the lines before). */
int base64_lines_buf(struct buf *out, const void *p, size_t n, size_t cols);

#endif
