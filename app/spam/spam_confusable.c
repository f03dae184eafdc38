/*
 * spam_confusable.c — look-alike folding for host names: scripts of code
 * points, the skeleton two names share when a reader cannot tell them
 * apart, and Punycode (RFC 3492) decoding of xn-- labels (spam_private.h).
 *
 * Caveats: the skeleton table here is a small hand-made subset of UTS
 * #39's confusables (the Cyrillic and Greek letters that look like Latin
 * ones, and the ASCII digit/letter pairs phishers use); the full table
 * generated at build time from ICU's confusables.txt is not done yet.
 * NFD is not applied.
 */
#include <string.h>

#include "core/utf8.h"
#include "spam/spam_private.h"

enum spam_script spam_script_of(uint32_t cp)
{
	if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xc0 && cp <= 0x24f && cp != 0xd7 && cp != 0xf7))
		return SPAM_SCRIPT_LATIN;
	if (cp >= 0x370 && cp <= 0x3ff)
		return SPAM_SCRIPT_GREEK;
	if (cp >= 0x400 && cp <= 0x52f)
		return SPAM_SCRIPT_CYRILLIC;
	if (cp < 0x80 || (cp >= 0x2000 && cp <= 0x206f))
		return SPAM_SCRIPT_COMMON;
	return SPAM_SCRIPT_OTHER;
}

static const struct {
	uint32_t cp;
	char to;
} fold[] = {
    /* Cyrillic */
    {0x430, 'a'}, {0x435, 'e'}, {0x43e, 'o'}, {0x440, 'p'}, {0x441, 'c'}, {0x443, 'y'},
    {0x445, 'x'}, {0x456, 'i'}, {0x458, 'j'}, {0x455, 's'}, {0x501, 'd'}, {0x4bb, 'h'},
    {0x51b, 'q'}, {0x51d, 'w'}, {0x410, 'a'}, {0x412, 'b'}, {0x415, 'e'}, {0x41a, 'k'},
    {0x41c, 'm'}, {0x41d, 'h'}, {0x41e, 'o'}, {0x420, 'p'}, {0x421, 'c'}, {0x422, 't'},
    {0x425, 'x'}, {0x406, 'l'}, {0x408, 'j'}, {0x405, 's'},
    /* Greek */
    {0x3bf, 'o'}, {0x3b1, 'a'}, {0x3bd, 'v'}, {0x3c1, 'p'}, {0x3b9, 'i'}, {0x3ba, 'k'},
    {0x3c4, 't'}, {0x3c5, 'u'}, {0x391, 'a'}, {0x392, 'b'}, {0x395, 'e'}, {0x396, 'z'},
    {0x397, 'h'}, {0x399, 'l'}, {0x39a, 'k'}, {0x39c, 'm'}, {0x39d, 'n'}, {0x39f, 'o'},
    {0x3a1, 'p'}, {0x3a4, 't'}, {0x3a7, 'x'}, {0x3a5, 'y'},
    /* Latin look-alikes */
    {0x131, 'i'}, {0x237, 'j'}, {0x261, 'g'}, {0x251, 'a'}, {0x25b, 'e'}, {0x269, 'i'},
};

int spam_skeleton(struct str s, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0;
	while (i < s.len) {
		size_t n = utf8_seq(p + i, s.len - i);
		uint32_t cp;
		if (n <= 1) {
			cp = p[i];
			n = 1;
		} else if (n == 2) {
			cp = (uint32_t)(p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f);
		} else if (n == 3) {
			cp = (uint32_t)(p[i] & 0x0f) << 12 | (uint32_t)(p[i + 1] & 0x3f) << 6 |
			     (p[i + 2] & 0x3f);
		} else {
			cp = (uint32_t)(p[i] & 0x07) << 18 | (uint32_t)(p[i + 1] & 0x3f) << 12 |
			     (uint32_t)(p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);
		}
		i += n;
		char c = 0;
		if (cp < 0x80) {
			c = (char)cp;
			if (c >= 'A' && c <= 'Z')
				c += 32;
			if (c == '0')
				c = 'o';
			else if (c == '1' || c == 'i')
				c = 'l';
			/* "rn" reads as "m", "vv" as "w" */
			if ((c == 'n' || c == 'v') && buf_len(out) > 0) {
				char *last = buf_data(out) + buf_len(out) - 1;
				if ((c == 'n' && *last == 'r') || (c == 'v' && *last == 'v')) {
					*last = c == 'n' ? 'm' : 'w';
					continue;
				}
			}
		} else {
			for (size_t k = 0; k < sizeof fold / sizeof fold[0]; k++)
				if (fold[k].cp == cp) {
					c = fold[k].to;
					break;
				}
			if (c == 'i')
				c = 'l';
		}
		if (c) {
			if (buf_append(out, &c, 1) < 0)
				return -1;
		} else {
			char u[4];
			if (buf_append(out, u, utf8_encode(cp, u)) < 0)
				return -1;
		}
	}
	return 0;
}

/* RFC 3492 §6.2: the code points of one label's Punycode (after "xn--"). */
size_t spam_punycode_decode(struct str in, uint32_t *out, size_t max)
{
	const uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
	uint32_t n = 128, i = 0, bias = 72;
	size_t len = 0, b = 0;
	for (size_t j = 0; j < in.len; j++)
		if (in.p[j] == '-')
			b = j;
	for (size_t j = 0; j < b && len < max; j++) {
		if ((unsigned char)in.p[j] >= 0x80)
			return 0;
		out[len++] = (unsigned char)in.p[j];
	}
	for (size_t in_i = b > 0 ? b + 1 : 0; in_i < in.len;) {
		uint32_t oldi = i, w = 1;
		for (uint32_t k = base;; k += base) {
			if (in_i >= in.len)
				return 0;
			unsigned char c = (unsigned char)in.p[in_i++];
			uint32_t digit = c >= '0' && c <= '9' ? c - 22u
			                 : (c | 32) >= 'a' && (c | 32) <= 'z' ? (uint32_t)((c | 32) - 'a')
			                                                        : base;
			if (digit >= base || digit > (UINT32_MAX - i) / w)
				return 0;
			i += digit * w;
			uint32_t t = k <= bias ? tmin : k >= bias + tmax ? tmax : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (base - t))
				return 0;
			w *= base - t;
		}
		uint32_t delta = i - oldi, numpoints = (uint32_t)len + 1;
		delta = oldi == 0 ? delta / damp : delta / 2;
		delta += delta / numpoints;
		uint32_t k = 0;
		while (delta > ((base - tmin) * tmax) / 2) {
			delta /= base - tmin;
			k += base;
		}
		bias = k + (base - tmin + 1) * delta / (delta + skew);
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

int spam_host_unicode(struct str host, struct buf *out)
{
	size_t s = 0;
	for (size_t i = 0; i <= host.len; i++) {
		if (i < host.len && host.p[i] != '.')
			continue;
		struct str label = str_make(host.p + s, i - s);
		if (label.len > 4 && str_has_prefix_ci(label, "xn--")) {
			uint32_t cps[64];
			size_t n = spam_punycode_decode(str_make(label.p + 4, label.len - 4), cps, 64);
			for (size_t k = 0; k < n; k++) {
				char u[4];
				if (buf_append(out, u, utf8_encode(cps[k], u)) < 0)
					return -1;
			}
			if (n == 0 && buf_append(out, label.p, label.len) < 0)
				return -1;
		} else if (buf_append(out, label.p, label.len) < 0) {
			return -1;
		}
		if (i < host.len && buf_append(out, ".", 1) < 0)
			return -1;
		s = i + 1;
	}
	return 0;
}
