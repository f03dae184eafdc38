/*
 * store_jmap.c — reads JMAP needs beyond IMAP's: the change log as
 * entries, emails by id with their memberships and thread (all of an
 * account's, or one mailbox's for Email/query's inMailbox), and a
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

/* 1 when the memberships of b name mailbox. */
static int brief_in(const struct store_email_brief *b, uint32_t mailbox)
{
	for (size_t k = 0; k < b->nmembers; k++)
		if (be32_get(b->members + k * 8) == mailbox)
			return 1;
	return 0;
}

/* Every email of account in id order to cb, or (mailbox not 0) those
 * with a membership in mailbox: one cursor over the account's records. */
static int emails_walk(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox,
		       store_email_brief_cb *cb, void *arg)
{
	MDB_cursor *cur;
	uint8_t kb[8];
	size_t i = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur)) != 0)
		return rc;
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
		if (!mailbox || brief_in(&b, mailbox))
			cb(arg, i++, &b);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_emails_all(struct store *st, uint32_t account, store_email_brief_cb *cb, void *arg)
{
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = emails_walk(txn, st, account, 0, cb, arg);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The ids of the emails listed in mailbox's uid range, sorted, each once
 * (an email may hold two UIDs of one mailbox): into *ids_r (xmalloc'd,
 * the caller frees it), *n_r of them. 0 or an LMDB error. */
static int mailbox_email_ids(MDB_txn *txn, struct store *st, uint32_t account, uint32_t mailbox,
			     uint32_t **ids_r, size_t *n_r)
{
	MDB_cursor *cur;
	uint8_t pfx[12];
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc, sorted = 1;

	*ids_r = NULL;
	*n_r = 0;
	if ((rc = mdb_cursor_open(txn, st->db[DB_UID], &cur)) != 0)
		return rc;
	MDB_val k = key_u32_u32_u32(pfx, account, mailbox, 0), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size < 5 || p[0] != REC_V1) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		ids[n] = be32_get(p + 1);
		sorted &= n == 0 || ids[n] > ids[n - 1];
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		free(ids);
		return rc;
	}
	/* Emails mostly take ids in the order they take UIDs: sorted as read
	 * unless a copy or a move brought an older one in. */
	if (!sorted) {
		qsort(ids, n, sizeof *ids, cmp_u32);
		size_t w = 1;
		for (size_t i = 1; i < n; i++)
			if (ids[i] != ids[w - 1])
				ids[w++] = ids[i];
		n = w;
	}
	*ids_r = ids;
	*n_r = n;
	return 0;
}

/*
 * Puts cur on email id of account (above at, the email it is on; 0: on
 * none yet) and gives its value. In id order the emails of a mailbox are
 * often most of the account's, one after another: a few MDB_NEXT steps
 * cost less than a lookup from the root, which is taken for a longer gap.
 */
static int email_step(MDB_cursor *cur, uint32_t account, uint32_t id, uint32_t at, MDB_val *v)
{
	uint8_t kb[8];
	MDB_val k;
	int rc;

	if (at && id - at <= 8) {
		while ((rc = mdb_cursor_get(cur, &k, v, MDB_NEXT)) == 0) {
			if (k.mv_size != 8 || be32_get(k.mv_data) != account)
				return MDB_NOTFOUND;
			uint32_t got = be32_get((const uint8_t *)k.mv_data + 4);
			if (got >= id)
				return got == id ? 0 : MDB_NOTFOUND;
		}
		return rc;
	}
	k = key_u32_u32(kb, account, id);
	return mdb_cursor_get(cur, &k, v, MDB_SET_KEY);
}

int store_mailbox_emails(struct store *st, uint32_t account, uint32_t mailbox,
			 store_email_brief_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	uint32_t *ids;
	size_t n, i = 0;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	/* A mailbox holding most of the account (a user who never files
	 * anything: every email in INBOX) costs less by the one walk over
	 * every record than by the uid index and a step or lookup each:
	 * bench-jmap's query_get (an INBOX of all 2,000 emails) took some 8%
	 * more CPU by the index; with 200 of the 2,000 in INBOX, 45% less
	 * than by the walk. */
	struct acct_rec a;
	struct mbox_rec m;
	if ((rc = acct_get(txn, st, account, &a)) != 0 ||
	    (rc = mbox_get(txn, st, account, mailbox, &m)) != 0) {
		store_rd_end(st, txn);
		return rc == MDB_NOTFOUND ? STORE_OK : store_mdb_code(rc); /* no such mailbox: none */
	}
	if ((uint64_t)m.messages * 2 > a.emails) {
		rc = emails_walk(txn, st, account, mailbox, cb, arg);
		store_rd_end(st, txn);
		return store_mdb_code(rc);
	}
	if ((rc = mailbox_email_ids(txn, st, account, mailbox, &ids, &n)) == 0)
		rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur);
	uint32_t at = 0; /* the email the cursor is on, 0 before the first */
	for (size_t j = 0; rc == 0 && j < n; j++) {
		MDB_val v;
		struct email_rec e;
		struct store_email_brief b;
		if ((rc = email_step(cur, account, ids[j], at, &v)) != 0) {
			if (rc == MDB_NOTFOUND)
				rc = MDB_CORRUPTED; /* a uid entry has its email */
			break;
		}
		at = ids[j];
		if ((rc = email_dec(&v, &e)) != 0)
			break;
		brief_fill(&b, ids[j], &e);
		cb(arg, i++, &b);
	}
	if (cur)
		mdb_cursor_close(cur);
	free(ids);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
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
