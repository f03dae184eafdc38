/*
 * fuzz_mime_preview.c — previews of arbitrary messages and texts: the
 * message is parsed (mime_tree_parse) and previewed; the input is also
 * reduced as plain text and as HTML. Every result is valid UTF-8 of at
 * most MIME_PREVIEW_CHARS characters with no leading, trailing or double
 * space.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "mime/mime_preview.h"
#include "mime/mime_tree.h"

static void check(const char *out, size_t n)
{
	size_t chars = 0;

	assert(strlen(out) == n && n < MIME_PREVIEW_MAX);
	assert(utf8_valid(str_make(out, n)));
	assert(n == 0 || (out[0] != ' ' && out[n - 1] != ' '));
	assert(!strstr(out, "  "));
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)out[i] & 0xc0) != 0x80;
	assert(chars <= MIME_PREVIEW_CHARS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	char out[MIME_PREVIEW_MAX];
	struct arena *a = arena_new(0);
	struct mime_tree t;

	memcpy(p, data, size);
	check(out, mime_preview_text(p, size, 0, out));
	check(out, mime_preview_text(p, size, 1, out));
	mime_tree_parse(p, size, a, &t);
	check(out, mime_preview(p, size, &t, out));
	arena_free(&a);
	free(p);
	return 0;
}
