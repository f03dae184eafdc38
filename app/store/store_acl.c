/*
 * store_acl.c — who may use another account's mailbox: access control
 * lists (RFC 4314 rights) kept per mailbox (SCHEMA.md, "acl").
 *
 * Records. Each grant is written twice in one transaction:
 *   acl      key u32 owner, u32 mailbox, u32 grantee   value u8 1, u32 rights
 *   acl_rev  key u32 grantee, u32 owner, u32 mailbox   value u8 1, u32 rights
 * so "who may see this mailbox" (GETACL) is one range scan of `acl` on
 * (owner, mailbox) and "what is shared with me" (LIST of the shared
 * namespace) one range scan of `acl_rev` on the grantee. Grantee 0 stands
 * for "anyone": every authenticated account of this server (there is no
 * anonymous login). Rights are a bit set (STORE_ACL_*); a grant of no
 * rights is no record.
 *
 * Rights. store_mailbox_rights() is the one answer to "what may account A
 * do with mailbox (owner, id)": the owner holds every right without a
 * lookup (RFC 4314 §2: implicit rights; nothing stored can take them
 * away, and no record names the owner as grantee), anyone else the union
 * of its own record and anyone's (RFC 4314 §2: the rights of every
 * identifier that applies). A mailbox the account holds no right on is,
 * for it, a mailbox that does not exist (RFC 4314 §6).
 *
 * Lifetime. Records are keyed by ids, not names: RENAME keeps them. A
 * mailbox another account creates (store_mailbox_create_as) starts with a
 * copy of its parent's (acl_copy_txn), as Cyrus and Dovecot do. The
 * DELETE of a mailbox drops its records (acl_drop_mailbox_txn, from
 * store_mailbox_ops.c), the removal of an account both the grants on its
 * mailboxes and the grants made to it (acl_drop_account_txn, from
 * store_admin.c), each of the latter written in its owner's change log
 * as a grant taken away (log_grants_to: the owner's shareWith changes),
 * the owners' change feeds told after the commit (acl_owners_publish).
 * A change of a grant takes, in its commit, the /private
 * METADATA entries of a user left with no right on the mailbox
 * (meta_drop_unentitled, store_metadata.c), writes a Mailbox update of
 * the mailbox in the owner's change log at a new modseq
 * (acl_change_record_txn: JMAP's Mailbox state moves, IMAP's
 * HIGHESTMODSEQ of the mailbox with it, RFC 7162 §3.1.2.1 allowing a
 * modseq to grow with no message changed), and is told on the change
 * feeds of the owner and the grantee once committed (acl_publish_grant).
 * Backups copy every named database, these two with them
 * (store_backup.c). Schema 16 created both, empty (store.c).
 *
 * Notifications. Every change of a grant given to an account leaves a
 * record in the grantee's name in the same transaction (set_fn calls
 * sharenote_add_txn, store_sharenote.c: JMAP's ShareNotification), and
 * the grantee's change feed is told after the commit (acl_publish_grant).
 *
 * The plan this layer serves (IMAP, imap/): one resolver turns a client's
 * mailbox name into (owner, mailbox, rights), own names ("" namespace,
 * rights ALL, no store read) and shared ones ("Shared/" + owner address +
 * "/" + the owner's name) alike (imap_acl_resolve); every command asks
 * the RFC 4314 §4 table (imap_acl_allows) for what it needs, behind one
 * switch (IMAP_ACL_ENABLED) until all of them do; the selected view carries its
 * owner and the session subscribes to that owner's change feed. JMAP
 * sharing (RFC 9670) can read the same records: myRights maps to the
 * same bits.
 *
 * Removal. An account's removal also takes, through its grants and
 * anyone's, its /private METADATA entries on others' mailboxes
 * (acl_drop_account_txn, drop_private_entries).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "store/store_private.h"

/* RFC 4314 §2.1 letters, in the order of the bits. */
static const char acl_letters[] = "lrswipkxtea";

int store_acl_rights_parse(const char *text, size_t len, uint32_t *rights_r)
{
	uint32_t r = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		const char *p = c ? strchr(acl_letters, c) : NULL;
		if (p)
			r |= 1u << (p - acl_letters);
		else if (c == 'c') /* RFC 4314 §2.1.1: the obsolete "create" */
			r |= STORE_ACL_CREATE_OLD;
		else if (c == 'd') /* and "delete" */
			r |= STORE_ACL_DELETE_OLD;
		else
			return STORE_EINVAL;
	}
	*rights_r = r;
	return STORE_OK;
}

