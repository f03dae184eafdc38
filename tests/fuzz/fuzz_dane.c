/*
 * fuzz_dane.c — the DANE X.509 engine (tlspol/dane.h) fed a record and a
 * chain. Input: u16 RDATA length, the TLSA RDATA, then certificates each
 * as u16 length + DER. Checks: the engine never reads outside (ASan); an
 * accepted chain matched DANE-EE or DANE-TA and yields a server key; a
 * refused one says why in BearSSL's X.509 error range.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlspol/dane.h"

static struct tlsa_rec rec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t rl = (size_t)data[0] << 8 | data[1];
	if (rl > size - 2 || tlsa_rdata_parse(data + 2, rl, &rec) < 0)
		return 0;
	struct dane_x509 *x = malloc(sizeof *x);
	dane_x509_init(x, &rec, 1, "mx.example.test");
	const br_x509_class **v = &x->vtable;
	(*v)->start_chain(v, "ignored.example");
	size_t off = 2 + rl;
	while (size - off >= 2) {
		size_t cl = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (cl > size - off)
			cl = size - off;
		(*v)->start_cert(v, (uint32_t)cl);
		/* In two pieces, as the TLS engine may hand them over. */
		(*v)->append(v, data + off, cl / 2);
		(*v)->append(v, data + off + cl / 2, cl - cl / 2);
		(*v)->end_cert(v);
		off += cl;
	}
	unsigned err = (*v)->end_chain(v);
	if (err == 0) {
		unsigned usages;
		assert(dane_x509_matched(x) == 2 || dane_x509_matched(x) == 3);
		assert((*v)->get_pkey(v, &usages) != NULL);
	} else {
		assert(err > BR_ERR_X509_OK && err < BR_ERR_X509_OK + 64);
		assert(dane_x509_matched(x) == 0);
	}
	free(x);
	return 0;
}
