/*
 * base64.c — base64 and base64url (RFC 4648). See base64.h.
 */
#include "core/base64.h"

#include <stdint.h>
#include <string.h>

#include "core/buf.h"

static const char digits_std[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char digits_url[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Indexed by octet (a row of 16 per line), so that nothing over 0x7f
 * can pass for a digit whatever the signedness of char. */
/* clang-format off */
const signed char base64_values[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x00 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x10 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63, /* 0x20 */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1, /* 0x30 */
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, /* 0x40 */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1, /* 0x50 */
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, /* 0x70 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x80 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0x90 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xa0 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xb0 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xc0 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xd0 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xe0 */
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, /* 0xf0 */
};
/* clang-format on */

size_t base64_encoded_len(size_t n, unsigned flags)
{
	if (flags & BASE64_NOPAD)
		return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	return (n + 2) / 3 * 4;
}

/* The digits of in[0..n) at out, base64_encoded_len(n, flags) of them. */
static void encode(const unsigned char *in, size_t n, unsigned flags, char *out)
{
	const char *d = flags & BASE64_URL ? digits_url : digits_std;
	int pad = !(flags & BASE64_NOPAD);
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = d[v >> 18 & 63];
		out[o++] = d[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = d[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = d[v & 63];
		else if (pad)
			out[o++] = '=';
	}
}

int base64_encode(const void *in, size_t n, unsigned flags, char *out, size_t outsz)
{
	size_t len = base64_encoded_len(n, flags);

	if (outsz == 0 || len >= outsz || n > (SIZE_MAX - 2) / 4) {
		if (outsz > 0)
			out[0] = '\0';
		return -1;
	}
	encode(in, n, flags, out);
	out[len] = '\0';
	return 0;
}

int base64_encode_buf(struct buf *b, const void *in, size_t n, unsigned flags)
{
	const unsigned char *p = in;

	/* In pieces of 3 * 256 octets, so that padding falls in the last
	 * one only and no piece asks the buffer for much more than it must
	 * hold. */
	while (n > 0) {
		size_t k = n > 768 ? 768 : n, len = base64_encoded_len(k, flags), avail;
		char *dst = buf_reserve(b, len, &avail);
		if (dst == NULL)
			return -1;
		encode(p, k, flags, dst);
		buf_commit(b, len);
		p += k;
		n -= k;
	}
	return 0;
}

void base64_lines_init(struct base64_lines *b, int (*write)(void *arg, const void *p, size_t n),
		       void *arg, size_t cols)
{
	/* Within 4..76: a group of 0 would never fill, one over 57 not fit. */
	cols = cols < 4 ? 4 : cols > 76 ? 76 : cols;
	*b = (struct base64_lines){.write = write, .arg = arg, .group = cols / 4 * 3};
}

/* One line of n octets (at most group) and its CRLF. */
static void line(struct base64_lines *b, const unsigned char *p, size_t n)
{
	char l[76 + 2];
	if (b->err || n == 0)
		return;
	size_t k = base64_encoded_len(n, 0);
	encode(p, n, 0, l);
	l[k++] = '\r';
	l[k++] = '\n';
	if (b->write(b->arg, l, k) < 0)
		b->err = 1;
}

void base64_lines_put(struct base64_lines *b, const void *p, size_t n)
{
	const unsigned char *c = p;
	if (b->npend && n) {
		size_t k = b->group - b->npend < n ? b->group - b->npend : n;
		memcpy(b->pend + b->npend, c, k);
		b->npend += k;
		c += k;
		n -= k;
		if (b->npend < b->group)
			return;
		line(b, b->pend, b->group);
		b->npend = 0;
	}
	for (; n >= b->group; c += b->group, n -= b->group)
		line(b, c, b->group);
	if (n)
		memcpy(b->pend, c, n);
	b->npend = n;
}

int base64_lines_end(struct base64_lines *b)
{
	line(b, b->pend, b->npend);
	b->npend = 0;
	return b->err ? -1 : 0;
}

static int buf_sink(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n);
}

int base64_lines_buf(struct buf *out, const void *p, size_t n, size_t cols)
{
	struct base64_lines b;
	base64_lines_init(&b, buf_sink, out, cols);
	base64_lines_put(&b, p, n);
	return base64_lines_end(&b);
}

/* The value of digit c under flags, or -1. */
static int digit(unsigned char c, unsigned flags)
{
	if (flags & BASE64_URL) {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	}
	return base64_digit(c);
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int base64_decode(struct str in, unsigned flags, void *out, size_t outsz, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)in.p;
	unsigned char *o = out;
	size_t i = 0, n = 0;
	uint32_t acc = 0;
	unsigned nd = 0; /* digits of the current quantum */
	int skip_ws = (flags & BASE64_SKIP_WS) != 0;

	for (; i < in.len; i++) {
		int v = digit(s[i], flags);
		if (v < 0) {
			if (skip_ws && is_ws(s[i]))
				continue;
			break; /* padding, or garbage: sorted out below */
		}
		acc = acc << 6 | (uint32_t)v;
		if (++nd == 4) {
			if (outsz - n < 3)
				return -1;
			o[n++] = (unsigned char)(acc >> 16);
			o[n++] = (unsigned char)(acc >> 8);
			o[n++] = (unsigned char)acc;
			acc = 0;
			nd = 0;
		}
	}
	/* The last quantum: 2 digits make one octet, 3 make two; the
	 * padding, when there, must be the 4 - nd '=' it lacks. */
	if (nd == 1)
		return -1;
	if (nd > 1) {
		size_t k = nd - 1;
		unsigned need = 4 - nd, got = 0;
		uint32_t spare = nd == 2 ? acc & 0xf : acc & 0x3;
		if (spare != 0)
			return -1; /* non-canonical */
		for (; i < in.len && got < need; i++) {
			if (s[i] == '=')
				got++;
			else if (!(skip_ws && is_ws(s[i])))
				return -1;
		}
		if (got != need && !(got == 0 && (flags & BASE64_NOPAD)))
			return -1;
		if (outsz - n < k)
			return -1;
		acc >>= nd == 2 ? 4 : 2;
		if (k == 2)
			o[n++] = (unsigned char)(acc >> 8);
		o[n++] = (unsigned char)acc;
	}
	/* Nothing but white space may follow. */
	for (; i < in.len; i++)
		if (!(skip_ws && is_ws(s[i])))
			return -1;
	*len_r = n;
	return 0;
}