int store_acl_change_parse(const char *text, size_t len, int *mode_r, uint32_t *rights_r)
{
	int mode = STORE_ACL_REPLACE;

	if (len && (text[0] == '+' || text[0] == '-')) {
		mode = text[0] == '+' ? STORE_ACL_ADD : STORE_ACL_REMOVE;
		text++;
		len--;
	}
	int rc = store_acl_rights_parse(text, len, rights_r);
	if (rc == STORE_OK)
		*mode_r = mode;
	return rc;
}

int store_acl_identifier(struct store *st, const char *text, uint32_t *grantee_r)
{
	if (strcasecmp(text, "anyone") == 0) {
		*grantee_r = STORE_ACL_ANYONE;
		return STORE_OK;
	}
	return store_account_id(st, text, grantee_r);
}

size_t store_acl_rights_format(uint32_t rights, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz == 0)
		return 0;
	for (size_t i = 0; acl_letters[i] && n + 1 < outsz; i++)
		if (rights & (1u << i))
			out[n++] = acl_letters[i];
	/* RFC 4314 §2.1.1: "c" and "d" shown when any of their members is. */
	if ((rights & STORE_ACL_CREATE_OLD) && n + 1 < outsz)
		out[n++] = 'c';
	if ((rights & STORE_ACL_DELETE_OLD) && n + 1 < outsz)
		out[n++] = 'd';
	out[n] = '\0';
	return n;
}

static uint32_t rec_rights(const MDB_val *v, int *bad)
{
	const uint8_t *p = v->mv_data;

	if (v->mv_size != 5 || p[0] != REC_V1) {
		*bad = 1;
		return 0;
	}
	return be32_get(p + 1) & STORE_ACL_ALL;
}

/* The rights of grantee's record on (owner, mailbox), 0 when none. */
static int acl_get_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox,
		       uint32_t grantee, uint32_t *rights_r)
{
	uint8_t kb[12];
	MDB_val k = key_u32_u32_u32(kb, owner, mailbox, grantee), v;
	int bad = 0, rc = mdb_get(txn, st->db[DB_ACL], &k, &v);

	*rights_r = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	*rights_r = rec_rights(&v, &bad);
	return bad ? MDB_CORRUPTED : 0;
}

int acl_rights_txn(MDB_txn *txn, struct store *st, uint32_t account, uint32_t owner,
		   uint32_t mailbox, uint32_t *rights_r)
{
	uint32_t own = 0, any = 0;
	int rc;

	if (account == owner) {
		*rights_r = STORE_ACL_ALL;
		return 0;
	}
	if ((rc = acl_get_txn(txn, st, owner, mailbox, account, &own)) == 0)
		rc = acl_get_txn(txn, st, owner, mailbox, 0, &any);
	*rights_r = rc ? 0 : own | any;
	return rc;
}

