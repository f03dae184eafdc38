/*
 * fuzz_mime_search.c — IMAP SEARCH's text matching on arbitrary messages
 * (mime_search.h). The first two octets place a needle; the rest is the
 * message, parsed with mime_tree_parse(). Checks: an empty
 * needle matches any body, and any header exactly when the header has a
 * field; any piece of the body text built for the search is found in it;
 * a header field's value, unfolded and decoded, contains any piece of
 * itself (mime_search_header() by name); and mime_search_value() gives
 * what decoding, folding and memmem() give, on the short path (at most
 * 512 octets, no encoded-word) as on the long one.
 *
 * Folding is not idempotent, and nothing here asks it to be: RFC 5051
 * titlecases a character and then decomposes it, and what the
 * decomposition gives is not titlecased again, so U+03B0 keys as a small
 * upsilon and two marks, which a second fold capitalises (test_unorm's
 * "ǅ" is the RFC's own example). Needle and text are each folded once.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"
#include "mime/rfc5322.h"

/* What mime_search_value() should say, the long way. */
static int ref_value(struct str v, struct str needle)
{
	struct buf d;
	int hit;

	if (needle.len == 0)
		return 1;
	buf_init(&d, 256 * 1024);
	rfc5322_decode_words(v, &d);
	mime_search_fold_buf(&d);
	hit = memmem(buf_data(&d), buf_len(&d), needle.p, needle.len) != NULL;
	buf_free(&d);
	return hit;
}

/* s folded, then cut to [off % len, +k) (malloc'ed; *n_r its length). Cutting
 * first could split a UTF-8 sequence that folding the whole would change. */
static char *piece(struct str s, size_t off, size_t k, size_t *n_r)
{
	char *f = malloc(MIME_SEARCH_FOLD_ROOM(s.len));
	memcpy(f, s.p, s.len);
	size_t fl = mime_search_fold(f, s.len);
	size_t o = fl ? off % fl : 0;
	size_t n = k < fl - o ? k : fl - o;
	char *p = malloc(n + 1);
	memcpy(p, f + o, n);
	free(f);
	*n_r = n;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct mime_tree t;
	struct mime_search sm;
	size_t off, k, n;
	char *msg, *nd;

	if (size < 2)
		return 0;
	off = data[0];
	k = (size_t)(data[1] & 31) + 1;
	size -= 2;
	msg = malloc(size ? size : 1);
	memcpy(msg, data + 2, size);
	struct str whole = str_make(msg, size);

	a = arena_new(0);
	mime_tree_parse(msg, size, a, &t);
	mime_search_init(&sm, msg, size, &t);

	/* Body: the empty needle, then pieces of the text it searches. */
	assert(mime_search_body(&sm, STR_NULL) == 1);
	nd = piece(whole, off, k, &n);
	int hit = mime_search_body(&sm, str_make(nd, n));
	free(nd);
	assert(sm.body_done == (n > 0));
	if (buf_len(&sm.body)) {
		struct str body = buf_str(&sm.body);
		size_t o = off * 31 % body.len, m = k < body.len - o ? k : body.len - o;
		assert(mime_search_body(&sm, str_make(body.p + o, m)) == 1);
		assert(mime_search_body(&sm, body) == 1);
	}
	(void)hit;

	/* Header: fields by name, each containing pieces of itself. */
	struct rfc5322_parser hp;
	struct rfc5322_field f;
	size_t pos = 0, used, fields = 0;
	rfc5322_init(&hp);
	while (fields < 8 &&
	       rfc5322_parse(&hp, msg + pos, size - pos, 1, &used, &f) == RFC5322_FIELD) {
		pos += used;
		fields++;
		char *un = malloc(f.value.len + 1);
		size_t un_len = rfc5322_unfold(f.value, un);
		struct buf d;
		buf_init(&d, 256 * 1024);
		rfc5322_decode_words(str_make(un, un_len), &d);
		if (buf_len(&d)) {
			nd = piece(buf_str(&d), off + fields, k, &n);
			assert(mime_search_header(&sm, f.name, str_make(nd, n)) == 1);
			assert(mime_search_header(&sm, STR_NULL, str_make(nd, n)) == 1);
			assert(mime_search_value(str_make(un, un_len), str_make(nd, n)) == 1);
			free(nd);
		}
		assert(mime_search_header(&sm, f.name, STR_NULL) == 1);
		buf_free(&d);
		free(un);
	}
	rfc5322_clear(&hp);
	assert(mime_search_header(&sm, STR_NULL, STR_NULL) == (fields > 0));

	/* The value search's two paths against the reference. */
	struct str vals[] = { whole, str_make(msg, size < 512 ? size : 512),
			      str_make(msg, size < 100 ? size : 100) };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		nd = piece(whole, off + i, k, &n);
		assert(mime_search_value(vals[i], str_make(nd, n)) ==
		       ref_value(vals[i], str_make(nd, n)));
		free(nd);
	}
	assert(mime_search_value(STR_NULL, STR_LIT("x")) == 0);

	mime_search_clear(&sm);
	arena_free(&a);
	free(msg);
	return 0;
}
