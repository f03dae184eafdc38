/*
 * ufold.c — Unicode full case folding. See ufold.h.
 */
#include "core/ufold.h"

#include <string.h>

#include "core/utf8.h"

/* The map of the character at s (its length in *len_r, 1 for an
 * ill-formed octet), or NULL when it folds to itself. */
static inline const struct ufold_map *lookup(const unsigned char *s, size_t n, size_t *len_r)
{
	if (s[0] >= 0xc2 && s[0] <= 0xdf && n >= 2 && (s[1] & 0xc0) == 0x80) {
		/* two octets, most non-ASCII letters: no validator call */
		uint32_t cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		uint16_t i = ufold_index[ufold_page[cp >> 8]][cp & 255];
		*len_r = 2;
		return i ? &ufold_maps[i] : NULL;
	}
	size_t l = utf8_seq(s, n);
	if (l == 0) {
		*len_r = 1;
		return NULL;
	}
	*len_r = l;
	uint32_t cp = l == 2 ? ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f)
		    : l == 3 ? ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
				       (s[2] & 0x3f)
			     : ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
				       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	uint16_t i = ufold_index[ufold_page[cp >> 8]][cp & 255];
	return i ? &ufold_maps[i] : NULL;
}

size_t ufold_char_len(const char *p, size_t n, size_t *len_r)
{
	unsigned char c = (unsigned char)*p;
	if (c < 0x80) {
		*len_r = 1;
		return 1;
	}
	const struct ufold_map *m = lookup((const unsigned char *)p, n, len_r);
	return m ? m->len : *len_r;
}

/* Folds the non-ASCII-led rest, from src to dst (dst <= src, never
 * passing the octet being read: ufold_inplace's room sees to that, or
 * the two do not overlap). */
static size_t fold_run(const char *src, size_t n, char *dst)
{
	char *o = dst;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)src[i];
		if (c < 0x80) {
			*o++ = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
			continue;
		}
		size_t l;
		const struct ufold_map *m = lookup((const unsigned char *)src + i, n - i, &l);
		if (m) {
			memcpy(o, m->s, m->len);
			o += m->len;
		} else {
			memmove(o, src + i, l);
			o += l;
		}
		i += l;
	}
	return (size_t)(o - dst);
}

/* ASCII lowercased in place up to the first octet past it: its offset. */
static size_t ascii_run(char *p, size_t n)
{
	size_t i = 0;
	/* Eight octets at a time while they are ASCII: A-Z get 0x20. */
	for (; i + 8 <= n; i += 8) {
		uint64_t w, hi = 0x8080808080808080ull;
		memcpy(&w, p + i, 8);
		if (w & hi)
			break;
		uint64_t ge_a = w + 0x3f3f3f3f3f3f3f3full, gt_z = w + 0x2525252525252525ull;
		w |= ((ge_a & ~gt_z) & hi) >> 2;
		memcpy(p + i, &w, 8);
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x80)
			break;
		if (c >= 'A' && c <= 'Z')
			p[i] = (char)(c + 32);
	}
	return i;
}

/* How far the fold of p[0..n) runs ahead of its source at most (0 when
 * it never does), and its final length in *len_r. */
static size_t ahead(const char *p, size_t n, size_t *len_r)
{
	size_t in = 0, out = 0, most = 0;
	while (in < n) {
		size_t l, f = ufold_char_len(p + in, n - in, &l);
		in += l;
		out += f;
		if (out > in && out - in > most)
			most = out - in;
	}
	*len_r = out;
	return most;
}

size_t ufold_room(const char *p, size_t n)
{
	size_t len;
	return n + ahead(p, n, &len);
}

size_t ufold_fit(const char *p, size_t n, size_t room)
{
	size_t in = 0, out = 0, most = 0;
	while (in < n) {
		size_t l, f = ufold_char_len(p + in, n - in, &l);
		size_t m = out + f > in + l && out + f - (in + l) > most ? out + f - (in + l) : most;
		if (in + l + m > room)
			break;
		in += l;
		out += f;
		most = m;
	}
	return in;
}

size_t ufold_inplace(char *p, size_t n)
{
	size_t i = ascii_run(p, n);
	if (i == n)
		return n;
	size_t len, most = ahead(p + i, n - i, &len);
	if (most)
		memmove(p + i + most, p + i, n - i); /* the rest, moved up */
	return i + fold_run(p + i + most, n - i, p + i);
}

size_t ufold(const char *in, size_t n, char *out)
{
	return fold_run(in, n, out);
}
