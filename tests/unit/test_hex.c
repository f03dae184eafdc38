/*
 * test_hex.c — hex digits (core/hex.h): every octet against a model
 * written here, both cases and lowercase only, the encoder's NUL, and
 * decoding's odd lengths and bad digits, and percent-decoding
 * (pct_decode) with each of its flags.
 */
#include "core/hex.h"
#include "unit.h"

#include <string.h>

/* The model: the position in the digit strings, case folded or not. */
static int model(int c, int lower_only)
{
	const char *lo = "0123456789abcdef", *up = "0123456789ABCDEF";

	for (int i = 0; i < 16; i++)
		if (c == lo[i] || (!lower_only && c == up[i]))
			return i;
	return -1;
}

/* pct_decode of the C string in with room outsz: want is the result
 * (wlen octets, NULs allowed), or NULL for -1. */
static void pct(const char *in, size_t outsz, unsigned flags, const char *want, size_t wlen)
{
	char out[64];
	size_t len = 999;

	memset(out, '#', sizeof out);
	int r = pct_decode(in, strlen(in), out, outsz, &len, flags);
	if (!want) {
		CHECK_EQ_INT(r, -1);
		CHECK_EQ_INT(len, 999);
		return;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(len, wlen);
	CHECK(memcmp(out, want, wlen) == 0);
	CHECK(out[wlen] == '\0');
	CHECK(out[wlen + 1] == '#'); /* nothing written past the NUL */
}

static void test_pct(void)
{
	/* Either case, and a digit pair anywhere. */
	pct("a%41%6a%6A%7e", 64, 0, "aAjj~", 5);
	pct("%2f%2F", 64, 0, "//", 2);
	pct("%c3%A9", 64, 0, "\xc3\xa9", 2);
	pct("", 64, 0, "", 0);
	/* Malformed at the end, in the middle, a bad digit either side. */
	const char *bad[] = {"%", "a%", "a%4", "%4g", "%g4", "x%zz", "% 41", "%\xc1" "1"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		pct(bad[i], 64, 0, NULL, 0);
		pct(bad[i], 64, PCT_NO_NUL, NULL, 0);
		/* lenient: kept as sent */
		pct(bad[i], 64, PCT_LENIENT, bad[i], strlen(bad[i]));
	}
	pct("%%41", 64, 0, NULL, 0);
	pct("%%41", 64, PCT_LENIENT, "%A", 2); /* the second % starts one */
	pct("a%4", 64, PCT_LENIENT | PCT_KEEP_00, "a%4", 3);
	/* Only n octets are read: an escape cut by n is malformed. */
	char out[8];
	size_t len = 0;
	CHECK_EQ_INT(pct_decode("%41", 2, out, sizeof out, &len, 0), -1);
	CHECK_EQ_INT(pct_decode("%41", 2, out, sizeof out, &len, PCT_LENIENT), 0);
	CHECK_EQ_INT(len, 2);
	CHECK_EQ_STR(out, "%4");
	/* %00: an octet 0 by default; refused with PCT_NO_NUL; kept as the
	 * three characters with PCT_KEEP_00. */
	pct("a%00b", 64, 0, "a\0b", 3);
	pct("a%00b", 64, PCT_LENIENT, "a\0b", 3);
	pct("a%00b", 64, PCT_NO_NUL, NULL, 0);
	pct("a%00b", 64, PCT_LENIENT | PCT_KEEP_00, "a%00b", 5);
	pct("%00%01", 64, PCT_LENIENT | PCT_KEEP_00, "%00\x01", 4);
	pct("a%00b", 64, PCT_KEEP_00, NULL, 0); /* strict: malformed */
	CHECK_EQ_INT(pct_decode("a\0b", 3, out, sizeof out, &len, PCT_NO_NUL), -1);
	CHECK_EQ_INT(pct_decode("a\0b", 3, out, sizeof out, &len, 0), 0);
	CHECK_EQ_INT(len, 3);
	/* '+' only with PCT_PLUS_SPACE; %2B stays a '+'. */
	pct("a+b%2B", 64, 0, "a+b+", 4);
	pct("a+b%2B", 64, PCT_PLUS_SPACE, "a b+", 4);
	/* Room: the decoded octets and the NUL; exactly enough, one short. */
	pct("ab%43", 4, 0, "abC", 3);
	pct("ab%43", 3, 0, NULL, 0);
	pct("ab%43", 3, PCT_LENIENT, NULL, 0);
	pct("", 1, 0, "", 0);
	pct("", 0, 0, NULL, 0);
	pct("a", 1, 0, NULL, 0);
	/* In place (out == in), as libmicrohttpd's unescape callback does. */
	char s[] = "%41b%2x%00%63";
	CHECK_EQ_INT(pct_decode(s, strlen(s), s, sizeof s, &len, PCT_LENIENT | PCT_KEEP_00), 0);
	CHECK_EQ_INT(len, 9);
	CHECK_EQ_STR(s, "Ab%2x%00c");
}

int main(void)
{
	test_pct();

	/* Every octet, and every char as a signed char would pass it. */
	for (int c = -128; c < 256; c++) {
		CHECK_EQ_INT(hex_digit(c), model(c, 0));
		CHECK_EQ_INT(hex_digit_lower(c), model(c, 1));
	}
	/* 'A' | 0x80 as a signed char, and 'A' + 256 */
	CHECK_EQ_INT(hex_digit((char)0xc1), -1);
	CHECK_EQ_INT(hex_digit(0x141), -1);
	CHECK_EQ_INT(hex_digit(EOF), -1);

	CHECK_EQ_STR(hex_lower, "0123456789abcdef");
	CHECK_EQ_STR(hex_upper, "0123456789ABCDEF");

	/* The encoder writes 2n digits and a NUL, nothing past. */
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[16];
	memset(out, '#', sizeof out);
	hex_encode(out, in, sizeof in);
	CHECK_EQ_STR(out, "00017f80abff");
	CHECK(out[13] == '#');
	memset(out, '#', sizeof out);
	hex_encode(out, in, 0);
	CHECK(out[0] == '\0' && out[1] == '#');

	/* Decoding: back to the octets, either case unless told. */
	uint8_t d[8];
	CHECK_EQ_INT(hex_decode(d, "00017f80abff", 12, HEX_ANY_CASE), 0);
	CHECK(memcmp(d, in, sizeof in) == 0);
	memset(d, 0, sizeof d);
	CHECK_EQ_INT(hex_decode(d, "00017F80ABfF", 12, HEX_ANY_CASE), 0);
	CHECK(memcmp(d, in, sizeof in) == 0);
	CHECK_EQ_INT(hex_decode(d, "00017f80abff", 12, HEX_LOWER_ONLY), 0);
	CHECK(memcmp(d, in, sizeof in) == 0);
	CHECK_EQ_INT(hex_decode(d, "00017F80abff", 12, HEX_LOWER_ONLY), -1);
	/* Only n digits are read: no NUL needed, what follows is ignored. */
	CHECK_EQ_INT(hex_decode(d, "abZZ", 2, HEX_ANY_CASE), 0);
	CHECK_EQ_INT(d[0], 0xab);
	CHECK_EQ_INT(hex_decode(d, "", 0, HEX_ANY_CASE), 0);
	CHECK_EQ_INT(hex_decode(d, "abc", 3, HEX_ANY_CASE), -1);
	CHECK_EQ_INT(hex_decode(d, "0g", 2, HEX_ANY_CASE), -1);
	CHECK_EQ_INT(hex_decode(d, "g0", 2, HEX_ANY_CASE), -1);
	CHECK_EQ_INT(hex_decode(d, " 1", 2, HEX_ANY_CASE), -1);
	CHECK_EQ_INT(hex_decode(d, "\xc1\x31", 2, HEX_ANY_CASE), -1);

	/* Every octet survives a round trip. */
	uint8_t all[256], back[256];
	char txt[513];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hex_encode(txt, all, sizeof all);
	CHECK_EQ_INT(strlen(txt), 512);
	CHECK_EQ_INT(hex_decode(back, txt, 512, HEX_LOWER_ONLY), 0);
	CHECK(memcmp(all, back, sizeof all) == 0);
	/* Object ids: the prefix and exactly eight lowercase digits. */
	CHECK(hex_objid_parse("M0000002a", 9, 'M') == 42);
	CHECK(hex_objid_parse("Effffffff", 9, 'E') == 0xffffffffLL);
	CHECK(hex_objid_parse("M00000000", 9, 'M') == 0);
	CHECK(hex_objid_parse("M0000002a", 9, 'E') == -1);
	CHECK(hex_objid_parse("M0000002A", 9, 'M') == -1);
	CHECK(hex_objid_parse("m0000002a", 9, 'M') == -1);
	CHECK(hex_objid_parse("M000002a", 8, 'M') == -1);
	CHECK(hex_objid_parse("M0000002a0", 10, 'M') == -1);
	CHECK(hex_objid_parse("M0000002a", 8, 'M') == -1);
	CHECK(hex_objid_parse("M 000002a", 9, 'M') == -1);
	CHECK(hex_objid_parse("M\xc1" "0000002", 9, 'M') == -1);
	CHECK(hex_objid_parse("", 0, 'M') == -1);
	char id[16];
	snprintf(id, sizeof id, "%c%08x", 'T', 0x1234abcdu);
	CHECK(hex_objid_parse(id, strlen(id), 'T') == 0x1234abcd);
	return unit_done("test_hex");
}
