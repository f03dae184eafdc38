/*
 * dkim_keys.c — generating DKIM keys, their DNS TXT values, and the byte
 * form the store keeps.
 *
 * Entropy comes from getrandom(2) only: the binary runs in an empty chroot
 * where /dev/urandom does not exist. RSA keys come from BearSSL's key
 * generator driven by an HMAC-DRBG (SHA-256) seeded with 48 fresh octets;
 * Ed25519 keys from libsodium's crypto_sign_seed_keypair on a 32-octet
 * getrandom seed (so libsodium's own randombytes is never asked).
 *
 * The RSA public key in DNS is a SubjectPublicKeyInfo (RFC 5280 §4.1, with
 * the rsaEncryption algorithm of RFC 3279 §2.3.1) in DER, written here by
 * hand: a fixed algorithm identifier and two INTEGERs. The Ed25519 one is
 * the bare 32-octet key (RFC 8463 §4.2).
 */
#include <bearssl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "core/punycode.h"
#include "core/random.h"
#include "dkim/dkim.h"
#include "dkim/dkim_rsa.h"

_Static_assert(DKIM_RSA_PRIV_MAX == BR_RSA_KBUF_PRIV_SIZE(DKIM_RSA_MAX_BITS),
               "DKIM_RSA_PRIV_MAX matches BearSSL's buffer size");
_Static_assert(BR_RSA_KBUF_PRIV_SIZE(DKIM_RSA_BITS) <= DKIM_RSA_PRIV_MAX, "room for new keys");
_Static_assert(sizeof(((struct dkim_key *)0)->ed_sk) == crypto_sign_SECRETKEYBYTES,
               "libsodium Ed25519 secret key size");

#define RSA_MIN_BITS 1024 /* RFC 8301 §3.2: verifiers refuse less */
#define RSA_PUBEXP 65537u

const char *dkim_alg_name(enum dkim_alg alg)
{
	switch (alg) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	}
	return "?";
}

static int sodium_ready(void)
{
	/* Idempotent and thread-safe; 1 means "already done". */
	return sodium_init() >= 0 ? 0 : -1;
}

/* ---- names ---- */

static int label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* Dot-separated labels of [A-Za-z0-9-] (and "_" when underscore), no
 * hyphen at either end of a label, each 1..63 octets; returns the number
 * of labels, or -1. */
static int labels_ok(const char *s, size_t max, int underscore)
{
	size_t n = strlen(s), llen = 0;
	int labels = 0;

	if (n == 0 || n > max)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (llen == 0 || llen > 63 || s[i - llen] == '-' || s[i - 1] == '-')
				return -1;
			labels++;
			llen = 0;
		} else if (label_char((unsigned char)s[i]) || (underscore && s[i] == '_')) {
			llen++;
		} else {
			return -1;
		}
	}
	return labels;
}

int dkim_selector_ok(const char *s)
{
	return s && labels_ok(s, DKIM_SELECTOR_MAX, 1) >= 1;
}

int dkim_sig_selector_ok(const char *s, const char *d)
{
	return s && d && labels_ok(s, DKIM_SIG_SELECTOR_MAX, 1) >= 1 &&
	       strlen(s) + strlen("._domainkey.") + strlen(d) <= DKIM_DOMAIN_MAX;
}

int dkim_domain_ok(const char *s)
{
	return s && labels_ok(s, DKIM_DOMAIN_MAX, 0) >= 2;
}

