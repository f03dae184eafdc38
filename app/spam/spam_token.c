/*
 * spam_token.c — the classifier's features (spam_private.h): words of
 * the subject and text, sparse bigrams, header and metadata tokens, each
 * a 64-bit hash.
 *
 * Words: runs of letters, digits and octets of UTF-8 sequences, with
 * '$', '\'', '-', '.', '@' and '_' allowed inside (prices, contractions,
 * host names and addresses stay one word); ASCII lowercased; 2..40
 * octets (a longer run gives one "long word" token of its first octet
 * and length band, as SpamBayes does). The word splitter is incremental
 * (spam_words_feed) so any chunking gives the same words.
 *
 * Sparse bigrams (orthogonal sparse bigrams, as Rspamd's OSB): each word
 * paired with each of the SPAM_OSB_WINDOW - 1 words before it, the
 * distance part of the hash, so "click here" and "click ... here" are
 * different features and word order carries weight. Subject words are
 * their own tokens and pairs.
 *
 * Header and metadata tokens: the names of the fields present (some
 * mailers are recognisable by which they send), the words of a few fields
 * whose values identify software or structure (X-Mailer, User-Agent,
 * Content-Type, Precedence, List-Id ...), the sender's domain, the URLs'
 * hosts and their bases, attachment types, and bands of size, HTML share,
 * image count and hidden text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "mime/rfc5322.h"
#include "spam/spam_private.h"

#define SPAM_OSB_WINDOW 4

uint64_t spam_hash(const void *p, size_t n, uint64_t seed)
{
	/* FNV-1a 64 with a final avalanche (splitmix64's): cheap and spreads
	 * short inputs well enough for a 64-bit hash table key */
	const unsigned char *s = p;
	uint64_t h = 14695981039346656037ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static int word_octet(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c >= 0x80 || c == '$' || c == '\'' || c == '-' || c == '.' || c == '@' || c == '_';
}

/* Inner punctuation: allowed inside a word, stripped at its ends. */
static int inner_only(unsigned char c)
{
	return c == '\'' || c == '-' || c == '.' || c == '@' || c == '_';
}

void spam_words_init(struct spam_words *t, spam_word_fn *fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->len = 0;
	t->skip = 0;
}

static void word_end(struct spam_words *t)
{
	if (t->skip) {
		char lw[16];
		int n = snprintf(lw, sizeof lw, "\x01long%c%u", t->w[0], (unsigned)(t->skip / 10));
		t->fn(t->arg, lw, (size_t)n);
		t->skip = 0;
		t->len = 0;
		return;
	}
	size_t s = 0, e = t->len;
	while (s < e && inner_only((unsigned char)t->w[s]))
		s++;
	while (e > s && inner_only((unsigned char)t->w[e - 1]))
		e--;
	if (e - s >= 2)
		t->fn(t->arg, t->w + s, e - s);
	t->len = 0;
}

