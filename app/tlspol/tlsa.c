/*
 * tlsa.c — TLSA RDATA, the certificate's SPKI and matching (see tlsa.h).
 */
#include "tlspol/tlsa.h"

#include <stdint.h>
#include <string.h>

#include <bearssl.h>

int tlsa_rdata_parse(const uint8_t *p, size_t n, struct tlsa_rec *r)
{
	if (n < 4)
		return -1;
	r->usage = p[0];
	r->selector = p[1];
	r->mtype = p[2];
	r->len = n - 3;
	if (r->len > TLSA_DATA_MAX || (r->mtype == 1 && r->len != 32) ||
	    (r->mtype == 2 && r->len != 64))
		return -1;
	memcpy(r->data, p + 3, r->len);
	return 0;
}

int tlsa_usable(const struct tlsa_rec *r)
{
	return (r->usage == 2 || r->usage == 3) && r->selector <= 1 && r->mtype <= 2;
}

size_t tlsa_strongest(struct tlsa_rec *r, size_t n)
{
	/* best[usage - 2][selector]: the strongest matching type seen. */
	int best[2][2] = {{-1, -1}, {-1, -1}};
	for (size_t i = 0; i < n; i++)
		if (tlsa_usable(&r[i]) && (int)r[i].mtype > best[r[i].usage - 2][r[i].selector])
			best[r[i].usage - 2][r[i].selector] = r[i].mtype;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (!tlsa_usable(&r[i]) || (int)r[i].mtype != best[r[i].usage - 2][r[i].selector])
			continue;
		if (kept != i)
			r[kept] = r[i];
		kept++;
	}
	return kept;
}

/* One DER element at *p (before end): its tag, contents and the end of it. 0 or -1. */
static int der_next(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **body,
		    size_t *blen)
{
	const uint8_t *q = *p;
	if (end - q < 2)
		return -1;
	*tag = *q++;
	size_t len = *q++;
	if (len & 0x80) {
		size_t nb = len & 0x7f;
		if (nb == 0 || nb > 3 || (size_t)(end - q) < nb)
			return -1;
		len = 0;
		while (nb--)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	*body = q;
	*blen = len;
	*p = q + len;
	return 0;
}

/*
 * The TBSCertificate field after `skip` others (the optional [0] version
 * not counted: serial 0, signature 1, issuer 2, validity 3, subject 4,
 * SPKI 5), which must be a SEQUENCE: 0 with the whole element in *f and
 * *len, or -1.
 */
static int tbs_field(const uint8_t *der, size_t n, int skip, const uint8_t **f, size_t *len)
{
	const uint8_t *p = der, *end = der + n, *b;
	size_t bl;
	uint8_t tag;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... } ... } */
	if (der_next(&p, end, &tag, &b, &bl) < 0 || tag != 0x30)
		return -1;
	p = b;
	end = b + bl;
	if (der_next(&p, end, &tag, &b, &bl) < 0 || tag != 0x30)
		return -1;
	p = b;
	end = b + bl;
	const uint8_t *start = p;
	if (der_next(&p, end, &tag, &b, &bl) < 0)
		return -1;
	if (tag != 0xa0)
		p = start; /* no version: this was the serial */
	for (int i = 0; i < skip; i++)
		if (der_next(&p, end, &tag, &b, &bl) < 0)
			return -1;
	start = p;
	if (der_next(&p, end, &tag, &b, &bl) < 0 || tag != 0x30)
		return -1;
	*f = start;
	*len = (size_t)(p - start);
	return 0;
}

int tlsa_cert_spki(const uint8_t *der, size_t n, const uint8_t **spki, size_t *len)
{
	return tbs_field(der, n, 5, spki, len);
}

int tlsa_cert_issuer(const uint8_t *der, size_t n, const uint8_t **dn, size_t *len)
{
	return tbs_field(der, n, 2, dn, len);
}

/* An INTEGER's magnitude: its contents without the leading zero octets. */
static int der_uint(const uint8_t **p, const uint8_t *end, const uint8_t **v, size_t *vl)
{
	uint8_t tag;
	if (der_next(p, end, &tag, v, vl) < 0 || tag != 0x02 || *vl == 0)
		return -1;
	while (*vl > 1 && **v == 0)
		(*v)++, (*vl)--;
	return 0;
}

