/*
 * test_smtp_data.c — the DATA reader: unstuffing, end marker, flags, size.
 *
 * Every case runs with the input whole, one byte at a time, in random
 * chunks, and split in two at every position; all runs must agree on the
 * output, the flags, and where the reader stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_data.h"
#include "unit.h"

#define F_DONE 0x01
#define F_BIG 0x02
#define F_LF 0x04
#define F_CR 0x08
#define F_NUL 0x10
#define F_LONG 0x20

struct result {
	struct buf out;
	size_t consumed; /* total consumed over all feeds */
	unsigned flags;
	unsigned long long size;
};

static unsigned flags_of(const struct smtp_data_reader *r)
{
	return (r->done ? F_DONE : 0) | (r->too_big ? F_BIG : 0) | (r->saw_bare_lf ? F_LF : 0) |
	       (r->saw_bare_cr ? F_CR : 0) | (r->saw_nul ? F_NUL : 0) | (r->long_line ? F_LONG : 0);
}

static unsigned rng_state;

static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/*
 * mode 0: whole; 1: bytes; 2..: random chunks seeded by mode;
 * split != 0: two feeds, in[0..split) and the rest.
 */
static void run(const char *in, size_t len, size_t max, size_t outmax, unsigned mode, size_t split,
                struct result *res)
{
	struct smtp_data_reader r;
	size_t got = 0;

	buf_init(&res->out, outmax);
	res->consumed = 0;
	smtp_data_init(&r, max);
	rng_state = mode;
	while (got < len) {
		size_t step, n;
		char *chunk;

		if (split)
			step = got == 0 ? split : len - got;
		else
			step = mode == 0 ? len : mode == 1 ? 1 : 1 + rng() % 9;
		if (step > len - got)
			step = len - got;
		/* Own allocation per chunk so ASan catches reads past it. */
		chunk = malloc(step);
		memcpy(chunk, in + got, step);
		n = smtp_data_feed(&r, chunk, step, &res->out);
		free(chunk);
		CHECK(n <= step);
		CHECK(buf_len(&res->out) <= outmax);
		CHECK(buf_len(&res->out) <= max);
		res->consumed += n;
		got += step;
		if (n < step) {
			CHECK(r.done);
			break;
		}
	}
	/* Once done, nothing more is taken. */
	if (r.done)
		CHECK_EQ_INT(smtp_data_feed(&r, "x\r\n.\r\n", 6, &res->out), 0);
	res->flags = flags_of(&r);
	res->size = r.size;
}

static int same(const struct result *a, const struct result *b)
{
	return a->consumed == b->consumed && a->flags == b->flags && a->size == b->size &&
	       buf_len(&a->out) == buf_len(&b->out) &&
	       memcmp(buf_data(&a->out), buf_data(&b->out), buf_len(&a->out)) == 0;
}

/*
 * expect_out NULL: do not compare output (too_big cases). expect_consumed
 * is where the reader must stop (len when it never finds the end).
 */
static void check(const char *in, size_t len, size_t max, const char *expect_out, size_t out_len,
                  size_t expect_consumed, unsigned expect_flags, int line)
{
	struct result whole, other;
	unsigned mode;
	size_t split;

	run(in, len, max, (size_t)-1 / 2, 0, 0, &whole);
	unit_checks++;
	if (whole.consumed != expect_consumed || whole.flags != expect_flags ||
	    (expect_out && (buf_len(&whole.out) != out_len ||
	                    memcmp(buf_data(&whole.out), expect_out, out_len) != 0))) {
		unit_failures++;
		fprintf(stderr,
		        "%s:%d: consumed %zu flags %#x out \"%.*s\"; expected %zu %#x \"%.*s\"\n",
		        __FILE__, line, whole.consumed, whole.flags, (int)buf_len(&whole.out),
		        buf_data(&whole.out), expect_consumed, expect_flags, (int)out_len,
		        expect_out ? expect_out : "");
	}
	for (mode = 1; mode < 10; mode++) {
		run(in, len, max, (size_t)-1 / 2, mode, 0, &other);
		unit_checks++;
		if (!same(&whole, &other)) {
			unit_failures++;
			fprintf(stderr, "%s:%d: chunk mode %u differs\n", __FILE__, line, mode);
		}
		buf_free(&other.out);
	}
	for (split = 1; split < len; split++) {
		run(in, len, max, (size_t)-1 / 2, 0, split, &other);
		unit_checks++;
		if (!same(&whole, &other)) {
			unit_failures++;
			fprintf(stderr, "%s:%d: split at %zu differs\n", __FILE__, line, split);
		}
		buf_free(&other.out);
	}
	buf_free(&whole.out);
}

