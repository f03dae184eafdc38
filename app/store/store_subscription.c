/*
 * store_subscription.c — IMAP subscriptions: a set of names per account
 * (SCHEMA.md, "subscription"), apart from the mailboxes, because RFC 9051
 * §6.3.7 keeps a subscribed name when its mailbox goes and lets a client
 * subscribe to a name that does not exist (Dovecot does both).
 */
#include <string.h>

#include "store/store_private.h"

/* Key: u32 account, BLAKE2b-256 of the name. */
static MDB_val sub_key(uint8_t b[36], uint32_t account, const char *name)
{
	be32_put(b, account);
	store_blob_id(name, strlen(name), b + 4);
	return (MDB_val){36, b};
}

int sub_has(MDB_txn *txn, struct store *st, uint32_t account, const char *name)
{
	uint8_t kb[36];
	MDB_val k = sub_key(kb, account, name), v;
	int rc = mdb_get(txn, st->db[DB_SUBSCRIPTION], &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? rc : 1;
}

int sub_set(MDB_txn *txn, struct store *st, uint32_t account, const char *name, int on)
{
	uint8_t kb[36];
	MDB_val k = sub_key(kb, account, name), v;
	int rc;

	if (!on) {
		rc = mdb_del(txn, st->db[DB_SUBSCRIPTION], &k, NULL);
		return rc == MDB_NOTFOUND ? 1 : rc;
	}
	size_t n = strlen(name);
	uint8_t val[1 + STORE_MAILBOX_NAME_MAX];
	if (n > STORE_MAILBOX_NAME_MAX)
		return MDB_BAD_VALSIZE;
	val[0] = REC_V1;
	memcpy(val + 1, name, n);
	v = (MDB_val){1 + n, val};
	rc = mdb_put(txn, st->db[DB_SUBSCRIPTION], &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? 1 : rc;
}

int sub_count(struct store *st, MDB_txn *txn, uint32_t account, size_t *n_r)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	size_t n = 0;
	int rc = mdb_cursor_open(txn, st->db[DB_SUBSCRIPTION], &cur);

	if (rc)
		return rc;
	be32_put(pfx, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 36 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	mdb_cursor_close(cur);
	*n_r = n;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_subscription_list(struct store *st, uint32_t account, store_subscription_cb *cb,
                            void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	char name[STORE_MAILBOX_NAME_MAX + 1];
	int rc;

	be32_put(pfx, account);
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_SUBSCRIPTION], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size == 36 && memcmp(k.mv_data, pfx, 4) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *p = v.mv_data;
			if (v.mv_size < 2 || v.mv_size > 1 + STORE_MAILBOX_NAME_MAX ||
			    p[0] != REC_V1) {
				rc = MDB_CORRUPTED;
				break;
			}
			memcpy(name, p + 1, v.mv_size - 1);
			name[v.mv_size - 1] = '\0';
			cb(arg, name);
		}
		if (rc == MDB_NOTFOUND || rc == 0)
			rc = 0;
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}
