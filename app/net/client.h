/*
 * client.h — an outgoing TCP connection on one loop, with optional TLS
 * as a client (BearSSL): the transport of the outbound SMTP client.
 *
 * Design. Mirrors net/conn.h for the other direction: a non-blocking
 * connect, a bounded plaintext input buffer and output buffer, and a pump
 * that moves bytes socket <-> BearSSL client engine <-> buffers, so the
 * protocol code never sees TLS. TLS starts when asked (implicit TLS right
 * after connect, or after a STARTTLS 220).
 *
 * client_start_tls() verifies nothing: mail between MTAs on the internet
 * uses opportunistic TLS (RFC 7435; Postfix's "may" level). The handshake
 * still authenticates nothing but encrypts against passive observers; the
 * engine's X.509 hook accepts any chain and takes the server key from the
 * leaf certificate, over net/tls_client.h's wide profile unless asked for
 * the strict one. client_start_tls_verified() checks the chain against
 * net/anchors.h's roots and the name against the certificate (the HTTPS
 * clients, the relay host, MTA-STS, REQUIRETLS); client_start_tls_dane()
 * by TLSA records, always over the strict profile.
 *
 * Callbacks: on_connected once TCP is up; on_tls once a handshake done;
 * on_data when c->in has new bytes; on_close exactly once, with a short
 * reason token, after which the client is freed. Closing from inside a
 * callback is safe (destruction is deferred until it returns).
 *
 * Caveats: the struct never moves (BearSSL keeps pointers into it).
 * Writes beyond out's maximum fail: the protocol refills out as it drains
 * (on_drained).
 */
#ifndef TERN_NET_CLIENT_H
#define TERN_NET_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/buf.h"

struct loop;
struct client;
struct client_tls; /* private */

struct client_ops {
	void (*on_connected)(struct client *c, void *arg);
	void (*on_tls)(struct client *c, void *arg);
	void (*on_data)(struct client *c, void *arg);
	void (*on_drained)(struct client *c, void *arg); /* optional */
	void (*on_close)(struct client *c, void *arg, const char *reason);
};

struct client {
	int fd;
	struct loop *loop;
	struct buf in, out;
	char peer_ip[48];
	uint16_t peer_port;

	/* private */
	struct client_tls *tls_;
	const struct client_ops *ops_;
	void *arg_;
	unsigned want_;
	unsigned connecting_ : 1, dead_ : 1, eof_ : 1, tls_done_ : 1, close_after_flush_ : 1;
	int busy_;
	const char *reason_;
};

/*
 * Starts connecting to sa. Returns the client (callbacks follow from the
 * loop), or NULL with errno when no socket could be made.
 */
struct client *client_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
			      size_t in_max, size_t out_max, const struct client_ops *ops,
			      void *arg);
/*
 * Starts a TLS handshake now (server_name for SNI, may be NULL; an IP
 * address goes without SNI, RFC 6066 §3: tls_client_reset()). Input
 * buffered so far is dropped (RFC 3207 §4.2). strict: net/tls_client.h's
 * TLS_CLIENT_STRICT profile (TLS that is required, or carries a
 * password), else the wide opportunistic one. 0, or -1 (already on, no
 * entropy).
 */
int client_start_tls(struct client *c, const char *server_name, int strict);
/*
 * client_start_tls() with the server verified: the chain must lead to one
 * of anchors_get()'s anchors and the certificate must carry server_name:
 * a host name as a dNSName, an IP address as an iPAddress (net/
 * tls_client.h). A failure closes the client with reason
 * "tls_handshake_failed"; client_tls_error() then says why. strict as
 * for client_start_tls() (only MTA-STS testing's attempt is not).
 */
int client_start_tls_verified(struct client *c, const char *server_name, int strict);
struct tlsa_rec;
/*
 * client_start_tls_verified() by DANE (RFC 7672, tlspol/dane.h): the
 * chain must match one of tlsa[0..n) (owned by the caller, valid until
 * the handshake ends); the roots are not used. A DANE-TA chain's leaf may
 * carry server_name or, when not NULL, also_name (the MX host when
 * server_name is its CNAME target). A failure closes the client as
 * above; client_tls_error() is DANE_ERR_NO_MATCH when no record matched.
 */
int client_start_tls_dane(struct client *c, const char *server_name, const char *also_name,
			  const struct tlsa_rec *tlsa, size_t n);
/* BearSSL's last error on the TLS engine (BR_ERR_X509_* for a refused chain), 0 when none. */
int client_tls_error(const struct client *c);
/*
 * A short phrase for client_tls_error()'s value, for logs and statuses
 * ("certificate not issued for that name", "certificate not signed by a
 * trusted authority", ...); never NULL.
 */
const char *client_tls_error_text(int err);
/* 1 once the handshake completed. */
int client_tls_established(const struct client *c);

/* Queues bytes for the peer. 0, or -1 when out is full or the client is closing. */
int client_write(struct client *c, const void *p, size_t n);
/* Sends queued output now (outside callbacks; inside it happens on return). */
void client_flush(struct client *c);
/* Closes after the queued output left (TLS close_notify included), or now when dead. */
void client_close_after_flush(struct client *c, const char *reason);
/* Closes now. on_close runs with reason. */
void client_close(struct client *c, const char *reason);

#endif
