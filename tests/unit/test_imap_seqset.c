/*
 * test_imap_seqset.c — sequence-set syntax, "*" resolution, normalisation,
 * membership and iteration, and writing UID lists as sets in parts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_seqset.h"
#include "unit.h"

static struct arena *A;

/* Renders a parsed set as "lo:hi,lo:hi" (single values as "v"), or "$". */
static const char *show(const struct imap_seqset *set)
{
	static char out[1024];
	size_t n = 0;

	out[0] = '\0';
	if (set->saved)
		return "$";
	for (size_t i = 0; i < set->count && n < sizeof(out) - 32; i++) {
		const struct imap_seq_range *r = &set->ranges[i];

		if (r->lo == r->hi)
			n +=
			    (size_t)snprintf(out + n, sizeof(out) - n, "%s%u", i ? "," : "", r->lo);
		else
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u:%u", i ? "," : "",
			                      r->lo, r->hi);
	}
	return out;
}

/* Parses s with max; expects either the rendering or an error code. */
static void check(const char *s, uint32_t max, size_t max_ranges, int rc, const char *expect,
                  uint64_t total, int line)
{
	struct imap_seqset set;
	int r = imap_seqset_parse(str_c(s), max, max_ranges, A, &set);
	int c = imap_seqset_check(str_c(s), max_ranges);

	unit_checks += 3;
	if (r != rc) {
		unit_failures++;
		fprintf(stderr, "%s:%d: parse(\"%s\") = %d, expected %d\n", __FILE__, line, s, r,
		        rc);
		return;
	}
	/* check() agrees with parse() on validity. */
	if ((c < 0) != (rc < 0) || (c < 0 && c != rc)) {
		unit_failures++;
		fprintf(stderr, "%s:%d: check(\"%s\") = %d, parse %d\n", __FILE__, line, s, c, r);
	}
	if (rc == 0 && strcmp(show(&set), expect) != 0) {
		unit_failures++;
		fprintf(stderr, "%s:%d: \"%s\" max %u -> \"%s\", expected \"%s\"\n", __FILE__, line,
		        s, max, show(&set), expect);
	}
	if (rc == 0 && set.total != total) {
		unit_failures++;
		fprintf(stderr, "%s:%d: \"%s\" total %llu, expected %llu\n", __FILE__, line, s,
		        (unsigned long long)set.total, (unsigned long long)total);
	}
}

#define OK(s, max, expect, total) check(s, max, 1000, 0, expect, total, __LINE__)
#define BAD(s) check(s, 100, 1000, IMAP_SEQSET_ERR_SYNTAX, "", 0, __LINE__)

static void test_syntax(void)
{
	OK("1", 10, "1", 1);
	OK("1:5", 10, "1:5", 5);
	OK("5:1", 10, "1:5", 5);
	OK("1:*", 10, "1:10", 10);
	OK("*:1", 10, "1:10", 10);
	OK("*", 10, "10", 1);
	OK("*:*", 10, "10", 1);
	OK("1:*,5,7:9", 20, "1:20", 20);
	OK("2,4:7,9,12:*", 15, "2,4:7,9,12:15", 10);
	OK("*:4,5:7", 10, "4:10", 7); /* RFC 9051 example */
	OK("3,1,2", 10, "1:3", 3);    /* adjacent singles merge */
	OK("1:3,5:7,4", 10, "1:7", 7);
	OK("10:12,1:2,11:20", 100, "1:2,10:20", 13);
	OK("4294967295", 1, "4294967295", 1);
	OK("1:4294967295", 1, "1:4294967295", 4294967295ull);
	OK("4294967295:4294967294,4294967295", 5, "4294967294:4294967295", 2);
	OK("7:*", 5, "5:7", 3); /* n:* past max includes max */
	OK("100", 5, "100", 1); /* numbers above max kept: the caller decides */
	OK("$", 5, "$", 0);
	/* "*" on an empty mailbox matches nothing */
	OK("*", 0, "", 0);
	OK("1:*", 0, "", 0);
	OK("1:*,3", 0, "3", 1);

	BAD("");
	BAD("0");
	BAD("0:5");
	BAD("1:0");
	BAD("01");
	BAD("4294967296");
	BAD("99999999999999999999");
	BAD("1,");
	BAD(",1");
	BAD("1,,2");
	BAD("1:");
	BAD(":1");
	BAD("1:2:3");
	BAD("1::2");
	BAD("1 2");
	BAD(" 1");
	BAD("-1");
	BAD("+1");
	BAD("a");
	BAD("1a");
	BAD("**");
	BAD("$,1");
	BAD("1,$");
	BAD("$$");
	BAD("$:1");
	BAD("1.5");

	/* Element count limits, checked before allocating. */
	check("1,2,3", 10, 3, 0, "1:3", 3, __LINE__);
	check("1,2,3,4", 10, 3, IMAP_SEQSET_ERR_TOO_MANY, "", 0, __LINE__);
	check("1:*", 10, 0, IMAP_SEQSET_ERR_TOO_MANY, "", 0, __LINE__);
	check("$", 10, 0, 0, "$", 0, __LINE__);
	CHECK_EQ_INT(imap_seqset_check(STR_LIT("1,2:3,*"), 100), 3);
	CHECK_EQ_INT(imap_seqset_check(STR_LIT("$"), 100), 0);
	CHECK_EQ_INT(imap_seqset_check(STR_LIT("1,2,x"), 1), IMAP_SEQSET_ERR_TOO_MANY);
	CHECK_EQ_INT(imap_seqset_check(STR_LIT("1,x"), 1), IMAP_SEQSET_ERR_SYNTAX);
}

