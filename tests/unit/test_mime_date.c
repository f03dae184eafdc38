/*
 * test_mime_date.c — the Date: header parser (mime/mime_date.h) and the
 * sequence-set helpers SEARCHRES and ESEARCH use (imap_seqset_from_sorted,
 * imap_seqset_format).
 */
#include <stdint.h>
#include <string.h>

#include "imap/imap_seqset.h"
#include "mime/mime_date.h"
#include "unit.h"

static void ok(const char *v, int64_t t, int64_t day, int line)
{
	int64_t gt = -1, gd = -1;
	int r = mime_date_parse(str_c(v), &gt, &gd);
	if (r != 0 || gt != t || gd != day)
		fprintf(stderr, "line %d: %s -> r=%d t=%lld day=%lld\n", line, v, r, (long long)gt,
			(long long)gd);
	CHECK(r == 0 && gt == t && gd == day);
}

static void bad(const char *v, int line)
{
	int r = mime_date_parse(str_c(v), NULL, NULL);
	if (r != -1)
		fprintf(stderr, "line %d: %s parsed\n", line, v);
	CHECK_EQ_INT(r, -1);
}

static void test_dates(void)
{
	/* 2026-11-20 is day 20777; 12:00 UTC is 1795176000. */
	ok("Fri, 20 Nov 2026 12:00:00 +0000", 1795176000, 20777, __LINE__);
	ok("20 Nov 2026 12:00:00 +0000", 1795176000, 20777, __LINE__);
	ok("Fri,20 Nov 2026 12:00:00 +0000", 1795176000, 20777, __LINE__);
	ok("  Fri ,  20   nov   2026  12 : 00 : 00   +0000  ", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 12:00 +0000", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 14:00:00 +0200", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 04:00:00 -0800", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 04:00:00 PST", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 12:00:00 GMT", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 12:00:00 UT", 1795176000, 20777, __LINE__);
	ok("Fri, 20 Nov 2026 12:00:00 A", 1795176000, 20777, __LINE__);   /* military: +0000 */
	ok("Fri, 20 Nov 2026 12:00:00", 1795176000, 20777, __LINE__);     /* no zone */
	ok("Fri, 20 Nov 2026 12:00:00 +99", 1795176000, 20777, __LINE__); /* broken zone */
	ok("Fri, 20 Nov 26 12:00:00 +0000", 1795176000, 20777, __LINE__); /* 2-digit year */
	ok("Fri, 20 November 2026 12:00:00 +0000", 1795176000, 20777, __LINE__);
	ok("20-Nov-2026 12:00:00 +0000", 1795176000, 20777, __LINE__);
	ok("(c) Fri, (x(y)) 20 Nov 2026 12:00:00 +0000 (CET)", 1795176000, 20777, __LINE__);
	/* The written day is kept apart from the UTC instant. */
	ok("Fri, 20 Nov 2026 23:30:00 -0100", 1795176000 + 12 * 3600 + 1800, 20777, __LINE__);
	ok("Thu, 1 Jan 1970 00:00:00 +0000", 0, 0, __LINE__);
	ok("Wed, 31 Dec 1969 23:00:00 +0000", -3600, -1, __LINE__);
	ok("1 Jan 99 00:00:00 +0000", 915148800, 10592, __LINE__);   /* 1999 */
	ok("1 Jan 049 00:00:00 +0000", -662688000, -7670, __LINE__); /* 3 digits: 1949 */
	ok("29 Feb 2024 00:00:00 +0000", 1709164800, 19782, __LINE__);
	ok("31 Dec 2026 23:59:60 +0000", 1798761600, 20818, __LINE__); /* leap second */
	bad("", __LINE__);
	bad("not a date", __LINE__);
	bad("Fri, 20 Nov", __LINE__);
	bad("Fri, 20 Nov 2026", __LINE__);
	bad("Fri, 20 Nov 2026 12", __LINE__);
	bad("Fri, 20 Nov 2026 24:00:00 +0000", __LINE__);
	bad("Fri, 20 Nov 2026 12:60:00 +0000", __LINE__);
	bad("Fri, 20 Nov 2026 12:00:61 +0000", __LINE__);
	bad("Fri, 0 Nov 2026 12:00:00 +0000", __LINE__);
	bad("Fri, 31 Nov 2026 12:00:00 +0000", __LINE__);
	bad("29 Feb 2025 00:00:00 +0000", __LINE__);
	bad("Fri, 20 Nox 2026 12:00:00 +0000", __LINE__);
	bad("Fri, 20 Nov 20266 12:00:00 +0000", __LINE__);
	bad("Fri, 123 Nov 2026 12:00:00 +0000", __LINE__);
	/* RFC 5322 §3.3: "The year is any numeric year 1900 or later" (a
	 * spam corpus has "0102"; Dovecot sorts it by the arrival date too). */
	bad("Tue, 27 Aug 0102 23:35:10 +0700", __LINE__);
	bad("31 Dec 1899 23:59:59 +0000", __LINE__);
	ok("1 Jan 1900 00:00:00 +0000", -2208988800, -25567, __LINE__);
	ok("Fri, 20 Nov 2026 12:00:00 (unclosed", 1795176000, 20777, __LINE__);
	CHECK_EQ_INT(mime_date_parse(STR_NULL, NULL, NULL), -1);
	/* The formatter at an offset, and the RFC 3339 offset read back. */
	{
		char d[MIME_DATE_MAX];
		int64_t t;
		int off = 1;
		mime_date_format(1795176000, d);
		CHECK_EQ_STR(d, "Fri, 20 Nov 2026 12:00:00 +0000");
		mime_date_format_off(1795176000, 12 * 3600 + 30 * 60, d);
		CHECK_EQ_STR(d, "Sat, 21 Nov 2026 00:30:00 +1230");
		mime_date_format_off(1795176000, -(5 * 3600 + 45 * 60), d);
		CHECK_EQ_STR(d, "Fri, 20 Nov 2026 06:15:00 -0545");
		CHECK_EQ_INT(mime_rfc3339_parse_off("2026-11-20T13:00:00+01:00", &t, &off), 0);
		CHECK(t == 1795176000 && off == 3600);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2026-11-20T12:00:00Z", &t, &off), 0);
		CHECK(t == 1795176000 && off == 0);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2026-11-20T06:15:00-05:45", &t, &off), 0);
		CHECK(t == 1795176000 && off == -(5 * 3600 + 45 * 60));
		/* A day the month has (RFC 3339 §5.7): Feb 30 was Mar 2. */
		CHECK_EQ_INT(mime_rfc3339_parse_off("2026-02-30T00:00:00Z", &t, &off), -1);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2026-04-31T00:00:00Z", &t, &off), -1);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2025-02-29T00:00:00Z", &t, &off), -1);
		CHECK_EQ_INT(mime_rfc3339_parse_off("1900-02-29T00:00:00Z", &t, &off), -1);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2000-02-29T00:00:00Z", &t, &off), 0);
		CHECK_EQ_INT(mime_rfc3339_parse_off("2024-02-29T00:00:00Z", &t, &off), 0);
		CHECK(t == 1709164800);
	}
	CHECK_EQ_INT(mime_days_from_civil(2000, 3, 1), 11017);
}

