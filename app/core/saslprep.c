/*
 * saslprep.c — SASLprep (RFC 4013) of UTF-8 text. See saslprep.h.
 */
#include "core/saslprep.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/unorm.h"
#include "core/utf8.h"
#include "core/xalloc.h"

struct range {
	uint32_t lo, hi;
};

/* RFC 3454 B.1, "commonly mapped to nothing". */
static const struct range map_nothing[] = {
	{0x00ad, 0x00ad}, {0x034f, 0x034f}, {0x1806, 0x1806}, {0x180b, 0x180d},
	{0x200b, 0x200d}, {0x2060, 0x2060}, {0xfe00, 0xfe0f}, {0xfeff, 0xfeff},
};

/* RFC 3454 C.1.2, non-ASCII space characters: mapped to U+0020 (RFC 4013
 * §2.1) and prohibited in the output (§2.3), where only NFKC could bring
 * one back. */
static const struct range nonascii_space[] = {
	{0x00a0, 0x00a0}, {0x1680, 0x1680}, {0x2000, 0x200b},
	{0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000},
};

/* RFC 3454 C.2.1 to C.9 (C.5, the surrogates, cannot be well-formed
 * UTF-8; C.4's noncharacters at the end of each plane are tested apart). */
static const struct range prohibited[] = {
	{0x0000, 0x001f},   {0x007f, 0x009f},   /* C.2.1, C.2.2 */
	{0x0340, 0x0341},                       /* C.8 */
	{0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x180e, 0x180e}, /* C.2.2 */
	{0x200c, 0x200f},                       /* C.2.2, C.8 */
	{0x2028, 0x2029},                       /* C.2.2 */
	{0x202a, 0x202e},                       /* C.8 */
	{0x2060, 0x2063},   {0x206a, 0x206f},   /* C.2.2, C.8 */
	{0x2ff0, 0x2ffb},                       /* C.7 */
	{0xd800, 0xf8ff},                       /* C.5, C.3 */
	{0xfdd0, 0xfdef},                       /* C.4 */
	{0xfeff, 0xfeff},                       /* C.2.2 */
	{0xfff9, 0xfffd},                       /* C.2.2, C.6 */
	{0x1d173, 0x1d17a},                     /* C.2.2 */
	{0xe0001, 0xe0001}, {0xe0020, 0xe007f}, /* C.9 */
	{0xf0000, 0x10ffff},                    /* C.3 (and C.4's last two) */
};

static int in_table(uint32_t cp, const struct range *t, size_t n)
{
	for (size_t i = 0; i < n && t[i].lo <= cp; i++)
		if (cp <= t[i].hi)
			return 1;
	return 0;
}

#define IN(cp, t) in_table(cp, t, sizeof t / sizeof t[0])

/* The checks of §2.3 to §2.5 on the prepared text s[0..n). */
static int check(const char *s, size_t n)
{
	int ral = 0, l = 0, first = -1, last = -1;
	for (size_t i = 0; i < n;) {
		size_t len;
		uint32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &len);
		i += len;
		if (IN(cp, nonascii_space) || IN(cp, prohibited) || (cp & 0xfffe) == 0xfffe)
			return -1;
		int c = unorm_bidi_class(cp);
		if (c == UNORM_UNASSIGNED)
			return -1;
		ral |= c == UNORM_BIDI_RAL;
		l |= c == UNORM_BIDI_L;
		if (first < 0)
			first = c;
		last = c;
	}
	/* RFC 3454 §6: with any R or AL, no L, and R or AL first and last. */
	if (ral && (l || first != UNORM_BIDI_RAL || last != UNORM_BIDI_RAL))
		return -1;
	return 0;
}

/* Wipes and frees p (size n). */
static void drop(char *p, size_t n)
{
	explicit_bzero(p, n);
	free(p);
}

/* §2.1 and §2.2 of in[0..n) (well-formed UTF-8, no NUL) into a new
 * buffer (*sz_r octets, the caller drops it): the length. */
static size_t map_nfkc(const char *in, size_t n, char **out_r, size_t *sz_r)
{
	const unsigned char *s = (const unsigned char *)in;
	char *mapped = xmalloc(n + 1); /* mapping never lengthens the text */
	size_t m = 0;

	for (size_t i = 0; i < n;) {
		size_t len;
		uint32_t cp = utf8_decode(s + i, n - i, &len);
		/* U+200B is in both tables: it goes, as other implementations
		 * (passlib, scramp) have it. */
		if (IN(cp, map_nothing))
			;
		else if (IN(cp, nonascii_space))
			mapped[m++] = ' ';
		else {
			memcpy(mapped + m, in + i, len);
			m += len;
		}
		i += len;
	}
	/* NFKC is NFC of the NFKD. */
	size_t kdsz = UNORM_KD_GROWTH * m + 1;
	char *kd = xmalloc(kdsz);
	*sz_r = UNORM_GROWTH * kdsz;
	*out_r = xmalloc(*sz_r);
	size_t k = unorm_nfc(kd, unorm_nfkd(mapped, m, kd), *out_r);
	drop(kd, kdsz);
	drop(mapped, n + 1);
	return k;
}

int saslprep(const char *in, size_t n, char *out, size_t outsz, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)in;
	int rc = -1;

	if (outsz)
		out[0] = '\0';
	*len_r = 0;
	if (n > SASLPREP_IN_MAX)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(s + i, n - i);
		if (len == 0 || s[i] == 0)
			return -1;
		i += len;
	}
	char *p, *again;
	size_t psz, asz, k = map_nfkc(in, n, &p, &psz);
	/* core/unorm copies a segment past UNORM_SEGMENT_MAX code points (a
	 * base with dozens of marks) unnormalised: such a text may prepare
	 * differently a second time, and a client's NFKC would not give it
	 * either. Only a fixed point is taken. */
	size_t k2 = map_nfkc(p, k, &again, &asz);
	if (k > 0 && k < outsz && k2 == k && memcmp(p, again, k) == 0 && check(p, k) == 0) {
		memcpy(out, p, k);
		out[k] = '\0';
		*len_r = k;
		rc = 0;
	}
	drop(again, asz);
	drop(p, psz);
	return rc;
}
