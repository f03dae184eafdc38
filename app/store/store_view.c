/*
 * store_view.c — reads for a session's snapshot of a mailbox (IMAP's
 * selected mailbox, imap/imap_mailbox_view.c): the whole mailbox, or only
 * what changed since the snapshot was taken.
 *
 * Why: a session re-reads its mailbox after every change of its account
 * (its own APPEND, STORE, EXPUNGE included) and on every SELECT. Reading
 * the whole mailbox is one uid entry and one email record per message, so
 * a 2,000-message INBOX cost more than the command itself. The change log
 * (store_changes.c) names the membership each change went through, so the
 * reads after modseq m are: the records above m, then one uid entry and
 * one email record per membership named, and for an "email updated" entry
 * the email's other memberships of the mailbox (its keywords and modseq
 * changed for every copy), all in one read transaction (the account's
 * modseq, the mailbox record and the changes are one consistent state).
 *
 * Both walks use cursors: a cursor lookup whose key lies on the page the
 * cursor is on already searches only that page (LMDB), and email ids of a
 * mailbox mostly grow with its UIDs, so the full read walks the email
 * records nearly in order instead of descending the tree per message.
 */
#include <string.h>

#include "store/store_private.h"

struct view_txn {
	struct store *st;
	MDB_txn *txn;
	MDB_cursor *uidc, *emailc;
	int email_pos; /* emailc is on a record (email_seek) */
	uint32_t account, mailbox;
};

static int view_begin(struct view_txn *t, struct store *st, uint32_t account, uint32_t mailbox,
		      struct store_view_state *vs)
{
	struct acct_rec a;
	struct mbox_rec m;
	int rc;

	memset(t, 0, sizeof(*t));
	t->st = st;
	t->account = account;
	t->mailbox = mailbox;
	if (store_rd_begin(st, &t->txn) != 0)
		return MDB_PANIC;
	if ((rc = acct_get(t->txn, st, account, &a)) != 0 ||
	    (rc = mbox_get(t->txn, st, account, mailbox, &m)) != 0 ||
	    (rc = mdb_cursor_open(t->txn, st->db[DB_UID], &t->uidc)) != 0 ||
	    (rc = mdb_cursor_open(t->txn, st->db[DB_EMAIL], &t->emailc)) != 0)
		return rc;
	vs->account_modseq = a.modseq;
	vs->uidvalidity = m.uidvalidity;
	vs->uidnext = m.uidnext;
	vs->highest_modseq = m.highest_modseq;
	vs->messages = m.messages;
	return 0;
}

static void view_end(struct view_txn *t)
{
	if (t->emailc)
		mdb_cursor_close(t->emailc);
	if (t->uidc)
		mdb_cursor_close(t->uidc);
	if (t->txn)
		store_rd_end(t->st, t->txn);
}

/*
 * Positions the email cursor on (account, email_id) and gives its value:
 * the emails a mailbox lists usually follow each other, so a few
 * MDB_NEXT steps from the last one are tried before a lookup.
 * *positioned says whether the cursor is on a record yet.
 */
static int email_seek(MDB_cursor *c, int *positioned, uint32_t account, uint32_t email_id,
		      MDB_val *v)
{
	uint8_t ek[8];
	MDB_val want = key_u32_u32(ek, account, email_id), k;
	int rc;

	if (*positioned) {
		for (int step = 0; step < 4; step++) {
			if ((rc = mdb_cursor_get(c, &k, v, MDB_NEXT)) != 0)
				break;
			int cmp = k.mv_size == 8 ? memcmp(k.mv_data, ek, 8) : 1;
			if (cmp == 0)
				return 0;
			if (cmp > 0)
				break;
		}
	}
	k = want;
	rc = mdb_cursor_get(c, &k, v, MDB_SET_KEY);
	*positioned = rc == 0;
	return rc;
}

