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
#include "core/buf.h"
#include "http/json.h"

struct arena;
struct jmap_request;

/* UTCDate (RFC 8620 §1.4): "2026-11-23T01:02:03Z". */
void jmap_w_utcdate(struct jw *w, int64_t t);
/* A UTCDate (RFC 3339, "Z", fractions ignored) to seconds; 0, or -1 when
 * s is not one (jmap_email_query.c). The one check of a UTCDate a client
 * gives: filters, receivedAt, a vacation's dates, a push's expires. */
int jmap_utcdate_parse(const char *s, int64_t *t_r);
struct jmap_call;
/* An Email/query filter (RFC 8621 §4.4.1) checked without an email: 0,
 * or -1 with unsupportedFilter or invalidArguments set on c
 * (jmap_email_query.c; SearchSnippet/get's filter is the same). */
int jmap_email_filter_check(struct jmap_call *c, const struct json_value *filter);

/* Email/parse's rendering of data[0..len) with every property, for the
 * fuzz target (a request of its own, no store): one JSON object to out. */
struct arena;
struct jmap_request;
void jmap_email_parse_write(struct arena *a, const char *data, size_t len, struct buf *out);

/* Email id with the one property prop (a property of Email/get or a
 * header:NAME form) and id, as Email/get writes it, parsed into the
 * request's arena; NULL when there is no such email or property. */
const struct json_value *jmap_email_json(struct jmap_call *c, uint32_t id, const char *prop);

/* ---- a new email into the store (jmap_email_new.c) ---- */
struct store;
struct jmap_new_email {
	const char *data; /* the message, len octets */
	size_t len;
	const uint32_t *mailboxes; /* at least one, existing */
	size_t nmailboxes;
	const char *keywords; /* space-separated, valid; NULL: none */
	int64_t received_at;
	/* out */
	uint32_t email_id, thread_id;
	uint8_t blob_id[32];
};
/*
 * Stores e for account, put there by user actor (the account itself, or
 * a grantee of a shared one: crypt_put_key's rule for sealing), through
 * the store writer as IMAP APPEND does,
 * bare LFs made CRLF (e->len then becomes the size stored), waiting for
 * the commit (call it off the event loops). STORE_OK with the
 * outputs; else STORE_EQUOTA, STORE_ETOOBIG, STORE_EFULL (the server's
 * disk), STORE_ENOTFOUND (a mailbox gone), STORE_EINVAL, STORE_ETEMP.
 */
int jmap_email_store(struct store *st, uint32_t account, uint32_t actor,
		     struct jmap_new_email *e);

/* ---- what Email/import and Email/set create share (jmap_email_import.c) ---- */
struct jmap_call;
struct jmap_mailboxes;
#define JMAP_TARGETS_MAX 64
struct jmap_targets {
	uint32_t mb[JMAP_TARGETS_MAX];
	size_t n;
	struct buf kw; /* space-separated keywords; the caller frees it */
};
/* A new email's mailboxIds (required, at least one, ids or "#cid") and
 * keywords (may be NULL) into t (t->kw always initialised). 0, or -1 with
 * *bad_r the property at fault. */
int jmap_new_targets(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *mbs,
		     const struct json_value *kws, struct jmap_targets *t, const char **bad_r);
/* In a shared account (jmap_share_set.c), why the user may not store a
 * new email in t (the description of a "forbidden"), or NULL: "i" on
 * each mailbox, RFC 4314 §4's APPEND. _keywords_cut drops from t->kw the
 * keywords the rights on all of t's mailboxes do not let the user set
 * (as APPEND drops flags): 1 when it dropped one. */
const char *jmap_share_new_email_refused(const struct jmap_request *r,
					 const struct jmap_targets *t);
int jmap_share_keywords_cut(const struct jmap_request *r, struct jmap_targets *t);
/* 1 when p[0..n) starts with a header field. */
int jmap_looks_like_email(const char *p, size_t n);
/* key: the SetError of jmap_email_store's result rc. */
void jmap_w_store_error(struct jw *w, const char *key, int rc);
/* Email/set create of one Email object em under creation id cid
 * (jmap_email_create.c): created (ok) or a SetError (bad). */
void jmap_email_create(struct jmap_call *c, struct jmap_mailboxes *mbs, const char *cid,
		       const struct json_value *em, struct jw *ok, struct jw *bad);