static void test_flags_and_lookup(void)
{
	struct imap_seqset set;
	struct imap_seqset_iter it;
	uint32_t v, got[64];
	size_t n = 0;

	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("9,2:4,*,20:18"), 12, 100, A, &set), 0);
	CHECK(set.star);
	CHECK(!set.saved);
	CHECK_EQ_STR(show(&set), "2:4,9,12,18:20");
	CHECK_EQ_INT(imap_seqset_last(&set), 20);
	CHECK(!imap_seqset_contains(&set, 1));
	CHECK(imap_seqset_contains(&set, 2));
	CHECK(imap_seqset_contains(&set, 3));
	CHECK(imap_seqset_contains(&set, 4));
	CHECK(!imap_seqset_contains(&set, 5));
	CHECK(imap_seqset_contains(&set, 9));
	CHECK(!imap_seqset_contains(&set, 11));
	CHECK(imap_seqset_contains(&set, 12));
	CHECK(imap_seqset_contains(&set, 19));
	CHECK(!imap_seqset_contains(&set, 21));
	CHECK(!imap_seqset_contains(&set, UINT32_MAX));
	imap_seqset_iter_init(&it, &set);
	while (n < 64 && imap_seqset_iter_next(&it, &v))
		got[n++] = v;
	CHECK_EQ_INT(n, 8);
	CHECK(n == 8 && got[0] == 2 && got[1] == 3 && got[2] == 4 && got[3] == 9 && got[4] == 12 &&
	      got[5] == 18 && got[6] == 19 && got[7] == 20);
	CHECK(!imap_seqset_iter_next(&it, &v));

	/* The iterator does not wrap at the top of the range. */
	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("4294967294:*"), UINT32_MAX, 10, A, &set), 0);
	imap_seqset_iter_init(&it, &set);
	n = 0;
	while (n < 64 && imap_seqset_iter_next(&it, &v))
		got[n++] = v;
	CHECK_EQ_INT(n, 2);
	CHECK(got[0] == 4294967294u && got[1] == 4294967295u);
	CHECK(imap_seqset_contains(&set, UINT32_MAX));

	/* No star, "$", empty */
	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("1"), 5, 10, A, &set), 0);
	CHECK(!set.star);
	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("$"), 5, 10, A, &set), 0);
	CHECK(set.saved && set.count == 0 && !imap_seqset_contains(&set, 1));
	imap_seqset_iter_init(&it, &set);
	CHECK(!imap_seqset_iter_next(&it, &v));
	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("*"), 0, 10, A, &set), 0);
	CHECK(set.star && set.count == 0 && set.ranges == NULL);
	CHECK_EQ_INT(imap_seqset_last(&set), 0);
	imap_seqset_iter_init(&it, &set);
	CHECK(!imap_seqset_iter_next(&it, &v));
	CHECK_EQ_INT(imap_seqset_parse(STR_LIT("x"), 5, 10, A, &set), IMAP_SEQSET_ERR_SYNTAX);
	CHECK(set.count == 0 && set.ranges == NULL && !set.saved);
}

