/*
 * fuzz_smtp_xtext.c — the SMTP word checkers outside the command parser's
 * own tests: xtext decoding (ENVID, ORCPT), domains, address literals and
 * UTF-8, each against a model written here. The input is cut at its first
 * NUL; each piece is tried as each kind. xtext: accepted exactly when
 * every octet is "!".."~" other than "+" and "=", or "+" and two hex
 * digits; the decoded length is the element count, the output is
 * NUL-terminated, a buffer one short is refused (with "" left in it), and
 * encoding the result again decodes to it. Domains: an all-ASCII one is
 * valid exactly when the model's labels are (letters, digits, inner
 * hyphens, 1..63 octets, not all digits at the end, 255 octets at most);
 * any valid one has the UTF-8 flag exactly when it has an octet over 0x7f,
 * and is then valid UTF-8. Address literals: "[a.b.c.d]" exactly when the
 * model reads four numbers of 1..3 digits up to 255; "[IPv6:...]" only
 * when inet_pton() agrees. UTF-8: smtp_utf8_valid() is exactly a decoder
 * written here (shortest forms, no surrogates, at most U+10FFFF).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_parse.h"

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded length, or -1; out (may be NULL) gets the octets. */
static long model_xtext(struct str s, char *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s.len; n++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '+') {
			if (s.len - i < 3 || hexv((unsigned char)s.p[i + 1]) < 0 ||
			    hexv((unsigned char)s.p[i + 2]) < 0)
				return -1;
			if (out)
				out[n] = (char)(hexv((unsigned char)s.p[i + 1]) << 4 |
						hexv((unsigned char)s.p[i + 2]));
			i += 3;
		} else if (c >= '!' && c <= '~' && c != '=') {
			if (out)
				out[n] = (char)c;
			i++;
		} else {
			return -1;
		}
	}
	return (long)n;
}

static void check_xtext(struct str s)
{
	char *want = malloc(s.len + 1), *got = malloc(s.len + 1), *enc = malloc(s.len * 3 + 1);
	long m = model_xtext(s, want);
	int n = smtp_xtext_decode(s, got, s.len + 1);

	assert(n == (m < 0 ? -1 : (int)m));
	if (n >= 0) {
		assert(got[n] == '\0' && memcmp(got, want, (size_t)n) == 0);
		char *tight = malloc((size_t)n + 1);
		assert(smtp_xtext_decode(s, tight, (size_t)n + 1) == n);
		if (n > 0) {
			assert(smtp_xtext_decode(s, tight, (size_t)n) == -1 && tight[0] == '\0');
		}
		free(tight);
		/* Encode (canonically) and decode again. */
		size_t o = 0;
		for (int i = 0; i < n; i++) {
			unsigned char c = (unsigned char)got[i];
			if (c >= '!' && c <= '~' && c != '+' && c != '=')
				enc[o++] = (char)c;
			else
				o += (size_t)snprintf(enc + o, 4, "+%02X", c);
		}
		assert(smtp_xtext_decode(str_make(enc, o), want, s.len + 1) == n);
		assert(memcmp(want, got, (size_t)n) == 0);
	}
	free(want);
	free(got);
	free(enc);
}

/* The model's UTF-8: decode each sequence and check its value. */
static int model_utf8(struct str s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	for (size_t i = 0; i < s.len;) {
		unsigned c = p[i], need;
		uint32_t v;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc0 && c <= 0xdf)
			need = 1, v = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, v = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf7)
			need = 3, v = c & 0x07;
		else
			return 0;
		if (s.len - i - 1 < need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			v = v << 6 | (p[i + k] & 0x3f);
		}
		static const uint32_t min[] = { 0, 0x80, 0x800, 0x10000 };
		if (v < min[need] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* For all-ASCII s only. */
static int model_domain(struct str s)
{
	size_t start = 0;
	int digits = 1;

	if (s.len == 0 || s.len > SMTP_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i <= s.len; i++) {
		if (i < s.len && s.p[i] != '.')
			continue;
		size_t n = i - start;
		const char *l = s.p + start;
		if (n == 0 || n > 63 || l[0] == '-' || l[n - 1] == '-')
			return 0;
		digits = 1;
		for (size_t k = 0; k < n; k++) {
			if (!alnum((unsigned char)l[k]) && l[k] != '-')
				return 0;
			if (l[k] < '0' || l[k] > '9')
				digits = 0;
		}
		start = i + 1;
	}
	return !digits;
}

static void check_domain(struct str s)
{
	int utf8 = -1, v = smtp_domain_valid(s, &utf8);
	int high = 0;

	for (size_t i = 0; i < s.len; i++)
		high |= (unsigned char)s.p[i] >= 0x80;
	assert(v == 0 || v == 1);
	if (!high)
		assert(v == model_domain(s));
	if (v) {
		assert(s.len <= SMTP_DOMAIN_MAX && utf8 == high);
		assert(!high || model_utf8(s));
	} else {
		assert(utf8 == 0);
	}
	assert(smtp_domain_valid(s, NULL) == v);
}

static int model_ipv4(const char *p, size_t n)
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		size_t d = 0;
		unsigned v = 0;
		if (part && (i >= n || p[i++] != '.'))
			return 0;
		while (i < n && p[i] >= '0' && p[i] <= '9') {
			v = v * 10 + (unsigned)(p[i++] - '0');
			if (++d > 3)
				return 0;
		}
		if (d == 0 || v > 255)
			return 0;
	}
	return i == n;
}

