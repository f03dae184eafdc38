/*
 * fuzz_spam_html.c — the spam filter's HTML reducer: the input reduced
 * whole and in two chunks split where its first octet says must give the
 * same text, hidden text and URLs; then the input as a whole message
 * goes through spam_msg_new.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_private.h"

struct acc {
	struct buf b;
};

static void url(void *arg, struct str u, struct str text, uint32_t flags)
{
	struct acc *a = arg;
	buf_append(&a->b, u.p, u.len);
	buf_append(&a->b, "|", 1);
	buf_append(&a->b, text.p ? text.p : "", text.len);
	buf_printf(&a->b, "|%u\n", flags);
}

static void reduce(const char *p, size_t n, size_t split, struct buf *t, struct buf *h,
                   struct acc *a)
{
	struct mime_html sh;
	buf_init(t, 1 << 16);
	buf_init(h, 1 << 16);
	buf_init(&a->b, 1 << 20);
	mime_html_init(&sh, t, h, url, a);
	mime_html_feed(&sh, p, split);
	mime_html_feed(&sh, p + split, n - split);
	mime_html_finish(&sh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	size_t split = size ? (size_t)data[0] % (size + 1) : 0;
	struct buf t1, h1, t2, h2;
	struct acc a1, a2;
	reduce(p, size, size, &t1, &h1, &a1);
	reduce(p, size, split, &t2, &h2, &a2);
	assert(buf_len(&t1) == buf_len(&t2) && !memcmp(buf_data(&t1), buf_data(&t2), buf_len(&t1)));
	assert(buf_len(&h1) == buf_len(&h2) && !memcmp(buf_data(&h1), buf_data(&h2), buf_len(&h1)));
	assert(buf_len(&a1.b) == buf_len(&a2.b) &&
	       !memcmp(buf_data(&a1.b), buf_data(&a2.b), buf_len(&a1.b)));
	buf_free(&t1), buf_free(&h1), buf_free(&t2), buf_free(&h2);
	buf_free(&a1.b), buf_free(&a2.b);

	struct spam_msg *m;
	spam_msg_new(p, size, &m);
	assert(m->nurls <= SPAM_URLS_MAX && m->text.len <= SPAM_TEXT_MAX);
	for (uint32_t i = 0; i < m->nurls; i++)
		assert(m->urls[i].host.len < 256);
	spam_msg_free(&m);
	free(p);
	return 0;
}
