/*
 * test_unorm.c — core/unorm.h: NFC (and NFD) of UTF-8. Cases worked out by hand
 * from UAX #15 (composition, canonical ordering, blocking, exclusions,
 * singletons, Hangul), then every line of Unicode's own
 * NormalizationTest.txt as vendor/build.sh installs it (read at test
 * time, not copied here), and every code point that file does not list
 * (Part 1's rule: those normalise to themselves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/unorm.h"
#include "core/utf8.h"
#include "unit.h"

#define TEST_FILE "vendor/out/host/share/NormalizationTest.txt"
#define DATA_FILE "vendor/out/host/share/UnicodeData.txt"

/* i;unicode-casemap of s, NUL-terminated (static, four in turn); checks
 * the growth bound and that the characters' lengths add up. */
static const char *cm(const char *s)
{
	static char b[4][1024];
	static int k;
	char *p = b[k++ & 3];
	size_t n = strlen(s);
	size_t l = unorm_casemap(s, n, p);
	CHECK(l <= UNORM_KD_GROWTH * n);
	p[l] = '\0';
	size_t sum = 0;
	for (size_t i = 0; i < n;) {
		size_t cl;
		sum += unorm_casemap_char_len(s + i, n - i, &cl);
		i += cl;
	}
	CHECK_EQ_INT(sum, l);
	return p;
}

/* Worked out by hand from RFC 5051 §2 and UnicodeData.txt. */
static void test_casemap_examples(void)
{
	CHECK_EQ_STR(cm(""), "");
	CHECK_EQ_STR(cm("Hello, World [x]_"), "HELLO, WORLD [X]_");
	CHECK_EQ_STR(cm("abcdefghijklmnopqrstuvwxyz{`@"), "ABCDEFGHIJKLMNOPQRSTUVWXYZ{`@");
	/* RFC 5051's own example: U+01C4 titlecases to U+01C5, which is
	 * D + U+017E, which is z + U+030C: the z stays small */
	CHECK_EQ_STR(cm("\xc7\x84"), "Dz\xcc\x8c");
	CHECK_EQ_STR(cm("\xc7\x86"), "Dz\xcc\x8c");  /* ǆ */
	CHECK_EQ_STR(cm("\xc7\x85"), "Dz\xcc\x8c");  /* ǅ */
	/* ΰ (U+03B0) has no simple titlecase and decomposes to a small
	 * upsilon and two marks: its key keeps the small letter, which a
	 * second casemap would capitalise (the key is not idempotent) */
	CHECK_EQ_STR(cm("\xce\xb0"), "\xcf\x85\xcc\x88\xcc\x81");
	CHECK_EQ_STR(cm("\xcf\x85\xcc\x88\xcc\x81"), "\xce\xa5\xcc\x88\xcc\x81");
	CHECK_EQ_STR(cm("D\xc5\xbd"), "DZ\xcc\x8c"); /* D + Ž: two letters */
	/* é precomposed and decomposed, either case */
	CHECK_EQ_STR(cm("\xc3\xa9"), "E\xcc\x81");
	CHECK_EQ_STR(cm("e\xcc\x81"), "E\xcc\x81");
	CHECK_EQ_STR(cm("\xc3\x89"), "E\xcc\x81");
	/* compatibility forms: superscript two, fullwidth A and a, the fi
	 * ligature (no simple titlecase: it decomposes to small letters) */
	CHECK_EQ_STR(cm("\xc2\xb2"), "2");
	CHECK_EQ_STR(cm("\xef\xbc\xa1"), "A");
	CHECK_EQ_STR(cm("\xef\xbd\x81"), "A");
	CHECK_EQ_STR(cm("\xef\xac\x81"), "fi");
	CHECK_EQ_STR(cm("fi"), "FI");
	/* ß has no simple titlecase: itself; ẞ (U+1E9E) is itself too */
	CHECK_EQ_STR(cm("Stra\xc3\x9f" "e"), "STRA\xc3\x9f" "E");
	/* Turkish: dotless ı titlecases to I; İ is I + combining dot above */
	CHECK_EQ_STR(cm("\xc4\xb1"), "I");
	CHECK_EQ_STR(cm("\xc4\xb0"), "I\xcc\x87");
	CHECK_EQ_STR(cm("i\xcc\x87"), "I\xcc\x87");
	/* Greek: final sigma and sigma both Σ; the Kelvin sign is K */
	CHECK_EQ_STR(cm("\xcf\x82\xcf\x83"), "\xce\xa3\xce\xa3");
	CHECK_EQ_STR(cm("\xe2\x84\xaa"), "K");
	/* canonical order: dot below (220) before circumflex (230) */
	CHECK_EQ_STR(cm("e\xcc\x82\xcc\xa3"), "E\xcc\xa3\xcc\x82");
	CHECK_EQ_STR(cm("\xe1\xbb\x87"), "E\xcc\xa3\xcc\x82");
	/* a two-octet letter's key (the one-step table) then a mark of a
	 * lower class: the mark goes before the letter's own */
	CHECK_EQ_STR(cm("\xc3\xa9\xcc\xa3"), "E\xcc\xa3\xcc\x81");
	CHECK_EQ_STR(cm("x\xc3\xa9\xd6\xb0" "y"), "XE\xd6\xb0\xcc\x81" "Y"); /* Hebrew sheva, 10 */
	CHECK_EQ_STR(cm("\xc3\xa9\xc3\xa9"), "E\xcc\x81" "E\xcc\x81");
	CHECK_EQ_STR(cm("\xc3\xa9\xe1\xb8\x80"), "E\xcc\x81" "A\xcc\xa5"); /* then U+1E00 */
	/* Hangul syllable: decomposed by the algorithm */
	CHECK_EQ_STR(cm("\xea\xb0\x81"), "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8");
	/* U+FDFA, the longest: 18 code points */
	CHECK(strlen(cm("\xef\xb7\xba")) == 33);
	/* ill-formed octets stay, and split nothing else */
	CHECK_EQ_STR(cm("a\xff" "b\xc3"), "A\xff" "B\xc3");
	CHECK_EQ_STR(cm("\xed\xa0\x80x"), "\xed\xa0\x80X");
	/* a very long run of marks stays bounded */
	char marks[2 * 200 + 2] = "a";
	for (int i = 0; i < 200; i++)
		memcpy(marks + 1 + 2 * i, i & 1 ? "\xcc\xa3" : "\xcc\x81", 2);
	marks[401] = '\0';
	CHECK(strlen(cm(marks)) == 401);
}

