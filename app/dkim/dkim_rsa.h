/*
 * dkim_rsa.h — RSA signing for DKIM (dkim_rsa.c, OpenSSL's libcrypto).
 * Internal to dkim/: callers use dkim_key_sign_digest.
 */
#ifndef TERN_DKIM_DKIM_RSA_H
#define TERN_DKIM_DKIM_RSA_H
#include <stddef.h>
#include <stdint.h>

struct dkim_key;

/*
 * RSASSA-PKCS1-v1_5 signature with the SHA-256 DigestInfo over digest, with
 * the RSA key k (already validated by dkim_key_import or made by
 * dkim_key_generate). Writes the modulus size in octets to sig (room
 * sigsz) and *siglen_r. Returns DKIM_OK, DKIM_ETOOBIG or DKIM_ECRYPTO.
 * Thread-safe: each thread keeps its own few prepared keys.
 */
int dkim_rsa_sign(const struct dkim_key *k, const uint8_t digest[32], uint8_t *sig, size_t sigsz,
                  size_t *siglen_r);

/*
 * Verifies an RSASSA-PKCS1-v1_5 signature with the SHA-256 DigestInfo
 * over digest (rsa-sha256; rsa-sha1 is refused before this), with the public
 * key der: a SubjectPublicKeyInfo (what DKIM key records carry) or a bare
 * RSAPublicKey (RFC 6376 §3.6.1's literal text; some old records). Writes
 * the modulus size in bits to *bits_r when the key parses. Returns 1 when
 * the signature verifies, 0 when it does not, -1 when der is not an RSA
 * public key (or libcrypto failed), -2 when its public exponent is over
 * DKIM_RSA_PUBEXP_MAX_BITS (not verified: see dkim_rsa.c).
 */
#define DKIM_RSA_PUBEXP_MAX_BITS 64
int dkim_rsa_verify(const uint8_t *der, size_t derlen, const uint8_t digest[32],
                    const uint8_t *sig, size_t siglen, unsigned *bits_r);

#endif
