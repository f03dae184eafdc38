/*
 * store_retention.c — finding the messages a \Trash or \Junk mailbox has
 * held too long (server/retention.c expunges them).
 *
 * The age is the save date of the membership (IMAP SAVEDATE, RFC 8514):
 * the uid entry's date when it has one (APPEND, COPY, MOVE), else the
 * email's received_at (a delivery: the spam filter or Sieve filing into
 * Junk, which is the time it was saved there). Never the Date: header.
 *
 * One call reads at most `visit` uid entries of one mailbox in one read
 * transaction and returns at most `max` UIDs, so neither a read nor the
 * expunge that follows is ever sized by the mailbox (a Junk of 200,000
 * messages is walked a slice at a time). The walk resumes after the last
 * UID read: the caller keeps that cursor between calls.
 */
#include <string.h>

#include "store/store_private.h"

int store_retention_expired(int64_t saved_at, int64_t now, unsigned days)
{
	if (days == 0)
		return 0;
	return saved_at <= now - (int64_t)days * 86400;
}

/* The membership's save date; the email's received_at for a short uid entry. */
static int saved_at_of(struct store *st, MDB_txn *txn, uint32_t account, const MDB_val *uv,
                       int64_t *saved_r)
{
	if (uv->mv_size >= UID_REC_SAVED) {
		*saved_r = uid_rec_saved_at(uv, 0);
		return 0;
	}
	uint8_t ek[8];
	MDB_val k = key_u32_u32(ek, account, be32_get((const uint8_t *)uv->mv_data + 1)), v;
	struct email_rec e;
	int rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v);
	if (rc == 0)
		rc = email_dec(&v, &e);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* a uid entry has its email */
	*saved_r = e.received_at;
	return 0;
}

int store_retention_scan(struct store *st, const struct store_retention_scan *q, uint32_t *cursor,
                         uint32_t *uids, size_t *n_r, uint32_t *uidvalidity_r, int *done_r)
{
	struct mbox_rec m;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[12];
	size_t visited = 0;
	int rc;

	*n_r = 0;
	*done_r = 0;
	if (q->visit == 0 || q->max == 0 || !uids)
		return STORE_EINVAL;
	if (*cursor == UINT32_MAX) {
		*done_r = 1;
		return STORE_OK;
	}
	MDB_val k = key_u32_u32_u32(pfx, q->account, q->mailbox, *cursor + 1), v;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mbox_get(txn, st, q->account, q->mailbox, &m);
	if (rc == 0)
		rc = mdb_cursor_open(txn, st->db[DB_UID], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (visited == q->visit || *n_r == q->max)
				break; /* the next call goes on from *cursor */
			if (v.mv_size < 5 || ((uint8_t *)v.mv_data)[0] != REC_V1) {
				rc = MDB_CORRUPTED;
				break;
			}
			uint32_t uid = be32_get((uint8_t *)k.mv_data + 8);
			int64_t saved;
			if ((rc = saved_at_of(st, txn, q->account, &v, &saved)) != 0)
				break;
			visited++;
			*cursor = uid;
			if (store_retention_expired(saved, q->now, q->days))
				uids[(*n_r)++] = uid;
		}
		if (rc == MDB_NOTFOUND ||
		    (rc == 0 && (k.mv_size != 12 || memcmp(k.mv_data, pfx, 8) != 0))) {
			rc = 0;
			*done_r = 1; /* past the mailbox's last UID */
		}
		mdb_cursor_close(cur);
	}
	if (rc == 0)
		*uidvalidity_r = m.uidvalidity;
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : store_mdb_code(rc);
}