int store_mailbox_rights(struct store *st, uint32_t account, uint32_t owner, uint32_t mailbox,
			 uint32_t *rights_r)
{
	MDB_txn *txn;
	int rc;

	*rights_r = 0;
	if (account == owner) {
		*rights_r = STORE_ACL_ALL;
		return STORE_OK;
	}
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	rc = acl_rights_txn(txn, st, account, owner, mailbox, rights_r);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/* Writes (rights != 0) or removes both records of one grant. */
static int acl_put_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox,
		       uint32_t grantee, uint32_t rights)
{
	uint8_t fk[12], rk[12], val[5];
	MDB_val f = key_u32_u32_u32(fk, owner, mailbox, grantee);
	MDB_val r = key_u32_u32_u32(rk, grantee, owner, mailbox);
	MDB_val v = {sizeof val, val};
	int rc;

	if (rights == 0) {
		rc = mdb_del(txn, st->db[DB_ACL], &f, NULL);
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, st->db[DB_ACL_REV], &r, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	val[0] = REC_V1;
	be32_put(val + 1, rights);
	if ((rc = mdb_put(txn, st->db[DB_ACL], &f, &v, 0)) != 0)
		return rc;
	return mdb_put(txn, st->db[DB_ACL_REV], &r, &v, 0);
}

struct set_ctx {
	uint32_t by, owner, mailbox, grantee, rights;
	int mode; /* STORE_ACL_REPLACE, _ADD, _REMOVE */
	uint32_t now; /* the grant's rights once written */
};

/*
 * The grant's entry in the owner's change log: a Mailbox update of the
 * mailbox (shareWith, RFC 9670 §4, and each grantee's myRights are
 * Mailbox properties), at the owner's next modseq, which the mailbox
 * takes as its highest as a RENAME's does (store_mailbox_ops.c). The
 * entry's mailbox field names the grantee and its uid field the rights
 * before and after (STORE_CHANGE_GRANT, store.h), so that a grantee's
 * view can tell a mailbox it stopped seeing as destroyed and an email
 * it may have started or stopped reading (jmap_share.c).
 */
static int acl_change_record_txn(MDB_txn *txn, struct store *st, uint32_t owner,
				 uint32_t mailbox, uint32_t grantee, struct mbox_rec *m,
				 uint32_t was, uint32_t now)
{
	struct acct_rec a;
	uint8_t kb[12], rec[3 + 13];
	int rc;

	if ((rc = acct_get(txn, st, owner, &a)) != 0)
		return rc;
	a.modseq++;
	rec[0] = REC_V1;
	be16_put(rec + 1, 1);
	rec[3] = CHANGE_MAILBOX_UPDATED;
	be32_put(rec + 4, mailbox);
	be32_put(rec + 8, grantee);
	be32_put(rec + 12, STORE_CHANGE_GRANT | was << 16 | now);
	MDB_val k = key_u32_u64(kb, owner, a.modseq), v = {sizeof rec, rec};
	if ((rc = mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0)) != 0)
		return rc;
	m->highest_modseq = a.modseq;
	if ((rc = mbox_put(txn, st, owner, mailbox, m)) != 0)
		return rc;
	return acct_put(txn, st, owner, &a);
}

int store_change_grant(const struct store_change *sc, uint32_t *grantee_r, uint32_t *was_r,
		       uint32_t *now_r)
{
	if (sc->kind != STORE_CHANGE_MAILBOX_UPDATED || !(sc->uid & STORE_CHANGE_GRANT))
		return 0;
	*grantee_r = sc->mailbox;
	*was_r = sc->uid >> 16 & STORE_ACL_ALL;
	*now_r = sc->uid & STORE_ACL_ALL;
	return 1;
}