int tlsa_spki_key(const uint8_t *spki, size_t n, br_x509_pkey *pk)
{
	static const uint8_t rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
	static const uint8_t ec[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
	static const struct {
		uint8_t len, oid[8];
		int curve;
	} curves[] = {{8, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, BR_EC_secp256r1},
		      {5, {0x2b, 0x81, 0x04, 0x00, 0x22}, BR_EC_secp384r1},
		      {5, {0x2b, 0x81, 0x04, 0x00, 0x23}, BR_EC_secp521r1}};
	const uint8_t *p = spki, *end = spki + n, *b, *alg, *oid, *bits;
	size_t bl, al, ol, bitsl;
	uint8_t tag;

	/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
	 * subjectPublicKey BIT STRING }, nothing after it. */
	if (der_next(&p, end, &tag, &b, &bl) < 0 || tag != 0x30 || p != end)
		return -1;
	p = b;
	end = b + bl;
	if (der_next(&p, end, &tag, &alg, &al) < 0 || tag != 0x30 ||
	    der_next(&p, end, &tag, &bits, &bitsl) < 0 || tag != 0x03 || p != end || bitsl < 2 ||
	    bits[0] != 0)
		return -1;
	bits++, bitsl--; /* no unused bits */
	const uint8_t *q = alg, *qend = alg + al;
	if (der_next(&q, qend, &tag, &oid, &ol) < 0 || tag != 0x06)
		return -1;
	memset(pk, 0, sizeof *pk);
	if (ol == sizeof rsa && memcmp(oid, rsa, ol) == 0) {
		/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
		const uint8_t *r = bits, *rend = bits + bitsl, *nv, *ev;
		size_t nl, el;
		if (der_next(&r, rend, &tag, &b, &bl) < 0 || tag != 0x30 || r != rend)
			return -1;
		r = b;
		rend = b + bl;
		if (der_uint(&r, rend, &nv, &nl) < 0 || der_uint(&r, rend, &ev, &el) < 0 || r != rend)
			return -1;
		pk->key_type = BR_KEYTYPE_RSA;
		pk->key.rsa.n = (unsigned char *)(uintptr_t)nv;
		pk->key.rsa.nlen = nl;
		pk->key.rsa.e = (unsigned char *)(uintptr_t)ev;
		pk->key.rsa.elen = el;
		return 0;
	}
	if (ol == sizeof ec && memcmp(oid, ec, ol) == 0) {
		/* The named curve, then the point as the BIT STRING holds it. */
		if (der_next(&q, qend, &tag, &oid, &ol) < 0 || tag != 0x06)
			return -1;
		for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
			if (ol == curves[i].len && memcmp(oid, curves[i].oid, ol) == 0) {
				pk->key_type = BR_KEYTYPE_EC;
				pk->key.ec.curve = curves[i].curve;
				pk->key.ec.q = (unsigned char *)(uintptr_t)bits;
				pk->key.ec.qlen = bitsl;
				return 0;
			}
	}
	return -1;
}

int tlsa_match(const struct tlsa_rec *r, const uint8_t *der, size_t n)
{
	const uint8_t *sel = der;
	size_t sl = n;
	uint8_t h[64];

	if (r->selector == 1) {
		if (tlsa_cert_spki(der, n, &sel, &sl) < 0)
			return 0;
	} else if (r->selector != 0) {
		return 0;
	}
	switch (r->mtype) {
	case 0:
		return sl == r->len && memcmp(sel, r->data, sl) == 0;
	case 1: {
		br_sha256_context c;
		br_sha256_init(&c);
		br_sha256_update(&c, sel, sl);
		br_sha256_out(&c, h);
		return r->len == 32 && memcmp(h, r->data, 32) == 0;
	}
	case 2: {
		br_sha512_context c;
		br_sha512_init(&c);
		br_sha512_update(&c, sel, sl);
		br_sha512_out(&c, h);
		return r->len == 64 && memcmp(h, r->data, 64) == 0;
	}
	default:
		return 0;
	}
}
