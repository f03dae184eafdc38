/*
 * jmap_email_match.h — the content filter conditions of Email/query,
 * shared with SearchSnippet/get (jmap_email_match.c).
 */
#ifndef TERN_JMAP_JMAP_EMAIL_MATCH_H
#define TERN_JMAP_JMAP_EMAIL_MATCH_H

#include <stddef.h>

#include "core/str.h"
#include "http/json.h"
#include "mime/mime_search.h"
#include "mime/mime_tree.h"

struct arena;
struct jmap_call;

/* One email's content while conditions are judged on it. */
struct jmap_content {
	struct arena *a;
	const char *data;
	size_t len;
	struct mime_tree t;
	struct mime_search ms;
};
/* Prepares ct for the email (its cache record and bytes, which must
 * outlive ct's use); keep: the body text is kept unfolded for snippets.
 * jmap_content_close() frees what the search built. */
void jmap_content_open(struct jmap_content *ct, struct arena *a, const void *meta, size_t metalen,
		       const char *data, size_t len, int keep);
void jmap_content_close(struct jmap_content *ct);

/* 1 when key is a condition on content (text, from, ..., hasAttachment). */
int jmap_cond_is_content(const char *key);
/* 1 when filter f (at nesting depth) has such a condition anywhere. */
int jmap_filter_needs_content(const struct json_value *f, int depth);
/*
 * Judges content condition key with value v on ct (NULL: the email's
 * bytes are gone, nothing matches). 1 match, 0 none, -1 a bad value
 * (invalidArguments set on c).
 */
int jmap_cond_content(struct jmap_call *c, const char *key, const struct json_value *v,
		      struct jmap_content *ct);
/* s[0..n) folded for the matcher, copied into a. */
struct str jmap_needle(struct arena *a, const char *s, size_t n);

#endif
