/*
 * fuzz_spam_confusable.c — look-alike folding and the parsers next to it:
 * the skeleton of any input is built within its buffer; of UTF-8 input it
 * is UTF-8 and a fixed point; Punycode decoding stays within its output and
 * gives only Unicode scalar values; host decoding and the ZIP name walk
 * stay within their inputs; a display name's key (spam_name_key) is
 * NUL-ended within its size, one space between words, and of UTF-8 the
 * key of the key is the key.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/punycode.h"
#include "core/utf8.h"
#include "spam/spam_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str s = str_make((const char *)data, size);
	struct buf a, b;
	buf_init(&a, 4 * size + 16);
	buf_init(&b, 4 * size + 16);
	if (spam_skeleton(s, &a) == 0 && utf8_valid(s)) {
		/* a skeleton of UTF-8 is UTF-8, and folding it again changes
		 * nothing (the generator checked each code point; this checks
		 * the lookups and the joins) */
		assert(utf8_valid(buf_str(&a)));
		assert(spam_skeleton(buf_str(&a), &b) == 0);
		assert(buf_len(&a) == buf_len(&b) && !memcmp(buf_data(&a), buf_data(&b), buf_len(&a)));
	}
	uint32_t cp[64];
	size_t n = punycode_decode(s, cp, 64);
	assert(n <= 64);
	for (size_t i = 0; i < n; i++)
		assert(cp[i] <= 0x10ffff);
	buf_reset(&a);
	spam_host_unicode(s, &a);
	spam_zip_has_exec(data, size);
	char key[SPAM_NAME_KEY_MAX], again[SPAM_NAME_KEY_MAX];
	if (spam_name_key(s, key) == 0) {
		size_t kl = strnlen(key, sizeof key);
		assert(kl < sizeof key && kl >= 3 && key[0] != ' ' && key[kl - 1] != ' ' &&
		       !strstr(key, "  ") && strchr(key, ' '));
		if (utf8_valid(s)) {
			assert(spam_name_key(str_make(key, kl), again) == 0);
			assert(!strcmp(key, again));
		}
	}
	buf_free(&a);
	buf_free(&b);
	return 0;
}
