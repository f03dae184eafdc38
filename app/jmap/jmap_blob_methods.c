/*
 * jmap_blob_methods.c — Blob management (RFC 9404, capability
 * urn:ietf:params:jmap:blob): Blob/upload (blobs made from text, base64
 * and ranges of other blobs, stored as uploads: jmap_blob.h, with their
 * time to live), Blob/get (data as text or base64, size, digests, with
 * offset and length) and Blob/lookup (which Emails, Threads and Mailboxes
 * use a blob).
 *
 * Blobs are what jmap_blob.h lets the account read: its uploads, the
 * bytes of its Emails, and its body parts (decoded). A blob is read whole
 * into memory here (at most maxSizeUpload octets): these methods answer
 * inside a JSON response, which is bounded anyway.
 *
 * In an account another user shares (jmap_share.c) the three methods
 * keep to the rule the download and upload URLs keep there
 * (jmap_share_blob.c): Blob/upload needs "i" on a mailbox the user sees
 * (else forbidden, as the upload URL's 403) and makes the user's own
 * upload there; Blob/get and the sources of Blob/upload read only the
 * user's uploads there and the emails (and their parts) in a mailbox it
 * may read, "l" and "r"; Blob/lookup names only those emails, their
 * threads and, of their mailboxes, the ones the user may read (as
 * Email/get's mailboxIds there). Any other blob is not found, exactly
 * as one that does not exist.
 */
#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/utf8.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/* The bytes of blob s the running call may read into out (in a shared
 * account what jmap_share_blob.c lets the user read): 1, 0 (not
 * found), -1 (store error). */
static int blob_read(struct jmap_call *c, const char *s, struct buf *out)
{
	uint8_t id[32];
	int temp = 0;
	if (s)
		s = jmap_id_ref(c->r, s);
	if (!s)
		return 0;
	if (jmap_blob_parse(s, id) == 0) {
		struct jmap_bytes b;
		if (jmap_share_bytes_get(c->r, id, &b, &temp) < 0)
			return temp ? -1 : 0;
		int ok = buf_append(out, b.p, b.len) == 0;
		jmap_bytes_free(&b);
		return ok ? 1 : 0;
	}
	if (jmap_share_part_read(c->r, s, out, &temp) == 0)
		return 1;
	return temp ? -1 : 0;
}

static const struct jmap_arg upload_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"create", JA_IDMAP, JA_REQUIRED},
};

/*
 * What one Blob/upload call may read from blobs named as sources. Each
 * source reads its whole blob (up to maxSizeUpload) to take a range of
 * it: without a bound, 500 creations of 64 one-octet ranges of one 50 MB
 * blob made a small request copy 1.6 TB (an hour of CPU). And each
 * source naming a stored message copies it out of the store (when this
 * was written, finding it walked all the account's emails: 32,000
 * sources of a small one walked them 32,000 times), so the sources read
 * are counted too, at most as many as a /set's objects.
 */
#define UPLOAD_READ_MAX (4 * (uint64_t)JMAP_MAX_SIZE_UPLOAD)
#define UPLOAD_READS_MAX JMAP_MAX_OBJECTS_IN_SET

/* The octets and the blobs a call's sources read so far. */
struct upload_reads {
	uint64_t octets;
	unsigned n;
};

/* One UploadObject's bytes into out; 0, or -1 with the SetError written.
 * rd counts what its sources read (UPLOAD_READ_MAX, UPLOAD_READS_MAX). */
