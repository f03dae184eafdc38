/*
 * totp.c — RFC 6238 TOTP, RFC 4226 HOTP, RFC 4648 base32 and the
 * otpauth:// URI (see totp.h). The HMACs are BearSSL's.
 */
#include "auth/totp.h"

#include <bearssl_hmac.h>
#include <stdio.h>
#include <string.h>

long totp_hotp(enum totp_hash h, const uint8_t *key, size_t keylen, uint64_t counter, int digits)
{
	static const long pow10[] = {1000000, 10000000, 100000000};
	const br_hash_class *hc = h == TOTP_SHA256 ? &br_sha256_vtable
	                          : h == TOTP_SHA512 ? &br_sha512_vtable
	                                             : &br_sha1_vtable;
	br_hmac_key_context kc;
	br_hmac_context ctx;
	uint8_t msg[8], mac[64];

	if (digits < 6 || digits > 8)
		return -1;
	for (int i = 7; i >= 0; i--, counter >>= 8)
		msg[i] = (uint8_t)counter;
	br_hmac_key_init(&kc, hc, key, keylen);
	br_hmac_init(&ctx, &kc, 0);
	br_hmac_update(&ctx, msg, sizeof msg);
	size_t n = br_hmac_out(&ctx, mac);
	/* Dynamic truncation: the low nibble of the last byte is the offset. */
	unsigned off = mac[n - 1] & 0x0f;
	uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	               (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&ctx, sizeof ctx);
	return (long)(bin % (uint32_t)pow10[digits - 6]);
}

int totp_check(const uint8_t *key, size_t keylen, const char *code, int64_t now,
               uint64_t last_step, uint64_t *step_r)
{
	long want = 0;
	int ok = 0;

	for (int i = 0; i < 6; i++) {
		if (code[i] < '0' || code[i] > '9')
			return 0;
		want = want * 10 + (code[i] - '0');
	}
	if (code[6] != '\0' || now < TOTP_PERIOD)
		return 0;
	uint64_t t = (uint64_t)now / TOTP_PERIOD;
	/* Every candidate is computed, whatever matched, so time says nothing. */
	for (uint64_t s = t - 1; s <= t + 1; s++) {
		long got = totp_hotp(TOTP_SHA1, key, keylen, s, 6);
		if (got == want && s > last_step && !ok) {
			ok = 1;
			if (step_r)
				*step_r = s;
		}
	}
	return ok;
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_b32_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;
	unsigned buf = 0, bits = 0;

	if (outsz < (n * 8 + 4) / 5 + 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		buf = (buf << 8 | in[i]) & 0xffff;
		bits += 8;
		while (bits >= 5) {
			out[o++] = B32[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		out[o++] = B32[(buf << (5 - bits)) & 31];
	out[o] = '\0';
	return 0;
}

int totp_b32_decode(const char *in, uint8_t *out, size_t outsz)
{
	size_t o = 0;
	unsigned buf = 0, bits = 0;

	for (; *in; in++) {
		char c = *in;
		unsigned v;
		if (c == ' ' || c == '-' || c == '=')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c >= 'A' && c <= 'Z')
			v = (unsigned)(c - 'A');
		else if (c >= '2' && c <= '7')
			v = (unsigned)(c - '2' + 26);
		else
			return -1;
		buf = (buf << 5 | v) & 0x1fff;
		bits += 5;
		if (bits >= 8) {
			if (o >= outsz)
				return -1;
			out[o++] = (uint8_t)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return (int)o;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static int pct(const char *s, char *out, size_t outsz, size_t *o)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		int k = plain ? snprintf(out + *o, outsz - *o, "%c", c)
		              : snprintf(out + *o, outsz - *o, "%%%02X", c);
		if (k < 0 || (size_t)k >= outsz - *o)
			return -1;
		*o += (size_t)k;
	}
	return 0;
}

int totp_uri(const char *issuer, const char *account, const uint8_t *key, size_t keylen,
             char *out, size_t outsz)
{
	char b32[TOTP_B32_MAX];
	size_t o = 0;
	int k;

	if (keylen > 64 || totp_b32_encode(key, keylen, b32, sizeof b32) < 0 || outsz < 16)
		return -1;
	o = (size_t)snprintf(out, outsz, "otpauth://totp/");
	if (pct(issuer, out, outsz, &o) < 0 || (k = snprintf(out + o, outsz - o, ":")) < 0 ||
	    (size_t)k >= outsz - o)
		return -1;
	o += (size_t)k;
	if (pct(account, out, outsz, &o) < 0)
		return -1;
	k = snprintf(out + o, outsz - o, "?secret=%s&issuer=", b32);
	if (k < 0 || (size_t)k >= outsz - o)
		return -1;
	o += (size_t)k;
	if (pct(issuer, out, outsz, &o) < 0)
		return -1;
	k = snprintf(out + o, outsz - o, "&algorithm=SHA1&digits=6&period=%d", TOTP_PERIOD);
	explicit_bzero(b32, sizeof b32);
	return k < 0 || (size_t)k >= outsz - o ? -1 : 0;
}
