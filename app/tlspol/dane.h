/*
 * dane.h — DANE (RFC 7672) server authentication as a BearSSL X.509
 * engine: the certificate chain an SMTP server sends is accepted when a
 * usable TLSA record of that server matches it.
 *
 * Design. The engine keeps the chain's certificates (bounded) and decides
 * in end_chain, with no I/O:
 *   - DANE-EE (usage 3): the leaf matches the record (selector, matching
 *     type). Names and dates are not checked (RFC 7672 §3.1.1).
 *   - DANE-TA (usage 2): a certificate the server sent above the leaf
 *     matches; it becomes the one trust anchor of BearSSL's minimal
 *     validator, which checks the path from the leaf to it, the dates,
 *     and the leaf's name against the MX host name (§3.1.2, §3.2.2).
 *     A record holding the anchor itself ("2 0 0" its certificate,
 *     "2 1 0" its public key) also serves when the server leaves the
 *     anchor out of its chain (RFC 7671 §5.2.2 allows it; RFC 7672
 *     §3.1.2 asks SMTP servers to send it, OpenSSL's DANE as Postfix
 *     uses it accepts the chain without): the anchor is made from the
 *     record, a bare key under the issuer name of the certificate it
 *     is found to have signed.
 * The server key handed to the TLS engine is the leaf's.
 *
 * Caveats: a "2 1 0" key is RSA or EC on P-256/384/521 (what BearSSL
 * verifies). At most DANE_CHAIN_MAX certificates and DANE_CHAIN_BYTES
 * bytes are kept; a longer chain is refused. The records must stay valid
 * until the handshake ends.
 */
#ifndef TERN_TLSPOL_DANE_H
#define TERN_TLSPOL_DANE_H

#include <stddef.h>

#include <bearssl.h>

#include "tlspol/tlsa.h"

#define DANE_CHAIN_MAX 8
#define DANE_CHAIN_BYTES (32 * 1024)
#define DANE_DN_MAX 1024
/* The chain matched no TLSA record (in BearSSL's X.509 error range, unused there). */
#define DANE_ERR_NO_MATCH (BR_ERR_X509_OK + 31)

struct dane_x509 {
	const br_x509_class *vtable; /* first: BearSSL's engine pointer */
	const struct tlsa_rec *recs;
	size_t nrecs;
	char name[256];
	char also_name[256]; /* another name the leaf may carry ("" none) */
	/* The chain as received. */
	unsigned char chain[DANE_CHAIN_BYTES];
	size_t off[DANE_CHAIN_MAX + 1], ncerts, used;
	int overflow;
	/* The outcome. */
	int matched; /* 0 none, 3 DANE-EE, 2 DANE-TA */
	br_x509_decoder_context leaf;
	br_x509_decoder_context ta_dec;
	unsigned char ta_dn[DANE_DN_MAX];
	size_t ta_dn_len;
	br_x509_minimal_context xm;
};

/*
 * Sets x up to check a chain against recs[0..n) (records tlsa_usable()
 * refuses are skipped) for the host name (the MX host). Install it with
 * br_ssl_engine_set_x509(eng, &x->vtable). x must not move while in use.
 */
void dane_x509_init(struct dane_x509 *x, const struct tlsa_rec *recs, size_t n, const char *name);
/* A second name a DANE-TA chain's leaf may carry instead (RFC 7672
 * §3.2.2: the MX host when name is its CNAME target); NULL: none. */
void dane_x509_also_name(struct dane_x509 *x, const char *name);

/* Which usage matched after the handshake: 3, 2, or 0. */
int dane_x509_matched(const struct dane_x509 *x);

#endif
