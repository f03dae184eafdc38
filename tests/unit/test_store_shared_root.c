/*
 * test_store_shared_root.c — no own mailbox in the other users' namespace
 * (STORE_SHARED_ROOT, "Shared": IMAP's shared mailboxes, imap_acl.h).
 * Checked: CREATE and RENAME to "Shared" or under it are refused
 * (STORE_EINVAL; "shared" and "Shared (x)" are other names and stay
 * allowed); and the 16 -> 17 migration renames an account's existing
 * "Shared" with its child to "Shared (personal)", or "Shared (personal 2)"
 * when that is taken, keeping the mailboxes' ids, UIDVALIDITY and
 * messages, and leaves an account without one alone.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

/* Gives mailbox id of account the name name, in place (what an older
 * build let a user create). */
struct force_name {
	uint32_t account, id;
	const char *name;
};

static int force_name_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct force_name *f = arg;
	struct mbox_rec m;
	int rc = mbox_get(txn, st, f->account, f->id, &m);
	if (rc)
		return rc;
	snprintf(m.name, sizeof m.name, "%s", f->name);
	return mbox_put(txn, st, f->account, f->id, &m);
}

static uint32_t made(struct store *st, uint32_t account, const char *name, const char *forced)
{
	uint32_t id = 0;
	CHECK_EQ_INT(store_mailbox_create(st, account, name, &id), STORE_OK);
	struct force_name f = {account, id, forced};
	CHECK_EQ_INT(store_write(st, force_name_fn, &f), STORE_OK);
	return id;
}

static void mb_cb(void *arg, const struct store_mailbox_info *i)
{
	*(uint32_t *)arg = i->uidvalidity;
}

static uint32_t uidvalidity(struct store *st, uint32_t acc, uint32_t mb)
{
	uint32_t v = 0;
	CHECK_EQ_INT(store_mailbox_get(st, acc, mb, mb_cb, &v), STORE_OK);
	return v;
}

static uint32_t find(struct store *st, uint32_t account, const char *name)
{
	uint32_t id = 0;
	return store_mailbox_find(st, account, name, &id) == STORE_OK ? id : 0;
}

int main(void)
{
	char dir[300], err[256];
	struct store *st;
	uint32_t bob = 0, carol = 0, dan = 0;

	if (unit_env_begin(base, sizeof base, "sharedroot") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "bob@example.test", &bob);
	if (!st)
		return unit_done("test_store_shared_root");
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw", 0, &carol, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(store_account_add(st, "dan@example.test", "pw", 0, &dan, err, sizeof err),
		     STORE_OK);

	/* New names in the namespace are refused; others are not. */
	CHECK_EQ_INT(store_mailbox_create(st, bob, "Shared", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, bob, "Shared/x", NULL), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, bob, "Work", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_rename(st, bob, "Work", "Shared"), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_rename(st, bob, "Work", "Shared/Work"), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_name_creatable(st, "Shared/y"), STORE_EINVAL);
	CHECK_EQ_INT(store_mailbox_create(st, bob, "shared", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, bob, "Shared (x)", NULL), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, bob, "Sharedx", NULL), STORE_OK);

	/* Bob and carol have "Shared" and "Shared/Kid" from an older build;
	 * carol has "Shared (personal)" too. Dan has none. */
	uint32_t b_root = made(st, bob, "Tmp", "Shared");
	uint32_t b_kid = made(st, bob, "Tmp/Kid", "Shared/Kid");
	uint32_t c_root = made(st, carol, "Tmp", "Shared");
	CHECK_EQ_INT(store_mailbox_create(st, carol, "Shared (personal)", NULL), STORE_OK);
	CHECK(find(st, bob, "Shared") == b_root && find(st, bob, "Shared/Kid") == b_kid);
	uint32_t kid_uv = uidvalidity(st, bob, b_kid);
	unit_deliver(st, bob, "Subject: kept\r\n\r\nkept\r\n", 1700000000, NULL);
	uint32_t inbox = find(st, bob, "INBOX");
	struct store_copy_result r;
	uint32_t uid = 1;
	CHECK_EQ_INT(store_email_copy(st, bob, inbox, uidvalidity(st, bob, inbox), &uid, 1, b_kid,
				      STORE_COPY_NEW | STORE_COPY_ALL, &r),
		     STORE_OK);
	store_copy_result_free(&r);

	CHECK_EQ_INT(store_test_set_schema(st, 16), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (!st)
		return unit_done("test_store_shared_root");

	CHECK_EQ_INT((int)find(st, bob, "Shared"), 0);
	CHECK_EQ_INT((int)find(st, bob, "Shared/Kid"), 0);
	CHECK_EQ_INT((int)find(st, bob, "Shared (personal)"), (int)b_root);
	CHECK_EQ_INT((int)find(st, bob, "Shared (personal)/Kid"), (int)b_kid);
	CHECK_EQ_INT((int)uidvalidity(st, bob, b_kid), (int)kid_uv);
	uint32_t counts[4] = {0};
	MDB_txn *txn;
	CHECK_EQ_INT(store_rd_begin(st, &txn), 0);
	CHECK_EQ_INT(counts_mailbox_get(txn, st, bob, b_kid, counts), 0);
	mdb_txn_abort(txn);
	CHECK_EQ_INT((int)counts[0], 1); /* its message is still there */
	CHECK_EQ_INT((int)find(st, bob, "shared") != 0, 1);
	CHECK_EQ_INT((int)find(st, carol, "Shared"), 0);
	CHECK_EQ_INT((int)find(st, carol, "Shared (personal 2)"), (int)c_root);
	CHECK(find(st, carol, "Shared (personal)") != 0);
	CHECK_EQ_INT((int)find(st, dan, "Shared (personal)"), 0);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_shared_root");
}
