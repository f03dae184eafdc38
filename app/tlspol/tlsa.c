/*
 * tlsa.c — TLSA RDATA, the certificate's SPKI and matching (see tlsa.h).
 */
#include "tlspol/tlsa.h"

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

int tlsa_cert_spki(const uint8_t *der, size_t n, const uint8_t **spki, size_t *len)
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
	/* [0] version (optional), serial, signature, issuer, validity, subject, SPKI. */
	const uint8_t *start = p;
	if (der_next(&p, end, &tag, &b, &bl) < 0)
		return -1;
	if (tag != 0xa0)
		p = start; /* no version: this was the serial */
	for (int i = 0; i < 5; i++)
		if (der_next(&p, end, &tag, &b, &bl) < 0)
			return -1;
	start = p;
	if (der_next(&p, end, &tag, &b, &bl) < 0 || tag != 0x30)
		return -1;
	*spki = start;
	*len = (size_t)(p - start);
	return 0;
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
