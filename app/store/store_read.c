/*
 * store_read.c — reading mailboxes and emails.
 *
 * Each function is one short read transaction under maplock (shared) and
 * hands records to a callback while it is open, so data can point straight
 * into the map (zero copy for message bodies) and the transaction never
 * outlives the call. A callback may call other store read functions; it
 * must not write (see store_private.h).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/msort.h"
#include "core/str.h"
#include "core/unorm.h"
#include "core/xalloc.h"
#include "store/store_private.h"

/* 1 when key k starts with the prefix. */
static int has_prefix(const MDB_val *k, const uint8_t *p, size_t n)
{
	return k->mv_size >= n && memcmp(k->mv_data, p, n) == 0;
}

static int account_exists(MDB_txn *txn, struct store *st, uint32_t account)
{
	uint8_t kb[4];
	MDB_val k = key_u32(kb, account), v;
	return mdb_get(txn, st->db[DB_PRINCIPAL], &k, &v);
}

int store_mailbox_recent(struct store *st, uint32_t account, uint32_t mailbox,
			 uint32_t *first_r, uint32_t *uidnext_r)
{
	struct mbox_rec m;
	MDB_txn *txn;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mbox_get(txn, st, account, mailbox, &m);
	store_rd_end(st, txn);
	if (rc == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc)
		return STORE_ETEMP;
	/* A claim still on its way to the writer counts already. */
	uint32_t upto = store_recent_pending(st, account, mailbox);
	if (upto > m.uidnext)
		upto = m.uidnext;
	*first_r = upto > m.first_recent ? upto : m.first_recent;
	*uidnext_r = m.uidnext;
	return STORE_OK;
}

/* A name stored before names were NFC (store_mailbox_ops.c) is found by
 * any canonically equivalent spelling; an exact match comes first. */
int store_mailbox_find(struct store *st, uint32_t account, const char *name, uint32_t *mailbox_r)
{
	int inbox = str_eq_ci_c(str_c(name), "INBOX");
	/* "inbox/x" is INBOX's child "INBOX/x", as CREATE stored it
	 * (store_mailbox_ops.c): INBOX is case-insensitive as a prefix too. */
	int under_inbox = strncasecmp(name, "INBOX/", 6) == 0;
	struct mbox_rec m;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k = key_u32_u32(pfx, account, 0), v;
	int rc, found = 0;
	size_t nlen = strlen(name);
	uint32_t equiv = 0;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && has_prefix(&k, pfx, 4);
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if ((rc = mbox_dec(&v, &m)) != 0)
				break;
			int same = inbox         ? m.role == ROLE_INBOX
				   : under_inbox ? strncmp(m.name, "INBOX/", 6) == 0 &&
						       strcmp(m.name + 6, name + 6) == 0
						 : strcmp(m.name, name) == 0;
			if (same) {
				*mailbox_r = be32_get((uint8_t *)k.mv_data + 4);
				found = 1;
				break;
			}
			if (!equiv && !inbox &&
			    (under_inbox ? strncmp(m.name, "INBOX/", 6) == 0 &&
						   unorm_equal(m.name + 6, strlen(m.name + 6), name + 6,
							       nlen - 6)
					 : unorm_equal(m.name, strlen(m.name), name, nlen)))
				equiv = be32_get((uint8_t *)k.mv_data + 4);
		}
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	if (!found && equiv && (rc == 0 || rc == MDB_NOTFOUND)) {
		*mailbox_r = equiv;
		return STORE_OK;
	}
	if (found)
		return STORE_OK;
	return rc == 0 || rc == MDB_NOTFOUND ? STORE_ENOTFOUND : STORE_ETEMP;
}

/* Tells cb about the mailbox id whose record is m: its info with the
 * subscription and counts read in txn. 0 or an LMDB code. */
