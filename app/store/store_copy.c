/*
 * store_copy.c — IMAP COPY and MOVE (RFC 9051 §6.4.7, RFC 6851) and
 * JMAP's mailboxIds changes in the data model of DESIGN.md §4.
 *
 * IMAP COPY (STORE_COPY_NEW) makes a new email per message, on the same
 * stored bytes (one more blob reference, nothing copied): the copy is a
 * message of its own, whose flags change apart from the original's
 * (RFC 9051 §6.4.7; Dovecot and Cyrus do so, and a STORE on a copy that
 * showed on the original broke imaptest-style checks). It shows the
 * source's EMAILID (email_rec.origin, RFC 8474 §5.1) and counts against
 * the quota as a new message, as Dovecot counts a copy; a COPY past the
 * quota fails whole (STORE_EQUOTA). The source does not change.
 *
 * MOVE, and a copy without STORE_COPY_NEW (JMAP: one Email in several
 * mailboxes, RFC 8621 §4.1.1), is a new membership (target mailbox, new
 * UID) of the same email: it keeps its identity, so its keywords are
 * shared by all its memberships, except \Deleted: that flag is the
 * membership's (store_flags.c says why), and the new one starts with the
 * source's. Emails older builds copied this way stay shared.
 *
 * One write transaction through store_write_grouped() (call it from a
 * worker, never a loop; it joins the writer's group commit): the new
 * emails or memberships and, for a move, the removal of the old ones
 * commit together, so a client never sees a moved message in both
 * mailboxes or in neither. One change record at one new modseq (another
 * per 65535 entries) lists a kind "email created" entry per new email, a
 * kind "email updated" entry per new membership and, for a move, one per
 * removed membership; each email changed takes that modseq, and so does
 * every mailbox it is in (CONDSTORE's HIGHESTMODSEQ stays above the
 * MODSEQ of every message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "store/store_private.h"

#define CHANGE_ENTRIES_MAX 65535u
#define CHANGE_ENTRY_SIZE 13u

struct touched {
	uint32_t id;
	struct mbox_rec m;
};

struct copy_ctx {
	uint32_t account, from, uidvalidity, to;
	int move;
	int all;   /* STORE_COPY_ALL: a uid gone fails the whole copy */
	int fresh; /* STORE_COPY_NEW: each copy is an email of its own */
	const uint32_t *uids;
	size_t n;
	struct store_copy_result *r;
	/* per run */
	struct acct_rec a;
	struct touched *t;
	size_t nt, capt;
	uint8_t *crec;
	size_t nentries;
	uint64_t modseq;
	uint32_t *emails; /* the email of each new membership (r->n of them), for the Junk hook */
	uint32_t last_email;
};

/* The mailbox record of id, read once per run and written at the end. */
static int touch(struct store *st, MDB_txn *txn, struct copy_ctx *c, uint32_t id,
		 struct mbox_rec **m_r)
{
	for (size_t i = 0; i < c->nt; i++)
		if (c->t[i].id == id)
			return *m_r = &c->t[i].m, 0;
	if (c->nt == c->capt) {
		c->capt = c->capt ? c->capt * 2 : 8;
		c->t = xrealloc(c->t, c->capt * sizeof(*c->t));
	}
	int rc = mbox_get(txn, st, c->account, id, &c->t[c->nt].m);
	if (rc)
		return rc;
	c->t[c->nt].id = id;
	*m_r = &c->t[c->nt++].m;
	return 0;
}

static int flush_changes(struct store *st, MDB_txn *txn, struct copy_ctx *c)
{
	uint8_t kb[12];

	if (c->nentries == 0)
		return 0;
	c->crec[0] = REC_V1;
	be16_put(c->crec + 1, (uint16_t)c->nentries);
	MDB_val k = key_u32_u64(kb, c->account, c->modseq);
	MDB_val v = {3 + c->nentries * CHANGE_ENTRY_SIZE, c->crec};
	c->nentries = 0;
	return mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0);
}

