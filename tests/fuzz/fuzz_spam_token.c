/*
 * fuzz_spam_token.c — the spam classifier's tokenizer: the word splitter
 * fed whole and one byte at a time gives the same words, each 2..40
 * octets (or a long-word token); the input as a message gives sorted,
 * unique token hashes within the bound, and unique byte grams
 * (spam_grams) within theirs; the view of it in an SMTP transaction
 * (spam_msg_new_delivered) reads as the stored copy, the Return-Path
 * field before it.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spam/spam_private.h"

static void word(void *arg, const char *w, size_t n)
{
	struct buf *b = arg;
	assert(n >= 2 && (n <= 40 || w[0] == '\x01'));
	buf_append(b, w, n);
	buf_append(b, "\n", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct buf a, b;
	struct spam_words t;
	buf_init(&a, 1 << 20);
	buf_init(&b, 1 << 20);
	spam_words_init(&t, word, &a);
	spam_words_feed(&t, p, size);
	spam_words_finish(&t);
	spam_words_init(&t, word, &b);
	for (size_t i = 0; i < size; i++)
		spam_words_feed(&t, p + i, 1);
	spam_words_finish(&t);
	assert(buf_len(&a) == buf_len(&b) && !memcmp(buf_data(&a), buf_data(&b), buf_len(&a)));
	buf_free(&a);
	buf_free(&b);

	struct spam_msg *m;
	static uint64_t tok[SPAM_TOKENS_MAX];
	spam_msg_new(p, size, &m);
	size_t n = spam_tokens(m, tok, SPAM_TOKENS_MAX);
	assert(n <= SPAM_TOKENS_MAX);
	for (size_t i = 1; i < n; i++)
		assert(tok[i - 1] < tok[i]);
	spam_fuzzy_hash(m);
	static uint32_t g[SPAM_GRAM_TEXT];
	n = spam_grams(m, g);
	assert(n <= SPAM_GRAM_TEXT);
	static uint8_t seen[1u << SPAM_GRAM_BITS];
	for (size_t i = 0; i < n; i++) {
		assert(g[i] < (1u << SPAM_GRAM_BITS) && !seen[g[i]]);
		seen[g[i]] = 1;
	}
	for (size_t i = 0; i < n; i++)
		seen[g[i]] = 0;
	spam_msg_free(&m);

	/* the delivered view against the stored copy's, both as scored */
	static const char rp[] = "Return-Path: <a@b.example>\r\n";
	char *copy = malloc(sizeof rp - 1 + size + 1);
	memcpy(copy, rp, sizeof rp - 1);
	if (size)
		memcpy(copy + sizeof rp - 1, p, size);
	static uint64_t tok2[SPAM_TOKENS_MAX];
	static uint32_t g2[SPAM_GRAM_TEXT];
	struct spam_msg *d, *c;
	spam_msg_new_delivered("a@b.example", p, size, SPAM_VIEW_DIGESTS, &d);
	spam_msg_new_opts(copy, sizeof rp - 1 + size, SPAM_VIEW_DIGESTS, &c);
	assert(d->size == c->size && d->flags == c->flags && d->nattach == c->nattach);
	for (uint32_t i = 0; i < d->nattach; i++) /* the same attachments, hashed alike */
		assert(d->attach[i].flags == c->attach[i].flags &&
		       !memcmp(d->attach[i].sha256, c->attach[i].sha256, 32));
	n = spam_tokens(d, tok, SPAM_TOKENS_MAX);
	assert(spam_tokens(c, tok2, SPAM_TOKENS_MAX) == n && !memcmp(tok, tok2, n * sizeof *tok));
	n = spam_grams(d, g);
	assert(spam_grams(c, g2) == n && !memcmp(g, g2, n * sizeof *g));
	spam_msg_free(&d);
	spam_msg_free(&c);
	free(copy);
	return 0;
}
