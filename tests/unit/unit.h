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

#endif
