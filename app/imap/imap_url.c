/*
 * imap_url.c — relative IMAP URLs (RFC 5092) naming a message or a part
 * of one, as CATENATE (RFC 4469) takes them:
 *
 *   "/" mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" section]
 *   ["/;PARTIAL=" offset ["." length]]
 *
 * Keywords in any case; the mailbox and the section percent-decoded
 * (the mailbox then is an IMAP mailbox name: modified UTF-7 unless the
 * session enabled UTF-8). Absolute URLs (imap://...) and URLAUTH are
 * refused, as Dovecot refuses them ("Relative URL required").
 */
#include <string.h>

#include "imap/imap_url.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes in[0..n) into out (size outsz, NUL-terminated); the
 * length, or -1 (bad escape, NUL, no room). */
static long pct_decode(const char *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= n || (h = hexval(in[i + 1])) < 0 || (l = hexval(in[i + 2])) < 0)
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (c == '\0' || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* Case-insensitive search for the ASCII word w in s[0..n); offset or -1. */
static long find_ci(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);
	for (size_t i = 0; i + wl <= n; i++) {
		size_t k = 0;
		while (k < wl) {
			char a = s[i + k], b = w[k];
			if (a >= 'a' && a <= 'z')
				a = (char)(a - 32);
			if (a != b)
				break;
			k++;
		}
		if (k == wl)
			return (long)i;
	}
	return -1;
}

/* nz-number (or number when zero_ok) from s[0..n), all of it. */
static int parse_num(const char *s, size_t n, int zero_ok, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	if (n == 0 || n > 20 || (s[0] == '0' && (n > 1 || !zero_ok)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

int imap_url_parse(struct str url, struct imap_url *u)
{
	const char *p = url.p, *end = url.p + url.len;
	uint64_t v;

	memset(u, 0, sizeof(*u));
	if (url.len == 0 || p[0] != '/' || (url.len > 1 && p[1] == '/'))
		return IMAP_URL_NOT_RELATIVE;
	p++;
	long at = find_ci(p, (size_t)(end - p), "/;UID=");
	if (at < 0)
		return IMAP_URL_BAD;
	const char *mend = p + at;
	long uv = find_ci(p, (size_t)at, ";UIDVALIDITY=");
	if (uv >= 0) {
		const char *n0 = p + uv + 13;
		if (parse_num(n0, (size_t)(mend - n0), 0, UINT32_MAX, &v) < 0)
			return IMAP_URL_BAD;
		u->uidvalidity = (uint32_t)v;
		mend = p + uv;
	}
	if (mend == p || memchr(p, ';', (size_t)(mend - p)) ||
	    pct_decode(p, (size_t)(mend - p), u->mailbox, sizeof(u->mailbox)) < 0)
		return IMAP_URL_BAD;
	p += at + 6;
	/* The UID runs to the next "/;" or ";" (URLAUTH and friends). */
	const char *q = p;
	while (q < end && *q != '/' && *q != ';')
		q++;
	if (parse_num(p, (size_t)(q - p), 0, UINT32_MAX, &v) < 0)
		return IMAP_URL_BAD;
	u->uid = (uint32_t)v;
	p = q;
	if (end - p >= 10 && find_ci(p, 10, "/;SECTION=") == 0) {
		p += 10;
		q = p;
		while (q < end && *q != '/' && *q != ';')
			q++;
		long n = pct_decode(p, (size_t)(q - p), u->section, sizeof(u->section));
		if (n <= 0)
			return IMAP_URL_BAD;
		u->section_len = (size_t)n;
		p = q;
	}
	if (end - p >= 10 && find_ci(p, 10, "/;PARTIAL=") == 0) {
		p += 10;
		q = p;
		while (q < end && *q != '.' && *q != '/' && *q != ';')
			q++;
		if (parse_num(p, (size_t)(q - p), 1, UINT64_MAX >> 1, &u->offset) < 0)
			return IMAP_URL_BAD;
		u->partial = 1;
		u->length = UINT64_MAX;
		p = q;
		if (p < end && *p == '.') {
			q = ++p;
			while (q < end && *q != '/' && *q != ';')
				q++;
			if (parse_num(p, (size_t)(q - p), 0, UINT64_MAX >> 1, &u->length) < 0)
				return IMAP_URL_BAD;
			p = q;
		}
	}
	if (p != end)
		return find_ci(p, (size_t)(end - p), ";URLAUTH=") >= 0 ? IMAP_URL_URLAUTH : IMAP_URL_BAD;
	return IMAP_URL_OK;
}
