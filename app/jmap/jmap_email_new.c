/*
 * jmap_email_new.c — a new Email into the store (Email/import, Email/set
 * create): the message goes through the store writer exactly as an IMAP
 * APPEND does (store_deliver with a mailbox: quota, UID, MODSEQ, thread,
 * the change feed IMAP IDLE and JMAP push read), into the first mailbox;
 * further mailboxes get a membership as IMAP COPY gives one
 * (store_email_copy). There is no second delivery path. One in Junk is
 * a lesson for the spam filter, as an APPEND there is.
 *
 * Line ends: an imported blob with bare LFs is stored with CRLF, as IMAP
 * APPEND stores a plain literal (buf_crlf_text): the Email's size, blobId
 * and bodies then count the octets every protocol serves. An Email/set
 * create message is written with CRLF already and passes unchanged.
 */
#include <string.h>

#include "core/buf.h"
#include "core/latch.h"
#include "crypt/crypt_rest.h"
#include "jmap/jmap_blob.h"
#include "jmap/jmap_email.h"
#include "mime/mime_cache.h"
#include "store/store.h"

static void stored(struct store_delivery *d, void *arg)
{
	(void)d;
	latch_open(arg);
}

struct thread_of {
	uint32_t thread;
};

static void thread_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	struct thread_of *t = arg;
	(void)i;
	if (b)
		t->thread = b->thread_id;
}

int jmap_email_store(struct store *st, uint32_t account, uint32_t actor,
		     struct jmap_new_email *e)
{
	struct store_delivery d;
	struct buf meta, fixed;
	struct latch w = LATCH_INIT;
	uint32_t email = 0;

	if (!e->nmailboxes)
		return STORE_EINVAL;
	memset(&d, 0, sizeof d);
	d.data = e->data;
	d.len = e->len;
	/* too big already: refused before any copy (CRLF only lengthens) */
	if (jmap_max_message() && d.len > jmap_max_message())
		return STORE_ETOOBIG;
	buf_init(&fixed, 2 * e->len);
	if (buf_crlf_text(&fixed, &d.data, &d.len) < 0)
		return STORE_ETEMP;
	/* What SMTP and IMAP APPEND would refuse is refused here too
	 * (line ends made CRLF count). */
	if (jmap_max_message() && d.len > jmap_max_message()) {
		buf_free(&fixed);
		return STORE_ETOOBIG;
	}
	/* Encryption at rest (crypt_rest.h): the owner's own message when
	 * the account seals those too, a grantee's in a shared account as a
	 * delivery is (crypt_put_key). */
	struct crypt_key *key;
	struct spool sealed;
	struct str sb;
	int seal = crypt_put_key(st, account, actor, &key);
	memset(&sealed, 0, sizeof sealed);
	seal = seal < 0 ? -1 : key ? crypt_seal(key, d.data, d.len, &sealed, &sb) : 0;
	crypt_key_release(key);
	if (seal < 0) {
		spool_free(&sealed);
		buf_free(&fixed);
		return STORE_ETEMP;
	}
	if (seal > 0) {
		d.data = sb.p;
		d.len = sb.len;
	}
	e->len = d.len; /* the size stored */
	store_blob_id(d.data, d.len, d.blob_id);
	if (mime_cache_build(d.data, d.len, &meta) == 0) {
		d.meta = buf_data(&meta);
		d.metalen = buf_len(&meta);
	}
	d.accounts = &account;
	d.naccounts = 1;
	d.mailbox = e->mailboxes[0];
	d.keywords = e->keywords && *e->keywords ? e->keywords : NULL;
	d.received_at = e->received_at;
	d.email_ids = &email;
	d.done = stored;
	d.arg = &w;
	store_deliver(st, &d);
	latch_wait(&w);
	buf_free(&meta);
	buf_free(&fixed);
	spool_free(&sealed);
	if (d.result != STORE_OK)
		return d.result;
	e->email_id = email;
	memcpy(e->blob_id, d.blob_id, 32);
	for (size_t i = 1; i < e->nmailboxes; i++) {
		struct store_copy_result cr = { 0 };
		int rc = store_email_copy(st, account, e->mailboxes[0], d.uidvalidity_r, &d.uid_r, 1,
					  e->mailboxes[i], STORE_COPY_NO_LESSON, &cr);
		store_copy_result_free(&cr);
		if (rc != STORE_OK)
			return rc == STORE_ENOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
	}
	/* The spam filter's lesson, as IMAP APPEND's (store.h, "Junk
	 * moves"): a new email in Junk is spam, whatever else holds it. The
	 * copies above are memberships, not moves: told as copies, one from
	 * Junk (listed first) taught ham and one into it spam. */
	for (size_t i = 0; i < e->nmailboxes; i++)
		store_junk_notify(st, account, 0, e->mailboxes[i], &email, 1);
	struct thread_of t = { 0 };
	store_emails_get(st, account, &email, 1, thread_cb, &t);
	e->thread_id = t.thread;
	return STORE_OK;
}
