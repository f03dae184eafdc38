/*
 * scram.c — SCRAM-SHA-1 and SCRAM-SHA-256, the server side (see scram.h):
 * key derivation, the RFC 5803 stored form, and the exchange's parsing
 * and proof check.
 */
#include "auth/scram.h"

#include <bearssl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"

static const br_hash_class *hash_class(enum scram_hash h)
{
	return h == SCRAM_SHA256 ? &br_sha256_vtable : &br_sha1_vtable;
}

size_t scram_hash_len(enum scram_hash h)
{
	return h == SCRAM_SHA256 ? 32 : 20;
}

const char *scram_mech_name(enum scram_hash h)
{
	return h == SCRAM_SHA256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";
}

int scram_mech_parse(struct str name, enum scram_hash *h_r)
{
	if (str_eq_ci_c(name, "SCRAM-SHA-256"))
		*h_r = SCRAM_SHA256;
	else if (str_eq_ci_c(name, "SCRAM-SHA-1"))
		*h_r = SCRAM_SHA1;
	else
		return -1;
	return 0;
}

static void hmac(enum scram_hash h, const void *key, size_t klen, const void *msg, size_t mlen,
		 uint8_t *out)
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, hash_class(h), key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mlen);
	br_hmac_out(&hc, out);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
}

static void hash(enum scram_hash h, const void *msg, size_t mlen, uint8_t *out)
{
	br_hash_compat_context c;
	const br_hash_class *vt = hash_class(h);

	vt->init(&c.vtable);
	vt->update(&c.vtable, msg, mlen);
	vt->out(&c.vtable, out);
	explicit_bzero(&c, sizeof c);
}

void scram_keys_derive(enum scram_hash h, const void *password, size_t pwlen,
		       const uint8_t *salt, size_t salt_len, uint32_t iter, struct scram_keys *k)
{
	size_t n = scram_hash_len(h);
	uint8_t u[SCRAM_KEY_MAX], salted[SCRAM_KEY_MAX], ck[SCRAM_KEY_MAX];
	uint8_t s1[SCRAM_SALT_MAX + 4];
	br_hmac_key_context kc;
	br_hmac_context hc;

	memset(k, 0, sizeof *k);
	k->hash = h;
	k->iter = iter;
	if (salt_len > SCRAM_SALT_MAX)
		salt_len = SCRAM_SALT_MAX; /* the callers' salts are never longer */
	memcpy(k->salt, salt, salt_len);
	k->salt_len = salt_len;
	/* Hi(): PBKDF2's first block; the password's HMAC key context is
	 * made once and reused for every round. */
	memcpy(s1, salt, salt_len);
	memcpy(s1 + salt_len, "\0\0\0\1", 4);
	br_hmac_key_init(&kc, hash_class(h), password, pwlen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, s1, salt_len + 4);
	br_hmac_out(&hc, u);
	memcpy(salted, u, n);
	for (uint32_t i = 1; i < iter; i++) {
		br_hmac_init(&hc, &kc, 0);
		br_hmac_update(&hc, u, n);
		br_hmac_out(&hc, u);
		for (size_t j = 0; j < n; j++)
			salted[j] ^= u[j];
	}
	hmac(h, salted, n, "Client Key", 10, ck);
	hash(h, ck, n, k->stored_key);
	hmac(h, salted, n, "Server Key", 10, k->server_key);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
	explicit_bzero(u, sizeof u);
	explicit_bzero(salted, sizeof salted);
	explicit_bzero(ck, sizeof ck);
}

void scram_keys_new(enum scram_hash h, const void *password, size_t pwlen, struct scram_keys *k)
{
	uint8_t salt[SCRAM_SALT_LEN];

	randombytes_buf(salt, sizeof salt);
	scram_keys_derive(h, password, pwlen, salt, sizeof salt, SCRAM_ITERATIONS, k);
}

/* ---- The stored form (RFC 5803) ---- */

