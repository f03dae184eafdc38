/*
 * test_sha256.c — core/sha256: FIPS 180-4's examples, then digests compared
 * with BearSSL's over every length up to 300 octets split at every point,
 * and a 70 KB input in uneven chunks, on the SHA-NI path (when this CPU
 * has it) and on the portable one, and a copied context.
 */
#include "core/sha256.h"
#include "unit.h"

#include <bearssl_hash.h>
#include <stdio.h>
#include <string.h>

static void hex32(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void known(const char *in, size_t reps, const char *want)
{
	struct sha256 c;
	uint8_t d[32];
	char h[65];

	sha256_init(&c);
	for (size_t i = 0; i < reps; i++)
		sha256_update(&c, in, strlen(in));
	sha256_out(&c, d);
	hex32(d, h);
	CHECK_EQ_STR(h, want);
}

static void bearssl(const uint8_t *p, size_t n, uint8_t out[32])
{
	br_sha256_context b;

	br_sha256_init(&b);
	br_sha256_update(&b, p, n);
	br_sha256_out(&b, out);
}

static void compare(const uint8_t *buf)
{
	uint8_t want[32], got[32];

	for (size_t n = 0; n <= 300; n++) {
		bearssl(buf, n, want);
		sha256(buf, n, got);
		CHECK(memcmp(got, want, 32) == 0);
		for (size_t k = 0; k <= n; k++) {
			struct sha256 c;
			sha256_init(&c);
			sha256_update(&c, buf, k);
			sha256_update(&c, NULL, 0);
			sha256_update(&c, buf + k, n - k);
			sha256_out(&c, got);
			if (memcmp(got, want, 32) != 0) {
				CHECK(memcmp(got, want, 32) == 0);
				return; /* one report, not thousands */
			}
		}
	}
	/* Long input, uneven chunks (1, 2, ... 199 octets, then again). */
	size_t len = 70001, off = 0, step = 1;
	struct sha256 c;
	sha256_init(&c);
	while (off < len) {
		size_t t = step < len - off ? step : len - off;
		sha256_update(&c, buf + off, t);
		off += t;
		step = step % 199 + 1;
	}
	sha256_out(&c, got);
	bearssl(buf, len, want);
	CHECK(memcmp(got, want, 32) == 0);
	/* A copied context hashes a common prefix once. */
	struct sha256 a, b;
	sha256_init(&a);
	sha256_update(&a, buf, 100);
	b = a;
	sha256_update(&a, buf + 100, 50);
	sha256_update(&b, buf + 100, 900);
	sha256_out(&a, got);
	bearssl(buf, 150, want);
	CHECK(memcmp(got, want, 32) == 0);
	sha256_out(&b, got);
	bearssl(buf, 1000, want);
	CHECK(memcmp(got, want, 32) == 0);
}

int main(void)
{
	static uint8_t buf[70001];
	uint32_t s = 1;

	for (size_t i = 0; i < sizeof buf; i++) {
		s = s * 1103515245u + 12345u;
		buf[i] = (uint8_t)(s >> 16);
	}
	for (int portable = 0; portable < 2; portable++) {
		int has = sha256_force_portable(portable);
		if (!portable)
			printf("test_sha256: this CPU %s SHA-NI\n", has ? "has" : "lacks");
		known("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		known("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		known("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
		known("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
		compare(buf);
	}
	sha256_force_portable(0);
	return unit_done("test_sha256");
}
