/*
 * srs.c — SRS0/SRS1 rewriting and reversal. See srs.h.
 */
#include "forward/srs.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/base64.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int is_sep(char c)
{
	return c == '=' || c == '+' || c == '-';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Length of s up to its first '=' (or all of it); *found set when there is one. */
static size_t upto_eq(const char *s, size_t len, int *found)
{
	const char *e = memchr(s, '=', len);
	*found = e != NULL;
	return e ? (size_t)(e - s) : len;
}

int srs_parse(const char *lp, size_t len, struct srs_parts *p)
{
	const char *s;
	size_t n, k;
	int eq;

	memset(p, 0, sizeof *p);
	if (len < 5 || lower(lp[0]) != 's' || lower(lp[1]) != 'r' || lower(lp[2]) != 's' ||
	    (lp[3] != '0' && lp[3] != '1') || !is_sep(lp[4]))
		return SRS_NOT_SRS;
	p->kind = lp[3] - '0';
	s = lp + 5;
	n = len - 5;
	/* Both kinds start with the hash. */
	k = upto_eq(s, n, &eq);
	if (!eq || k == 0)
		return SRS_EINVAL;
	p->hash = s, p->hash_len = k;
	s += k + 1, n -= k + 1;
	if (p->kind == 1) {
		k = upto_eq(s, n, &eq);
		if (!eq || k == 0)
			return SRS_EINVAL;
		p->host = s, p->host_len = k;
		s += k + 1, n -= k + 1;
		/* The inner SRS0's separator and at least one octet. */
		if (n < 2 || !is_sep(s[0]))
			return SRS_EINVAL;
		p->rest = s, p->rest_len = n;
		return SRS_OK;
	}
	k = upto_eq(s, n, &eq);
	if (!eq || k == 0)
		return SRS_EINVAL;
	p->stamp = s, p->stamp_len = k;
	s += k + 1, n -= k + 1;
	k = upto_eq(s, n, &eq);
	if (!eq || k == 0 || k == n - 1)
		return SRS_EINVAL;
	p->domain = s, p->domain_len = k;
	p->local = s + k + 1, p->local_len = n - k - 1;
	return SRS_OK;
}

/* HMAC input: the kind, then each field lowercased, NUL between. */
static void mac_add(crypto_auth_hmacsha256_state *st, const char *f, size_t len)
{
	unsigned char chunk[64];
	static const unsigned char nul = 0;

	while (len) {
		size_t n = len < sizeof chunk ? len : sizeof chunk;
		for (size_t i = 0; i < n; i++)
			chunk[i] = (unsigned char)lower(f[i]);
		crypto_auth_hmacsha256_update(st, chunk, n);
		f += n, len -= n;
	}
	crypto_auth_hmacsha256_update(st, &nul, 1);
}

/* The hash of fields f[0..n) for kind (0 or 1): SRS_HASH_LEN characters and a NUL. */
static void mac(const struct srs *s, int kind, const char *const *f, const size_t *fl, int n,
		char out[SRS_HASH_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	unsigned char d[crypto_auth_hmacsha256_BYTES];
	char b64[BASE64_ENCODED_SIZE(crypto_auth_hmacsha256_BYTES)];
	char k = (char)('0' + kind);

	crypto_auth_hmacsha256_init(&st, s->key, SRS_KEY_BYTES);
	mac_add(&st, &k, 1);
	for (int i = 0; i < n; i++)
		mac_add(&st, f[i], fl[i]);
	crypto_auth_hmacsha256_final(&st, d);
	base64_encode(d, sizeof d, BASE64_URL | BASE64_NOPAD, b64, sizeof b64);
	memcpy(out, b64, SRS_HASH_LEN);
	out[SRS_HASH_LEN] = '\0';
}

static void mac0(const struct srs *s, const char *stamp, const char *dom, size_t dl, const char *loc,
		 size_t ll, char out[SRS_HASH_LEN + 1])
{
	const char *f[] = {stamp, dom, loc};
	size_t fl[] = {2, dl, ll};
	mac(s, 0, f, fl, 3, out);
}

static void mac1(const struct srs *s, const char *host, size_t hl, const char *rest, size_t rl,
		 char out[SRS_HASH_LEN + 1])
{
	const char *f[] = {host, rest};
	size_t fl[] = {hl, rl};
	mac(s, 1, f, fl, 2, out);
}

static unsigned day_of(int64_t now)
{
	if (now < 0)
		now = 0;
	return (unsigned)((now / 86400) & 1023);
}

static int stamp_value(const char *p, size_t len, unsigned *v_r)
{
	unsigned v = 0;

	if (len != 2)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		char c = p[i];
		unsigned d;
		if (c >= 'a' && c <= 'z')
			d = (unsigned)(c - 'a');
		else if (c >= 'A' && c <= 'Z')
			d = (unsigned)(c - 'A');
		else if (c >= '2' && c <= '7')
			d = (unsigned)(c - '2') + 26;
		else
			return -1;
		v = v << 5 | d;
	}
	*v_r = v;
	return 0;
}

/* A dot-atom local part (RFC 5322 atext and dots; octets >= 0x80 for SMTPUTF8). */
static int dot_atom(const char *p, size_t len)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";

	if (len == 0 || p[0] == '.' || p[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (p[i + 1] == '.')
				return 0;
			continue;
		}
		if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c && strchr(specials, c)))
			continue;
		return 0;
	}
	return 1;
}