static int mailbox_emit(struct store *st, MDB_txn *txn, uint32_t account, uint32_t id,
			const struct mbox_rec *m, store_mailbox_cb *cb, void *arg)
{
	struct store_mailbox_info info = {
	    .id = id,
	    .name = m->name,
	    .role = mbox_role_name(m->role),
	    .uidvalidity = m->uidvalidity,
	    .uidnext = m->uidnext,
	    .highest_modseq = m->highest_modseq,
	    .messages = m->messages,
	    .parent = m->parent,
	    .subscribed = 0,
	    .first_recent = m->first_recent,
	    .sort_order = m->sort_order,
	};
	/* A \Recent claim on its way to the writer counts already. */
	uint32_t upto = store_recent_pending(st, account, info.id);
	if (upto > info.first_recent)
		info.first_recent = upto < m->uidnext ? upto : m->uidnext;
	/* The record's own flag is unread since schema 5. */
	int sub = sub_has(txn, st, account, m->name);
	if (sub != 0 && sub != 1)
		return sub;
	info.subscribed = sub;
	uint32_t cnt[4];
	int rc = counts_mailbox_get(txn, st, account, info.id, cnt);
	if (rc)
		return rc;
	info.total_emails = cnt[0];
	info.unread_emails = cnt[1];
	info.total_threads = cnt[2];
	info.unread_threads = cnt[3];
	cb(arg, &info);
	return 0;
}

