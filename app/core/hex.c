/*
 * hex.c — hexadecimal digits. See hex.h.
 */
#include "core/hex.h"

const char hex_lower[17] = "0123456789abcdef";
const char hex_upper[17] = "0123456789ABCDEF";

int hex_digit(int c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return hex_digit_lower(c);
}

int hex_digit_lower(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int64_t hex_objid_parse(const char *s, size_t len, char prefix)
{
	uint32_t n = 0;

	if (len != 9 || s[0] != prefix)
		return -1;
	for (size_t i = 1; i < 9; i++) {
		int d = hex_digit_lower((unsigned char)s[i]);
		if (d < 0)
			return -1;
		n = n << 4 | (uint32_t)d;
	}
	return n;
}

void hex_encode(char *out, const void *in, size_t n)
{
	const uint8_t *p = in;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_lower[p[i] >> 4];
		out[2 * i + 1] = hex_lower[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_decode(uint8_t *out, const char *in, size_t n, enum hex_case cs)
{
	int (*digit)(int) = cs == HEX_LOWER_ONLY ? hex_digit_lower : hex_digit;

	if (n % 2)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = digit((unsigned char)in[2 * i]), lo = digit((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int pct_decode(const char *in, size_t n, char *out, size_t outsz, size_t *len_r, unsigned flags)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];
		if (c == '%') {
			/* both digits read before out[o] (o <= i) is written: in place */
			int hi = i + 2 < n ? hex_digit((unsigned char)in[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit((unsigned char)in[i + 2]) : -1;
			if (lo >= 0 && ((hi | lo) != 0 || !(flags & PCT_KEEP_00))) {
				c = hi << 4 | lo;
				i += 2;
			} else if (!(flags & PCT_LENIENT)) {
				return -1;
			}
		} else if (c == '+' && (flags & PCT_PLUS_SPACE)) {
			c = ' ';
		}
		if ((c == 0 && (flags & PCT_NO_NUL)) || o + 1 >= outsz)
			return -1;
		out[o++] = (char)c;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	*len_r = o;
	return 0;
}
