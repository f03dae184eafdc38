/*
 * crypt_prim.c — AES and RSAES-PKCS1-v1_5 for encryption at rest; see
 * crypt_prim.h.
 */
#include "crypt/crypt_prim.h"

#include <string.h>

#include <sodium.h>

void crypt_aes_init(struct crypt_aes *a, const uint8_t *key, size_t len)
{
	a->vt = br_aes_x86ni_cbcenc_get_vtable();
	if (!a->vt)
		a->vt = &br_aes_ct64_cbcenc_vtable;
	a->vt->init(&a->k.vtable, key, len);
}

void crypt_aes_cbc(struct crypt_aes *a, uint8_t iv[16], void *data, size_t len)
{
	a->vt->run(&a->k.vtable, iv, data, len);
}

void crypt_aes_block(struct crypt_aes *a, uint8_t b[16])
{
	uint8_t iv[16] = {0};
	a->vt->run(&a->k.vtable, iv, b, 16);
}

void crypt_aes_wipe(struct crypt_aes *a)
{
	sodium_memzero(a, sizeof *a);
}

int crypt_rsa_pkcs1_encrypt(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen,
			    const uint8_t *m, size_t mlen, uint8_t *out)
{
	/* EM = 0x00 0x02 PS 0x00 M, PS at least 8 nonzero random octets. */
	if (nlen < mlen + 11 || nlen > 512)
		return -1;
	size_t ps = nlen - mlen - 3;
	out[0] = 0;
	out[1] = 2;
	randombytes_buf(out + 2, ps);
	for (size_t i = 2; i < 2 + ps; i++)
		while (out[i] == 0)
			randombytes_buf(&out[i], 1);
	out[2 + ps] = 0;
	memcpy(out + 3 + ps, m, mlen);
	br_rsa_public_key pk = {(unsigned char *)n, nlen, (unsigned char *)e, elen};
	/* 1 on success; 0 when n is even or EM is not below n. */
	return br_rsa_public_get_default()(out, nlen, &pk) ? 0 : -1;
}
