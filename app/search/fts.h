/*
 * fts.h — the full-text index's terms: what a message's searchable text
 * is cut into, and what a search string asks of them.
 *
 * Why an index that only narrows. IMAP SEARCH BODY and TEXT are
 * substring tests (RFC 9051 §6.4.4: "abc" matches "xabcx"), and tern
 * keeps them exact: the index never answers a search, it only tells
 * which messages cannot match, so that their text is not read; the
 * others are read and tested by mime_search.h as before. Results are
 * the same with the index and without; only the messages read change.
 *
 * Terms. The folded strings mime_search compares a needle with
 * (mime_search_each_text) are cut into words: runs of octets that are
 * ASCII letters or digits or not ASCII at all (every octet of a
 * multi-octet UTF-8 character is a word octet, so a search never needs
 * to know scripts). A word of FTS_TERM_MIN..FTS_TERM_MAX octets is one
 * term; a longer one becomes the windows of FTS_TERM_MAX octets that
 * start every FTS_TERM_STRIDE octets, the last one ending with the word
 * (so every run of up to FTS_TERM_STRIDE octets inside it lies whole in
 * one window). One-octet words are not kept.
 *
 * Plans. A needle found inside a string has its words inside that
 * string's words: a word with a separator of the needle on both sides
 * is a whole word of the string (FTS_EXACT), one with a separator only
 * before it begins one (FTS_PREFIX), any other is somewhere inside one
 * (FTS_INFIX). fts_plan() turns a needle into such conditions, cut to
 * what the terms can answer (a prefix to FTS_TERM_MAX octets, an infix
 * to FTS_TERM_STRIDE), and leaves out words the terms cannot answer
 * (one octet): a message that matches the needle meets every condition,
 * so the messages that fail one are skipped. No condition at all (an
 * empty needle, only separators or one-octet words): nothing is skipped.
 */
#ifndef TERN_SEARCH_FTS_H
#define TERN_SEARCH_FTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

#define FTS_TERM_MIN 2
#define FTS_TERM_MAX 32
#define FTS_TERM_STRIDE 16
/* Conditions a plan keeps (the first ones of a longer needle). */
#define FTS_PLAN_MAX 8

/* 1 for an octet that belongs to words. */
static inline int fts_word_octet(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Calls term(arg, p, n) for every term of the folded text s[0..len), in
 * order, repeats included. Returns the number of calls.
 */
typedef void fts_term_cb(void *arg, const char *p, size_t n);
size_t fts_terms(const char *s, size_t len, fts_term_cb *term, void *arg);

enum fts_how { FTS_EXACT, FTS_PREFIX, FTS_INFIX };

struct fts_cond {
	enum fts_how how;
	struct str w; /* points into the needle */
};

/* The conditions of the folded needle into out[FTS_PLAN_MAX]; their
 * number (0: none, every message may match). */
size_t fts_plan(struct str needle, struct fts_cond out[FTS_PLAN_MAX]);

/* 1 when the term meets the condition. */
int fts_cond_term(const struct fts_cond *c, const char *term, size_t n);

#endif