/* key: {id, blobId, threadId, size} of a stored new email (Email/import's
 * created, RFC 8621 §4.8), and with defaults 1 its receivedAt and with 2
 * its keywords too: Email/set's created names the properties the client
 * left to their defaults (RFC 8620 §5.3). */
#define JMAP_CREATED_RECEIVED_AT 1u
#define JMAP_CREATED_KEYWORDS 2u
void jmap_w_created_email(struct jw *w, const char *key, const struct jmap_new_email *e,
			  unsigned defaults);
/* {"$seen": true, ...} from the store's space-separated keywords. */
void jmap_w_keywords(struct jw *w, const char *kw, size_t len);
/* {"M00000001": true, ...} from the record's (mailbox, uid) pairs: in a
 * shared account those of r's user may read (jmap_share.c). */
struct jmap_request;
void jmap_w_mailboxes(struct jw *w, const struct jmap_request *r, const uint8_t *members,
		      size_t n);
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
/* Writes the value of the last field called name in h in form, or null
 * when there is none (header:NAME:asForm without :all, and the
 * convenience properties of §4.1.3 when a field repeats). */
void jmap_hfield_last_write(struct jw *w, struct arena *a, const struct jmap_hfields *h,
                            const char *name, enum jmap_hform form);
/* Writes "headers": [{name, value}] (raw values). */
void jmap_headers_write(struct jw *w, struct arena *a, const struct jmap_hfields *h);
/* Decoded header text s[0..n) in NFC (RFC 8621 §4.1.2.2's last step;
 * the display names of §4.1.2.3 alike): s itself when it is NFC already,
 * else a copy in a. Its length into *out_n. */
const char *jmap_text_nfc(struct arena *a, const char *s, size_t n, size_t *out_n);
/* A Date value (unfolded) as RFC 8620 Date with the field's own zone;
 * null (and -1) when it is not a date. */
int jmap_w_date(struct jw *w, struct str v);
/* A msg-id list value (raw or unfolded) as asMessageIds (§4.1.2.3): the
 * ids without brackets, every one, or null when the value is not a
 * msg-id list by RFC 5322 (mime_msgid.h). messageId, inReplyTo and
 * references are this form too. */
void jmap_w_msgids(struct jw *w, struct str v);

/* hasAttachment (RFC 8621 §4.1.4) of a message's tree (jmap_email.c). */
struct mime_tree;
int jmap_has_attachment(const struct mime_tree *t);
/* Whether parseStructure's "attachments" holds an item not marked inline
 * (jmap_email_body.c). */
int jmap_body_has_attachment(const struct mime_tree *t);

/* ---- body properties (jmap_email_body.c) ---- */
#define JMAP_BODY_STRUCTURE 1u
#define JMAP_BODY_TEXT 2u
#define JMAP_BODY_HTML 4u
#define JMAP_BODY_ATTACHMENTS 8u
#define JMAP_BODY_VALUES 16u
struct jmap_body_opts {
	int text, html, all; /* fetchTextBodyValues, fetchHTMLBodyValues, fetchAllBodyValues */
	uint64_t max;        /* maxBodyValueBytes, 0 = no limit */
	/* bodyProperties' "header:NAME[:asForm][:all]", read from each
	 * part's own header section (the caller's array). */
	const struct jmap_hprop *hps;
	size_t nhps;
	/* Email/parse: the blob parsed, whose parts' blobIds are
	 * "<blob>_<index>" (jmap_part_read); NULL for a stored email. */
	const char *blob;
};
/* The index of a body part property name (bodyProperties: "headers"
 * included, JMAP_BODY_P_HEADERS), or -1. */
#define JMAP_BODY_P_HEADERS 11
/* bwant's bit for "subParts" named in bodyProperties: a part that is no
 * multipart then says subParts null rather than leaving it out (subParts
 * itself, bit 10, is always on: a multipart in bodyStructure needs it). */
#define JMAP_BODY_P_SUBPARTS_ASKED 12
int jmap_body_props(const char *name);
/* Writes the body properties in want (JMAP_BODY_*) of the email whose
 * bytes are data and tree t; bwant: bodyProperties as a bit set (bit
 * jmap_body_props(name)), o->hps the header:NAME ones. */
void jmap_email_body(struct jw *w, struct arena *a, const char *data, const struct mime_tree *t,
		     uint32_t email, unsigned want, unsigned bwant, const struct jmap_body_opts *o);

#endif
