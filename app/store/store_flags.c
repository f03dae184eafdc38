/*
 * store_flags.c — keywords of emails (IMAP flags, JMAP keywords).
 *
 * Keywords belong to the email, not to a membership: an email in two
 * mailboxes shows the same flags in both (JMAP's model, DESIGN.md §4),
 * with one exception. "$deleted" (IMAP \Deleted) is a flag of the
 * membership, kept in the uid entry (UID_F_DELETED), because EXPUNGE acts
 * on one mailbox: a client that copies a message to Archive and then
 * marks the original \Deleted and expunges (neomutt's save, Thunderbird's
 * "mark as deleted" mode, every client without MOVE) must not leave the
 * archived copy \Deleted, where the next EXPUNGE there would destroy it.
 * Callers see one keyword set per membership: the email's keywords, plus
 * "$deleted" when the membership has it. IMAP's system flags are stored
 * under their JMAP names ($seen $answered $flagged $deleted $draft); the
 * mapping is the IMAP layer's business. Keywords keep the case they were
 * first given on the email ("$Forwarded", "$MailFlagBit0": clients compare
 * them as they set them) and are compared ASCII case-insensitively (both
 * protocols do), so adding "$forwarded" to an email that has "$Forwarded"
 * changes nothing; the five system names are always lowercase. Stored
 * separated by single spaces, each at most STORE_KEYWORD_MAX octets of
 * atom characters. Emails written before this rule have lowercase
 * keywords, which read the same way: no migration.
 *
 * One synchronous write transaction through store_write() (store_expunge.c
 * joins the writer's batch instead, store_write_grouped): the caller (an
 * IMAP session's worker job) answers after the commit. Every email whose
 * keywords really change takes the call's new modseq; one change record
 * at that modseq lists each changed (email, mailbox, uid) as "email
 * updated", ended by an "email quiet"
 * entry when no email's unread state changed; every mailbox the email is in
 * and the account carry the modseq as their highest. An email whose
 * keywords would not change is left alone (no modseq spent), as is one
 * modified after the caller's UNCHANGEDSINCE value (RFC 7162).
 */
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "store/store_private.h"

#define CHANGE_ENTRIES_MAX 65535u
#define CHANGE_ENTRY_SIZE 13u

/* 1 when c may be part of a keyword (IMAP atom without the list-wildcards). */
static int kw_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

int store_keyword_valid(const char *kw, size_t n)
{
	if (n == 0 || n > STORE_KEYWORD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!kw_char_ok((unsigned char)kw[i]))
			return 0;
	return 1;
}

/* IMAP's system flags as keywords: not counted in STORE_KEYWORDS_MAX,
 * which bounds the others (what IMAP shows as keywords), so a message
 * holding the most keywords can still be \Seen, \Flagged or \Deleted. */
#define KW_SYSTEM_N 5
/* A list of keyword slices (copies in one buffer): the most keywords an
 * email may have, and the system flags (a membership's view adds
 * $deleted). */
#define KWSET_MAX (STORE_KEYWORDS_MAX + KW_SYSTEM_N)
struct kwset {
	char *buf;
	size_t len;
	const char *w[KWSET_MAX];
	size_t wl[KWSET_MAX];
	size_t n;
};

static const char KW_DELETED[] = "$deleted";
#define KW_DELETED_LEN (sizeof KW_DELETED - 1)

/* ASCII case-insensitive equality of two keywords. */
static int kw_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++) {
		char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
		char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];
		if (x != y)
			return 0;
	}
	return 1;
}

/* Removes w from s; 1 when it was there. */
static int kwset_drop(struct kwset *s, const char *w, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (kw_eq(s->w[i], s->wl[i], w, n)) {
			for (s->n--; i < s->n; i++) { /* keeps the order */
				s->w[i] = s->w[i + 1];
				s->wl[i] = s->wl[i + 1];
			}
			return 1;
		}
	return 0;
}

static int kwset_has(const struct kwset *s, const char *w, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (kw_eq(s->w[i], s->wl[i], w, n))
			return 1;
	return 0;
}

/* The JMAP names of IMAP's system flags: always stored lowercase. */
static const char *const system_kw[KW_SYSTEM_N] = { "$seen", "$answered", "$flagged", "$draft",
						    "$deleted" };

/* The index of w in system_kw (any case), or -1 for another keyword. */
static int kw_system(const char *w, size_t n)
{
	for (int k = 0; k < KW_SYSTEM_N; k++)
		if (kw_eq(w, n, system_kw[k], strlen(system_kw[k])))
			return k;
	return -1;
}

