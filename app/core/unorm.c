/*
 * unorm.c — Unicode Normalization Form C. See unorm.h.
 */
#include "core/unorm.h"

#include <string.h>

#include "core/utf8.h"

#define S_BASE 0xac00u
#define L_BASE 0x1100u
#define V_BASE 0x1161u
#define T_BASE 0x11a7u
#define L_COUNT 19u
#define V_COUNT 21u
#define T_COUNT 28u
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

static inline const struct unorm_rec *rec(uint32_t cp)
{
	return &unorm_recs[unorm_index[unorm_page[cp >> 8]][cp & 255]];
}

/* The code point at s (its length in *len_r), or UINT32_MAX for an
 * ill-formed octet (length 1). */
static inline uint32_t next_cp(const unsigned char *s, size_t n, size_t *len_r)
{
	if (s[0] < 0x80) {
		*len_r = 1;
		return s[0];
	}
	size_t l = utf8_seq(s, n);
	if (l == 0) {
		*len_r = 1;
		return UINT32_MAX;
	}
	*len_r = l;
	return l == 2 ? ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f)
	       : l == 3
		   ? ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f)
		   : ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
			 ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

/* 1 when a segment starts at cp: class 0, quick check Yes (nothing before
 * it can compose with it or reorder past it; gen-unorm.c checks that its
 * decomposition starts with such a starter too). */
static inline int boundary(uint32_t cp)
{
	if (cp < 0x300)
		return 1;
	if (cp == UINT32_MAX)
		return 1;
	const struct unorm_rec *r = rec(cp);
	return r->ccc == 0 && r->qc == 0;
}

int unorm_is_nfc(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	unsigned last = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			i += utf8_ascii_run(s + i, n - i);
			last = 0;
			continue;
		}
		size_t l;
		uint32_t cp = next_cp(s + i, n - i, &l);
		i += l;
		if (cp == UINT32_MAX || cp < 0x300) {
			last = 0;
			continue;
		}
		const struct unorm_rec *r = rec(cp);
		if (r->qc || (r->ccc && r->ccc < last))
			return 0;
		last = r->ccc;
	}
	return 1;
}

static inline unsigned cls(uint32_t cp)
{
	return cp < 0x300 ? 0 : rec(cp)->ccc;
}

/* Appends cp's full canonical decomposition to b (room checked by the
 * caller: UNORM_DECOMP_MAX). */
static size_t decompose(uint32_t cp, uint32_t *b)
{
	if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
		uint32_t si = cp - S_BASE;
		b[0] = L_BASE + si / N_COUNT;
		b[1] = V_BASE + (si % N_COUNT) / T_COUNT;
		if (si % T_COUNT == 0)
			return 2;
		b[2] = T_BASE + si % T_COUNT;
		return 3;
	}
	const struct unorm_rec *r = cp < 0xc0 ? &unorm_recs[0] : rec(cp);
	if (!r->dlen) {
		b[0] = cp;
		return 1;
	}
	memcpy(b, &unorm_decomp[r->doff], r->dlen * sizeof *b);
	return r->dlen;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
	if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
		return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
	if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE &&
	    b < T_BASE + T_COUNT)
		return a + (b - T_BASE);
	size_t lo = 0, hi = unorm_npairs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct unorm_pair *p = &unorm_pairs[mid];
		if (p->a < a || (p->a == a && p->b < b))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < unorm_npairs && unorm_pairs[lo].a == a && unorm_pairs[lo].b == b
		   ? unorm_pairs[lo].c
		   : 0;
}

/* Canonical ordering (stable by class), then composition of b[0..k) when
 * compose is set: the new length. k <= UNORM_SEGMENT_MAX, so insertion
 * sorting is bounded. */
static size_t nfc_segment(uint32_t *b, size_t k, int compose_too)
{
	uint8_t c[UNORM_SEGMENT_MAX];
	for (size_t i = 0; i < k; i++)
		c[i] = (uint8_t)cls(b[i]);
	for (size_t i = 1; i < k; i++) {
		if (!c[i])
			continue;
		size_t j = i;
		uint32_t v = b[i];
		uint8_t cv = c[i];
		while (j > 0 && c[j - 1] > cv) {
			b[j] = b[j - 1];
			c[j] = c[j - 1];
			j--;
		}
		b[j] = v;
		c[j] = cv;
	}
	if (!compose_too)
		return k;
	/* Composition (UAX #15 §1.3 / Unicode §3.11): a character joins the
	 * last starter unless blocked by one of equal or higher class. */
	size_t starter = 0, o = 1;
	int have_starter = c[0] == 0;
	unsigned last = c[0];
	for (size_t i = 1; i < k; i++) {
		uint32_t cp = b[i];
		unsigned cc = c[i];
		if (have_starter && (last < cc || (last == 0 && o == starter + 1))) {
			uint32_t comp = compose(b[starter], cp);
			if (comp) {
				b[starter] = comp;
				continue;
			}
		}
		if (cc == 0) {
			starter = o;
			have_starter = 1;
		}
		last = cc;
		b[o] = cp;
		c[o] = (uint8_t)cc;
		o++;
	}
	return o;
}

