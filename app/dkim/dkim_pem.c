/*
 * dkim_pem.c — a DKIM private key made elsewhere (OpenDKIM, rspamd,
 * Stalwart, openssl) read into a struct dkim_key, so that a domain moving
 * here keeps the selector already published in DNS.
 *
 * Accepted forms:
 *   - PEM "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8) with an RSA
 *     key: BearSSL's br_skey_decoder reads both;
 *   - PEM "PRIVATE KEY" with an Ed25519 key (RFC 8410 §7): a fixed
 *     16-octet prefix and the 32-octet seed, compared here, as BearSSL has
 *     no Ed25519;
 *   - the same objects in DER;
 *   - a base64 Ed25519 key as rspamd and OpenDKIM keep it: the 32-octet
 *     seed, or libsodium's 64-octet secret key (seed then public key,
 *     which must match the seed).
 * PEM goes through the one PEM reader (net/pem.h). The key then goes
 * through dkim_key_import, the check every stored key passes (sizes,
 * public exponent and modulus recomputed), so an imported key is exactly
 * as trustworthy as a generated one.
 *
 * RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits and
 * SHOULD use 2048; 1024 is taken with *weak_r set so the caller can warn.
 * Anything this file cannot sign with gets one sentence in err: encrypted
 * files (no passphrase is asked: the server has nowhere to keep one), a
 * certificate or public key given by mistake, EC keys, other sizes.
 */
#include <bearssl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/xalloc.h"
#include "dkim/dkim.h"
#include "dkim/dkim_rsa.h"
#include "dkim/dkim_verify.h"
#include "net/pem.h"

/* RFC 8410 §7: PrivateKeyInfo v0, AlgorithmIdentifier id-Ed25519
 * (1.3.101.112), then an OCTET STRING wrapping the 32-octet seed. */
static const uint8_t ed25519_pkcs8[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                          0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};

struct pem_key {
	struct dkim_key *k;
	const char *selector;
	int64_t now;
	int found, weak;
	char *err;
	size_t errsz;
};

static int key_err(struct pem_key *c, const char *msg)
{
	snprintf(c->err, c->errsz, "%s", msg);
	return -1;
}

/* The RSA key BearSSL decoded, in dkim_key_export's byte form, imported. */
static int rsa_take(struct pem_key *c, const br_rsa_private_key *sk)
{
	uint8_t rec[DKIM_KEY_EXPORT_MAX];
	const unsigned char *el[5] = {sk->p, sk->q, sk->dp, sk->dq, sk->iq};
	size_t len[5] = {sk->plen, sk->qlen, sk->dplen, sk->dqlen, sk->iqlen};
	uint32_t e = dkim_rsa_pubexp(sk->p, sk->plen, sk->q, sk->qlen, sk->dp, sk->dplen, sk->dq,
	                             sk->dqlen);
	size_t o = 0;
	int rc;

	if (sk->n_bitlen < 1024) {
		snprintf(c->err, c->errsz,
		         "RSA key of %u bits: DKIM needs at least 1024 (RFC 8301 section 3.2), "
		         "2048 recommended",
		         (unsigned)sk->n_bitlen);
		return -1;
	}
	if (sk->n_bitlen > DKIM_RSA_MAX_BITS) {
		snprintf(c->err, c->errsz, "RSA key of %u bits: at most %d are supported",
		         (unsigned)sk->n_bitlen, DKIM_RSA_MAX_BITS);
		return -1;
	}
	if (e == 0)
		return key_err(c, "damaged RSA private key, or a public exponent over 32 bits");
	rec[o++] = (uint8_t)(sk->n_bitlen >> 8);
	rec[o++] = (uint8_t)sk->n_bitlen;
	for (int s = 24; s >= 0; s -= 8)
		rec[o++] = (uint8_t)(e >> s);
	for (int i = 0; i < 5; i++) {
		if (len[i] > sizeof rec - o - 2) {
			sodium_memzero(rec, sizeof rec);
			return key_err(c, "RSA key too large");
		}
		rec[o++] = (uint8_t)(len[i] >> 8);
		rec[o++] = (uint8_t)len[i];
		memcpy(rec + o, el[i], len[i]);
		o += len[i];
	}
	rc = dkim_key_import(c->k, DKIM_ALG_RSA_SHA256, c->selector, c->now, rec, o);
	sodium_memzero(rec, sizeof rec);
	if (rc != DKIM_OK)
		return key_err(c, "damaged RSA private key (its numbers do not make one key)");
	c->weak = sk->n_bitlen < 2048;
	return 0;
}

static int ed_take(struct pem_key *c, const uint8_t seed[32])
{
	if (dkim_key_import(c->k, DKIM_ALG_ED25519_SHA256, c->selector, c->now, seed, 32) !=
	    DKIM_OK)
		return key_err(c, "cannot use the Ed25519 key");
	return 0;
}

