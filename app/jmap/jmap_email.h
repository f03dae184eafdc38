/*
 * jmap_email.h — what the Email methods' files share (jmap_email.c,
 * jmap_email_query.c, jmap_email_set.c): writers of the properties that
 * come from the email record.
 */
#ifndef TERN_JMAP_JMAP_EMAIL_H
#define TERN_JMAP_JMAP_EMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "http/json.h"

/* UTCDate (RFC 8620 §1.4): "2026-11-23T01:02:03Z". */
void jmap_w_utcdate(struct jw *w, int64_t t);
/* {"$seen": true, ...} from the store's space-separated keywords. */
void jmap_w_keywords(struct jw *w, const char *kw, size_t len);
/* {"M00000001": true, ...} from the record's (mailbox, uid) pairs. */
void jmap_w_mailboxes(struct jw *w, const uint8_t *members, size_t n);
/* A blob id: "B" and the 64 hex digits of the content hash. */
void jmap_w_blob(struct jw *w, const uint8_t id[32]);

/* ---- body properties (jmap_email_body.c) ---- */
struct arena;
struct mime_tree;
#define JMAP_BODY_STRUCTURE 1u
#define JMAP_BODY_TEXT 2u
#define JMAP_BODY_HTML 4u
#define JMAP_BODY_ATTACHMENTS 8u
#define JMAP_BODY_VALUES 16u
struct jmap_body_opts {
	int text, html, all; /* fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues */
	uint64_t max;        /* maxBodyValueBytes, 0 = no limit */
};
/* The index of a body part property name (bodyProperties), or -1. */
int jmap_body_props(const char *name);
/* Writes the body properties in want (JMAP_BODY_*) of the email whose
 * bytes are data and tree t; bwant: bodyProperties as a bit set. */
void jmap_email_body(struct jw *w, struct arena *a, const char *data, const struct mime_tree *t,
		     uint32_t email, unsigned want, unsigned bwant, const struct jmap_body_opts *o);

#endif
