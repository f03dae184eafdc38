/*
 * crypt_sink.h — where encryption at rest writes: a callback taking the
 * output as it is made, so that a message of any size is sealed in one
 * pass into a spool (core/spool.h: memory within its budget, else an
 * unlinked file) without a second copy of it in memory; the base64 lines
 * of the sealed forms go through core/base64.h's struct base64_lines.
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

/* OpenPGP's CRC-24 (RFC 9580 §6.1) of p[0..n) continuing from crc. */
#define CRYPT_CRC24_INIT 0xB704CEu
uint32_t crypt_crc24(uint32_t crc, const void *p, size_t n);

#endif
