/*
 * fuzz_smime_cert.c — a user's S/MIME certificate, PEM or DER, read by
 * smime_cert_parse(). Oracles: a refusal says why; a certificate read has
 * an RSA key of an accepted size, an issuer Name and a serial INTEGER as
 * whole elements, a printable address; and a message envelops to it.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "crypt/smime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smime_cert c;
	struct buf out;
	char err[256] = "";
	size_t i;

	if (smime_cert_parse((const char *)data, size, &c, err, sizeof err) < 0) {
		assert(err[0] != '\0' && c.data == NULL);
		return 0;
	}
	assert(c.bits >= SMIME_RSA_MIN_BITS && c.bits <= SMIME_RSA_MAX_BITS);
	assert(c.nlen == (c.bits + 7) / 8 && c.n[0] != 0 && c.elen > 0 && c.e[0] != 0);
	assert(c.issuer_len >= 2 && c.issuer[0] == 0x30);
	assert(c.serial_len >= 3 && c.serial[0] == 0x02);
	for (i = 0; c.email[i] != '\0'; i++)
		assert(c.email[i] > ' ' && c.email[i] < 0x7F);
	buf_init(&out, 1 << 20);
	assert(smime_envelop(&out, &c, 128, "hello", 5) == 0);
	assert(buf_len(&out) > c.nlen + c.issuer_len + c.serial_len);
	buf_free(&out);
	smime_cert_free(&c);
	return 0;
}
