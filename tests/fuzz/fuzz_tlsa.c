/*
 * fuzz_tlsa.c — TLSA RDATA and the certificate SPKI walk (tlspol/tlsa.h).
 * The input is read as RDATA and, whole, as a DER certificate. Checks: a
 * parsed record's data fits and hashes have their sizes; a found SPKI lies
 * inside the input and is a SEQUENCE; matching never reads outside (ASan)
 * and a selector-0 exact record made of the input matches it; a lone
 * record survives tlsa_strongest() exactly when it is usable; a found
 * issuer name lies inside and is a SEQUENCE; a key read from the input
 * as an SPKI ("2 1 0") points inside it, of a type BearSSL verifies.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "tlspol/tlsa.h"

static struct tlsa_rec r, one;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tlsa_rdata_parse(data, size, &r) == 0) {
		assert(r.len == size - 3 && r.len <= TLSA_DATA_MAX);
		assert(r.mtype != 1 || r.len == 32);
		assert(r.mtype != 2 || r.len == 64);
		(void)tlsa_match(&r, data, size);
		/* Alone in its RRset, a record is the strongest of its kind
		 * exactly when it is usable at all. */
		one = r;
		assert(tlsa_strongest(&one, 1) == (size_t)tlsa_usable(&r));
	}
	const uint8_t *spki;
	size_t len;
	if (tlsa_cert_spki(data, size, &spki, &len) == 0) {
		assert(spki >= data && spki + len <= data + size && len >= 2 && spki[0] == 0x30);
		r.usage = 3;
		r.selector = 1;
		r.mtype = 1;
		r.len = 32;
		memset(r.data, 0, 32);
		(void)tlsa_match(&r, data, size);
	}
	if (tlsa_cert_issuer(data, size, &spki, &len) == 0)
		assert(spki >= data && spki + len <= data + size && len >= 2 && spki[0] == 0x30);
	br_x509_pkey pk;
	if (tlsa_spki_key(data, size, &pk) == 0) {
		const uint8_t *a = pk.key_type == BR_KEYTYPE_RSA ? pk.key.rsa.n : pk.key.ec.q;
		size_t al = pk.key_type == BR_KEYTYPE_RSA ? pk.key.rsa.nlen : pk.key.ec.qlen;
		assert(pk.key_type == BR_KEYTYPE_RSA || pk.key_type == BR_KEYTYPE_EC);
		assert(a >= data && a + al <= data + size && al > 0);
	}
	if (size <= TLSA_DATA_MAX) {
		r.usage = 3;
		r.selector = 0;
		r.mtype = 0;
		r.len = size;
		memcpy(r.data, data, size);
		assert(tlsa_match(&r, data, size));
	}
	return 0;
}
