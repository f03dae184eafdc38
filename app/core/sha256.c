/*
 * sha256.c — SHA-256 with the CPU's SHA extensions where it has them. See
 * sha256.h.
 *
 * The compression function exists twice on purpose: compress_portable is
 * FIPS 180-4 §6.2.2 written out; compress_shani does the same rounds with
 * the SHA-NI instructions (Intel's SHA extensions reference: SHA256RNDS2
 * does two rounds on the state split as {A,B,E,F} and {C,D,G,H};
 * SHA256MSG1 and SHA256MSG2 compute the message schedule four words at a
 * time). Both take any number of whole blocks, so the state stays in
 * registers across a long body.
 */
#include "core/sha256.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SHA256_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define SHA256_HAVE_SHANI 0
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void compress_portable(uint32_t h[8], const uint8_t *p, size_t blocks)
{
	uint32_t w[64];

	for (; blocks > 0; blocks--, p += 64) {
		for (int i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
		uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
				      K[i] + w[i];
			uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			k = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		h[0] += a, h[1] += b, h[2] += c, h[3] += d;
		h[4] += e, h[5] += f, h[6] += g, h[7] += k;
	}
}

#if SHA256_HAVE_SHANI
/* Four rounds: the schedule words w (+ K) in a 128-bit lane, low first;
 * RNDS2 takes its two words from the low half. */
#define FOUR_ROUNDS(w, i)                                                                \
	do {                                                                             \
		__m128i wk = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&K[i])); \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                            \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));   \
	} while (0)

/* The next four schedule words from the sixteen before them, in m0..m3
 * (oldest first): W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]. */
#define NEXT_WORDS(m0, m1, m2, m3) \
	_mm_sha256msg2_epu32(      \
	    _mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8], const uint8_t *p,
								      size_t blocks)
{
	/* Each 32-bit word of the block is big-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	/* h[0..3] = A B C D and h[4..7] = E F G H, low lane first; the
	 * instructions want {F E B A} and {H G D C}. */
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1); /* B A D C */
	__m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b); /* H G F E */
	__m128i abef = _mm_alignr_epi8(abcd, efgh, 8);	 /* F E B A */
	__m128i cdgh = _mm_blend_epi16(efgh, abcd, 0xf0); /* H G D C */

	for (; blocks > 0; blocks--, p += 64) {
		__m128i abef0 = abef, cdgh0 = cdgh;
		__m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		__m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		__m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		__m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);

		FOUR_ROUNDS(m0, 0);
		FOUR_ROUNDS(m1, 4);
		FOUR_ROUNDS(m2, 8);
		FOUR_ROUNDS(m3, 12);
		for (int i = 16; i < 64; i += 16) {
			m0 = NEXT_WORDS(m0, m1, m2, m3);
			FOUR_ROUNDS(m0, i);
			m1 = NEXT_WORDS(m1, m2, m3, m0);
			FOUR_ROUNDS(m1, i + 4);
			m2 = NEXT_WORDS(m2, m3, m0, m1);
			FOUR_ROUNDS(m2, i + 8);
			m3 = NEXT_WORDS(m3, m0, m1, m2);
			FOUR_ROUNDS(m3, i + 12);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	/* Back to A B C D and E F G H. */
	__m128i feba = _mm_shuffle_epi32(abef, 0x1b); /* A B E F */
	__m128i hgdc = _mm_shuffle_epi32(cdgh, 0xb1); /* G H C D */
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(feba, hgdc, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(hgdc, feba, 8));
}

/* 1 when the CPU has SHA-NI and SSE4.1 (CPUID leaf 7 EBX bit 29; leaf 1
 * ECX bits 19 and 9 for SSE4.1 and SSSE3). */
static int cpu_has_shani(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
		return 0;
	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b >> 29) & 1;
}
#endif

/* -1 not decided yet, 0 portable, 1 SHA-NI. Decided once: a racing first
 * use by two threads decides the same. */
static int use_shani = -1;
static int forced_portable;

static void compress(uint32_t h[8], const uint8_t *p, size_t blocks)
{
#if SHA256_HAVE_SHANI
	int u = __atomic_load_n(&use_shani, __ATOMIC_RELAXED);
	if (u < 0) {
		u = cpu_has_shani();
		__atomic_store_n(&use_shani, u, __ATOMIC_RELAXED);
	}
	if (u && !forced_portable) {
		compress_shani(h, p, blocks);
		return;
	}
#endif
	compress_portable(h, p, blocks);
}

int sha256_force_portable(int on)
{
	forced_portable = on;
#if SHA256_HAVE_SHANI
	return cpu_has_shani();
#else
	return 0;
#endif
}

void sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(c->h, iv, sizeof iv);
	c->len = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = (size_t)(c->len % 64);

	if (n == 0)
		return; /* p may be NULL */
	c->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(c->buf + have, p, take);
		p += take, n -= take, have += take;
		if (have < 64)
			return;
		compress(c->h, c->buf, 1);
	}
	if (n >= 64) {
		compress(c->h, p, n / 64);
		p += n & ~(size_t)63;
		n %= 64;
	}
	if (n)
		memcpy(c->buf, p, n);
}

void sha256_out(struct sha256 *c, uint8_t out[SHA256_LEN])
{
	uint64_t bits = c->len * 8;
	size_t have = (size_t)(c->len % 64);

	/* 0x80, zeros to 56 mod 64, the length in bits big-endian. */
	c->buf[have++] = 0x80;
	if (have > 56) {
		memset(c->buf + have, 0, 64 - have);
		compress(c->h, c->buf, 1);
		have = 0;
	}
	memset(c->buf + have, 0, 56 - have);
	store_be32(c->buf + 56, (uint32_t)(bits >> 32));
	store_be32(c->buf + 60, (uint32_t)bits);
	compress(c->h, c->buf, 1);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	struct sha256 c;

	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_out(&c, out);
}