static int upload_data(struct jmap_call *c, const char *cid, const struct json_value *o,
		       struct buf *out, struct jw *bad, struct upload_reads *rd)
{
	const struct json_value *data = json_get(o, "data");
	if (!data || data->type != JSON_ARRAY || data->count > JMAP_BLOB_MAX_SOURCES) {
		jmap_w_set_error(bad, cid, "invalidProperties", "data: a list of data sources", "data");
		return -1;
	}
	for (const struct json_value *d = data->first; d; d = d->next) {
		const struct json_value *t = json_get(d, "data:asText"), *b = json_get(d, "data:asBase64"),
					*bid = json_get(d, "blobId");
		int n = !!t + !!b + !!bid, ok = d->type == JSON_OBJECT && n == 1;
		for (const struct json_value *k = ok ? d->first : NULL; k; k = k->next)
			ok &= !strcmp(k->key, "data:asText") || !strcmp(k->key, "data:asBase64") ||
			      !strcmp(k->key, "blobId") ||
			      (bid && (!strcmp(k->key, "offset") || !strcmp(k->key, "length")));
		if (!ok) {
			jmap_w_set_error(bad, cid, "invalidProperties",
					 "one of data:asText, data:asBase64, blobId", "data");
			return -1;
		}
		int rc = 0;
		if (t) {
			rc = t->type == JSON_STRING ? buf_append(out, t->str, strlen(t->str)) : -2;
		} else if (b) {
			char *dec;
			size_t len = b->type == JSON_STRING ? strlen(b->str) : 0, dl;
			if (b->type != JSON_STRING) {
				rc = -2;
			} else {
				dec = buf_reserve(out, len / 4 * 3 + 3, &dl);
				if (!dec)
					rc = -1;
				else if (base64_decode(str_c(b->str), 0, dec, dl, &dl) < 0)
					rc = -2;
				else
					out->len += dl;
			}
		} else {
			const struct json_value *off = json_get(d, "offset"), *ln = json_get(d, "length");
			struct buf whole;
			buf_init(&whole, JMAP_MAX_SIZE_UPLOAD);
			int got = rd->octets >= UPLOAD_READ_MAX || rd->n >= UPLOAD_READS_MAX ? -6
				  : bid->type == JSON_STRING ? blob_read(c, bid->str, &whole) : 0;
			rd->octets += buf_len(&whole);
			rd->n += got != -6;
			uint64_t o0 = off && off->type == JSON_NUMBER && off->is_int && off->integer >= 0
					  ? (uint64_t)off->integer : 0;
			if ((off && (off->type != JSON_NUMBER || !off->is_int || off->integer < 0)) ||
			    (ln && (ln->type != JSON_NUMBER || !ln->is_int || ln->integer < 0)))
				rc = -2;
			else if (got == -6)
				rc = -6;
			else if (got < 0)
				rc = -3;
			else if (!got)
				rc = -4;
			else if (o0 > buf_len(&whole) ||
				 (ln && (uint64_t)ln->integer > buf_len(&whole) - o0))
				rc = -5;
			else
				rc = buf_append(out, buf_data(&whole) + o0,
						ln ? (size_t)ln->integer : buf_len(&whole) - (size_t)o0);
			buf_free(&whole);
		}
		switch (rc) {
		case 0: break;
		case -1:
			jmap_w_set_error(bad, cid, "tooLarge", "over maxSizeBlobSet", NULL);
			return -1;
		case -3:
			jmap_w_set_error(bad, cid, "serverFail", "the store failed", NULL);
			return -1;
		case -4:
			jmap_w_set_error(bad, cid, "blobNotFound", "no such blob", NULL);
			return -1;
		case -5:
			jmap_w_set_error(bad, cid, "invalidProperties", "offset and length go past the blob", "data");
			return -1;
		case -6:
			/* RFC 8620 §5.3: a server's limit on what may be created
			 * for now; a later call may do it. */
			jmap_w_set_error(bad, cid, "rateLimit",
					 "this call read as much of its source blobs as one call may", NULL);
			return -1;
		default:
			jmap_w_set_error(bad, cid, "invalidProperties", "a bad data source", "data");
			return -1;
		}
	}
	return 0;
}

void jmap_w_upload_error(struct jw *w, const char *key, int rc)
{
	/* ENOSPC and its kin: the server's limit on what it stores, as
	 * /upload's 507 (RFC 8620 §5.3 overQuota). */
	int full = rc == -1 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG);

	if (rc == JMAP_UPLOAD_OVER_QUOTA)
		/* As /upload's 413 overQuota: the account's quota with the
		 * user's other live uploads there. */
		jmap_w_set_error(w, key, "overQuota",
				 "the blob does not fit the account's quota with its other uploads",
				 NULL);
	else if (rc == JMAP_UPLOAD_TOO_MANY)
		/* RFC 8620 §5.3: too many created recently. */
		jmap_w_set_error(w, key, "rateLimit",
				 "too many uploads of this user live in the account", NULL);
	else if (full)
		jmap_w_set_error(w, key, "overQuota", "the server's storage is full", NULL);
	else
		jmap_w_set_error(w, key, "serverFail", "the blob could not be stored", NULL);
}

