/*
 * crypt_prim.h — the primitives both sealed forms of encryption at rest
 * use (OpenPGP, crypt/pgp.h; S/MIME, crypt/smime.h), in one place: AES
 * with the fastest constant-time BearSSL code the CPU runs (AES-NI, else
 * ct64), as CBC runs and as single blocks (OpenPGP's CFB and key wrap
 * are made of those), and RSAES-PKCS1-v1_5 of a session key (RFC 8017
 * §7.2.1), which both formats use to seal the key to an RSA recipient.
 */
#ifndef TERN_CRYPT_CRYPT_PRIM_H
#define TERN_CRYPT_CRYPT_PRIM_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

struct crypt_aes {
	const br_block_cbcenc_class *vt;
	br_aes_gen_cbcenc_keys k;
};

/* key of 16, 24 or 32 octets. */
void crypt_aes_init(struct crypt_aes *a, const uint8_t *key, size_t len);
/* CBC over data[0..len), len a multiple of 16, in place; iv is the
 * chaining value, updated, so runs may follow one another. */
void crypt_aes_cbc(struct crypt_aes *a, uint8_t iv[16], void *data, size_t len);
/* One block encrypted in place. */
void crypt_aes_block(struct crypt_aes *a, uint8_t b[16]);
void crypt_aes_wipe(struct crypt_aes *a);

/*
 * RSAES-PKCS1-v1_5 encryption of m[0..mlen) to the public key (n, e),
 * big-endian without leading zeros: out receives nlen octets. 0, or -1
 * when the key is too short for m or too long (over 4096 bits), or the
 * arithmetic refuses it (an even modulus).
 */
int crypt_rsa_pkcs1_encrypt(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
			    const uint8_t *m, size_t mlen, uint8_t *out);

#endif