int scram_keys_format(const struct scram_keys *k, char *out, size_t outsz)
{
	char salt[96], sk[48], vk[48];
	size_t n = scram_hash_len(k->hash);

	base64_encode(k->salt, k->salt_len, 0, salt, sizeof salt);
	base64_encode(k->stored_key, n, 0, sk, sizeof sk);
	base64_encode(k->server_key, n, 0, vk, sizeof vk);
	int w = snprintf(out, outsz, "%s$%u:%s$%s:%s", scram_mech_name(k->hash), k->iter, salt,
			 sk, vk);
	explicit_bzero(sk, sizeof sk);
	explicit_bzero(vk, sizeof vk);
	return w < 0 || (size_t)w >= outsz ? -1 : 0;
}

/* Decodes base64 field [p, end) into min..max octets: the count, or -1. */
static int b64_field(const char *p, const char *end, uint8_t *out, size_t min, size_t max)
{
	char buf[SCRAM_SALT_MAX];
	size_t n;

	if (!end || end < p || base64_decode(str_make(p, (size_t)(end - p)), 0, buf, max, &n) < 0 ||
	    n < min)
		return -1;
	memcpy(out, buf, n);
	explicit_bzero(buf, sizeof buf);
	return (int)n;
}

int scram_keys_parse(const char *s, struct scram_keys *k)
{
	const char *dollar = strchr(s, '$');
	enum scram_hash h;
	uint64_t iter = 0;

	memset(k, 0, sizeof *k);
	if (!dollar || scram_mech_parse(str_make(s, (size_t)(dollar - s)), &h) < 0)
		return -1;
	const char *p = dollar + 1;
	if (*p < '1' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && iter <= SCRAM_ITER_MAX)
		iter = iter * 10 + (uint64_t)(*p++ - '0');
	if (*p != ':' || iter < SCRAM_ITER_MIN || iter > SCRAM_ITER_MAX)
		return -1;
	const char *salt = p + 1, *d2 = strchr(salt, '$');
	const char *sk = d2 ? d2 + 1 : NULL, *colon = sk ? strchr(sk, ':') : NULL;
	size_t n = scram_hash_len(h);
	int sl = colon ? b64_field(salt, d2, k->salt, 8, SCRAM_SALT_MAX) : -1;
	if (sl < 0 || b64_field(sk, colon, k->stored_key, n, n) < 0 ||
	    b64_field(colon + 1, colon + 1 + strlen(colon + 1), k->server_key, n, n) < 0) {
		explicit_bzero(k, sizeof *k);
		return -1;
	}
	k->hash = h;
	k->iter = (uint32_t)iter;
	k->salt_len = (size_t)sl;
	return 0;
}

/* ---- The exchange ---- */

/* The text of attribute "<c>=" at *p up to the next ',' or end: 0 with
 * *v_r and *p past it (and past the ','), -1 when it is not there. */
static int attr(struct str msg, size_t *p, char c, struct str *v_r)
{
	size_t i = *p;

	if (i + 2 > msg.len || msg.p[i] != c || msg.p[i + 1] != '=')
		return -1;
	const char *comma = memchr(msg.p + i + 2, ',', msg.len - i - 2);
	size_t end = comma ? (size_t)(comma - msg.p) : msg.len;
	*v_r = str_make(msg.p + i + 2, end - i - 2);
	*p = comma ? end + 1 : end;
	return 0;
}

/* saslname (RFC 5802 §5.1): UTF-8 without NUL or ',', '=' only as =2C
 * or =3D; unescaped into out (size SCRAM_USER_MAX + 1). 0 or -1. */
