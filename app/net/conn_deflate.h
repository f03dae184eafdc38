/*
 * conn_deflate.h — the raw DEFLATE layer of a connection (IMAP COMPRESS,
 * RFC 4978), between the session's plaintext buffers and the transport
 * (socket or TLS engine). Used by conn.c only; sessions call
 * conn_compress() (conn.h).
 *
 * Design: the transport reads compressed bytes into z->in and sends
 * z->out; conn_deflate_in() inflates what fits into the session's input
 * buffer, conn_deflate_out() deflates the session's output into z->out
 * and ends each batch with a sync flush, so the peer can read every
 * complete response at once. Both stop when the destination is full:
 * the compressed side never holds more than its two bounded buffers, and
 * a small input that inflates to much output (a deflate bomb) is only
 * inflated as fast as the session consumes it.
 *
 * Memory: zlib allocates through a hook that counts against a ceiling per
 * connection (CONN_DEFLATE_ZMEM_MAX); the compressor uses a smaller window
 * and hash than zlib's defaults (2^13 and memLevel 6, about 70 KiB), the
 * decompressor needs the full 32 KiB window RFC 1951 allows the peer.
 *
 * Caveats: compression once on stays on until the connection ends (RFC
 * 4978 has no way back).
 */
#ifndef TERN_NET_CONN_DEFLATE_H
#define TERN_NET_CONN_DEFLATE_H

#include <stddef.h>

#include "core/buf.h"

/* Ceiling of zlib's own allocations per connection. */
#define CONN_DEFLATE_ZMEM_MAX (160u * 1024u)
/* Compressed bytes held per direction. */
#define CONN_DEFLATE_BUF 16384u

struct conn_deflate;

/* A new layer (malloc'ed), or NULL when zlib cannot start within the
 * ceiling. */
struct conn_deflate *conn_deflate_new(void);
/* Frees z (may be NULL) and sets *z to NULL. */
void conn_deflate_free(struct conn_deflate **z);
/* The transport's buffers: compressed input it reads into, compressed
 * output it sends from. Owned by z. */
struct buf *conn_deflate_rbuf(struct conn_deflate *z);
struct buf *conn_deflate_wbuf(struct conn_deflate *z);
/* Inflates from the read buffer into plain (as much as plain has room
 * for). 1 when plain grew, 0 when not, -1 when the stream is broken. */
int conn_deflate_in(struct conn_deflate *z, struct buf *plain);
/* The next n octets of plaintext output go out uncompressed (the reply
 * that turned compression on). */
void conn_deflate_raw(struct conn_deflate *z, size_t n);
/* Deflates plain (consumed as it goes) into the write buffer, with a sync
 * flush once plain is empty. 0, or -1 on a zlib failure. */
int conn_deflate_out(struct conn_deflate *z, struct buf *plain);
/* 1 while compressed output is held (in the write buffer or in zlib). */
int conn_deflate_pending(const struct conn_deflate *z);
/* Octets before (in) and after (out) each side's compression so far:
 * plain_in/zin for input, plain_out/zout for output (metrics, benchmarks). */
void conn_deflate_counts(const struct conn_deflate *z, unsigned long long *zin,
			 unsigned long long *plain_in, unsigned long long *plain_out,
			 unsigned long long *zout);

#endif
