/*
 * tlsa.h — DANE TLSA records (RFC 6698, as RFC 7672 uses them for SMTP):
 * the record's RDATA, and whether a certificate matches one.
 *
 * Design. Pure functions, no I/O: the outbound queue (to come) looks the
 * records up through dns/ (only when the resolver's answer carries the AD
 * bit) and hands the server's chain here. Selector 1 needs the
 * certificate's SubjectPublicKeyInfo, found by a small bounded DER walk
 * (tlsa_cert_spki), fuzzed with the RDATA parser.
 *
 * Caveats: usages 2 (DANE-TA) and 3 (DANE-EE) are the ones RFC 7672 §3.1
 * lets SMTP use; 0 and 1 parse but tlsa_usable() says no.
 */
#ifndef TERN_TLSPOL_TLSA_H
#define TERN_TLSPOL_TLSA_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#define TLSA_DATA_MAX 1024 /* a full certificate (matching 0) longer is refused */

struct tlsa_rec {
	uint8_t usage, selector, mtype;
	size_t len;
	uint8_t data[TLSA_DATA_MAX];
};

/* RDATA (RFC 6698 §2.1) into *r: 0, or -1 when short, too long, or a hash of the wrong size. */
int tlsa_rdata_parse(const uint8_t *p, size_t n, struct tlsa_rec *r);

/* 1 when SMTP may use the record (RFC 7672 §3.1: usage 2 or 3, selector 0/1, matching 0/1/2). */
int tlsa_usable(const struct tlsa_rec *r);

/*
 * Digest algorithm agility (RFC 7671 §9): of usable records r[0..n) of
 * one RRset, keeps for each usage and selector only those of the
 * strongest matching type present there (SHA2-512 over SHA2-256 over
 * Full), in their order; returns how many are kept. A weak digest
 * published beside a strong one during a migration then proves nothing.
 */
size_t tlsa_strongest(struct tlsa_rec *r, size_t n);

/* The SubjectPublicKeyInfo of a DER certificate: 0 with *spki and *len inside der, or -1. */
int tlsa_cert_spki(const uint8_t *der, size_t n, const uint8_t **spki, size_t *len);

/* The issuer Name of a DER certificate, its whole DER element: 0 with
 * *dn and *len inside der, or -1. */
int tlsa_cert_issuer(const uint8_t *der, size_t n, const uint8_t **dn, size_t *len);

/*
 * A DER SubjectPublicKeyInfo (a "2 1 0" record's data) as a BearSSL key:
 * RSA, or EC on P-256, P-384 or P-521. 0 with *pk pointing into spki
 * (valid while spki is), or -1 for another algorithm or a malformed one.
 */
int tlsa_spki_key(const uint8_t *spki, size_t n, br_x509_pkey *pk);

/* 1 when the DER certificate matches r's selector and matching type, else 0. */
int tlsa_match(const struct tlsa_rec *r, const uint8_t *der, size_t n);

#endif
