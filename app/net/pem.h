/*
 * pem.h — reading PEM files (RFC 7468): the one reader behind the TLS
 * certificate and key (tls_pem.c), the trust anchors (anchors.c), S/MIME
 * certificates (crypt/smime.c) and imported DKIM keys (dkim/dkim_pem.c).
 * BearSSL's br_pem_decoder does the decoding; tls_pem_each adds a bounded
 * buffer, the banner clean-up BearSSL lacks and one callback per object.
 * Implemented in tls_pem.c.
 */
#ifndef TERN_NET_PEM_H
#define TERN_NET_PEM_H

#include <stddef.h>

struct buf;

/* Bigger than any sane PEM bundle; a cap so a wrong path cannot eat memory. */
#define TLS_FILE_MAX (1024 * 1024)

/*
 * Reads all of path into out (buf_init'ed by the caller with a maximum of
 * TLS_FILE_MAX or less). Returns 0, or -1 with err naming the file (cannot
 * open, cannot read, too large).
 */
int tls_read_file(const char *path, struct buf *out, char *err, size_t errsz);
/* The same from an open descriptor (stdin: the container's chroot has no
 * /dev/stdin), named label in err; fd is left open. */
int tls_read_fd(int fd, const char *label, struct buf *out, char *err, size_t errsz);

/*
 * PEM iteration: calls fn for each complete object with its banner name
 * and DER bytes (valid during the call only; the buffer is wiped after,
 * as it may hold a private key). fn returns 0 to go on or -1 to stop
 * (having set err). Returns the number of objects seen (>= 0), or -1 with
 * err set (label names the source: malformed, truncated, a block over
 * 64 KiB).
 */
typedef int tls_pem_obj_fn(void *ctx, const char *name, const unsigned char *der, size_t len);
int tls_pem_each(const unsigned char *data, size_t len, const char *label, tls_pem_obj_fn *fn,
                 void *ctx, char *err, size_t errsz);

/* 1 when data holds a "-----BEGIN " banner (PEM rather than DER), else 0. */
int tls_looks_pem(const unsigned char *data, size_t len);

#endif
