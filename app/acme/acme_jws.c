/*
 * acme_jws.c — keys, base64url, JWK, JWS and EAB. See acme_jws.h.
 */
#include "acme/acme_jws.h"

#include <string.h>

#include "core/base64.h"
#include "core/random.h"
#include "net/tls_private.h"

static int key_finish(struct acme_key *k)
{
	const br_ec_impl *ec = br_ec_get_default();

	k->sk.curve = BR_EC_secp256r1;
	k->sk.x = k->kbuf;
	k->sk.xlen = sizeof k->kbuf;
	if (br_ec_compute_pub(ec, &k->pk, k->qbuf, &k->sk) != sizeof k->qbuf)
		return -1;
	return 0;
}

int acme_key_generate(struct acme_key *k)
{
	br_hmac_drbg_context rng;
	br_ec_private_key sk;
	unsigned char seed[48], kb[BR_EC_KBUF_PRIV_MAX_SIZE];
	int rc = -1;

	memset(k, 0, sizeof *k);
	if (random_bytes(seed, sizeof seed) < 0)
		return -1;
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof seed);
	if (br_ec_keygen(&rng.vtable, br_ec_get_default(), &sk, kb, BR_EC_secp256r1) ==
	    sizeof k->kbuf) {
		memcpy(k->kbuf, sk.x, sizeof k->kbuf);
		rc = key_finish(k);
	}
	explicit_bzero(&rng, sizeof rng);
	explicit_bzero(seed, sizeof seed);
	explicit_bzero(kb, sizeof kb);
	return rc;
}

int acme_key_from_raw(struct acme_key *k, const unsigned char *x, size_t len)
{
	memset(k, 0, sizeof *k);
	if (len != sizeof k->kbuf)
		return -1;
	memcpy(k->kbuf, x, len);
	return key_finish(k);
}

void acme_key_wipe(struct acme_key *k)
{
	explicit_bzero(k, sizeof *k);
}

int acme_jwk(const struct acme_key *k, struct buf *out)
{
	/* qbuf is 0x04 || X (32) || Y (32). */
	if (buf_append_c(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"") < 0 ||
	    base64_encode_buf(out, k->qbuf + 1, 32, BASE64_URL | BASE64_NOPAD) < 0 ||
	    buf_append_c(out, "\",\"y\":\"") < 0 ||
	    base64_encode_buf(out, k->qbuf + 33, 32, BASE64_URL | BASE64_NOPAD) < 0 ||
	    buf_append_c(out, "\"}") < 0)
		return -1;
	return 0;
}

int acme_thumbprint(const struct acme_key *k, char out[48])
{
	struct buf j;
	unsigned char h[32];
	br_sha256_context sc;
	int rc = -1;

	buf_init(&j, 256);
	if (acme_jwk(k, &j) == 0) {
		br_sha256_init(&sc);
		br_sha256_update(&sc, buf_data(&j), buf_len(&j));
		br_sha256_out(&sc, h);
		rc = base64_encode(h, sizeof h, BASE64_URL | BASE64_NOPAD, out, 48);
	}
	buf_free(&j);
	return rc;
}

