/*
 * ufold.c — Unicode full case folding. See ufold.h.
 *
 * Most text is ASCII and two-octet letters (Latin, Greek, Cyrillic,
 * Armenian, Hebrew, Arabic), and neither changes length when folded:
 * ASCII is read eight octets at a time, a two-octet character is one
 * lookup in ufold_two, folding in place is one pass until a character
 * whose fold would outgrow what has been read (rare: "ΐ", "İ"), where
 * the rest is moved up by as much as it grows and folded from there,
 * and measuring the room that needs (ufold_room) looks only at the
 * octets that can start a character whose fold changes length.
 */
#include "core/ufold.h"

#include <stddef.h>
#include <string.h>

#include "core/utf8.h"

/* The two-octet characters' folds, one step (scripts/gen-ufold.c
 * generates it with the rest of the table): ufold_two[cp] for
 * U+0080..U+07FF is the folded form's two octets, first | second << 8,
 * when it is two octets long (the character itself when it has no
 * fold), and 0 when it has another length (U+0130, U+017F, U+0390...):
 * those take lookup(). */
extern const uint16_t ufold_two[0x800];

/* ufold_two's entry for the well-formed two-octet sequence s[0..n)
 * starts with, or 0 (none, or one of its zeros). */
static inline uint16_t two(const unsigned char *s, size_t n)
{
	if ((unsigned)(s[0] - 0xc2) <= 0xdf - 0xc2 && n >= 2 && (s[1] & 0xc0) == 0x80)
		return ufold_two[((s[0] & 0x1f) << 6) | (s[1] & 0x3f)];
	return 0;
}

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

#define ASCII_HI 0x8080808080808080ull

/* ASCII octets from s to o (apart, or o <= s), A-Z lowercased, up to
 * the first octet past ASCII: how many. Eight at a time while they are
 * ASCII; each word is read before it is written and o never passes s,
 * so a copy onto itself reads nothing it has overwritten. */
static inline size_t ascii_copy(unsigned char *o, const unsigned char *s, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & ASCII_HI)
			break;
		uint64_t ge_a = w + 0x3f3f3f3f3f3f3f3full, gt_z = w + 0x2525252525252525ull;
		w |= ((ge_a & ~gt_z) & ASCII_HI) >> 2; /* A-Z get 0x20 */
		memcpy(o + i, &w, 8);
	}
	for (; i < n && s[i] < 0x80; i++)
		o[i] = (unsigned char)((unsigned)(s[i] - 'A') < 26u ? s[i] + 32 : s[i]);
	return i;
}

size_t ufold_char_len(const char *p, size_t n, size_t *len_r)
{
	unsigned char c = (unsigned char)*p;
	if (c < 0x80) {
		*len_r = 1;
		return 1;
	}
	if (two((const unsigned char *)p, n)) {
		*len_r = 2;
		return 2;
	}
	const struct ufold_map *m = lookup((const unsigned char *)p, n, len_r);
	return m ? m->len : *len_r;
}

/* Folds src[0..n) to dst: apart, or dst <= src with src far enough
 * ahead that no character's fold passes the octet being read
 * (ufold_inplace moves the source up by what ahead() says). */
static size_t fold_run(const char *src, size_t n, char *dst)
{
	const unsigned char *s = (const unsigned char *)src;
	unsigned char *o = (unsigned char *)dst;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			size_t k = ascii_copy(o, s + i, n - i);
			o += k;
			i += k;
			continue;
		}
		uint16_t v = two(s + i, n - i);
		if (v) {
			o[0] = (unsigned char)v;
			o[1] = (unsigned char)(v >> 8);
			o += 2;
			i += 2;
			continue;
		}
		size_t l;
		const struct ufold_map *m = lookup(s + i, n - i, &l);
		if (m) {
			memcpy(o, m->s, m->len);
			o += m->len;
		} else {
			memmove(o, s + i, l);
			o += l;
		}
		i += l;
	}
	return (size_t)(o - (unsigned char *)dst);
}

/* The lead octets of the characters whose fold is not as long as they
 * are (generated with the table): 1 for those. */
extern const unsigned char ufold_resize[256];

/* How far the fold of p[0..n) runs ahead of its source at most (0 when
 * it never does), and its final length in *len_r. Only a character that
 * starts with an octet of ufold_resize changes the length, and every
 * such octet starts a character (a lead octet is never inside another's
 * sequence, and an ill-formed octet is one of its own): the rest is
 * skipped, ASCII eight octets at a time. */
static size_t ahead(const char *p, size_t n, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, most = 0;
	ptrdiff_t d = 0; /* the fold's length so far less its source's */
	while (i < n) {
		uint64_t w;
		if (i + 8 <= n && (memcpy(&w, s + i, 8), !(w & ASCII_HI))) {
			i += 8;
			continue;
		}
		if (!ufold_resize[s[i]]) {
			i++;
			continue;
		}
		if (two(s + i, n - i)) { /* most of its block keeps the length */
			i += 2;
			continue;
		}
		size_t l, f = ufold_char_len(p + i, n - i, &l);
		i += l;
		d += (ptrdiff_t)f - (ptrdiff_t)l;
		if (d > 0 && (size_t)d > most)
			most = (size_t)d;
	}
	*len_r = (size_t)((ptrdiff_t)n + d);
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
	unsigned char *s = (unsigned char *)p;
	size_t i = 0, o = 0; /* read from i, written to o (o <= i) */
	while (i < n) {
		if (s[i] < 0x80) {
			size_t k = ascii_copy(s + o, s + i, n - i);
			o += k;
			i += k;
			continue;
		}
		uint16_t v = two(s + i, n - i);
		if (v) {
			s[o] = (unsigned char)v;
			s[o + 1] = (unsigned char)(v >> 8);
			o += 2;
			i += 2;
			continue;
		}
		size_t l;
		const struct ufold_map *m = lookup(s + i, n - i, &l);
		size_t f = m ? m->len : l;
		if (o + f > i + l)
			break; /* it would pass what is read */
		if (m)
			memcpy(s + o, m->s, f);
		else if (o != i)
			memmove(s + o, s + i, l);
		o += f;
		i += l;
	}
	if (i == n)
		return o;
	/* p[0..o) is folded; the rest, p[i..n), grows somewhere: it moves
	 * up so that its fold never passes it. That stays within
	 * ufold_room(p, n): the whole text's fold runs ahead of it by o - i
	 * plus the rest's most. */
	size_t len, most = ahead(p + i, n - i, &len), at = o + most > i ? o + most : i;
	if (at > i)
		memmove(p + at, p + i, n - i);
	return o + fold_run(p + at, n - i, p + o);
}

size_t ufold(const char *in, size_t n, char *out)
{
	return fold_run(in, n, out);
}