void jmap_blob_upload(struct jmap_call *c)
{
	if (jmap_args_check(c, upload_args, sizeof upload_args / sizeof upload_args[0]) < 0)
		return;
	if (!jmap_share_may_upload(c->r->share)) {
		/* As the upload URL's 403 (jmap_share_blob.c). */
		jmap_error(c, "forbidden", "no mailbox of this account takes new emails from this user");
		return;
	}
	const struct json_value *cr = jmap_arg(c, "create");
	if (cr->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	struct buf okb, badb;
	struct jw ok, bad;
	struct upload_reads read = {0, 0};
	buf_init(&okb, JMAP_RESPONSE_MAX / 4);
	buf_init(&badb, JMAP_RESPONSE_MAX / 4);
	jw_init(&ok, &okb);
	jw_init(&bad, &badb);
	jw_obj_begin(&ok);
	jw_obj_begin(&bad);
	for (const struct json_value *o = cr->first; o; o = o->next) {
		struct buf data;
		buf_init(&data, jmap_max_size_upload()); /* maxSizeBlobSet */
		const struct json_value *ty = json_get(o, "type");
		if (o->type != JSON_OBJECT || (ty && ty->type != JSON_STRING && ty->type != JSON_NULL)) {
			jmap_w_set_error(&bad, o->key, "invalidProperties", NULL, "type");
		} else if (upload_data(c, o->key, o, &data, &bad, &read) == 0) {
			uint8_t id[32];
			char s[66];
			store_blob_id(buf_data(&data), buf_len(&data), id);
			int rc = jmap_upload_put_by(c->r->st, c->r->account, jmap_share_uploader(c->r),
						    buf_data(&data), buf_len(&data), id);
			if (rc < 0) {
				jmap_w_upload_error(&bad, o->key, rc);
			} else {
				s[0] = 'B';
				hex_encode(s + 1, id, 32);
				jw_key(&ok, o->key);
				jw_obj_begin(&ok);
				jw_kstr(&ok, "id", s);
				jw_key(&ok, "type");
				if (ty && ty->type == JSON_STRING)
					jw_str(&ok, ty->str);
				else
					jw_null(&ok);
				jw_kuint(&ok, "size", buf_len(&data));
				jw_obj_end(&ok);
				jmap_created_put(c->r, o->key, s);
			}
		}
		buf_free(&data);
	}
	jw_obj_end(&ok);
	jw_obj_end(&bad);
	struct jw *w = &c->w;
	jmap_begin(c);
	jmap_w_map_or_null(w, "created", &okb);
	jmap_w_map_or_null(w, "notCreated", &badb);
	jw_obj_end(w);
	buf_free(&okb);
	buf_free(&badb);
}

static const struct jmap_arg get_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"ids", JA_IDREFS, JA_REQUIRED},
    {"properties", JA_STRINGS, JA_NULLABLE},
    {"offset", JA_UINT, 0},
    {"length", JA_UINT, 0},
};

enum { BP_ASTEXT = 1, BP_ASB64 = 2, BP_DATA = 4, BP_SIZE = 8, BP_SHA1 = 16, BP_SHA256 = 32 };

static void w_digest(struct jw *w, const char *key, const void *p, size_t n, int sha256)
{
	unsigned char h[32];
	char s[48];
	if (sha256) {
		br_sha256_context x;
		br_sha256_init(&x);
		br_sha256_update(&x, p, n);
		br_sha256_out(&x, h);
	} else {
		br_sha1_context x;
		br_sha1_init(&x);
		br_sha1_update(&x, p, n);
		br_sha1_out(&x, h);
	}
	base64_encode(h, sha256 ? 32 : 20, 0, s, sizeof s);
	jw_kstr(w, key, s);
}

