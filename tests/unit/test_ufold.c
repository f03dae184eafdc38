/*
 * test_ufold.c — core/ufold.h: Unicode full case folding (CaseFolding.txt
 * C+F) of UTF-8, in place and into a second buffer, one octet at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ufold.h"
#include "unit.h"

/* s folded both ways; the in-place result, NUL-terminated (static). */
static const char *folded(const char *s)
{
	static char b[4][256];
	static int k;
	char *p = b[k++ & 3];
	size_t n = strlen(s);
	char out[256];
	memcpy(p, s, n);
	CHECK(ufold_room(p, n) <= UFOLD_GROWTH * n || n == 0);
	size_t l = ufold_inplace(p, n);
	p[l] = '\0';
	size_t l2 = ufold(s, n, out);
	CHECK(l2 == l && !memcmp(out, p, l));
	/* idempotent */
	char again[256];
	memcpy(again, p, l);
	CHECK(ufold_inplace(again, l) == l && !memcmp(again, p, l));
	return p;
}

static void same(const char *a, const char *b)
{
	char fa[256];
	strcpy(fa, folded(a));
	CHECK_EQ_STR(fa, folded(b));
}

static void test_fold_examples(void)
{
	CHECK_EQ_STR(folded("Hello WORLD 123"), "hello world 123");
	same("STRASSE", "straße");                /* F: ß is ss */
	same("STRASSE", "STRAẞE");                /* U+1E9E capital sharp s */
	same("\xc7\x84", "\xc7\x86");             /* Ǆ ǆ */
	same("\xc7\x85", "\xc7\x86");             /* ǅ ǆ */
	same("\xe1\x8e\xa0", "\xea\xad\xb0");     /* Cherokee Ꭰ, small ꭰ */
	same("\xe1\xb2\x90", "\xe1\x83\x90");     /* Georgian Mtavruli Ა, Mkhedruli ა */
	same("\xf0\x90\x90\x80", "\xf0\x90\x90\xa8"); /* Deseret 𐐀 𐐨 */
	same("\xe2\x84\xaa", "k");                /* Kelvin sign */
	same("ΣΊΣΥΦΟΣ", "σίσυφος");               /* final sigma */
	same("ﬃ", "FFI");                         /* ligature, F */
	same("\xce\x90", "\xce\xb9\xcc\x88\xcc\x81"); /* ΐ: three code points */
	same("İ", "i\xcc\x87");                   /* U+0130, not Turkic */
	same("ÉCOLE Ёлка ԱՐԵՎ", "école ёлка արեվ");
	CHECK_EQ_STR(folded("ı"), "ı");           /* dotless i has no fold */
	CHECK_EQ_STR(folded("日本語"), "日本語");
	/* ill-formed octets are kept, one at a time */
	CHECK_EQ_STR(folded("A\xc3\xc3\x84Z\xff\xed\xa0\x80"), "a\xc3\xc3\xa4z\xff\xed\xa0\x80");
	CHECK_EQ_STR(folded("\xf0\x90\x90"), "\xf0\x90\x90"); /* cut short */
	/* growth: a text that grows at its start is moved, not overwritten */
	CHECK_EQ_STR(folded("ΐΐΐabc"), "\xce\xb9\xcc\x88\xcc\x81\xce\xb9\xcc\x88\xcc\x81"
				       "\xce\xb9\xcc\x88\xcc\x81" "abc");
	CHECK_EQ_STR(folded("ab\xe2\x84\xaa" "ΐ"), "abk\xce\xb9\xcc\x88\xcc\x81");
	size_t l;
	CHECK(ufold_char_len("\xce\x90", 2, &l) == 6 && l == 2);
	CHECK(ufold_char_len("\xce", 1, &l) == 1 && l == 1);
}

/* Every code point folds to an idempotent form no more than
 * UFOLD_GROWTH times its length, and in place as into a second buffer;
 * then random octet strings do too. */
static void test_fold_all(void)
{
	char in[4 * 8], out[UFOLD_GROWTH * sizeof in], p[UFOLD_GROWTH * sizeof in];
	for (uint32_t cp = 0; cp < 0x110000; cp++) {
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		size_t n = 0;
		/* the code point after an ASCII letter and before one */
		in[n++] = 'Q';
		if (cp < 0x80) {
			in[n++] = (char)cp;
		} else if (cp < 0x800) {
			in[n++] = (char)(0xc0 | cp >> 6);
			in[n++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			in[n++] = (char)(0xe0 | cp >> 12);
			in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			in[n++] = (char)(0xf0 | cp >> 18);
			in[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			in[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			in[n++] = (char)(0x80 | (cp & 0x3f));
		}
		in[n++] = 'z';
		size_t l = ufold(in, n, out);
		if (l > UFOLD_GROWTH * n || out[0] != 'q' || out[l - 1] != 'z') {
			CHECK(0);
			break;
		}
		memcpy(p, in, n);
		if (ufold_inplace(p, n) != l || memcmp(p, out, l) || ufold_inplace(p, l) != l ||
		    memcmp(p, out, l)) {
			CHECK(0);
			break;
		}
	}
	srand(7);
	for (int r = 0; r < 20000; r++) {
		size_t n = (size_t)(rand() % (int)sizeof in);
		for (size_t k = 0; k < n; k++) {
			static const char pick[] = "A\xce\x90\xc3\x9f\xe1\xba\x9e\xe2\x84\xaa\xf0\x90\x90\x80\x80\xff";
			in[k] = pick[rand() % (int)(sizeof pick - 1)];
		}
		size_t l = ufold(in, n, out);
		CHECK(l <= UFOLD_GROWTH * n);
		memcpy(p, in, n);
		CHECK(ufold_room(p, n) <= sizeof p);
		CHECK(ufold_inplace(p, n) == l && !memcmp(p, out, l));
		size_t l2 = ufold(out, l, p);
		CHECK(l2 == l && !memcmp(p, out, l));
	}
}

int main(void)
{
	test_fold_examples();
	test_fold_all();
	return unit_done("test_ufold");
}
