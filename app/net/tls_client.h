/*
 * tls_client.h — the one place that decides what tern's TLS clients
 * offer and accept (versions, cipher suites, key-exchange signature
 * hashes). net/client.c (SMTP delivery, and through acme/acme_http.c the
 * HTTPS clients: ACME, MTA-STS policies, spam feeds, TLS-RPT, Web Push)
 * and cli/cli_client.c call it after br_ssl_client_init_full().
 *
 * Two profiles, as Postfix separates smtp_tls_ciphers (opportunistic)
 * from smtp_tls_mandatory_ciphers (enforced levels):
 *
 * TLS_CLIENT_WIDE: opportunistic MX delivery (RFC 7435: any TLS beats
 *   plaintext), MTA-STS testing's verified attempt included (its failure
 *   falls back to plaintext). TLS 1.2, every suite BearSSL has but 3DES
 *   (112-bit, Sweet32; RFC 9325 §4.1) and CCM_8 (64-bit tags), so CBC
 *   and static RSA/ECDH still talk to old MTAs; a SHA-1-signed key
 *   exchange is accepted. Postfix's
 *   defaults leave out only what BearSSL lacks anyway (export, aNULL,
 *   RC4, single DES, SSLv2/3).
 * TLS_CLIENT_STRICT: anything authenticated or enforced — a relay host
 *   that gets a password, MTA-STS (RFC 8461 §4.2), DANE (RFC 7672),
 *   REQUIRETLS, every HTTPS client and the CLI. What the server side
 *   (tls.c) offers: TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305,
 *   no SHA-1 in signature_algorithms; a server signing its ECDHE
 *   parameters with SHA-1 fails with BR_ERR_INVALID_ALGORITHM (RFC 9155,
 *   RFC 9325 §4.2-4.3).
 *
 * The server's identity (tls_client_reset): a host name goes as SNI and
 * BearSSL's X.509 engine checks it against the certificate's dNSNames. An
 * IP address may not go as SNI (RFC 6066 §3), and BearSSL would then
 * check no name at all: struct tls_client_id wraps the chain's validator
 * and wants the address in an iPAddress subjectAltName (RFC 5280
 * §4.2.1.6; RFC 9525 §6.2's IP-ID), as Python's ssl, curl and Go do. Every
 * TLS client goes through it: net/client.c (and so SMTP delivery, a relay
 * host given as [addr]:port, ACME, MTA-STS, HTTP push) and cli_client.c
 * (`tern migrate`).
 *
 * Caveat: certificate chains are checked by the X.509 engine with its own
 * hashes; this file does not change what a chain may be signed with.
 */
#ifndef TERN_NET_TLS_CLIENT_H
#define TERN_NET_TLS_CLIENT_H

#include <bearssl.h>
#include <stdint.h>

#include "core/buf.h"

enum tls_client_profile { TLS_CLIENT_WIDE, TLS_CLIENT_STRICT };

/* Sets eng's versions, suites and handshake hashes for profile p. */
void tls_client_profile(br_ssl_engine_context *eng, enum tls_client_profile p);

/* The X.509 wrapper that checks an address's iPAddress (zeroed before use;
 * its fields are tls_client.c's). */
struct tls_client_id {
	const br_x509_class *vtable;
	const br_x509_class **inner; /* the chain's validator */
	unsigned char addr[16];
	size_t addr_len; /* 4 or 16 */
	unsigned depth;
	uint32_t ee_len; /* the end-entity certificate's length, as announced */
	struct buf ee;   /* its octets as they come, while the chain comes */
};

/* 1 with the address in addr (4 or 16 octets, *len set) when name is an
 * IP address ("192.0.2.1", "2001:db8::1", "[2001:db8::1]"), else 0. */
int tls_client_addr(const char *name, unsigned char addr[16], size_t *len);

/*
 * br_ssl_client_reset() for a handshake with server_name (NULL: no name
 * at all), after the X.509 engine is set. A name goes as SNI and cc's
 * engine checks it. An address goes without SNI; with check_addr (the
 * engine verifies) id is put in front of cc's engine, and a certificate
 * without the address in an iPAddress SAN fails with
 * BR_ERR_X509_BAD_SERVER_NAME. id stays in use for the handshake; free
 * it with tls_client_id_free(). 1, or 0 as br_ssl_client_reset().
 */
int tls_client_reset(br_ssl_client_context *cc, struct tls_client_id *id,
                     const char *server_name, int check_addr);
/* Frees what id holds (a certificate of a handshake cut short). */
void tls_client_id_free(struct tls_client_id *id);

#endif
