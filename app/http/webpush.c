/*
 * webpush.c — RFC 8291 encryption and RFC 8292 VAPID; see webpush.h.
 */
#include "http/webpush.h"

#include <stdio.h>
#include <string.h>

#include <bearssl.h>

#include "core/base64.h"
#include "core/random.h"
#include "net/tls_private.h"

/* HKDF-SHA-256: Extract(salt, ikm) then Expand(info) into out[0..n). */
static void hkdf(const void *salt, size_t sl, const void *ikm, size_t il, const void *info,
		 size_t infl, void *out, size_t n)
{
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, salt, sl);
	br_hkdf_inject(&hc, ikm, il);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, info, infl, out, n);
}

int webpush_encrypt(const uint8_t *ua_pub, size_t ua_len, const uint8_t *auth, size_t auth_len,
		    const void *pt, size_t n, struct buf *out)
{
	struct acme_key eph;
	uint8_t shared[65], ikm[32], salt[16], cek[16], nonce[12], tag[16];
	uint8_t key_info[14 + 65 + 65];
	static const char ki[] = "WebPush: info"; /* with its NUL: RFC 8291 §3.4 */
	static const char ci[] = "Content-Encoding: aes128gcm";
	static const char ni[] = "Content-Encoding: nonce";
	int rc = -1;

	if (ua_len != 65 || ua_pub[0] != 4 || auth_len != 16 || n + 17 > WEBPUSH_RECORD)
		return -1;
	if (acme_key_generate(&eph) < 0 || random_bytes(salt, sizeof salt) < 0)
		return -1;
	memcpy(shared, ua_pub, 65);
	if (!br_ec_get_default()->mul(shared, 65, eph.sk.x, eph.sk.xlen, BR_EC_secp256r1))
		goto out; /* not a point of the curve */
	/* §3.3-3.4: IKM from the ECDH secret and the auth secret. */
	memcpy(key_info, ki, sizeof ki);
	memcpy(key_info + sizeof ki, ua_pub, 65);
	memcpy(key_info + sizeof ki + 65, eph.qbuf, 65);
	hkdf(auth, 16, shared + 1, 32, key_info, sizeof key_info, ikm, sizeof ikm);
	/* RFC 8188 §2.2-2.3: the content key and nonce. */
	hkdf(salt, 16, ikm, 32, ci, sizeof ci, cek, sizeof cek);
	hkdf(salt, 16, ikm, 32, ni, sizeof ni, nonce, sizeof nonce);

	/* Header: salt, rs (4 octets), idlen, keyid (our public key). */
	uint8_t hdr[16 + 4 + 1 + 65];
	memcpy(hdr, salt, 16);
	hdr[16] = (uint8_t)(WEBPUSH_RECORD >> 24);
	hdr[17] = (uint8_t)(WEBPUSH_RECORD >> 16);
	hdr[18] = (uint8_t)(WEBPUSH_RECORD >> 8);
	hdr[19] = (uint8_t)WEBPUSH_RECORD;
	hdr[20] = 65;
	memcpy(hdr + 21, eph.qbuf, 65);
	size_t at = buf_len(out);
	if (buf_append(out, hdr, sizeof hdr) < 0 || buf_append(out, pt, n) < 0 ||
	    buf_append(out, "\x02", 1) < 0) /* the last record's delimiter */
		goto out;
	br_aes_ct_ctr_keys bc;
	br_gcm_context gc;
	br_aes_ct_ctr_init(&bc, cek, sizeof cek);
	br_gcm_init(&gc, &bc.vtable, br_ghash_ctmul32);
	br_gcm_reset(&gc, nonce, sizeof nonce);
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 1, buf_data(out) + at + sizeof hdr, n + 1);
	br_gcm_get_tag(&gc, tag);
	if (buf_append(out, tag, sizeof tag) < 0)
		goto out;
	rc = 0;
out:
	acme_key_wipe(&eph);
	explicit_bzero(shared, sizeof shared);
	explicit_bzero(ikm, sizeof ikm);
	explicit_bzero(cek, sizeof cek);
	return rc;
}

int webpush_vapid(const struct acme_key *k, const char *url, int64_t now, const char *sub,
		  char *out, size_t outsz)
{
	static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"ES256\"}";
	char origin[512], claims[1024], input[2048], key[100], sig64[100];
	uint8_t h[32], sig[64];
	const char *p = url + 8, *slash;

	if (strncmp(url, "https://", 8))
		return -1;
	slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	if (hl == 0 || hl + 9 > sizeof origin)
		return -1;
	snprintf(origin, sizeof origin, "https://%.*s", (int)hl, p);
	int cl = snprintf(claims, sizeof claims, "{\"aud\":\"%s\",\"exp\":%lld,\"sub\":\"%s\"}", origin,
			  (long long)(now + 12 * 3600), sub);
	if (cl < 0 || (size_t)cl >= sizeof claims)
		return -1;
	const unsigned b64url = BASE64_URL | BASE64_NOPAD;
	size_t a = base64_encoded_len(sizeof hdr - 1, b64url);
	if (base64_encode(hdr, sizeof hdr - 1, b64url, input, sizeof input) != 0 ||
	    base64_encode(claims, (size_t)cl, b64url, input + a + 1, sizeof input - a - 1) != 0)
		return -1;
	input[a] = '.';
	size_t il = a + 1 + base64_encoded_len((size_t)cl, b64url);
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, input, il);
	br_sha256_out(&sc, h);
	if (br_ecdsa_sign_raw_get_default()(br_ec_get_default(), &br_sha256_vtable, h, &k->sk, sig) !=
	    sizeof sig)
		return -1;
	base64_encode(sig, sizeof sig, BASE64_URL | BASE64_NOPAD, sig64, sizeof sig64);
	base64_encode(k->qbuf, sizeof k->qbuf, BASE64_URL | BASE64_NOPAD, key, sizeof key);
	int n = snprintf(out, outsz, "vapid t=%.*s.%s, k=%s", (int)il, input, sig64, key);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}