static void test_seqset_helpers(void)
{
	struct arena *a = arena_new(0);
	struct imap_seqset set;
	struct buf b;
	static const uint32_t v[] = { 2, 10, 11, 12, 14, 4294967294u, 4294967295u };

	buf_init(&b, 1024);
	imap_seqset_from_sorted(v, 7, a, &set);
	CHECK_EQ_INT(set.count, 4);
	CHECK_EQ_INT(set.total, 7);
	CHECK(imap_seqset_contains(&set, 11) && !imap_seqset_contains(&set, 13));
	CHECK_EQ_INT(imap_seqset_format(&set, &b), 0);
	buf_append(&b, "", 1);
	CHECK_EQ_STR(buf_data(&b), "2,10:12,14,4294967294:4294967295");

	imap_seqset_from_sorted(v, 0, a, &set);
	CHECK(set.count == 0 && set.ranges == NULL && !set.saved);
	buf_reset(&b);
	CHECK_EQ_INT(imap_seqset_format(&set, &b), 0);
	CHECK_EQ_INT(buf_len(&b), 0);

	/* A full buffer fails cleanly. */
	struct buf small;
	buf_init(&small, 4);
	imap_seqset_from_sorted(v, 7, a, &set);
	CHECK_EQ_INT(imap_seqset_format(&set, &small), -1);
	buf_free(&small);
	buf_free(&b);
	arena_free(&a);
}

int main(void)
{
	test_dates();
	test_seqset_helpers();
	return unit_done("test_mime_date");
}
