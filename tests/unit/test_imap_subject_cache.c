/*
 * test_imap_subject_cache.c — the folded subjects SEARCH SUBJECT keeps
 * (imap_subject_cache.h): what was added is found, per store and account,
 * whatever the order ids are added and asked in, duplicates once; an
 * absent Subject stays apart from an empty one; a subject over the text
 * cap is not kept; past the account slots the least recently used
 * account goes. And mime_search_fold_value() + mime_search_contains()
 * answer as mime_search_value() does, encoded-words included.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_subject_cache.h"
#include "mime/mime_search.h"
#include "unit.h"

struct seen {
	char text[8][64];
	int none[8];
	int calls;
};

static void collect(void *arg, size_t i, struct str folded)
{
	struct seen *s = arg;
	s->calls++;
	s->none[i] = folded.p == NULL;
	if (folded.p)
		snprintf(s->text[i], sizeof s->text[i], "%.*s", (int)folded.len, folded.p);
}

static void test_cache(void)
{
	struct store *st = (struct store *)&st, *other = (struct store *)&other;
	uint32_t ids[] = {30, 10, 20, 10};
	struct str v[] = {STR_LIT("thirty"), STR_LIT("ten"), STR_NULL, STR_LIT("ten again")};
	struct seen s;
	uint8_t found[8];

	imap_subject_cache_clear();
	imap_subject_cache_add(st, 7, ids, v, 4);
	struct str empty = str_make("", 0);
	uint32_t forty = 40;
	imap_subject_cache_add(st, 7, &forty, &empty, 1);

	uint32_t ask[] = {5, 10, 20, 30, 40, 50};
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 7, ask, 6, found, collect, &s), 4);
	CHECK_EQ_INT(s.calls, 4);
	CHECK(!found[0] && found[1] && found[2] && found[3] && found[4] && !found[5]);
	CHECK(!strcmp(s.text[1], "ten") || !strcmp(s.text[1], "ten again")); /* one of the two */
	CHECK(s.none[2]);                                   /* no Subject */
	CHECK(!s.none[3] && !strcmp(s.text[3], "thirty"));
	CHECK(!s.none[4] && s.text[4][0] == '\0');          /* an empty Subject is one */

	/* Asked out of order; another account and another store see nothing. */
	uint32_t back[] = {30, 10};
	memset(&s, 0, sizeof s);
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 7, back, 2, found, collect, &s), 2);
	CHECK(!strcmp(s.text[0], "thirty"));
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 8, back, 2, found, collect, &s), 0);
	CHECK_EQ_INT((int)imap_subject_cache_each(other, 7, back, 2, found, collect, &s), 0);

	/* Over the text cap: not kept. */
	char big[IMAP_SUBJECT_CACHE_TEXT_MAX + 1];
	memset(big, 'x', sizeof big);
	struct str bs = str_make(big, sizeof big);
	uint32_t sixty = 60;
	imap_subject_cache_add(st, 7, &sixty, &bs, 1);
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 7, &sixty, 1, found, collect, &s), 0);

	/* More accounts than slots: account 7, used least lately, goes. */
	uint32_t one = 1;
	struct str a = STR_LIT("a");
	for (uint32_t acc = 100; acc < 100 + IMAP_SUBJECT_CACHE_ACCOUNTS; acc++)
		imap_subject_cache_add(st, acc, &one, &a, 1);
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 7, back, 2, found, collect, &s), 0);
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 100 + IMAP_SUBJECT_CACHE_ACCOUNTS - 1, &one, 1,
						   found, collect, &s), 1);
	imap_subject_cache_clear();
	CHECK_EQ_INT((int)imap_subject_cache_each(st, 100, &one, 1, found, collect, &s), 0);
}

/* The two steps answer as mime_search_value does. */
static void test_fold_value(void)
{
	static const char *values[] = {
	    "Bench 12", "=?utf-8?q?Caf=C3=A9_cr=C3=A8me?=", "=?iso-8859-1?B?SvxyZ2Vu?= und mehr",
	    "", "  spaced   out  ",
	};
	static const char *needles[] = {"bench 1", "café", "CRÈME", "jürgen", "und", "", "x", "out"};
	struct buf out;
	buf_init(&out, 256 * 1024);
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		struct str v = str_make(values[i], strlen(values[i]));
		mime_search_fold_value(v, &out);
		for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
			char nb[MIME_SEARCH_FOLD_ROOM(64)];
			size_t nl = strlen(needles[k]);
			memcpy(nb, needles[k], nl);
			nl = mime_search_fold(nb, nl);
			struct str n = str_make(nb, nl);
			CHECK_EQ_INT(mime_search_contains(buf_str(&out), n), mime_search_value(v, n));
		}
	}
	buf_free(&out);
}

int main(void)
{
	test_cache();
	test_fold_value();
	return unit_done("test_imap_subject_cache");
}