static int valid_domain(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c == '=' || c == '@' || c == 0x7f || c == '<' || c == '>')
			return 0;
	}
	return 1;
}

/* snprintf's result checked against outsz and SRS_ADDR_MAX; out "" when too long. */
static int fits(int w, char *out, size_t outsz)
{
	if (w < 0 || (size_t)w >= outsz || w > SRS_ADDR_MAX) {
		out[0] = '\0';
		return SRS_ETOOLONG;
	}
	return SRS_OK;
}

int srs_forward(const struct srs *s, const char *sender, const char *fwd_domain, int64_t now,
		char *out, size_t outsz)
{
	char h[SRS_HASH_LEN + 1];
	struct srs_parts p;
	const char *at = strrchr(sender, '@');

	if (outsz == 0)
		return SRS_EINVAL;
	out[0] = '\0';
	if (!at || at == sender || !valid_domain(at + 1, strlen(at + 1)) ||
	    !valid_domain(fwd_domain, strlen(fwd_domain)))
		return SRS_EINVAL;
	size_t ll = (size_t)(at - sender), dl = strlen(at + 1);
	if (!dot_atom(sender, ll))
		return SRS_EINVAL;

	int r = srs_parse(sender, ll, &p);
	if (r == SRS_OK && p.kind == 0) {
		/* Another forwarder's SRS0: point back at it, keep its part. */
		const char *rest = sender + 4;
		size_t rl = ll - 4;
		mac1(s, at + 1, dl, rest, rl, h);
		return fits(snprintf(out, outsz, "SRS1=%s=%s=%.*s@%s", h, at + 1, (int)rl, rest,
				     fwd_domain),
			    out, outsz);
	}
	if (r == SRS_OK && p.kind == 1) {
		/* An SRS1 stays one: the first forwarder, our hash. */
		mac1(s, p.host, p.host_len, p.rest, p.rest_len, h);
		return fits(snprintf(out, outsz, "SRS1=%s=%.*s=%.*s@%s", h, (int)p.host_len, p.host,
				     (int)p.rest_len, p.rest, fwd_domain),
			    out, outsz);
	}
	/* A plain sender (or one that only looks like SRS): SRS0. */
	unsigned day = day_of(now);
	char stamp[3] = {b32[day >> 5], b32[day & 31], '\0'};
	mac0(s, stamp, at + 1, dl, sender, ll, h);
	return fits(snprintf(out, outsz, "SRS0=%s=%s=%s=%.*s@%s", h, stamp, at + 1, (int)ll, sender,
			     fwd_domain),
		    out, outsz);
}

static int hash_ok(const struct srs_parts *p, const char *want)
{
	if (p->hash_len != SRS_HASH_LEN)
		return 0;
	/* Case-insensitive on purpose (srs.h); constant time is not needed
	 * for a 6-character tag checked once per RCPT. */
	for (size_t i = 0; i < SRS_HASH_LEN; i++)
		if (lower(p->hash[i]) != lower(want[i]))
			return 0;
	return 1;
}

int srs_reverse(const struct srs *s, const char *addr, int64_t now, char *out, size_t outsz)
{
	char h[SRS_HASH_LEN + 1];
	struct srs_parts p;
	const char *at = strrchr(addr, '@');

	if (outsz == 0)
		return SRS_EINVAL;
	out[0] = '\0';
	if (!at)
		return SRS_NOT_SRS;
	int r = srs_parse(addr, (size_t)(at - addr), &p);
	if (r != SRS_OK)
		return r;
	if (p.kind == 1) {
		if (!valid_domain(p.host, p.host_len))
			return SRS_EINVAL;
		mac1(s, p.host, p.host_len, p.rest, p.rest_len, h);
		if (!hash_ok(&p, h))
			return SRS_EHASH;
		return fits(snprintf(out, outsz, "SRS0%.*s@%.*s", (int)p.rest_len, p.rest,
				     (int)p.host_len, p.host),
			    out, outsz);
	}
	unsigned then;
	if (stamp_value(p.stamp, p.stamp_len, &then) < 0 || !valid_domain(p.domain, p.domain_len))
		return SRS_EINVAL;
	mac0(s, p.stamp, p.domain, p.domain_len, p.local, p.local_len, h);
	if (!hash_ok(&p, h))
		return SRS_EHASH;
	unsigned max = s->max_age_days ? s->max_age_days : SRS_MAX_AGE_DAYS;
	/* Days wrap at 1024: a stamp "in the future" is one from long ago. */
	if (((day_of(now) - then) & 1023) > max)
		return SRS_EEXPIRED;
	return fits(snprintf(out, outsz, "%.*s@%.*s", (int)p.local_len, p.local, (int)p.domain_len,
			     p.domain),
		    out, outsz);
}

const char *srs_result_name(int rc)
{
	switch (rc) {
	case SRS_OK:
		return "ok";
	case SRS_NOT_SRS:
		return "not_srs";
	case SRS_EHASH:
		return "bad_hash";
	case SRS_EEXPIRED:
		return "expired";
	case SRS_ETOOLONG:
		return "too_long";
	default:
		return "malformed";
	}
}