#define BIG ((size_t)1 << 30)
/* Ends at the marker: out is expected output, stop is how much is consumed. */
#define CASE(in, max, out, stop, flags)                                                            \
	check(in, sizeof(in) - 1, max, out, sizeof(out) - 1, stop, flags, __LINE__)
#define ALL(in) (sizeof(in) - 1)

static void test_basic(void)
{
	CASE(".\r\n", BIG, "", 3, F_DONE);
	CASE(".\r\nQUIT\r\n", BIG, "", 3, F_DONE);
	CASE("\r\n.\r\n", BIG, "\r\n", 5, F_DONE);
	CASE("a\r\n.\r\n", BIG, "a\r\n", 6, F_DONE);
	CASE("Subject: x\r\n\r\nbody\r\n.\r\n", BIG, "Subject: x\r\n\r\nbody\r\n", 23, F_DONE);
	CASE("a\r\n.\r\nMAIL FROM:<>\r\n", BIG, "a\r\n", 6, F_DONE);
	CASE("a\r\n.\r\n.\r\n", BIG, "a\r\n", 6, F_DONE);
	/* not finished */
	CASE("", BIG, "", 0, 0);
	CASE("abc", BIG, "abc", ALL("abc"), 0);
	CASE("abc\r\n", BIG, "abc\r\n", ALL("abc\r\n"), 0);
	CASE("abc\r\n.", BIG, "abc\r\n", ALL("abc\r\n."), 0);
	CASE("abc\r\n.\r", BIG, "abc\r\n", ALL("abc\r\n.\r"), 0);
	CASE(".", BIG, "", 1, 0);
	/* a message without final CRLF cannot end: "x.\r\n" is text */
	CASE("abc.\r\n", BIG, "abc.\r\n", ALL("abc.\r\n"), 0);
}

static void test_stuffing(void)
{
	CASE("..\r\n.\r\n", BIG, ".\r\n", 7, F_DONE);
	CASE("..foo\r\n.\r\n", BIG, ".foo\r\n", 10, F_DONE);
	CASE("a\r\n..\r\n.\r\n", BIG, "a\r\n.\r\n", 10, F_DONE);
	CASE("a\r\n...\r\n.\r\n", BIG, "a\r\n..\r\n", 11, F_DONE);
	CASE(".foo\r\n.\r\n", BIG, "foo\r\n", 9, F_DONE); /* unstuffed per §4.5.2 */
	CASE("a.b\r\n.\r\n", BIG, "a.b\r\n", 8, F_DONE);
	CASE("a\r\n .\r\n.\r\n", BIG, "a\r\n .\r\n", 10, F_DONE);
	CASE("a\r\n.\r\r\n.\r\n", BIG, "a\r\n\r\r\n", 10, F_DONE | F_CR);
	CASE(".\rx\r\n.\r\n", BIG, "\rx\r\n", 8, F_DONE | F_CR);
	CASE(".\r\r\n.\r\n", BIG, "\r\r\n", 7, F_DONE | F_CR);
	CASE(".\r.\r\n.\r\n", BIG, "\r.\r\n", 8, F_DONE | F_CR);
}

