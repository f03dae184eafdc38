/*
 * test_store_imap2.c — the store pieces IMAP's extensions added: a
 * mailbox created with a role (CREATE-SPECIAL-USE), the uid entry's save
 * date in both forms (SAVEDATE), thread ids in the email listing
 * (OBJECTID); and a role moved onto an existing mailbox (tern import).
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

struct found {
	const char *name;
	char role[16];
	int seen;
	int64_t saved_at[4];
	uint32_t thread[4], email[4];
	int n;
};

static void mailbox_cb(void *arg, const struct store_mailbox_info *info)
{
	struct found *f = arg;
	if (strcmp(info->name, f->name) == 0) {
		snprintf(f->role, sizeof(f->role), "%s", info->role);
		f->seen = 1;
	}
}

static void email_cb(void *arg, const struct store_email_info *info)
{
	struct found *f = arg;
	if (f->n < 4) {
		f->saved_at[f->n] = info->saved_at;
		f->thread[f->n] = info->thread_id;
		f->email[f->n] = info->email_id;
		f->n++;
	}
}

int main(void)
{
	char base[256];
	struct store *st = NULL;
	uint32_t acc = 0, mb = 0;

	if (unit_env_begin(base, sizeof base, "imap2") < 0)
		return 1;
	st = unit_store_with_account(base, 0, "bob@example.test", &acc);
	if (st == NULL)
		return unit_done("test_store_imap2");

	/* CREATE-SPECIAL-USE: the role sticks; parents are plain; a second
	 * mailbox may share a role; roles outside the IANA registry and INBOX's
	 * are refused. */
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "Old/Sent 2020", "sent", &mb), STORE_OK);
	struct found f = { .name = "Old/Sent 2020" };
	CHECK_EQ_INT(store_mailbox_list(st, acc, mailbox_cb, &f), STORE_OK);
	CHECK(f.seen);
	CHECK_EQ_STR(f.role, "sent");
	f = (struct found){ .name = "Old" };
	store_mailbox_list(st, acc, mailbox_cb, &f);
	CHECK(f.seen);
	CHECK_EQ_STR(f.role, "");
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "Sent2", "sent", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "X", "starred", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "X", "flagged", NULL), STORE_OK); /* RFC 6154 */
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "Y", "inbox", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create_role(st, acc, "Sent2", "junk", NULL), STORE_EEXIST);

	/* A delivery's save date is its received date (the short uid entry). */
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	struct store_delivery d;
	memset(&d, 0, sizeof d);
	d.data = msg;
	d.len = sizeof msg - 1;
	store_blob_id(msg, d.len, d.blob_id);
	d.accounts = &acc;
	d.naccounts = 1;
	d.received_at = 1700000000;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	f = (struct found){ 0 };
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, email_cb, &f), STORE_OK);
	CHECK_EQ_INT(f.n, 2);
	CHECK_EQ_INT(f.saved_at[0], 1700000000);
	CHECK_EQ_INT(f.saved_at[1], 1700000000);
	/* Each email is its own thread until threading exists. */
	CHECK(f.thread[0] == f.email[0] && f.thread[1] == f.email[1] && f.email[0] != f.email[1]);

	/* A role given to an existing mailbox (tern import) is taken from a
	 * holder as the account was made (the default name, no messages),
	 * never from one with mail or another name. */
	uint32_t acc2 = 0, junk = 0;
	char err[128];
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw", 0, &acc2, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc2, "Sent Items", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Sent Items", "sent"), STORE_OK);
	f = (struct found){ .name = "Sent Items" };
	store_mailbox_list(st, acc2, mailbox_cb, &f);
	CHECK_EQ_STR(f.role, "sent");
	f = (struct found){ .name = "Sent" };
	store_mailbox_list(st, acc2, mailbox_cb, &f);
	CHECK(f.seen);
	CHECK_EQ_STR(f.role, "");
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Sent Items", "sent"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Sent", "sent"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_find(st, acc2, "Junk", &junk), STORE_OK);
	d.accounts = &acc2;
	d.mailbox = junk;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc2, "Spam", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Spam", "junk"), STORE_EEXIST);
	f = (struct found){ .name = "Junk" };
	store_mailbox_list(st, acc2, mailbox_cb, &f);
	CHECK_EQ_STR(f.role, "junk");
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Spam", "drafts"), STORE_OK);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Spam", "trash"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "INBOX", "sent"), STORE_EEXIST);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Nope", "sent"), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Spam", "inbox"), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, acc2, "Deleted Items", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_set_role(st, acc2, "Deleted Items", "trash"), STORE_OK);
	f = (struct found){ .name = "Trash" };
	store_mailbox_list(st, acc2, mailbox_cb, &f);
	CHECK_EQ_STR(f.role, "");
	store_close(&st);

	/* The uid entry codec, all three forms. */
	uint8_t rec[UID_REC_MAX];
	CHECK_EQ_INT(uid_rec_encode(rec, 7, -5, 0), UID_REC_SAVED);
	MDB_val v = { UID_REC_SAVED, rec };
	CHECK_EQ_INT(uid_rec_saved_at(&v, 99), -5);
	CHECK_EQ_INT(uid_rec_flags(&v), 0);
	CHECK_EQ_INT(be32_get(rec + 1), 7);
	v.mv_size = 5;
	CHECK_EQ_INT(uid_rec_saved_at(&v, 99), 99);
	CHECK_EQ_INT(uid_rec_flags(&v), 0);
	CHECK_EQ_INT(uid_rec_encode(rec, 8, 42, UID_F_DELETED), UID_REC_MAX);
	v.mv_size = UID_REC_MAX;
	CHECK_EQ_INT(uid_rec_saved_at(&v, 99), 42);
	CHECK_EQ_INT(uid_rec_flags(&v), UID_F_DELETED);
	CHECK_EQ_INT(be32_get(rec + 1), 8);

	unit_rmrf(base);
	return unit_done("test_store_imap2");
}
