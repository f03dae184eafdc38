/*
 * der_w.h — a small DER writer for the certificates and requests tern
 * makes itself (the self-signed pair, the TLS-ALPN-01 challenge
 * certificate, the ACME CSR).
 *
 * Design. Elements are written front to back into a fixed buffer the
 * caller owns; when a constructed element ends, its content is moved up to
 * make room for the length, which is only then known. Any overflow or
 * misuse sets bad, after which every call does nothing: check bad (and
 * depth == 0) once at the end instead of after each call.
 *
 * Caveats: at most DER_DEPTH elements open at once.
 */
#ifndef TERN_NET_DER_W_H
#define TERN_NET_DER_W_H

#include <stddef.h>

#define DER_DEPTH 8

struct der_w {
	unsigned char *buf; /* caller's buffer, cap bytes */
	size_t cap, len;
	size_t open[DER_DEPTH]; /* content start of each open element */
	int depth;
	int bad; /* overflow or misuse: the result is unusable */
};

/* Raw bytes (already DER) appended as they are. */
void dw_bytes(struct der_w *w, const void *p, size_t n);
void dw_byte(struct der_w *w, unsigned char c);
/* A primitive element: tag, length, n content bytes. */
void dw_prim(struct der_w *w, unsigned char tag, const void *p, size_t n);
/* Opens a constructed element (or a BIT/OCTET STRING wrapping DER); dw_end closes it. */
void dw_begin(struct der_w *w, unsigned char tag);
void dw_end(struct der_w *w);

#endif
