/*
 * spam_url.c — URLs in text and the host of a URL (spam_private.h).
 *
 * Spam in plain text writes links as "http://host/..." or "www.host...",
 * and rules want the host (shorteners, IP literals, look-alikes, link
 * text against target) and its registrable base. Found by a bounded scan
 * for "http", "https" and "www."; the URL runs to the first octet that
 * cannot be in one written in text (space, quotes, angle brackets).
 * The registrable base is the Public Suffix List's (dns/psl.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "dns/psl.h"
#include "spam/spam_private.h"

static int url_octet(unsigned char c)
{
	return c > ' ' && c != '"' && c != '<' && c != '>' && c != '\'' && c != '`' && c != 0x7f &&
	       c != '{' && c != '}' && c != '|' && c != '\\' && c != '^';
}

/* 0 for an octet that ends a URL's host: a control, space, quote or
 * angle bracket (text around a link). */
static int host_octet(unsigned char c)
{
	return c > ' ' && c != '"' && c != '<' && c != '>';
}

static int lower_eq(const char *p, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

void spam_url_scan(const char *in, size_t n, mime_html_url_fn *fn, void *arg)
{
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if ((c | 32) != 'h' && (c | 32) != 'w')
			continue;
		if (i > 0 && url_octet((unsigned char)in[i - 1]) && in[i - 1] != '(' &&
		    in[i - 1] != '[' && in[i - 1] != '=' && in[i - 1] != ':')
			continue; /* inside a word */
		size_t s = i;
		if (n - i >= 7 && lower_eq(in + i, "http://", 7))
			i += 7;
		else if (n - i >= 8 && lower_eq(in + i, "https://", 8))
			i += 8;
		else if (n - i >= 4 && lower_eq(in + i, "www.", 4))
			i += 4;
		else
			continue;
		size_t h = i;
		while (i < n && url_octet((unsigned char)in[i]))
			i++;
		/* trailing punctuation belongs to the sentence */
		while (i > h && strchr(".,;:!?)]", in[i - 1]))
			i--;
		if (i > h)
			fn(arg, str_make(in + s, i - s), STR_NULL, SPAM_URL_TEXT);
	}
}

/*
 * Folds what a browser's host parser folds (WHATWG URL, UTS #46 mapping)
 * in h[0..n), in place: U+3002, U+FF0E and U+FF61 are full stops, and
 * fullwidth letters, digits and hyphen (U+FF0D, U+FF10..U+FF5A) their
 * ASCII forms, lowercased; so "evil\u3002example" is the "evil.example"
 * a blocklist knows. Returns the new length (never longer).
 */
static size_t fold_fullwidth(char *h, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *u = (const unsigned char *)h + i;
		if (n - i >= 3 && u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x82) {
			h[o++] = '.';
			i += 2;
			continue;
		}
		if (n - i >= 3 && u[0] == 0xef && (u[1] == 0xbc || u[1] == 0xbd) && u[2] >= 0x80 &&
		    u[2] <= 0xbf) {
			unsigned cp = 0xff00 | (unsigned)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
			int c = cp == 0xff61 ? '.' : cp >= 0xff01 && cp <= 0xff5e ? (int)(cp - 0xfee0) : 0;
			if (c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z')) {
				h[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
				i += 2;
				continue;
			}
		}
		h[o++] = h[i];
	}
	return o;
}

/* One part of a WHATWG IPv4 host: decimal, 0x hex or 0-led octal; 0, or
 * -1 when it is not a number. Values past 2^32 saturate (refused later). */
static int ipv4_part(const char *p, size_t n, uint64_t *v_r)
{
	unsigned radix = 10;
	if (n >= 2 && p[0] == '0' && (p[1] | 32) == 'x') {
		radix = 16;
		p += 2, n -= 2;
	} else if (n >= 2 && p[0] == '0') {
		radix = 8;
		p++, n--;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(p[i]);
		if (d < 0 || (unsigned)d >= radix)
			return -1;
		v = v > 0xffffffffu ? v : v * radix + (unsigned)d;
	}
	*v_r = v;
	return 0;
}

/*
 * A host whose last label is a number is an IPv4 address to a browser
 * (WHATWG URL "ends in a number", then the IPv4 parser): 1 to 4 parts,
 * each decimal, hex or octal, the last one filling the octets left
 * ("0x7f.1", "2130706433", "0177.0.0.1" are all 127.0.0.1). Rewrites
 * h[0..n) (no trailing dot) as the dotted quad a blocklist and the
 * IP-literal rules know, when h has room; one the browser refuses (a
 * part too big, a bad digit, five parts) stays as written.
 */