static int saslname(struct str v, char *out)
{
	size_t o = 0;

	if (v.len == 0)
		return -1;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.p[i];
		if (c == '\0')
			return -1;
		if (c == '=') {
			if (i + 2 >= v.len)
				return -1;
			if (v.p[i + 1] == '2' && v.p[i + 2] == 'C')
				c = ',';
			else if (v.p[i + 1] == '3' && v.p[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o >= SCRAM_USER_MAX)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* printable = %x21-2B / %x2D-7E: no ',' and nothing outside visible ASCII. */
static int printable(struct str v)
{
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] < 0x21 || (unsigned char)v.p[i] > 0x7e || v.p[i] == ',')
			return 0;
	return 1;
}

/* The extensions after the nonce (RFC 5802 §7): each ALPHA "=" 1*value-char;
 * the reserved 'm' is refused. 0 or -1. */
static int extensions(struct str msg, size_t p)
{
	while (p < msg.len) {
		struct str v;
		char c = msg.p[p];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || c == 'm' ||
		    attr(msg, &p, c, &v) < 0 || v.len == 0 || memchr(v.p, '\0', v.len))
			return -1;
		if (p == msg.len && msg.p[p - 1] == ',')
			return -1; /* a trailing comma */
	}
	return 0;
}

int scram_client_first(struct scram_server *s, enum scram_hash h, struct str msg)
{
	struct str v, authz = STR_NULL;
	size_t p = 0;
	int rc = 0;

	memset(s, 0, sizeof *s);
	s->hash = h;
	s->step = 2;
	if (msg.len == 0 || msg.len > SCRAM_MSG_MAX)
		return -1;
	/* gs2-header: the channel-binding flag, then the authzid. */
	if (msg.p[0] == 'p')
		return SCRAM_BAD_CBIND;
	if ((msg.p[0] != 'n' && msg.p[0] != 'y') || msg.len < 3 || msg.p[1] != ',')
		return -1;
	p = 2;
	if (msg.p[p] != ',') {
		if (attr(msg, &p, 'a', &authz) < 0 || authz.len == 0)
			return -1;
	} else {
		p++;
	}
	if (p > sizeof s->gs2 || msg.p[p - 1] != ',')
		return -1;
	memcpy(s->gs2, msg.p, p);
	s->gs2_len = p;
	/* client-first-message-bare: 'm' reserved, then n=, r=, extensions. */
	size_t bare = p;
	if (attr(msg, &p, 'n', &v) < 0 || saslname(v, s->user) < 0)
		return -1;
	if (authz.len) {
		char az[SCRAM_USER_MAX + 1];
		int bad = saslname(authz, az) < 0;
		if (!bad && strcasecmp(az, s->user) != 0)
			rc = SCRAM_BAD_AUTHZID;
		explicit_bzero(az, sizeof az);
		if (bad)
			return -1;
	}
	if (attr(msg, &p, 'r', &v) < 0 || v.len == 0 || v.len > SCRAM_CNONCE_MAX || !printable(v))
		return -1;
	if (msg.p[p - 1] == ',' && p == msg.len)
		return -1; /* a trailing comma */
	memcpy(s->nonce, v.p, v.len);
	s->nonce_len = v.len;
	if (extensions(msg, p) < 0)
		return -1;
	if (rc)
		return rc;
	memcpy(s->auth, msg.p + bare, msg.len - bare);
	s->auth_len = msg.len - bare;
	s->step = 0;
	return 0;
}

int scram_server_first(struct scram_server *s, const struct scram_keys *k, char *out,
		       size_t outsz)
{
	uint8_t rnd[24];
	char snonce[SCRAM_SNONCE_LEN + 1];

	/* 24 octets in base64: 32 printable characters, never a ','. */
	randombytes_buf(rnd, sizeof rnd);
	base64_encode(rnd, sizeof rnd, 0, snonce, sizeof snonce);
	return scram_server_first_with(s, k, snonce, out, outsz);
}