static int set_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct set_ctx *c = arg;
	struct mbox_rec m;
	struct acct_rec a;
	int rc;

	if ((rc = mbox_get(txn, st, c->owner, c->mailbox, &m)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if (c->grantee && (rc = acct_get(txn, st, c->grantee, &a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	/* Read and changed in the one transaction: two sessions adding
	 * rights at once both get theirs. */
	uint32_t was = 0;
	if ((rc = acl_get_txn(txn, st, c->owner, c->mailbox, c->grantee, &was)) != 0)
		return rc;
	c->now = c->mode == STORE_ACL_ADD ? was | c->rights
		 : c->mode == STORE_ACL_REMOVE ? was & ~c->rights
					       : c->rights;
	if ((rc = acl_put_txn(txn, st, c->owner, c->mailbox, c->grantee, c->now)) != 0)
		return rc;
	if (c->now != was &&
	    (rc = acl_change_record_txn(txn, st, c->owner, c->mailbox, c->grantee, &m, was,
					c->now)) != 0)
		return rc;
	/* A user left with no right loses its /private entries on the
	 * mailbox in the same commit (store_metadata.c says why). */
	if ((rc = meta_drop_unentitled(txn, st, c->owner, c->mailbox)) != 0)
		return rc;
	return sharenote_add_txn(txn, st, c->by, c->owner, c->mailbox, c->grantee, m.name, was,
				 c->now);
}

/*
 * A grant on owner's mailbox changed: the change feeds of the owner and
 * of the grantee are told, as a commit that changed them would be, the
 * modseqs as they are (the owner's holds the grant's change record; no
 * message changed). The owner's: a session that selected the
 * mailbox or watches it with NOTIFY reads its rights again at once (BYE
 * when "r" went, new FLAGS and PERMANENTFLAGS, LIST \NonExistent when
 * "l" went: imap_select_rights_check, imap_notify_check) instead of at
 * the owner's next change. The grantee's: its NOTIFY learns of a mailbox
 * that became visible although it follows no feed of that owner yet,
 * and its JMAP push of the shared account. For "anyone" only the owner's
 * is told: every account's would wake every session of the server; the
 * others learn it at their next change or NOOP. Every feed subscriber
 * takes an event without a message change as nothing new: IMAP syncs
 * find nothing, JMAP push compares states; a CLI's publish reaches the
 * server through store_xchg.c.
 */
static void acl_publish_grant(struct store *st, uint32_t owner, uint32_t grantee)
{
	uint64_t ms;

	if (store_account_modseq(st, owner, &ms) == STORE_OK)
		store_publish_change(st, owner, ms);
	if (grantee != STORE_ACL_ANYONE && store_account_modseq(st, grantee, &ms) == STORE_OK)
		store_publish_change(st, grantee, ms);
}

int store_acl_modify(struct store *st, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		     int mode, uint32_t rights, uint32_t *now_r)
{
	return store_acl_modify_by(st, owner, owner, mailbox, grantee, mode, rights, now_r);
}

int store_acl_modify_by(struct store *st, uint32_t by, uint32_t owner, uint32_t mailbox,
			uint32_t grantee, int mode, uint32_t rights, uint32_t *now_r)
{
	struct set_ctx c = {by, owner, mailbox, grantee, rights, mode, 0};

	/* The owner's rights are implicit: no record may name it. */
	if (owner == 0 || mailbox == 0 || grantee == owner || (rights & ~STORE_ACL_ALL) ||
	    (mode != STORE_ACL_REPLACE && mode != STORE_ACL_ADD && mode != STORE_ACL_REMOVE))
		return STORE_EINVAL;
	int rc = store_write(st, set_fn, &c);
	if (rc == STORE_OK)
		acl_publish_grant(st, owner, grantee);
	if (rc == STORE_OK && now_r)
		*now_r = c.now;
	return rc;
}

int store_acl_set(struct store *st, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		  uint32_t rights)
{
	return store_acl_modify(st, owner, mailbox, grantee, STORE_ACL_REPLACE, rights, NULL);
}

int store_acl_list(struct store *st, uint32_t owner, uint32_t mailbox, store_acl_cb *cb,
		   void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t pfx[8];
	MDB_val k = key_u32_u32(pfx, owner, mailbox), v;
	size_t plen = mailbox ? 8 : 4; /* mailbox 0: all of the owner's */
	int bad = 0, rc;

	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if ((rc = mdb_cursor_open(txn, st->db[DB_ACL], &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, plen) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *kp = k.mv_data;
			uint32_t r = rec_rights(&v, &bad);
			if (bad) {
				rc = MDB_CORRUPTED;
				break;
			}
			cb(arg, owner, be32_get(kp + 4), be32_get(kp + 8), r);
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

/* store_acl_entries(): the caller's callback, and the mailbox whose
 * owner line went out last. */
struct entries_ctx {
	store_acl_cb *cb;
	void *arg;
	uint32_t told; /* 0: none yet */
};

static void entries_each(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			 uint32_t rights)
{
	struct entries_ctx *e = arg;

	if (e->told != mailbox) {
		e->cb(e->arg, owner, mailbox, owner, STORE_ACL_ALL);
		e->told = mailbox;
	}
	e->cb(e->arg, owner, mailbox, grantee, rights);
}

int store_acl_entries(struct store *st, uint32_t owner, uint32_t mailbox, store_acl_cb *cb,
		      void *arg)
{
	struct entries_ctx e = {cb, arg, 0};

	if (mailbox) { /* the owner even when nothing is granted */
		cb(arg, owner, mailbox, owner, STORE_ACL_ALL);
		e.told = mailbox;
	}
	return store_acl_list(st, owner, mailbox, entries_each, &e);
}

/* One reverse scan: the next (owner, mailbox, rights) of grantee's
 * records from the cursor's position (MDB_NOTFOUND at the end). */
struct rev_scan {
	MDB_cursor *cur;
	uint8_t pfx[4];
	uint32_t owner, mailbox, rights;
	int rc; /* 0 while an entry is held */
};

static void rev_next(struct rev_scan *s, MDB_cursor_op op)
{
	MDB_val k = {4, s->pfx}, v;
	int bad = 0;

	s->rc = mdb_cursor_get(s->cur, &k, &v, op);
	if (s->rc == 0 && (k.mv_size != 12 || memcmp(k.mv_data, s->pfx, 4) != 0))
		s->rc = MDB_NOTFOUND;
	if (s->rc)
		return;
	s->owner = be32_get((const uint8_t *)k.mv_data + 4);
	s->mailbox = be32_get((const uint8_t *)k.mv_data + 8);
	s->rights = rec_rights(&v, &bad);
	if (bad)
		s->rc = MDB_CORRUPTED;
}

static int rev_open(MDB_txn *txn, struct store *st, uint32_t grantee, struct rev_scan *s)
{
	memset(s, 0, sizeof *s);
	if ((s->rc = mdb_cursor_open(txn, st->db[DB_ACL_REV], &s->cur)) != 0)
		return s->rc;
	be32_put(s->pfx, grantee);
	rev_next(s, MDB_SET_RANGE);
	return s->rc == MDB_NOTFOUND ? 0 : s->rc;
}

static int rev_cmp(const struct rev_scan *a, const struct rev_scan *b)
{
	if (a->rc)
		return 1;
	if (b->rc)
		return -1;
	if (a->owner != b->owner)
		return a->owner < b->owner ? -1 : 1;
	return a->mailbox < b->mailbox ? -1 : a->mailbox > b->mailbox;
}

/*
 * Both scans (the account's own grants and anyone's) are in (owner,
 * mailbox) order: merged, each mailbox comes once with the union of its
 * rights. The account's own mailboxes given to anyone are not "shared
 * with" it.
 */
int store_acl_shared_with(struct store *st, uint32_t account, store_acl_cb *cb, void *arg)
{
	MDB_txn *txn;
	struct rev_scan me, any;
	int rc;

	if (account == 0)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	memset(&any, 0, sizeof any);
	if ((rc = rev_open(txn, st, account, &me)) == 0 && (rc = rev_open(txn, st, 0, &any)) == 0) {
		while (me.rc == 0 || any.rc == 0) {
			int d = rev_cmp(&me, &any);
			struct rev_scan *first = d <= 0 ? &me : &any;
			uint32_t owner = first->owner, mailbox = first->mailbox;
			uint32_t rights = (d <= 0 ? me.rights : 0) | (d >= 0 ? any.rights : 0);
			if (owner != account && rights)
				cb(arg, owner, mailbox, account, rights);
			if (d <= 0)
				rev_next(&me, MDB_NEXT);
			if (d >= 0)
				rev_next(&any, MDB_NEXT);
			if ((me.rc && me.rc != MDB_NOTFOUND) || (any.rc && any.rc != MDB_NOTFOUND))
				break;
		}
		rc = me.rc && me.rc != MDB_NOTFOUND	  ? me.rc
		     : any.rc && any.rc != MDB_NOTFOUND ? any.rc
							: 0;
	}
	if (me.cur)
		mdb_cursor_close(me.cur);
	if (any.cur)
		mdb_cursor_close(any.cur);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int acl_copy_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t from, uint32_t to)
{
	MDB_cursor *cur;
	uint8_t pfx[8];
	uint32_t *grant = NULL; /* grantee, rights pairs: read first, as
				 * writing under an open cursor would move it */
	size_t n = 0, cap = 0;
	int bad = 0, rc = mdb_cursor_open(txn, st->db[DB_ACL], &cur);

	if (rc)
		return rc;
	MDB_val k = key_u32_u32(pfx, owner, from), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 8) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint32_t r = rec_rights(&v, &bad);
		if (bad) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grant = xrealloc(grant, cap * 2 * sizeof *grant);
		}
		grant[2 * n] = be32_get((const uint8_t *)k.mv_data + 8);
		grant[2 * n + 1] = r;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = acl_put_txn(txn, st, owner, to, grant[2 * i], grant[2 * i + 1]);
	free(grant);
	return rc;
}

/* Deletes the records of db under prefix (plen octets) and, for each,
 * the twin record in the other database: its key is the same three ids
 * rotated (forward owner,mailbox,grantee <-> reverse grantee,owner,mailbox). */
static int drop_with_twins(MDB_txn *txn, struct store *st, int forward, const uint8_t *prefix,
			   size_t plen)
{
	MDB_dbi db = st->db[forward ? DB_ACL : DB_ACL_REV];
	MDB_dbi twin = st->db[forward ? DB_ACL_REV : DB_ACL];
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, db, &cur);

	if (rc)
		return rc;
	for (;;) {
		MDB_val k = {plen, (void *)prefix}, v;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size != 12 || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		const uint8_t *p = k.mv_data;
		uint32_t a = be32_get(p), b = be32_get(p + 4), c = be32_get(p + 8);
		uint8_t tb[12];
		MDB_val tk = forward ? key_u32_u32_u32(tb, c, a, b) : key_u32_u32_u32(tb, b, c, a);
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		if ((rc = mdb_del(txn, twin, &tk, NULL)) != 0 && rc != MDB_NOTFOUND)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int acl_drop_mailbox_txn(MDB_txn *txn, struct store *st, uint32_t owner, uint32_t mailbox)
{
	uint8_t pfx[8];

	key_u32_u32(pfx, owner, mailbox);
	return drop_with_twins(txn, st, 1, pfx, 8);
}

/*
 * The /private METADATA entries account keeps on other accounts'
 * mailboxes (store_metadata.c: in the owner's key space, so its own
 * removal does not reach them). It keeps them only where it holds a
 * right (meta_drop_unentitled takes them when it loses the last), that
 * is where a grant names it or anyone: its reverse records and anyone's
 * name every mailbox to look at, one seek each. Read before its own
 * grants go.
 */
static int drop_private_entries(MDB_txn *txn, struct store *st, uint32_t account)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, st->db[DB_ACL_REV], &cur);

	if (rc)
		return rc;
	for (int anyone = 0; rc == 0 && anyone < 2; anyone++) {
		uint8_t pfx[4];
		MDB_val k = key_u32(pfx, anyone ? STORE_ACL_ANYONE : account), v;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 4) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *p = k.mv_data;
			uint32_t owner = be32_get(p + 4), mailbox = be32_get(p + 8);
			if (owner != account &&
			    (rc = meta_drop_user_on(txn, st, owner, mailbox, account)) != 0)
				break;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	mdb_cursor_close(cur);
	return rc;
}

/*
 * The grants made to account, each written in its owner's change log as
 * the grant's taking away would be (acl_change_record_txn): the owners'
 * shareWith loses the account, and their Mailbox state moves with it.
 * Read before the grants go; a grant on a mailbox already gone (none
 * should be: DELETE drops its grants) is passed over.
 */
static void owners_add(struct acl_owners *o, uint32_t owner)
{
	/* The reverse records come by owner: a repeat is the last one. */
	if (o->n && o->v[o->n - 1] == owner)
		return;
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 8;
		o->v = xrealloc(o->v, o->cap * sizeof *o->v);
	}
	o->v[o->n++] = owner;
}

static int log_grants_to(MDB_txn *txn, struct store *st, uint32_t account,
			 struct acl_owners *owners)
{
	MDB_cursor *cur;
	uint8_t pfx[4];
	MDB_val k = key_u32(pfx, account), v;
	int rc = mdb_cursor_open(txn, st->db[DB_ACL_REV], &cur);

	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, pfx, 4) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data, *val = v.mv_data;
		uint32_t owner = be32_get(p + 4), mailbox = be32_get(p + 8);
		struct mbox_rec m;
		if (v.mv_size < 5 || owner == account)
			continue;
		if ((rc = mbox_get(txn, st, owner, mailbox, &m)) == MDB_NOTFOUND)
			continue;
		if (rc != 0 || (rc = acl_change_record_txn(txn, st, owner, mailbox, account, &m,
							   be32_get(val + 1), 0)) != 0)
			break;
		owners_add(owners, owner);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int acl_drop_account_txn(MDB_txn *txn, struct store *st, uint32_t account,
			 struct acl_owners *owners)
{
	uint8_t pfx[4];
	int rc;

	if ((rc = drop_private_entries(txn, st, account)) != 0 ||
	    (rc = log_grants_to(txn, st, account, owners)) != 0)
		return rc;
	key_u32(pfx, account);
	if ((rc = drop_with_twins(txn, st, 1, pfx, 4)) != 0)
		return rc;
	return drop_with_twins(txn, st, 0, pfx, 4);
}

/*
 * An owner whose grant to a removed account went has a Mailbox change
 * in its log (log_grants_to) that no commit of its own made: its feed
 * is told as a SETACL's would be, so that its JMAP push (RFC 8620 §7:
 * the Mailbox state moved, shareWith lost the account) and its IMAP
 * sessions learn of it now rather than at its next change. No share
 * notification is written: RFC 9670 §5 records a change of the user's
 * own rights, and an owner's are implicit and unchanged.
 */
void acl_owners_publish(struct store *st, struct acl_owners *owners)
{
	uint64_t ms;

	for (size_t i = 0; i < owners->n; i++)
		if (store_account_modseq(st, owners->v[i], &ms) == STORE_OK)
			store_publish_change(st, owners->v[i], ms);
	free(owners->v);
	memset(owners, 0, sizeof *owners);
}