/* None of these may end the data: each must read on to the real marker. */
static void test_smuggling(void)
{
	CASE("a\n.\nb\r\n.\r\n", BIG, "a\n.\nb\r\n", 10, F_DONE | F_LF);
	CASE("a\r.\rb\r\n.\r\n", BIG, "a\r.\rb\r\n", 10, F_DONE | F_CR);
	CASE("a\n.\r\nb\r\n.\r\n", BIG, "a\n.\r\nb\r\n", 11, F_DONE | F_LF);
	CASE("a\r\n.\nb\r\n.\r\n", BIG, "a\r\n\nb\r\n", 11, F_DONE | F_LF);
	CASE("a\r\n.\n\r\n.\r\n", BIG, "a\r\n\n\r\n", 10, F_DONE | F_LF);
	CASE("a\r\r\n.\r\r\n.\r\n", BIG, "a\r\r\n\r\r\n", 11, F_DONE | F_CR);
	CASE("a\r\n\r.\r\n.\r\n", BIG, "a\r\n\r.\r\n", 10, F_DONE | F_CR);
	CASE("\n.\r\n.\r\n", BIG, "\n.\r\n", 7, F_DONE | F_LF);
	CASE("a\r\n.\r\r\n.\r\n", BIG, "a\r\n\r\r\n", 10, F_DONE | F_CR);
	CASE("a\n.\n", BIG, "a\n.\n", 4, F_LF);
	CASE("a\r.\r", BIG, "a\r.\r", 4, F_CR);
	CASE("a\r\n.\n", BIG, "a\r\n\n", 5, F_LF);
	CASE("a\n.\r\n", BIG, "a\n.\r\n", 5, F_LF);
	/* "\r\n.\r\n" with NUL or other octet in between is no marker */
	CASE("a\r\n.\0\r\n.\r\n", BIG, "a\r\n\0\r\n", 10, F_DONE | F_NUL);
}

static void test_flags(void)
{
	char line[1200];
	size_t n;

	CASE("a\0b\r\n.\r\n", BIG, "a\0b\r\n", 8, F_DONE | F_NUL);
	CASE("\0\r\n.\r\n", BIG, "\0\r\n", 6, F_DONE | F_NUL);
	CASE(".\0\r\n.\r\n", BIG, "\0\r\n", 7, F_DONE | F_NUL);
	CASE("a\rb\r\n.\r\n", BIG, "a\rb\r\n", 8, F_DONE | F_CR);
	CASE("a\nb\r\n.\r\n", BIG, "a\nb\r\n", 8, F_DONE | F_LF);
	CASE("a\r\r\n.\r\n", BIG, "a\r\r\n", 7, F_DONE | F_CR);
	CASE("\n\r\n.\r\n", BIG, "\n\r\n", 6, F_DONE | F_LF);

	/* 998 octets + CRLF is the longest line; 999 is too long. */
	memset(line, 'x', 998);
	memcpy(line + 998, "\r\n.\r\n", 5);
	check(line, 1003, BIG, line, 1000, 1003, F_DONE, __LINE__);
	memset(line, 'x', 999);
	memcpy(line + 999, "\r\n.\r\n", 5);
	check(line, 1004, BIG, line, 1001, 1004, F_DONE | F_LONG, __LINE__);
	/* the stuffing dot does not count */
	line[0] = '.';
	line[1] = '.';
	check(line, 1004, BIG, line + 1, 1000, 1004, F_DONE, __LINE__);
	/* bare LF restarts the count */
	memset(line, 'x', 1100);
	line[600] = '\n';
	memcpy(line + 1100, "\r\n.\r\n", 5);
	check(line, 1105, BIG, line, 1102, 1105, F_DONE | F_LF, __LINE__);
	n = 1100;
	line[600] = 'x';
	check(line, n + 5, BIG, line, n + 2, n + 5, F_DONE | F_LONG, __LINE__);
}

static void test_size(void)
{
	struct result res;

	/* exactly max is fine */
	CASE("abc\r\n.\r\n", 5, "abc\r\n", 8, F_DONE);
	/* one over: flagged, but read to the end marker and no further */
	check("abcd\r\n.\r\nQUIT\r\n", 15, 5, "abcd\r", 5, 9, F_DONE | F_BIG, __LINE__);
	check("abcd\r\nmore\r\n..\r\n.\r\nQUIT\r\n", 25, 5, "abcd\r", 5, 19, F_DONE | F_BIG,
	      __LINE__);
	check("abcd\r\nmore\r\n..\r\n.\r\nQUIT\r\n", 25, 13, "abcd\r\nmore\r\n.", 13, 19,
	      F_DONE | F_BIG, __LINE__);
	CASE(".\r\n", 0, "", 3, F_DONE);
	check("a\r\n.\r\n", 6, 0, "", 0, 6, F_DONE | F_BIG, __LINE__);

	/* The output buffer's own ceiling also counts as too big. */
	run("abcdef\r\n.\r\nX", 12, BIG, 4, 0, 0, &res);
	CHECK_EQ_INT(res.consumed, 11);
	CHECK(res.flags & F_BIG);
	CHECK_EQ_INT(buf_len(&res.out), 4);
	CHECK(memcmp(buf_data(&res.out), "abcd", 4) == 0);
	buf_free(&res.out);
	run("abcdef\r\n.\r\nX", 12, BIG, 4, 1, 0, &res);
	CHECK_EQ_INT(res.consumed, 11);
	CHECK(res.flags & F_BIG);
	CHECK_EQ_INT(res.size, 8);
	CHECK_EQ_INT(buf_len(&res.out), 4);
	buf_free(&res.out);
}

