/*
 * store_metadata.c — IMAP METADATA entries (RFC 5464) per account: server
 * entries (mailbox 0) and per-mailbox entries (SCHEMA.md, "metadata").
 *
 * Entry names compare case-insensitively (the key holds the name in lower
 * case; the value keeps it as first written, as keywords keep theirs). A
 * mailbox's entries go with the mailbox (DELETE, store_mailbox_ops.c) and
 * every entry with the account (store_admin.c); RENAME keeps them (the key
 * has the mailbox id, not its name).
 *
 * Limits, checked in the write transaction so that two sessions cannot
 * pass them together: at most STORE_METADATA_ENTRIES entries and
 * STORE_METADATA_BYTES octets of names and values per account.
 */
#include <string.h>

#include "core/buf.h"
#include "store/store_private.h"

/* Key: u32 account, u32 mailbox, lower-case name. */
static MDB_val meta_key(uint8_t *b, uint32_t account, uint32_t mailbox, struct str name)
{
	be32_put(b, account);
	be32_put(b + 4, mailbox);
	for (size_t i = 0; i < name.len; i++) {
		char c = name.p[i];
		b[8 + i] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return (MDB_val){8 + name.len, b};
}

/* Entries and octets (names and values) the account holds. */
static int meta_usage(struct store *st, MDB_txn *txn, uint32_t account, size_t *n_r,
		      size_t *bytes_r)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = {4, pfx}, v;
	int rc = mdb_cursor_open(txn, st->db[DB_METADATA], &cur);

	*n_r = *bytes_r = 0;
	if (rc)
		return rc;
	be32_put(pfx, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size > 8 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		(*n_r)++;
		*bytes_r += v.mv_size;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct set_ctx {
	uint32_t account, mailbox;
	const struct store_metadata *e;
	size_t n;
};

static int set_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct set_ctx *c = arg;
	uint8_t kb[8 + STORE_METADATA_NAME_MAX];
	size_t count, bytes;
	int rc;

	if (c->mailbox) {
		/* Gone meanwhile (DELETE in another session): nothing to set. */
		uint8_t mk[8];
		MDB_val k = key_u32_u32(mk, c->account, c->mailbox), v;
		if ((rc = mdb_get(txn, st->db[DB_MAILBOX], &k, &v)) != 0)
			return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	}
	if ((rc = meta_usage(st, txn, c->account, &count, &bytes)) != 0)
		return rc;
	for (size_t i = 0; i < c->n; i++) {
		const struct store_metadata *e = &c->e[i];
		MDB_val k = meta_key(kb, c->account, c->mailbox, e->name), old;
		rc = mdb_get(txn, st->db[DB_METADATA], &k, &old);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return rc;
		if (rc == 0) {
			count--;
			bytes -= old.mv_size;
		}
		if (!e->value.p) {
			if (rc == 0 && (rc = mdb_del(txn, st->db[DB_METADATA], &k, NULL)) != 0)
				return rc;
			continue;
		}
		size_t len = 3 + e->name.len + e->value.len;
		if (++count > STORE_METADATA_ENTRIES)
			return STORE_ELIMIT;
		if ((bytes += len) > STORE_METADATA_BYTES)
			return STORE_ETOOBIG;
		MDB_val v = {len, NULL};
		if ((rc = mdb_put(txn, st->db[DB_METADATA], &k, &v, MDB_RESERVE)) != 0)
			return rc;
		uint8_t *p = v.mv_data;
		p[0] = REC_V1;
		p[1] = (uint8_t)(e->name.len >> 8);
		p[2] = (uint8_t)e->name.len;
		memcpy(p + 3, e->name.p, e->name.len);
		if (e->value.len)
			memcpy(p + 3 + e->name.len, e->value.p, e->value.len);
	}
	return 0;
}

int store_metadata_set(struct store *st, uint32_t account, uint32_t mailbox,
		       const struct store_metadata *e, size_t n)
{
	struct set_ctx c = { .account = account, .mailbox = mailbox, .e = e, .n = n };

	for (size_t i = 0; i < n; i++)
		if (e[i].name.len == 0 || e[i].name.len > STORE_METADATA_NAME_MAX ||
		    e[i].value.len > STORE_METADATA_BYTES)
			return STORE_EINVAL;
	int rc = store_write(st, set_fn, &c);
	uint64_t m;
	/* NOTIFY's metadata events (RFC 5465): sessions of the account look
	 * again; the modseq is the account's, unchanged (entries have none). */
	if (rc == STORE_OK && store_account_modseq(st, account, &m) == STORE_OK)
		store_publish_change(st, account, m);
	return rc;
}

int store_metadata_get(struct store *st, uint32_t account, uint32_t mailbox,
		       store_metadata_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k = {8, pfx}, v;
	int rc;

	be32_put(pfx, account);
	be32_put(pfx + 4, mailbox);
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_METADATA], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size > 8 && memcmp(k.mv_data, pfx, 8) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *p = v.mv_data;
			size_t nl = v.mv_size >= 3 ? (size_t)p[1] << 8 | p[2] : 0;
			if (v.mv_size < 3 || p[0] != REC_V1 || nl != k.mv_size - 8 ||
			    3 + nl > v.mv_size) {
				rc = MDB_CORRUPTED;
				break;
			}
			cb(arg, str_make((const char *)p + 3, nl),
			   str_make((const char *)p + 3 + nl, v.mv_size - 3 - nl));
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_metadata_get_one(struct store *st, uint32_t account, uint32_t mailbox,
			   struct str name, struct buf *value)
{
	uint8_t kb[8 + STORE_METADATA_NAME_MAX];
	MDB_txn *txn;
	MDB_val v;
	int rc;

	if (name.len == 0 || name.len > STORE_METADATA_NAME_MAX)
		return STORE_ENOTFOUND;
	MDB_val k = meta_key(kb, account, mailbox, name);
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_get(txn, st->db[DB_METADATA], &k, &v);
	if (rc == 0) {
		const uint8_t *p = v.mv_data;
		size_t nl = v.mv_size >= 3 ? (size_t)p[1] << 8 | p[2] : 0;
		if (v.mv_size < 3 || p[0] != REC_V1 || nl != name.len || 3 + nl > v.mv_size)
			rc = MDB_CORRUPTED;
		else if (buf_append(value, p + 3 + nl, v.mv_size - 3 - nl) < 0)
			rc = STORE_ETOOBIG;
	}
	store_rd_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	return rc == STORE_ETOOBIG ? rc : store_mdb_code(rc);
}

int meta_drop_mailbox(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox)
{
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_METADATA], &cur);

	if (rc)
		return rc;
	be32_put(pfx, account);
	be32_put(pfx + 4, mailbox);
	for (;;) {
		k = (MDB_val){8, pfx};
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc || k.mv_size <= 8 || memcmp(k.mv_data, pfx, 8) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
