/*
 * store_changes.c — reading the change log (DB `change`) for IMAP QRESYNC
 * (RFC 7162): which UIDs of a mailbox were expunged since a modseq.
 *
 * Every removal of a membership (expunge, MOVE, DELETE of a mailbox,
 * RENAME INBOX) writes an entry naming (mailbox, uid), and so does every
 * creation and flag change. So the UIDs expunged after modseq m are those
 * named by entries of this mailbox at modseqs above m whose uid entry no
 * longer exists: UIDs are never reused, so a missing uid entry means the
 * message is gone. One cursor walk over the account's records above m.
 *
 * And writing one (change_rec_put), the writes' one way to: a record at
 * a modseq, or more entries for it from a later part of the same write
 * (store_update.c).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int store_mailbox_vanished(struct store *st, uint32_t account, uint32_t mailbox, uint64_t since,
			   uint32_t **uids_r, size_t *n_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[12];
	uint32_t *u = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*uids_r = NULL;
	*n_r = 0;
	if (since == UINT64_MAX)
		return STORE_OK;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_CHANGE], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	MDB_val k = key_u32_u64(kb, account, since + 1), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || be32_get(k.mv_data) != account)
			break;
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 3 || p[0] != REC_V1)
			continue;
		size_t ne = be16_get(p + 1);
		if (v.mv_size < 3 + ne * 13)
			continue;
		for (size_t i = 0; i < ne; i++) {
			const uint8_t *e = p + 3 + i * 13;
			if (e[0] < CHANGE_EMAIL_CREATED || e[0] > CHANGE_EMAIL_DESTROYED ||
			    be32_get(e + 5) != mailbox)
				continue;
			uint32_t uid = be32_get(e + 9);
			uint8_t ub[12];
			MDB_val uk = key_u32_u32_u32(ub, account, mailbox, uid), uv;
			int r2 = mdb_get(txn, st->db[DB_UID], &uk, &uv);
			if (r2 == 0)
				continue;
			if (r2 != MDB_NOTFOUND) {
				rc = r2;
				goto out;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				u = xrealloc(u, cap * sizeof(*u));
			}
			u[n++] = uid;
		}
	}
out:
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(u);
		return STORE_ETEMP;
	}
	/* Sorted, each UID once (a UID may be named by several records). */
	if (n) {
		qsort(u, n, sizeof(*u), cmp_u32);
		size_t w = 1;
		for (size_t i = 1; i < n; i++)
			if (u[i] != u[w - 1])
				u[w++] = u[i];
		n = w;
	}
	*uids_r = u;
	*n_r = n;
	return STORE_OK;
}

int change_rec_put(struct store *st, MDB_txn *txn, uint32_t account, uint64_t modseq,
		   uint8_t *crec, size_t n, int append)
{
	uint8_t kb[12];
	MDB_val k = key_u32_u64(kb, account, modseq), v, old;

	crec[0] = REC_V1;
	be16_put(crec + 1, (uint16_t)n);
	v = (MDB_val){3 + n * 13, crec};
	int rc = append ? mdb_get(txn, st->db[DB_CHANGE], &k, &old) : MDB_NOTFOUND;
	if (rc != MDB_NOTFOUND) {
		if (rc)
			return rc;
		const uint8_t *p = old.mv_data;
		size_t on = old.mv_size >= 3 ? be16_get(p + 1) : 0;
		/* One email's parts: far from a record's 65535 entries. */
		if (old.mv_size != 3 + on * 13 || p[0] != REC_V1 || on + n > 65535)
			return MDB_CORRUPTED;
		/* Out of the map before the put may reuse its page. */
		uint8_t *both = xmalloc(old.mv_size + n * 13);
		memcpy(both, p, old.mv_size);
		memcpy(both + old.mv_size, crec + 3, n * 13);
		be16_put(both + 1, (uint16_t)(on + n));
		v = (MDB_val){old.mv_size + n * 13, both};
		rc = mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0);
		free(both);
		return rc;
	}
	return mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0);
}
