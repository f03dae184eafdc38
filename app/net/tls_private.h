/*
 * tls_private.h — what tls.c, tls_pem.c and tls_selfsigned.c share.
 *
 * struct tls_conf is defined here so the three files (and the unit test)
 * can see inside; everyone else uses the accessors in tls.h.
 */
#ifndef TERN_NET_TLS_PRIVATE_H
#define TERN_NET_TLS_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "net/pem.h"
#include "net/tls.h"

struct tls_conf {
	atomic_uint refs;
	int key_type;             /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA */
	unsigned issuer_key_type; /* signer of the leaf: BR_KEYTYPE_* */
	size_t chain_len;
	br_x509_certificate *chain; /* chain_len entries; data in cert_data */
	unsigned char *cert_data;   /* all certificates, back to back */
	union {
		br_rsa_private_key rsa;
		br_ec_private_key ec;
	} key;                   /* element pointers into key_data */
	unsigned char *key_data; /* wiped before free */
	size_t key_data_len;
	int64_t not_before, not_after;
	char subject[256];
	char issuer[256];  /* issuer CN */
	char top_issuer[256]; /* issuer CN of the chain's last certificate */
	/* subjectAltName dNSNames, comma-separated: room for an ACME
	 * certificate's 100 (acme_private.h); a name past it is left out,
	 * and ACME would then order again for the names it misses. */
	char names[100 * 256];
	int self_signed;   /* issuer DN == subject DN */
	char key_desc[16];
	char source[512];
};

/*
 * Returns the self-signed conf for hostname from <data_dir>/tls, creating
 * or regenerating the pair when it is missing, names another host, or
 * expires within 30 days. Files: self-signed.key (0600) and
 * self-signed.crt (0644), each written to a temporary file, fsynced and
 * renamed. Returns a new conf or NULL with err set (naming the file).
 */
struct tls_conf *tls_selfsigned_load(const char *data_dir, const char *hostname, char *err,
                                     size_t errsz);

/*
 * Builds the DER certificate and the "EC PRIVATE KEY" DER for a fresh P-256
 * key, self-signed for hostname, valid from now-1h for 10 years. Writes at
 * most certsz / keysz bytes; returns 0 and the lengths, or -1 (no entropy,
 * buffer too small). Exposed for the unit test.
 */
int tls_selfsigned_make(const char *hostname, int64_t now, unsigned char *cert, size_t certsz,
                        size_t *cert_len_r, unsigned char *key, size_t keysz, size_t *key_len_r);

/*
 * tls_selfsigned_make() with, when acme_id is not NULL, the critical
 * acmeIdentifier extension holding those 32 bytes (RFC 8737 §3: the
 * SHA-256 of the key authorization): the TLS-ALPN-01 challenge certificate.
 */
int tls_selfsigned_make_acme(const char *hostname, int64_t now, const unsigned char *acme_id,
                             unsigned char *cert, size_t certsz, size_t *cert_len_r,
                             unsigned char *key, size_t keysz, size_t *key_len_r);

/* tls_sni.c: installs the SNI/ALPN policy on a server set up for ts->conf;
 * 1 when it gave the engine a protocol list (ALPN), else 0. */
int tls_sni_attach(struct tls_server *ts);
/* tls_sni.c: points sc at BearSSL's single-certificate policy for conf. */
void tls_sni_use(br_ssl_server_context *sc, const struct tls_conf *conf);

/*
 * One DER element (tag and definite length of at most 4 bytes) from
 * (*p, *len): its tag, its content (pointing into the input), and (*p, *len)
 * advanced past it. 0, or -1 when the input does not hold a whole element.
 */
int tls_der_next(const unsigned char **p, size_t *len, unsigned *tag_r,
                 const unsigned char **val_r, size_t *vlen_r);

/*
 * The subjectAltName of a DER certificate: its GeneralNames' content
 * (the names one after another, each a context-tagged element: dNSName
 * 0x82, iPAddress 0x87, ...) pointing into cert. 0, or -1 when the
 * certificate has no such extension or does not parse.
 */
int tls_cert_san(const unsigned char *cert, size_t len, const unsigned char **names_r,
                 size_t *nlen_r);

/*
 * An X.509 Time (RFC 5280 §4.1.2.5): the content of a UTCTime (tag 0x17,
 * YYMMDDHHMMSSZ, years 50-99 being 19xx) or GeneralizedTime (0x18,
 * YYYYMMDDHHMMSSZ) as seconds since the epoch in *t_r. 0, or -1 for any
 * other tag or form.
 */
int tls_der_time(unsigned tag, const unsigned char *p, size_t len, int64_t *t_r);

/* Days since 1970-01-01 for a proleptic Gregorian date (any year >= 0). */
int64_t tls_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
