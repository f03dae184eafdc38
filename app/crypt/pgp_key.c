/*
 * pgp_key.c — OpenPGP public keys read; see pgp.h.
 *
 * Reading is one bounded walk over the packets (RFC 9580 §4.2: new and
 * old packet headers; partial lengths refused, as no key packet may use
 * them) keeping each key packet's facts and, from the signatures that
 * follow it, its flags, expiry and revocation (§5.2.3: hashed subpackets
 * only, as unhashed ones are anyone's to add). At most KEYS_MAX keys are
 * looked at; the rest are ignored.
 */
#include "crypt/pgp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bearssl.h>

#include "core/base64.h"
#include "crypt/crypt_sink.h"

#define KEYS_MAX 64

/* ---- Small readers ---- */

struct rd {
	const uint8_t *p, *end;
};

static int rd_u8(struct rd *r, unsigned *v)
{
	if (r->p >= r->end)
		return -1;
	*v = *r->p++;
	return 0;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
	if (r->end - r->p < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return 0;
}

/* An MPI (§3.2): its octets without leading zeros, at most max. */
static int rd_mpi(struct rd *r, uint8_t *out, size_t max, size_t *len_r, unsigned *bits_r)
{
	if (r->end - r->p < 2)
		return -1;
	size_t n = (((size_t)r->p[0] << 8 | r->p[1]) + 7) / 8;
	r->p += 2;
	if ((size_t)(r->end - r->p) < n)
		return -1;
	const uint8_t *v = r->p;
	r->p += n;
	while (n && *v == 0)
		v++, n--;
	if (n > max)
		return -1;
	memcpy(out, v, n);
	*len_r = n;
	/* The value's own size, not the header's claim: a 2048-bit modulus
	 * is one whose top bit is set. */
	if (bits_r) {
		*bits_r = (unsigned)n * 8;
		for (uint8_t top = n ? v[0] : 0x80; !(top & 0x80); top <<= 1)
			(*bits_r)--;
	}
	return 0;
}

/* ---- Armor (§6) ---- */

static const char *find(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);
	for (; (size_t)(end - p) >= n; p++)
		if (*p == *s && memcmp(p, s, n) == 0)
			return p;
	return NULL;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

/* The armored block's packets into out (size *len_r in, out). */
static int dearmor(const char *text, size_t len, uint8_t *out, size_t *len_r, char *err,
		   size_t errsz)
{
	const char *end = text + len;
	const char *p = find(text, end, "-----BEGIN PGP ");
	if (!p) {
		snprintf(err, errsz, "this is not an OpenPGP key: no \"-----BEGIN PGP PUBLIC KEY BLOCK-----\" line");
		return -1;
	}
	if (find(p, end, "-----BEGIN PGP PRIVATE KEY BLOCK-----") == p) {
		snprintf(err, errsz, "this is a secret key: upload the public key (gpg --armor --export), never the secret one");
		return -1;
	}
	if (find(p, end, "-----BEGIN PGP PUBLIC KEY BLOCK-----") != p) {
		snprintf(err, errsz, "this is not an OpenPGP public key block");
		return -1;
	}
	p = line_end(p, end);
	/* Armor headers ("Comment: ...") up to an empty line (§6.2). */
	const char *q = p;
	while (q < end) {
		const char *le = line_end(q, end);
		const char *t = q;
		while (t < le && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n'))
			t++;
		if (t == le) {
			p = le;
			break;
		}
		if (!memchr(q, ':', (size_t)(le - q)))
			break; /* no empty line: GnuPG-compatible leniency */
		q = le;
		p = q;
	}
	size_t nd = 0;
	char *digits = malloc((size_t)(end - p) + 1);
	if (!digits)
		return -1;
	const char *crc_at = NULL;
	int ended = 0;
	while (p < end) {
		const char *le = line_end(p, end);
		const char *t = p;
		while (t < le && (*t == ' ' || *t == '\t'))
			t++;
		if (le - t >= 5 && memcmp(t, "-----", 5) == 0) {
			ended = 1;
			break;
		}
		if (t < le && *t == '=' && (nd % 4) == 0) {
			crc_at = t + 1;
			p = le;
			continue;
		}
		for (; t < le; t++)
			if (*t != '\r' && *t != '\n' && *t != ' ' && *t != '\t')
				digits[nd++] = *t;
		p = le;
	}
	int rc = -1;
	if (!ended) {
		snprintf(err, errsz, "the key block has no \"-----END PGP PUBLIC KEY BLOCK-----\" line");
		goto out;
	}
	if (base64_decode((struct str){digits, nd}, 0, (char *)out, *len_r, len_r) < 0) {
		snprintf(err, errsz, "the key block's base64 is damaged");
		goto out;
	}
	if (crc_at) {
		char c64[5];
		size_t cn;
		uint8_t c[4];
		memcpy(c64, crc_at, 4);
		c64[4] = 0;
		if ((size_t)(end - crc_at) < 4 ||
		    base64_decode((struct str){c64, 4}, 0, (char *)c, sizeof c, &cn) < 0 ||
		    cn != 3) {
			snprintf(err, errsz, "the key block's checksum line is damaged");
			goto out;
		}
		uint32_t want = (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
		if (want != crypt_crc24(CRYPT_CRC24_INIT, out, *len_r)) {
			snprintf(err, errsz, "the key block's checksum does not match: the key was damaged on the way");
			goto out;
		}
	}
	rc = 0;
out:
	free(digits);
	return rc;
}

/* ---- Packets (§4.2) ---- */

/* The next packet's tag and body: 1, 0 at the end, -1 when damaged. */
static int next_packet(struct rd *r, unsigned *tag, struct rd *body)
{
	unsigned h, o1, o2;
	uint32_t v;
	size_t n;

	if (r->p >= r->end)
		return 0;
	h = *r->p++;
	if (!(h & 0x80))
		return -1;
	if (h & 0x40) {
		*tag = h & 0x3f;
		if (rd_u8(r, &o1) < 0)
			return -1;
		if (o1 < 192) {
			n = o1;
		} else if (o1 < 224) {
			if (rd_u8(r, &o2) < 0)
				return -1;
			n = ((size_t)(o1 - 192) << 8) + o2 + 192;
		} else if (o1 == 255) {
			if (rd_u32(r, &v) < 0)
				return -1;
			n = v;
		} else {
			return -1; /* a partial length: no key packet has one */
		}
	} else {
		*tag = (h >> 2) & 0xf;
		switch (h & 3) {
		case 0:
			if (rd_u8(r, &o1) < 0)
				return -1;
			n = o1;
			break;
		case 1:
			if (rd_u8(r, &o1) < 0 || rd_u8(r, &o2) < 0)
				return -1;
			n = (size_t)o1 << 8 | o2;
			break;
		case 2:
			if (rd_u32(r, &v) < 0)
				return -1;
			n = v;
			break;
		default:
			return -1;
		}
	}
	if ((size_t)(r->end - r->p) < n)
		return -1;
	body->p = r->p;
	body->end = r->p + n;
	r->p += n;
	return 1;
}

/* What the walk learned of one key packet. */
struct kinfo {
	struct pgp_key k;
	unsigned version;
	unsigned algo_raw;
	int is_primary;
	int supported;     /* algorithm and parameters usable to encrypt */
	int flags;         /* key flags' first octet; -1 none seen */
	int64_t sig_time;  /* of the self-signature flags and expiry came from */
	uint32_t expiry;   /* seconds after creation; 0 never */
	int revoked;
};

static const uint8_t OID_CV25519[] = {0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01};
static const uint8_t OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_P521[] = {0x2B, 0x81, 0x04, 0x00, 0x23};

static void fingerprint(const uint8_t *body, size_t n, uint8_t fpr[20])
{
	br_sha1_context c;
	uint8_t h[3] = {0x99, (uint8_t)(n >> 8), (uint8_t)n};
	br_sha1_init(&c);
	br_sha1_update(&c, h, 3);
	br_sha1_update(&c, body, n);
	br_sha1_out(&c, fpr);
}

/* ECDH parameters (RFC 6637 §9): the curve, its point, the KDF's. */
static int parse_ecdh(struct rd *r, struct kinfo *ki)
{
	struct pgp_key *k = &ki->k;
	unsigned oidlen, kl, res, h, s;
	if (rd_u8(r, &oidlen) < 0 || oidlen == 0 || oidlen > sizeof k->oid ||
	    (size_t)(r->end - r->p) < oidlen)
		return -1;
	memcpy(k->oid, r->p, oidlen);
	k->oidlen = oidlen;
	r->p += oidlen;
	uint8_t q[133];
	size_t qlen;
	if (rd_mpi(r, q, sizeof q, &qlen, NULL) < 0 || rd_u8(r, &kl) < 0 || kl < 3 ||
	    (size_t)(r->end - r->p) < kl || rd_u8(r, &res) < 0 || res != 1 || rd_u8(r, &h) < 0 ||
	    rd_u8(r, &s) < 0)
		return -1;
	k->kdf_hash = (int)h;
	k->kdf_sym = (int)s;
	size_t want;
	if (oidlen == sizeof OID_CV25519 && memcmp(k->oid, OID_CV25519, oidlen) == 0) {
		k->curve = BR_EC_curve25519, want = 33, k->bits = 255;
	} else if (oidlen == sizeof OID_P256 && memcmp(k->oid, OID_P256, oidlen) == 0) {
		k->curve = BR_EC_secp256r1, want = 65, k->bits = 256;
	} else if (oidlen == sizeof OID_P384 && memcmp(k->oid, OID_P384, oidlen) == 0) {
		k->curve = BR_EC_secp384r1, want = 97, k->bits = 384;
	} else if (oidlen == sizeof OID_P521 && memcmp(k->oid, OID_P521, oidlen) == 0) {
		k->curve = BR_EC_secp521r1, want = 133, k->bits = 521;
	} else {
		return 0; /* a curve we do not have (Brainpool, X448) */
	}
	if (qlen != want || q[0] != (k->curve == BR_EC_curve25519 ? 0x40 : 0x04))
		return -1;
	if (k->curve == BR_EC_curve25519) {
		memcpy(k->q, q + 1, 32);
		k->qlen = 32;
	} else {
		memcpy(k->q, q, qlen);
		k->qlen = qlen;
	}
	if (h < 8 || h > 10 || s < 7 || s > 9)
		return 0;
	ki->supported = 1;
	return 0;
}

/* A public key or subkey packet (§5.5.2). -1 when damaged. */
static int parse_key(struct rd body, struct kinfo *ki)
{
	struct rd r = body;
	unsigned v, algo;
	uint32_t created;

	ki->flags = -1;
	if (rd_u8(&r, &v) < 0)
		return -1;
	ki->version = v;
	if (v != 4)
		return 0;
	if (rd_u32(&r, &created) < 0 || rd_u8(&r, &algo) < 0)
		return -1;
	ki->k.created = created;
	ki->algo_raw = algo;
	ki->k.algo = (int)algo;
	fingerprint(body.p, (size_t)(body.end - body.p), ki->k.fpr);
	switch (algo) {
	case 1:
	case 2:
	case 3:
		if (rd_mpi(&r, ki->k.n, sizeof ki->k.n, &ki->k.nlen, &ki->k.bits) < 0 ||
		    rd_mpi(&r, ki->k.e, sizeof ki->k.e, &ki->k.elen, NULL) < 0 || ki->k.nlen == 0 ||
		    ki->k.elen == 0)
			return -1;
		ki->supported = algo != 3;
		return 0;
	case PGP_PK_ECDH:
		return parse_ecdh(&r, ki);
	default:
		return 0;
	}
}

/* A signature (§5.2.3, version 4 only) over the key at cur. */
static void parse_sig(struct rd r, struct kinfo *keys, size_t cur)
{
	unsigned v, type, pk, ha, o1, o2;
	int64_t when = 0;
	uint32_t expiry = 0;
	int flags = -1, has_expiry = 0;
	const uint8_t *issuer = NULL; /* 8-octet key ID */

	if (rd_u8(&r, &v) < 0 || v != 4 || rd_u8(&r, &type) < 0 || rd_u8(&r, &pk) < 0 ||
	    rd_u8(&r, &ha) < 0 || rd_u8(&r, &o1) < 0 || rd_u8(&r, &o2) < 0)
		return;
	size_t hl = (size_t)o1 << 8 | o2;
	if ((size_t)(r.end - r.p) < hl)
		return;
	/* Hashed subpackets, then the unhashed ones for the issuer only. */
	for (int area = 0; area < 2; area++) {
		struct rd s = {r.p, r.p + hl};
		r.p += hl;
		while (s.p < s.end) {
			uint32_t n;
			if (rd_u8(&s, &o1) < 0)
				return;
			if (o1 < 192) {
				n = o1;
			} else if (o1 < 255) {
				if (rd_u8(&s, &o2) < 0)
					return;
				n = ((o1 - 192) << 8) + o2 + 192;
			} else if (rd_u32(&s, &n) < 0) {
				return;
			}
			if (n == 0 || (size_t)(s.end - s.p) < n)
				return;
			unsigned st = s.p[0] & 0x7f;
			const uint8_t *d = s.p + 1;
			size_t dl = n - 1;
			s.p += n;
			if (st == 16 && dl == 8)
				issuer = d;
			else if (st == 33 && dl == 21 && d[0] == 4)
				issuer = d + 13;
			if (area == 1)
				continue;
			if (st == 2 && dl == 4)
				when = (int64_t)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
						 (uint32_t)d[2] << 8 | d[3]);
			else if (st == 9 && dl == 4)
				expiry = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3],
				has_expiry = 1;
			else if (st == 27 && dl >= 1)
				flags = d[0];
		}
		if (area == 0) {
			if (rd_u8(&r, &o1) < 0 || rd_u8(&r, &o2) < 0)
				return;
			hl = (size_t)o1 << 8 | o2;
			if ((size_t)(r.end - r.p) < hl)
				return;
		}
	}
	/* Only the key's own signatures speak for it. */
	if (issuer && memcmp(issuer, keys[0].k.fpr + 12, 8) != 0)
		return;
	struct kinfo *ki = NULL;
	if ((type >= 0x10 && type <= 0x13) || type == 0x1F || type == 0x20)
		ki = &keys[0];
	else if ((type == 0x18 || type == 0x28) && cur > 0)
		ki = &keys[cur];
	if (!ki)
		return;
	if (type == 0x20 || type == 0x28) {
		ki->revoked = 1;
		return;
	}
	if (when < ki->sig_time)
		return; /* an older self-signature: the newest one counts */
	ki->sig_time = when;
	if (flags >= 0)
		ki->flags = flags;
	ki->expiry = has_expiry ? expiry : 0;
}

static const char *algo_name(unsigned a)
{
	switch (a) {
	case 16: return "ElGamal";
	case 17: return "DSA";
	case 19: return "ECDSA";
	case 22: return "EdDSA";
	case 25: return "X25519";
	case 26: return "X448";
	case 18: return "ECDH on a curve not supported (Brainpool or X448)";
	default: return "an unknown algorithm";
	}
}

/* Whether ki can take mail now: usable algorithm, marked to encrypt (or
 * unmarked RSA and ECDH keys, which predate key flags), not revoked,
 * not expired. */
static int usable(const struct kinfo *ki, int64_t now)
{
	if (ki->version != 4 || !ki->supported || ki->revoked)
		return 0;
	if (ki->flags >= 0 ? !(ki->flags & 0x0C) : ki->is_primary && ki->algo_raw == PGP_PK_ECDH)
		return 0;
	if (ki->expiry && now >= ki->k.created + (int64_t)ki->expiry)
		return 0;
	return 1;
}

static int choose(struct kinfo *keys, size_t n, struct pgp_key *k, char *err, size_t errsz)
{
	int64_t now = (int64_t)time(NULL);
	size_t best = n;
	for (size_t i = 1; i < n; i++)
		if (usable(&keys[i], now) && (best == n || keys[i].k.created >= keys[best].k.created))
			best = i;
	if (best == n && usable(&keys[0], now))
		best = 0;
	if (best < n) {
		*k = keys[best].k;
		memcpy(k->primary_fpr, keys[0].k.fpr, 20);
		memcpy(k->uid, keys[0].k.uid, sizeof k->uid);
		k->expires = keys[best].expiry ? k->created + keys[best].expiry : 0;
		return 0;
	}
	/* Why not: the most telling reason among the keys meant to encrypt. */
	for (size_t i = 0; i < n; i++) {
		const struct kinfo *ki = &keys[i];
		int meant = ki->flags >= 0 ? (ki->flags & 0x0C) != 0 : !ki->is_primary;
		if (!meant)
			continue;
		if (ki->version != 4)
			snprintf(err, errsz, "the key's encryption key is a version %u key: only version 4 "
				 "keys are supported (export a version 4 key)", ki->version);
		else if (!ki->supported && (ki->algo_raw == 1 || ki->algo_raw == 2))
			snprintf(err, errsz, "the key's RSA encryption key is damaged");
		else if (!ki->supported)
			snprintf(err, errsz, "the key's encryption key uses %s: RSA, Curve25519 (cv25519) "
				 "and NIST P-256/384/521 keys are supported", algo_name(ki->algo_raw));
		else if (ki->revoked)
			snprintf(err, errsz, "the key's encryption key is revoked");
		else
			snprintf(err, errsz, "the key's encryption key has expired");
		return -1;
	}
	snprintf(err, errsz, "the key has no encryption key (a signing-only key): add an "
		 "encryption subkey (gpg --quick-add-key FINGERPRINT cv25519 encr)");
	return -1;
}

int pgp_key_parse(const char *text, size_t len, struct pgp_key *k, char *err, size_t errsz)
{
	uint8_t *bin = NULL;
	size_t blen;
	struct kinfo *keys = NULL;
	size_t nkeys = 0;
	int rc = -1;

	memset(k, 0, sizeof *k);
	if (len > PGP_KEY_TEXT_MAX) {
		snprintf(err, errsz, "the key is over %d KiB: export it without the signatures of "
			 "others (gpg --export-options export-minimal --armor --export)",
			 PGP_KEY_TEXT_MAX / 1024);
		return -1;
	}
	if (len && ((uint8_t)text[0] & 0x80)) {
		bin = malloc(len ? len : 1);
		if (!bin)
			return -1;
		memcpy(bin, text, len);
		blen = len;
	} else {
		blen = len;
		bin = malloc(len ? len : 1);
		if (!bin)
			return -1;
		if (dearmor(text, len, bin, &blen, err, errsz) < 0)
			goto out;
	}
	keys = calloc(KEYS_MAX, sizeof *keys);
	if (!keys)
		goto out;
	struct rd r = {bin, bin + blen}, body;
	unsigned tag;
	int got, first = 1;
	while ((got = next_packet(&r, &tag, &body)) > 0) {
		if (first && tag != 6) {
			snprintf(err, errsz, tag == 5 ? "this is a secret key: upload the public key "
				 "(gpg --armor --export), never the secret one"
				 : "this is not an OpenPGP public key (it starts with packet type %u)", tag);
			goto out;
		}
		first = 0;
		if (tag == 5 || tag == 7) {
			snprintf(err, errsz, "this holds a secret key: upload the public key "
				 "(gpg --armor --export), never the secret one");
			goto out;
		}
		if (tag == 6 && nkeys > 0)
			break; /* a second key of a keyring: the first is the one */
		if (tag == 6 || tag == 14) {
			if (nkeys == KEYS_MAX)
				continue;
			struct kinfo *ki = &keys[nkeys];
			ki->is_primary = tag == 6;
			if (parse_key(body, ki) < 0) {
				snprintf(err, errsz, "the key is damaged (a key packet cannot be read)");
				goto out;
			}
			nkeys++;
		} else if (tag == 13 && nkeys == 1 && !keys[0].k.uid[0]) {
			size_t n = (size_t)(body.end - body.p), j = 0;
			for (size_t i = 0; i < n && j + 1 < sizeof keys[0].k.uid; i++)
				keys[0].k.uid[j++] = body.p[i] < 0x20 || body.p[i] == 0x7f ? '?' : (char)body.p[i];
			keys[0].k.uid[j] = 0;
		} else if (tag == 2 && nkeys > 0) {
			parse_sig(body, keys, nkeys - 1);
		}
	}
	if (got < 0) {
		snprintf(err, errsz, "the key is damaged (a packet runs past the end)");
		goto out;
	}
	if (nkeys == 0) {
		snprintf(err, errsz, "this is not an OpenPGP public key (no key packet)");
		goto out;
	}
	if (keys[0].version != 4) {
		snprintf(err, errsz, "this is a version %u key: only version 4 keys are supported "
			 "(GnuPG, Thunderbird and OpenKeychain make them)", keys[0].version);
		goto out;
	}
	if (keys[0].revoked) {
		snprintf(err, errsz, "the key is revoked");
		goto out;
	}
	rc = choose(keys, nkeys, k, err, errsz);
	if (rc == 0 && k->algo != PGP_PK_ECDH && (k->bits < 2048 || k->bits > 4096)) {
		snprintf(err, errsz, "the key's RSA encryption key has %u bits: 2048 to 4096 are "
			 "accepted", k->bits);
		rc = -1;
	}
out:
	free(keys);
	free(bin);
	if (rc < 0)
		memset(k, 0, sizeof *k);
	return rc;
}

void pgp_fpr_hex(const uint8_t fpr[20], char out[41])
{
	static const char hx[] = "0123456789ABCDEF";
	for (int i = 0; i < 20; i++) {
		out[2 * i] = hx[fpr[i] >> 4];
		out[2 * i + 1] = hx[fpr[i] & 15];
	}
	out[40] = 0;
}
