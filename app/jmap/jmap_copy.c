/*
 * jmap_copy.c — the /copy methods between accounts: Email/copy (RFC 8621
 * §4.7) and Blob/copy (RFC 8620 §6.3).
 *
 * A session holds one account (the user's own, jmap.h), so there is no
 * other account to copy from: another fromAccountId is
 * fromAccountNotFound, whether or not it exists (a guess learns nothing).
 * Email/copy from the account itself is invalidArguments: RFC 8620 §5.4
 * says accountId MUST differ from fromAccountId (within an account,
 * Email/set's mailboxIds do what a copy would). Blob/copy within the
 * account copies nothing and answers each blob the account can read with
 * its own id, and blobNotFound for the others, as the RFC's rules give.
 *
 * Caveats: when shared accounts come, Email/copy's real copy goes
 * through jmap_email_store like Email/import.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

/* fromAccountId: 0 when it is the request's account; -1 after setting
 * fromAccountNotFound. */
static int from_account(struct jmap_call *c)
{
	char own[16];
	const struct json_value *f = jmap_arg(c, "fromAccountId");
	snprintf(own, sizeof own, "A%08x", c->r->account);
	if (f && !strcmp(f->str, own))
		return 0;
	jmap_error(c, "fromAccountNotFound", NULL);
	return -1;
}

static const struct jmap_arg email_copy_args[] = {
    {"fromAccountId", JA_ID, JA_REQUIRED},       {"ifFromInState", JA_STRING, JA_NULLABLE},
    {"accountId", JA_ID, JA_REQUIRED},           {"ifInState", JA_STRING, JA_NULLABLE},
    {"create", JA_IDMAP, JA_REQUIRED},          {"onSuccessDestroyOriginal", JA_BOOL, 0},
    {"destroyFromIfInState", JA_STRING, JA_NULLABLE},
};

void jmap_email_copy(struct jmap_call *c)
{
	if (jmap_args_check(c, email_copy_args, sizeof email_copy_args / sizeof email_copy_args[0]) < 0 ||
	    from_account(c) < 0)
		return;
	jmap_bad_arg(c, "fromAccountId",
		     "fromAccountId must differ from accountId (RFC 8620 §5.4); "
		     "use Email/set mailboxIds within an account");
}

static const struct jmap_arg blob_copy_args[] = {
    {"fromAccountId", JA_ID, JA_REQUIRED},
    {"accountId", JA_ID, JA_REQUIRED},
    {"blobIds", JA_IDS, JA_REQUIRED},
};

/* 1 when the account may read blob id s (B, P, or a part Email/parse
 * named: "<blob>_<n>..."). -1: a store error. */
static int readable(struct jmap_call *c, const char *s)
{
	uint8_t id[32];
	uint64_t size;
	if (jmap_blob_parse(s, id) == 0) {
		int fd = jmap_upload_open(c->r->account, id, &size);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		long long e = jmap_blob_email(c->r->st, c->r->account, id);
		return e < 0 ? -1 : e > 0;
	}
	struct buf b;
	int temp = 0;
	buf_init(&b, JMAP_MAX_SIZE_UPLOAD);
	int ok = jmap_part_read(c->r->st, c->r->account, s, &b, &temp) == 0;
	buf_free(&b);
	return temp ? -1 : ok;
}

void jmap_blob_copy(struct jmap_call *c)
{
	if (jmap_args_check(c, blob_copy_args, sizeof blob_copy_args / sizeof blob_copy_args[0]) < 0 ||
	    from_account(c) < 0)
		return;
	const struct json_value *ids = jmap_arg(c, "blobIds");
	if (ids->count > JMAP_MAX_OBJECTS_IN_SET) {
		jmap_error(c, "requestTooLarge", NULL);
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
	for (const struct json_value *e = ids->first; e; e = e->next) {
		int r = readable(c, e->str);
		if (r < 0) {
			buf_free(&okb);
			buf_free(&badb);
			jmap_error(c, "serverFail", NULL);
			return;
		}
		if (r)
			jw_kstr(&ok, e->str, e->str);
		else
			jmap_w_set_error(&bad, e->str, "blobNotFound", NULL, NULL);
	}
	jw_obj_end(&ok);
	jw_obj_end(&bad);
	struct jw *w = &c->w;
	jw_obj_begin(w);
	jw_key(w, "fromAccountId");
	jmap_w_id(w, 'A', c->r->account);
	jw_key(w, "accountId");
	jmap_w_id(w, 'A', c->r->account);
	jmap_w_map_or_null(w, "copied", &okb);
	jmap_w_map_or_null(w, "notCopied", &badb);
	jw_obj_end(w);
	buf_free(&okb);
	buf_free(&badb);
}
