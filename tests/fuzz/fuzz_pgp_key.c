/*
 * fuzz_pgp_key.c — an OpenPGP public key as a user uploads it (crypt/
 * pgp.h): armored or binary, any bytes are refused with a reason or read
 * into a key whose fields are within their bounds, and a key read
 * encrypts a short message or fails cleanly (a modulus or point the
 * arithmetic refuses).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "crypt/pgp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgp_key k;
	char err[256];
	if (pgp_key_parse((const char *)data, size, &k, err, sizeof err) < 0) {
		assert(err[0] != '\0' && memchr(err, '\0', sizeof err));
		return 0;
	}
	if (k.algo == PGP_PK_ECDH)
		assert(k.qlen == 32 || k.qlen == 65 || k.qlen == 97 || k.qlen == 133);
	else
		assert((k.algo == PGP_PK_RSA || k.algo == PGP_PK_RSA_E) && k.nlen >= 256 &&
		       k.nlen <= 512 && k.elen > 0);
	struct buf out;
	buf_init(&out, 1 << 20);
	if (pgp_encrypt(&out, &k, 256, "Subject: x\r\n\r\nhi\r\n", 18) == 0)
		assert(buf_len(&out) > 100 &&
		       memcmp(buf_data(&out), "-----BEGIN PGP MESSAGE-----", 27) == 0);
	buf_free(&out);
	return 0;
}
