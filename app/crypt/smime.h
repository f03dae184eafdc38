/*
 * smime.h — S/MIME encryption at rest: a user's X.509 certificate read
 * once, and each message delivered to them wrapped in a CMS EnvelopedData
 * (RFC 5652 §6) only the holder of the certificate's private key can open.
 *
 * Design. smime_cert_parse() reads what encryption needs from the
 * certificate — the RSA public key, the issuer Name and serialNumber that
 * name the recipient in the envelope (RFC 5652 §6.2.1
 * issuerAndSerialNumber), notAfter, and an e-mail address to show the
 * user — with the bounded DER reader of net/ (tls_der_next), nesting
 * followed by hand to a fixed depth. smime_envelop() then writes one
 * ContentInfo: the message encrypted with a fresh AES key in CBC mode,
 * that key encrypted to the certificate with RSAES-PKCS1-v1_5 (RFC 8017
 * §7.2). Algorithms follow RFC 8551 §2.7: AES-CBC is what every S/MIME
 * client reads; AuthEnvelopedData with AES-GCM (RFC 5083) would be
 * better but Apple Mail and older Thunderbird cannot open it, and mail
 * stored for a user must open in the user's client.
 *
 * Caveats. Only RSA keys of 2048 to 4096 bits (4096 is BearSSL's limit,
 * BR_MAX_RSA_SIZE); EC certificates are refused. The certificate is not
 * verified (no chain, no signature, no key usage, no revocation): the user
 * uploads their own certificate, and encrypting to it is their choice.
 * notAfter is reported, not enforced: what to do with an expired
 * certificate is the caller's policy.
 */
#ifndef TERN_CRYPT_SMIME_H
#define TERN_CRYPT_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "crypt/crypt_sink.h"

#define SMIME_RSA_MIN_BITS 2048
#define SMIME_RSA_MAX_BITS 4096

/*
 * What smime_envelop() needs from a certificate. Every pointer points
 * into one heap block owned by the struct, valid until smime_cert_free().
 */
struct smime_cert {
	const unsigned char *n; /* RSA modulus, big-endian, no leading zero */
	size_t nlen;
	const unsigned char *e; /* RSA public exponent, big-endian, no leading zero */
	size_t elen;
	const unsigned char *issuer; /* the issuer Name, whole DER TLV (tag 0x30) */
	size_t issuer_len;
	const unsigned char *serial; /* serialNumber, whole DER INTEGER TLV (tag 0x02) */
	size_t serial_len;
	unsigned bits;     /* modulus size in bits */
	int64_t not_after; /* seconds since the epoch */
	/* The first rfc822Name of subjectAltName, else the subject's first
	 * emailAddress attribute, else ""; printable ASCII only, one that does
	 * not fit or holds anything else is skipped. */
	char email[256];
	unsigned char *data; /* the block holding n, e, issuer, serial */
};

/*
 * Reads the certificate in text[0..len): PEM (the first CERTIFICATE
 * block; text before it, CRLF line ends and blocks after it are ignored)
 * or raw DER (exactly one Certificate, nothing after it). On success
 * fills *c, which the caller then owns (smime_cert_free), and returns 0.
 * On failure returns -1, leaves *c empty (smime_cert_free is harmless on
 * it) and writes to err a message fit to show the user who uploaded the
 * file: not PEM or DER, not a certificate, a key that is not RSA, an RSA
 * key under 2048 or over 4096 bits, and so on. err may be NULL only when
 * errsz is 0.
 */
int smime_cert_parse(const char *text, size_t len, struct smime_cert *c, char *err, size_t errsz);

/* Frees what *c owns and empties it; c may be NULL or already empty. */
void smime_cert_free(struct smime_cert *c);

/*
 * Appends to out the DER of a CMS ContentInfo (RFC 5652 §3) of type
 * id-envelopedData holding entity[0..len) (the whole MIME entity, header
 * and body, as it is to be read after decryption) encrypted to c:
 * EnvelopedData version 0, one KeyTransRecipientInfo (issuerAndSerialNumber,
 * rsaEncryption), content type id-data, aes_bits 128 (aes128-CBC) or 256
 * (aes256-CBC), a random key and IV from libsodium, the key wiped after
 * use. out grows by about len + 16 + the recipient's size. entity must
 * not point into out.
 *
 * Returns 0, or -1 with out unchanged when aes_bits is neither 128 nor 256,
 * c's key is unusable, or out cannot grow that much (its max, or memory).
 */
int smime_envelop(struct buf *out, const struct smime_cert *c, int aes_bits, const void *entity,
                  size_t len);

/* The same for the concatenation of parts, written to out as it is made:
 * memory holds the envelope's head and 4 KiB, whatever the size. 0, or
 * -1 (as above, or a write failed: out then holds a prefix). */
int smime_envelop_parts(const struct smime_cert *c, int aes_bits, const struct str *parts,
			size_t nparts, const struct crypt_sink *out);

#endif
