/*
 * crypt_sink.h — where encryption at rest writes: a callback taking the
 * output as it is made, so that a message of any size is sealed in one
 * pass into a spool (core/spool.h: memory within its budget, else an
 * unlinked file) without a second copy of it in memory. And the one
 * streaming encoder of base64 body lines the sealed forms need.
 */
#ifndef TERN_CRYPT_CRYPT_SINK_H
#define TERN_CRYPT_CRYPT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct crypt_sink {
	int (*write)(void *arg, const void *p, size_t n); /* 0, or -1 to stop */
	void *arg;
};

/* A sink appending to a struct buf (arg). */
int crypt_sink_buf(void *arg, const void *p, size_t n);

/*
 * Base64 lines of `cols` characters (a multiple of 4, at most 76) and
 * CRLF, written to a sink as the octets come; an optional running
 * CRC-24 of the octets (OpenPGP's armor checksum, RFC 9580 §6.1).
 */
struct crypt_b64 {
	const struct crypt_sink *out;
	size_t group;        /* octets a line: cols / 4 * 3 */
	uint8_t pend[57];
	size_t npend;
	uint32_t crc;
	int err;
};

/* OpenPGP's CRC-24 (RFC 9580 §6.1) of p[0..n) continuing from crc. */
#define CRYPT_CRC24_INIT 0xB704CEu
uint32_t crypt_crc24(uint32_t crc, const void *p, size_t n);

void crypt_b64_init(struct crypt_b64 *b, const struct crypt_sink *out, size_t cols);
void crypt_b64_put(struct crypt_b64 *b, const void *p, size_t n);
/* Writes the last, short line. 0, or -1 when a write failed. */
int crypt_b64_end(struct crypt_b64 *b);

#endif