int scram_server_first_with(struct scram_server *s, const struct scram_keys *k,
			    const char *snonce, char *out, size_t outsz)
{
	char salt[96];
	size_t sn = strlen(snonce);

	if (s->step != 0 || k->hash != s->hash || outsz < SCRAM_MSG_MAX || sn == 0 ||
	    sn > SCRAM_SNONCE_LEN || !printable(str_make(snonce, sn)))
		return -1;
	memcpy(s->nonce + s->nonce_len, snonce, sn);
	s->nonce_len += sn;
	base64_encode(k->salt, k->salt_len, 0, salt, sizeof salt);
	int w = snprintf(out, outsz, "r=%.*s,s=%s,i=%u", (int)s->nonce_len, s->nonce, salt,
			 k->iter);
	if (w < 0 || (size_t)w >= outsz || s->auth_len + 1 + (size_t)w > sizeof s->auth)
		return -1;
	s->auth[s->auth_len++] = ',';
	memcpy(s->auth + s->auth_len, out, (size_t)w);
	s->auth_len += (size_t)w;
	s->step = 1;
	return 0;
}

int scram_client_final(struct scram_server *s, const struct scram_keys *k, struct str msg,
		       char *out, size_t outsz)
{
	struct str cb, r, proof_b64;
	size_t p = 0, n = scram_hash_len(s->hash);
	char gs2_b64[sizeof s->gs2 * 4 / 3 + 8];
	uint8_t proof[SCRAM_KEY_MAX], sig[SCRAM_KEY_MAX], ck[SCRAM_KEY_MAX], sk[SCRAM_KEY_MAX];
	char buf[64];
	size_t plen;
	int rc = -1;

	if (s->step != 1 || k->hash != s->hash || msg.len > SCRAM_MSG_MAX || outsz < 64)
		goto out;
	s->step = 2;
	/* c=base64(gs2 header): without channel binding, exactly that. */
	if (attr(msg, &p, 'c', &cb) < 0 ||
	    base64_encode(s->gs2, s->gs2_len, 0, gs2_b64, sizeof gs2_b64) < 0 ||
	    !str_eq(cb, str_c(gs2_b64)) || p == msg.len)
		goto out;
	/* r= the nonce the server sent, whole: anything else is a replay. */
	if (attr(msg, &p, 'r', &r) < 0 || p == msg.len ||
	    !str_eq(r, str_make(s->nonce, s->nonce_len)))
		goto out;
	/* p= is the last attribute; extensions may come before it. */
	const char *last = NULL;
	for (size_t i = msg.len; i > p; i--)
		if (msg.p[i - 1] == ',') {
			last = msg.p + i - 1;
			break;
		}
	size_t without = last ? (size_t)(last - msg.p) : p - 1;
	size_t pp = without + 1;
	if (attr(msg, &pp, 'p', &proof_b64) < 0 || pp != msg.len ||
	    (last && extensions(str_make(msg.p, without), p) < 0) ||
	    base64_decode(proof_b64, 0, buf, sizeof buf, &plen) < 0 || plen != n)
		goto out;
	memcpy(proof, buf, n);
	/* AuthMessage = client-first-bare "," server-first "," final-without-proof. */
	if (s->auth_len + 1 + without > sizeof s->auth)
		goto out;
	s->auth[s->auth_len++] = ',';
	memcpy(s->auth + s->auth_len, msg.p, without);
	s->auth_len += without;
	hmac(s->hash, k->stored_key, n, s->auth, s->auth_len, sig);
	for (size_t i = 0; i < n; i++)
		ck[i] = proof[i] ^ sig[i];
	hash(s->hash, ck, n, sk);
	rc = sodium_memcmp(sk, k->stored_key, n) == 0;
	if (rc == 1) {
		hmac(s->hash, k->server_key, n, s->auth, s->auth_len, sig);
		memcpy(out, "v=", 2);
		base64_encode(sig, n, 0, out + 2, outsz - 2);
	}
out:
	s->step = 2;
	explicit_bzero(proof, sizeof proof);
	explicit_bzero(ck, sizeof ck);
	explicit_bzero(sk, sizeof sk);
	explicit_bzero(sig, sizeof sig);
	explicit_bzero(buf, sizeof buf);
	return rc;
}

void scram_server_end(struct scram_server *s)
{
	explicit_bzero(s, sizeof *s);
	s->step = 2;
}
