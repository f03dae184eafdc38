/*
 * pgp.c — messages encrypted to an OpenPGP key; see pgp.h. The key is
 * read by pgp_key.c.
 *
 * One pass, in constant memory: the public-key packet, then the
 * integrity-protected packet's plaintext (prefix, literal packet header,
 * the parts, the MDC) hashed, CFB-encrypted and armored as it comes.
 */
#include "crypt/pgp.h"

#include <string.h>

#include <bearssl.h>
#include <sodium.h>

#include "core/base64.h"
#include "crypt/crypt_prim.h"
#include "crypt/crypt_sink.h"

/* ---- Encrypting ---- */

/* AES key wrap (RFC 3394 §2.2.1) of n 8-octet blocks into out (n + 1). */
static void key_wrap(const uint8_t *kek, size_t keklen, const uint8_t *in, size_t n, uint8_t *out)
{
	struct crypt_aes a;
	uint8_t b[16];
	crypt_aes_init(&a, kek, keklen);
	memset(out, 0xA6, 8);
	memcpy(out + 8, in, n * 8);
	for (unsigned j = 0; j < 6; j++)
		for (size_t i = 1; i <= n; i++) {
			memcpy(b, out, 8);
			memcpy(b + 8, out + 8 * i, 8);
			crypt_aes_block(&a, b);
			uint64_t t = (uint64_t)n * j + i;
			for (int x = 7; x >= 0; x--, t >>= 8)
				b[x] ^= (uint8_t)t;
			memcpy(out, b, 8);
			memcpy(out + 8 * i, b + 8, 8);
		}
	crypt_aes_wipe(&a);
	sodium_memzero(b, sizeof b);
}

static int put_mpi(struct buf *o, const uint8_t *v, size_t n)
{
	while (n && *v == 0)
		v++, n--;
	unsigned bits = (unsigned)n * 8;
	if (n)
		for (uint8_t top = v[0]; !(top & 0x80); top <<= 1)
			bits--;
	uint8_t h[2] = {(uint8_t)(bits >> 8), (uint8_t)bits};
	return buf_append(o, h, 2) < 0 || buf_append(o, v, n) < 0 ? -1 : 0;
}

/* The session key's algorithm, key and checksum (§5.1.3). */
static size_t session_m(uint8_t *m, int sym, const uint8_t *key, size_t keylen)
{
	unsigned sum = 0;
	m[0] = (uint8_t)sym;
	memcpy(m + 1, key, keylen);
	for (size_t i = 0; i < keylen; i++)
		sum += key[i];
	m[1 + keylen] = (uint8_t)(sum >> 8);
	m[2 + keylen] = (uint8_t)sum;
	return keylen + 3;
}

/* RSA (§5.1.4): EME-PKCS1-v1_5 of m, raised to e, as an MPI. */
static int pkesk_rsa(struct buf *o, const struct pgp_key *k, const uint8_t *m, size_t mlen)
{
	uint8_t em[512];
	int rc = crypt_rsa_pkcs1_encrypt(k->n, k->nlen, k->e, k->elen, m, mlen, em) == 0
			 ? put_mpi(o, em, k->nlen)
			 : -1;
	sodium_memzero(em, sizeof em);
	return rc;
}

static const br_hash_class *kdf_hash(int id, size_t *len)
{
	switch (id) {
	case 8: *len = 32; return &br_sha256_vtable;
	case 9: *len = 48; return &br_sha384_vtable;
	default: *len = 64; return &br_sha512_vtable;
	}
}

/* A scalar below the curve's order, not zero (rejection sampling). */
static void random_scalar(int curve, uint8_t *x, size_t *xlen)
{
	const br_ec_impl *ec = br_ec_get_default();
	size_t olen;
	const uint8_t *order = ec->order(curve, &olen);
	uint8_t mask = 0xFF;
	while (mask >> 1 >= order[0])
		mask >>= 1;
	for (;;) {
		randombytes_buf(x, olen);
		x[0] &= mask;
		int below = memcmp(x, order, olen) < 0, zero = 1;
		for (size_t i = 0; i < olen; i++)
			zero &= x[i] == 0;
		if (below && !zero)
			break;
	}
	*xlen = olen;
}

/* ECDH (RFC 6637 §8): an ephemeral key, the shared point's KDF as the
 * key-encryption key, m padded and wrapped. */
