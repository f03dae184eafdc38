/*
 * store_expunge.c — removing messages from a mailbox (POP3 QUIT in the
 * UPDATE state today; IMAP EXPUNGE and JMAP Email/set later).
 *
 * One write transaction through store_write_grouped(), which joins the
 * writer thread's batch and returns once it is on disk: POP3 must not
 * answer "+OK" to QUIT before the deletion is on disk, and a caller runs
 * this on a worker thread (never a loop: it waits for the flush). One
 * transaction, so deliveries and expunges of the same account never
 * interleave inside it.
 *
 * What an expunge writes is what an IMAP EXPUNGE will: for each UID the
 * uid entry goes; the email loses that membership and, when it was the
 * last one, the email record, its envelope and one blob reference go too
 * and the account's used/emails drop; the mailbox's message count drops;
 * one change record at one new modseq lists every membership removed
 * ("email destroyed" for the last membership, "email updated" otherwise),
 * and mailbox and account carry that modseq as their highest.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

/* A change record holds at most this many entries (its count is a u16). */
#define CHANGE_ENTRIES_MAX 65535u
#define CHANGE_ENTRY_SIZE 13u

struct expunge_ctx {
	uint32_t account, mailbox, uidvalidity;
	const uint32_t *uids;
	size_t n;
	int deleted_only; /* skip the UIDs without UID_F_DELETED now */
	uint64_t join;    /* a part of a combined write: its modseq (modseq_take) */
	/* Per run (reset at the start: store_write may run us again). */
	size_t removed;
	uint64_t modseq;
	uint8_t *crec; /* change record being built */
	size_t nentries;
};

/* Writes the change record built so far at the current modseq. */
static int flush_changes(struct store *st, MDB_txn *txn, struct expunge_ctx *c)
{
	size_t n = c->nentries;

	if (n == 0)
		return 0;
	c->nentries = 0;
	return change_rec_put(st, txn, c->account, c->modseq, c->crec, n, c->join != 0);
}

/*
 * Drops the membership (mailbox, uid) from email_id. *size_r gets the
 * email's size and *destroyed_r 1 when it was the last membership and the
 * email is gone, *thread_r its thread. The email record is copied before rewriting it: its
 * decoded pointers point into a page the rewrite may reuse.
 */
static int drop_membership(struct store *st, MDB_txn *txn, struct expunge_ctx *c,
			   uint32_t email_id, uint32_t uid, struct acct_rec *a, int *destroyed_r,
			   uint32_t *thread_r)
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, c->account, email_id);
	struct email_rec e;
	uint8_t *copy;
	int rc = email_get_copy(txn, st, &k, &e, &copy);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* invariant 4 */

	struct email_shape before, after;
	email_shape_of(&before, &e);
	*thread_r = e.thread_id;
	/* Keep every membership but this one. */
	uint8_t *kept = xmalloc((size_t)e.nmembers * 8 + 1);
	uint16_t nkept = 0;
	for (uint16_t i = 0; i < e.nmembers; i++) {
		const uint8_t *mp = e.members + (size_t)i * 8;
		if (be32_get(mp) == c->mailbox && be32_get(mp + 4) == uid)
			continue;
		memcpy(kept + (size_t)nkept * 8, mp, 8);
		nkept++;
	}
	if (nkept > 0) {
		/* The email's modseq stays: its copies elsewhere did not change
		 * (MODSEQ is per message, RFC 7162), and a new one would be
		 * above their mailboxes' HIGHESTMODSEQ, which this change does
		 * not touch. The change record names the membership removed. */
		e.nmembers = nkept;
		e.members = kept;
		rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
		if (rc == 0) {
			email_shape_of(&after, &e);
			rc = counts_email(txn, st, c->account, email_id, &before, &after);
			email_shape_free(&after);
		}
		*destroyed_r = 0;
	} else {
		rc = mdb_del(txn, st->db[DB_EMAIL], &k, NULL);
		if (rc == 0)
			rc = counts_email(txn, st, c->account, email_id, &before, NULL);
		if (rc == 0) {
			rc = mdb_del(txn, st->db[DB_ENVELOPE], &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0; /* only SMTP deliveries have one */
		}
		if (rc == 0)
			rc = spam_email_drop_txn(txn, st, c->account, email_id);
		if (rc == 0)
			rc = blob_unref(txn, st, e.blob_id);
		a->used = a->used >= e.size ? a->used - e.size : 0;
		if (a->emails > 0)
			a->emails--;
		*destroyed_r = 1;
	}
	email_shape_free(&before);
	free(kept);
	free(copy);
	return rc;
}

