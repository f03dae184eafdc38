/*
 * mime_search.h — text search in one message for IMAP SEARCH (FROM, TO,
 * CC, BCC, SUBJECT, HEADER, BODY, TEXT) and later JMAP Email/query.
 *
 * Design: a struct mime_search holds one message (its bytes and its MIME
 * tree, normally decoded from the cache record) while any number of
 * needles are looked for in it. Matching is a case-insensitive substring
 * test under i;unicode-casemap (RFC 5051, mime_search_fold(), core/unorm.h:
 * "E" finds "é", "2" finds "²", "a" finds "Ａ") on UTF-8 text: header values are unfolded and their RFC 2047 encoded-words
 * decoded; the body is the text of its text/ leaves, transfer-decoded
 * (base64, quoted-printable) and converted to UTF-8 from their charset
 * when mime_decode.h knows it, an HTML leaf reduced to the text a reader
 * sees (mime_html.h; hidden text kept), a format=flowed one with its
 * soft line breaks joined (RFC 3676). The body text is built once, on
 * the first body search, and kept until mime_search_clear().
 *
 * Limits: at most MIME_SEARCH_TEXT_MAX octets of encoded body text are
 * read per message (the first text parts win), so one message costs a
 * bounded amount of work and memory whatever its size. The header
 * section is read up to rfc5322.h's limits.
 *
 * The key is decomposed (NFKD order), so a decomposed "é" finds a
 * precomposed one and the other way round, and "e" finds both.
 *
 * Caveats: parts in unknown charsets are searched as raw octets.
 */
#ifndef TERN_MIME_SEARCH_H
#define TERN_MIME_SEARCH_H

#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"
#include "core/unorm.h"
#include "mime/mime_tree.h"

#define MIME_SEARCH_TEXT_MAX (4u * 1024 * 1024)

struct mime_search {
	const char *msg; /* the message, not owned */
	size_t len;
	const struct mime_tree *t; /* its tree, not owned */
	int body_done;
	struct buf body; /* folded UTF-8 text of the text parts */
	int keep;        /* set before the first body search: text is kept */
	struct buf text; /* body before folding, octet for octet (keep only) */
};

/* Prepares sm for msg[0..len) and its tree t; both must outlive sm's use. */
void mime_search_init(struct mime_search *sm, const char *msg, size_t len,
                      const struct mime_tree *t);
/* Frees what sm built. */
void mime_search_clear(struct mime_search *sm);

/* Folds p[0..n) in place for matching (its i;unicode-casemap key,
 * unorm_casemap(), core/unorm.h) and returns the
 * folded length, which may differ from n: p has room for
 * MIME_SEARCH_FOLD_ROOM(n) octets. Needles must be folded before they are
 * given to the functions below. mime_search_fold_buf() folds a buf's
 * text, growing it (a prefix when its max is reached). */
#define MIME_SEARCH_FOLD_ROOM(n) ((n) * UNORM_KD_GROWTH + 1)
size_t mime_search_fold(char *p, size_t n);
void mime_search_fold_buf(struct buf *b);

/*
 * 1 when a field of the message's header named name (any case; p == NULL:
 * any field of the message's header, of every part's MIME header and of
 * every encapsulated message's header, the field's "Name: " then counting
 * as part of its value, as TEXT needs) has a decoded value containing
 * needle. For From, To, Cc and
 * Bcc each address the ENVELOPE would show is also tried, written as
 * "name <mailbox@host>" (comments and folds inside it gone). An empty
 * needle matches when such a field exists.
 */
int mime_search_header(struct mime_search *sm, struct str name, struct str needle);

/*
 * The same test on one header value already unfolded (an envelope string
 * of the cached structure, mime_tree.h): 1 when its decoded value
 * contains needle; 0 for a field that is absent (p == NULL).
 */
int mime_search_value(struct str unfolded, struct str needle);

/*
 * mime_search_value() in two steps, for a caller that keeps the value it
 * compares (imap_subject_cache.h): the decoded, folded form of unfolded
 * into out (reset first; a prefix when out fills), then the test on it.
 * mime_search_value(v, n) == mime_search_contains(folded v, n) for a
 * present value.
 */
void mime_search_fold_value(struct str unfolded, struct buf *out);
int mime_search_contains(struct str folded, struct str needle);

/* 1 when the decoded body text contains needle (an empty needle always
 * matches). */
int mime_search_body(struct mime_search *sm, struct str needle);

/*
 * Where needle (non-empty, folded) first occurs in the body text at or
 * after offset from, or -1: the match mime_search_body() makes, placed,
 * for a caller that shows it (JMAP SearchSnippet). With keep set before
 * the first body search, mime_search_body_text() is that text unfolded;
 * folding changes lengths ("ß" is "ss"), so an offset in one is not one in
 * the other: unorm_casemap_char_len() walks the unfolded text to it.
 */
long mime_search_body_find(struct mime_search *sm, struct str needle, size_t from);
struct str mime_search_body_text(struct mime_search *sm);

/*
 * Calls visit(arg, folded) with every string a needle is compared with
 * (search/fts.h builds the full-text index from them): each field of
 * every header section TEXT looks at, as "Name: value" decoded and
 * folded, then the body text, then each address of the message's From,
 * To, Cc and Bcc as written back for matching. A needle that
 * mime_search_header() (any name) or mime_search_body() finds is a
 * substring of one of them, or (a named field's value alone) of
 * "Name: value".
 */
typedef void mime_search_visit(void *arg, struct str folded);
void mime_search_each_text(struct mime_search *sm, mime_search_visit *visit, void *arg);

#endif