static int pkesk_ecdh(struct buf *o, const struct pgp_key *k, const uint8_t *m, size_t mlen)
{
	const br_ec_impl *ec = br_ec_get_default();
	uint8_t x[66], eph[133], shared[133], z[66], mb[64], pad[48], wrapped[56];
	size_t xlen, ephlen, zlen, hlen, keklen;
	int rc = -1;

	if (k->curve == BR_EC_curve25519) {
		/* X25519 (RFC 7748) by libsodium, a few times faster than the
		 * generic code; it refuses a point of small order (an all-zero
		 * shared secret). */
		randombytes_buf(x, 32);
		eph[0] = 0x40;
		ephlen = 33;
		if (crypto_scalarmult_curve25519_base(eph + 1, x) != 0 ||
		    crypto_scalarmult_curve25519(z, x, k->q) != 0)
			goto out;
		zlen = 32;
	} else {
		random_scalar(k->curve, x, &xlen);
		ephlen = ec->mulgen(eph, x, xlen, k->curve);
		memcpy(shared, k->q, k->qlen);
		if (ephlen < 2 || !ec->mul(shared, k->qlen, x, xlen, k->curve))
			goto out;
		size_t off = ec->xoff(k->curve, &zlen);
		memcpy(z, shared + off, zlen);
	}
	/* KDF(Z, param) = Hash(00 00 00 01 || Z || param) (§7). */
	uint8_t param[10 + 1 + 1 + 4 + 20 + 20];
	size_t pl = 0;
	param[pl++] = (uint8_t)k->oidlen;
	memcpy(param + pl, k->oid, k->oidlen);
	pl += k->oidlen;
	param[pl++] = PGP_PK_ECDH;
	param[pl++] = 3;
	param[pl++] = 1;
	param[pl++] = (uint8_t)k->kdf_hash;
	param[pl++] = (uint8_t)k->kdf_sym;
	memcpy(param + pl, "Anonymous Sender    ", 20);
	pl += 20;
	memcpy(param + pl, k->fpr, 20);
	pl += 20;
	const br_hash_class *hc = kdf_hash(k->kdf_hash, &hlen);
	br_hash_compat_context hx;
	static const uint8_t one[4] = {0, 0, 0, 1};
	hc->init(&hx.vtable);
	hc->update(&hx.vtable, one, 4);
	hc->update(&hx.vtable, z, zlen);
	hc->update(&hx.vtable, param, pl);
	hc->out(&hx.vtable, mb);
	keklen = k->kdf_sym == 7 ? 16 : k->kdf_sym == 8 ? 24 : 32;
	/* PKCS #5 padding to a multiple of 8, then the wrap. */
	size_t padn = 8 - mlen % 8;
	memcpy(pad, m, mlen);
	memset(pad + mlen, (int)padn, padn);
	size_t blocks = (mlen + padn) / 8;
	key_wrap(mb, keklen, pad, blocks, wrapped);
	uint8_t wl = (uint8_t)(8 * (blocks + 1));
	if (put_mpi(o, eph, ephlen) < 0 || buf_append(o, &wl, 1) < 0 ||
	    buf_append(o, wrapped, wl) < 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(x, sizeof x);
	sodium_memzero(shared, sizeof shared);
	sodium_memzero(z, sizeof z);
	sodium_memzero(mb, sizeof mb);
	sodium_memzero(pad, sizeof pad);
	sodium_memzero(&hx, sizeof hx);
	return rc;
}

/* The armored message as it is made: binary octets go through the
 * base64 lines (with the CRC-24); plaintext octets are first hashed for
 * the MDC and encrypted in OpenPGP's CFB mode (§5.13.1: IV zero, no
 * resynchronisation), the keystream block made as each block starts. */
struct pgp_w {
	struct base64_lines b64;
	uint32_t crc; /* CRC-24 of the binary octets (§6.1) */
	struct crypt_aes aes;
	uint8_t fr[16]; /* the last ciphertext block, then E() of it */
	size_t pos;     /* octets of the current block done */
	br_sha1_context sha;
};

static void put_bin(struct pgp_w *w, const void *p, size_t n)
{
	w->crc = crypt_crc24(w->crc, p, n);
	base64_lines_put(&w->b64, p, n);
}

static void put_plain(struct pgp_w *w, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint8_t c[4096];
	br_sha1_update(&w->sha, p, n);
	while (n) {
		size_t k = n < sizeof c ? n : sizeof c;
		for (size_t i = 0; i < k; i++) {
			if (w->pos == 0)
				crypt_aes_block(&w->aes, w->fr);
			c[i] = w->fr[w->pos] ^= p[i];
			w->pos = (w->pos + 1) & 15;
		}
		put_bin(w, c, k);
		p += k;
		n -= k;
	}
	sodium_memzero(c, sizeof c);
}

/* A new-format packet header (§4.2.1) into h: its length. */
static size_t packet_header(uint8_t h[6], unsigned tag, size_t n)
{
	h[0] = (uint8_t)(0xC0 | tag);
	if (n < 192) {
		h[1] = (uint8_t)n;
		return 2;
	}
	if (n < 8384) {
		h[1] = (uint8_t)(((n - 192) >> 8) + 192);
		h[2] = (uint8_t)(n - 192);
		return 3;
	}
	h[1] = 255;
	h[2] = (uint8_t)(n >> 24);
	h[3] = (uint8_t)(n >> 16);
	h[4] = (uint8_t)(n >> 8);
	h[5] = (uint8_t)n;
	return 6;
}

int pgp_encrypt_parts(const struct pgp_key *k, int aes_bits, const struct str *parts,
		      size_t nparts, const struct crypt_sink *out)
{
	uint8_t key[32], m[40], prefix[18], mdc[22], h[6];
	size_t keylen = aes_bits == 256 ? 32 : 16;
	int sym = aes_bits == 256 ? 9 : 7;
	struct buf pk;
	struct pgp_w w;
	int rc = -1;

	/* The literal packet: 'b', no file name, no date (§5.9). */
	size_t len = 0;
	for (size_t i = 0; i < nparts; i++)
		len += parts[i].len;
	size_t lit_body = 6 + len;
	size_t lit = packet_header(h, 11, lit_body) + lit_body;
	size_t plain = sizeof prefix + lit + sizeof mdc;
	if (lit_body < len || plain < lit || plain + 1 > 0xFFFFFFFFu)
		return -1;

	memset(&w, 0, sizeof w);
	randombytes_buf(key, keylen);
	size_t mlen = session_m(m, sym, key, keylen);
	buf_init(&pk, 4096);
	uint8_t ph[10] = {3};
	memcpy(ph + 1, k->fpr + 12, 8);
	ph[9] = (uint8_t)k->algo;
	if (buf_append(&pk, ph, 10) < 0 ||
	    (k->algo == PGP_PK_ECDH ? pkesk_ecdh(&pk, k, m, mlen) : pkesk_rsa(&pk, k, m, mlen)) < 0)
		goto out;
	if (out->write(out->arg, "-----BEGIN PGP MESSAGE-----\r\n\r\n", 31) < 0)
		goto out;
	base64_lines_init(&w.b64, out->write, out->arg, 64);
	w.crc = CRYPT_CRC24_INIT;
	put_bin(&w, h, packet_header(h, 1, buf_len(&pk)));
	put_bin(&w, buf_data(&pk), buf_len(&pk));
	put_bin(&w, h, packet_header(h, 18, 1 + plain));
	put_bin(&w, "\x01", 1);
	crypt_aes_init(&w.aes, key, keylen);
	br_sha1_init(&w.sha);
	/* §5.13.2: a random block with its last two octets repeated. */
	randombytes_buf(prefix, 16);
	prefix[16] = prefix[14];
	prefix[17] = prefix[15];
	static const uint8_t lit_head[6] = {'b', 0, 0, 0, 0, 0};
	put_plain(&w, prefix, sizeof prefix);
	put_plain(&w, h, packet_header(h, 11, lit_body));
	put_plain(&w, lit_head, 6);
	for (size_t i = 0; i < nparts; i++)
		put_plain(&w, parts[i].p, parts[i].len);
	/* The modification detection code: SHA-1 of everything before it and
	 * of its own two header octets (§5.14), encrypted with the rest. */
	mdc[0] = 0xD3;
	mdc[1] = 0x14;
	br_sha1_update(&w.sha, mdc, 2);
	br_sha1_out(&w.sha, mdc + 2);
	put_plain(&w, mdc, sizeof mdc);
	if (base64_lines_end(&w.b64) < 0)
		goto out;
	uint8_t c[3] = {(uint8_t)(w.crc >> 16), (uint8_t)(w.crc >> 8), (uint8_t)w.crc};
	char line[8] = "=";
	if (base64_encode(c, 3, 0, line + 1, sizeof line - 1) < 0 ||
	    out->write(out->arg, line, 5) < 0 ||
	    out->write(out->arg, "\r\n-----END PGP MESSAGE-----\r\n", 29) < 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(key, sizeof key);
	sodium_memzero(m, sizeof m);
	sodium_memzero(&w, sizeof w);
	buf_free(&pk);
	return rc;
}

int pgp_encrypt(struct buf *out, const struct pgp_key *k, int aes_bits, const void *data,
		size_t len)
{
	struct crypt_sink sink = {crypt_sink_buf, out};
	struct str part = {data, len};
	return pgp_encrypt_parts(k, aes_bits, &part, 1, &sink);
}