/* NFC of s, NUL-terminated (static, four in turn); checks idempotence,
 * the growth bound and that a quick-check Yes text is left alone. */
static const char *nfc(const char *s)
{
	static char b[4][512];
	static int k;
	char *p = b[k++ & 3];
	size_t n = strlen(s);
	size_t l = unorm_nfc(s, n, p);
	CHECK(l <= UNORM_GROWTH * n);
	p[l] = '\0';
	char again[512];
	size_t l2 = unorm_nfc(p, l, again);
	CHECK(l2 == l && !memcmp(again, p, l));
	if (unorm_is_nfc(s, n))
		CHECK(l == n && !memcmp(p, s, n));
	return p;
}

static void test_nfc_examples(void)
{
	CHECK_EQ_STR(nfc("Hello, World"), "Hello, World");
	CHECK_EQ_STR(nfc(""), "");
	CHECK_EQ_STR(nfc("e\xcc\x81"), "\xc3\xa9");          /* e + acute = é */
	CHECK_EQ_STR(nfc("\xc3\xa9"), "\xc3\xa9");
	CHECK_EQ_STR(nfc("Cafe\xcc\x81 cre\xcc\x80me"), "Caf\xc3\xa9 cr\xc3\xa8me");
	/* canonical order: dot below (220) before circumflex (230), either
	 * way round, composes to U+1EC7 */
	CHECK_EQ_STR(nfc("e\xcc\x82\xcc\xa3"), "\xe1\xbb\x87");
	CHECK_EQ_STR(nfc("e\xcc\xa3\xcc\x82"), "\xe1\xbb\x87");
	CHECK_EQ_STR(nfc("\xc3\xaa\xcc\xa3"), "\xe1\xbb\x87"); /* ê + dot below */
	/* blocked: two marks of one class, only the first composes */
	CHECK_EQ_STR(nfc("a\xcc\x81\xcc\x81"), "\xc3\xa1\xcc\x81");
	/* the mark composes with the last starter only: b + acute is no pair */
	CHECK_EQ_STR(nfc("ab\xcc\x81"), "ab\xcc\x81");
	/* singletons never come back: Ångström sign and Ohm sign */
	CHECK_EQ_STR(nfc("\xe2\x84\xab"), "\xc3\x85");
	CHECK_EQ_STR(nfc("\xe2\x84\xa6"), "\xce\xa9");
	/* composition exclusion: U+0958 stays decomposed (grows 3 to 6) */
	CHECK_EQ_STR(nfc("\xe0\xa5\x98"), "\xe0\xa4\x95\xe0\xa4\xbc");
	CHECK_EQ_STR(nfc("\xe0\xa4\x95\xe0\xa4\xbc"), "\xe0\xa4\x95\xe0\xa4\xbc");
	/* non-starter decomposition: U+0344 is U+0308 U+0301 */
	CHECK_EQ_STR(nfc("\xcd\x84"), "\xcc\x88\xcc\x81");
	/* Hangul: L V T and LV + T compose; a lone V or T stays */
	CHECK_EQ_STR(nfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81"); /* 각 */
	CHECK_EQ_STR(nfc("\xea\xb0\x80\xe1\x86\xa8"), "\xea\xb0\x81");
	CHECK_EQ_STR(nfc("\xe1\x85\xa1\xe1\x86\xa8"), "\xe1\x85\xa1\xe1\x86\xa8");
	/* a starter composing with the starter after it: Oriya U+0B47 +
	 * U+0B3E is U+0B4B */
	CHECK_EQ_STR(nfc("\xe0\xad\x87\xe0\xac\xbe"), "\xe0\xad\x8b");
	/* marks at the start, with no starter, are only reordered */
	CHECK_EQ_STR(nfc("\xcc\x82\xcc\xa3"), "\xcc\xa3\xcc\x82");
	/* ill-formed octets are kept and block composition */
	CHECK_EQ_STR(nfc("e\xff\xcc\x81"), "e\xff\xcc\x81");
	CHECK_EQ_STR(nfc("\xc3\xe9\xcc\x81"), "\xc3\xe9\xcc\x81");
	CHECK_EQ_STR(nfc("e\xcc\x81\xed\xa0\x80"), "\xc3\xa9\xed\xa0\x80");
	CHECK_EQ_STR(nfc("\xf0\x9d\x85\x9e"), "\xf0\x9d\x85\x97\xf0\x9d\x85\xa5"); /* U+1D15E */

	char d[64];
	size_t dl = unorm_nfd("\xc3\xa9t\xc3\xa9 \xea\xb0\x81", 9, d);
	CHECK(dl == 17 && !memcmp(d, "e\xcc\x81te\xcc\x81 \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", 17));

	CHECK(unorm_is_nfc("plain", 5));
	CHECK(unorm_is_nfc("\xc3\xa9t\xc3\xa9", 6));
	CHECK(!unorm_is_nfc("e\xcc\x81", 3));
	CHECK(!unorm_is_nfc("\xe2\x84\xab", 3));

	CHECK(unorm_equal("e\xcc\x81t\xc3\xa9", 7, "\xc3\xa9te\xcc\x81", 7));
	CHECK(unorm_equal("abc", 3, "abc", 3));
	CHECK(!unorm_equal("\xc3\xa9", 2, "e", 1));
	CHECK(!unorm_equal("abc", 3, "abd", 3));

	char out[8];
	CHECK(unorm_nfc_str("e\xcc\x81", out, sizeof out) == 0);
	CHECK_EQ_STR(out, "\xc3\xa9");
	CHECK(unorm_nfc_str("e\xcc\x81xxxxx", out, sizeof out) == 0); /* 8 octets to 7 */
	CHECK_EQ_STR(out, "\xc3\xa9xxxxx");
	CHECK(unorm_nfc_str("e\xcc\x81xxxxxx", out, sizeof out) == -1);
	CHECK_EQ_STR(out, "");
}

/* A segment past UNORM_SEGMENT_MAX code points is copied as written; one
 * within it is normalised; neither takes more than linear time. */
static void test_nfc_long_segment(void)
{
	static char in[1 + 2 * 40000 + 1], out[sizeof in * UNORM_GROWTH];
	in[0] = 'e';
	for (size_t k = 0; k < 40000; k++)
		memcpy(in + 1 + 2 * k, k & 1 ? "\xcc\xa3" : "\xcc\x81", 2); /* 230, 220 */
	size_t n = 1 + 2 * 40000;
	CHECK(unorm_nfc(in, n, out) == n && !memcmp(in, out, n));
	/* short enough: reordered and composed */
	char s[1 + 2 * 20 + 1];
	s[0] = 'a';
	for (size_t k = 0; k < 20; k++)
		memcpy(s + 1 + 2 * k, k & 1 ? "\xcc\xa3" : "\xcc\x81", 2);
	s[sizeof s - 1] = '\0';
	const char *r = nfc(s);
	CHECK(!memcmp(r, "\xe1\xba\xa1", 3)); /* a + dot below first: U+1EA1 */
}

/* Parses up to five ';'-separated columns of hex code points into UTF-8. */
static int columns(char *line, char col[5][128])
{
	char *s = line;
	for (int c = 0; c < 5; c++) {
		size_t o = 0;
		for (;;) {
			while (*s == ' ')
				s++;
			if (*s == ';') {
				s++;
				break;
			}
			char *end;
			unsigned long cp = strtoul(s, &end, 16);
			if (end == s || o + 4 >= sizeof col[c])
				return -1;
			o += utf8_encode((uint32_t)cp, col[c] + o);
			s = end;
		}
		col[c][o] = '\0';
	}
	return 0;
}

/* The simple titlecase mapping of every code point, from UnicodeData.txt
 * (read here apart from the generator: the test's own reading). */
static uint32_t *titles(void)
{
	FILE *f = fopen(DATA_FILE, "r");
	CHECK(f != NULL);
	if (!f)
		return NULL;
	uint32_t *t = calloc(0x110000, sizeof *t);
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		char *p = line;
		for (int i = 0; i < 14 && p; i++)
			p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL;
		if (p && *p != '\n' && *p != '\r' && *p)
			t[strtoul(line, NULL, 16)] = (uint32_t)strtoul(p, NULL, 16);
	}
	fclose(f);
	return t;
}