static int add_entry(struct store *st, MDB_txn *txn, struct copy_ctx *c, unsigned kind,
		     uint32_t email_id, uint32_t mailbox, uint32_t uid)
{
	uint8_t *e = c->crec + 3 + c->nentries * CHANGE_ENTRY_SIZE;
	e[0] = (uint8_t)kind;
	be32_put(e + 1, email_id);
	be32_put(e + 5, mailbox);
	be32_put(e + 9, uid);
	if (++c->nentries == CHANGE_ENTRIES_MAX) {
		int rc = flush_changes(st, txn, c);
		c->modseq = ++c->a.modseq;
		return rc;
	}
	return 0;
}

/*
 * What the spam filter saw of the sender of email (spamfrom/, only for
 * mail tern received on port 25), given to its copy id too: a lesson on
 * the copy corrects the sender's reputation as one on the original
 * would (a client without MOVE files to Junk by COPY, then EXPUNGE of
 * the original, which drops the original's record). It goes with the
 * copy (spam_email_drop_txn). A third line names the email tern received
 * (the origin: the source, or the source's own origin when the source is
 * a copy): a lesson on any copy is the origin's lesson too (spam_learn.h),
 * so copying a message into Junk, expunging the copy and copying it again
 * counts once, as a MOVE does.
 */
static int copy_spam_from(struct store *st, MDB_txn *txn, uint32_t account, uint32_t email,
			  uint32_t id)
{
	char name[48];
	MDB_val k = {(size_t)snprintf(name, sizeof name, "spamfrom/%u/%u", account, email), name},
		v;
	int rc = mdb_get(txn, st->db[DB_META], &k, &v);

	if (rc)
		return rc == MDB_NOTFOUND ? 0 : rc;
	/* Out of the map before the put may move pages. */
	uint8_t *val = xmalloc(v.mv_size + 12);
	memcpy(val, v.mv_data, v.mv_size);
	MDB_val nv = {v.mv_size, val};
	const uint8_t *nl = memchr(val, '\n', v.mv_size);
	if (nl && !memchr(nl + 1, '\n', v.mv_size - (size_t)(nl + 1 - val)))
		nv.mv_size += (size_t)snprintf((char *)val + v.mv_size, 12, "\n%u", email);
	k.mv_size = (size_t)snprintf(name, sizeof name, "spamfrom/%u/%u", account, id);
	rc = mdb_put(txn, st->db[DB_META], &k, &nv, 0);
	free(val);
	return rc;
}

/*
 * IMAP COPY (STORE_COPY_NEW): a new email of its own in the target, made
 * from email_id with the same bytes (one more reference to the blob, no
 * data copied), received date, thread and, for a start, keywords and
 * \Deleted (uflags). From then on its flags are its own: RFC 9051 §6.4.7
 * makes the copy a message of its own, and a STORE on it must not show
 * up on the original (Dovecot and Cyrus keep flags per mailbox message).
 * It keeps the source's EMAILID (origin; RFC 8474 §5.1) and counts
 * against the quota as a new message (as Dovecot counts a copy); the
 * caller refuses the whole COPY when the account goes over it. The
 * source email is not touched: no new modseq for it.
 */
