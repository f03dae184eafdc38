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
 * Across accounts (store_email_copy_into: IMAP COPY into or out of a
 * mailbox shared with the user) the copy is an email of the target's
 * account made as STORE_COPY_NEW makes one, on one more reference to the
 * same blob (blobs are the store's, not an account's), charged to the
 * target account's quota, in a thread of that account's and with an
 * EMAILID of its own there; the source account is only read. When the
 * caller gives the target's own form of the bytes (store_copy_into.blobs:
 * sealed to the target's key, crypt/crypt_copy.h) the copy is stored on
 * those instead, and charged their size. The flags
 * it starts with are those the user's rights on the target allow. A MOVE
 * between two mailboxes of one owner shared with the user is the
 * ordinary move, the same email, its \Deleted and keywords cut to those
 * rights the same way (RFC 4314 §4).
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
	/* The target's account: account, or another one for a copy into or
	 * out of a shared mailbox (store_email_copy_into_async), always a
	 * copy of emails of their own (fresh, not move). The run's account
	 * record, change record, modseq and touched mailboxes are dst's;
	 * the source account is only read. */
	uint32_t dst;
	/* With kw_filter: the user's rights on the target, and the filter
	 * that keeps the keywords they let the user set (imap_acl.h). */
	uint32_t rights;
	size_t (*kw_filter)(uint32_t rights, char *kw, size_t len);
	/* A fresh copy's own keywords and received date instead of the
	 * source's (store_copy_into: JMAP Email/copy); kw NULL, at 0: the
	 * source's. */
	const char *kw;
	size_t kwlen;
	int64_t received_at;
	/* The bytes each copy is stored as instead of the source's
	 * (store_copy_into.blobs: the target's sealed form), by the index
	 * of its uid (cur, the one being copied); NULL: the source's. */
	const struct store_copy_blob *blobs;
	size_t cur;
	/* A MOVE across accounts (store_copy_into.move): the copied source
	 * messages are expunged in the same transaction; src_modseq is the
	 * source account's modseq after it, for its watchers. */
	int expunge_src;
	uint64_t src_modseq;
	int move;
	uint64_t join; /* a part of a combined write: its modseq (modseq_take) */
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
	int rc = mbox_get(txn, st, c->dst, id, &c->t[c->nt].m);
	if (rc)
		return rc;
	c->t[c->nt].id = id;
	*m_r = &c->t[c->nt++].m;
	return 0;
}