/* How many of s's keywords count in STORE_KEYWORDS_MAX: all but the
 * system flags. */
static size_t kwset_counted(const struct kwset *s)
{
	size_t c = 0;
	for (size_t i = 0; i < s->n; i++)
		c += kw_system(s->w[i], s->wl[i]) < 0;
	return c;
}

/* Splits space-separated text into s (case kept but for the system
 * names, duplicates in any case dropped, the first kept). -1 for an
 * invalid keyword or too many. */
static int kwset_parse(struct kwset *s, const char *text, size_t len)
{
	s->buf = xmalloc(len + 1);
	s->len = len;
	s->n = 0;
	memcpy(s->buf, text, len);
	size_t i = 0;
	while (i < len) {
		while (i < len && s->buf[i] == ' ')
			i++;
		size_t st = i;
		while (i < len && s->buf[i] != ' ')
			i++;
		if (i == st)
			break;
		if (!store_keyword_valid(s->buf + st, i - st))
			return -1;
		if (kwset_has(s, s->buf + st, i - st))
			continue;
		int k = kw_system(s->buf + st, i - st);
		if (k >= 0)
			memcpy(s->buf + st, system_kw[k], i - st);
		else if (kwset_counted(s) == STORE_KEYWORDS_MAX)
			return -1;
		s->w[s->n] = s->buf + st;
		s->wl[s->n++] = i - st;
	}
	return 0;
}

static void kwset_free(struct kwset *s)
{
	free(s->buf);
	s->buf = NULL;
	s->n = 0;
}

/* Joins s with single spaces into a malloc'ed NUL-terminated string. */
static char *kwset_join(const struct kwset *s, size_t *len_r)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->wl[i] + 1;
	char *out = xmalloc(n + 1), *p = out;
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			*p++ = ' ';
		memcpy(p, s->w[i], s->wl[i]);
		p += s->wl[i];
	}
	*p = '\0';
	*len_r = (size_t)(p - out);
	return out;
}

/* 1 when a and b hold the same keywords (any order). */
static int kwset_same(const struct kwset *a, const struct kwset *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!kwset_has(b, a->w[i], a->wl[i]))
			return 0;
	return 1;
}

void store_kw_results_free(struct store_kw_result *res, size_t n)
{
	if (!res)
		return;
	for (size_t i = 0; i < n; i++) {
		free(res[i].keywords);
		res[i].keywords = NULL;
	}
}

struct kw_ctx {
	uint32_t account, mailbox, uidvalidity;
	const uint32_t *uids;
	size_t n;
	enum store_kw_op op;
	struct kwset arg;
	/* store_email_keywords_patch_async(): removed in the same write,
	 * before arg's are added (op STORE_KW_ADD); empty otherwise. */
	struct kwset del;
	uint64_t unchangedsince;
	struct store_kw_result *res;
	/* store_email_keywords_as_async() for a user other than the owner:
	 * that user, and the filter of the keywords rights let it set;
	 * kw_filter NULL for the owner's own call; refuse as its. */
	uint32_t actor;
	size_t (*kw_filter)(uint32_t rights, char *kw, size_t len);
	int refuse;
	uint64_t join; /* a part of a combined write: its modseq (modseq_take) */
	/* per run */
	uint64_t modseq;
	size_t changed;
	uint8_t *crec;
	size_t nentries;
	int moved;         /* an email of the record changed its unread state */
	uint32_t *touched; /* mailboxes of the changed emails */
	size_t ntouched, touched_cap;
};

static int flush_changes(struct store *st, MDB_txn *txn, struct kw_ctx *c)
{
	if (c->nentries == 0)
		return 0;
	/* No count moved: say so, so that Mailbox/changes names no mailbox
	 * for a flag (RFC 8621 §2.2, only the counts change through emails). */
	if (!c->moved) {
		uint8_t *ent = c->crec + 3 + c->nentries++ * CHANGE_ENTRY_SIZE;
		memset(ent, 0, CHANGE_ENTRY_SIZE);
		ent[0] = CHANGE_EMAIL_QUIET;
	}
	c->moved = 0;
	size_t n = c->nentries;
	c->nentries = 0;
	return change_rec_put(st, txn, c->account, c->modseq, c->crec, n, c->join != 0);
}

static void touch(struct kw_ctx *c, uint32_t mailbox)
{
	for (size_t i = 0; i < c->ntouched; i++)
		if (c->touched[i] == mailbox)
			return;
	if (c->ntouched == c->touched_cap) {
		c->touched_cap = c->touched_cap ? c->touched_cap * 2 : 8;
		c->touched = xrealloc(c->touched, c->touched_cap * sizeof(*c->touched));
	}
	c->touched[c->ntouched++] = mailbox;
}