static int copy_new(struct store *st, MDB_txn *txn, struct copy_ctx *c, uint32_t email_id,
		    unsigned uflags, uint32_t nuid)
{
	uint8_t kb[12], urec[UID_REC_MAX], member[8];
	struct email_rec e;
	struct blobref_rec br;
	uint8_t *copy;
	MDB_val k = key_u32_u32(kb, c->account, email_id);
	int rc = email_get_copy(txn, st, &k, &e, &copy);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	uint32_t id = c->a.next_email_id++;
	c->a.emails++;
	c->a.used += e.size;
	if (!e.origin)
		e.origin = email_id; /* a copy of a copy shows the first one's */
	be32_put(member, c->to);
	be32_put(member + 4, nuid);
	e.members = member;
	e.nmembers = 1;
	e.modseq = c->modseq;
	k = key_u32_u32(kb, c->account, id);
	rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		rc = MDB_CORRUPTED;
	if (rc == 0) {
		/* Counters, thread index and blobown: an email created. */
		struct email_shape shape;
		email_shape_of(&shape, &e);
		rc = counts_email(txn, st, c->account, id, NULL, &shape);
		email_shape_free(&shape);
	}
	if (rc == 0 && (rc = blobref_get(txn, st, e.blob_id, &br)) == 0) {
		br.refs++;
		rc = blobref_put(txn, st, e.blob_id, &br);
	} else if (rc == MDB_NOTFOUND) {
		rc = MDB_CORRUPTED; /* an email whose bytes are gone */
	}
	free(copy);
	if (rc || (rc = copy_spam_from(st, txn, c->account, email_id, id)) != 0)
		return rc;
	/* The copy's save date (IMAP SAVEDATE) is now. */
	k = key_u32_u32_u32(kb, c->account, c->to, nuid);
	MDB_val v = {uid_rec_encode(urec, id, (int64_t)time(NULL), uflags), urec};
	if ((rc = mdb_put(txn, st->db[DB_UID], &k, &v, MDB_NOOVERWRITE)) != 0)
		return rc == MDB_KEYEXIST ? MDB_CORRUPTED : rc;
	c->last_email = id;
	return add_entry(st, txn, c, CHANGE_EMAIL_CREATED, id, c->to, nuid);
}

