/*
 * test_totp.c — TOTP (auth/totp.c) against RFC 6238 Appendix B's test
 * vectors (SHA-1, SHA-256, SHA-512, 8 digits), RFC 4226 Appendix D's
 * HOTP values, RFC 4648's base32 vectors, totp_check()'s window and its
 * refusal of a code already used, and the otpauth:// URI.
 */
#include <string.h>

#include "auth/totp.h"
#include "unit.h"

int main(void)
{
	const uint8_t *k1 = (const uint8_t *)"12345678901234567890";
	const uint8_t *k2 = (const uint8_t *)"12345678901234567890123456789012";
	const uint8_t *k3 = (const uint8_t *)"1234567890123456789012345678901234567890"
	                                     "123456789012345678901234";
	static const struct {
		int64_t t;
		long sha1, sha256, sha512;
	} v[] = {
	    {59, 94287082, 46119246, 90693936},
	    {1111111109, 7081804, 68084774, 25091201},
	    {1111111111, 14050471, 67062674, 99943326},
	    {1234567890, 89005924, 91819424, 93441116},
	    {2000000000, 69279037, 90698825, 38618901},
	    {20000000000, 65353130, 77737706, 47863826},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint64_t c = (uint64_t)v[i].t / 30;
		CHECK_EQ_INT((int)totp_hotp(TOTP_SHA1, k1, 20, c, 8), (int)v[i].sha1);
		CHECK_EQ_INT((int)totp_hotp(TOTP_SHA256, k2, 32, c, 8), (int)v[i].sha256);
		CHECK_EQ_INT((int)totp_hotp(TOTP_SHA512, k3, 64, c, 8), (int)v[i].sha512);
	}
	/* RFC 4226 Appendix D: HOTP, 6 digits. */
	static const long hotp[] = {755224, 287082, 359152, 969429, 338314,
	                            254676, 287922, 162583, 399871, 520489};
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT((int)totp_hotp(TOTP_SHA1, k1, 20, (uint64_t)i, 6), (int)hotp[i]);
	CHECK_EQ_INT((int)totp_hotp(TOTP_SHA1, k1, 20, 0, 5), -1);

	/* The window: codes of the previous, current and next step; a used
	 * step and any before it are refused. t = 59: step 1, code 287082. */
	uint64_t step = 0;
	CHECK_EQ_INT(totp_check(k1, 20, "287082", 59, 0, &step), 1);
	CHECK(step == 1);
	CHECK_EQ_INT(totp_check(k1, 20, "287082", 59, step, &step), 0); /* a second time */
	CHECK_EQ_INT(totp_check(k1, 20, "359152", 59, 1, &step), 1);     /* next step */
	CHECK(step == 2);
	CHECK_EQ_INT(totp_check(k1, 20, "755224", 59, 0, NULL), 0); /* step 0: too old */
	CHECK_EQ_INT(totp_check(k1, 20, "287082", 89, 0, NULL), 1); /* step 2 now; 1 is the one before */
	CHECK_EQ_INT(totp_check(k1, 20, "287082", 150, 0, NULL), 0);
	CHECK_EQ_INT(totp_check(k1, 20, "28708", 59, 0, NULL), 0);
	CHECK_EQ_INT(totp_check(k1, 20, "2870822", 59, 0, NULL), 0);
	CHECK_EQ_INT(totp_check(k1, 20, "28708a", 59, 0, NULL), 0);

	/* RFC 4648 §10 base32 (without padding), and back. */
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB",
	                                  "MZXW6YTBOI"};
	char b[TOTP_B32_MAX];
	uint8_t d[64];
	for (int i = 0; i < 7; i++) {
		CHECK_EQ_INT(totp_b32_encode((const uint8_t *)in[i], strlen(in[i]), b, sizeof b), 0);
		CHECK_EQ_STR(b, out[i]);
		int n = totp_b32_decode(out[i], d, sizeof d);
		CHECK_EQ_INT(n, (int)strlen(in[i]));
		CHECK(n >= 0 && memcmp(d, in[i], (size_t)n) == 0);
	}
	CHECK_EQ_INT(totp_b32_decode("mzxw 6ytb-oi======", d, sizeof d), 6);
	CHECK_EQ_INT(totp_b32_decode("MZ1", d, sizeof d), -1);
	CHECK_EQ_INT(totp_b32_decode("MZXW6YTBOI", d, 3), -1);
	CHECK_EQ_INT(totp_b32_encode(k1, 20, b, 33), 0);
	CHECK_EQ_STR(b, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	CHECK_EQ_INT(totp_b32_encode(k1, 20, b, 32), -1); /* no room for the NUL */

	char uri[300];
	CHECK_EQ_INT(totp_uri("tern mail", "bob@example.com", k1, 20, uri, sizeof uri), 0);
	CHECK_EQ_STR(uri, "otpauth://totp/tern%20mail:bob%40example.com?secret="
	                  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=tern%20mail"
	                  "&algorithm=SHA1&digits=6&period=30");
	CHECK_EQ_INT(totp_uri("tern", "bob@example.com", k1, 20, uri, 60), -1);
	return unit_done("test_totp");
}
