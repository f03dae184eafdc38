/*
 * jmap_email.h — what the Email methods' files share (jmap_email.c,
 * jmap_email_query.c, jmap_email_set.c): writers of the properties that
 * come from the email record.
 */
#ifndef TERN_JMAP_JMAP_EMAIL_H
#define TERN_JMAP_JMAP_EMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"
#include "http/json.h"

struct arena;

/* UTCDate (RFC 8620 §1.4): "2026-11-23T01:02:03Z". */
void jmap_w_utcdate(struct jw *w, int64_t t);
/* {"$seen": true, ...} from the store's space-separated keywords. */
void jmap_w_keywords(struct jw *w, const char *kw, size_t len);
/* {"M00000001": true, ...} from the record's (mailbox, uid) pairs. */
void jmap_w_mailboxes(struct jw *w, const uint8_t *members, size_t n);
/* A blob id: "B" and the 64 hex digits of the content hash. */
void jmap_w_blob(struct jw *w, const uint8_t id[32]);

/* ---- header properties (jmap_email_header.c, RFC 8621 §4.1.2-4.1.3) ---- */
enum jmap_hform { JH_RAW, JH_TEXT, JH_ADDRESSES, JH_GROUPED, JH_MSGIDS, JH_DATE, JH_URLS,
		  JH_NFORMS };
/* One "header:NAME[:asForm][:all]" property asked for. */
struct jmap_hprop {
	const char *prop; /* as the client wrote it (the response's key) */
	const char *name; /* the field name */
	enum jmap_hform form;
	int all;
};
/* Parses prop into hp (name copied into a): 0, or -1 when it is not a
 * header property, its form is unknown or not allowed for the field. */
int jmap_hprop_parse(struct arena *a, const char *prop, struct jmap_hprop *hp);
/* The message's header fields in order, copied into a. */
struct jmap_hfield {
	struct str name, value; /* value raw: folds kept */
};
struct jmap_hfields {
	struct jmap_hfield *v;
	size_t n;
};
void jmap_hfields_read(struct arena *a, const char *data, size_t len, struct jmap_hfields *h);
/* Writes hp's key and value from h. */
void jmap_hprop_write(struct jw *w, struct arena *a, const struct jmap_hfields *h,
		      const struct jmap_hprop *hp);
/* Writes "headers": [{name, value}] (raw values). */
void jmap_headers_write(struct jw *w, struct arena *a, const struct jmap_hfields *h);
/* A Date value (unfolded) as RFC 8620 Date with the field's own zone;
 * null (and -1) when it is not a date. */
int jmap_w_date(struct jw *w, struct str v);

/* ---- body properties (jmap_email_body.c) ---- */
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
