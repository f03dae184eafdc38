/*
 * tls_pump.h — the one TLS pump: drives a BearSSL engine, server's
 * (net/conn.c) or client's (net/client.c), between a non-blocking socket
 * and two plaintext buffers until no step makes progress.
 *
 * Design. Each turn reads br_ssl_engine_current_state() and does what its
 * bits allow: records out to the socket, received plaintext into in,
 * queued plaintext from out into the engine (flushed when out is empty),
 * records in from the socket. It stops when the socket would block, the
 * buffers are full or empty, or the engine closed. What a connection does
 * about it (log lines, its close reason, timers) stays with the caller:
 * the pump reports, through struct tls_pump and its return bits.
 *
 * Caveats: the caller's structs own everything pointed to; the pump keeps
 * nothing between calls.
 */
#ifndef TERN_NET_TLS_PUMP_H
#define TERN_NET_TLS_PUMP_H

#include <bearssl.h>
#include <stdint.h>

#include "core/buf.h"

struct tls_pump {
	/* In. */
	br_ssl_engine_context *eng;
	int fd;
	struct buf *in;  /* received plaintext is appended here */
	struct buf *out; /* plaintext to send, consumed */
	int hold_in;     /* 1: leave received plaintext in the engine (paused) */
	void (*before_write)(void); /* NULL, or run before each socket write */
	/* In and out. */
	int eof;  /* the socket read end-of-file (no more reads) */
	int done; /* the handshake finished */
	/* Out, added to: octets read from and written to the socket, and
	 * plaintext octets taken from out. */
	uint64_t bytes_in, bytes_out, out_taken;
	/* Out: the engine closed, err its last error (BR_ERR_OK: a clean
	 * close); or dead, the socket or in failed: "read_error",
	 * "write_error", "out_of_memory". Either way the connection ends. */
	int closed, err;
	const char *dead;
};

/* tls_pump_run()'s bits. */
enum { TLS_PUMP_GOT_DATA = 1, TLS_PUMP_NOW_DONE = 2 };

/*
 * Pumps p until no step makes progress; readable: the socket may be read
 * (a read event, or a hang-up to be seen). Returns TLS_PUMP_GOT_DATA when
 * plaintext was appended to in, TLS_PUMP_NOW_DONE when the handshake
 * finished during the call (p->done is then 1); p->closed or p->dead set
 * means the connection must close.
 */
int tls_pump_run(struct tls_pump *p, int readable);

#endif
