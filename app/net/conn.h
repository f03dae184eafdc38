/*
 * conn.h — a client connection on one loop: socket, optional TLS, buffers.
 *
 * The connection owns the socket, a bounded plaintext input buffer and a
 * bounded output buffer. When TLS is on, bytes flow socket -> BearSSL engine
 * -> c->in and c->out -> engine -> socket; that pump is in conn.c and
 * nowhere else, so protocol code never knows whether TLS is on.
 *
 * The protocol session is told about new input with ops->on_data and about
 * the end with ops->on_close, exactly once, after which the conn is freed.
 * Closing from inside a callback is safe: destruction is deferred until the
 * callback returns.
 *
 * Backpressure: reading stops while c->in is full or conn_pause_read() is in
 * effect (a session waiting for the store); the kernel buffer and TCP window
 * then hold the peer back.
 *
 * With COMPRESS, a deflate layer (net/conn_deflate.h) sits between in/out
 * and the transport; sessions still only see plaintext.
 *
 * Caveats: struct conn never moves (BearSSL keeps pointers into it). Writes
 * beyond out's maximum fail: the session must not produce unbounded output.
 */
#ifndef TERN_NET_CONN_H
#define TERN_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct loop;
struct conn;
struct conn_deflate;
struct tls_server;

struct conn_ops {
	/* New bytes are in c->in (also called right after TLS input arrives). */
	void (*on_data)(struct conn *c, void *arg);
	/* The output buffer was flushed completely (optional). */
	void (*on_drained)(struct conn *c, void *arg);
	/* The connection is gone; reason is a short token for the log. The
	 * session frees its own state here; the conn is freed after. */
	void (*on_close)(struct conn *c, void *arg, const char *reason);
	/* Sent (a complete line, or NULL) when an allocation made while
	 * serving this connection drew the memory reserve (core/xalloc.c):
	 * the connection then closes with reason out_of_memory. */
	const char *oom_goodbye;
};

struct conn {
	int fd;
	struct loop *loop;
	struct buf in;  /* plaintext from the peer */
	struct buf out; /* plaintext to the peer */
	struct tls_server *tls; /* NULL while plaintext */
	struct conn_deflate *z; /* NULL until COMPRESS (conn_compress) */
	char peer_ip[48];
	uint16_t peer_port;
	uint64_t bytes_in, bytes_out;
	/* Octets of output the transport took from the session's side,
	 * before TLS: what the peer is taking of our answers. Unlike
	 * bytes_out, none of TLS's own records (the handshake, an alert)
	 * is in it, which a peer can make us send without asking anything. */
	uint64_t out_taken;

	/* private */
	const struct conn_ops *ops_;
	void *arg_;
	unsigned want_; /* LOOP_* interest currently registered */
	unsigned paused_ : 1, starttls_pending_ : 1, closing_ : 1, dead_ : 1, eof_ : 1,
		tls_done_ : 1, close_after_flush_ : 1,
		read_while_paused_ : 1, /* input arrived while paused: disarm READ */
		hup_ : 1,    /* the loop reported a hang-up (EPOLLHUP or an error) */
		parked_ : 1; /* off the loop's epoll set: hung up, nothing wanted */
	int busy_; /* callback nesting depth */
	const char *close_reason_;
	uint64_t close_timer_;
	uint64_t deadline_timer_;
	const char *deadline_bye_, *deadline_reason_;
	uint64_t handshake_timer_; /* while a TLS handshake runs */
};

/* Time a TLS handshake gets, on an implicit-TLS port from the connection
 * and after STARTTLS from the switch; the connection is closed (reason
 * tls_handshake_timeout) when it has not completed by then. */
#define CONN_HANDSHAKE_MS 30000

/*
 * Wraps an accepted, non-blocking socket. in_max/out_max bound the buffers.
 * tls: 1 to start TLS immediately (implicit TLS ports). Returns NULL (and
 * closes fd) when TLS cannot start.
 */