static void test_many(void)
{
	/* mbsync-style long UID lists: 2000 singles merge to ranges. */
	char s[20000];
	size_t n = 0;
	struct imap_seqset set;

	for (unsigned i = 1; i <= 2000; i++)
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%s%u", i > 1 ? "," : "",
		                      i % 3 ? i : i * 1000);
	CHECK_EQ_INT(imap_seqset_parse(str_make(s, n), 10, 2000, A, &set), 0);
	CHECK_EQ_INT(set.total, 2000);
	CHECK(set.count > 600 && set.count < 2000);
	for (size_t i = 1; i < set.count; i++)
		CHECK(set.ranges[i].lo > (uint64_t)set.ranges[i - 1].hi + 1);
	CHECK(imap_seqset_contains(&set, 3000));
	CHECK(!imap_seqset_contains(&set, 3));
	CHECK_EQ_INT(imap_seqset_parse(str_make(s, n), 10, 1999, A, &set),
	             IMAP_SEQSET_ERR_TOO_MANY);
}

/* imap_seqset_append_values(): runs as ranges, parts that end on a
 * whole element, never a cut one. */
static void test_append_values(void)
{
	static const uint32_t v[] = { 2, 4, 5, 6, 9 };
	struct buf b;

	buf_init(&b, 1024);
	CHECK_EQ_INT(imap_seqset_append_values(&b, v, 5, SIZE_MAX), 5);
	CHECK_EQ_SLICE(buf_str(&b), "2,4:6,9");
	/* A limit stops before the element that passes it... */
	buf_reset(&b);
	CHECK_EQ_INT(imap_seqset_append_values(&b, v, 5, 6), 4);
	CHECK_EQ_SLICE(buf_str(&b), "2,4:6");
	/* ...and the rest starts a set of its own. */
	buf_reset(&b);
	CHECK_EQ_INT(imap_seqset_append_values(&b, v + 4, 1, 6), 1);
	CHECK_EQ_SLICE(buf_str(&b), "9");
	/* The limit counts what the buffer held before. */
	buf_reset(&b);
	buf_append_c(&b, "* X ");
	CHECK_EQ_INT(imap_seqset_append_values(&b, v, 5, 4), 0);
	CHECK_EQ_SLICE(buf_str(&b), "* X ");
	buf_free(&b);
	/* A full buffer stops it as a limit does: the caller sees the count. */
	buf_init(&b, 4);
	CHECK_EQ_INT(imap_seqset_append_values(&b, v, 5, SIZE_MAX), 1);
	CHECK_EQ_SLICE(buf_str(&b), "2");
	buf_free(&b);
}

/* Two million scattered UIDs (every other one, the largest near 2^32) in
 * parts of at most 8190 octets: each part parses as a set, and together
 * they hold every value once, in order. */
static void test_append_values_parts(void)
{
	const size_t n = 2000000, limit = 8190;
	uint32_t *v = xmalloc(n * sizeof(*v));
	struct buf b;
	size_t done = 0, parts = 0;

	for (size_t i = 0; i < n; i++)
		v[i] = UINT32_MAX - 2 * (uint32_t)(n - i);
	buf_init(&b, limit);
	while (done < n) {
		struct arena *pa = arena_new(0);
		struct imap_seqset set;
		struct imap_seqset_iter it;
		uint32_t x;

		buf_reset(&b);
		size_t k = imap_seqset_append_values(&b, v + done, n - done, limit);
		CHECK(k > 0 && buf_len(&b) <= limit);
		CHECK_EQ_INT(imap_seqset_parse(buf_str(&b), UINT32_MAX, k, pa, &set), 0);
		CHECK_EQ_INT(set.total, k);
		imap_seqset_iter_init(&it, &set);
		for (size_t i = 0; i < k && imap_seqset_iter_next(&it, &x); i++)
			if (x != v[done + i]) {
				CHECK_EQ_INT(x, v[done + i]);
				break;
			}
		arena_free(&pa);
		done += k;
		parts++;
		if (k == 0)
			break;
	}
	CHECK_EQ_INT(done, n);
	CHECK(parts >= n * 11 / limit && parts < n * 11 / limit * 2);
	buf_free(&b);
	free(v);
}

int main(void)
{
	A = arena_new(0);
	test_syntax();
	test_flags_and_lookup();
	test_many();
	test_append_values();
	test_append_values_parts();
	arena_free(&A);
	return unit_done("test_imap_seqset");
}
