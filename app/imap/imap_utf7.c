/*
 * imap_utf7.c — modified UTF-7 <-> UTF-8. See imap_utf7.h.
 */
#include "imap_utf7.h"

#include <stdint.h>
#include <string.h>

#include "core/base64.h"
#include "core/utf8.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* RFC 3501 §5.1.3's alphabet: base64's with ',' for '/'. */
static int b64val(unsigned char c)
{
	if (c == ',')
		return 63;
	return c == '/' ? -1 : base64_digit(c);
}

static int printable(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Puts out back to len bytes after a failed conversion. */
static void restore(struct buf *out, size_t len)
{
	out->len = len;
	if (out->p)
		out->p[out->off + len] = '\0';
}

/* Length of the UTF-8 sequence starting at s[i] if well formed, else 0. */
static size_t utf8_decode_at(const unsigned char *s, size_t len, size_t i, uint32_t *cp_r)
{
	unsigned char c = s[i];
	uint32_t cp, min;
	size_t n, k;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len - i < n)
		return 0;
	for (k = 1; k < n; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

int imap_utf8_valid(struct str s)
{
	const unsigned char *u = (const unsigned char *)s.p;
	size_t i = 0, n;
	uint32_t cp;

	while (i < s.len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_decode_at(u, s.len, i, &cp);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

static int put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n = utf8_encode(cp, b);
	return out ? buf_append(out, b, n) : 0;
}

/*
 * Decodes in; with out == NULL only validates. Returns an
 * imap_utf7_result; out is not restored here.
 */
static int decode(struct str in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in.p;
	size_t i = 0, run_end = SIZE_MAX;

	while (i < in.len) {
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0, nunits = 0;
		unsigned char c = s[i];

		if (!printable(c))
			return IMAP_UTF7_INVALID;
		if (c != '&') {
			if (out && buf_append(out, &s[i], 1) < 0)
				return IMAP_UTF7_NO_ROOM;
			i++;
			continue;
		}
		if (i + 1 < in.len && s[i + 1] == '-') {
			if (out && buf_append(out, "&", 1) < 0)
				return IMAP_UTF7_NO_ROOM;
			i += 2;
			continue;
		}
		/* A base64 run; one right after another is a non-minimal spelling. */
		if (i == run_end)
			return IMAP_UTF7_INVALID;
		for (i++;; i++) {
			int v;

			if (i >= in.len)
				return IMAP_UTF7_INVALID;
			if (s[i] == '-')
				break;
			v = b64val(s[i]);
			if (v < 0)
				return IMAP_UTF7_INVALID;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			nunits++;
			if (high) {
				if (u < 0xdc00 || u > 0xdfff)
					return IMAP_UTF7_INVALID;
				u = 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return IMAP_UTF7_INVALID;
			} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
				/* Printable ASCII ("&" included) must stand for itself. */
				return IMAP_UTF7_INVALID;
			}
			if (put_utf8(out, u) < 0)
				return IMAP_UTF7_NO_ROOM;
		}
		/* At the closing "-": whole characters only, zero padding. */
		if (nunits == 0 || high || nbits >= 6 || bits != 0)
			return IMAP_UTF7_INVALID;
		i++;
		run_end = i;
	}
	return IMAP_UTF7_OK;
}

int imap_utf7_to_utf8(struct str in, struct buf *out)
{
	size_t start = out->len;
	int r = decode(in, out);

	if (r != IMAP_UTF7_OK)
		restore(out, start);
	return r;
}

int imap_utf7_valid(struct str in)
{
	return decode(in, NULL) == IMAP_UTF7_OK;
}

int imap_utf8_to_utf7(struct str in, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in.p;
	size_t start = out->len, i = 0;

	if (!imap_utf8_valid(in) || (in.len && memchr(in.p, 0, in.len)))
		return IMAP_UTF7_INVALID;
	while (i < in.len) {
		uint32_t bits = 0;
		unsigned nbits = 0;
		char c;

		if (printable(s[i])) {
			if (buf_append(out, s[i] == '&' ? "&-" : (const char *)&s[i],
			               s[i] == '&' ? 2 : 1) < 0)
				goto no_room;
			i++;
			continue;
		}
		if (buf_append(out, "&", 1) < 0)
			goto no_room;
		while (i < in.len && !printable(s[i])) {
			uint32_t cp, units[2];
			size_t n = utf8_decode_at(s, in.len, i, &cp), k, nu;

			i += n;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = 0xd800 + (cp >> 10);
				units[1] = 0xdc00 + (cp & 0x3ff);
				nu = 2;
			} else {
				units[0] = cp;
				nu = 1;
			}
			for (k = 0; k < nu; k++) {
				bits = (bits << 16) | units[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					c = b64chars[(bits >> nbits) & 63];
					if (buf_append(out, &c, 1) < 0)
						goto no_room;
				}
				bits &= (1u << nbits) - 1;
			}
		}
		if (nbits) {
			c = b64chars[(bits << (6 - nbits)) & 63];
			if (buf_append(out, &c, 1) < 0)
				goto no_room;
		}
		if (buf_append(out, "-", 1) < 0)
			goto no_room;
	}
	return IMAP_UTF7_OK;
no_room:
	restore(out, start);
	return IMAP_UTF7_NO_ROOM;
}