static void check_literal(struct str s)
{
	int v = smtp_addr_literal_valid(s);
	if (s.len < 2 || s.p[0] != '[' || s.p[s.len - 1] != ']') {
		assert(!v);
		return;
	}
	const char *in = s.p + 1;
	size_t n = s.len - 2;
	if (n >= 5 && strncasecmp(in, "IPv6:", 5) == 0) {
		if (v) {
			char tmp[64];
			unsigned char bin[16];
			assert(n - 5 >= 1 && n - 5 <= 45);
			memcpy(tmp, in + 5, n - 5);
			tmp[n - 5] = '\0';
			assert(inet_pton(AF_INET6, tmp, bin) == 1);
		}
	} else {
		assert(v == model_ipv4(in, n));
	}
}

/* ORCPT as kept (smtp_orcpt_decode): another type, or an ASCII value,
 * is xtext; the utf-8 type's UTF-8 (well formed, its ASCII as xtext's
 * but "+XX" decoded) becomes "\x{HEX}" with the fewest digits, so the
 * result is ASCII unless a "+XX" made an 8-bit octet. */
static void check_orcpt(struct str s)
{
	size_t cap = s.len * 8 + 1;
	char *want = malloc(cap), *got = malloc(cap);
	int eight = 0;
	for (size_t i = 0; i < s.len; i++)
		eight |= (unsigned char)s.p[i] >= 0x80;
	int n = smtp_orcpt_decode(STR_LIT("rfc822"), s, got, cap);
	assert(n == smtp_xtext_decode(s, want, cap));
	n = smtp_orcpt_decode(STR_LIT("UTF-8"), s, got, cap);
	long m = -1;
	if (!eight) {
		m = smtp_xtext_decode(s, want, cap);
	} else if (model_utf8(s)) {
		size_t o = 0;
		for (size_t i = 0; i < s.len;) {
			unsigned char c = (unsigned char)s.p[i];
			if (c >= 0x80) {
				size_t l = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
				uint32_t cp = c & (l == 4 ? 7 : l == 3 ? 15 : 31);
				for (size_t k = 1; k < l; k++)
					cp = cp << 6 | ((unsigned char)s.p[i + k] & 63);
				o += (size_t)snprintf(want + o, 12, "\\x{%02X}", cp);
				i += l;
			} else if (c >= '!' && c <= '~' && c != '=' && c != '+') {
				/* "+" is the rfc822 type's xtext, no escape of this
				 * type's (RFC 6533 §3): the address is malformed. */
				want[o++] = (char)c;
				i++;
			} else {
				break;
			}
			if (i == s.len)
				m = (long)o;
		}
	}
	assert(n == (int)m);
	if (n >= 0) {
		assert(got[n] == '\0' && memcmp(got, want, (size_t)n) == 0);
		if (n > 0)
			assert(smtp_orcpt_decode(STR_LIT("utf-8"), s, got, (size_t)n) == -1);
	}
	free(want);
	free(got);
}

static void check_all(struct str s)
{
	check_xtext(s);
	check_orcpt(s);
	check_domain(s);
	check_literal(s);
	assert(smtp_utf8_valid(s) == model_utf8(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	const char *nul = memchr(p, '\0', size);
	size_t k = nul ? (size_t)(nul - p) : size;

	check_all(str_make(p, k));
	if (nul)
		check_all(str_make(p + k + 1, size - k - 1));
	check_all(str_make(p, size));
	free(p);
	return 0;
}