struct conn *conn_new(struct loop *loop, int fd, int tls, size_t in_max, size_t out_max,
		      const struct conn_ops *ops, void *arg);

/* Queues bytes for the peer. 0, or -1 when the output buffer is full. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Sends queued output now and hands the session any input that became
 * available meanwhile (on_data may run). Does nothing inside a conn
 * callback, where it happens anyway when the callback returns. The conn
 * may be gone afterwards if it was closing.
 */
void conn_flush(struct conn *c);

/*
 * STARTTLS: once everything queued so far has been sent in plaintext, the
 * connection switches to TLS. Input buffered before the switch is discarded
 * (it was sent before the handshake and must not be trusted: RFC 3207 §5).
 * The handshake is bounded by CONN_HANDSHAKE_MS, as on implicit-TLS ports.
 * Returns -1 when TLS is already on or no certificate is available.
 */
int conn_starttls(struct conn *c);
/*
 * COMPRESS=DEFLATE (RFC 4978 §3): what is queued in out so far (the
 * session's "OK") goes out as it is, everything after in both directions
 * is raw DEFLATE (net/conn_deflate.h), on top of TLS when TLS is on.
 * Input the session has not consumed yet was sent after the command, so
 * it is taken as compressed. Returns -1 when compression is already on or
 * zlib cannot start within the connection's memory ceiling.
 */
int conn_compress(struct conn *c);

/* 1 once the TLS handshake completed. */
int conn_tls_established(const struct conn *c);
/* "TLSv1.2", cipher name and bits for Received headers; NULL when plaintext. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
int conn_tls_bits(const struct conn *c);

/*
 * For code that drives a conn from another event source (a socketpair, a
 * timer): between conn_hold() and conn_release() the conn is never freed
 * and calls such as conn_pause_read() or conn_close_after_flush() only
 * record what to do. conn_release() then runs a full pass like
 * conn_flush(), after which the conn (and whatever its on_close frees) may
 * be gone.
 */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);

/*
 * 1 while output is still on its way to the peer: bytes in c->out, or
 * held by the compression layer or the TLS engine (records not yet
 * written to the socket); 0 when all of it left (on_drained's condition)
 * or the conn is closing for good.
 */
int conn_output_pending(struct conn *c);
/*
 * What the kernel knows of the output that left us: *acked_r, octets the
 * peer's TCP acknowledged so far (TLS records included; it grows while
 * the peer takes what we sent, also while the socket's send buffer is
 * too full for a write, when out_taken does not move), and *queued_r,
 * octets still in the socket's send queue (not sent or not yet
 * acknowledged). 0, or -1 (nothing set) when the socket cannot tell
 * (not TCP).
 */
int conn_socket_output(const struct conn *c, uint64_t *acked_r, size_t *queued_r);

/* Stops (1) or resumes (0) reading from the peer. */
void conn_pause_read(struct conn *c, int pause);

/*
 * Closes after the queued output was sent (with TLS close_notify), or after
 * 5 s at most. on_close runs with reason.
 */
void conn_close_after_flush(struct conn *c, const char *reason);
/*
 * A deadline for the connection, apart from any idle timer of the session:
 * ms from now, unless reset or cleared before, goodbye (a complete
 * protocol line with its CRLF, or NULL) is sent and the connection closed
 * (after the flush, 5 s at most; at once while a TLS handshake is still
 * running) with reason. Idle timers restart on every byte, so only a
 * deadline bounds what a slow client may hold: the time to log in, the
 * time to send an HTTP request header. A new call replaces the deadline;
 * ms 0 clears it. goodbye and reason must stay valid while the conn lives
 * (string literals, or the session's own storage).
 */
void conn_deadline(struct conn *c, uint64_t ms, const char *goodbye, const char *reason);

/* Closes now, dropping unsent output. on_close runs with reason. */
void conn_close(struct conn *c, const char *reason);

#endif