/* Sets highest_modseq of every mailbox a changed email is in. */
static int bump_mailboxes(struct store *st, MDB_txn *txn, struct kw_ctx *c, uint64_t modseq)
{
	struct mbox_rec m;
	int rc;

	for (size_t i = 0; i < c->ntouched; i++) {
		rc = mbox_get(txn, st, c->account, c->touched[i], &m);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		m.highest_modseq = modseq;
		if ((rc = mbox_put(txn, st, c->account, c->touched[i], &m)) != 0)
			return rc;
	}
	return 0;
}

/* 1 when rights let c's actor change keyword w (n octets) of an email. */
static int kw_allowed(const struct kw_ctx *c, uint32_t rights, const char *w, size_t n)
{
	char one[STORE_KEYWORD_MAX];

	if (n > sizeof one)
		return 0;
	memcpy(one, w, n);
	return c->kw_filter(rights, one, n) != 0;
}

/*
 * Another user's change (c->kw_filter set): of the changes from view to
 * out, those of the email's keywords its rights on the email's every
 * mailbox do not allow are undone in out (JMAP's rule, RFC 8621 §2: the
 * one keyword set is seen in each of them; Email/set is jmap_email_set.c's
 * shared_update_allowed). The selected mailbox's rights alone would let a
 * grantee change what the owner sees in a mailbox not shared with it.
 * Undone, not refused: RFC 9051 §6.4.6 lets a STORE fail or leave a
 * message alone, and RFC 4314 §4 has it ignore silently a flag the user
 * has no right to store; this is such a flag for this email, and the
 * caller's untagged FETCH shows the flags as they are. $deleted is the
 * membership's (the uid entry's): the caller's mailbox's "t" covers it.
 * With c->refuse (JMAP's Email/set, RFC 8620 §5.3) a change to undo is
 * STORE_EACCES instead, and the call writes nothing.
 * 0, STORE_EACCES or an LMDB error.
 */
static int out_by_rights(struct store *st, MDB_txn *txn, const struct kw_ctx *c,
			 const struct email_rec *e, const struct kwset *view, struct kwset *out)
{
	uint32_t rights = STORE_ACL_ALL;
	size_t k = 0;
	int rc;

	for (uint16_t i = 0; i < e->nmembers && rights; i++) {
		uint32_t r;
		if ((rc = acl_rights_txn(txn, st, c->actor, c->account,
					 be32_get(e->members + (size_t)i * 8), &r)) != 0)
			return rc;
		rights &= r;
	}
	/* Added ones it may not set go... */
	for (size_t i = 0; i < out->n; i++) {
		if (!kwset_has(view, out->w[i], out->wl[i]) &&
		    !kw_eq(out->w[i], out->wl[i], KW_DELETED, KW_DELETED_LEN) &&
		    !kw_allowed(c, rights, out->w[i], out->wl[i])) {
			if (c->refuse)
				return STORE_EACCES;
			continue;
		}
		out->w[k] = out->w[i];
		out->wl[k++] = out->wl[i];
	}
	out->n = k;
	/* ...and removed ones it may not clear come back (at most view's:
	 * within KWSET_MAX). */
	for (size_t i = 0; i < view->n; i++)
		if (!kwset_has(out, view->w[i], view->wl[i]) &&
		    !kw_eq(view->w[i], view->wl[i], KW_DELETED, KW_DELETED_LEN) &&
		    !kw_allowed(c, rights, view->w[i], view->wl[i])) {
			if (c->refuse)
				return STORE_EACCES;
			if (out->n < KWSET_MAX) {
				out->w[out->n] = view->w[i];
				out->wl[out->n++] = view->wl[i];
			}
		}
	return 0;
}

/*
 * Applies the operation to one membership (mailbox c->mailbox, uid) of an
 * email; uv is a copy of its uid entry. The operation works on the
 * membership's view (the email's keywords plus $deleted when the uid
 * entry has it); the result is split again: $deleted into the uid entry,
 * the rest into the email. Fills r.
 */
static int change_one(struct store *st, MDB_txn *txn, struct kw_ctx *c, struct acct_rec *a,
		      uint32_t email_id, uint32_t uid, const MDB_val *uv,
		      struct store_kw_result *r)
{
	uint8_t kb[12];
	MDB_val k = key_u32_u32(kb, c->account, email_id);
	struct email_rec e;
	struct kwset cur = { 0 }, view, out = { 0 }, out_email;
	uint8_t *copy;
	int rc = email_get_copy(txn, st, &k, &e, &copy);

