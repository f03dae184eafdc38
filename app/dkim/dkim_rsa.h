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
 * The public exponent e of the RSA key with factors p, q and CRT exponents
 * dp, dq (unsigned big-endian): the inverse of dp modulo p-1, which must
 * be that of dq modulo q-1, odd, over 1 and at most 32 bits; else 0 (not
 * one key). Every valid key has it, unlike BearSSL's
 * br_rsa_compute_pubexp, which needs p and q = 3 mod 4: its own keys are,
 * about one OpenSSL key in four is.
 */
uint32_t dkim_rsa_pubexp(const uint8_t *p, size_t plen, const uint8_t *q, size_t qlen,
                         const uint8_t *dp, size_t dplen, const uint8_t *dq, size_t dqlen);

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
