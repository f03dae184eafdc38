/*
 * store_sharenote.c — the record JMAP's ShareNotification (RFC 9670 §5)
 * reads: one per change of a grant given to an account, kept in the
 * grantee's name whoever changed it (IMAP SETACL, JMAP shareWith,
 * `tern acl`, the REST API: every one writes through store_acl_modify,
 * which calls sharenote_add_txn in its transaction).
 *
 * Records (meta, SCHEMA.md):
 *   "sharenote/GRANTEE/SSSSSSSSSSSSSSSS"  (16 hex digits of a sequence)
 *       u8 1 (meta's version byte), u8 1 (this layout's), u64 created
 *       (Unix seconds), u32 changed_by (0: not an account), u32 owner,
 *       u32 mailbox, u32 old rights, u32 new rights, the mailbox's full
 *       name then (the rest of the value)
 *   "sharenoteseq/GRANTEE"  the last sequence given, decimal
 * so the records of an account are in creation order and a sequence is
 * never given twice (an id a client saw is never another notification;
 * a restored store moves every account's on past what the lost store
 * may have given: sharenote_seq_jump_txn from store_restore.c).
 * Bound: STORE_SHARENOTE_MAX per account; the oldest goes when a new
 * one would pass it. A grant to "anyone" makes none (there is no one
 * account to tell), nor does a change that leaves the rights as they
 * were. A user's subscription of a mailbox takes its records about it
 * (store_sharenote_drop_about: RFC 9670 §5, "SHOULD automatically
 * destroy a notification about an object if the user subscribes to
 * that object"). Meta is a named database, so no schema version was
 * needed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "store/store_private.h"

#define NOTE_HEAD 30 /* layout byte, created, by, owner, mailbox, old, new */

static void note_key(char out[64], uint32_t account, uint64_t seq)
{
	snprintf(out, 64, "sharenote/%u/%016llx", account, (unsigned long long)seq);
}

/* Moves account's last sequence given on by step (written back in
 * txn); *seq_r gets the new one. */
static int advance_seq(MDB_txn *txn, struct store *st, uint32_t account, uint64_t step,
		       uint64_t *seq_r)
{
	char key[48], num[24];
	MDB_val k, v;
	uint64_t seq = 0;
	int rc;

	snprintf(key, sizeof key, "sharenoteseq/%u", account);
	k = (MDB_val){strlen(key), key};
	rc = mdb_get(txn, st->db[DB_META], &k, &v);
	if (rc == 0 && v.mv_size > 1 && v.mv_size < sizeof num) {
		memcpy(num, (const char *)v.mv_data + 1, v.mv_size - 1);
		num[v.mv_size - 1] = '\0';
		seq = strtoull(num, NULL, 10);
	} else if (rc && rc != MDB_NOTFOUND) {
		return rc;
	}
	seq += step;
	snprintf(num, sizeof num, "%llu", (unsigned long long)seq);
	if ((rc = store_meta_put_txn(st, txn, key, num, strlen(num))) != 0)
		return rc;
	*seq_r = seq;
	return 0;
}

int sharenote_seq_jump_txn(MDB_txn *txn, struct store *st, uint32_t account, uint64_t gap)
{
	uint64_t seq;
	return advance_seq(txn, st, account, gap, &seq);
}

