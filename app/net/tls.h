/*
 * tls.h — TLS server contexts over BearSSL: certificates, keys, policy.
 *
 * Design. This module owns what a TLS server needs except the I/O: the
 * certificate chain and private key (a struct tls_conf), the server policy,
 * and a per-connection struct tls_server wrapping a BearSSL server engine.
 * The connection pump (net/conn.c) moves bytes between the socket and the
 * engine returned by tls_server_engine(); nothing here reads or writes a
 * file descriptor after start-up.
 *
 * A struct tls_conf is immutable once built and reference counted with an
 * atomic counter, so any thread may hold and drop references. One conf is
 * "current" (tls_current()); tls_reload() (SIGHUP) builds a new one and
 * swaps it in under a mutex. A connection keeps the reference it took at
 * tls_server_init() until tls_server_finish(), so a reload never pulls a key
 * from under a handshake in progress.
 *
 * Where the pair comes from (tls_init()): TERN_TLS_CERT and TERN_TLS_KEY
 * when both are set (PEM: every CERTIFICATE block in order, leaf first; the
 * key as "RSA PRIVATE KEY", "EC PRIVATE KEY" or unencrypted PKCS#8
 * "PRIVATE KEY"; a bare DER file is accepted too). Otherwise a self-signed
 * EC P-256 pair in <data_dir>/tls/self-signed.{crt,key}, generated on first
 * start and regenerated when the host name changed or it expires within 30
 * days. The key must match the leaf certificate's public key.
 *
 * Server policy: TLS 1.2 only (BearSSL has no 1.3), ECDHE with AEAD only —
 * AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 with the signature type of
 * the key (ECDSA or RSA) — in server preference order, no renegotiation,
 * ECDHE parameters signed with SHA-256/384/512 or SHA-224, never SHA-1
 * (RFC 9155: a client that offers nothing better is refused).
 * AES-GCM comes first when the CPU has AES-NI and PCLMUL (BearSSL then uses
 * its aes_x86ni and ghash_pclmul code); otherwise ChaCha20 comes first,
 * since BearSSL's constant-time software AES is several times slower than
 * its ChaCha20. Sessions are resumable through one shared LRU cache of
 * session IDs (locked, TLS_SESSION_CACHE_ENTRIES x 100 bytes), for an
 * hour after the full handshake (as Postfix), flushed whenever a new conf
 * is installed. No session tickets (BearSSL has none).
 *
 * Entropy: every engine is seeded with 32 bytes from getrandom(2) before
 * its reset, so the binary works in a chroot without /dev.
 *
 * Caveats: a struct tls_server must never move once tls_server_init() has
 * run (BearSSL keeps pointers into it) and is large (about 37 KB, mostly
 * the record buffer): embed it in the connection object, never on a small
 * stack. Strings from the peer (tls_server_name()) are untrusted: quote
 * them with log_q() before logging. All functions that take an err buffer
 * write one line without a trailing newline, naming the file at fault.
 */
#ifndef TERN_NET_TLS_H
#define TERN_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

struct config;

/* Entries in the shared session cache (100 bytes each). */
#define TLS_SESSION_CACHE_ENTRIES 256
/* Most certificates accepted in one chain (leaf included). */
#define TLS_MAX_CHAIN 8

/* Certificate chain + private key; opaque, immutable, refcounted. */
struct tls_conf;