/* The email of uid entry (k, v) as store_email_info, to cb. */
static int report(struct view_txn *t, const MDB_val *uv, uint32_t uid, store_email_cb *cb,
		  void *arg)
{
	struct email_rec e;
	if (uv->mv_size < 5 || ((const uint8_t *)uv->mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	uint32_t email_id = be32_get((const uint8_t *)uv->mv_data + 1);
	MDB_val v;
	int rc = email_seek(t->emailc, &t->email_pos, t->account, email_id, &v);
	if (rc == 0)
		rc = email_dec(&v, &e);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* a uid entry has its email */
	struct store_email_info info;
	email_info_fill(&info, &e, email_id, uid, uv);
	cb(arg, &info);
	return 0;
}

int store_mailbox_snapshot(struct store *st, uint32_t account, uint32_t mailbox,
			   struct store_view_state *vs, store_email_cb *cb, void *arg)
{
	struct view_txn t;
	uint8_t pfx[12];
	int rc = view_begin(&t, st, account, mailbox, vs);

	if (rc == 0) {
		MDB_val k = key_u32_u32_u32(pfx, account, mailbox, 0), v;
		for (rc = mdb_cursor_get(t.uidc, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
		     rc = mdb_cursor_get(t.uidc, &k, &v, MDB_NEXT))
			if ((rc = report(&t, &v, be32_get((uint8_t *)k.mv_data + 8), cb, arg)) != 0)
				break;
		if (rc == MDB_NOTFOUND || rc == 0)
			rc = 0;
	}
	view_end(&t);
	return rc == MDB_PANIC ? STORE_ETEMP : store_mdb_code(rc);
}

/* uid of mailbox: to cb with its email, or to gone when it is not there. */
static int report_uid(struct view_txn *t, uint32_t uid, store_email_cb *cb,
		      store_gone_cb *gone, void *arg)
{
	uint8_t ub[12];
	MDB_val k = key_u32_u32_u32(ub, t->account, t->mailbox, uid), v;
	int rc = mdb_cursor_get(t->uidc, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND) {
		gone(arg, uid);
		return 0;
	}
	return rc != 0 ? rc : report(t, &v, uid, cb, arg);
}

/*
 * An email changed: its memberships of our mailbox other than skip_uid
 * (0: none skipped). Its keywords and modseq are the email's, shared by
 * every membership, and the change log names only the membership the
 * change went through: one in another mailbox, or another copy in ours
 * (a message copied into a mailbox that already holds it).
 */
static int report_email(struct view_txn *t, uint32_t email_id, uint32_t skip_uid,
			store_email_cb *cb, store_gone_cb *gone, void *arg, size_t *n)
{
	struct email_rec e;
	uint8_t ek[8];
	uint32_t uids[16];
	size_t nu = 0;
	MDB_val k = key_u32_u32(ek, t->account, email_id), v;
	int rc = mdb_cursor_get(t->emailc, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND)
		return 0; /* destroyed: every membership removed is named itself */
	if (rc == 0)
		rc = email_dec(&v, &e);
	if (rc != 0)
		return rc;
	/* Collected first: report() moves the email cursor. */
	for (size_t i = 0; i < e.nmembers; i++)
		if (be32_get(e.members + 8 * i) == t->mailbox &&
		    be32_get(e.members + 8 * i + 4) != skip_uid) {
			if (nu == sizeof(uids) / sizeof(uids[0]))
				return MDB_BAD_VALSIZE; /* unusual: the caller reads everything */
			uids[nu++] = be32_get(e.members + 8 * i + 4);
		}
	for (size_t i = 0; i < nu && rc == 0; i++) {
		rc = report_uid(t, uids[i], cb, gone, arg);
		(*n)++;
	}
	return rc;
}

int store_mailbox_delta(struct store *st, uint32_t account, uint32_t mailbox, uint64_t since,
			size_t max, struct store_view_state *vs, store_email_cb *cb,
			store_gone_cb *gone, void *arg)
{
	struct view_txn t;
	MDB_cursor *chc = NULL;
	uint8_t kb[12];
	size_t n = 0, seen = 0;
	int rc = view_begin(&t, st, account, mailbox, vs);

	if (rc != 0 || vs->account_modseq <= since)
		goto out;
	if ((rc = mdb_cursor_open(t.txn, st->db[DB_CHANGE], &chc)) != 0)
		goto out;
	MDB_val k = key_u32_u64(kb, account, since + 1), v;
	for (rc = mdb_cursor_get(chc, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(chc, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12 || be32_get(k.mv_data) != account)
			break;
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 3 || p[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		size_t ne = be16_get(p + 1);
		if (v.mv_size < 3 + ne * 13) {
			rc = MDB_CORRUPTED;
			break;
		}
		for (size_t i = 0; i < ne && rc == 0; i++) {
			const uint8_t *e = p + 3 + i * 13;
			uint32_t id = be32_get(e + 1), mb = be32_get(e + 5), uid = be32_get(e + 9);
			/* Entries of other mailboxes cost a little each: bounded
			 * too, so a busy neighbour never makes this dearer than
			 * reading the mailbox. */
			if (n >= max || ++seen > 16 * max) {
				rc = MDB_BAD_VALSIZE;
				break;
			}
			if (e[0] < CHANGE_EMAIL_CREATED || e[0] > CHANGE_EMAIL_DESTROYED) {
				/* A mailbox entry: ours changing (a RENAME) needs no
				 * message read; ids are never reused. */
				continue;
			}
			if (mb == mailbox) {
				rc = report_uid(&t, uid, cb, gone, arg);
				n++;
			}
			if (rc == 0 && e[0] == CHANGE_EMAIL_UPDATED)
				rc = report_email(&t, id, mb == mailbox ? uid : 0, cb, gone, arg, &n);
		}
		if (rc != 0)
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	if (chc)
		mdb_cursor_close(chc);
	view_end(&t);
	if (rc == MDB_BAD_VALSIZE)
		return STORE_EEXIST; /* too much changed: the caller reads everything */
	return rc == MDB_PANIC ? STORE_ETEMP : store_mdb_code(rc);
}

/*
 * What a reader of many emails needs from an email record, without
 * decoding the rest (the layout is email_enc()'s, SCHEMA.md).
 */
static int email_peek(const MDB_val *v, const uint8_t **blob_id_r, const void **meta_r,
		      uint32_t *metalen_r)
{
	const uint8_t *p = v->mv_data;
	size_t n = v->mv_size, off = 1 + 32 + 8 + 8 + 8 + 4;

	if (n < off + 2 || p[0] != REC_V1)
		return MDB_CORRUPTED;
	off += 2 + be16_get(p + off); /* keywords */
	if (n < off + 2)
		return MDB_CORRUPTED;
	off += 2 + (size_t)be16_get(p + off) * 8; /* memberships */
	if (n < off + 4)
		return MDB_CORRUPTED;
	uint32_t ml = be32_get(p + off);
	off += 4;
	if (n - off < ml)
		return MDB_CORRUPTED;
	*blob_id_r = p + 1;
	*meta_r = p + off;
	*metalen_r = ml;
	return 0;
}

int store_emails_content(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
			 store_meta_first_cb *mcb, store_contents_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *ec = NULL;
	int rc, positioned = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &ec);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const uint8_t *blob_id;
		const void *meta;
		uint32_t metalen;
		MDB_val v;
		rc = email_seek(ec, &positioned, account, ids[i], &v);
		if (rc == MDB_NOTFOUND) {
			rc = 0; /* expunged meanwhile: skipped */
			continue;
		}
		if (rc == 0)
			rc = email_peek(&v, &blob_id, &meta, &metalen);
		if (rc != 0)
			break;
		if (mcb && mcb(arg, i, metalen ? meta : NULL, metalen))
			continue; /* decided from the record: the bytes are not touched */
		MDB_val b;
		rc = blob_get(txn, st, blob_id, &b, NULL);
		if (rc == MDB_NOTFOUND)
			rc = MDB_CORRUPTED; /* an email always has its blob */
		if (rc == 0)
			cb(arg, i, metalen ? meta : NULL, metalen, (const char *)b.mv_data, b.mv_size);
	}
	if (ec)
		mdb_cursor_close(ec);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}