/* One DER object; name is its PEM banner ("" for DER given as is). */
static int key_obj(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct pem_key *c = ctx;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0)
		return key_err(c, "the key is encrypted: decrypt it first "
		                  "(openssl pkey -in KEY -out PLAIN.pem)");
	if (strstr(name, "CERTIFICATE") != NULL)
		return key_err(c, "a certificate, not a private key: give the private key "
		                  "the DNS record was made from");
	if (strstr(name, "PUBLIC KEY") != NULL)
		return key_err(c, "a public key: give the private key the DNS record was "
		                  "made from");
	if (strcmp(name, "RSA PRIVATE KEY") != 0 && strcmp(name, "PRIVATE KEY") != 0 &&
	    strcmp(name, "EC PRIVATE KEY") != 0 && name[0] != '\0')
		return 0; /* parameters, comments: not ours */
	if (c->found)
		return key_err(c, "more than one private key: give one key per import");
	c->found = 1;
	if (len == sizeof ed25519_pkcs8 + 32 &&
	    memcmp(der, ed25519_pkcs8, sizeof ed25519_pkcs8) == 0)
		return ed_take(c, der + sizeof ed25519_pkcs8);

	br_skey_decoder_context *dc = xmalloc(sizeof *dc);
	int rc;

	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	if (br_skey_decoder_last_error(dc) != 0)
		rc = key_err(c, "not a private key this server can read (RSA in PKCS#1 or "
		                "PKCS#8, Ed25519 in PKCS#8), or a damaged one");
	else if (br_skey_decoder_key_type(dc) != BR_KEYTYPE_RSA)
		rc = key_err(c, "an EC (ECDSA) key: DKIM signs with RSA or Ed25519 only");
	else
		rc = rsa_take(c, br_skey_decoder_get_rsa(dc));
	sodium_memzero(dc, sizeof *dc); /* the decoded key */
	free(dc);
	return rc;
}

/* The base64 forms of an Ed25519 key (text without a PEM banner). */
static int ed_base64(struct pem_key *c, const char *text, size_t len)
{
	uint8_t bin[64], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	size_t n = 0;
	int rc = -1;

	/* dkim_b64, as for b= and p=: libsodium alone takes some octets over
	 * 0x7F for digits. */
	if (dkim_b64(str_make(text, len), bin, sizeof bin, &n) != 0 || (n != 32 && n != 64))
		return key_err(c, "not a private key: expected PEM (BEGIN PRIVATE KEY, BEGIN RSA "
		                  "PRIVATE KEY) or a base64 Ed25519 key (32 or 64 octets)");
	if (n == 64) {
		/* libsodium's secret key: the seed, then the public key it gives. */
		if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, bin) != 0 ||
		    sodium_memcmp(pk, bin + 32, sizeof pk) != 0) {
			key_err(c, "64-octet Ed25519 key whose public half does not match its seed");
			goto out;
		}
	}
	rc = ed_take(c, bin);
out:
	sodium_memzero(bin, sizeof bin);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

/* Text that says it is encrypted where br_pem_decoder would only see a
 * malformed block: the RFC 1421 header of OpenSSL's "traditional" form. */
static int proc_type_encrypted(const char *text, size_t len)
{
	static const char mark[] = "Proc-Type: 4,ENCRYPTED";

	for (size_t i = 0; i + sizeof mark - 1 <= len; i++)
		if (memcmp(text + i, mark, sizeof mark - 1) == 0)
			return 1;
	return 0;
}

/* 1 when every octet may be in base64 text: then it is no DER (a seed's
 * base64 may begin with '0', which is DER's SEQUENCE tag). */
static int base64_text(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (base64_digit(p[i]) < 0 && (p[i] == '\0' || strchr("= \t\r\n", p[i]) == NULL))
			return 0;
	return 1;
}

int dkim_key_from_text(struct dkim_key *k, const char *selector, int64_t now, const void *data,
                       size_t len, int *weak_r, char *err, size_t errsz)
{
	struct pem_key c = {.k = k, .selector = selector, .now = now, .err = err, .errsz = errsz};
	const unsigned char *p = data;
	int rc;

	memset(k, 0, sizeof *k);
	*weak_r = 0;
	err[0] = '\0';
	if (!dkim_selector_ok(selector)) {
		snprintf(err, errsz, "invalid selector: DNS labels of letters, digits, '-' and '_', "
		                     "at most %d octets",
		         DKIM_SELECTOR_MAX);
		return DKIM_EINVAL;
	}
	if (proc_type_encrypted(data, len)) {
		rc = key_err(&c, "the key is encrypted: decrypt it first "
		                 "(openssl pkey -in KEY -out PLAIN.pem)");
	} else if (tls_looks_pem(p, len)) {
		rc = tls_pem_each(p, len, "key", key_obj, &c, err, errsz) < 0 ? -1 : 0;
		if (rc == 0 && !c.found)
			rc = key_err(&c, "no private key in the PEM text (BEGIN PRIVATE KEY or "
			                 "BEGIN RSA PRIVATE KEY)");
	} else if (len > 0 && p[0] == 0x30 && !base64_text(p, len)) {
		rc = key_obj(&c, "", p, len);
	} else {
		rc = ed_base64(&c, data, len);
	}
	if (rc != 0) {
		dkim_key_wipe(k);
		return DKIM_EINVAL;
	}
	*weak_r = c.weak;
	return DKIM_OK;
}