int dkim_domain_ascii(const char *in, char out[DKIM_DOMAIN_MAX + 1])
{
	size_t n = in ? strlen(in) : 0, i;
	int utf8 = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		utf8 |= (unsigned char)in[i] >= 0x80;
	if (utf8) {
		if (punycode_domain_other(str_make(in, n), out, DKIM_DOMAIN_MAX + 1) == 0)
			return -1;
	} else {
		if (n > DKIM_DOMAIN_MAX)
			return -1;
		for (i = 0; i <= n; i++)
			out[i] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] + 32) : in[i];
	}
	if (!dkim_domain_ok(out)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* ---- generation ---- */

static void selector_for(char *out, size_t outsz, const char *kind, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	snprintf(out, outsz, "tern-%s-%04d%02d", kind, tm.tm_year + 1900, tm.tm_mon + 1);
}

/* The private key as BearSSL wants it: pointers into k->rsa_priv. */
static void rsa_sk(const struct dkim_key *k, br_rsa_private_key *sk)
{
	const unsigned char *p = k->rsa_priv;
	unsigned char **dst[5] = {&sk->p, &sk->q, &sk->dp, &sk->dq, &sk->iq};
	size_t *len[5] = {&sk->plen, &sk->qlen, &sk->dplen, &sk->dqlen, &sk->iqlen};

	sk->n_bitlen = k->rsa_bits;
	for (int i = 0; i < 5; i++) {
		*dst[i] = (unsigned char *)p;
		*len[i] = k->rsa_len[i];
		p += k->rsa_len[i];
	}
}

static int rsa_generate(struct dkim_key *k)
{
	br_hmac_drbg_context rng;
	br_rsa_private_key sk;
	unsigned char seed[48];
	unsigned char kbuf[BR_RSA_KBUF_PRIV_SIZE(DKIM_RSA_BITS)];
	int rc = DKIM_ECRYPTO;

	if (random_bytes(seed, sizeof seed) != 0)
		return DKIM_ECRYPTO;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof seed);
	br_rsa_keygen keygen = br_rsa_keygen_get_default();
	if (keygen(&rng.vtable, &sk, kbuf, NULL, NULL, DKIM_RSA_BITS, RSA_PUBEXP)) {
		const unsigned char *src[5] = {sk.p, sk.q, sk.dp, sk.dq, sk.iq};
		size_t len[5] = {sk.plen, sk.qlen, sk.dplen, sk.dqlen, sk.iqlen};
		size_t off = 0;

		k->rsa_bits = sk.n_bitlen;
		k->rsa_e = RSA_PUBEXP;
		for (int i = 0; i < 5; i++) {
			/* BearSSL's elements are exactly what its buffer holds;
			 * ours is at least as big (static asserts above). */
			memmove(k->rsa_priv + off, src[i], len[i]);
			k->rsa_len[i] = (uint16_t)len[i];
			off += len[i];
		}
		rc = DKIM_OK;
	}
	sodium_memzero(kbuf, sizeof kbuf);
	sodium_memzero(&rng, sizeof rng);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

static int ed_from_seed(struct dkim_key *k, const uint8_t seed[32])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];

	if (sodium_ready() != 0 || crypto_sign_seed_keypair(pk, k->ed_sk, seed) != 0)
		return DKIM_ECRYPTO;
	return DKIM_OK;
}

int dkim_key_generate(struct dkim_key *k, enum dkim_alg alg, int64_t now)
{
	int rc;

	memset(k, 0, sizeof *k);
	k->alg = alg;
	k->created_at = now;
	if (alg == DKIM_ALG_RSA_SHA256) {
		selector_for(k->selector, sizeof k->selector, "rsa", now);
		rc = rsa_generate(k);
	} else if (alg == DKIM_ALG_ED25519_SHA256) {
		uint8_t seed[32];
		selector_for(k->selector, sizeof k->selector, "ed", now);
		rc = random_bytes(seed, sizeof seed) == 0 ? ed_from_seed(k, seed) : DKIM_ECRYPTO;
		sodium_memzero(seed, sizeof seed);
	} else {
		rc = DKIM_EINVAL;
	}
	if (rc != DKIM_OK)
		dkim_key_wipe(k);
	return rc;
}

int dkim_keys_generate(struct dkim_keys *k, int64_t now)
{
	int rc;

	memset(k, 0, sizeof *k);
	rc = dkim_key_generate(&k->key[0], DKIM_ALG_RSA_SHA256, now);
	if (rc == DKIM_OK)
		rc = dkim_key_generate(&k->key[1], DKIM_ALG_ED25519_SHA256, now);
	if (rc != DKIM_OK) {
		dkim_keys_wipe(k);
		return rc;
	}
	k->n = 2;
	return DKIM_OK;
}

void dkim_key_wipe(struct dkim_key *k)
{
	sodium_memzero(k, sizeof *k);
}

void dkim_keys_wipe(struct dkim_keys *k)
{
	sodium_memzero(k, sizeof *k);
}

/* ---- public key: DER and TXT ---- */

