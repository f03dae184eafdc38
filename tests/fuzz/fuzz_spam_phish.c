/*
 * fuzz_spam_phish.c — the local lists' feed parsers (spam_feed.h): the
 * phishing feed parser, the key of a URL and the match against the
 * record: the parse gives sorted distinct hashes, each key fits its
 * buffer, has no white space and a lowercase host, and in a feed of URL
 * lines (no CSV header) every line whose first word has a key is listed
 * by the record the parse encodes. The malware list's parser on the same
 * input: sorted distinct entries, at most one per line, and every line
 * that is 64 hex digits alone is listed.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "spam/spam_feed.h"
#include "spam/spam_hashes.h"
#include "spam/spam_phish.h"
#include "spam/spam_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *p = malloc(size ? size : 1);
	memcpy(p, data, size);
	struct spam_feed f;
	spam_phish_parse(p, size, &f);
	for (size_t i = 1; i < f.n; i++)
		assert(f.h[i - 1] < f.h[i]);
	struct buf rec;
	buf_init(&rec, 64u << 20);
	assert(spam_feed_encode(&f, "fuzz", 1, &rec) == 0);
	struct str r = str_make(buf_data(&rec), buf_len(&rec));

	/* Is it a CSV (the parser's own test, done the simple way: a first
	 * line with a comma may be a header; then the invariant is skipped)? */
	int csv = 0;
	size_t pos = size >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
	int first = 1;
	while (pos < size) {
		const char *eol = memchr(p + pos, '\n', size - pos);
		size_t end = eol ? (size_t)(eol - p) : size;
		size_t stop = end > pos && p[end - 1] == '\r' ? end - 1 : end;
		struct str line = str_trim(str_make(p + pos, stop - pos));
		pos = end + 1;
		if (line.len == 0 || line.p[0] == '#')
			continue;
		if (first) {
			first = 0;
			csv = memchr(line.p, ',', line.len) != NULL;
		}
		size_t k = 0;
		while (k < line.len && line.p[k] != ' ' && line.p[k] != '\t')
			k++;
		struct str word = str_make(line.p, k);
		char key[SPAM_PHISH_KEY_MAX];
		size_t n = spam_phish_key(word, key, sizeof key);
		assert(n < sizeof key && strlen(key) == n);
		for (size_t i = 0; i < n; i++)
			assert((unsigned char)key[i] > ' ');
		if (n) { /* the key starts with the URL's host, lowercase */
			char host[SPAM_PHISH_KEY_MAX];
			size_t hn = spam_url_host(word, host, sizeof host);
			assert(hn <= n && memcmp(key, host, hn) == 0);
			for (size_t i = 0; i < hn; i++)
				assert(!(key[i] >= 'A' && key[i] <= 'Z'));
		}
		int hit = spam_phish_listed(r, word);
		if (!csv)
			assert(hit == (n > 0));
	}
	buf_free(&rec);
	spam_feed_free(&f);

	spam_hashes_parse(p, size, &f);
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += p[i] == '\n';
	assert(f.n + f.bad <= lines);
	for (size_t i = 1; i < f.n; i++)
		assert(f.h[i - 1] < f.h[i]);
	buf_init(&rec, 64u << 20);
	assert(spam_feed_encode(&f, "fuzz", 1, &rec) == 0);
	pos = 0;
	while (pos < size) {
		const char *eol = memchr(p + pos, '\n', size - pos);
		size_t end = eol ? (size_t)(eol - p) : size;
		struct str line = str_trim(str_make(p + pos, end - pos));
		pos = end + 1;
		int hex = line.len == 64;
		uint8_t d[32];
		for (size_t i = 0; hex && i < 64; i++)
			hex = (line.p[i] >= '0' && line.p[i] <= '9') || (line.p[i] >= 'a' && line.p[i] <= 'f') ||
			      (line.p[i] >= 'A' && line.p[i] <= 'F');
		if (!hex)
			continue;
		for (int i = 0; i < 32; i++) {
			char b[3] = {line.p[2 * i], line.p[2 * i + 1], 0};
			d[i] = (uint8_t)strtoul(b, NULL, 16);
		}
		assert(f.dropped || spam_hashes_listed(buf_data(&rec), buf_len(&rec), d));
	}
	buf_free(&rec);
	spam_feed_free(&f);
	free(p);
	return 0;
}