int store_mailbox_list(struct store *st, uint32_t account, store_mailbox_cb *cb, void *arg)
{
	struct mbox_rec m;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k = key_u32_u32(pfx, account, 0), v;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = account_exists(txn, st, account);
	if (rc == 0)
		rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && has_prefix(&k, pfx, 4);
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if ((rc = mbox_dec(&v, &m)) != 0)
				break;
			if ((rc = mailbox_emit(st, txn, account, be32_get((uint8_t *)k.mv_data + 4), &m,
					       cb, arg)) != 0)
				break;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_mailbox_get(struct store *st, uint32_t account, uint32_t mailbox, store_mailbox_cb *cb,
		      void *arg)
{
	struct mbox_rec m;
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = mbox_get(txn, st, account, mailbox, &m);
	if (rc == 0)
		rc = mailbox_emit(st, txn, account, mailbox, &m, cb, arg);
	store_rd_end(st, txn);
	return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : store_mdb_code(rc);
}

int store_email_list(struct store *st, uint32_t account, uint32_t mailbox, store_email_cb *cb,
                     void *arg)
{
	struct mbox_rec m;
	struct email_rec e;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[12], ek[8];
	MDB_val k = key_u32_u32_u32(pfx, account, mailbox, 0), v, ekey, ev;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mbox_get(txn, st, account, mailbox, &m);
	if (rc == 0)
		rc = mdb_cursor_open(txn, st->db[DB_UID], &cur);
	if (rc == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && has_prefix(&k, pfx, 8);
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			if (k.mv_size != 12 || v.mv_size < 5 ||
			    ((uint8_t *)v.mv_data)[0] != REC_V1) {
				rc = MDB_CORRUPTED;
				break;
			}
			uint32_t email_id = be32_get((uint8_t *)v.mv_data + 1);
			ekey = key_u32_u32(ek, account, email_id);
			if ((rc = mdb_get(txn, st->db[DB_EMAIL], &ekey, &ev)) != 0 ||
			    (rc = email_dec(&ev, &e)) != 0) {
				rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
				break;
			}
			struct store_email_info info;
			email_info_fill(&info, &e, email_id, be32_get((uint8_t *)k.mv_data + 8), &v);
			cb(arg, &info);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/*
 * An email's record and its blob's bytes, in txn. The blob value starts
 * with its version byte; *blob_r is left pointing past it.
 */
int email_with_blob(struct store *st, MDB_txn *txn, uint32_t account, uint32_t email_id,
                    struct email_rec *e, MDB_val *blob_r, uint64_t *seq_r)
{
	uint8_t ek[8];
	MDB_val k = key_u32_u32(ek, account, email_id), v;
	int rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v);

	if (rc == 0)
		rc = email_dec(&v, e);
	if (rc != 0)
		return rc;
	rc = blob_get(txn, st, e->blob_id, blob_r, seq_r);
	if (rc == MDB_NOTFOUND)
		return MDB_CORRUPTED; /* an email always has its blob */
	return rc;
}

int store_email_raw(struct store *st, uint32_t account, uint32_t email_id, store_raw_cb *cb,
                    void *arg)
{
	struct email_rec e;
	MDB_txn *txn;
	MDB_val v;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = email_with_blob(st, txn, account, email_id, &e, &v, NULL);
	if (rc == 0)
		cb(arg, (const char *)v.mv_data, v.mv_size);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_email_content(struct store *st, uint32_t account, uint32_t email_id,
			store_content_cb *cb, void *arg)
{
	return store_email_hold(st, account, email_id, cb, arg, NULL); /* store_hold.c */
}

int store_email_envelope(struct store *st, uint32_t account, uint32_t email_id, store_raw_cb *cb,
                         void *arg)
{
	MDB_txn *txn;
	uint8_t ek[8];
	MDB_val k = key_u32_u32(ek, account, email_id), v;
	int rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = mdb_get(txn, st->db[DB_ENVELOPE], &k, &v);
	if (rc == 0 && (v.mv_size < 1 || ((uint8_t *)v.mv_data)[0] != REC_V1))
		rc = MDB_CORRUPTED;
	if (rc == 0)
		cb(arg, (const char *)v.mv_data + 1, v.mv_size - 1);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_account_modseq(struct store *st, uint32_t account, uint64_t *modseq_r)
{
	struct acct_rec a;
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = acct_get(txn, st, account, &a);
	store_rd_end(st, txn);
	if (rc == 0)
		*modseq_r = a.modseq;
	return store_mdb_code(rc);
}

/* Orders entry indexes by account (msort_cmp; ctx: the accounts). */
static int by_account(const void *ctx, uint32_t a, uint32_t b)
{
	const uint32_t *accounts = ctx;
	return accounts[a] < accounts[b] ? -1 : accounts[a] > accounts[b];
}

/* Entries whose order is kept on the stack (a delivery to one domain's
 * few recipients); more take one allocation. */
#define QUOTA_ORDER_STACK 32

int quota_fits_txn(MDB_txn *txn, struct store *st, const uint32_t *accounts, size_t n,
		   const struct store_target *targets, uint64_t len)
{
	size_t fits = 0, over = 0, toobig = 0;
	uint32_t stack[QUOTA_ORDER_STACK];
	int rc = 0;

	/* An account's copies are found by sorting the entries by account
	 * (n log n) rather than by looking for each one's first entry and
	 * then its others (n squared: 10^8 steps for TERN_SMTP_MAX_RECIPIENTS
	 * of one domain, inside the writer's transaction that holds every
	 * other delivery). */
	uint32_t *order = n <= QUOTA_ORDER_STACK ? stack : xmalloc(n * sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	msort_u32(order, n, by_account, accounts);
	for (size_t i = 0; i < n;) {
		uint32_t account = accounts[order[i]];
		/* What the account is charged: each of its copies (a Sieve
		 * :copy into another mailbox is an email of its own). */
		uint64_t charge = 0, largest = 0;
		for (; i < n && accounts[order[i]] == account; i++) {
			const struct store_target *t = targets ? &targets[order[i]] : NULL;
			uint64_t one = t && t->bytes ? t->bytes->len : len;
			charge += one;
			largest = one > largest ? one : largest;
		}
		struct acct_rec a;
		rc = acct_get(txn, st, account, &a);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue; /* deleted meanwhile: nothing is stored for it */
		}
		if (rc)
			break;
		explicit_bzero(a.hash, sizeof a.hash);
		if (a.quota == 0 || a.used + charge <= a.quota)
			fits++;
		else if (largest > a.quota)
			toobig++;
		else
			over++;
	}
	if (order != stack)
		free(order);
	if (rc)
		return rc;
	if (fits > 0 || over + toobig == 0)
		return 0;
	return over ? STORE_EQUOTA : STORE_ETOOBIG;
}

int store_quota_fits(struct store *st, const uint32_t *accounts, size_t n, uint64_t len)
{
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = quota_fits_txn(txn, st, accounts, n, NULL, len);
	store_rd_end(st, txn);
	return rc == STORE_EQUOTA || rc == STORE_ETOOBIG ? rc : store_mdb_code(rc);
}

int store_account_usage(struct store *st, uint32_t account, uint64_t *quota_r, uint64_t *used_r)
{
	struct acct_rec a;
	MDB_txn *txn;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = acct_get(txn, st, account, &a);
	store_rd_end(st, txn);
	if (rc == 0) {
		*quota_r = a.quota;
		*used_r = a.used;
	}
	return store_mdb_code(rc);
}