/* A DER length (short or long form up to 65535); returns octets written. */
static size_t der_len(uint8_t *p, size_t len)
{
	if (len < 0x80) {
		p[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		p[0] = 0x81;
		p[1] = (uint8_t)len;
		return 2;
	}
	p[0] = 0x82;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	return 3;
}

static size_t der_len_size(size_t len)
{
	return len < 0x80 ? 1 : len < 0x100 ? 2 : 3;
}

/* An unsigned big-endian integer as a DER INTEGER (p NULL: only count). */
static size_t der_uint(uint8_t *p, const uint8_t *v, size_t n)
{
	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	size_t pad = n == 0 || (v[0] & 0x80) ? 1 : 0; /* keep it positive */
	size_t clen = pad + n;
	size_t total = 1 + der_len_size(clen) + clen;
	if (p) {
		size_t o = 0;
		p[o++] = 0x02;
		o += der_len(p + o, clen);
		if (pad)
			p[o++] = 0;
		memcpy(p + o, v, n);
	}
	return total;
}

/* SubjectPublicKeyInfo for RSA: returns its length (0 if it does not fit). */
static size_t rsa_spki(const uint8_t *n, size_t nlen, uint32_t e, uint8_t *out, size_t outsz)
{
	/* SEQUENCE { OID 1.2.840.113549.1.1.1 rsaEncryption, NULL } */
	static const uint8_t algid[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
	                                0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
	uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
	size_t ints = der_uint(NULL, n, nlen) + der_uint(NULL, eb, 4);
	size_t rsapub = 1 + der_len_size(ints) + ints; /* RSAPublicKey SEQUENCE */
	size_t bits = 1 + rsapub;                      /* unused-bits octet + key */
	size_t bitstr = 1 + der_len_size(bits) + bits; /* BIT STRING */
	size_t body = sizeof algid + bitstr;
	size_t total = 1 + der_len_size(body) + body;
	size_t o = 0;

	if (total > outsz)
		return 0;
	out[o++] = 0x30;
	o += der_len(out + o, body);
	memcpy(out + o, algid, sizeof algid);
	o += sizeof algid;
	out[o++] = 0x03;
	o += der_len(out + o, bits);
	out[o++] = 0x00;
	out[o++] = 0x30;
	o += der_len(out + o, ints);
	o += der_uint(out + o, n, nlen);
	o += der_uint(out + o, eb, 4);
	return o == total ? total : 0;
}

static int append_b64(struct buf *out, const uint8_t *p, size_t n)
{
	return base64_encode_buf(out, p, n, 0) == 0 ? DKIM_OK : DKIM_ETOOBIG;
}

/* 1 when the key's RSA elements fit its buffer and have sane sizes. */
static int rsa_shape_ok(const struct dkim_key *k)
{
	size_t sum = 0;

	if (k->rsa_bits < RSA_MIN_BITS || k->rsa_bits > DKIM_RSA_MAX_BITS)
		return 0;
	for (int i = 0; i < 5; i++) {
		if (k->rsa_len[i] == 0)
			return 0;
		sum += k->rsa_len[i];
	}
	return sum <= sizeof k->rsa_priv;
}

int dkim_key_txt(const struct dkim_key *k, struct buf *out)
{
	if (k->alg == DKIM_ALG_ED25519_SHA256) {
		if (buf_append_c(out, "v=DKIM1; k=ed25519; p=") != 0)
			return DKIM_ETOOBIG;
		return append_b64(out, k->ed_sk + 32, 32);
	}
	if (k->alg != DKIM_ALG_RSA_SHA256 || !rsa_shape_ok(k))
		return DKIM_EINVAL;

	br_rsa_private_key sk;
	uint8_t n[DKIM_RSA_MAX_BITS / 8];
	uint8_t der[DKIM_RSA_MAX_BITS / 8 + 64];
	br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();

	rsa_sk(k, &sk);
	size_t nlen = modulus(NULL, &sk);
	if (nlen == 0 || nlen > sizeof n || modulus(n, &sk) != nlen)
		return DKIM_EINVAL;
	size_t dlen = rsa_spki(n, nlen, k->rsa_e, der, sizeof der);
	if (dlen == 0)
		return DKIM_EINVAL;
	if (buf_append_c(out, "v=DKIM1; k=rsa; p=") != 0)
		return DKIM_ETOOBIG;
	return append_b64(out, der, dlen);
}

/* ---- export / import ---- */

int dkim_key_export(const struct dkim_key *k, uint8_t *out, size_t outsz, size_t *len_r)
{
	size_t o = 0;

	if (k->alg == DKIM_ALG_ED25519_SHA256) {
		if (outsz < 32)
			return DKIM_ETOOBIG;
		memcpy(out, k->ed_sk, 32); /* the seed; the rest is derived */
		*len_r = 32;
		return DKIM_OK;
	}
	if (k->alg != DKIM_ALG_RSA_SHA256 || !rsa_shape_ok(k))
		return DKIM_EINVAL;
	size_t need = 2 + 4 + 5 * 2;
	for (int i = 0; i < 5; i++)
		need += k->rsa_len[i];
	if (need > outsz)
		return DKIM_ETOOBIG;
	out[o++] = (uint8_t)(k->rsa_bits >> 8);
	out[o++] = (uint8_t)k->rsa_bits;
	for (int s = 24; s >= 0; s -= 8)
		out[o++] = (uint8_t)(k->rsa_e >> s);
	const uint8_t *p = k->rsa_priv;
	for (int i = 0; i < 5; i++) {
		out[o++] = (uint8_t)(k->rsa_len[i] >> 8);
		out[o++] = (uint8_t)k->rsa_len[i];
		memcpy(out + o, p, k->rsa_len[i]);
		o += k->rsa_len[i];
		p += k->rsa_len[i];
	}
	*len_r = o;
	return DKIM_OK;
}

static int rsa_import(struct dkim_key *k, const uint8_t *p, size_t len)
{
	size_t o = 6, off = 0;

	if (len < 6)
		return DKIM_EINVAL;
	k->rsa_bits = (uint32_t)p[0] << 8 | p[1];
	k->rsa_e = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5];
	for (int i = 0; i < 5; i++) {
		if (len - o < 2)
			return DKIM_EINVAL;
		size_t n = (size_t)p[o] << 8 | p[o + 1];
		o += 2;
		if (n == 0 || len - o < n || n > sizeof k->rsa_priv - off)
			return DKIM_EINVAL;
		memcpy(k->rsa_priv + off, p + o, n);
		k->rsa_len[i] = (uint16_t)n;
		off += n;
		o += n;
	}
	if (o != len || !rsa_shape_ok(k))
		return DKIM_EINVAL;

	/* A damaged key must fail here, not sign garbage later: the exponent
	 * recomputed from p, dp and from q, dq (dkim_rsa_pubexp) must be the
	 * stored one, and the modulus must have the stored size. */
	br_rsa_private_key sk;
	uint8_t n[DKIM_RSA_MAX_BITS / 8];
	rsa_sk(k, &sk);
	if (dkim_rsa_pubexp(sk.p, sk.plen, sk.q, sk.qlen, sk.dp, sk.dplen, sk.dq, sk.dqlen) !=
	    k->rsa_e)
		return DKIM_EINVAL;
	size_t nlen = br_rsa_compute_modulus_get_default()(n, &sk);
	if (nlen == 0 || nlen != (k->rsa_bits + 7) / 8 || n[0] >> ((k->rsa_bits - 1) % 8) != 1)
		return DKIM_EINVAL;
	return DKIM_OK;
}

int dkim_key_import(struct dkim_key *k, enum dkim_alg alg, const char *selector, int64_t created_at,
                    const uint8_t *p, size_t len)
{
	int rc = DKIM_EINVAL;

	memset(k, 0, sizeof *k);
	k->alg = alg;
	k->created_at = created_at;
	if (!dkim_selector_ok(selector))
		goto fail;
	memcpy(k->selector, selector, strlen(selector) + 1);
	if (alg == DKIM_ALG_RSA_SHA256)
		rc = rsa_import(k, p, len);
	else if (alg == DKIM_ALG_ED25519_SHA256 && len == 32)
		rc = ed_from_seed(k, p) == DKIM_OK ? DKIM_OK : DKIM_EINVAL;
fail:
	if (rc != DKIM_OK)
		dkim_key_wipe(k);
	return rc;
}

/* ---- signing a digest ---- */

int dkim_key_sign_digest(const struct dkim_key *k, const uint8_t digest[32], uint8_t *sig,
                         size_t sigsz, size_t *siglen_r)
{
	if (k->alg == DKIM_ALG_ED25519_SHA256) {
		unsigned long long n = 0;
		if (sigsz < crypto_sign_BYTES)
			return DKIM_ETOOBIG;
		if (sodium_ready() != 0 || crypto_sign_detached(sig, &n, digest, 32, k->ed_sk) != 0)
			return DKIM_ECRYPTO;
		*siglen_r = (size_t)n;
		return DKIM_OK;
	}
	if (k->alg != DKIM_ALG_RSA_SHA256 || !rsa_shape_ok(k))
		return DKIM_ECRYPTO;

	return dkim_rsa_sign(k, digest, sig, sigsz, siglen_r);
}