static int flush_changes(struct store *st, MDB_txn *txn, struct copy_ctx *c)
{
	size_t n = c->nentries;

	if (n == 0)
		return 0;
	c->nentries = 0;
	return change_rec_put(st, txn, c->dst, c->modseq, c->crec, n, c->join != 0);
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
 * A copy or move with kw_filter (into a mailbox shared with the user):
 * of the source's \Deleted (uflags) and keywords, those the user's
 * rights on the target let it set (RFC 4314 §4: "s", "t", "w"), as an
 * APPEND there keeps. uflags_by_rights() takes \Deleted off uflags when
 * it may not be set; keywords_by_rights() puts the kept keywords into
 * *kw_r (malloc'ed, the caller frees it) and points e->keywords to them.
 */
static void uflags_by_rights(const struct copy_ctx *c, unsigned *uflags)
{
	char deleted[] = "$deleted";

	if (c->kw_filter && (*uflags & UID_F_DELETED) && c->kw_filter(c->rights, deleted, 8) == 0)
		*uflags &= ~UID_F_DELETED;
}

static void keywords_by_rights(const struct copy_ctx *c, struct email_rec *e, char **kw_r)
{
	*kw_r = NULL;
	if (!c->kw_filter || e->keywords_len == 0)
		return;
	*kw_r = xmalloc(e->keywords_len);
	memcpy(*kw_r, e->keywords, e->keywords_len);
	e->keywords_len = (uint16_t)c->kw_filter(c->rights, *kw_r, e->keywords_len);
	e->keywords = *kw_r;
}

/*
 * A copy into another account starts a thread there of its own or joins
 * one of that account's by its message ids, as a delivery does (thread
 * ids are per account), from the stored bytes, read in place.
 */
static int copy_thread_across(struct store *st, MDB_txn *txn, const struct copy_ctx *c,
			      uint32_t id, struct email_rec *e)
{
	MDB_val bytes;
	int rc = blob_get(txn, st, e->blob_id, &bytes, NULL);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	return thread_assign(txn, st, c->dst, id, bytes.mv_data, bytes.mv_size, 1, &e->thread_id);
}

/* The bytes the copy being made is to be stored as instead of the
 * source's (store_copy_into.blobs), or NULL. */
static const struct store_copy_blob *copy_blob_of(const struct copy_ctx *c)
{
	if (!c->blobs || !c->blobs[c->cur].data)
		return NULL;
	return &c->blobs[c->cur];
}

/*
 * A copy stored as other bytes (the target's sealed form): those bytes
 * stored, or one more reference to them when they are there already,
 * and e made to name them, with their size and MIME structure. Before
 * the thread is assigned, which reads the header from the stored bytes
 * (a sealed message keeps its header fields in the clear).
 */
static int copy_blob_put(struct store *st, MDB_txn *txn, const struct store_copy_blob *nb,
			 struct email_rec *e)
{
	if (nb->len >= UINT32_MAX - 1 || nb->metalen >= UINT32_MAX / 2)
		return STORE_EINVAL;
	int rc = blob_ref(st, txn, nb->id, nb->data, nb->len, 1);
	if (rc)
		return rc;
	memcpy(e->blob_id, nb->id, 32);
	e->size = nb->len;
	e->meta = nb->meta;
	e->metalen = (uint32_t)nb->metalen;
	return 0;
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
	char *kw;
	MDB_val k = key_u32_u32(kb, c->account, email_id);

	/* Keywords given that an email record cannot hold: refused before
	 * anything is read (a return after would leak the record's copy). */
	if (c->kw && c->kwlen > UINT16_MAX)
		return STORE_EINVAL;
	int rc = email_get_copy(txn, st, &k, &e, &copy);
	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	const struct store_copy_blob *nb = copy_blob_of(c);
	if (nb && (rc = copy_blob_put(st, txn, nb, &e)) != 0) {
		free(copy);
		return rc;
	}
	uint32_t id = c->a.next_email_id++;
	c->a.emails++;
	c->a.used += e.size; /* the sealed form's, when it has one */
	if (c->kw) {
		/* Keywords given for the copy replace the source's, and
		 * its \Deleted with them (they name none). */
		e.keywords = c->kw;
		e.keywords_len = (uint16_t)c->kwlen;
		uflags &= ~UID_F_DELETED;
	}
	if (c->received_at)
		e.received_at = c->received_at;
	uflags_by_rights(c, &uflags);
	keywords_by_rights(c, &e, &kw);
	if (c->dst != c->account) {
		/* Another account's EMAILID names one of its own emails: the
		 * copy is a new message there (RFC 8474 §5.1 asks the same id
		 * only within a server's view of one mailbox store). */
		e.origin = 0;
		if ((rc = copy_thread_across(st, txn, c, id, &e)) != 0) {
			free(kw);
			free(copy);
			return rc;
		}
	} else if (!e.origin) {
		e.origin = email_id; /* a copy of a copy shows the first one's */
	}
	be32_put(member, c->to);
	be32_put(member + 4, nuid);
	e.members = member;
	e.nmembers = 1;
	e.modseq = c->modseq;
	k = key_u32_u32(kb, c->dst, id);
	rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		rc = MDB_CORRUPTED;
	if (rc == 0) {
		/* Counters, thread index and blobown: an email created. */
		struct email_shape shape;
		email_shape_of(&shape, &e);
		rc = counts_email(txn, st, c->dst, id, NULL, &shape);
		email_shape_free(&shape);
	}
	if (rc == 0 && nb) {
		/* its bytes' reference taken with them (copy_blob_put) */
	} else if (rc == 0 && (rc = blobref_get(txn, st, e.blob_id, &br)) == 0) {
		br.refs++;
		rc = blobref_put(txn, st, e.blob_id, &br);
	} else if (rc == MDB_NOTFOUND) {
		rc = MDB_CORRUPTED; /* an email whose bytes are gone */
	}
	free(copy);
	free(kw);
	/* The spam filter's record of the sender is the source account's
	 * reputation: it does not follow a copy into another account. */
	if (rc || (c->dst == c->account &&
		   (rc = copy_spam_from(st, txn, c->account, email_id, id)) != 0))
		return rc;
	/* The copy's save date (IMAP SAVEDATE) is now. */
	k = key_u32_u32_u32(kb, c->dst, c->to, nuid);
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
	/* A move into a shared mailbox keeps the flags the user may set
	 * there (the email's keywords below). */
	uflags_by_rights(c, &uflags);
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
	char *kw;
	keywords_by_rights(c, &e, &kw);
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
	free(kw);
	free(copy);
	if (rc == 0)
		*new_uid_r = nuid;
	return rc;
}

/* The source mailbox is there under the UIDVALIDITY the client saw:
 * touched (it is the run's account's) or, in another account, read
 * alone. STORE_EINVAL when not. */
static int copy_source_check(struct store *st, MDB_txn *txn, struct copy_ctx *c,
			     struct mbox_rec **from_r)
{
	struct mbox_rec m;
	int rc;

	if (c->dst == c->account)
		rc = touch(st, txn, c, c->from, from_r);
	else if ((rc = mbox_get(txn, st, c->account, c->from, &m)) == 0)
		*from_r = NULL;
	if (rc)
		return rc == MDB_NOTFOUND ? STORE_EINVAL : rc;
	return (*from_r ? (*from_r)->uidvalidity : m.uidvalidity) == c->uidvalidity ? 0
										   : STORE_EINVAL;
}

/* A MOVE across accounts: the source's copied messages expunged as
 * store_expunge() does, in the copy's transaction, so the messages are
 * never in both accounts or in neither (RFC 6851 §3.3). */
static int copy_expunge_source(struct store *st, MDB_txn *txn, struct copy_ctx *c)
{
	struct acct_rec a;
	int rc = store_expunge_txn(st, txn, c->account, c->from, c->r->src_uids, c->r->n);

	if (rc == 0 && (rc = acct_get(txn, st, c->account, &a)) == 0)
		c->src_modseq = a.modseq;
	return rc == MDB_NOTFOUND ? STORE_EINVAL : rc;
}

static int copy_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct copy_ctx *c = arg;
	struct mbox_rec *from, *to;
	int rc;

	c->nt = 0;
	c->nentries = 0;
	c->r->n = 0;
	if ((rc = acct_get(txn, st, c->dst, &c->a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_EINVAL : rc;
	if ((rc = copy_source_check(st, txn, c, &from)) != 0)
		return rc;
	if ((rc = touch(st, txn, c, c->to, &to)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	c->r->uidvalidity = to->uidvalidity;
	c->modseq = modseq_take(&c->a.modseq, c->join);
	for (size_t i = 0; i < c->n; i++) {
		uint32_t nuid;
		c->cur = i;
		if ((rc = copy_one(st, txn, c, c->uids[i], &nuid)) != 0)
			return rc;
		if (!nuid && c->all)
			return STORE_EGONE; /* the nested transaction is dropped */
		/* A COPY the quota cannot take fails whole (RFC 9208 §4.3:
		 * NO [OVERQUOTA]); the nested transaction is dropped. */
		if (nuid && c->fresh && c->a.quota && c->a.used > c->a.quota)
			return STORE_EQUOTA;
		if (nuid) {
			c->r->last_email = c->last_email;
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
	if (c->expunge_src && (rc = copy_expunge_source(st, txn, c)) != 0)
		return rc;
	for (size_t i = 0; i < c->nt; i++) {
		/* A COPY of emails of their own leaves the source as it was. */
		if (c->fresh && !c->move && c->t[i].id != c->to)
			continue;
		c->t[i].m.highest_modseq = c->a.modseq;
		if ((rc = mbox_put(txn, st, c->dst, c->t[i].id, &c->t[i].m)) != 0)
			return rc;
	}
	c->r->modseq = c->a.modseq;
	return acct_put(txn, st, c->dst, &c->a);
}

/* The context of one copy (store_email_copy and its async form alike);
 * move carries the STORE_COPY_* bits. */
static struct copy_ctx copy_ctx_make(uint32_t account, uint32_t from, uint32_t uidvalidity,
				     const uint32_t *uids, size_t n, uint32_t to, int move,
				     struct store_copy_result *r)
{
	return (struct copy_ctx){
	    .account = account,
	    .dst = account,
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
		store_publish_change(st, c->dst, c->r->modseq);
		if (c->expunge_src)
			store_publish_change(st, c->account, c->src_modseq);
		if (lesson && c->dst == c->account)
			store_junk_notify(st, c->account, c->from, c->to, c->emails, c->r->n);
	}
	free(c->emails);
}

/* A copy into to (store_email_copy_into): emails of their own, all or
 * nothing, in to's account with to's rights on the flags; a move within
 * one account the ordinary one (the same email, a new membership), its
 * flags filtered as well. */
static struct copy_ctx copy_ctx_into(uint32_t account, uint32_t from, uint32_t uidvalidity,
				     const uint32_t *uids, size_t n,
				     const struct store_copy_into *to, struct store_copy_result *r)
{
	int within = to->move && to->account == account;
	struct copy_ctx c = copy_ctx_make(account, from, uidvalidity, uids, n, to->mailbox,
					  STORE_COPY_ALL | (within ? 1 : STORE_COPY_NEW), r);

	c.dst = to->account;
	c.rights = to->rights;
	c.kw_filter = to->keywords_filter;
	c.kw = to->keywords;
	c.kwlen = to->keywords_len;
	c.received_at = to->received_at;
	c.expunge_src = to->move && to->account != account;
	c.blobs = to->account != account ? to->blobs : NULL;
	return c;
}

/* A copy across accounts teaches the Junk hook nothing: the sender
 * record a lesson corrects is the source account's. */
static int copy_into_lesson(const struct copy_ctx *c)
{
	return c->dst == c->account;
}

/* The result's arrays (the caller frees them whatever happens) and c's
 * buffers: 0, or STORE_EINVAL for uids missing. */
static int copy_prepare(struct copy_ctx *c)
{
	struct store_copy_result *r = c->r;

	memset(r, 0, sizeof(*r));
	r->src_uids = xmalloc((c->n + 1) * sizeof(uint32_t));
	r->dst_uids = xmalloc((c->n + 1) * sizeof(uint32_t));
	if (c->n > 0 && !c->uids)
		return STORE_EINVAL;
	copy_ctx_buffers(c);
	return 0;
}

/* Runs c in one write transaction (a worker's, never a loop's). */
static int copy_run(struct store *st, struct copy_ctx *c, int lesson)
{
	if (copy_prepare(c) != 0)
		return STORE_EINVAL;
	int rc = c->n ? store_write_grouped(st, copy_fn, c) : STORE_OK;
	copy_ctx_end(st, c, rc, lesson);
	return rc;
}

int store_email_copy_into(struct store *st, uint32_t account, uint32_t from,
			  uint32_t uidvalidity, const uint32_t *uids, size_t n,
			  const struct store_copy_into *to, struct store_copy_result *r)
{
	struct copy_ctx c = copy_ctx_into(account, from, uidvalidity, uids, n, to, r);

	return copy_run(st, &c, copy_into_lesson(&c));
}

int store_email_copy(struct store *st, uint32_t account, uint32_t from, uint32_t uidvalidity,
		     const uint32_t *uids, size_t n, uint32_t to, int move,
		     struct store_copy_result *r)
{
	struct copy_ctx c = copy_ctx_make(account, from, uidvalidity, uids, n, to, move, r);

	return copy_run(st, &c, !(move & STORE_COPY_NO_LESSON));
}

void store_copy_result_free(struct store_copy_result *r)
{
	free(r->src_uids);
	free(r->dst_uids);
	r->src_uids = r->dst_uids = NULL;
	r->n = 0;
}

int copy_part_txn(struct store *st, MDB_txn *txn, uint32_t account, uint32_t from,
		  uint32_t uidvalidity, uint32_t uid, uint32_t to, int move, uint64_t join)
{
	struct store_copy_result r;
	/* All or nothing: the uid gone is STORE_EGONE. */
	struct copy_ctx c = copy_ctx_make(account, from, uidvalidity, &uid, 1, to,
					  (move & 1) | STORE_COPY_ALL, &r);
	c.join = join;
	int rc = copy_prepare(&c);
	if (rc == 0)
		rc = copy_fn(st, txn, &c);
	/* from under another UIDVALIDITY: the uid named is gone, and
	 * STORE_EINVAL stays the keywords' (store_email_update_async). */
	if (rc == STORE_EINVAL)
		rc = STORE_EGONE;
	free(c.crec);
	free(c.t);
	free(c.emails);
	store_copy_result_free(&r);
	return rc;
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

/* Submits the copy c to the writer's group; done(arg, result) on loop. */
static void copy_submit(struct store *st, struct loop *loop, const struct copy_ctx *c,
			int lesson, store_async_cb *done, void *arg)
{
	struct copy_async *x = xcalloc(1, sizeof(*x));

	x->c = *c;
	x->st = st;
	x->lesson = lesson;
	x->done = done;
	x->arg = arg;
	x->a.finish = copy_finish;
	if (copy_prepare(&x->c) != 0) {
		x->code = STORE_EINVAL;
		store_async_fail(st, &x->a, loop, &x->code);
		return;
	}
	x->a.fn = copy_fn;
	x->a.ctx = &x->c;
	store_async_submit(st, &x->a, loop);
}

void store_email_copy_async(struct store *st, struct loop *loop, uint32_t account, uint32_t from,
			    uint32_t uidvalidity, const uint32_t *uids, size_t n, uint32_t to,
			    int move, struct store_copy_result *r, store_async_cb *done, void *arg)
{
	struct copy_ctx c = copy_ctx_make(account, from, uidvalidity, uids, n, to, move, r);

	copy_submit(st, loop, &c, !(move & STORE_COPY_NO_LESSON), done, arg);
}

void store_email_copy_into_async(struct store *st, struct loop *loop, uint32_t account,
				 uint32_t from, uint32_t uidvalidity, const uint32_t *uids, size_t n,
				 const struct store_copy_into *to, struct store_copy_result *r,
				 store_async_cb *done, void *arg)
{
	struct copy_ctx c = copy_ctx_into(account, from, uidvalidity, uids, n, to, r);

	copy_submit(st, loop, &c, copy_into_lesson(&c), done, arg);
}