static size_t normalise(const char *in, size_t n, char *out, int compose_too);

size_t unorm_nfc(const char *in, size_t n, char *out)
{
	if (unorm_is_nfc(in, n)) {
		memcpy(out, in, n);
		return n;
	}
	return normalise(in, n, out, 1);
}

size_t unorm_nfd(const char *in, size_t n, char *out)
{
	size_t i = utf8_ascii_run((const unsigned char *)in, n);
	memcpy(out, in, i);
	return i + normalise(in + i, n - i, out + i, 0);
}

/* NFC (compose_too) or NFD of in[0..n), segment by segment. */
static size_t normalise(const char *in, size_t n, char *out, int compose_too)
{
	const unsigned char *s = (const unsigned char *)in;
	char *o = out;
	size_t i = 0;
	while (i < n) {
		/* One segment: [i, e), from a boundary to the next. */
		size_t l, seg = i;
		uint32_t cp = next_cp(s + i, n - i, &l);
		if (cp == UINT32_MAX) {
			*o++ = (char)s[i++];
			continue;
		}
		uint32_t b[UNORM_SEGMENT_MAX + UNORM_DECOMP_MAX];
		size_t k = 0;
		int over = 0;
		for (;;) {
			if (k + UNORM_DECOMP_MAX > UNORM_SEGMENT_MAX)
				over = 1;
			else
				k += decompose(cp, b + k);
			i += l;
			if (i >= n)
				break;
			size_t l2;
			uint32_t nx = next_cp(s + i, n - i, &l2);
			if (boundary(nx))
				break;
			cp = nx;
			l = l2;
		}
		if (over) {
			memcpy(o, in + seg, i - seg);
			o += i - seg;
			continue;
		}
		k = nfc_segment(b, k, compose_too);
		for (size_t j = 0; j < k; j++)
			o += utf8_encode(b[j], o);
	}
	return (size_t)(o - out);
}

int unorm_nfc_str(const char *s, char *out, size_t outsz)
{
	size_t n = strlen(s);
	if (outsz == 0)
		return -1;
	if (unorm_is_nfc(s, n)) {
		if (n >= outsz) {
			out[0] = '\0';
			return -1;
		}
		memcpy(out, s, n + 1);
		return 0;
	}
	/* Worst case on the stack for the names this is for; longer ones
	 * are refused rather than cut. */
	char tmp[UNORM_GROWTH * UNORM_CMP_MAX];
	if (n > UNORM_CMP_MAX) {
		out[0] = '\0';
		return -1;
	}
	size_t l = unorm_nfc(s, n, tmp);
	if (l >= outsz) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, tmp, l);
	out[l] = '\0';
	return 0;
}

int unorm_equal(const char *a, size_t an, const char *b, size_t bn)
{
	if (an == bn && memcmp(a, b, an) == 0)
		return 1;
	if (an > UNORM_CMP_MAX || bn > UNORM_CMP_MAX)
		return 0;
	int qa = unorm_is_nfc(a, an), qb = unorm_is_nfc(b, bn);
	if (qa && qb)
		return 0;
	char na[UNORM_GROWTH * UNORM_CMP_MAX], nb[UNORM_GROWTH * UNORM_CMP_MAX];
	size_t la = qa ? an : unorm_nfc(a, an, na);
	size_t lb = qb ? bn : unorm_nfc(b, bn, nb);
	return la == lb && memcmp(qa ? a : na, qb ? b : nb, la) == 0;
}

/* The mapped code points of cp for unorm_nfkd (casemap 0) or
 * unorm_casemap (1) into b (room for UNORM_KD_MAX): how many. */
static inline size_t kmap(uint32_t cp, uint32_t *b, int casemap)
{
	if (cp >= S_BASE && cp < S_BASE + S_COUNT)
		return decompose(cp, b);
	const struct unorm_rec *r = rec(cp);
	size_t len = casemap ? r->mlen : r->klen;
	if (!len) {
		b[0] = cp;
		return 1;
	}
	memcpy(b, &unorm_kdecomp[casemap ? r->moff : r->koff], len * sizeof *b);
	return len;
}