void spam_words_feed(struct spam_words *t, const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (!word_octet(c)) {
			if (t->len || t->skip)
				word_end(t);
			continue;
		}
		if (t->skip) {
			t->skip++;
			continue;
		}
		if (t->len == 40) { /* too long to be a word: count it */
			t->skip = 41;
			continue;
		}
		t->w[t->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
}

void spam_words_finish(struct spam_words *t)
{
	if (t->len || t->skip)
		word_end(t);
}

struct tok_acc {
	uint64_t *out;
	size_t n, max;
	uint64_t prev[SPAM_OSB_WINDOW - 1]; /* hashes of the words before */
	unsigned nprev;
	uint64_t seed; /* subject and body words differ */
	int pairs;     /* sparse bigrams too */
};

static void emit(struct tok_acc *a, uint64_t h)
{
	if (a->n < a->max)
		a->out[a->n++] = h;
}

static void on_word(void *arg, const char *w, size_t n)
{
	struct tok_acc *a = arg;
	uint64_t h = spam_hash(w, n, a->seed);
	emit(a, h);
	if (!a->pairs)
		return;
	for (unsigned d = 0; d < a->nprev; d++)
		emit(a, (a->prev[d] * 0x9e3779b97f4a7c15ull + h) ^ (0x51ull + d));
	memmove(a->prev + 1, a->prev, sizeof a->prev - sizeof a->prev[0]);
	a->prev[0] = h;
	if (a->nprev < SPAM_OSB_WINDOW - 1)
		a->nprev++;
}

static void words_of(struct tok_acc *a, struct str s, uint64_t seed, int pairs)
{
	struct spam_words t;
	a->seed = seed;
	a->pairs = pairs;
	a->nprev = 0;
	spam_words_init(&t, on_word, a);
	spam_words_feed(&t, s.p, s.len);
	spam_words_finish(&t);
}

static void tok_str(struct tok_acc *a, const char *kind, struct str v)
{
	char b[300];
	size_t k = strlen(kind);
	size_t n = v.len > sizeof b - k ? sizeof b - k : v.len;
	memcpy(b, kind, k);
	for (size_t i = 0; i < n; i++) {
		char c = v.p[i];
		b[k + i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	emit(a, spam_hash(b, k + n, 7));
}

static unsigned band(uint64_t v)
{
	unsigned b = 0;
	while (v > 1 && b < 40) {
		v >>= 1;
		b++;
	}
	return b;
}

/* Fields whose values' words are features (software and structure). */
static const char *const value_fields[] = {
    "x-mailer", "user-agent", "content-type", "precedence", "list-id", "x-priority",
    "x-msmail-priority", "importance", "mime-version", "content-transfer-encoding",
    "organization", "x-originating-ip", "errors-to", "list-unsubscribe",
};

static void header_tokens(struct tok_acc *a, const struct spam_msg *m)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;
	char name[64];
	rfc5322_init(&p);
	while (rfc5322_parse(&p, m->hdr + off, m->hdr_len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (!f.name.len || f.name.len >= sizeof name)
			continue;
		str_lower_into(f.name, name, sizeof name);
		/* every field's name; values only of the fields below (Received
		 * values say which hops mail came through, not what it is) */
		tok_str(a, "\x02h:", f.name);
		for (size_t i = 0; i < sizeof value_fields / sizeof value_fields[0]; i++) {
			if (strcmp(name, value_fields[i]))
				continue;
			struct str v = f.value;
			if (v.len > 512)
				v.len = 512;
			words_of(a, v, spam_hash(name, strlen(name), 3), 0);
		}
	}
	rfc5322_clear(&p);
}

/* Sorts v[0..n) ascending: LSD radix, 8 passes of a byte, O(n) whatever
 * the input. qsort (musl's smoothsort, swapping through memcpy) was half
 * of `tern spam test`'s CPU time. */
static void sort_u64(uint64_t *v, size_t n)
{
	uint64_t *tmp = xmalloc((n ? n : 1) * sizeof *tmp), *src = v, *dst = tmp;
	for (unsigned shift = 0; shift < 64; shift += 8) {
		size_t count[257] = {0};
		for (size_t i = 0; i < n; i++)
			count[((src[i] >> shift) & 0xff) + 1]++;
		if (count[((src[0] >> shift) & 0xff) + 1] == n)
			continue; /* every key has this byte: nothing moves */
		for (unsigned b = 1; b < 257; b++)
			count[b] += count[b - 1];
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
	free(tmp);
}

size_t spam_tokens(const struct spam_msg *m, uint64_t *out, size_t max)
{
	struct tok_acc a = {.out = out, .max = max};
	char b[64];

	words_of(&a, m->subject, 11, 1);
	words_of(&a, m->text, 0, 1);
	if (m->hidden.len)
		words_of(&a, m->hidden, 13, 1);
	header_tokens(&a, m);
	if (m->from_domain.len)
		tok_str(&a, "\x03from:", m->from_domain);
	if (m->reply_to_domain.len)
		tok_str(&a, "\x03rt:", m->reply_to_domain);
	for (uint32_t i = 0; i < m->nurls; i++) {
		tok_str(&a, "\x03u:", m->urls[i].host);
		tok_str(&a, "\x03ub:", spam_domain_base(m->urls[i].host));
	}
	for (uint32_t i = 0; i < m->nattach; i++)
		tok_str(&a, "\x03at:", m->attach[i].type);
	int n = snprintf(b, sizeof b, "\x04size%u html%u img%u hid%u urls%u flags%u",
	                 band(m->size), band(m->html_len), band(m->nimages), band(m->hidden.len),
	                 band(m->nurls), m->flags & (SPAM_MSG_HTML | SPAM_MSG_PLAIN));
	tok_str(&a, "", str_make(b, (size_t)n));

	if (a.n)
		sort_u64(out, a.n);
	size_t u = 0;
	for (size_t i = 0; i < a.n; i++)
		if (u == 0 || out[u - 1] != out[i])
			out[u++] = out[i];
	return u;
}
