/*
 * sasl.c — the pieces of SASL every protocol shares: strict base64 for
 * challenge/response lines (RFC 4648 section 4, as RFC 4422 requires) and
 * the PLAIN message split (RFC 4616). POP3, IMAP and SMTP submission all
 * use these; the lenient MIME decoder (mime/mime_decode.h) is for message
 * content, where garbage must be tolerated rather than refused.
 */
#include "auth/sasl.h"

#include <string.h>

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sasl_base64_decode(struct str in, char *out, size_t outsz, size_t *len_r)
{
	size_t o = 0;

	if (in.len % 4 != 0)
		return -1;
	for (size_t i = 0; i < in.len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in.p[i + j];
			if (c == '=' && i + 4 == in.len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after '=' */
				return -1;
			if ((v[j] = b64val(c)) < 0)
				return -1;
		}
		uint32_t n = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t k = 3 - (size_t)pad;
		/* Canonical encodings only: the bits padding hides must be 0. */
		if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff)))
			return -1;
		if (o + k > outsz)
			return -1;
		out[o++] = (char)(n >> 16);
		if (k > 1)
			out[o++] = (char)(n >> 8);
		if (k > 2)
			out[o++] = (char)n;
	}
	*len_r = o;
	return 0;
}

int sasl_base64_encode(const void *p, size_t n, char *out, size_t outsz)
{
	const unsigned char *s = p;
	size_t o = 0;

	if (outsz < (n + 2) / 3 * 4 + 1)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

int sasl_plain_split(struct str msg, struct str *authzid_r, struct str *authcid_r,
		    struct str *passwd_r)
{
	const char *nul1 = memchr(msg.p, '\0', msg.len);
	if (!nul1)
		return -1;
	size_t a = (size_t)(nul1 - msg.p);
	const char *nul2 = memchr(nul1 + 1, '\0', msg.len - a - 1);
	if (!nul2)
		return -1;
	size_t b = (size_t)(nul2 - msg.p);
	if (memchr(nul2 + 1, '\0', msg.len - b - 1) || b == a + 1)
		return -1;
	*authzid_r = str_make(msg.p, a);
	*authcid_r = str_make(nul1 + 1, b - a - 1);
	*passwd_r = str_make(nul2 + 1, msg.len - b - 1);
	return 0;
}
