/*
 * acme_jws.h — the cryptographic encodings ACME (RFC 8555) needs: the EC
 * P-256 account key, its JWK and thumbprint (RFC 7638), JWS requests
 * signed ES256 (RFC 7515/7518, flattened JSON serialization), the
 * External Account Binding (RFC 8555 §7.3.4, HS256), base64url (RFC 4648
 * §5, no padding), and the certificate request (acme_csr.c).
 *
 * Design. Pure functions over caller buffers; no I/O, no clock. Keys are
 * BearSSL structs pointing into the struct acme_key itself, so a key can
 * be kept anywhere but must not be copied by assignment (use
 * acme_key_from_raw on the raw scalar instead).
 *
 * Caveats: outputs go to struct bufs with a maximum; a full buffer makes
 * the function fail (-1) and leaves partial output behind.
 */
#ifndef TERN_ACME_ACME_JWS_H
#define TERN_ACME_ACME_JWS_H

#include <stddef.h>

#include <bearssl.h>

#include "core/buf.h"

/* An EC P-256 key pair. */
struct acme_key {
	br_ec_private_key sk; /* x points into kbuf */
	br_ec_public_key pk;  /* q points into qbuf */
	unsigned char kbuf[32];
	unsigned char qbuf[65];
};

/* A fresh key from getrandom(2). 0, or -1 (no entropy). */
int acme_key_generate(struct acme_key *k);
/* The key whose private scalar is x (32 bytes, big-endian). 0, or -1 (not a valid scalar). */
int acme_key_from_raw(struct acme_key *k, const unsigned char *x, size_t len);
/* Wipes the key. */
void acme_key_wipe(struct acme_key *k);

/* The public JWK in RFC 7638's canonical form: {"crv":"P-256","kty":"EC","x":"..","y":".."}. */
int acme_jwk(const struct acme_key *k, struct buf *out);
/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), 43 characters + NUL. 0 or -1. */
int acme_thumbprint(const struct acme_key *k, char out[48]);

/*
 * One JWS request body (RFC 8555 §6.2): protected header {"alg":"ES256",
 * then "kid":kid when kid is not NULL, else "jwk":the key, "nonce",
 * "url"}, the payload (JSON text; "" for POST-as-GET, which sends an
 * empty payload), ES256 signature (r||s). Appends the flattened JSON
 * object to out. 0, or -1 (out full, signing failed).
 */
int acme_jws(const struct acme_key *k, const char *kid, const char *nonce, const char *url,
             const char *payload, struct buf *out);

/*
 * The externalAccountBinding value (RFC 8555 §7.3.4): a JWS with
 * protected {"alg":"HS256","kid":eab_kid,"url":url}, payload the account
 * key's JWK, MAC'd with HMAC-SHA256 under mac_key. Appends the object to
 * out. 0 or -1.
 */
int acme_eab(const struct acme_key *account, const char *eab_kid, const unsigned char *mac_key,
             size_t mac_len, const char *url, struct buf *out);

/*
 * A PKCS#10 certificate request (RFC 2986) for names (n >= 1 DNS names,
 * the first also the subject CN) with key k, signed ECDSA-SHA256, the
 * names in a subjectAltName extension request. DER into out (outsz bytes;
 * 4096 holds 20 long names). 0 with *len_r, or -1 (too big, signing).
 */
int acme_csr(const struct acme_key *k, const char *const *names, size_t n, unsigned char *out,
             size_t outsz, size_t *len_r);

#endif
