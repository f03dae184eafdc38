/*
 * store_update.c — one email's change of keywords and mailboxes in one
 * write (JMAP's Email/set update and destroy: RFC 8620 §5.3 has each
 * applied whole or not at all).
 *
 * The parts are the keyword change, copy and expunge of IMAP's STORE,
 * COPY/MOVE and EXPUNGE (kw_part_txn, copy_part_txn, expunge_part_txn:
 * each its operation's own transaction core), run one after the other in
 * one nested transaction of the writer's batch. They share one modseq
 * (modseq_take's join) and append to one change record
 * (change_rec_put), so a client's Email/changes sees the change as one
 * step, and a part that fails or is refused aborts the nested
 * transaction: nothing of the others is written.
 *
 * Order: keywords, while the email is where the caller read it (its
 * rights are checked on those mailboxes, as shared_update_allowed in
 * jmap_email_set.c checks them); then the copies (a move last, so the
 * copies come from a membership still there); then the removals, which
 * the copies keep from taking the email's last membership unless all go
 * (a destroy).
 */
#include <stdlib.h>

#include "core/xalloc.h"
#include "store/store_private.h"

struct update_async {
	struct store_async a;
	const struct store_email_update *u;
	struct store *st;
	uint64_t modseq, *modseq_r;
	store_async_cb *done;
	void *arg;
};

/* Another user's rights inside the write: "i" on each mailbox the email
 * joins, "t" and "e" on each it leaves. 0, STORE_EACCES or an LMDB
 * error. */
static int update_rights(struct store *st, MDB_txn *txn, const struct store_email_update *u)
{
	const uint32_t te = STORE_ACL_T | STORE_ACL_E;
	uint32_t r;
	int rc;

	if (!u->as || u->as->actor == u->account)
		return 0;
	for (size_t i = 0; i < u->nto; i++) {
		if ((rc = acl_rights_txn(txn, st, u->as->actor, u->account, u->to[i], &r)) != 0)
			return rc;
		if (!(r & STORE_ACL_I))
			return STORE_EACCES;
	}
	for (size_t i = 0; i < u->ngone + (u->move && u->nto); i++) {
		uint32_t mb = i < u->ngone ? u->gone[i].mailbox : u->from.mailbox;
		if ((rc = acl_rights_txn(txn, st, u->as->actor, u->account, mb, &r)) != 0)
			return rc;
		if ((r & te) != te)
			return STORE_EACCES;
	}
	return 0;
}

/* The email of membership m (*email_r): 0, STORE_EGONE or an LMDB error. */
static int update_email_of(struct store *st, MDB_txn *txn, uint32_t account,
			   const struct store_member *m, uint32_t *email_r)
{
	uint8_t kb[12];
	MDB_val k = key_u32_u32_u32(kb, account, m->mailbox, m->uid), v;
	int rc = mdb_get(txn, st->db[DB_UID], &k, &v);

	if (rc)
		return rc == MDB_NOTFOUND ? STORE_EGONE : rc;
	if (v.mv_size < 5 || ((uint8_t *)v.mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	*email_r = be32_get((uint8_t *)v.mv_data + 1);
	return 0;
}

/* email has at most max memberships: 0, STORE_ELIMIT or an LMDB error. */
static int update_members_max(struct store *st, MDB_txn *txn, uint32_t account, uint32_t email,
			      uint32_t max)
{
	uint8_t kb[8];
	MDB_val k = key_u32_u32(kb, account, email);
	struct email_rec e;
	uint8_t *copy;
	int rc = email_get_copy(txn, st, &k, &e, &copy);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	rc = e.nmembers > max ? STORE_ELIMIT : 0;
	free(copy);
	return rc;
}

static int update_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct update_async *x = arg;
	const struct store_email_update *u = x->u;
	struct acct_rec a;
	int rc;

	x->modseq = 0; /* store_write may run us again */
	if ((rc = acct_get(txn, st, u->account, &a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	uint64_t join = a.modseq + 1;
	if ((rc = update_rights(st, txn, u)) != 0)
		return rc;
	/* Copies may take the email past max_members: which email it is. */
	uint32_t email = 0;
	if (u->max_members && u->nto &&
	    (rc = update_email_of(st, txn, u->account, &u->from, &email)) != 0)
		return rc;
	if ((u->kw_set || u->kw_add || u->kw_remove) &&
	    (rc = kw_part_txn(st, txn, u->as, u->account, u->kw.mailbox, u->kw.uid, u->kw_set,
			      u->kw_add, u->kw_remove, join)) != 0)
		return rc;
	for (size_t i = 0; i < u->nto; i++)
		if ((rc = copy_part_txn(st, txn, u->account, u->from.mailbox, u->from.uidvalidity,
					u->from.uid, u->to[i], u->move && i + 1 == u->nto, join)) != 0)
			return rc;
	for (size_t i = 0; i < u->ngone; i++)
		if ((rc = expunge_part_txn(st, txn, u->account, u->gone[i].mailbox,
					   u->gone[i].uidvalidity, u->gone[i].uid, join)) != 0)
			return rc;
	if (email && (rc = update_members_max(st, txn, u->account, email, u->max_members)) != 0)
		return rc;
	if ((rc = acct_get(txn, st, u->account, &a)) != 0)
		return rc;
	x->modseq = a.modseq >= join ? a.modseq : 0;
	return 0;
}

static void update_finish(struct store_async *as)
{
	struct update_async *x = (struct update_async *)as;
	int rc = as->result;

	if (rc == STORE_OK && x->modseq)
		store_publish_change(x->st, x->u->account, x->modseq);
	if (x->modseq_r)
		*x->modseq_r = rc == STORE_OK ? x->modseq : 0;
	store_async_cb *done = x->done;
	void *arg = x->arg;
	free(x);
	done(arg, rc);
}

void store_email_update_async(struct store *st, struct loop *loop,
			      const struct store_email_update *u, uint64_t *modseq_r,
			      store_async_cb *done, void *arg)
{
	struct update_async *x = xcalloc(1, sizeof(*x));

	x->u = u;
	x->st = st;
	x->modseq_r = modseq_r;
	x->done = done;
	x->arg = arg;
	x->a.finish = update_finish;
	x->a.fn = update_fn;
	x->a.ctx = x;
	store_async_submit(st, &x->a, loop);
}
