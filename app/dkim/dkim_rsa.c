/*
 * dkim_rsa.c — RSASSA-PKCS1-v1_5 (SHA-256) signatures for DKIM through
 * OpenSSL's libcrypto: signing, verifying with a key from DNS, and
 * recovering a private key's public exponent.
 *
 * Why not BearSSL, which does everything else here: every submitted message
 * gets one RSA-2048 signature, and that signature was most of submission's
 * CPU. BearSSL's fastest RSA code (i62) takes 2.2 ms per signature on the
 * build machine, libcrypto's assembly Montgomery code 0.25 ms. This is
 * the only file that includes OpenSSL headers; TLS, hashing (the body
 * hashes: core/sha256.c) and key generation stay out of libcrypto, so the
 * keys, their storage and their DNS records do not change (dkim_keys.c).
 *
 * The low-level RSA API (deprecated in OpenSSL 3 in favour of EVP_PKEY) is
 * used on purpose: it signs directly, with no provider lookup per call, and
 * links far less of the library. RSA_sign blinds the operation and checks
 * the CRT result with the public exponent before returning it (a fault
 * would otherwise leak a factor), as OpenSSL does by default.
 *
 * Setting up an RSA object costs more than a signature (bignums from bytes,
 * Montgomery contexts, a blinding factor made with a public exponentiation),
 * so each thread keeps the last few it used, keyed by a BLAKE2b hash of the
 * key's private octets. Threads that sign are the worker pool's: a handful,
 * living as long as the process; their cached objects are never freed.
 *
 * libcrypto is initialised without its atexit handler: that handler frees
 * the library's global state at exit(), while a worker thread may still be
 * signing; the kernel reclaims the memory anyway.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* RSA_sign & co., see above */
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/thread_exit.h"
#include "dkim/dkim.h"
#include "dkim/dkim_rsa.h"

#define CACHE_SLOTS 4

struct rsa_slot {
	uint8_t id[32]; /* BLAKE2b-256 of bits, e and the private octets */
	RSA *rsa;
};

static _Thread_local struct rsa_slot cache[CACHE_SLOTS];
static _Thread_local unsigned cache_next;

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_ok;

static _Thread_local int cache_armed; /* cache_release registered */

/* When the thread ends (thread_exit.h): RSA_free wipes the keys. */
static void cache_release(void)
{
	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		RSA_free(cache[i].rsa);
		cache[i].rsa = NULL;
	}
}

static void crypto_init(void)
{
	crypto_ok = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
}

static void key_id(const struct dkim_key *k, uint8_t id[32])
{
	crypto_generichash_state h;
	size_t total = 0;
	uint8_t meta[8] = {(uint8_t)(k->rsa_bits >> 24), (uint8_t)(k->rsa_bits >> 16),
	                   (uint8_t)(k->rsa_bits >> 8),  (uint8_t)k->rsa_bits,
	                   (uint8_t)(k->rsa_e >> 24),    (uint8_t)(k->rsa_e >> 16),
	                   (uint8_t)(k->rsa_e >> 8),     (uint8_t)k->rsa_e};

	for (int i = 0; i < 5; i++)
		total += k->rsa_len[i];
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, meta, sizeof meta);
	for (int i = 0; i < 5; i++) {
		uint8_t len[2] = {(uint8_t)(k->rsa_len[i] >> 8), (uint8_t)k->rsa_len[i]};
		crypto_generichash_update(&h, len, 2);
	}
	crypto_generichash_update(&h, k->rsa_priv, total);
	crypto_generichash_final(&h, id, 32);
	sodium_memzero(&h, sizeof h);
}

