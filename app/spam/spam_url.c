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
#include <string.h>

#include "core/hex.h"
#include "dns/psl.h"
#include "spam/spam_private.h"

static int url_octet(unsigned char c)
{
	return c > ' ' && c != '"' && c != '<' && c != '>' && c != '\'' && c != '`' && c != 0x7f &&
	       c != '{' && c != '}' && c != '|' && c != '\\' && c != '^';
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

void spam_url_scan(const char *in, size_t n, spam_html_url_fn *fn, void *arg)
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
	for (size_t k = i; k < hend && n + 1 < dstsz; k++) {
		unsigned char c = (unsigned char)u.p[k];
		if (c == '%' && k + 2 < hend) { /* percent-encoded host octets */
			int hi = hex_digit(u.p[k + 1]), lo = hex_digit(u.p[k + 2]);
			if (hi >= 0 && lo >= 0) {
				c = (unsigned char)(hi * 16 + lo);
				k += 2;
			}
		}
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c <= ' ' || c == '"' || c == '<' || c == '>')
			break;
		dst[n++] = (char)c;
	}
	while (n && dst[n - 1] == '.')
		n--;
	dst[n] = '\0';
	return n;
}

struct str spam_domain_base(struct str host)
{
	struct str r;
	if (psl_registrable(host, PSL_PRIVATE, &r) == 0)
		return r;
	return host;
}
