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
 *
 * A mailbox shared with another user (RFC 4314, imap_acl.h): its /shared
 * entries are the owner's, seen and set by every user who may; its
 * /private entries are each user's own (RFC 5464 §3.2). Another user's
 * are kept in the owner's key space, after a marker octet no entry name
 * starts with, so they go with the mailbox and count against the owner's
 * limits (a user with rights on the mailbox can write its /shared ones
 * there anyway): key u32 owner, u32 mailbox, 0x01, u32 user, lower-case
 * name. The owner's walk (store_metadata_get) skips them. Another user
 * writes only while it exists and holds a right on the mailbox, checked
 * in the write (user_may_write). They go when
 * their user is left with no right on the mailbox (meta_drop_unentitled,
 * from the grant's write in store_acl.c), and when their user is removed
 * (meta_drop_user_on, from the removal's acl_drop_account_txn).
 */
#include <string.h>

#include "core/buf.h"
#include "store/store_private.h"

#define OTHERS_PRIVATE 0x01 /* the key's marker of another user's /private entry */
#define OTHERS_HEAD 5u         /* the marker and the user's id */

/* 1 when name (any case) is /private or below it. */
static int is_private(const char *name, size_t len)
{
	static const char p[] = "/private";
	if (len < 8 || (len > 8 && name[8] != '/'))
		return 0;
	for (size_t i = 0; i < 8; i++)
		if ((name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]) != p[i])
			return 0;
	return 1;
}

/* Key: u32 account, u32 mailbox, lower-case name; for user's /private
 * entry on another account's mailbox the marker and user before the name
 * (see the top). b has room for 8 + OTHERS_HEAD + STORE_METADATA_NAME_MAX. */
static MDB_val meta_key_as(uint8_t *b, uint32_t user, uint32_t account, uint32_t mailbox,
			   struct str name)
{
	size_t at = 8;

	be32_put(b, account);
	be32_put(b + 4, mailbox);
	if (user != account && mailbox && is_private(name.p, name.len)) {
		b[8] = OTHERS_PRIVATE;
		be32_put(b + 9, user);
		at += OTHERS_HEAD;
	}
	for (size_t i = 0; i < name.len; i++) {
		char c = name.p[i];
		b[at + i] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return (MDB_val){at + name.len, b};
}

static MDB_val meta_key(uint8_t *b, uint32_t account, uint32_t mailbox, struct str name)
{
	return meta_key_as(b, account, account, mailbox, name);
}

/* Whether the entry under key k (of prefix account, mailbox) is one user
 * sees: the owner's /shared ones and user's own /private ones. *name_len_r
 * the name's length in the key. */
static int meta_visible(const MDB_val *k, uint32_t user, uint32_t account, size_t *name_len_r)
{
	const uint8_t *p = k->mv_data;

	if (p[8] == OTHERS_PRIVATE) {
		*name_len_r = k->mv_size > 8 + OTHERS_HEAD ? k->mv_size - 8 - OTHERS_HEAD : 0;
		return k->mv_size > 8 + OTHERS_HEAD && user != account && be32_get(p + 9) == user;
	}
	*name_len_r = k->mv_size - 8;
	return user == account || !is_private((const char *)p + 8, k->mv_size - 8);
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
	uint32_t user, account, mailbox;
	const struct store_metadata *e;
	size_t n;
};

/*
 * Another user's write on the owner's mailbox: the user exists and holds
 * a right on it, read in this write (RFC 4314 §6: no right, no
 * mailbox). The IMAP command checked before, but the write runs later
 * in the writer: a user removed or left with no right meanwhile would
 * leave /private entries nobody reads or removes, which neither its
 * removal (acl_drop_account_txn) nor meta_drop_unentitled finds.
 */
static int user_may_write(struct store *st, MDB_txn *txn, const struct set_ctx *c)
{
	struct acct_rec a;
	uint32_t rights = 0;
	int rc = acct_get(txn, st, c->user, &a);

	explicit_bzero(a.hash, sizeof a.hash);
	if (rc == 0)
		rc = acl_rights_txn(txn, st, c->user, c->account, c->mailbox, &rights);
	if (rc == MDB_NOTFOUND || (rc == 0 && rights == 0))
		return STORE_ENOTFOUND;
	return rc;
}

static int set_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct set_ctx *c = arg;
	uint8_t kb[8 + OTHERS_HEAD + STORE_METADATA_NAME_MAX];
	size_t count, bytes;
	int rc;

	if (c->mailbox) {
		/* Gone meanwhile (DELETE in another session): nothing to set. */
		uint8_t mk[8];
		MDB_val k = key_u32_u32(mk, c->account, c->mailbox), v;
		if ((rc = mdb_get(txn, st->db[DB_MAILBOX], &k, &v)) != 0)
			return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	}
	if (c->mailbox && c->user != c->account && (rc = user_may_write(st, txn, c)) != 0)
		return rc;
	if ((rc = meta_usage(st, txn, c->account, &count, &bytes)) != 0)
		return rc;
	for (size_t i = 0; i < c->n; i++) {
		const struct store_metadata *e = &c->e[i];
		MDB_val k = meta_key_as(kb, c->user, c->account, c->mailbox, e->name), old;
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
	return store_metadata_set_as(st, account, account, mailbox, e, n);
}

int store_metadata_set_as(struct store *st, uint32_t user, uint32_t account, uint32_t mailbox,
			  const struct store_metadata *e, size_t n)
{
	struct set_ctx c = { .user = user, .account = account, .mailbox = mailbox, .e = e, .n = n };

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
	return store_metadata_get_as(st, account, account, mailbox, cb, arg);
}

int store_metadata_get_as(struct store *st, uint32_t user, uint32_t account, uint32_t mailbox,
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
			size_t nl = v.mv_size >= 3 ? (size_t)p[1] << 8 | p[2] : 0, kl;
			int seen = meta_visible(&k, user, account, &kl);
			if (v.mv_size < 3 || p[0] != REC_V1 || nl != kl || 3 + nl > v.mv_size) {
				rc = MDB_CORRUPTED;
				break;
			}
			if (!seen)
				continue;
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

/*
 * A grant changed on owner's mailbox (store_acl.c, in its write): the
 * /private entries of each other user who now holds no right on it go.
 * They sit in the owner's key space and count against the owner's limits
 * (see the top), and their user can neither read nor remove them any
 * more: kept, they would fill the owner's room for good, and a grant
 * given again years later would bring them back. One range scan of the
 * mailbox's other users' entries; a user who keeps a right is skipped
 * with one seek past its entries.
 */
int meta_drop_unentitled(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox)
{
	MDB_cursor *cur;
	uint8_t seek[8 + OTHERS_HEAD + STORE_METADATA_NAME_MAX];
	size_t seeklen = 9;
	int rc = mdb_cursor_open(txn, st->db[DB_METADATA], &cur);

	if (rc)
		return rc;
	be32_put(seek, owner);
	be32_put(seek + 4, mailbox);
	seek[8] = OTHERS_PRIVATE;
	for (;;) {
		MDB_val k = {seeklen, seek}, v;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size <= 8 + OTHERS_HEAD || memcmp(k.mv_data, seek, 9) != 0)
			break;
		uint32_t user = be32_get((const uint8_t *)k.mv_data + 9), rights;
		if ((rc = acl_rights_txn(txn, st, user, owner, mailbox, &rights)) != 0)
			break;
		if (rights) { /* its entries stay: on to the next user's */
			if (user == UINT32_MAX)
				break;
			be32_put(seek + 9, user + 1);
			seeklen = 8 + OTHERS_HEAD;
			continue;
		}
		/* The key is the next seek: what follows it comes next. */
		memcpy(seek, k.mv_data, k.mv_size);
		seeklen = k.mv_size;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
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

int meta_drop_user_on(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox,
		      uint32_t user)
{
	uint8_t pfx[8 + OTHERS_HEAD];

	be32_put(pfx, owner);
	be32_put(pfx + 4, mailbox);
	pfx[8] = OTHERS_PRIVATE;
	be32_put(pfx + 9, user);
	return db_del_prefix(txn, st->db[DB_METADATA], pfx, sizeof pfx, NULL, NULL);
}