/* A new RSA object for k (p, q, dp, dq, iq from k; n = p*q), or NULL. */
static RSA *rsa_from_key(const struct dkim_key *k)
{
	const uint8_t *p = k->rsa_priv;
	BIGNUM *v[5] = {0}, *n = BN_new(), *e = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	RSA *rsa = RSA_new();

	if (!n || !e || !ctx || !rsa || !BN_set_word(e, k->rsa_e))
		goto fail;
	for (int i = 0; i < 5; i++) {
		if ((v[i] = BN_bin2bn(p, (int)k->rsa_len[i], NULL)) == NULL)
			goto fail;
		p += k->rsa_len[i];
	}
	BN_set_flags(v[0], BN_FLG_CONSTTIME);
	BN_set_flags(v[1], BN_FLG_CONSTTIME);
	if (!BN_mul(n, v[0], v[1], ctx) || (unsigned)BN_num_bits(n) != k->rsa_bits)
		goto fail;
	/* Each successful set0 call moves ownership of its bignums into rsa. */
	if (!RSA_set0_key(rsa, n, e, NULL))
		goto fail;
	n = e = NULL;
	if (!RSA_set0_factors(rsa, v[0], v[1]))
		goto fail;
	v[0] = v[1] = NULL;
	if (!RSA_set0_crt_params(rsa, v[2], v[3], v[4]))
		goto fail;
	BN_CTX_free(ctx);
	return rsa;
fail:
	for (int i = 0; i < 5; i++)
		BN_clear_free(v[i]);
	BN_free(n);
	BN_free(e);
	BN_CTX_free(ctx);
	RSA_free(rsa);
	return NULL;
}

/* dp^-1 mod (p-1) into e (dp and p secret: constant-time inversion). */
static int inverse(BIGNUM *e, const uint8_t *f, size_t flen, const uint8_t *d, size_t dlen,
                   BN_CTX *ctx)
{
	BIGNUM *m = BN_bin2bn(f, (int)flen, NULL), *x = BN_bin2bn(d, (int)dlen, NULL);
	int ok = 0;

	if (m && x && BN_sub_word(m, 1)) {
		BN_set_flags(m, BN_FLG_CONSTTIME);
		BN_set_flags(x, BN_FLG_CONSTTIME);
		ok = BN_mod_inverse(e, x, m, ctx) != NULL;
	}
	BN_clear_free(m);
	BN_clear_free(x);
	return ok;
}

uint32_t dkim_rsa_pubexp(const uint8_t *p, size_t plen, const uint8_t *q, size_t qlen,
                         const uint8_t *dp, size_t dplen, const uint8_t *dq, size_t dqlen)
{
	BIGNUM *ep = BN_new(), *eq = BN_new();
	BN_CTX *ctx = BN_CTX_new();
	uint32_t e = 0;

	pthread_once(&crypto_once, crypto_init);
	if (crypto_ok && ep && eq && ctx && inverse(ep, p, plen, dp, dplen, ctx) &&
	    inverse(eq, q, qlen, dq, dqlen, ctx) && BN_cmp(ep, eq) == 0 &&
	    BN_num_bits(ep) <= 32 && BN_is_odd(ep) && !BN_is_one(ep))
		e = (uint32_t)BN_get_word(ep);
	BN_free(ep);
	BN_free(eq);
	BN_CTX_free(ctx);
	return e;
}

static RSA *rsa_for(const struct dkim_key *k)
{
	uint8_t id[32];

	key_id(k, id);
	for (unsigned i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].rsa != NULL && sodium_memcmp(cache[i].id, id, 32) == 0)
			return cache[i].rsa;
	RSA *rsa = rsa_from_key(k);
	if (rsa == NULL)
		return NULL;
	if (!cache_armed)
		cache_armed = thread_at_exit(cache_release) == 0;
	struct rsa_slot *s = &cache[cache_next++ % CACHE_SLOTS];
	RSA_free(s->rsa); /* wipes its bignums */
	memcpy(s->id, id, 32);
	s->rsa = rsa;
	return rsa;
}

int dkim_rsa_sign(const struct dkim_key *k, const uint8_t digest[32], uint8_t *sig, size_t sigsz,
                  size_t *siglen_r)
{
	size_t n = (k->rsa_bits + 7) / 8;
	unsigned int len = 0;

	if (sigsz < n)
		return DKIM_ETOOBIG;
	pthread_once(&crypto_once, crypto_init);
	if (!crypto_ok)
		return DKIM_ECRYPTO;
	RSA *rsa = rsa_for(k);
	if (rsa == NULL || (size_t)RSA_size(rsa) != n)
		return DKIM_ECRYPTO;
	if (RSA_sign(NID_sha256, digest, 32, sig, &len, rsa) != 1 || len != n)
		return DKIM_ECRYPTO;
	*siglen_r = n;
	return DKIM_OK;
}

