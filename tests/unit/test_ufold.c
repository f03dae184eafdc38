/*
 * test_ufold.c — core/ufold.h: Unicode full case folding (CaseFolding.txt
 * C+F) of UTF-8, in place and into a second buffer, one octet at a time.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ufold.h"
#include "core/utf8.h"
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

/* ---- the fast paths against a plain reference ---- */

/* The fold the way the table says it, a code point at a time, with no
 * fast path: every well-formed sequence decoded and looked up in the
 * two-stage table (ufold.h), every other octet kept. */
static size_t ref_fold(const char *in, size_t n, char *out, size_t *room_r)
{
	size_t o = 0, most = 0;
	for (size_t i = 0; i < n;) {
		const unsigned char *s = (const unsigned char *)in + i;
		size_t l = utf8_seq(s, n - i);
		uint32_t cp = l == 0 ? 0x110000
			      : l == 1 ? s[0]
			      : l == 2 ? (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)
			      : l == 3 ? (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
					     (s[2] & 0x3f)
				       : (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
					     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		l = l ? l : 1;
		uint16_t k = cp < 0x110000 ? ufold_index[ufold_page[cp >> 8]][cp & 255] : 0;
		if (k) {
			memcpy(out + o, ufold_maps[k].s, ufold_maps[k].len);
			o += ufold_maps[k].len;
		} else {
			memcpy(out + o, in + i, l);
			o += l;
		}
		i += l;
		if (o > i && o - i > most)
			most = o - i;
	}
	*room_r = n + most;
	return o;
}

static size_t ref_checked;

#define REF_MAX (1u << 20)

/* in[0..n) folded every way (ufold, ufold_inplace, ufold_room,
 * ufold_char_len) is the reference's fold, octet for octet. */
static void same_as_ref(const char *in, size_t n)
{
	static char *want, *got; /* room for a corpus file's fold */
	if (!want) {
		want = malloc(UFOLD_GROWTH * REF_MAX);
		got = malloc(UFOLD_GROWTH * REF_MAX);
	}
	size_t room, wl = ref_fold(in, n, want, &room);
	size_t gl = ufold(in, n, got);
	CHECK(gl == wl && !memcmp(got, want, wl));
	CHECK(ufold_room(in, n) == room);
	memcpy(got, in, n);
	gl = ufold_inplace(got, n);
	CHECK(gl == wl && !memcmp(got, want, wl));
	size_t i = 0, o = 0, bad = 0;
	while (i < n) {
		size_t cl, f = ufold_char_len(in + i, n - i, &cl), r;
		char one[UFOLD_MAP_MAX + 4];
		bad += cl < 1 || cl > 4 || f != ref_fold(in + i, cl, one, &r);
		i += cl;
		o += f;
	}
	CHECK(!bad && o == wl);
	ref_checked += n;
}

/* Reads up to REF_MAX octets of path into a buffer of its own (static);
 * their number. */
static size_t slurp(const char *path, char **p)
{
	static char *b;
	if (!b)
		b = malloc(REF_MAX);
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(b, 1, REF_MAX, f) : 0;
	if (f)
		fclose(f);
	*p = b;
	return n;
}

/* Every step-th file under dir (depth levels of subdirectories), each
 * folded. */
static size_t ref_dir(const char *dir, int depth, size_t step)
{
	static size_t seen;
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t files = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (depth > 0) {
			files += ref_dir(path, depth - 1, step);
			continue;
		}
		if (seen++ % step)
			continue;
		char *p;
		same_as_ref(p, slurp(path, &p));
		files++;
	}
	closedir(d);
	return files;
}

/* The fast paths (eight ASCII octets at a time, two-octet characters
 * through one table, folding in place in one pass until something grows)
 * give the reference's octets on every code point at every alignment,
 * on random text full of the characters that grow, shrink or are cut
 * short, on the fuzz corpora and on real mail. */
static void test_fold_reference(void)
{
	char in[64];
	for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		size_t pre = cp % 11, n = 0;
		for (size_t k = 0; k < pre; k++)
			in[n++] = (char)('A' + k);
		n += utf8_encode(cp, in + n);
		memcpy(in + n, "Xy", 2);
		same_as_ref(in, n + 2);
	}
	static const char *const pick[] = {
		"A", "z", " ", "Hello WORLD", "\xc3\x9f", "\xc3\x89", "\xd0\x81", "\xd0\xb0",
		"\xc5\xbf", /* ſ: one octet */
		"\xc4\xb0", /* İ: three */
		"\xc5\x89", "\xc7\xb0", "\xce\x90", "\xce\xb0", "\xd6\x87",
		"\xe1\xba\x9e", "\xe2\x84\xaa", "\xe2\x84\xab", "\xe2\x84\xa6",
		"\xef\xac\x83", "\xf0\x90\x90\x80", "\xe6\x97\xa5", "\xc3", "\x80", "\xff",
		"\xed\xa0\x80", "\xf0\x90\x90", "\xc1\x81", "\xe0\x80\xaf",
	};
	srand(11);
	for (int r = 0; r < 20000; r++) {
		size_t n = 0, want = (size_t)(rand() % 48);
		while (n < want) {
			const char *s = pick[rand() % (int)(sizeof pick / sizeof pick[0])];
			size_t l = strlen(s);
			if (n + l > sizeof in)
				break;
			memcpy(in + n, s, l);
			n += l;
		}
		same_as_ref(in, n);
	}
	size_t files = ref_dir("tests/fuzz/corpus", 1, 1);
	CHECK(files > 1000);
	files = ref_dir("../shared/corpora/spam/train", 2, 4);
	CHECK(files > 500);
}

int main(void)
{
	test_fold_examples();
	test_fold_all();
	test_fold_reference();
	return unit_done("test_ufold");
}
