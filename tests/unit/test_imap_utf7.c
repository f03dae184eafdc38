/*
 * test_imap_utf7.c — modified UTF-7 mailbox names: RFC 3501 examples,
 * strict rejection of non-canonical spellings, round trips (fixed and
 * random), bounded output, and UTF-8 validation.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imap/imap_utf7.h"
#include "unit.h"

/* Both directions: utf7 <-> utf8, and validity. */
static void pair(const char *utf7, const char *utf8, int line)
{
	struct buf b;

	buf_init(&b, 4096);
	unit_checks += 3;
	if (imap_utf7_to_utf8(str_c(utf7), &b) != 0 || strcmp(buf_data(&b), utf8) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: decode(\"%s\") = \"%s\"\n", __FILE__, line, utf7,
		        buf_data(&b));
	}
	buf_reset(&b);
	if (imap_utf8_to_utf7(str_c(utf8), &b) != 0 || strcmp(buf_data(&b), utf7) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: encode(\"%s\") = \"%s\", expected \"%s\"\n", __FILE__, line,
		        utf8, buf_data(&b), utf7);
	}
	if (!imap_utf7_valid(str_c(utf7))) {
		unit_failures++;
		fprintf(stderr, "%s:%d: \"%s\" not valid\n", __FILE__, line, utf7);
	}
	buf_free(&b);
}

static void bad7(const char *utf7, size_t len, int line)
{
	struct buf b;
	int r;

	buf_init(&b, 4096);
	buf_append_c(&b, "keep");
	r = imap_utf7_to_utf8(str_make(utf7, len), &b);
	unit_checks += 2;
	if (r != IMAP_UTF7_INVALID || imap_utf7_valid(str_make(utf7, len))) {
		unit_failures++;
		fprintf(stderr, "%s:%d: \"%.*s\" accepted (%d) as \"%s\"\n", __FILE__, line,
		        (int)len, utf7, r, buf_data(&b));
	}
	if (strcmp(buf_data(&b), "keep") != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: output not restored: \"%s\"\n", __FILE__, line,
		        buf_data(&b));
	}
	buf_free(&b);
}

static void bad8(const char *utf8, size_t len, int line)
{
	struct buf b;

	buf_init(&b, 4096);
	unit_checks++;
	if (imap_utf8_to_utf7(str_make(utf8, len), &b) != IMAP_UTF7_INVALID || b.len != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: encoding accepted bad UTF-8\n", __FILE__, line);
	}
	buf_free(&b);
}

#define PAIR(a, b) pair(a, b, __LINE__)
#define BAD7(a) bad7(a, sizeof(a) - 1, __LINE__)
#define BAD8(a) bad8(a, sizeof(a) - 1, __LINE__)