/* unorm.h; eight octets at a time. */
size_t unorm_ascii_upper(char *out, const char *in, size_t n, int up)
{
	unsigned char *o = (unsigned char *)out;
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			break;
		if (up) {
			uint64_t ge_a = w + 0x1f1f1f1f1f1f1f1full, gt_z = w + 0x0505050505050505ull;
			w &= ~(((ge_a & ~gt_z) & 0x8080808080808080ull) >> 2); /* a-z lose 0x20 */
		}
		memcpy(o + i, &w, 8);
	}
	for (; i < n && s[i] < 0x80; i++)
		o[i] = (unsigned char)(up && (unsigned)(s[i] - 'a') < 26u ? s[i] - 32 : s[i]);
	return i;
}

/* unorm_casemap_two's fast entry for the two-octet character at s, or
 * NULL. */
static inline const struct unorm_two *two_at(const unsigned char *s, size_t n)
{
	if (n < 2 || (unsigned)(s[0] - 0xc2) > 0xdf - 0xc2 || (s[1] & 0xc0) != 0x80)
		return NULL;
	const struct unorm_two *t = &unorm_casemap_two[((s[0] & 0x1f) << 6) | (s[1] & 0x3f)];
	return t->fast ? t : NULL;
}

/* Puts b[0..k) in canonical order and writes it to o: the end. */
static char *flush(uint32_t *b, size_t k, char *o)
{
	if (k > 1)
		(void)nfc_segment(b, k, 0);
	for (size_t j = 0; j < k; j++)
		o += utf8_encode(b[j], o);
	return o;
}

/* NFKD (casemap 0) or i;unicode-casemap (1) of in[0..n): each code point
 * mapped, the marks after each starter put in canonical order (a run of
 * more than UNORM_SEGMENT_MAX is ordered in parts). */
static size_t kd_run(const char *in, size_t n, char *out, int casemap)
{
	const unsigned char *s = (const unsigned char *)in;
	char *o = out;
	uint32_t b[UNORM_SEGMENT_MAX + UNORM_KD_MAX];
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] < 0x80) {
			o = flush(b, k, o);
			k = 0;
			size_t a = unorm_ascii_upper(o, (const char *)s + i, n - i, casemap);
			o += a;
			i += a;
			continue;
		}
		const struct unorm_two *t = casemap ? two_at(s + i, n - i) : NULL;
		if (t && (i + 2 == n || s[i + 2] < 0x80 || two_at(s + i + 2, n - i - 2))) {
			/* a letter of two octets whose key starts with a
			 * starter, and no mark after it to reorder with what
			 * ends its key: the key as it is */
			o = flush(b, k, o);
			k = 0;
			memcpy(o, t->s, t->len);
			o += t->len;
			i += 2;
			continue;
		}
		size_t l;
		uint32_t cp = next_cp(s + i, n - i, &l);
		if (cp == UINT32_MAX) {
			o = flush(b, k, o);
			k = 0;
			*o++ = (char)s[i++];
			continue;
		}
		if (!unorm_index[unorm_page[cp >> 8]][cp & 255] && (cp < S_BASE || cp >= S_BASE + S_COUNT)) {
			/* no record: a starter that is its own key */
			o = flush(b, k, o);
			k = 0;
			memcpy(o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		i += l;
		uint32_t m[UNORM_KD_MAX];
		size_t mn = kmap(cp, m, casemap);
		if (k && (cls(m[0]) == 0 || k + mn > UNORM_SEGMENT_MAX)) {
			o = flush(b, k, o);
			k = 0;
		}
		memcpy(b + k, m, mn * sizeof *m);
		k += mn;
	}
	o = flush(b, k, o);
	return (size_t)(o - out);
}

size_t unorm_nfkd(const char *in, size_t n, char *out)
{
	return kd_run(in, n, out, 0);
}

size_t unorm_casemap(const char *in, size_t n, char *out)
{
	return kd_run(in, n, out, 1);
}

size_t unorm_casemap_char_len(const char *p, size_t n, size_t *len_r)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t l;
	uint32_t cp = next_cp(s, n, &l);
	*len_r = l;
	if (cp == UINT32_MAX || cp < 0x80)
		return l;
	uint32_t m[UNORM_KD_MAX];
	size_t mn = kmap(cp, m, 1), len = 0;
	for (size_t j = 0; j < mn; j++)
		len += m[j] < 0x80 ? 1 : m[j] < 0x800 ? 2 : m[j] < 0x10000 ? 3 : 4;
	return len;
}

int unorm_bidi_class(uint32_t cp)
{
	size_t lo = 0, hi = unorm_nbidi;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (unorm_bidi[mid].hi < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < unorm_nbidi && unorm_bidi[lo].lo <= cp ? (int)unorm_bidi[lo].cls
							     : UNORM_UNASSIGNED;
}