/*
 * The public keys a thread verified with lately, by their DER octets. A
 * key's RSA object keeps its Montgomery context after the first
 * verification; parsing the key and making that context cost a quarter of
 * a 2048-bit verification (callgrind over bench-auth's mix: 81 k of 360 k
 * instructions), and a mail server sees the same senders' keys again and
 * again. Only keys that passed the checks below are kept; a key over
 * PUBKEY_KEEP_MAX octets (beyond 4096 bits) is used once and freed. A
 * thread that verifies holds PUBKEY_SLOTS keys at most (their DER, 26 KB,
 * and their RSA objects), freed when it ends (thread_exit.h).
 */
#define PUBKEY_SLOTS 32
#define PUBKEY_KEEP_MAX 800

struct pubkey_slot {
	RSA *rsa;
	size_t len;
	uint8_t der[PUBKEY_KEEP_MAX];
};

static _Thread_local struct pubkey_slot *pubkeys; /* PUBKEY_SLOTS, made on first use */
static _Thread_local unsigned pubkey_next;
static _Thread_local int pubkeys_armed;

static void pubkeys_release(void)
{
	for (unsigned i = 0; pubkeys && i < PUBKEY_SLOTS; i++)
		RSA_free(pubkeys[i].rsa);
	free(pubkeys);
	pubkeys = NULL;
}

/* The RSA public key of der into *rsa_r and its size into *bits_r: 0, -1
 * when der is not one, -2 when its exponent is refused (*bits_r set).
 * *kept_r: the cache owns *rsa_r (else the caller frees it). */
static int pubkey_for(const uint8_t *der, size_t derlen, RSA **rsa_r, int *kept_r, unsigned *bits_r)
{
	const unsigned char *p = der;
	RSA *rsa;

	*kept_r = 0;
	for (unsigned i = 0; pubkeys && i < PUBKEY_SLOTS; i++)
		if (pubkeys[i].rsa && pubkeys[i].len == derlen && memcmp(pubkeys[i].der, der, derlen) == 0) {
			*rsa_r = pubkeys[i].rsa;
			*kept_r = 1;
			*bits_r = (unsigned)RSA_bits(*rsa_r);
			return 0;
		}
	rsa = d2i_RSA_PUBKEY(NULL, &p, (long)derlen);
	if (rsa == NULL || p != der + derlen) {
		RSA_free(rsa);
		p = der;
		rsa = d2i_RSAPublicKey(NULL, &p, (long)derlen);
		if (rsa == NULL || p != der + derlen) {
			RSA_free(rsa);
			return -1;
		}
	}
	*bits_r = (unsigned)RSA_bits(rsa);
	/* A public exponent as long as the modulus makes each verification
	 * cost a private-key operation, and a sender picks the key: refused
	 * over 64 bits (real keys use 65537), the bound libcrypto itself
	 * applies above 3072-bit moduli. */
	const BIGNUM *e = NULL;
	RSA_get0_key(rsa, NULL, &e, NULL);
	if (e == NULL || BN_num_bits(e) > DKIM_RSA_PUBEXP_MAX_BITS) {
		RSA_free(rsa);
		return -2;
	}
	*rsa_r = rsa;
	if (derlen > PUBKEY_KEEP_MAX)
		return 0;
	if (!pubkeys && (pubkeys = calloc(PUBKEY_SLOTS, sizeof *pubkeys)) == NULL)
		return 0;
	if (!pubkeys_armed)
		pubkeys_armed = thread_at_exit(pubkeys_release) == 0;
	struct pubkey_slot *sl = &pubkeys[pubkey_next++ % PUBKEY_SLOTS];
	RSA_free(sl->rsa);
	sl->rsa = rsa;
	sl->len = derlen;
	memcpy(sl->der, der, derlen);
	*kept_r = 1;
	return 0;
}

int dkim_rsa_verify(const uint8_t *der, size_t derlen, const uint8_t digest[32],
                    const uint8_t *sig, size_t siglen, unsigned *bits_r)
{
	RSA *rsa = NULL;
	int kept;

	pthread_once(&crypto_once, crypto_init);
	if (!crypto_ok || derlen > 65536 || siglen > 65536)
		return -1;
	int rc = pubkey_for(der, derlen, &rsa, &kept, bits_r);
	if (rc < 0)
		return rc;
	int ok = RSA_verify(NID_sha256, digest, 32, sig, (unsigned)siglen, rsa) == 1;
	if (!kept)
		RSA_free(rsa);
	return ok;
}