void jmap_blob_get(struct jmap_call *c)
{
	if (jmap_args_check(c, get_args, sizeof get_args / sizeof get_args[0]) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "ids"), *pv = jmap_arg(c, "properties"),
				*off = jmap_arg(c, "offset"), *len = jmap_arg(c, "length");
	unsigned want = pv ? 0 : BP_DATA | BP_SIZE;
	static const char *const names[] = {"data:asText", "data:asBase64", "data", "size",
					    "digest:sha", "digest:sha-256"};
	for (const struct json_value *e = pv ? pv->first : NULL; e; e = e->next) {
		unsigned k;
		for (k = 0; k < 6 && strcmp(e->str, names[k]); k++)
			;
		if (k == 6) {
			jmap_bad_arg(c, "properties", "unknown property");
			return;
		}
		want |= 1u << k;
	}
	if (ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	ids = jmap_ids_unique(c->r->a, ids);
	struct buf nf;
	struct jw nfw;
	int nnf = 0;
	buf_init(&nf, JMAP_RESPONSE_MAX / 4);
	jw_init(&nfw, &nf);
	jw_arr_begin(&nfw);
	struct jw *w = &c->w;
	jmap_begin(c);
	jw_key(w, "list");
	jw_arr_begin(w);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		struct buf b;
		buf_init(&b, JMAP_MAX_SIZE_UPLOAD);
		int got = blob_read(c, e->str, &b);
		if (got < 0) {
			buf_free(&b);
			buf_free(&nf);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (!got) {
			jw_str(&nfw, e->str);
			nnf++;
			buf_free(&b);
			continue;
		}
		/* The range asked for (RFC 9404 §4.2), cut to what exists. */
		size_t size = buf_len(&b), o = 0, n;
		int truncated = 0;
		if (off && (uint64_t)off->integer > size) {
			o = size;
			truncated = 1;
		} else if (off) {
			o = (size_t)off->integer;
		}
		n = size - o;
		if (len && (uint64_t)len->integer > n)
			truncated = 1;
		else if (len)
			n = (size_t)len->integer;
		const char *p = buf_data(&b) + o;
		jw_obj_begin(w);
		/* A "#" creation id (RFC 9404 §4.1.1's example) as the id it got. */
		jw_kstr(w, "id", jmap_id_ref(c->r, e->str));
		int text_ok = utf8_valid(str_make(p, n)) && !memchr(p, '\0', n);
		if ((want & BP_ASTEXT) || ((want & BP_DATA) && text_ok)) {
			jw_key(w, "data:asText");
			if (text_ok)
				jw_strn(w, p, n);
			else
				jw_null(w);
		}
		if ((want & BP_ASB64) || ((want & BP_DATA) && !text_ok)) {
			struct buf enc;
			buf_init(&enc, JMAP_RESPONSE_MAX);
			size_t room;
			char *q = buf_reserve(&enc, n / 3 * 4 + 5, &room);
			jw_key(w, "data:asBase64");
			if (q && base64_encode(p, n, 0, q, room) == 0)
				jw_str(w, q);
			else
				jw_null(w);
			buf_free(&enc);
		}
		if (!text_ok && (want & (BP_ASTEXT | BP_DATA)))
			jw_kbool(w, "isEncodingProblem", 1);
		if (truncated)
			jw_kbool(w, "isTruncated", 1);
		if (want & BP_SIZE)
			jw_kuint(w, "size", buf_len(&b));
		if (want & BP_SHA1)
			w_digest(w, "digest:sha", p, n, 0);
		if (want & BP_SHA256)
			w_digest(w, "digest:sha-256", p, n, 1);
		jw_obj_end(w);
		buf_free(&b);
	}
	jw_arr_end(w);
	jw_arr_end(&nfw);
	jw_key(w, "notFound");
	jw_rawn(w, buf_data(&nf), buf_len(&nf));
	jw_obj_end(w);
	(void)nnf;
	buf_free(&nf);
}

/* ---- Blob/lookup ---- */

struct lookup {
	const struct jmap_request *r;
	const uint8_t *id; /* B: the bytes' id; NULL: email */
	uint32_t email;
	uint32_t emails[256], threads[256], mailboxes[256];
	size_t ne, nt, nm;
};

static void add_unique(uint32_t *v, size_t *n, uint32_t x)
{
	for (size_t i = 0; i < *n; i++)
		if (v[i] == x)
			return;
	if (*n < 256)
		v[(*n)++] = x;
}

static void lookup_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct lookup *l = arg;
	(void)i;
	if (!b || (l->id ? memcmp(b->blob_id, l->id, 32) != 0 : b->email_id != l->email))
		return;
	/* In a shared account an email the user may not read is not there
	 * (no oracle); of its mailboxes only those Email/get's mailboxIds
	 * name: a mailbox with "l" alone does not show its emails. */
	if (!jmap_email_readable(l->r, b->members, b->nmembers))
		return;
	add_unique(l->emails, &l->ne, b->email_id);
	add_unique(l->threads, &l->nt, b->thread_id);
	for (size_t k = 0; k < b->nmembers; k++) {
		uint32_t mailbox = jmap_member_mailbox(b->members, k);
		if (jmap_may_read(l->r, mailbox))
			add_unique(l->mailboxes, &l->nm, mailbox);
	}
}

