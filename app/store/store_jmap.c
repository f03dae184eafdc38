/*
 * store_jmap.c — reads JMAP needs beyond IMAP's: the change log as
 * entries, emails by id with their memberships and thread, and a
 * mailbox's counts (RFC 8621 §2: totalEmails, unreadEmails, totalThreads,
 * unreadThreads). See store.h, "For JMAP".
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

int store_changes_since(struct store *st, uint32_t account, uint64_t since, store_change_cb *cb,
			void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[12];
	int rc, stop = 0;

	if (since == UINT64_MAX)
		return STORE_OK;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_CHANGE], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	MDB_val k = key_u32_u64(kb, account, since + 1), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !stop;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || be32_get(k.mv_data) != account)
			break;
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 3 || p[0] != REC_V1)
			continue;
		size_t ne = be16_get(p + 1);
		if (v.mv_size < 3 + ne * 13)
			continue;
		struct store_change c = {.modseq = be64_get((const uint8_t *)k.mv_data + 4)};
		for (size_t i = 0; i < ne && !stop; i++) {
			const uint8_t *e = p + 3 + i * 13;
			c.kind = e[0];
			c.id = be32_get(e + 1);
			c.mailbox = be32_get(e + 5);
			c.uid = be32_get(e + 9);
			stop = cb(arg, &c);
		}
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

int store_changes_floor(struct store *st, uint32_t account, uint64_t *floor_r)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[12];
	int rc;

	*floor_r = 0;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_CHANGE], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	/* The account's first record: the empty one a restore leaves where
	 * it cut the log (store_restore.c), or a change of the account's
	 * whole history. */
	MDB_val k = key_u32_u64(kb, account, 0), v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == 12 && be32_get(k.mv_data) == account && v.mv_size == 3 &&
	    be16_get((const uint8_t *)v.mv_data + 1) == 0) {
		uint64_t first = be64_get((const uint8_t *)k.mv_data + 4);
		*floor_r = first ? first - 1 : 0;
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : STORE_ETEMP;
}

static void brief_fill(struct store_email_brief *b, uint32_t id, const struct email_rec *e)
{
	memset(b, 0, sizeof *b);
	b->email_id = id;
	b->thread_id = e->thread_id;
	b->modseq = e->modseq;
	b->size = e->size;
	b->received_at = e->received_at;
	b->keywords = e->keywords;
	b->keywords_len = e->keywords_len;
	b->members = e->members;
	b->nmembers = e->nmembers;
	memcpy(b->blob_id, e->blob_id, 32);
	b->meta = e->meta;
	b->metalen = e->metalen;
}

int store_emails_get(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
		     store_email_brief_cb *cb, void *arg)
{
	MDB_txn *txn;
	int rc = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	for (size_t i = 0; i < n; i++) {
		uint8_t kb[8];
		MDB_val k = key_u32_u32(kb, account, ids[i]), v;
		struct email_rec e;
		struct store_email_brief b;
		rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v);
		if (rc == MDB_NOTFOUND) {
			cb(arg, i, NULL);
			rc = 0;
			continue;
		}
		if (rc || (rc = email_dec(&v, &e)) != 0)
			break;
		brief_fill(&b, ids[i], &e);
		cb(arg, i, &b);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_emails_all(struct store *st, uint32_t account, store_email_brief_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[8];
	size_t i = 0;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur)) != 0) {
		store_rd_end(st, txn);
		return STORE_ETEMP;
	}
	MDB_val k = key_u32_u32(kb, account, 0), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct email_rec e;
		struct store_email_brief b;
		if (k.mv_size != 8 || be32_get(k.mv_data) != account)
			break;
		if ((rc = email_dec(&v, &e)) != 0)
			break;
		brief_fill(&b, be32_get((const uint8_t *)k.mv_data + 4), &e);
		cb(arg, i++, &b);
	}
	mdb_cursor_close(cur);
	store_rd_end(st, txn);
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_OK : store_mdb_code(rc);
}

int store_keywords_has(const char *kw, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && kw[j] != ' ')
			j++;
		if (j - i == n && strncasecmp(kw + i, name, n) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}