/* s with each code point replaced by its simple titlecase mapping. */
static const char *titled(const uint32_t *t, const char *s)
{
	static char b[512];
	size_t o = 0, n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t l;
		uint32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &l);
		o += utf8_encode(t[cp] ? t[cp] : cp, b + o);
		i += l;
	}
	b[o] = '\0';
	return b;
}

/* Every line of NormalizationTest.txt: c5 == NFKD(c1..c5), and the
 * casemap of each column is the NFKD of its code points titlecased
 * (RFC 5051 §2 step 2, with the test's own titlecase table). */
static void test_casemap_unicode_file(void)
{
	uint32_t *t = titles();
	FILE *f = fopen(TEST_FILE, "r");
	CHECK(f != NULL && t != NULL);
	if (!f || !t)
		return;
	char line[1024], col[5][128];
	size_t lines = 0, bad = 0, cased = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '@' || line[0] == '#' || line[0] == '\n')
			continue;
		if (columns(line, col) != 0) {
			bad++;
			continue;
		}
		lines++;
		int ok = 1;
		for (int i = 0; i < 5 && ok; i++) {
			char d[2048], w[2048];
			size_t n = strlen(col[i]), l = unorm_nfkd(col[i], n, d);
			ok = l <= UNORM_KD_GROWTH * n && l == strlen(col[4]) && !memcmp(d, col[4], l);
			const char *ti = titled(t, col[i]);
			size_t wl = unorm_nfkd(ti, strlen(ti), w);
			w[wl] = '\0';
			cased += strcmp(ti, col[i]) != 0;
			ok = ok && !strcmp(cm(col[i]), w);
		}
		if (!ok && bad++ < 5)
			fprintf(stderr, "NormalizationTest (NFKD, casemap): %s", line);
	}
	fclose(f);
	free(t);
	CHECK(lines > 15000);
	CHECK(cased > 1000);
	CHECK_EQ_INT(bad, 0);
	/* every code point: its casemap is the NFKD of its titlecase */
	t = titles();
	size_t wrong = 0;
	for (uint32_t cp = 1; t && cp < 0x110000; cp++) {
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		char u[5], w[64], ti[5];
		u[utf8_encode(cp, u)] = '\0';
		size_t tl = utf8_encode(t[cp] ? t[cp] : cp, ti);
		w[unorm_nfkd(ti, tl, w)] = '\0';
		if (strcmp(cm(u), w))
			wrong++;
	}
	free(t);
	CHECK_EQ_INT(wrong, 0);
}