	if (rc)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (kwset_parse(&cur, e.keywords, e.keywords_len) < 0) {
		rc = MDB_CORRUPTED;
		goto out;
	}
	/* An email-level $deleted (schema 2) was moved by the migration;
	 * should one remain, the email does not keep it. */
	int stray = kwset_drop(&cur, KW_DELETED, KW_DELETED_LEN);
	unsigned uflags = uid_rec_flags(uv);
	int cur_del = (uflags & UID_F_DELETED) != 0;
	view = cur;
	view.buf = NULL; /* borrows cur's buffer */
	if (cur_del) {
		view.w[view.n] = KW_DELETED;
		view.wl[view.n++] = KW_DELETED_LEN;
	}
	r->modseq = e.modseq;
	if (c->unchangedsince && e.modseq > c->unchangedsince) {
		r->status = STORE_KW_MODIFIED;
		r->keywords = kwset_join(&view, &(size_t){ 0 });
		goto out;
	}
	/* The new set: pointers into view's and the argument's buffers. */
	out.n = 0;
	if (c->op != STORE_KW_SET)
		for (size_t i = 0; i < view.n; i++) {
			if ((c->op == STORE_KW_REMOVE && kwset_has(&c->arg, view.w[i], view.wl[i])) ||
			    kwset_has(&c->del, view.w[i], view.wl[i]))
				continue;
			out.w[out.n] = view.w[i];
			out.wl[out.n++] = view.wl[i];
		}
	/* A patch's removals first, so that one that makes room lets an
	 * add in; a keyword both added and removed ends removed. */
	if (c->op != STORE_KW_REMOVE)
		for (size_t i = 0; i < c->arg.n; i++) {
			if (kwset_has(&out, c->arg.w[i], c->arg.wl[i]) ||
			    kwset_has(&c->del, c->arg.w[i], c->arg.wl[i]))
				continue;
			if (kw_system(c->arg.w[i], c->arg.wl[i]) < 0 &&
			    kwset_counted(&out) == STORE_KEYWORDS_MAX) {
				rc = STORE_EINVAL;
				goto out;
			}
			out.w[out.n] = c->arg.w[i];
			out.wl[out.n++] = c->arg.wl[i];
		}
	if (c->kw_filter && (rc = out_by_rights(st, txn, c, &e, &view, &out)) != 0)
		goto out;
	out_email = out;
	int out_del = kwset_drop(&out_email, KW_DELETED, KW_DELETED_LEN);
	size_t klen;
	char *joined = kwset_join(&out, &(size_t){ 0 });
	int email_same = kwset_same(&cur, &out_email) && !stray;
	if (email_same && out_del == cur_del) {
		r->status = STORE_KW_SAME;
		r->keywords = joined;
		goto out;
	}
	char *ekw = kwset_join(&out_email, &klen);
	if (klen > UINT16_MAX) {
		free(ekw);
		free(joined);
		rc = STORE_EINVAL;
		goto out;
	}
	if (c->nentries == 0)
		c->modseq = modseq_take(&a->modseq, c->join);
	/* The email takes the modseq even when only the membership's flag
	 * changed: MODSEQ is the email's (CONDSTORE), and it changed here. */
	struct email_shape before, after;
	email_shape_of(&before, &e);
	e.keywords = ekw;
	e.keywords_len = (uint16_t)klen;
	e.modseq = c->modseq;
	rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
	email_shape_of(&after, &e);
	/* Only $seen and $draft move the counters. */
	if (rc == 0 && before.unread != after.unread) {
		c->moved = 1;
		rc = counts_email(txn, st, c->account, email_id, &before, &after);
	}
	email_shape_free(&before);
	email_shape_free(&after);
	free(ekw);
	if (rc == 0 && out_del != cur_del) {
		uint8_t urec[UID_REC_MAX];
		unsigned nf = out_del ? uflags | UID_F_DELETED : uflags & ~UID_F_DELETED;
		MDB_val nv = { uid_rec_encode(urec, email_id, uid_rec_saved_at(uv, e.received_at), nf),
			       urec };
		/* A short entry (a delivery's) stays short while it has no flags. */
		if (!nf && uv->mv_size < UID_REC_SAVED)
			nv.mv_size = 5;
		MDB_val uk = key_u32_u32_u32(kb, c->account, c->mailbox, uid);
		rc = mdb_put(txn, st->db[DB_UID], &uk, &nv, 0);
	}
	if (rc) {
		free(joined);
		goto out;
	}
	for (uint16_t i = 0; i < e.nmembers; i++)
		touch(c, be32_get(e.members + (size_t)i * 8));
	uint8_t *ent = c->crec + 3 + c->nentries * CHANGE_ENTRY_SIZE;
	ent[0] = CHANGE_EMAIL_UPDATED;
	be32_put(ent + 1, email_id);
	be32_put(ent + 5, c->mailbox);
	be32_put(ent + 9, uid);
	c->nentries++;
	c->changed++;
	r->status = STORE_KW_CHANGED;
	r->modseq = c->modseq;
	r->keywords = joined;
	if (c->nentries == CHANGE_ENTRIES_MAX - 1) /* room for the quiet entry */
		rc = flush_changes(st, txn, c);
out:
	kwset_free(&cur);
	free(copy);
	return rc;
}

