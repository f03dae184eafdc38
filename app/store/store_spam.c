/*
 * store_spam.c — the spam filter's records per account (`spam`, schema
 * 12): opaque bytes app/spam/ defines, read in place and replaced by a
 * read-modify-write in one transaction (store.h). Layout in SCHEMA.md.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "store/store_private.h"

static MDB_val spam_key(uint8_t b[5], uint32_t account, unsigned kind)
{
	be32_put(b, account);
	b[4] = (uint8_t)kind;
	return (MDB_val){5, b};
}

int store_spam_get(struct store *st, const uint32_t *accounts, size_t n, unsigned kind,
                   store_spam_cb *cb, void *arg)
{
	MDB_txn *txn;
	struct str recs[4];
	int rc = 0;
	if (n > 4)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint8_t kb[5];
		MDB_val k = spam_key(kb, accounts[i], kind), v;
		recs[i] = STR_NULL;
		int r = mdb_get(txn, st->db[DB_SPAM], &k, &v);
		if (r == 0) {
			const uint8_t *p = v.mv_data;
			if (v.mv_size < 1 || p[0] != REC_V1)
				rc = STORE_ETEMP;
			else
				recs[i] = str_make((const char *)p + 1, v.mv_size - 1);
		} else if (r != MDB_NOTFOUND) {
			rc = STORE_ETEMP;
		}
	}
	if (rc == 0)
		cb(arg, recs);
	store_rd_end(st, txn);
	return rc;
}

struct spam_upd {
	uint32_t account;
	unsigned kind;
	store_spam_update_fn *fn;
	void *arg;
	int result; /* fn's non-zero answer */
};

static int spam_update_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct spam_upd *u = ctx;
	uint8_t kb[5];
	MDB_val k = spam_key(kb, u->account, u->kind), v;
	const void *old = NULL;
	size_t oldlen = 0;
	int rc = mdb_get(txn, st->db[DB_SPAM], &k, &v);
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 1 || p[0] != REC_V1)
			return MDB_CORRUPTED;
		old = p + 1;
		oldlen = v.mv_size - 1;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	struct buf out;
	buf_init(&out, STORE_SPAM_RECORD_MAX);
	uint8_t ver = REC_V1;
	buf_append(&out, &ver, 1);
	u->result = u->fn(u->arg, old, oldlen, &out);
	if (u->result == 0) {
		if (buf_len(&out) <= 1) {
			rc = mdb_del(txn, st->db[DB_SPAM], &k, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
		} else {
			v = (MDB_val){buf_len(&out), buf_data(&out)};
			rc = mdb_put(txn, st->db[DB_SPAM], &k, &v, 0);
		}
	} else {
		rc = 0;
	}
	buf_free(&out);
	return rc;
}

int store_spam_update(struct store *st, uint32_t account, unsigned kind, store_spam_update_fn *fn,
                      void *arg)
{
	struct spam_upd u = {account, kind, fn, arg, 0};
	int rc = store_write(st, spam_update_fn, &u);
	if (rc == 0 && u.result)
		return u.result;
	return rc;
}

int spam_email_drop_txn(MDB_txn *txn, struct store *st, uint32_t account, uint32_t email)
{
	char name[48];
	MDB_val k = {(size_t)snprintf(name, sizeof name, "spamfrom/%u/%u", account, email), name};
	int rc = mdb_del(txn, st->db[DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc; /* only port 25's deliveries have one */
}
