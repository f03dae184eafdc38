/*
 * sha256.h — SHA-256 (FIPS 180-4) for bulk data: message bodies, DKIM and
 * ARC body hashes.
 *
 * Why not BearSSL's, which hashes everything small here (TLS, HMAC, key
 * ids): BearSSL's SHA-256 is portable C, about 42 us for 10 KiB on the
 * build machine, and an inbound message's DKIM/ARC body hashes were the
 * largest part of its authentication checks after the RSA verification.
 * x86-64 processors since about 2017 (Goldmont, Zen, Ice Lake) have
 * instructions that do two SHA-256 rounds at a time (SHA-NI); with them a
 * 10 KiB body hashes several times faster. They are used when the CPU
 * says it has them (CPUID, checked once); otherwise, or on another
 * architecture, a portable C compression function does the same work.
 * Both give the same digests (tests/unit/test_sha256.c compares them with
 * BearSSL's over every split of the input, on both paths).
 *
 * Usage: sha256_init, then sha256_update with chunks of any size, then
 * sha256_out, which writes the digest; the context must be initialised
 * again before it is reused. No allocation, nothing to free; a context is
 * a plain struct that may be copied (to hash a common prefix once).
 *
 * Caveats: not constant-time with respect to the input's length (no
 * caller hashes secrets of secret length); do not use it for HMAC keys
 * without thinking about that. Messages up to 2^61 - 1 octets.
 */
#ifndef TERN_CORE_SHA256_H
#define TERN_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];	  /* the chaining value */
	uint64_t len;	  /* octets taken so far */
	uint8_t buf[64];  /* the unfinished block: len % 64 octets */
};

/* Starts a hash. */
void sha256_init(struct sha256 *c);

/* Adds n octets at p (p may be NULL when n is 0). */
void sha256_update(struct sha256 *c, const void *p, size_t n);

/* Writes the digest of everything added into out. c is spent: initialise it
 * again before adding more. */
void sha256_out(struct sha256 *c, uint8_t out[SHA256_LEN]);

/* One call: the digest of n octets at p into out. */
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

/* For tests: 1 to use the portable compression function even where the
 * CPU has SHA-NI, 0 to go back to choosing by the CPU. Returns 1 when this
 * CPU and build have the SHA-NI path at all (so a test knows whether it
 * compared two paths or one). Not thread-safe; call before hashing. */
int sha256_force_portable(int on);

#endif
