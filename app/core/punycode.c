/*
 * punycode.c — RFC 3492 §6.2 (decode) and §6.3 (encode). See punycode.h.
 *
 * Every arithmetic step is checked against overflow (§6.4), so a hostile
 * label gives 0, never a wrapped value.
 */
#include <string.h>

#include "core/punycode.h"
#include "core/utf8.h"

enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, INITIAL_BIAS = 72, INITIAL_N = 128 };

static uint32_t adapt(uint32_t delta, uint32_t numpoints, int first)
{
	uint32_t k = 0;
	delta = first ? delta / DAMP : delta / 2;
	delta += delta / numpoints;
	while (delta > ((BASE - TMIN) * TMAX) / 2) {
		delta /= BASE - TMIN;
		k += BASE;
	}
	return k + (BASE - TMIN + 1) * delta / (delta + SKEW);
}

static uint32_t threshold(uint32_t k, uint32_t bias)
{
	return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

static char digit_char(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

size_t punycode_decode(struct str in, uint32_t *out, size_t max)
{
	uint32_t n = INITIAL_N, i = 0, bias = INITIAL_BIAS;
	size_t len = 0, b = 0; /* b: just past the last delimiter, 0 when none */
	for (size_t j = 0; j < in.len; j++)
		if (in.p[j] == '-')
			b = j + 1;
	for (size_t j = 0; j + 1 < b; j++) {
		if ((unsigned char)in.p[j] >= 0x80 || len >= max)
			return 0;
		out[len++] = (unsigned char)in.p[j];
	}
	for (size_t in_i = b; in_i < in.len;) {
		uint32_t oldi = i, w = 1;
		for (uint32_t k = BASE;; k += BASE) {
			if (in_i >= in.len)
				return 0;
			unsigned char c = (unsigned char)in.p[in_i++];
			uint32_t digit = c >= '0' && c <= '9' ? c - 22u
			                 : (c | 32) >= 'a' && (c | 32) <= 'z' ? (uint32_t)((c | 32) - 'a')
			                                                        : BASE;
			if (digit >= BASE || digit > (UINT32_MAX - i) / w)
				return 0;
			i += digit * w;
			uint32_t t = threshold(k, bias);
			if (digit < t)
				break;
			if (w > UINT32_MAX / (BASE - t))
				return 0;
			w *= BASE - t;
		}
		uint32_t numpoints = (uint32_t)len + 1;
		bias = adapt(i - oldi, numpoints, oldi == 0);
		if (i / numpoints > UINT32_MAX - n)
			return 0;
		n += i / numpoints;
		i %= numpoints;
		if (len >= max || n > 0x10ffff)
			return 0;
		memmove(out + i + 1, out + i, (len - i) * sizeof *out);
		out[i++] = n;
		len++;
	}
	return len;
}

size_t punycode_encode(const uint32_t *in, size_t n_in, char *dst, size_t dstsz)
{
	size_t out = 0, h, b = 0;
	if (n_in == 0 || n_in > UINT32_MAX / 2)
		return 0;
	for (size_t j = 0; j < n_in; j++) {
		if (in[j] > 0x10ffff)
			return 0;
		if (in[j] < 0x80) {
			if (out >= dstsz)
				return 0;
			dst[out++] = (char)in[j];
			b++;
		}
	}
	h = b;
	if (b > 0) {
		if (out >= dstsz)
			return 0;
		dst[out++] = '-';
	}
	uint32_t n = INITIAL_N, delta = 0, bias = INITIAL_BIAS;
	while (h < n_in) {
		uint32_t m = UINT32_MAX;
		for (size_t j = 0; j < n_in; j++)
			if (in[j] >= n && in[j] < m)
				m = in[j];
		if ((uint64_t)(m - n) * (h + 1) > UINT32_MAX - delta)
			return 0;
		delta += (m - n) * (uint32_t)(h + 1);
		n = m;
		for (size_t j = 0; j < n_in; j++) {
			if (in[j] < n && ++delta == 0)
				return 0;
			if (in[j] != n)
				continue;
			uint32_t q = delta;
			for (uint32_t k = BASE;; k += BASE) {
				uint32_t t = threshold(k, bias);
				if (q < t)
					break;
				if (out >= dstsz)
					return 0;
				dst[out++] = digit_char(t + (q - t) % (BASE - t));
				q = (q - t) / (BASE - t);
			}
			if (out >= dstsz)
				return 0;
			dst[out++] = digit_char(q);
			bias = adapt(delta, (uint32_t)(h + 1), h == b);
			delta = 0;
			h++;
		}
		delta++;
		n++;
	}
	return out;
}

size_t punycode_label_ascii(const char *p, size_t n, char *out)
{
	int ascii = 1;
	for (size_t i = 0; i < n; i++)
		ascii &= (unsigned char)p[i] < 0x80;
	if (ascii) {
		if (n > PUNYCODE_LABEL_MAX)
			return 0;
		for (size_t i = 0; i < n; i++)
			out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
		return n;
	}
	uint32_t cps[PUNYCODE_LABEL_MAX];
	size_t ncp = 0;
	for (size_t i = 0; i < n; ncp++) {
		size_t k;
		if (ncp == PUNYCODE_LABEL_MAX || !utf8_seq((const unsigned char *)p + i, n - i))
			return 0;
		uint32_t cp = utf8_decode((const unsigned char *)p + i, n - i, &k);
		cps[ncp] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
		i += k;
	}
	memcpy(out, "xn--", 4);
	size_t len = punycode_encode(cps, ncp, out + 4, PUNYCODE_LABEL_MAX - 4);
	return len ? len + 4 : 0;
}

/* An "xn--" at p[0..n), any case. */
static int xn_prefix(const char *p, size_t n)
{
	return n >= 4 && (p[0] | 0x20) == 'x' && (p[1] | 0x20) == 'n' && p[2] == '-' && p[3] == '-';
}

static int ldh_alnum(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* One label's other spelling into dst[0..room): see punycode_domain_other(). */
static size_t label_other_form(struct str l, int to_ascii, char *dst, size_t room)
{
	char a[PUNYCODE_LABEL_MAX];
	uint32_t cps[PUNYCODE_LABEL_MAX];
	size_t n = 0, k, i;

	if (to_ascii) {
		k = punycode_label_ascii(l.p, l.len, a);
		if (k == 0 || k > room)
			return 0;
		memcpy(dst, a, k);
		return k;
	}
	if (!xn_prefix(l.p, l.len)) {
		if (l.len > room)
			return 0;
		memcpy(dst, l.p, l.len);
		return l.len;
	}
	k = punycode_decode(str_make(l.p + 4, l.len - 4), cps, PUNYCODE_LABEL_MAX);
	if (k == 0)
		return 0;
	/* Decoded code points past the basic ones are all >= 0x80; with
	 * none, this was no A-label ("xn--abc-" is "abc"). */
	for (i = 0; i < k && cps[i] < 0x80; i++)
		;
	if (i == k)
		return 0;
	for (i = 0; i < k; i++) {
		char u[4];
		size_t m;

		/* Only what a U-label may hold: no ASCII but LDH, no surrogate. */
		if (cps[i] < 0x80 ? !ldh_alnum(cps[i]) && cps[i] != '-'
		                  : cps[i] >= 0xD800 && cps[i] <= 0xDFFF)
			return 0;
		m = utf8_encode(cps[i], u);
		if (m == 0 || n + m > room)
			return 0;
		memcpy(dst + n, u, m);
		n += m;
	}
	return n;
}

size_t punycode_domain_other(struct str d, char *dst, size_t dstsz)
{
	size_t i, start = 0, n = 0, k, max = dstsz ? dstsz - 1 : 0;
	int to_ascii = 0, any_a = 0;

	for (i = 0; i < d.len; i++)
		if ((unsigned char)d.p[i] >= 0x80)
			to_ascii = 1;
	for (i = 0; i + 4 <= d.len; i++)
		if ((i == 0 || d.p[i - 1] == '.') && xn_prefix(d.p + i, 4))
			any_a = 1;
	if (d.len == 0 || (!to_ascii && !any_a))
		return 0;
	for (i = 0; i <= d.len; i++) {
		if (i < d.len && d.p[i] != '.')
			continue;
		if (start > 0) {
			if (n + 1 > max)
				return 0;
			dst[n++] = '.';
		}
		k = label_other_form(str_make(d.p + start, i - start), to_ascii, dst + n, max - n);
		if (k == 0)
			return 0;
		n += k;
		start = i + 1;
	}
	dst[n] = '\0';
	return n;
}

size_t punycode_address_ascii(const char *addr, char *dst, size_t dstsz)
{
	const char *at = strrchr(addr, '@');
	int utf8 = 0;
	for (const char *p = addr; *p; p++)
		utf8 |= (unsigned char)*p >= 0x80;
	if (!utf8 || !at)
		return 0;
	for (const char *p = addr; p < at; p++)
		if ((unsigned char)*p >= 0x80)
			return 0;
	size_t local = (size_t)(at - addr) + 1;
	if (local >= dstsz)
		return 0;
	size_t n = punycode_domain_other(str_c(at + 1), dst + local, dstsz - local);
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[local + i] >= 0x80)
			return 0;
	memcpy(dst, addr, local);
	return local + n;
}
