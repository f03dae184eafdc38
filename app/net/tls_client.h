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
 * Caveat: certificate chains are checked by the X.509 engine with its own
 * hashes; this file does not change what a chain may be signed with.
 */
#ifndef TERN_NET_TLS_CLIENT_H
#define TERN_NET_TLS_CLIENT_H

#include <bearssl.h>

enum tls_client_profile { TLS_CLIENT_WIDE, TLS_CLIENT_STRICT };

/* Sets eng's versions, suites and handshake hashes for profile p. */
void tls_client_profile(br_ssl_engine_context *eng, enum tls_client_profile p);

#endif
