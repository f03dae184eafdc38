/*
 * jmap_email_import.c — Email/import (RFC 8621 §4.8): messages from blobs
 * (an upload, or an Email's bytes) into the store, each into its
 * mailboxIds with its keywords and receivedAt (by default the date of the
 * topmost Received field, RFC 8621 §4.8), through jmap_email_store
 * (the writer, as IMAP APPEND). Also the checks Email/set create shares:
 * mailboxIds and keywords of a new email (jmap_new_targets).
 *
 * SetErrors: invalidProperties (naming every bad property, an unknown
 * blobId among them, as §4.8 has it), invalidEmail (the blob does not
 * start with a header field), overQuota, tooLarge (over the account's
 * whole quota), and serverFail for a store error.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_mailbox.h"
#include "jmap/jmap_private.h"
#include "mime/mime_date.h"
#include "mime/rfc5322.h"
#include "store/store.h"

int jmap_new_targets(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *mbs,
		     const struct json_value *kws, struct jmap_targets *t, const char **bad_r)
{
	t->n = 0;
	buf_init(&t->kw, 64 * 1024);
	if (!mbs || mbs->type != JSON_OBJECT || !mbs->first) {
		*bad_r = "mailboxIds";
		return -1;
	}
	for (const struct json_value *y = mbs->first; y; y = y->next) {
		const char *id = jmap_id_ref(c->r, y->key);
		struct jmap_mailbox *b = id ? jmap_mailbox_by_id(m, jmap_id_num(id, 'M')) : NULL;
		/* In a shared account one the user does not see is none. */
		if (b && !(jmap_rights(c->r, b->id) & STORE_ACL_L))
			b = NULL;
		if (y->type != JSON_BOOL || !y->boolean || !b || t->n == JMAP_TARGETS_MAX) {
			*bad_r = "mailboxIds";
			return -1;
		}
		int dup = 0;
		for (size_t i = 0; i < t->n; i++)
			dup |= t->mb[i] == b->id;
		if (!dup)
			t->mb[t->n++] = b->id;
	}
	if (kws && kws->type != JSON_OBJECT) {
		*bad_r = "keywords";
		return -1;
	}
	for (const struct json_value *y = kws ? kws->first : NULL; y; y = y->next) {
		if (y->type != JSON_BOOL || !y->boolean || !store_keyword_valid(y->key, strlen(y->key)) ||
		    !strcasecmp(y->key, "$deleted") ||
		    buf_printf(&t->kw, "%s%s", buf_len(&t->kw) ? " " : "", y->key) < 0) {
			*bad_r = "keywords";
			return -1;
		}
	}
	return 0;
}

/* A message starts with a header field ("name:"), as RFC 5322 has it. */
int jmap_looks_like_email(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] != ':') {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 33 || ch > 126)
			return 0;
		i++;
	}
	return i > 0 && i < n;
}

/* The SetError of a failed jmap_email_store. */
void jmap_w_store_error(struct jw *w, const char *key, int rc)
{
	switch (rc) {
	case STORE_EQUOTA:
		jmap_w_set_error(w, key, "overQuota", "the account's quota is exceeded", NULL);
		break;
	case STORE_ETOOBIG:
		jmap_w_set_error(w, key, "tooLarge",
				 "larger than the server's message size limit or the account's quota",
				 NULL);
		break;
	case STORE_EFULL:
		jmap_w_set_error(w, key, "overQuota", "the server's storage is full", NULL);
		break;
	case STORE_ENOTFOUND:
		jmap_w_set_error(w, key, "invalidProperties", "a mailbox is gone", "mailboxIds");
		break;
	case STORE_EINVAL:
		jmap_w_set_error(w, key, "invalidProperties", "too many keywords", "keywords");
		break;
	default:
		jmap_w_set_error(w, key, "serverFail", "the store failed, try again", NULL);
		break;
	}
}

/* Writes the created Email's short form: id, blobId, threadId, size, and
 * the defaults asked for. */