/* The end marker split across two feeds at every position, after long data. */
static void test_marker_splits(void)
{
	static const char *bodies[] = {"", "x", "line\r\n..dot\r\nend", "\r\n\r\n"};
	char in[256];
	size_t k, n, m;

	for (k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
		n = (size_t)snprintf(in, sizeof(in), "%s%s.\r\nNOOP\r\n", bodies[k],
		                     bodies[k][0] ? "\r\n" : "");
		m = n - 6; /* where NOOP starts */
		/* check() already splits at every position; run explicitly too. */
		check(in, n, BIG, NULL, 0, m, F_DONE, __LINE__);
	}
}

/*
 * Long bodies through the multi-octet fast path: many lines, dots at line
 * starts, tabs and NULs next to line ends, lines around the length limit,
 * each special octet at every offset of an 8-octet word. check() compares
 * the whole feed with the octet-at-a-time one, which never takes the fast
 * path.
 */
static void test_long_bodies(void)
{
	static const char *lines[] = {"abcdefghijklmnopqrstuvwxyz0123456789", "..stuffed", "",
	                              "\ttab\tseparated\t", "x", ".x.", "0123456\r7", "ab\ncd"};
	char in[6000], out[6000];
	size_t n, o, k, line;

	for (k = 0; k < 8; k++) {
		unsigned flags = F_DONE;
		n = o = 0;
		for (line = 0; line < 40; line++) {
			const char *l = lines[(line * 7 + k) % 8];
			size_t ll = strlen(l), pad = (line + k) % 9;
			if (line == 20 && (k == 3 || k == 4)) {
				/* 998 octets + CRLF is the longest line; 999 is too long. */
				size_t len = k == 3 ? 999 : 998;
				memset(in + n, 'L', len);
				memset(out + o, 'L', len);
				memcpy(in + n + len, "\r\n", 2);
				memcpy(out + o + len, "\r\n", 2);
				n += len + 2;
				o += len + 2;
				flags |= k == 3 ? F_LONG : 0;
			}
			memset(in + n, 'p', pad); /* shifts the next special octet */
			memset(out + o, 'p', pad);
			n += pad;
			o += pad;
			if (pad == 0 && l[0] == '.') {
				memcpy(out + o, l + 1, ll - 1); /* unstuffed */
				o += ll - 1;
			} else {
				memcpy(out + o, l, ll);
				o += ll;
			}
			memcpy(in + n, l, ll);
			n += ll;
			memcpy(in + n, "\r\n", 2);
			memcpy(out + o, "\r\n", 2);
			n += 2;
			o += 2;
			if (strchr(l, '\n'))
				flags |= F_LF;
			if (strchr(l, '\r'))
				flags |= F_CR;
		}
		if (k == 5) {
			in[n] = out[o] = '\0';
			memcpy(in + n + 1, "\r\n", 2);
			memcpy(out + o + 1, "\r\n", 2);
			n += 3;
			o += 3;
			flags |= F_NUL;
		}
		memcpy(in + n, ".\r\nQUIT\r\n", 10);
		check(in, n + 10, BIG, out, o, n + 3, flags, __LINE__);
	}
}

int main(void)
{
	test_basic();
	test_stuffing();
	test_smuggling();
	test_flags();
	test_size();
	test_marker_splits();
	test_long_bodies();
	return unit_done("test_smtp_data");
}