static void test_nfc_unicode_file(void)
{
	FILE *f = fopen(TEST_FILE, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	static uint8_t listed[0x110000];
	char line[1024], col[5][128];
	size_t lines = 0, bad = 0;
	int part1 = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '@') {
			part1 = strncmp(line, "@Part1", 6) == 0;
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (columns(line, col) != 0) {
			bad++;
			continue;
		}
		lines++;
		if (part1) {
			size_t l;
			listed[utf8_decode((const unsigned char *)col[0], strlen(col[0]), &l)] = 1;
		}
		/* c2 == NFC(c1) == NFC(c2) == NFC(c3); c4 == NFC(c4) == NFC(c5) */
		int ok = !strcmp(nfc(col[0]), col[1]) && !strcmp(nfc(col[1]), col[1]) &&
			 !strcmp(nfc(col[2]), col[1]) && !strcmp(nfc(col[3]), col[3]) &&
			 !strcmp(nfc(col[4]), col[3]);
		/* c3 == NFD(c1) == NFD(c2) == NFD(c3); c5 == NFD(c4) == NFD(c5) */
		for (int i = 0; i < 5 && ok; i++) {
			char d[512];
			size_t n = strlen(col[i]), l = unorm_nfd(col[i], n, d);
			const char *want = i < 3 ? col[2] : col[4];
			ok = l <= UNORM_GROWTH * n && l == strlen(want) && !memcmp(d, want, l);
		}
		if (!ok && bad++ < 5)
			fprintf(stderr, "NormalizationTest: %s", line);
	}
	fclose(f);
	CHECK(lines > 15000);
	CHECK_EQ_INT(bad, 0);
	/* Part 1: every code point it does not list is its own NFC. */
	size_t wrong = 0;
	for (uint32_t cp = 1; cp < 0x110000; cp++) {
		if (listed[cp] || (cp >= 0xd800 && cp < 0xe000))
			continue;
		char u[5], o[16];
		size_t n = utf8_encode(cp, u);
		if (unorm_nfc(u, n, o) != n || memcmp(u, o, n))
			wrong++;
	}
	CHECK_EQ_INT(wrong, 0);
}

int main(void)
{
	test_nfc_examples();
	test_nfc_long_segment();
	test_nfc_unicode_file();
	test_casemap_examples();
	test_casemap_unicode_file();
	return unit_done("test_unorm");
}
