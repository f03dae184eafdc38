/*
 * dkim_sha.c — the body hashers' SHA-256 (dkim.h, struct dkim_sha256)
 * through OpenSSL's libcrypto.
 *
 * Why not BearSSL, which hashes everything else: a DKIM or ARC check
 * hashes the whole body once per (canonicalization, l=), and that hash was
 * the largest part of an inbound message's authentication checks after
 * the RSA verification (callgrind over scripts/bench-auth's mix: 0.43 M of
 * the checks' instructions per message). BearSSL's SHA-256 is portable C
 * (42 us per 10 KiB on the build machine); libcrypto's assembly picks the
 * CPU's SHA extensions, else AVX2 or SSSE3, at run time (6.8 us). The
 * digests are the same (tests/unit/test_dkim.c compares them over every
 * split of the input).
 *
 * The low-level SHA256_* calls (deprecated in OpenSSL 3 in favour of EVP)
 * are used on purpose, as in dkim_rsa.c: no provider lookup or allocation
 * per hash, and the context lives inside struct dkim_body.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co., see above */
#include <openssl/sha.h>
#include <stdalign.h>

#include "dkim/dkim.h"

_Static_assert(sizeof(SHA256_CTX) <= DKIM_SHA256_STATE, "DKIM_SHA256_STATE too small");
_Static_assert(alignof(SHA256_CTX) <= alignof(struct dkim_sha256), "dkim_sha256 misaligned");

static SHA256_CTX *ctx(struct dkim_sha256 *h)
{
	return (SHA256_CTX *)(void *)h->state;
}

void dkim_sha256_init(struct dkim_sha256 *h)
{
	SHA256_Init(ctx(h));
}

void dkim_sha256_update(struct dkim_sha256 *h, const void *p, size_t n)
{
	SHA256_Update(ctx(h), p, n);
}

void dkim_sha256_out(struct dkim_sha256 *h, uint8_t out[32])
{
	SHA256_Final(out, ctx(h));
}
