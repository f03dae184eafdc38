/*
 * store_junk.c — the learning hook (store.h, "Junk moves"): after a
 * commit that put emails into an account's Junk mailbox, or took them out
 * of it into a mailbox that is not Trash, the hook the server registered
 * (spam/spam_learn.h) is told, whoever made the change: IMAP COPY and
 * MOVE (store_copy.c), IMAP APPEND (imap/cmd_append.c), JMAP Email/set
 * (jmap_email_set.c: one lesson from the memberships before and after).
 *
 * Deliveries never call it: where the filter files a message is its own
 * verdict, and the classifier must not learn from its own verdicts.
 */
#include "store/store_private.h"

static store_junk_hook_fn *hook;

void store_junk_hook_set(store_junk_hook_fn *fn)
{
	__atomic_store_n(&hook, fn, __ATOMIC_RELEASE);
}

/* The role of a mailbox (enum mailbox_role), ROLE_NONE when unknown. */
static unsigned role_of(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox)
{
	struct mbox_rec m;
	if (mailbox == 0 || mbox_get(txn, st, account, mailbox, &m) != 0)
		return ROLE_NONE;
	return m.role;
}

void store_junk_notify(struct store *st, uint32_t account, uint32_t from, uint32_t to,
		       const uint32_t *emails, size_t n)
{
	store_junk_hook_fn *fn = __atomic_load_n(&hook, __ATOMIC_ACQUIRE);
	MDB_txn *txn;
	if (!fn || n == 0 || store_rd_begin(st, &txn) != 0)
		return;
	unsigned rf = role_of(st, txn, account, from), rt = role_of(st, txn, account, to);
	store_rd_end(st, txn);
	if (rt == ROLE_JUNK && rf != ROLE_JUNK)
		fn(st, account, emails, n, 1);
	else if (rf == ROLE_JUNK && rt != ROLE_JUNK && rt != ROLE_TRASH)
		fn(st, account, emails, n, 0);
}
