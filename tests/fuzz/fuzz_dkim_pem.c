/*
 * fuzz_dkim_pem.c — reading an imported DKIM private key
 * (dkim_key_from_text: PEM through the shared PEM reader, DER through
 * BearSSL's key decoder, base64 Ed25519). Oracles: a refusal says why and
 * leaves the key wiped; a key taken publishes a record, and survives the
 * store's export and import unchanged.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "dkim/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dkim_key zero;
	struct dkim_key k, back;
	char err[256];
	int weak = -1;

	if (dkim_key_from_text(&k, "sel", 1700000000, data, size, &weak, err, sizeof err) !=
	    DKIM_OK) {
		assert(err[0] != '\0');
		assert(memcmp(&k, &zero, sizeof k) == 0);
		return 0;
	}
	assert(weak == 0 || (weak == 1 && k.alg == DKIM_ALG_RSA_SHA256 && k.rsa_bits < 2048));

	struct buf txt;
	uint8_t ex[DKIM_KEY_EXPORT_MAX];
	size_t n = 0;

	buf_init(&txt, 4096);
	assert(dkim_key_txt(&k, &txt) == DKIM_OK);
	buf_free(&txt);
	assert(dkim_key_export(&k, ex, sizeof ex, &n) == DKIM_OK);
	assert(dkim_key_import(&back, k.alg, "sel", 1700000000, ex, n) == DKIM_OK);
	assert(memcmp(&back, &k, sizeof k) == 0);
	return 0;
}