static int kw_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct kw_ctx *c = arg;
	struct acct_rec a;
	struct mbox_rec m;
	uint8_t kb[12];
	int rc;

	/* store_write may run us again: start from scratch. */
	c->modseq = 0;
	c->changed = 0;
	c->nentries = 0;
	c->moved = 0;
	c->ntouched = 0;
	store_kw_results_free(c->res, c->n);
	for (size_t i = 0; i < c->n; i++)
		c->res[i] = (struct store_kw_result){ .uid = c->uids[i], .status = STORE_KW_GONE };
	if ((rc = acct_get(txn, st, c->account, &a)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if ((rc = mbox_get(txn, st, c->account, c->mailbox, &m)) != 0)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	if (c->uidvalidity && m.uidvalidity != c->uidvalidity)
		return STORE_ENOTFOUND;

	for (size_t i = 0; i < c->n; i++) {
		MDB_val k = key_u32_u32_u32(kb, c->account, c->mailbox, c->uids[i]), v;
		rc = mdb_get(txn, st->db[DB_UID], &k, &v);
		if (rc == MDB_NOTFOUND)
			continue; /* expunged meanwhile */
		if (rc)
			return rc;
		if (v.mv_size < 5 || ((uint8_t *)v.mv_data)[0] != REC_V1)
			return MDB_CORRUPTED;
		uint32_t email_id = be32_get((uint8_t *)v.mv_data + 1);
		/* A copy: the email's rewrite may move the page v points into. */
		uint8_t ub[UID_REC_MAX];
		MDB_val uv = { v.mv_size > UID_REC_MAX ? UID_REC_MAX : v.mv_size, ub };
		memcpy(ub, v.mv_data, uv.mv_size);
		if ((rc = change_one(st, txn, c, &a, email_id, c->uids[i], &uv, &c->res[i])) != 0)
			return rc;
	}
	if (c->changed == 0)
		return 0;
	if ((rc = flush_changes(st, txn, c)) != 0)
		return rc;
	if ((rc = bump_mailboxes(st, txn, c, a.modseq)) != 0)
		return rc;
	return acct_put(txn, st, c->account, &a);
}

int store_email_keywords(struct store *st, uint32_t account, uint32_t mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n, enum store_kw_op op,
			 const char *keywords, uint64_t unchangedsince,
			 struct store_kw_result *res, uint64_t *modseq_r)
{
	struct kw_ctx c = {
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = uidvalidity,
		.uids = uids,
		.n = n,
		.op = op,
		.unchangedsince = unchangedsince,
		.res = res,
	};
	size_t per = n < CHANGE_ENTRIES_MAX ? n : CHANGE_ENTRIES_MAX;

	if (modseq_r)
		*modseq_r = 0;
	if ((n > 0 && (!uids || !res)) || op > STORE_KW_REMOVE || !keywords)
		return STORE_EINVAL;
	if (res)
		memset(res, 0, n * sizeof(*res));
	if (kwset_parse(&c.arg, keywords, strlen(keywords)) < 0) {
		kwset_free(&c.arg);
		return STORE_EINVAL;
	}
	c.crec = xmalloc(3 + (per + 1) * CHANGE_ENTRY_SIZE); /* + the quiet entry */
	int rc = store_write(st, kw_fn, &c);
	free(c.crec);
	free(c.touched);
	kwset_free(&c.arg);
	if (rc != STORE_OK) {
		store_kw_results_free(res, n);
		return rc;
	}
	if (modseq_r)
		*modseq_r = c.modseq;
	if (c.changed)
		store_publish_change(st, account, c.modseq);
	return STORE_OK;
}

char *store_keywords_normalize(const char *text, size_t len)
{
	struct kwset s;
	size_t n;

	if (kwset_parse(&s, text, len) < 0) {
		kwset_free(&s);
		return NULL;
	}
	char *out = kwset_join(&s, &n);
	kwset_free(&s);
	return out;
}

int store_keywords_take_deleted(char *kw, size_t *len_r)
{
	struct kwset s;
	size_t n = strlen(kw);

	if (kwset_parse(&s, kw, n) < 0) {
		kwset_free(&s);
		*len_r = n;
		return 0;
	}
	int had = kwset_drop(&s, KW_DELETED, KW_DELETED_LEN);
	char *out = kwset_join(&s, len_r);
	memcpy(kw, out, *len_r + 1); /* never longer than the input */
	free(out);
	kwset_free(&s);
	return had;
}

/* ---- the same inside the writer's group commit (store_group.c) ---- */

struct kw_async {
	struct store_async a;
	struct kw_ctx c;
	struct store *st;
	int code;
	uint64_t *modseq_r;
	store_async_cb *done;
	void *arg;
};

static void kw_finish(struct store_async *as)
{
	struct kw_async *k = (struct kw_async *)as;
	int rc = as->result;

	free(k->c.crec);
	free(k->c.touched);
	kwset_free(&k->c.arg);
	kwset_free(&k->c.del);
	if (rc != STORE_OK) {
		store_kw_results_free(k->c.res, k->c.n);
	} else {
		if (k->modseq_r)
			*k->modseq_r = k->c.modseq;
		if (k->c.changed)
			store_publish_change(k->st, k->c.account, k->c.modseq);
	}
	store_async_cb *done = k->done;
	void *arg = k->arg;
	free(k);
	done(arg, rc);
}

void store_email_keywords_async(struct store *st, struct loop *loop, uint32_t account,
				uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				size_t n, enum store_kw_op op, const char *keywords,
				uint64_t unchangedsince, struct store_kw_result *res,
				uint64_t *modseq_r, store_async_cb *done, void *arg)
{
	store_email_keywords_as_async(st, loop, NULL, account, mailbox, uidvalidity, uids, n, op,
				      keywords, unchangedsince, res, modseq_r, done, arg);
}

/* The context of a keyword change by as (NULL: the owner). */
static struct kw_ctx kw_ctx_make(const struct store_kw_actor *as, uint32_t account,
				 uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				 size_t n, enum store_kw_op op, uint64_t unchangedsince,
				 struct store_kw_result *res)
{
	/* The owner's own call reads no right: it may change everything. */
	int other = as && as->actor != account && as->keywords_filter;

	return (struct kw_ctx){
		.account = account,
		.mailbox = mailbox,
		.uidvalidity = uidvalidity,
		.uids = uids,
		.n = n,
		.op = op,
		.unchangedsince = unchangedsince,
		.res = res,
		.actor = other ? as->actor : account,
		.kw_filter = other ? as->keywords_filter : NULL,
		.refuse = other && as->refuse,
	};
}

/* c's keywords (the argument) and, when not NULL, the patch's removals:
 * 0, or -1 for a bad list. */
static int kw_ctx_parse(struct kw_ctx *c, const char *keywords, const char *remove)
{
	return !keywords || kwset_parse(&c->arg, keywords, strlen(keywords)) < 0 ||
			       (remove && kwset_parse(&c->del, remove, strlen(remove)) < 0)
		   ? -1
		   : 0;
}

int kw_part_txn(struct store *st, MDB_txn *txn, const struct store_kw_actor *as, uint32_t account,
		uint32_t mailbox, uint32_t uid, const char *set, const char *add,
		const char *remove, uint64_t join)
{
	struct store_kw_result res = {0};
	uint8_t crec[3 + 2 * CHANGE_ENTRY_SIZE]; /* + the quiet entry */
	struct kw_ctx c = kw_ctx_make(as, account, mailbox, 0, &uid, 1,
				      set ? STORE_KW_SET : STORE_KW_ADD, 0, &res);

	c.join = join;
	c.crec = crec;
	int rc = kw_ctx_parse(&c, set ? set : add ? add : "", set ? NULL : remove) < 0
		     ? STORE_EINVAL
		     : kw_fn(st, txn, &c);
	if (rc == 0 && res.status == STORE_KW_GONE)
		rc = STORE_EGONE;
	store_kw_results_free(&res, 1);
	free(c.touched);
	kwset_free(&c.arg);
	kwset_free(&c.del);
	return rc;
}

/* The asynchronous call of both forms: remove, when not NULL, is the
 * patch's removals (op STORE_KW_ADD). */
static void kw_submit(struct store *st, struct loop *loop, const struct store_kw_actor *as,
		      uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		      const uint32_t *uids, size_t n, enum store_kw_op op, const char *keywords,
		      const char *remove, uint64_t unchangedsince, struct store_kw_result *res,
		      uint64_t *modseq_r, store_async_cb *done, void *arg)
{
	struct kw_async *k = xcalloc(1, sizeof(*k));
	size_t per = n < CHANGE_ENTRIES_MAX ? n : CHANGE_ENTRIES_MAX;

	k->c = kw_ctx_make(as, account, mailbox, uidvalidity, uids, n, op, unchangedsince, res);
	k->st = st;
	k->modseq_r = modseq_r;
	k->done = done;
	k->arg = arg;
	k->a.finish = kw_finish;
	if (modseq_r)
		*modseq_r = 0;
	if (res)
		memset(res, 0, n * sizeof(*res));
	if ((n > 0 && (!uids || !res)) || op > STORE_KW_REMOVE ||
	    kw_ctx_parse(&k->c, keywords, remove) < 0) {
		k->code = STORE_EINVAL;
		k->c.n = 0; /* nothing in res to free */
		store_async_fail(st, &k->a, loop, &k->code);
		return;
	}
	k->c.crec = xmalloc(3 + (per + 1) * CHANGE_ENTRY_SIZE); /* + the quiet entry */
	k->a.fn = kw_fn;
	k->a.ctx = &k->c;
	store_async_submit(st, &k->a, loop);
}

void store_email_keywords_as_async(struct store *st, struct loop *loop,
				   const struct store_kw_actor *as, uint32_t account,
				   uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				   size_t n, enum store_kw_op op, const char *keywords,
				   uint64_t unchangedsince, struct store_kw_result *res,
				   uint64_t *modseq_r, store_async_cb *done, void *arg)
{
	kw_submit(st, loop, as, account, mailbox, uidvalidity, uids, n, op, keywords, NULL,
		  unchangedsince, res, modseq_r, done, arg);
}

void store_email_keywords_patch_async(struct store *st, struct loop *loop,
				      const struct store_kw_actor *as, uint32_t account,
				      uint32_t mailbox, const uint32_t *uids, size_t n,
				      const char *add, const char *remove,
				      struct store_kw_result *res, store_async_cb *done, void *arg)
{
	kw_submit(st, loop, as, account, mailbox, 0, uids, n, STORE_KW_ADD, add,
		  remove ? remove : "", 0, res, NULL, done, arg);
}

/* ---- IMAP \Recent: one session claims a mailbox's recent messages ---- */

/*
 * A claim is noted here when it is sent and dropped when its transaction
 * is done, so that a session on another loop reading the mailbox in
 * between (group commit, the writer's pacing) already sees it claimed:
 * without it, two sessions told of the same new message within one
 * commit both showed it \Recent.
 */
static void claim_note_locked(struct store *st, uint32_t account, uint32_t mailbox,
			      uint32_t upto)
{
	unsigned i;
	for (i = 0; i < st->nrecent_claims; i++)
		if (st->recent_claims[i].account == account && st->recent_claims[i].mailbox == mailbox)
			break;
	if (i < st->nrecent_claims) {
		if (upto > st->recent_claims[i].upto)
			st->recent_claims[i].upto = upto;
	} else if (i < STORE_RECENT_CLAIMS) {
		st->recent_claims[i] = (struct store_recent_claim){ account, mailbox, upto };
		st->nrecent_claims++;
	}
}

static void claim_note(struct store *st, uint32_t account, uint32_t mailbox, uint32_t upto)
{
	pthread_mutex_lock(&st->recent_mu);
	claim_note_locked(st, account, mailbox, upto);
	pthread_mutex_unlock(&st->recent_mu);
}

/* The claim up to upto is committed (or failed): a later one stays. */
static void claim_forget(struct store *st, uint32_t account, uint32_t mailbox, uint32_t upto)
{
	pthread_mutex_lock(&st->recent_mu);
	for (unsigned i = 0; i < st->nrecent_claims; i++) {
		struct store_recent_claim *c = &st->recent_claims[i];
		if (c->account == account && c->mailbox == mailbox) {
			if (c->upto <= upto) {
				*c = st->recent_claims[--st->nrecent_claims];
				st->recent_forgets++;
			}
			break;
		}
	}
	pthread_mutex_unlock(&st->recent_mu);
}

static uint32_t recent_pending_locked(struct store *st, uint32_t account, uint32_t mailbox)
{
	for (unsigned i = 0; i < st->nrecent_claims; i++)
		if (st->recent_claims[i].account == account && st->recent_claims[i].mailbox == mailbox)
			return st->recent_claims[i].upto;
	return 0;
}

uint32_t store_recent_pending(struct store *st, uint32_t account, uint32_t mailbox)
{
	pthread_mutex_lock(&st->recent_mu);
	uint32_t upto = recent_pending_locked(st, account, mailbox);
	pthread_mutex_unlock(&st->recent_mu);
	return upto;
}

/*
 * Two sessions on two loop threads told of the same new message used to
 * read the recent range (store_mailbox_recent()) and only then note their
 * claims, so both could read it unclaimed and both show it \Recent (RFC
 * 3501 §2.3.2: one session only). Here the pending claims are read and
 * ours noted under one hold of recent_mu. The mailbox record is read
 * outside it (a read transaction under recent_mu would order the locks
 * against store_mailbox_list(), which takes recent_mu inside one); a
 * claim dropped meanwhile may be committed after our snapshot began,
 * so then the record is read again.
 */
int store_mailbox_recent_take(struct store *st, uint32_t account, uint32_t mailbox,
			      uint32_t *first_r, uint32_t *uidnext_r)
{
	for (int tries = 0;; tries++) {
		pthread_mutex_lock(&st->recent_mu);
		uint64_t forgets = st->recent_forgets;
		pthread_mutex_unlock(&st->recent_mu);

		struct mbox_rec m;
		MDB_txn *txn;
		if (store_rd_begin(st, &txn) != 0)
			return STORE_ETEMP;
		int rc = mbox_get(txn, st, account, mailbox, &m);
		store_rd_end(st, txn);
		if (rc == MDB_NOTFOUND)
			return STORE_ENOTFOUND;
		if (rc)
			return STORE_ETEMP;

		pthread_mutex_lock(&st->recent_mu);
		/* Bounded: a mailbox claimed without pause by other sessions
		 * ends with the range as last read, as before this function. */
		if (st->recent_forgets != forgets && tries < 8) {
			pthread_mutex_unlock(&st->recent_mu);
			continue;
		}
		uint32_t upto = recent_pending_locked(st, account, mailbox);
		if (upto > m.uidnext)
			upto = m.uidnext;
		*first_r = upto > m.first_recent ? upto : m.first_recent;
		*uidnext_r = m.uidnext;
		if (*first_r != m.uidnext)
			claim_note_locked(st, account, mailbox, m.uidnext);
		pthread_mutex_unlock(&st->recent_mu);
		return STORE_OK;
	}
}

struct recent_async {
	struct store_async a;
	struct store *st;
	uint32_t account, mailbox, first, uidnext, upto;
	int claim;
	uint32_t *first_r, *uidnext_r;
	store_async_cb *done;
	void *arg;
};

static int recent_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct recent_async *r = arg;
	struct mbox_rec m;
	int rc = mbox_get(txn, st, r->account, r->mailbox, &m);

	if (rc)
		return rc == MDB_NOTFOUND ? STORE_ENOTFOUND : rc;
	r->first = m.first_recent;
	r->uidnext = m.uidnext;
	/* Up to what the session saw (upto), never past uidnext: a message
	 * that came after it read is not its to claim. */
	uint32_t to = r->upto && r->upto < m.uidnext ? r->upto : m.uidnext;
	if (!r->claim || m.first_recent >= to)
		return 0; /* nothing to write */
	m.first_recent = to;
	return mbox_put(txn, st, r->account, r->mailbox, &m);
}

static void recent_finish(struct store_async *as)
{
	struct recent_async *r = (struct recent_async *)as;
	store_async_cb *done = r->done;
	void *arg = r->arg;
	int rc = as->result;

	if (r->claim && r->upto)
		claim_forget(r->st, r->account, r->mailbox, r->upto);
	if (rc == STORE_OK) {
		*r->first_r = r->first;
		*r->uidnext_r = r->uidnext;
	}
	free(r);
	done(arg, rc);
}

void store_mailbox_claim_recent_async(struct store *st, struct loop *loop, uint32_t account,
				      uint32_t mailbox, int claim, uint32_t upto, uint32_t *first_r,
				      uint32_t *uidnext_r, store_async_cb *done, void *arg)
{
	struct recent_async *r = xcalloc(1, sizeof(*r));

	r->st = st;
	r->upto = upto;
	if (claim && upto)
		claim_note(st, account, mailbox, upto);
	r->claim = claim;
	r->account = account;
	r->mailbox = mailbox;
	r->first_r = first_r;
	r->uidnext_r = uidnext_r;
	r->done = done;
	r->arg = arg;
	r->a.finish = recent_finish;
	r->a.fn = recent_fn;
	r->a.ctx = r;
	store_async_submit(st, &r->a, loop);
}
