/*
 * test_hex.c — hex digits (core/hex.h): every octet against a model
 * written here, both cases and lowercase only, the encoder's NUL, and
 * decoding's odd lengths and bad digits.
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

int main(void)
{
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