static int expunge_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct expunge_ctx *c = arg;
	struct acct_rec a;
	struct mbox_rec m;
	uint8_t kb[12];
	int rc;

	c->removed = 0;
	c->modseq = 0;
	c->nentries = 0;
	if ((rc = acct_get(txn, st, c->account, &a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if ((rc = mbox_get(txn, st, c->account, c->mailbox, &m)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	/* UIDs mean nothing under another UIDVALIDITY: refuse, remove nothing. */
	if (m.uidvalidity != c->uidvalidity)
		return STORE_ENOTFOUND;

	for (size_t i = 0; i < c->n; i++) {
		MDB_val k = key_u32_u32_u32(kb, c->account, c->mailbox, c->uids[i]), v;
		rc = mdb_get(txn, st->db[DB_UID], &k, &v);
		if (rc == MDB_NOTFOUND)
			continue; /* already gone (another session expunged it) */
		if (rc)
			return rc;
		if (v.mv_size < 5 || ((uint8_t *)v.mv_data)[0] != REC_V1)
			return MDB_CORRUPTED;
		uint32_t email_id = be32_get((uint8_t *)v.mv_data + 1);
		/* IMAP EXPUNGE and CLOSE: \Deleted (the membership's flag) as
		 * it is now, not as the session last read it: another session
		 * may have taken it off since. */
		if (c->deleted_only && !(uid_rec_flags(&v) & UID_F_DELETED))
			continue;
		if ((rc = mdb_del(txn, st->db[DB_UID], &k, NULL)) != 0)
			return rc;

		/* A new record (and modseq) first, and again when one is full. */
		if (c->nentries == 0)
			c->modseq = modseq_take(&a.modseq, c->join);
		int destroyed = 0;
		uint32_t thread = 0;
		if ((rc = drop_membership(st, txn, c, email_id, c->uids[i], &a, &destroyed,
					  &thread)) != 0)
			return rc;
		uint8_t *ent = c->crec + 3 + c->nentries * CHANGE_ENTRY_SIZE;
		ent[0] = destroyed ? CHANGE_EMAIL_DESTROYED : CHANGE_EMAIL_UPDATED;
		be32_put(ent + 1, email_id);
		be32_put(ent + 5, c->mailbox);
		be32_put(ent + 9, c->uids[i]);
		c->nentries++;
		if (destroyed) {
			/* Its thread, which Thread/changes cannot read any more. */
			ent += CHANGE_ENTRY_SIZE;
			ent[0] = CHANGE_EMAIL_THREAD;
			be32_put(ent + 1, thread);
			be32_put(ent + 5, 0);
			be32_put(ent + 9, email_id);
			c->nentries++;
		}
		c->removed++;
		if (m.messages > 0)
			m.messages--;
		/* Room for the next pair. */
		if (c->nentries >= CHANGE_ENTRIES_MAX - 1 && (rc = flush_changes(st, txn, c)) != 0)
			return rc;
	}
	if (c->removed == 0)
		return 0; /* nothing changed: no modseq spent, nothing rewritten */
	if ((rc = flush_changes(st, txn, c)) != 0)
		return rc;
	m.highest_modseq = a.modseq;
	if ((rc = mbox_put(txn, st, c->account, c->mailbox, &m)) != 0)
		return rc;
	return acct_put(txn, st, c->account, &a);
}

int store_expunge(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		  const uint32_t *uids, size_t n, size_t *removed_r, uint64_t *modseq_r)
{
	struct expunge_ctx c = {
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = uidvalidity,
		.uids = uids,
		.n = n,
	};
	/* Two entries per destroyed email (its thread follows). */
	size_t per = 2 * n < CHANGE_ENTRIES_MAX ? 2 * n : CHANGE_ENTRIES_MAX;

	if (removed_r)
		*removed_r = 0;
	if (n > 0 && !uids)
		return STORE_EINVAL;
	c.crec = xmalloc(3 + per * CHANGE_ENTRY_SIZE);
	int rc = store_write_grouped(st, expunge_fn, &c);
	free(c.crec);
	if (rc != STORE_OK)
		return rc;
	if (removed_r)
		*removed_r = c.removed;
	if (modseq_r)
		*modseq_r = c.modseq;
	if (c.removed)
		store_publish_change(st, account, c.modseq); /* IDLE sessions see it */
	return STORE_OK;
}

int store_expunge_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox,
		      const uint32_t *uids, size_t n)
{
	struct mbox_rec m;
	int rc = mbox_get(txn, st, account, mailbox, &m);

	if (rc)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	struct expunge_ctx c = {
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = m.uidvalidity,
		.uids = uids,
		.n = n,
	};
	size_t per = 2 * n < CHANGE_ENTRIES_MAX ? 2 * n : CHANGE_ENTRIES_MAX; /* a destroy is two */
	c.crec = xmalloc(3 + (per ? per : 1) * CHANGE_ENTRY_SIZE);
	rc = expunge_fn(st, txn, &c);
	free(c.crec);
	return rc;
}

int expunge_part_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t mailbox,
		     uint32_t uidvalidity, uint32_t uid, uint64_t join)
{
	uint8_t crec[3 + 2 * CHANGE_ENTRY_SIZE]; /* a destroy is two */
	struct expunge_ctx c = {
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = uidvalidity,
		.uids = &uid,
		.n = 1,
		.join = join,
		.crec = crec,
	};
	int rc = expunge_fn(st, txn, &c);

	return rc == 0 && c.removed == 0 ? STORE_EGONE : rc;
}

/* ---- the same inside the writer's group commit (store_group.c) ---- */

struct expunge_async {
	struct store_async a;
	struct expunge_ctx c;
	struct store *st;
	int code;
	size_t *removed_r;
	uint64_t *modseq_r;
	store_async_cb *done;
	void *arg;
};

static void expunge_finish(struct store_async *as)
{
	struct expunge_async *x = (struct expunge_async *)as;
	int rc = as->result;

	free(x->c.crec);
	if (rc == STORE_OK) {
		if (x->removed_r)
			*x->removed_r = x->c.removed;
		if (x->modseq_r)
			*x->modseq_r = x->c.modseq;
		if (x->c.removed)
			store_publish_change(x->st, x->c.account, x->c.modseq);
	}
	store_async_cb *done = x->done;
	void *arg = x->arg;
	free(x);
	done(arg, rc);
}

static void expunge_async(struct store *st, struct loop *loop, uint32_t account, uint32_t mailbox,
			  uint32_t uidvalidity, const uint32_t *uids, size_t n, int deleted_only,
			  size_t *removed_r, uint64_t *modseq_r, store_async_cb *done, void *arg)
{
	struct expunge_async *x = xcalloc(1, sizeof(*x));
	size_t per = 2 * n < CHANGE_ENTRIES_MAX ? 2 * n : CHANGE_ENTRIES_MAX; /* a destroy is two */

	x->c = (struct expunge_ctx){
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = uidvalidity,
		.uids = uids,
		.n = n,
		.deleted_only = deleted_only,
	};
	x->st = st;
	x->removed_r = removed_r;
	x->modseq_r = modseq_r;
	x->done = done;
	x->arg = arg;
	x->a.finish = expunge_finish;
	if (removed_r)
		*removed_r = 0;
	if (modseq_r)
		*modseq_r = 0;
	if (n > 0 && !uids) {
		x->code = STORE_EINVAL;
		store_async_fail(st, &x->a, loop, &x->code);
		return;
	}
	x->c.crec = xmalloc(3 + (per ? per : 1) * CHANGE_ENTRY_SIZE);
	x->a.fn = expunge_fn;
	x->a.ctx = &x->c;
	store_async_submit(st, &x->a, loop);
}

void store_expunge_async(struct store *st, struct loop *loop, uint32_t account, uint32_t mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n, size_t *removed_r,
			 uint64_t *modseq_r, store_async_cb *done, void *arg)
{
	expunge_async(st, loop, account, mailbox, uidvalidity, uids, n, 0, removed_r, modseq_r,
		      done, arg);
}

void store_expunge_deleted_async(struct store *st, struct loop *loop, uint32_t account,
				 uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				 size_t n, size_t *removed_r, uint64_t *modseq_r,
				 store_async_cb *done, void *arg)
{
	expunge_async(st, loop, account, mailbox, uidvalidity, uids, n, 1, removed_r, modseq_r,
		      done, arg);
}
