/*
 * acme_csr.c — the PKCS#10 request ACME's finalize takes (RFC 8555 §7.4,
 * RFC 2986), with net/der_w.h's writer:
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo SEQUENCE {
 *       version INTEGER 0, subject Name (CN = the first name when it
 *       fits a CN's 64 octets, else empty),
 *       subjectPKInfo (id-ecPublicKey, P-256, the point),
 *       attributes [0] { extensionRequest { subjectAltName: dNSName... } } },
 *     signatureAlgorithm ecdsa-with-SHA256, signature BIT STRING }
 */
#include "acme/acme_jws.h"

#include <stdlib.h>
#include <string.h>

#include "acme/acme_private.h"
#include "core/xalloc.h"
#include "net/der_w.h"

static const unsigned char OID_ECDSA_SHA256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const unsigned char OID_EC_PUBKEY[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const unsigned char OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const unsigned char OID_CN[] = {0x55, 0x04, 0x03};
#define CN_MAX 64
static const unsigned char OID_SAN[] = {0x55, 0x1D, 0x11};
/* 1.2.840.113549.1.9.14 */
static const unsigned char OID_EXT_REQ[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x0E};

static void alg(struct der_w *w)
{
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_ECDSA_SHA256, sizeof OID_ECDSA_SHA256);
	dw_end(w);
}

static void cri(struct der_w *w, const struct acme_key *k, const char *const *names, size_t n)
{
	dw_begin(w, 0x30);
	dw_prim(w, 0x02, "\x00", 1);
	dw_begin(w, 0x30); /* subject */
	/* RFC 5280's ub-common-name: a CN holds 64 octets. A longer first
	 * name lives in the subjectAltName alone (RFC 8555 §7.4 accepts
	 * either place), else the CA refuses the CSR (Let's Encrypt: "CN was
	 * longer than 64 bytes") and a host name that long never got one. */
	if (strlen(names[0]) <= CN_MAX) {
		dw_begin(w, 0x31);
		dw_begin(w, 0x30);
		dw_prim(w, 0x06, OID_CN, sizeof OID_CN);
		dw_prim(w, 0x0C, names[0], strlen(names[0]));
		dw_end(w);
		dw_end(w);
	}
	dw_end(w);
	dw_begin(w, 0x30); /* SubjectPublicKeyInfo */
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_EC_PUBKEY, sizeof OID_EC_PUBKEY);
	dw_prim(w, 0x06, OID_P256, sizeof OID_P256);
	dw_end(w);
	dw_begin(w, 0x03);
	dw_byte(w, 0);
	dw_bytes(w, k->pk.q, k->pk.qlen);
	dw_end(w);
	dw_end(w);
	dw_begin(w, 0xA0); /* attributes */
	dw_begin(w, 0x30);
	dw_prim(w, 0x06, OID_EXT_REQ, sizeof OID_EXT_REQ);
	dw_begin(w, 0x31);
	dw_begin(w, 0x30); /* Extensions */
	dw_begin(w, 0x30); /* Extension */
	dw_prim(w, 0x06, OID_SAN, sizeof OID_SAN);
	dw_begin(w, 0x04);
	dw_begin(w, 0x30);
	for (size_t i = 0; i < n; i++)
		dw_prim(w, 0x82, names[i], strlen(names[i]));
	dw_end(w);
	dw_end(w);
	dw_end(w);
	dw_end(w);
	dw_end(w);
	dw_end(w);
	dw_end(w);
	dw_end(w);
}

int acme_csr(const struct acme_key *k, const char *const *names, size_t n, unsigned char *out,
             size_t outsz, size_t *len_r)
{
	unsigned char h[32], sig[80];
	/* On the heap: 100 names make 25 KiB, a loop thread's stack is musl's. */
	unsigned char *info = xmalloc(ACME_CSR_MAX);
	struct der_w wi = {.buf = info, .cap = ACME_CSR_MAX};
	struct der_w w = {.buf = out, .cap = outsz};
	br_sha256_context sc;

	if (n == 0) {
		free(info);
		return -1;
	}
	cri(&wi, k, names, n);
	if (wi.bad || wi.depth != 0) {
		free(info);
		return -1;
	}
	br_sha256_init(&sc);
	br_sha256_update(&sc, info, wi.len);
	br_sha256_out(&sc, h);
	size_t siglen =
	    br_ecdsa_sign_asn1_get_default()(br_ec_get_default(), &br_sha256_vtable, h, &k->sk, sig);
	if (siglen == 0) {
		free(info);
		return -1;
	}
	dw_begin(&w, 0x30);
	dw_bytes(&w, info, wi.len);
	alg(&w);
	dw_begin(&w, 0x03);
	dw_byte(&w, 0);
	dw_bytes(&w, sig, siglen);
	dw_end(&w);
	dw_end(&w);
	free(info);
	if (w.bad || w.depth != 0)
		return -1;
	*len_r = w.len;
	return 0;
}
