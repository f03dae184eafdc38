/*
 * fuzz_spam_grams.c — the byte-gram regression's lessons record reader
 * (spam_grams.c): any bytes as a stored record decode to some lessons
 * (a damaged record keeps those before the damage) without reading past
 * the end; re-encoding what was read keeps every lesson, and doing it
 * again changes nothing. The input is also scored as a weights record,
 * which is refused unless it has the exact size.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t s0, h0, s1, h1, s2, h2;
	spam_grams_lessons_count(data, size, &s0, &h0);
	assert((uint64_t)s0 + h0 <= size / 11);

	struct buf a, b;
	buf_init(&a, (size_t)32 << 20);
	buf_init(&b, (size_t)32 << 20);
	assert(spam_grams_lessons_edit(data, size, NULL, 0, 1, &a) == 0);
	spam_grams_lessons_count(buf_data(&a), buf_len(&a), &s1, &h1);
	assert(s1 == s0 && h1 == h0);
	assert(spam_grams_lessons_edit(buf_data(&a), buf_len(&a), NULL, 0, 1, &b) == 0);
	spam_grams_lessons_count(buf_data(&b), buf_len(&b), &s2, &h2);
	assert(buf_len(&a) == buf_len(&b) && !memcmp(buf_data(&a), buf_data(&b), buf_len(&a)));
	assert(s2 == s0 && h2 == h0);
	buf_free(&a);
	buf_free(&b);

	uint32_t g[3] = {1, 2, 3};
	double z;
	assert(spam_grams_score(str_make((const char *)data, size), g, 3, &z) == -1 ||
	       size == 16 + ((size_t)4 << SPAM_GRAM_BITS));
	return 0;
}
