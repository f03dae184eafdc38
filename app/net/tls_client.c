/*
 * tls_client.c — the TLS client profiles and the server's identity. See
 * tls_client.h.
 *
 * It runs after br_ssl_client_init_full(), which enables everything
 * BearSSL implements (TLS 1.0-1.2, 3DES, MD5 and SHA-1 hashes), and
 * narrows that down; the algorithm implementations init_full chose stay.
 * For an address, an X.509 class of its own sits in front of the chain's
 * validator: the chain is the validator's to check, with no name, and the
 * end-entity certificate, kept as it comes, must hold the address.
 */
#include "net/tls_client.h"

#include <arpa/inet.h>
#include <string.h>

#include "net/tls_private.h"

/* The end-entity certificate is kept whole for its subjectAltName, in a
 * buf that grows with the octets that came (never sized from the length
 * the peer announced): one larger than this (real ones are a few KiB)
 * fails the check. */
#define EE_MAX (64 * 1024)

/*
 * Best first. The first N_STRICT are the strict profile's, as the server
 * side's (tls.c): ECDHE + AEAD only, forward secrecy and no CBC padding
 * oracles. The rest is what old MTAs still speak.
 */
enum { N_STRICT = 6 };
static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CCM,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    BR_TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384,
    BR_TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDH_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA,
    BR_TLS_ECDH_RSA_WITH_AES_256_CBC_SHA,
    BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_RSA_WITH_AES_128_CCM,
    BR_TLS_RSA_WITH_AES_256_CCM,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
    BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
    BR_TLS_RSA_WITH_AES_128_CBC_SHA,
    BR_TLS_RSA_WITH_AES_256_CBC_SHA,
};

void tls_client_profile(br_ssl_engine_context *eng, enum tls_client_profile p)
{
	int strict = p == TLS_CLIENT_STRICT;

	/* TLS 1.0/1.1 are gone (RFC 8996), for opportunistic TLS too. */
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, strict ? N_STRICT : sizeof suites / sizeof *suites);
	/* MD5 served only TLS 1.0/1.1. Without SHA-1 the ClientHello does not
	 * offer it in signature_algorithms, and a ServerKeyExchange signed
	 * with it does not verify (the engine has no such hash to compute). */
	br_ssl_engine_set_hash(eng, br_md5_ID, NULL);
	if (strict)
		br_ssl_engine_set_hash(eng, br_sha1_ID, NULL);
}

/* ---- The server's identity: an address in an iPAddress SAN ---- */

int tls_client_addr(const char *name, unsigned char addr[16], size_t *len)
{
	char lit[64];
	size_t n = name ? strlen(name) : 0;
	if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
		name++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof lit)
		return 0;
	memcpy(lit, name, n);
	lit[n] = '\0';
	if (inet_pton(AF_INET, lit, addr) == 1) {
		*len = 4;
		return 1;
	}
	if (inet_pton(AF_INET6, lit, addr) == 1) {
		*len = 16;
		return 1;
	}
	return 0;
}

static struct tls_client_id *id_of(const br_x509_class **ctx)
{
	return (struct tls_client_id *)(void *)ctx;
}

static void id_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_client_id *id = id_of(ctx);
	(void)server_name; /* "": no SNI went; the address is ours to check */
	id->depth = 0;
	tls_client_id_free(id);
	(*id->inner)->start_chain(id->inner, NULL);
}

static void id_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_client_id *id = id_of(ctx);
	if (id->depth == 0) {
		buf_init(&id->ee, EE_MAX);
		id->ee_len = length;
	}
	(*id->inner)->start_cert(id->inner, length);
}

static void id_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_client_id *id = id_of(ctx);
	if (id->depth == 0)
		(void)buf_append(&id->ee, buf, len); /* past EE_MAX: short, and refused */
	(*id->inner)->append(id->inner, buf, len);
}

static void id_end_cert(const br_x509_class **ctx)
{
	struct tls_client_id *id = id_of(ctx);
	id->depth++;
	(*id->inner)->end_cert(id->inner);
}

/* Whether the GeneralNames hold an iPAddress (tag [7], RFC 5280 §4.2.1.6:
 * 4 octets for IPv4, 16 for IPv6) equal to the address. */
static int san_has_addr(const struct tls_client_id *id)
{
	const unsigned char *names, *v;
	size_t nlen, vlen;
	unsigned tag;
	if (id->ee_len == 0 || buf_len(&id->ee) != id->ee_len ||
	    tls_cert_san((const unsigned char *)buf_data(&id->ee), id->ee_len, &names, &nlen) < 0)
		return 0;
	while (nlen > 0 && tls_der_next(&names, &nlen, &tag, &v, &vlen) == 0)
		if (tag == 0x87 && vlen == id->addr_len && memcmp(v, id->addr, vlen) == 0)
			return 1;
	return 0;
}

static unsigned id_end_chain(const br_x509_class **ctx)
{
	struct tls_client_id *id = id_of(ctx);
	unsigned err = (*id->inner)->end_chain(id->inner);
	if (err == 0 && !san_has_addr(id))
		err = BR_ERR_X509_BAD_SERVER_NAME;
	tls_client_id_free(id);
	return err;
}

static const br_x509_pkey *id_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_client_id *id = (const struct tls_client_id *)(const void *)ctx;
	return (*id->inner)->get_pkey(id->inner, usages);
}

static const br_x509_class id_class = {
    sizeof(struct tls_client_id), id_start_chain, id_start_cert, id_append,
    id_end_cert,                  id_end_chain,   id_get_pkey,
};

int tls_client_reset(br_ssl_client_context *cc, struct tls_client_id *id,
                     const char *server_name, int check_addr)
{
	if (!tls_client_addr(server_name, id->addr, &id->addr_len))
		return br_ssl_client_reset(cc, server_name, 0);
	if (check_addr && cc->eng.x509ctx != &id->vtable) { /* not wrapped twice */
		id->vtable = &id_class;
		id->inner = cc->eng.x509ctx;
		br_ssl_engine_set_x509(&cc->eng, &id->vtable);
	}
	return br_ssl_client_reset(cc, NULL, 0);
}

void tls_client_id_free(struct tls_client_id *id)
{
	buf_free(&id->ee);
	id->ee_len = 0;
}