/* Drops the oldest of account's records while it holds max or more. */
static int keep_bound(MDB_txn *txn, struct store *st, uint32_t account, size_t max)
{
	char pfx[32];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;
	int rc;

	snprintf(pfx, sizeof pfx, "sharenote/%u/", account);
	size_t plen = strlen(pfx);
	if ((rc = mdb_cursor_open(txn, st->db[DB_META], &cur)) != 0)
		return rc;
	k = (MDB_val){plen, pfx};
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, pfx, plen) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	if (rc && rc != MDB_NOTFOUND) {
		mdb_cursor_close(cur);
		return rc;
	}
	rc = 0;
	/* The oldest first: the keys' order is the sequence's. */
	while (n >= max) {
		k = (MDB_val){plen, pfx};
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size < plen || memcmp(k.mv_data, pfx, plen) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n--;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int sharenote_add_txn(MDB_txn *txn, struct store *st, uint32_t by, uint32_t owner,
		      uint32_t mailbox, uint32_t grantee, const char *name, uint32_t was,
		      uint32_t now)
{
	uint8_t val[NOTE_HEAD + STORE_MAILBOX_NAME_MAX];
	size_t nl = strlen(name);
	char key[64];
	uint64_t seq;
	int rc;

	if (grantee == STORE_ACL_ANYONE || grantee == owner || was == now)
		return 0;
	if (nl > STORE_MAILBOX_NAME_MAX)
		nl = STORE_MAILBOX_NAME_MAX;
	if ((rc = keep_bound(txn, st, grantee, STORE_SHARENOTE_MAX)) != 0 ||
	    (rc = advance_seq(txn, st, grantee, 1, &seq)) != 0)
		return rc;
	val[0] = 1;
	be64_put(val + 1, (uint64_t)time(NULL));
	be32_put(val + 9, by);
	be32_put(val + 13, owner);
	be32_put(val + 17, mailbox);
	be32_put(val + 21, was);
	be32_put(val + 25, now);
	val[29] = 0; /* reserved */
	memcpy(val + NOTE_HEAD, name, nl);
	note_key(key, grantee, seq);
	return store_meta_put_txn(st, txn, key, val, NOTE_HEAD + nl);
}

struct list_ctx {
	store_sharenote_cb *cb;
	void *arg;
};

static void list_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct list_ctx *x = arg;
	const uint8_t *p = val;
	const char *slash = strrchr(name, '/');
	char mbox[STORE_MAILBOX_NAME_MAX + 1];
	struct store_sharenote n;

	/* A record of another layout is skipped, not misread. */
	if (!slash || len < NOTE_HEAD || p[0] != 1 || len - NOTE_HEAD > STORE_MAILBOX_NAME_MAX)
		return;
	n.seq = strtoull(slash + 1, NULL, 16);
	n.created = (int64_t)be64_get(p + 1);
	n.changed_by = be32_get(p + 9);
	n.owner = be32_get(p + 13);
	n.mailbox = be32_get(p + 17);
	n.old_rights = be32_get(p + 21) & STORE_ACL_ALL;
	n.new_rights = be32_get(p + 25) & STORE_ACL_ALL;
	memcpy(mbox, p + NOTE_HEAD, len - NOTE_HEAD);
	mbox[len - NOTE_HEAD] = '\0';
	n.name = mbox;
	x->cb(x->arg, &n);
}

int store_sharenote_list(struct store *st, uint32_t account, store_sharenote_cb *cb, void *arg)
{
	char pfx[32];
	struct list_ctx x = {cb, arg};

	snprintf(pfx, sizeof pfx, "sharenote/%u/", account);
	return store_meta_list(st, pfx, list_cb, &x);
}

int store_sharenote_del(struct store *st, uint32_t account, uint64_t seq)
{
	char key[64];

	note_key(key, account, seq);
	return store_meta_del(st, key);
}

int sharenote_drop_account_txn(MDB_txn *txn, struct store *st, uint32_t account)
{
	char key[48];
	int rc;

	snprintf(key, sizeof key, "sharenote/%u/", account);
	if ((rc = meta_del_prefix_txn(txn, st, key)) != 0)
		return rc;
	snprintf(key, sizeof key, "sharenoteseq/%u", account);
	return store_meta_del_txn(st, txn, key);
}

/* store_sharenote_drop_about(): the object, and the records about it. */
struct about {
	uint32_t owner, mailbox, account;
	uint64_t seq[STORE_SHARENOTE_MAX];
	size_t n;
};

static void about_cb(void *arg, const struct store_sharenote *n)
{
	struct about *x = arg;

	if (n->owner == x->owner && n->mailbox == x->mailbox && x->n < STORE_SHARENOTE_MAX)
		x->seq[x->n++] = n->seq;
}

static int about_drop_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct about *x = arg;
	char key[64];
	int rc;

	for (size_t i = 0; i < x->n; i++) {
		note_key(key, x->account, x->seq[i]);
		if ((rc = store_meta_del_txn(st, txn, key)) != 0)
			return rc;
	}
	return 0;
}

int store_sharenote_drop_about(struct store *st, uint32_t account, uint32_t owner,
			       uint32_t mailbox)
{
	struct about *x = xcalloc(1, sizeof *x);
	uint64_t ms;
	int rc;

	x->owner = owner;
	x->mailbox = mailbox;
	x->account = account;
	/* At most STORE_SHARENOTE_MAX records: read, then dropped in one
	 * write (one that came between is kept, as if it came after). */
	if ((rc = store_sharenote_list(st, account, about_cb, x)) == STORE_OK && x->n &&
	    (rc = store_write(st, about_drop_fn, x)) == STORE_OK &&
	    store_account_modseq(st, account, &ms) == STORE_OK)
		store_publish_change(st, account, ms); /* ShareNotification's state moved */
	free(x);
	return rc;
}