/* Per-connection server state. Fields are private to tls.c and tls_sni.c. */
struct tls_server {
	br_ssl_server_context sc;
	const br_ssl_server_policy_class *policy_vt; /* picks the conf by SNI/ALPN */
	struct tls_conf *conf; /* our own reference (switched by SNI) */
	unsigned char handshake_done;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/*
 * Global state.
 */

/*
 * Loads the current conf from cfg (see the design paragraph for where it
 * comes from), generating the self-signed pair when needed, and starts the
 * session cache. Remembers cfg's data_dir, hostname, tls_cert and tls_key
 * for tls_reload(); cfg itself is not kept. Calling it again replaces the
 * current conf (tests do).
 * Returns 0, or -1 with one line in err naming the file and the problem
 * (missing, unreadable, not PEM, no certificate, bad key, key does not match
 * the certificate, cannot write the generated pair).
 */
int tls_init(const struct config *cfg, char *err, size_t errsz);

/*
 * Re-reads the pair from the same source as tls_init() (SIGHUP) and installs
 * it. On failure the old conf stays current and -1 is returned with err set;
 * so too when the new certificate is expired or not yet valid while the
 * current one is within its dates; 0 on success. Without TERN_TLS_CERT, a conf a module installed
 * (tls_install(), ACME) stays current and nothing is read: the self-signed
 * pair is only the fallback (1 is returned). Thread-safe. Connections
 * already running keep the conf they started with until they close.
 */
int tls_reload(char *err, size_t errsz);

/*
 * 1 when TERN_TLS_CERT or TERN_TLS_KEY changed on disk (size, mtime or
 * inode) since the last load or check; 2 when they did not, but the pair
 * the last tls_reload() refused as not yet valid is valid now; else 0
 * (also without those variables). The server then calls tls_reload().
 * Main thread only.
 */
int tls_files_changed(void);

/*
 * Returns a new reference to the current conf, or NULL before tls_init()
 * succeeded. The caller drops it with tls_conf_unref(). Thread-safe.
 */
struct tls_conf *tls_current(void);

/*
 * Makes conf current (takes its own reference; the caller keeps its own),
 * drops the reference to the previous one and flushes the session cache.
 * For modules that obtain certificates themselves (ACME). Thread-safe.
 */
void tls_install(struct tls_conf *conf);

/*
 * SNI and TLS-ALPN-01 (tls_sni.c). A handshake whose SNI name was put here
 * gets that conf instead of the current one (when of the same key type);
 * one that negotiates ALPN "acme-tls/1" (RFC 8737) gets the challenge conf
 * put for its name, and fails when there is none. Names compare without
 * case. put takes its own reference (conf NULL removes the name); returns
 * 0, or -1 when the table (32 names, 16 challenges) is full. Thread-safe.
 */
#define TLS_ALPN_ACME "acme-tls/1"
int tls_sni_put(const char *name, struct tls_conf *conf);
int tls_alpn_challenge_put(const char *name, struct tls_conf *conf);
/* Removes every name from both tables (tests, end of process). */
void tls_sni_clear(void);
/*
 * Removes every SNI name, not the challenges: before a new certificate's
 * names are put, so a name it no longer carries gets the current conf
 * rather than the previous certificate. Thread-safe.
 */
void tls_sni_names_clear(void);

/*
 * Drops the current conf and frees the session cache (end of process, and
 * tests under LeakSanitizer). Connections must be finished first.
 */
void tls_shutdown(void);

/*
 * Certificate + key bundles.
 */

/*
 * Builds a conf from two PEM (or DER) files; cert_path and key_path may be
 * the same file. Checks every certificate parses and that the key matches
 * the leaf's public key (EC: the public point; RSA: the modulus).
 * Returns a conf with one reference owned by the caller, or NULL with err
 * set. Reads the files only during the call.
 */
struct tls_conf *tls_conf_load(const char *cert_path, const char *key_path, char *err,
                               size_t errsz);

/*
 * Same from memory: cert/cert_len hold the chain, key/key_len the key, in
 * PEM or DER. cert_name and key_name label the sources in error messages.
 * The buffers are not kept. Returns a new conf or NULL with err set.
 */
struct tls_conf *tls_conf_from_pem(const void *cert, size_t cert_len, const char *cert_name,
                                   const void *key, size_t key_len, const char *key_name, char *err,
                                   size_t errsz);

/* Takes another reference to conf (not NULL) and returns conf. Thread-safe. */
struct tls_conf *tls_conf_ref(struct tls_conf *conf);

/*
 * Drops the reference in *conf and sets *conf to NULL; frees the bundle
 * (wiping the key) when it was the last. Accepts NULL and *conf == NULL.
 */
void tls_conf_unref(struct tls_conf **conf);

/* Leaf subject CN, printable ASCII ('?' for other bytes); "" when none. Lives as long as conf. */
const char *tls_conf_subject(const struct tls_conf *conf);
/* Leaf issuer CN, printable ASCII; "" when none. Lives as long as conf. */
const char *tls_conf_issuer(const struct tls_conf *conf);
/* Issuer CN of the chain's topmost (last) certificate, printable ASCII:
 * the root the chain leads to, as certbot's and lego's --preferred-chain
 * read it (the leaf's issuer for a chain of one); "" when none. Lives as
 * long as conf. */
const char *tls_conf_top_issuer(const struct tls_conf *conf);
/* Leaf subjectAltName DNS names, comma-separated ("" when none). Lives as long as conf. */
const char *tls_conf_names(const struct tls_conf *conf);
/* 1 when the leaf's issuer is its subject (a self-signed certificate), else 0. */
int tls_conf_self_signed(const struct tls_conf *conf);
/* "ec-p256", "ec-p384", "ec-p521" or "rsa-<bits>". Lives as long as conf. */
const char *tls_conf_key_desc(const struct tls_conf *conf);
/* BR_KEYTYPE_EC or BR_KEYTYPE_RSA. */
int tls_conf_key_type(const struct tls_conf *conf);
/* Certificates in the chain (>= 1). */
size_t tls_conf_chain_len(const struct tls_conf *conf);
/* Leaf validity as Unix times (UTC). */
int64_t tls_conf_not_before(const struct tls_conf *conf);
int64_t tls_conf_not_after(const struct tls_conf *conf);
/* Where it came from: the certificate file, or the cert_name given. Lives as long as conf. */
const char *tls_conf_source(const struct tls_conf *conf);

/*
 * Per-connection server.
 */

/*
 * Prepares ts (caller-owned memory, any content) for a fresh server
 * handshake with conf: takes its own reference to conf, applies the policy,
 * seeds the engine from getrandom(2) and resets it. From here until
 * tls_server_finish() ts must not move.
 * Returns 0, or -1 when no entropy could be obtained or BearSSL refused the
 * configuration (ts is then finished already: no tls_server_finish needed,
 * calling it anyway is harmless).
 */
int tls_server_init(struct tls_server *ts, struct tls_conf *conf);

/*
 * The engine the pump drives (br_ssl_engine_current_state(), the
 * sendrec/recvrec/sendapp/recvapp buffer calls, br_ssl_engine_close()).
 * Points into ts.
 */
static inline br_ssl_engine_context *tls_server_engine(struct tls_server *ts)
{
	return &ts->sc.eng;
}

/*
 * Drops the conf reference and wipes the key material in the engine. ts may
 * then be freed or passed to tls_server_init() again. Idempotent.
 */
void tls_server_finish(struct tls_server *ts);

/*
 * 1 once the handshake has completed (the engine accepted or offered
 * application data at least once), else 0. The pump calls it after each
 * engine step; it latches, so renegotiation attempts (refused) or a full
 * output buffer do not make it go back to 0.
 */
int tls_server_handshake_done(struct tls_server *ts);

/* "TLSv1.2" (or "TLSv1.1"/"TLSv1" should policy ever allow them); NULL before ServerHello. */
const char *tls_server_version(const struct tls_server *ts);
/* OpenSSL-style suite name ("ECDHE-ECDSA-AES128-GCM-SHA256"); NULL before the suite is chosen. */
const char *tls_server_cipher(const struct tls_server *ts);
/* Symmetric key bits of the suite (128 or 256), 0 before it is chosen. */
int tls_server_cipher_bits(const struct tls_server *ts);
/* SNI host name the client sent (untrusted, at most 255 bytes), or NULL. Points into ts. */
const char *tls_server_name(const struct tls_server *ts);

/*
 * Describes a BearSSL error code (br_ssl_engine_last_error()) for a log
 * value without spaces: "ok", "bad_mac", "unsupported_version", ...,
 * "peer_alert_<name>" and "sent_alert_<name>" for alerts. Writes into buf
 * (bufsz >= 48 is enough) and returns buf.
 */
const char *tls_error_text(int err, char *buf, size_t bufsz);

#endif