void jmap_w_created_email(struct jw *w, const char *key, const struct jmap_new_email *e,
			  unsigned defaults)
{
	jw_key(w, key);
	jw_obj_begin(w);
	jw_key(w, "id");
	jmap_w_id(w, 'E', e->email_id);
	jw_key(w, "blobId");
	jmap_w_blob(w, e->blob_id);
	jw_key(w, "threadId");
	jmap_w_id(w, 'T', e->thread_id);
	jw_kuint(w, "size", e->len);
	if (defaults & JMAP_CREATED_RECEIVED_AT) {
		jw_key(w, "receivedAt");
		jmap_w_utcdate(w, e->received_at);
	}
	if (defaults & JMAP_CREATED_KEYWORDS) {
		jw_key(w, "keywords");
		jmap_w_keywords(w, e->keywords ? e->keywords : "", e->keywords ? strlen(e->keywords) : 0);
	}
	jw_obj_end(w);
}

static const struct jmap_arg import_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ifInState", JA_STRING, JA_NULLABLE},
    {"emails", JA_IDMAP, JA_REQUIRED},
};

/* The date of msg's most recent (topmost) Received field, the date-time
 * after its last ";" (RFC 5321 §4.4; an earlier ";" when the last one is
 * inside a comment after the date), into *t_r: RFC 8621 §4.8's default
 * receivedAt. Leaves *t_r alone (the time of the import) when there is no
 * Received field or its date does not parse. */
static void received_at_default(const char *msg, size_t len, int64_t *t_r)
{
	struct rfc5322_parser p;
	struct rfc5322_field f;
	size_t off = 0, used;

	rfc5322_init(&p);
	while (rfc5322_parse(&p, msg + off, len - off, 1, &used, &f) == RFC5322_FIELD) {
		off += used;
		if (!str_eq_ci_c(f.name, "Received"))
			continue;
		size_t n = f.value.len;
		const char *semi;
		int64_t t;
		while ((semi = memrchr(f.value.p, ';', n)) != NULL) {
			n = (size_t)(semi - f.value.p);
			if (mime_date_parse(str_make(semi + 1, f.value.len - n - 1), &t, NULL) == 0) {
				*t_r = t;
				break;
			}
		}
		break;
	}
	rfc5322_clear(&p);
}

/* One EmailImport object: created or not, written to ok or bad. */
static void import_one(struct jmap_call *c, struct jmap_mailboxes *m, const struct json_value *o,
		       struct jw *ok, struct jw *bad)
{
	struct jmap_targets t;
	const char *badp = NULL;
	const struct json_value *blob = NULL, *mbs = NULL, *kws = NULL, *recv = NULL;
	int64_t at = (int64_t)time(NULL);
	uint8_t id[32];

