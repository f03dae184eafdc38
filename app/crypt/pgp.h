/*
 * pgp.h — OpenPGP for encryption at rest (crypt_rest.h): reading a user's
 * public key (a transferable public key, RFC 9580 §10.1, armored or
 * binary) and encrypting a message to it.
 *
 * What is read: version 4 keys (what GnuPG, Thunderbird (RNP), K-9 and
 * OpenKeychain make and export); the key that encrypts is chosen as
 * GnuPG chooses it: the newest subkey marked for encryption (key flags
 * 0x04 or 0x08 in its newest binding signature), neither revoked nor
 * expired, else the primary key when it is marked so. Algorithms: RSA
 * (2048 to 4096 bits) and ECDH (RFC 6637) on Curve25519 (the legacy
 * "cv25519" of GnuPG 2.1 on), NIST P-256, P-384 and P-521. Signatures
 * are read for their flags and times, never verified: the key is the
 * account holder's own, uploaded over their authenticated session, and a
 * forged binding could only make their own mail unreadable to them.
 *
 * What is written: an ASCII-armored OpenPGP message (RFC 9580 §6): one
 * public-key encrypted session key packet (version 3) and one
 * symmetrically encrypted integrity protected data packet (version 1,
 * AES-CFB with the modification detection code, SHA-1), holding one
 * literal data packet with the bytes. Version 1 is what every OpenPGP
 * program reads; the AEAD version 2 packet is not read by GnuPG 2.2.
 * No compression: the store compresses nothing either, and a compressed
 * packet would add a zlib to the build for little.
 */
#ifndef TERN_CRYPT_PGP_H
#define TERN_CRYPT_PGP_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "crypt/crypt_sink.h"

/* The longest key text taken (a key with many certifications). */
#define PGP_KEY_TEXT_MAX (512 * 1024)

enum pgp_pk_algo { PGP_PK_RSA = 1, PGP_PK_RSA_E = 2, PGP_PK_ECDH = 18 };

struct pgp_key {
	uint8_t fpr[20];     /* v4 fingerprint of the key that encrypts */
	uint8_t primary_fpr[20];
	int algo;            /* enum pgp_pk_algo */
	unsigned bits;       /* RSA modulus or curve size, for display */
	int64_t created;     /* the encrypting key's creation, seconds */
	int64_t expires;     /* 0: never */
	/* RSA: big-endian, no leading zeros. */
	uint8_t n[1024];
	size_t nlen;
	uint8_t e[8];
	size_t elen;
	/* ECDH */
	int curve;           /* BearSSL's BR_EC_* */
	uint8_t oid[10];
	size_t oidlen;
	uint8_t q[133];      /* Curve25519: its 32 octets; NIST: 04 || X || Y */
	size_t qlen;
	int kdf_hash;        /* 8 SHA-256, 9 SHA-384, 10 SHA-512 */
	int kdf_sym;         /* 7 AES-128, 8 AES-192, 9 AES-256 */
	char uid[256];       /* the first user ID, for display (may be empty) */
};

/*
 * Reads a public key from text[0..len): ASCII armor ("-----BEGIN PGP
 * PUBLIC KEY BLOCK-----", its CRC-24 checked when present) or binary
 * packets. 0 with *k filled, or -1 with a sentence for the user in err
 * (a secret key, a version 6 key, no key that encrypts, an algorithm not
 * supported, damaged data).
 */
int pgp_key_parse(const char *text, size_t len, struct pgp_key *k, char *err, size_t errsz);

/* The fingerprint as 40 upper-case hex digits, NUL-terminated. */
void pgp_fpr_hex(const uint8_t fpr[20], char out[41]);

/*
 * Appends to out the armored OpenPGP message holding data[0..len),
 * encrypted to k with AES (aes_bits 128 or 256) under a fresh random
 * session key; CRLF line ends. 0, or -1 (out's ceiling, or the key's
 * point refused by the curve arithmetic).
 */
int pgp_encrypt(struct buf *out, const struct pgp_key *k, int aes_bits, const void *data,
		size_t len);

/* The same for the concatenation of parts, written to out as it is made
 * (memory: a few KiB whatever the size). 0, or -1 (a write failed, or
 * the key's point was refused). */
int pgp_encrypt_parts(const struct pgp_key *k, int aes_bits, const struct str *parts,
		      size_t nparts, const struct crypt_sink *out);

#endif
