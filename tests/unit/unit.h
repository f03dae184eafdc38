/*
 * unit.h — the smallest test harness that does the job.
 *
 * Each tests/unit/test_*.c is its own program built with ASan and UBSan and
 * linked against every app object except main. CHECK records a failure and
 * goes on so one run shows every broken case; the program exits 1 if any
 * CHECK failed. Use CHECK_EQ_STR/CHECK_EQ_INT for readable failure output.
 */
#ifndef TERN_TESTS_UNIT_H
#define TERN_TESTS_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		unit_checks++;                                                       \
		if (!(cond)) {                                                       \
			unit_failures++;                                             \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		}                                                                    \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                           \
	do {                                                                         \
		long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);        \
		unit_checks++;                                                       \
		if (unit_a_ != unit_b_) {                                            \
			unit_failures++;                                             \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, \
				__LINE__, #a, unit_a_, #b, unit_b_);                 \
		}                                                                    \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                           \
	do {                                                                         \
		const char *unit_a_ = (a), *unit_b_ = (b);                           \
		unit_checks++;                                                       \
		if (!unit_a_ || !unit_b_ || strcmp(unit_a_, unit_b_) != 0) {         \
			unit_failures++;                                             \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #a, unit_a_ ? unit_a_ : "(null)",          \
				unit_b_ ? unit_b_ : "(null)");                       \
		}                                                                    \
	} while (0)

/* Compares a slice with a C string. */
#define CHECK_EQ_SLICE(s, c)                                                         \
	do {                                                                         \
		struct str unit_s_ = (s);                                            \
		const char *unit_c_ = (c);                                           \
		unit_checks++;                                                       \
		if (unit_s_.len != strlen(unit_c_) || memcmp(unit_s_.p, unit_c_, unit_s_.len) != 0) { \
			unit_failures++;                                             \
			fprintf(stderr, "%s:%d: %s == \"%.*s\", expected \"%s\"\n", __FILE__, \
				__LINE__, #s, (int)unit_s_.len, unit_s_.p ? unit_s_.p : "", unit_c_); \
		}                                                                    \
	} while (0)

static inline int unit_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

/* The whole file at path in a malloc'd block, NUL after its *len_r
 * octets; NULL when it cannot be read. */
static inline char *unit_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0, got;

	*len_r = 0;
	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			char *q = realloc(p, cap + 1);
			if (q == NULL) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = q;
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	p[n] = '\0';
	*len_r = n;
	return p;
}

/* Writes data[0..len) to path: 0, or -1. */
static inline int unit_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	if (len > 0 && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

#endif
