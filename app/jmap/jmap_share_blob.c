/*
 * jmap_share_blob.c — blobs of an account another user shares
 * (jmap_share.c; RFC 8620 §6): which the user may read, and where its
 * uploads to that account go.
 *
 * Reading. In a shared account the user reads a "B" blob that it
 * uploaded there itself (jmap_upload_open_by: the user's uploads to the
 * account are kept apart from the owner's and every other user's), or
 * the bytes of an email it may read ("l" and "r" on one of its
 * mailboxes, jmap_email_id_readable), and a "P" blob (a body part) of
 * such an email. Anything else, the owner's own uploads and Sieve
 * scripts and the parts of a blob Email/parse read among them, is not
 * found, as a blob of no account is (jmap_blob.h: a guessed id tells
 * nothing). The same rule holds for the download URL (api_jmap.c,
 * jmap_share_blob_allowed) and for the methods that read blobs in a
 * shared account (Email/import, Email/set create, Blob/get, Blob/lookup
 * and Blob/upload's sources: jmap_blob_methods.c).
 *
 * Uploading. The upload URL and Blob/upload take a shared account's id
 * when the user may add an email to one of its mailboxes ("i" on a
 * mailbox it sees, jmap_share_may_upload): a blob is of use there only
 * to Email/import and Email/set create. The
 * upload is the user's: its concurrency and size limits are the user's
 * (maxConcurrentUpload, maxSizeUpload) and it expires as the user's own
 * do; the owner's quota is charged when an email made from it is
 * stored, as for an IMAP APPEND into a shared mailbox.
 */
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "jmap/jmap.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

static int readable_cb(void *arg, uint32_t email)
{
	return jmap_email_id_readable(arg, email);
}

uint32_t jmap_share_uploader(const struct jmap_request *r)
{
	return r->share ? r->user : r->account;
}

int jmap_share_bytes_get(const struct jmap_request *r, const uint8_t id[32], struct jmap_bytes *b,
			 int *temp_r)
{
	return jmap_bytes_get_by(r->st, r->account, jmap_share_uploader(r), id, readable_cb,
				 (void *)r, b, temp_r);
}

/* 1 when the running call may read blob as a "P" id or a part of a blob
 * (jmap_part_read's ids), 0 when not, -1 on a store error. */
static int part_allowed(const struct jmap_request *r, const char *blob)
{
	uint32_t email;
	unsigned part;

	if (!r->share)
		return 1;
	/* Parts of a blob (Email/parse's) are not read in a shared account. */
	if (jmap_part_parse(blob, &email, &part) < 0)
		return 0;
	return jmap_email_id_readable(r, email);
}

int jmap_share_part_read(const struct jmap_request *r, const char *blob, struct buf *out,
			 int *temp_r)
{
	int ok = part_allowed(r, blob);

	*temp_r = ok < 0;
	if (ok <= 0)
		return -1;
	return jmap_part_read(r->st, r->account, blob, out, temp_r);
}

/* The grants of the account account_id names to user, into s (memory
 * from a): 0, JMAP_SHARE_NO_ACCOUNT, or -1. */
static int share_of(struct store *st, uint32_t user, const char *account_id, struct arena *a,
		    struct jmap_share *s, uint32_t *owner_r)
{
	*owner_r = jmap_id_num(account_id, 'A');
	int rc = jmap_share_load(st, user, *owner_r, a, s);
	return rc > 0 ? JMAP_SHARE_NO_ACCOUNT : rc;
}

int jmap_share_blob_allowed(struct store *st, uint32_t user, const char *account_id,
			    const char *blob, uint32_t *owner_r)
{
	struct arena *a = arena_new(0);
	struct jmap_share s;
	uint8_t id[32];
	int ok = 0;
	uint32_t owner;

	int rc = share_of(st, user, account_id, a, &s, owner_r);
	if (rc != 0) {
		arena_free(&a);
		return rc;
	}
	owner = *owner_r;
	struct jmap_request r = {.st = st, .account = owner, .user = user, .a = a, .share = &s};
	if (jmap_blob_parse(blob, id) == 0) {
		uint64_t size;
		int fd = jmap_upload_open_by(owner, user, id, &size);
		if (fd >= 0) {
			close(fd);
			ok = 1;
		} else {
			long long e = jmap_blob_email(st, owner, id);
			ok = e < 0 ? -1 : e > 0 ? jmap_email_id_readable(&r, (uint32_t)e) : 0;
		}
	} else {
		ok = part_allowed(&r, blob);
	}
	arena_free(&a);
	return ok;
}

int jmap_share_may_upload(const struct jmap_share *s)
{
	if (!s)
		return 1;
	for (size_t i = 0; i < s->n; i++)
		if (s->grant[i].rights & STORE_ACL_I)
			return 1;
	return 0;
}

int jmap_share_upload_allowed(struct store *st, uint32_t user, const char *account_id,
			      uint32_t *owner_r)
{
	struct arena *a = arena_new(0);
	struct jmap_share s;

	int rc = share_of(st, user, account_id, a, &s, owner_r);
	int ok = rc == 0 && jmap_share_may_upload(&s);
	arena_free(&a);
	return rc ? rc : ok;
}