	if (o->type != JSON_OBJECT) {
		jmap_w_set_error(bad, o->key, "invalidProperties", "an EmailImport object", NULL);
		return;
	}
	/* Every bad property is named, not only the first (RFC 8620 §5.3). */
	struct jmap_bad bp = {.a = c->r->a};
	for (const struct json_value *x = o->first; x; x = x->next) {
		if (!strcmp(x->key, "blobId"))
			blob = x;
		else if (!strcmp(x->key, "mailboxIds"))
			mbs = x;
		else if (!strcmp(x->key, "keywords"))
			kws = x->type == JSON_NULL ? NULL : x;
		else if (!strcmp(x->key, "receivedAt"))
			recv = x->type == JSON_NULL ? NULL : x;
		else
			jmap_bad_member(&bp, x->key, "unknown property");
	}
	const char *bid = blob && blob->type == JSON_STRING ? blob->str : NULL;
	if (bid)
		bid = jmap_id_ref(c->r, bid);
	if (!blob || blob->type != JSON_STRING)
		jmap_bad_add(&bp, "blobId", "blobId is required");
	if (recv && (recv->type != JSON_STRING || jmap_utcdate_parse(recv->str, &at) < 0))
		jmap_bad_add(&bp, "receivedAt", "receivedAt is a UTCDate");
	/* A blobId naming no blob is an invalid property like a missing one
	 * (RFC 8621 §4.8: "id not found" is invalidProperties, not Email/set's
	 * blobNotFound), named along with the others. */
	struct jmap_bytes b = {0};
	int temp = 0, found = 0;
	if (blob && blob->type == JSON_STRING) {
		found = bid && jmap_blob_parse(bid, id) == 0 &&
			jmap_share_bytes_get(c->r, id, &b, &temp) == 0;
		if (!found && !temp)
			jmap_bad_add(&bp, "blobId", "no such blob");
	}
	if (jmap_new_targets(c, m, mbs, kws, &t, &badp) < 0)
		jmap_bad_add(&bp, badp, "mailboxIds or keywords as RFC 8621 §4.1.1 has them");
	const char *why = bp.n ? NULL : jmap_share_new_email_refused(c->r, &t);
	if (why) {
		jmap_w_set_error(bad, o->key, "forbidden", why, NULL);
		jmap_bytes_free(&b);
		buf_free(&t.kw);
		return;
	}
	int cut = bp.n ? 0 : jmap_share_keywords_cut(c->r, &t);
	if (bp.n || !found) {
		if (bp.n)
			jmap_w_set_error_bad(bad, o->key, &bp);
		else
			jmap_w_set_error(bad, o->key, "serverFail", "the store failed, try again", NULL);
		jmap_bytes_free(&b);
		buf_free(&t.kw);
		return;
	}
	if (!jmap_looks_like_email(b.p, b.len)) {
		jmap_w_set_error(bad, o->key, "invalidEmail", "the blob is not a message", NULL);
	} else {
		if (!recv)
			received_at_default(b.p, b.len, &at);
		struct jmap_new_email e = {
			.data = b.p, .len = b.len, .mailboxes = t.mb, .nmailboxes = t.n,
			.keywords = buf_len(&t.kw) ? buf_data(&t.kw) : NULL, .received_at = at,
		};
		int rc = jmap_email_store(c->r->st, c->r->account, c->r->user, &e);
		if (rc == STORE_OK) {
			/* Keywords the rights cut: told (RFC 8620 §5.3). */
			jmap_w_created_email(ok, o->key, &e, cut ? JMAP_CREATED_KEYWORDS : 0);
			char eid[16];
			snprintf(eid, sizeof eid, "E%08x", e.email_id);
			jmap_created_put(c->r, o->key, eid);
		} else {
			jmap_w_store_error(bad, o->key, rc);
		}
	}
	jmap_bytes_free(&b);
	buf_free(&t.kw);
}

void jmap_email_import(struct jmap_call *c)
{
	char old[24], now[24];
	struct jmap_mailboxes m;

	if (jmap_args_check(c, import_args, sizeof import_args / sizeof import_args[0]) < 0 ||
	    jmap_state(c, old) < 0)
		return;
	const struct json_value *ifin = jmap_arg(c, "ifInState"), *em = jmap_arg(c, "emails");
	if (ifin && strcmp(ifin->str, old) != 0) {
		jmap_error(c, "stateMismatch", NULL);
		return;
	}
	if (em->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	if (jmap_mailboxes_load(c->r->st, c->r->account, c->r->a, &m) < 0) {
		jmap_error(c, "serverFail", NULL);
		return;
	}
	struct buf okb, badb;
	struct jw ok, bad;
	buf_init(&okb, JMAP_RESPONSE_MAX / 4);
	buf_init(&badb, JMAP_RESPONSE_MAX / 4);
	jw_init(&ok, &okb);
	jw_init(&bad, &badb);
	jw_obj_begin(&ok);
	jw_obj_begin(&bad);
	for (const struct json_value *o = em->first; o; o = o->next)
		import_one(c, &m, o, &ok, &bad);
	jw_obj_end(&ok);
	jw_obj_end(&bad);
	if (jmap_state(c, now) == 0) {
		struct jw *w = &c->w;
		jmap_begin(c);
		jw_kstr(w, "oldState", old);
		jw_kstr(w, "newState", now);
		jmap_w_map_or_null(w, "created", &okb);
		jmap_w_map_or_null(w, "notCreated", &badb);
		jw_obj_end(w);
	}
	buf_free(&okb);
	buf_free(&badb);
}