/* Copies (moves) one membership; *new_uid_r 0 when the uid is gone. */
static int copy_one(struct store *st, MDB_txn *txn, struct copy_ctx *c, uint32_t uid,
		    uint32_t *new_uid_r)
{
	uint8_t kb[12], urec[UID_REC_MAX];
	MDB_val k = key_u32_u32_u32(kb, c->account, c->from, uid), v;
	struct mbox_rec *from, *to;
	int rc = mdb_get(txn, st->db[DB_UID], &k, &v);

	*new_uid_r = 0;
	if (rc == MDB_NOTFOUND)
		return 0; /* expunged meanwhile */
	if (rc)
		return rc;
	if (v.mv_size < 5 || ((uint8_t *)v.mv_data)[0] != REC_V1)
		return MDB_CORRUPTED;
	uint32_t email_id = be32_get((uint8_t *)v.mv_data + 1);
	c->last_email = email_id;
	/* The copy keeps the source's membership flags (\Deleted), as RFC
	 * 9051 asks of COPY's flags and RFC 6851 of MOVE's. */
	unsigned uflags = uid_rec_flags(&v);
	if (c->move && (rc = mdb_del(txn, st->db[DB_UID], &k, NULL)) != 0)
		return rc;
	if ((rc = touch(st, txn, c, c->to, &to)) != 0)
		return rc;
	uint32_t nuid = to->uidnext++;
	to->messages++;
	if (c->fresh && !c->move) {
		if ((rc = copy_new(st, txn, c, email_id, uflags, nuid)) == 0)
			*new_uid_r = nuid;
		return rc;
	}
	/* The copy's save date (IMAP SAVEDATE) is now. */
	k = key_u32_u32_u32(kb, c->account, c->to, nuid);
	v = (MDB_val){uid_rec_encode(urec, email_id, (int64_t)time(NULL), uflags), urec};
	if ((rc = mdb_put(txn, st->db[DB_UID], &k, &v, MDB_NOOVERWRITE)) != 0)
		return rc == MDB_KEYEXIST ? MDB_CORRUPTED : rc;
	if ((rc = add_entry(st, txn, c, CHANGE_EMAIL_UPDATED, email_id, c->to, nuid)) != 0)
		return rc;
	if (c->move) {
		if ((rc = touch(st, txn, c, c->from, &from)) != 0)
			return rc;
		if (from->messages)
			from->messages--;
		if ((rc = add_entry(st, txn, c, CHANGE_EMAIL_UPDATED, email_id, c->from, uid)) != 0)
			return rc;
	}

	/* The email record: memberships and modseq. Copied before the
	 * rewrite, which may reuse the page its decoded pointers point to. */
	k = key_u32_u32(kb, c->account, email_id);
	struct email_rec e;
	uint8_t *copy;
	if ((rc = email_get_copy(txn, st, &k, &e, &copy)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (e.nmembers == UINT16_MAX) {
		free(copy);
		return STORE_EINVAL;
	}
	struct email_shape before, after;
	email_shape_of(&before, &e);
	uint8_t *mem = xmalloc(((size_t)e.nmembers + 1) * 8);
	uint16_t nm = 0;
	for (uint16_t i = 0; i < e.nmembers; i++) {
		const uint8_t *mp = e.members + (size_t)i * 8;
		if (c->move && be32_get(mp) == c->from && be32_get(mp + 4) == uid)
			continue;
		memcpy(mem + (size_t)nm * 8, mp, 8);
		nm++;
		/* Every mailbox holding the email shows its new modseq. */
		if ((rc = touch(st, txn, c, be32_get(mp), &from)) != 0 && rc != MDB_NOTFOUND)
			break;
		rc = 0;
	}
	if (rc == 0) {
		be32_put(mem + (size_t)nm * 8, c->to);
		be32_put(mem + (size_t)nm * 8 + 4, nuid);
		e.members = mem;
		e.nmembers = (uint16_t)(nm + 1);
		e.modseq = c->modseq;
		rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
	}
	if (rc == 0) {
		email_shape_of(&after, &e);
		rc = counts_email(txn, st, c->account, email_id, &before, &after);
		email_shape_free(&after);
	}
	email_shape_free(&before);
	free(mem);
	free(copy);
	if (rc == 0)
		*new_uid_r = nuid;
	return rc;
}

static int copy_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct copy_ctx *c = arg;
	struct mbox_rec *from, *to;
	int rc;

	c->nt = 0;
	c->nentries = 0;
	c->r->n = 0;
	if ((rc = acct_get(txn, st, c->account, &c->a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_EINVAL : rc;
	if ((rc = touch(st, txn, c, c->from, &from)) != 0)
		return rc == MDB_NOTFOUND ? STORE_EINVAL : rc;
	if (from->uidvalidity != c->uidvalidity)
		return STORE_EINVAL;
	if ((rc = touch(st, txn, c, c->to, &to)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	c->r->uidvalidity = to->uidvalidity;
	c->modseq = ++c->a.modseq;
	for (size_t i = 0; i < c->n; i++) {
		uint32_t nuid;
		if ((rc = copy_one(st, txn, c, c->uids[i], &nuid)) != 0)
			return rc;
		if (!nuid && c->all)
			return STORE_EGONE; /* the nested transaction is dropped */
		/* A COPY the quota cannot take fails whole (RFC 9208 §4.3:
		 * NO [OVERQUOTA]); the nested transaction is dropped. */
		if (nuid && c->fresh && c->a.quota && c->a.used > c->a.quota)
			return STORE_EQUOTA;
		if (nuid) {
			c->emails[c->r->n] = c->last_email;
			c->r->src_uids[c->r->n] = c->uids[i];
			c->r->dst_uids[c->r->n++] = nuid;
		}
		__atomic_store_n(&c->r->done, i + 1, __ATOMIC_RELAXED);
	}
	if (c->r->n == 0)
		return 0; /* every uid was gone: nothing was written */
	if ((rc = flush_changes(st, txn, c)) != 0)
		return rc;
	for (size_t i = 0; i < c->nt; i++) {
		/* A COPY of emails of their own leaves the source as it was. */
		if (c->fresh && !c->move && c->t[i].id != c->to)
			continue;
		c->t[i].m.highest_modseq = c->a.modseq;
		if ((rc = mbox_put(txn, st, c->account, c->t[i].id, &c->t[i].m)) != 0)
			return rc;
	}
	c->r->modseq = c->a.modseq;
	return acct_put(txn, st, c->account, &c->a);
}

/* The context of one copy (store_email_copy and its async form alike);
 * move carries the STORE_COPY_* bits. */
static struct copy_ctx copy_ctx_make(uint32_t account, uint32_t from, uint32_t uidvalidity,
				     const uint32_t *uids, size_t n, uint32_t to, int move,
				     struct store_copy_result *r)
{
	return (struct copy_ctx){
	    .account = account,
	    .from = from,
	    .uidvalidity = uidvalidity,
	    .to = to,
	    .move = move & 1,
	    .all = !!(move & STORE_COPY_ALL),
	    .fresh = !!(move & STORE_COPY_NEW),
	    .uids = uids,
	    .n = n,
	    .r = r,
	};
}

/* Its buffers: the change record (two entries a message, at most one
 * record's worth a run) and the emails of the new memberships. */
static void copy_ctx_buffers(struct copy_ctx *c)
{
	size_t per = 2 * c->n < CHANGE_ENTRIES_MAX ? 2 * c->n : CHANGE_ENTRIES_MAX;
	c->crec = xmalloc(3 + (per ? per : 1) * CHANGE_ENTRY_SIZE);
	c->emails = xmalloc((c->n + 1) * sizeof(uint32_t));
}

/* After the copy's transactions (rc their result): its buffers freed;
 * what it did announced (a change to the account's watchers, and with
 * lesson the Junk hook's), or r->n set to 0 when it failed. */
static void copy_ctx_end(struct store *st, struct copy_ctx *c, int rc, int lesson)
{
	free(c->crec);
	free(c->t);
	if (rc != STORE_OK) {
		c->r->n = 0;
	} else if (c->r->n) {
		store_publish_change(st, c->account, c->r->modseq);
		if (lesson)
			store_junk_notify(st, c->account, c->from, c->to, c->emails, c->r->n);
	}
	free(c->emails);
}

int store_email_copy(struct store *st, uint32_t account, uint32_t from, uint32_t uidvalidity,
		     const uint32_t *uids, size_t n, uint32_t to, int move,
		     struct store_copy_result *r)
{
	struct copy_ctx c = copy_ctx_make(account, from, uidvalidity, uids, n, to, move, r);

	memset(r, 0, sizeof(*r));
	if (n > 0 && !uids)
		return STORE_EINVAL;
	r->src_uids = xmalloc((n + 1) * sizeof(uint32_t));
	r->dst_uids = xmalloc((n + 1) * sizeof(uint32_t));
	copy_ctx_buffers(&c);
	int rc = n ? store_write_grouped(st, copy_fn, &c) : STORE_OK;
	copy_ctx_end(st, &c, rc, !(move & STORE_COPY_NO_LESSON));
	return rc;
}

void store_copy_result_free(struct store_copy_result *r)
{
	free(r->src_uids);
	free(r->dst_uids);
	r->src_uids = r->dst_uids = NULL;
	r->n = 0;
}

/* ---- the same inside the writer's group commit (store_group.c) ---- */

struct copy_async {
	struct store_async a;
	struct copy_ctx c;
	struct store *st;
	int code, lesson;
	store_async_cb *done;
	void *arg;
};

static void copy_finish(struct store_async *as)
{
	struct copy_async *x = (struct copy_async *)as;
	int rc = as->result;

	copy_ctx_end(x->st, &x->c, rc, x->lesson);
	store_async_cb *done = x->done;
	void *arg = x->arg;
	free(x);
	done(arg, rc);
}

void store_email_copy_async(struct store *st, struct loop *loop, uint32_t account, uint32_t from,
			    uint32_t uidvalidity, const uint32_t *uids, size_t n, uint32_t to,
			    int move, struct store_copy_result *r, store_async_cb *done, void *arg)
{
	struct copy_async *x = xcalloc(1, sizeof(*x));

	x->c = copy_ctx_make(account, from, uidvalidity, uids, n, to, move, r);
	x->st = st;
	x->lesson = !(move & STORE_COPY_NO_LESSON);
	x->done = done;
	x->arg = arg;
	x->a.finish = copy_finish;
	memset(r, 0, sizeof(*r));
	r->src_uids = xmalloc((n + 1) * sizeof(uint32_t));
	r->dst_uids = xmalloc((n + 1) * sizeof(uint32_t));
	if (n > 0 && !uids) {
		x->code = STORE_EINVAL;
		store_async_fail(st, &x->a, loop, &x->code);
		return;
	}
	copy_ctx_buffers(&x->c);
	x->a.fn = copy_fn;
	x->a.ctx = &x->c;
	store_async_submit(st, &x->a, loop);
}