/* Appends s as a JSON string body (the values here are URLs, nonces, ids: escape what JSON needs). */
static int json_text(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if (c == '"' || c == '\\')
			rc = buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			rc = buf_printf(b, "\\u%04x", c);
		else
			rc = buf_append(b, s, 1);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Appends "<b64 protected>.<b64 payload>" (the signing input) to in. */
static int signing_input(struct buf *in, const struct buf *prot, const char *payload)
{
	if (base64_encode_buf(in, buf_data(prot), buf_len(prot), BASE64_URL | BASE64_NOPAD) < 0 ||
	    buf_append(in, ".", 1) < 0 ||
	    base64_encode_buf(in, payload, strlen(payload), BASE64_URL | BASE64_NOPAD) < 0)
		return -1;
	return 0;
}

/* Appends {"protected":..,"payload":..,"signature":..} from the signing input and signature. */
static int flatten(struct buf *out, const struct buf *in, const unsigned char *sig, size_t siglen)
{
	const char *p = buf_data(in), *dot = memchr(p, '.', buf_len(in));
	if (dot == NULL)
		return -1;
	if (buf_append_c(out, "{\"protected\":\"") < 0 ||
	    buf_append(out, p, (size_t)(dot - p)) < 0 ||
	    buf_append_c(out, "\",\"payload\":\"") < 0 ||
	    buf_append(out, dot + 1, buf_len(in) - (size_t)(dot - p) - 1) < 0 ||
	    buf_append_c(out, "\",\"signature\":\"") < 0 ||
	    base64_encode_buf(out, sig, siglen, BASE64_URL | BASE64_NOPAD) < 0 ||
	    buf_append_c(out, "\"}") < 0)
		return -1;
	return 0;
}

int acme_jws(const struct acme_key *k, const char *kid, const char *nonce, const char *url,
             const char *payload, struct buf *out)
{
	struct buf prot, in;
	unsigned char h[32], sig[64];
	br_sha256_context sc;
	int rc = -1;

	buf_init(&prot, 4096);
	buf_init(&in, 256 * 1024);
	if (buf_append_c(&prot, "{\"alg\":\"ES256\",") < 0)
		goto out;
	if (kid != NULL) {
		if (buf_append_c(&prot, "\"kid\":\"") < 0 || json_text(&prot, kid) < 0 ||
		    buf_append_c(&prot, "\",") < 0)
			goto out;
	} else if (buf_append_c(&prot, "\"jwk\":") < 0 || acme_jwk(k, &prot) < 0 ||
	           buf_append_c(&prot, ",") < 0) {
		goto out;
	}
	if (buf_append_c(&prot, "\"nonce\":\"") < 0 || json_text(&prot, nonce) < 0 ||
	    buf_append_c(&prot, "\",\"url\":\"") < 0 || json_text(&prot, url) < 0 ||
	    buf_append_c(&prot, "\"}") < 0 || signing_input(&in, &prot, payload) < 0)
		goto out;
	br_sha256_init(&sc);
	br_sha256_update(&sc, buf_data(&in), buf_len(&in));
	br_sha256_out(&sc, h);
	/* JWS ES256 is the raw r||s (RFC 7518 §3.4), not the ASN.1 form. */
	if (br_ecdsa_sign_raw_get_default()(br_ec_get_default(), &br_sha256_vtable, h, &k->sk,
	                                    sig) != sizeof sig)
		goto out;
	rc = flatten(out, &in, sig, sizeof sig);
out:
	buf_free(&prot);
	buf_free(&in);
	return rc;
}

int acme_eab(const struct acme_key *account, const char *eab_kid, const unsigned char *mac_key,
             size_t mac_len, const char *url, struct buf *out)
{
	struct buf prot, jwk, in;
	unsigned char mac[32];
	br_hmac_key_context kc;
	br_hmac_context hc;
	int rc = -1;

	buf_init(&prot, 4096);
	buf_init(&jwk, 512);
	buf_init(&in, 8192);
	if (buf_append_c(&prot, "{\"alg\":\"HS256\",\"kid\":\"") < 0 || json_text(&prot, eab_kid) < 0 ||
	    buf_append_c(&prot, "\",\"url\":\"") < 0 || json_text(&prot, url) < 0 ||
	    buf_append_c(&prot, "\"}") < 0 || acme_jwk(account, &jwk) < 0 ||
	    buf_append(&jwk, "", 1) < 0 || signing_input(&in, &prot, buf_data(&jwk)) < 0)
		goto out;
	br_hmac_key_init(&kc, &br_sha256_vtable, mac_key, mac_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, buf_data(&in), buf_len(&in));
	br_hmac_out(&hc, mac);
	rc = flatten(out, &in, mac, sizeof mac);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
out:
	buf_free(&prot);
	buf_free(&jwk);
	buf_free(&in);
	return rc;
}