static size_t ipv4_canon(char *h, size_t n, size_t hsz)
{
	size_t last = n;
	while (last && h[last - 1] != '.')
		last--;
	uint64_t v;
	int all_digits = last < n;
	for (size_t i = last; i < n; i++)
		all_digits &= h[i] >= '0' && h[i] <= '9';
	if (!all_digits && !(n - last >= 2 && h[last] == '0' && (h[last + 1] | 32) == 'x' &&
	                     ipv4_part(h + last, n - last, &v) == 0))
		return n; /* a name */
	uint64_t part[4], addr = 0;
	size_t np = 0;
	for (size_t s = 0; s <= n;) {
		size_t e = s;
		while (e < n && h[e] != '.')
			e++;
		if (np == 4 || e == s || ipv4_part(h + s, e - s, &part[np]) != 0)
			return n;
		np++;
		s = e + 1;
	}
	for (size_t i = 0; i + 1 < np; i++) {
		if (part[i] > 255)
			return n;
		addr |= part[i] << (8 * (3 - i));
	}
	if (part[np - 1] >= (uint64_t)1 << (8 * (5 - np)))
		return n;
	addr |= part[np - 1];
	char q[16];
	int qn = snprintf(q, sizeof q, "%u.%u.%u.%u", (unsigned)(addr >> 24) & 255,
	                  (unsigned)(addr >> 16) & 255, (unsigned)(addr >> 8) & 255,
	                  (unsigned)addr & 255);
	if (qn <= 0 || (size_t)qn >= hsz)
		return n;
	memcpy(h, q, (size_t)qn + 1);
	return (size_t)qn;
}

size_t spam_url_host(struct str url, char *dst, size_t dstsz)
{
	return spam_url_split(url, dst, dstsz, NULL);
}

size_t spam_url_split(struct str url, char *dst, size_t dstsz, struct str *rest_r)
{
	struct str u = str_trim(url);
	if (rest_r)
		*rest_r = STR_NULL;
	size_t i = 0, n = 0;
	/* scheme */
	for (size_t k = 0; k < u.len && k < 16; k++) {
		char c = u.p[k];
		if (c == ':') {
			/* http and https need no slashes: a browser reads
			 * "http:evil.example/" as http://evil.example/ (WHATWG
			 * URL, special authority slashes state) */
			if ((k + 1 < u.len && (u.p[k + 1] == '/' || u.p[k + 1] == '\\')) ||
			    (k == 4 && lower_eq(u.p, "http", 4)) || (k == 5 && lower_eq(u.p, "https", 5)))
				i = k + 1; /* the slashes go below */
			else if (lower_eq(u.p, "mailto", 6) || lower_eq(u.p, "javascript", 10) ||
			         lower_eq(u.p, "tel", 3) || lower_eq(u.p, "data", 4) ||
			         lower_eq(u.p, "cid", 3))
				return dst[0] = '\0', 0;
			break;
		}
		if (!((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9') && c != '+' &&
		    c != '-' && c != '.')
			break;
	}
	while (i < u.len && (u.p[i] == '/' || u.p[i] == '\\'))
		i++; /* "http:\\host" and "//host" */
	size_t end = i;
	while (end < u.len && u.p[end] != '/' && u.p[end] != '?' && u.p[end] != '#' &&
	       u.p[end] != '\\')
		end++;
	/* userinfo: the host is after the last '@' of the authority */
	if (rest_r)
		*rest_r = str_make(u.p + end, u.len - end);
	for (size_t k = end; k > i; k--)
		if (u.p[k - 1] == '@') {
			i = k;
			break;
		}
	size_t hend = i;
	if (hend < end && u.p[hend] == '[') { /* IPv6 literal */
		while (hend < end && u.p[hend] != ']')
			hend++;
		if (hend < end)
			hend++;
	} else {
		while (hend < end && u.p[hend] != ':')
			hend++;
	}
	/* The host ends at an octet no host has, written as it is or
	 * percent-encoded ("%20"): cut at the first written one, then
	 * decode (a browser decodes a host's escapes, "%62ank" is "bank"; a
	 * '%' without two digits stays), then cut at the first decoded one. */
	for (size_t k = i; k < hend; k++)
		if (!host_octet((unsigned char)u.p[k])) {
			hend = k;
			break;
		}
	if (dstsz == 0 || pct_decode(u.p + i, hend - i, dst, dstsz, &n, PCT_LENIENT) < 0) {
		/* Longer than dst even decoded (256 octets at the callers: no
		 * DNS name is, RFC 1035 §2.3.4): no host, rather than a cut
		 * one that names another domain. */
		if (dstsz)
			dst[0] = '\0';
		return 0;
	}
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)dst[k];
		if (!host_octet(c)) {
			n = k;
			break;
		}
		if (c >= 'A' && c <= 'Z')
			dst[k] = (char)(c + 32);
	}
	n = fold_fullwidth(dst, n);
	while (n && dst[n - 1] == '.')
		n--;
	dst[n] = '\0';
	if (n && dst[0] != '[')
		n = ipv4_canon(dst, n, dstsz);
	return n;
}

struct str spam_domain_base(struct str host)
{
	struct str r;
	if (psl_registrable(host, PSL_PRIVATE, &r) == 0)
		return r;
	return host;
}