static void test_examples(void)
{
	/* RFC 3501 §5.1.3 */
	PAIR("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	                                        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	PAIR("", "");
	PAIR("INBOX", "INBOX");
	PAIR("&-", "&");
	PAIR("a&-b", "a&b");
	PAIR("&-&-", "&&");
	PAIR("Entw&APw-rfe", "Entw\xc3\xbc"
	                     "rfe");
	PAIR("Donn&AOk-es", "Donn\xc3\xa9"
	                    "es");
	PAIR("&AOk-&-&AOk-", "\xc3\xa9&\xc3\xa9");
	PAIR("&-&U,BTFw-", "&\xe5\x8f\xb0\xe5\x8c\x97");
	PAIR("&U,BTFw-&-", "\xe5\x8f\xb0\xe5\x8c\x97&");
	PAIR("&2D3c5w-", "\xf0\x9f\x93\xa7"); /* U+1F4E7, a surrogate pair */
	PAIR("&AAE-", "\x01");                /* controls are encoded */
	PAIR("&AH8-", "\x7f");
	PAIR("a b~!", "a b~!"); /* printable ASCII stands for itself */
	PAIR("[Gmail]/&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-",
	     "[Gmail]/\xd0\x9e\xd1\x82\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbb\xd0\xb5\xd0\xbd"
	     "\xd0\xbd\xd1\x8b\xd0\xb5"); /* Russian "Sent" as Gmail names it */
}

static void test_invalid(void)
{
	BAD7("&"); /* unterminated */
	BAD7("&U,BTFw");
	BAD7("a&");
	BAD7("&AGE-");              /* "a" must stand for itself */
	BAD7("&ACY-");              /* "&" must be "&-" */
	BAD7("&ACA-");              /* space */
	BAD7("&AH4-");              /* "~" */
	BAD7("&AAA-");              /* U+0000 */
	BAD7("&2D0-");              /* lone high surrogate */
	BAD7("&3AA-");              /* lone low surrogate */
	BAD7("&3ADYPQ-");           /* low before high */
	BAD7("&2D3YPQ-");           /* high followed by high */
	BAD7("&U,BTFw-&ZeVnLIqe-"); /* two runs back to back: must be one */
	BAD7("&U,BTFx-");           /* non-zero spare bits */
	BAD7("&U,BTFwA-");          /* 6 or more spare bits */
	BAD7("&U,BTF-");            /* half a character */
	BAD7("&AA-");               /* 12 bits: no whole character */
	BAD7("&U=-");               /* padding */
	BAD7("&U,BTFw=-");
	BAD7("&U/BTFw-"); /* "/" is standard base64, not modified */
	BAD7("&U.BTFw-");
	BAD7("Donn\xc3\xa9"
	     "es");   /* raw 8-bit */
	BAD7("a\tb"); /* raw control */
	BAD7("a\x7f");
	bad7("a\0b", 3, __LINE__);

	BAD8("\xff");
	BAD8("\xc3");     /* truncated */
	BAD8("\xc0\x80"); /* overlong */
	BAD8("\xe0\x80\xaf");
	BAD8("\xed\xa0\x80");     /* surrogate */
	BAD8("\xf4\x90\x80\x80"); /* above U+10FFFF */
	BAD8("\x80");
	bad8("a\0b", 3, __LINE__);
}

static void test_bounds(void)
{
	struct buf b;

	/* Output over the ceiling fails cleanly, leaving what was there. */
	buf_init(&b, 6);
	buf_append_c(&b, "ab");
	CHECK_EQ_INT(imap_utf8_to_utf7(STR_LIT("\xc3\xa9"), &b), IMAP_UTF7_NO_ROOM); /* &AOk- */
	CHECK_EQ_STR(buf_data(&b), "ab");
	CHECK_EQ_INT(imap_utf8_to_utf7(STR_LIT("cde&"), &b), IMAP_UTF7_NO_ROOM); /* abcde&- */
	CHECK_EQ_STR(buf_data(&b), "ab");
	CHECK_EQ_INT(imap_utf8_to_utf7(STR_LIT("cd"), &b), 0);
	CHECK_EQ_STR(buf_data(&b), "abcd");
	buf_free(&b);

	buf_init(&b, 3);
	CHECK_EQ_INT(imap_utf7_to_utf8(STR_LIT("&U,BTFw-"), &b), IMAP_UTF7_NO_ROOM); /* 6 octets */
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(imap_utf7_to_utf8(STR_LIT("abcd"), &b), IMAP_UTF7_NO_ROOM);
	CHECK_EQ_INT(b.len, 0);
	CHECK_EQ_INT(imap_utf7_to_utf8(STR_LIT("a&-"), &b), 0);
	CHECK_EQ_STR(buf_data(&b), "a&");
	buf_free(&b);

	/* Only the slice is read. */
	buf_init(&b, 64);
	CHECK_EQ_INT(imap_utf7_to_utf8(str_make("&U,BTFw-", 7), &b), IMAP_UTF7_INVALID);
	CHECK_EQ_INT(imap_utf7_to_utf8(str_make("ab&-", 3), &b), IMAP_UTF7_INVALID);
	buf_free(&b);
}

static void test_utf8_valid(void)
{
	CHECK(imap_utf8_valid(STR_LIT("")));
	CHECK(imap_utf8_valid(STR_LIT("plain")));
	CHECK(imap_utf8_valid(STR_LIT("\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7")));
	CHECK(imap_utf8_valid(STR_LIT("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
	CHECK(imap_utf8_valid(STR_LIT("\xef\xbf\xbf")));     /* U+FFFF */
	CHECK(imap_utf8_valid(str_make("a\0b", 3)));
	CHECK(!imap_utf8_valid(STR_LIT("\xc3")));
	CHECK(!imap_utf8_valid(STR_LIT("\xc3\x28")));
	CHECK(!imap_utf8_valid(STR_LIT("\xc1\xbf")));
	CHECK(!imap_utf8_valid(STR_LIT("\xe0\x9f\xbf")));
	CHECK(!imap_utf8_valid(STR_LIT("\xed\xbf\xbf")));
	CHECK(!imap_utf8_valid(STR_LIT("\xf0\x8f\xbf\xbf")));
	CHECK(!imap_utf8_valid(STR_LIT("\xf5\x80\x80\x80")));
	CHECK(!imap_utf8_valid(STR_LIT("\xfe")));
	CHECK(!imap_utf8_valid(str_make("\xe2\x82\xac", 2)));
}

static unsigned rng_state = 12345;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 8) & 0xffffff;
}

static size_t put_cp(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static void test_random_round_trip(void)
{
	struct buf e, d, e2;
	char in[256];
	int bad = 0;

	buf_init(&e, 4096);
	buf_init(&d, 4096);
	buf_init(&e2, 4096);
	for (int round = 0; round < 3000; round++) {
		size_t n = 0, k = rng() % 20;

		for (size_t i = 0; i < k; i++) {
			uint32_t cp;

			switch (rng() % 5) {
			case 0:
				cp = 0x20 + rng() % 0x5f; /* printable, "&" included */
				break;
			case 1:
				cp = 1 + rng() % 0x7f;
				break;
			case 2:
				cp = 0x80 + rng() % 0x780;
				break;
			case 3:
				cp = 0x800 + rng() % 0xf800;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xe000;
				break;
			default:
				cp = 0x10000 + rng() % 0x100000;
				break;
			}
			n += put_cp(in + n, cp);
		}
		buf_reset(&e);
		buf_reset(&d);
		buf_reset(&e2);
		if (imap_utf8_to_utf7(str_make(in, n), &e) != 0 ||
		    imap_utf7_to_utf8(buf_str(&e), &d) != 0 || d.len != n ||
		    memcmp(buf_data(&d), in, n) != 0 || imap_utf8_to_utf7(buf_str(&d), &e2) != 0 ||
		    !str_eq(buf_str(&e), buf_str(&e2)))
			bad++;
		for (size_t i = 0; i < e.len; i++) {
			unsigned char c = (unsigned char)buf_data(&e)[i];

			if (c < 0x20 || c > 0x7e)
				bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	buf_free(&e);
	buf_free(&d);
	buf_free(&e2);
}

int main(void)
{
	test_examples();
	test_invalid();
	test_bounds();
	test_utf8_valid();
	test_random_round_trip();
	return unit_done("test_imap_utf7");
}