static const struct jmap_arg lookup_args[] = {
    {"accountId", JA_ID, JA_REQUIRED},
    {"typeNames", JA_STRINGS, JA_REQUIRED},
    {"ids", JA_IDS, JA_REQUIRED},
};

void jmap_blob_lookup(struct jmap_call *c)
{
	static const char *const types[] = {"Mailbox", "Thread", "Email"};
	unsigned want = 0;

	if (jmap_args_check(c, lookup_args, sizeof lookup_args / sizeof lookup_args[0]) < 0)
		return;
	const struct json_value *tn = jmap_arg(c, "typeNames"), *ids = jmap_arg(c, "ids");
	for (const struct json_value *e = tn->first; e; e = e->next) {
		unsigned k;
		for (k = 0; k < 3 && strcmp(e->str, types[k]); k++)
			;
		if (k == 3) {
			jmap_error(c, "unknownDataType", NULL);
			return;
		}
		want |= 1u << k;
	}
	if (ids->count > JMAP_MAX_OBJECTS_IN_GET) {
		jmap_error(c, "requestTooLarge", NULL);
		return;
	}
	ids = jmap_ids_unique(c->r->a, ids);
	struct buf nf;
	struct jw nfw;
	buf_init(&nf, JMAP_RESPONSE_MAX / 4);
	jw_init(&nfw, &nf);
	jw_arr_begin(&nfw);
	struct jw *w = &c->w;
	jmap_begin(c);
	jw_key(w, "list");
	jw_arr_begin(w);
	for (const struct json_value *e = ids->first; e; e = e->next) {
		struct lookup l;
		uint8_t id[32];
		unsigned part;
		uint64_t size;
		int exists = 0, is_part = 1;
		char root[80];
		memset(&l, 0, sizeof l);
		l.r = c->r;
		/* A part's root: the "B" blob or the "P<email>_<n>" part
		 * before the indexes Email/parse added ("<root>_<n>..."). */
		const char *us = strchr(e->str, '_');
		if (us && e->str[0] == 'P')
			us = strchr(us + 1, '_');
		snprintf(root, sizeof root, "%.*s", us ? (int)(us - e->str) : 79, e->str);
		if (jmap_blob_parse(e->str, id) == 0) {
			l.id = id;
			is_part = 0;
			int fd = jmap_upload_open_by(c->r->account, jmap_share_uploader(c->r), id, &size);
			if (fd >= 0) {
				close(fd);
				exists = 1;
			}
		} else if (jmap_blob_parse(root, id) == 0) {
			l.id = id;
		} else if (jmap_part_parse(root, &l.email, &part) != 0) {
			l.email = 0;
		}
		if ((l.id || l.email) &&
		    store_emails_all(c->r->st, c->r->account, lookup_cb, &l) != STORE_OK) {
			buf_free(&nf);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (is_part && (l.id || l.ne)) {
			/* A part id: the part must be there too. One of a blob
			 * (an upload's too) is used by what uses the blob, one of
			 * an email's part by that email. */
			struct buf b;
			int temp = 0;
			buf_init(&b, JMAP_MAX_SIZE_UPLOAD);
			exists = jmap_share_part_read(c->r, e->str, &b, &temp) == 0;
			buf_free(&b);
			if (temp) {
				buf_free(&nf);
				jmap_error(c, "serverFail", NULL);
				return;
			}
			if (!exists)
				l.ne = l.nt = l.nm = 0;
		}
		if (!exists && !l.ne) {
			jw_str(&nfw, e->str);
			continue;
		}
		jw_obj_begin(w);
		jw_kstr(w, "id", e->str);
		jw_key(w, "matchedIds");
		jw_obj_begin(w);
		static const char pfx[] = {'M', 'T', 'E'};
		const uint32_t *vs[] = {l.mailboxes, l.threads, l.emails};
		const size_t ns[] = {l.nm, l.nt, l.ne};
		for (int k = 0; k < 3; k++) {
			if (!(want & (1u << k)))
				continue;
			jw_key(w, types[k]);
			jw_arr_begin(w);
			for (size_t i = 0; i < ns[k]; i++)
				jmap_w_id(w, pfx[k], vs[k][i]);
			jw_arr_end(w);
		}
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_arr_end(&nfw);
	jw_key(w, "notFound");
	jw_rawn(w, buf_data(&nf), buf_len(&nf));
	jw_obj_end(w);
	buf_free(&nf);
}
