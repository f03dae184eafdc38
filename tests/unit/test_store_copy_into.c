/*
 * test_store_copy_into.c — IMAP COPY between accounts (a mailbox shared
 * with the user, imap_acl.h; store_email_copy_into, store_copy.c).
 * Checked: the copy is a new email of the target account on the same
 * stored bytes (one more blob reference, the bytes read back through the
 * target account), with that account's own EMAILID and a thread of its
 * own there, charged to the target's emails and quota (over it: refused
 * whole, nothing copied, no reference taken); the source account does
 * not change (its count, usage and modseq); the flags the user's rights
 * on the target do not allow are left out (RFC 4314 §4: "s" for \Seen,
 * "t" for \Deleted, "w" for the rest) while the owner's own copy keeps
 * them all; a copy into a mailbox the target account does not have is
 * STORE_ENOTFOUND; and the bytes go with the last email holding them.
 * A MOVE into another account leaves the source in the same commit (the
 * usage moves with it, the blob keeps one reference), all or nothing; a
 * MOVE within one account keeps the email and only the flags the rights
 * allow. A copy into another account may start with keywords and a
 * received date of its own (JMAP Email/copy), the keywords cut by the
 * rights the same way, \Deleted off; the result names its new email.
 * Given other bytes for the copy (store_copy_into.blobs: the target's
 * sealed form), the copy is stored on those and charged their size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_acl.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

enum { INBOX = 1, ARCHIVE = 6 };

struct seen {
	uint32_t n, email[4], object[4], uid[4], thread[4];
	int deleted[4];
	int64_t received[4];
	uint64_t modseq[4];
	char kw[4][64];
};

static void list_cb(void *arg, const struct store_email_info *i)
{
	struct seen *s = arg;
	if (s->n >= 4)
		return;
	s->email[s->n] = i->email_id;
	s->object[s->n] = i->object_id;
	s->uid[s->n] = i->uid;
	s->thread[s->n] = i->thread_id;
	s->modseq[s->n] = i->modseq;
	s->deleted[s->n] = i->deleted;
	s->received[s->n] = i->received_at;
	snprintf(s->kw[s->n], sizeof s->kw[0], "%.*s", (int)i->keywords_len, i->keywords);
	s->n++;
}

static void list(struct store *st, uint32_t acc, uint32_t mb, struct seen *s)
{
	memset(s, 0, sizeof *s);
	CHECK_EQ_INT(store_email_list(st, acc, mb, list_cb, s), STORE_OK);
}

static void mb_cb(void *arg, const struct store_mailbox_info *i)
{
	*(uint32_t *)arg = i->uidvalidity;
}

static uint32_t uidvalidity(struct store *st, uint32_t acc, uint32_t mb)
{
	uint32_t v = 0;
	CHECK_EQ_INT(store_mailbox_get(st, acc, mb, mb_cb, &v), STORE_OK);
	return v;
}

/* COPY of uid from acc's mailbox from into to's mailbox of to_acc with
 * rights (all of them and no filter: the owner's own copy). */
static int copy_or_move(struct store *st, uint32_t acc, uint32_t from, uint32_t uid,
			uint32_t to_acc, uint32_t to, uint32_t rights, int move,
			uint32_t *dst_uid_r)
{
	struct store_copy_result r;
	struct store_copy_into into = {
	    .account = to_acc,
	    .mailbox = to,
	    .rights = rights,
	    .keywords_filter = rights == STORE_ACL_ALL ? NULL : imap_acl_keywords_filter,
	    .move = move,
	};
	int rc = store_email_copy_into(st, acc, from, uidvalidity(st, acc, from), &uid, 1, &into, &r);
	if (dst_uid_r)
		*dst_uid_r = r.n ? r.dst_uids[0] : 0;
	store_copy_result_free(&r);
	return rc;
}

static int copy_into(struct store *st, uint32_t acc, uint32_t from, uint32_t uid,
		     uint32_t to_acc, uint32_t to, uint32_t rights, uint32_t *dst_uid_r)
{
	return copy_or_move(st, acc, from, uid, to_acc, to, rights, 0, dst_uid_r);
}

static void kw(struct store *st, uint32_t acc, uint32_t mb, uint32_t uid, const char *k)
{
	struct store_kw_result r;
	CHECK_EQ_INT(store_email_keywords(st, acc, mb, 0, &uid, 1, STORE_KW_ADD, k, 0, &r, NULL),
		     STORE_OK);
	store_kw_results_free(&r, 1);
}

/* The blob's reference count, 0 when it is gone. */
static uint64_t refs(struct store *st, const uint8_t id[32])
{
	MDB_txn *txn;
	struct blobref_rec br;
	uint64_t n = 0;
	CHECK_EQ_INT(store_rd_begin(st, &txn), 0);
	if (blobref_get(txn, st, id, &br) == 0)
		n = br.refs;
	mdb_txn_abort(txn);
	return n;
}

static void usage(struct store *st, uint32_t acc, uint32_t *emails, uint64_t *used,
		  uint64_t *modseq)
{
	MDB_txn *txn;
	struct acct_rec a;
	*emails = 0;
	*used = *modseq = 0;
	CHECK_EQ_INT(store_rd_begin(st, &txn), 0);
	if (acct_get(txn, st, acc, &a) == 0) {
		*emails = a.emails;
		*used = a.used;
		*modseq = a.modseq;
	}
	mdb_txn_abort(txn);
}

static void raw_cb(void *arg, const char *data, size_t len)
{
	snprintf(arg, 128, "%.*s", (int)len, data);
}

static void expunge(struct store *st, uint32_t acc, uint32_t mb, uint32_t uid)
{
	CHECK_EQ_INT(store_expunge(st, acc, mb, uidvalidity(st, acc, mb), &uid, 1, NULL, NULL),
		     STORE_OK);
}

int main(void)
{
	char dir[300], err[256], raw[128] = "";
	struct store *st;
	struct seen b_in, c_in, c_ar;
	uint32_t bob = 0, carol = 0, emails, uid;
	uint64_t used, modseq, used2, modseq2;
	const char *text = "Message-ID: <a@x>\r\nSubject: Shared\r\n\r\n1\r\n";
	uint8_t blob[32];

	if (unit_env_begin(base, sizeof base, "copyinto") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "bob@example.test", &bob);
	if (!st)
		return unit_done("test_store_copy_into");
	CHECK_EQ_INT(store_account_add(st, "carol@example.test", "pw", 0, &carol, err, sizeof err),
		     STORE_OK);
	store_blob_id(text, strlen(text), blob);
	unit_deliver(st, bob, text, 1700000000, NULL);
	kw(st, bob, INBOX, 1, "$flagged $seen $label");
	list(st, bob, INBOX, &b_in);
	usage(st, bob, &emails, &used, &modseq);
	CHECK_EQ_INT((int)refs(st, blob), 1);

	/* Bob's message into carol's INBOX (carol copies out of a mailbox
	 * bob shares with her): an email of carol's on the same bytes. */
	uint64_t carol_modseq;
	usage(st, carol, &emails, &used2, &carol_modseq);
	CHECK_EQ_INT(copy_into(st, bob, INBOX, 1, carol, INBOX, STORE_ACL_ALL, &uid), STORE_OK);
	CHECK_EQ_INT((int)uid, 1);
	CHECK_EQ_INT((int)refs(st, blob), 2);
	list(st, carol, INBOX, &c_in);
	CHECK_EQ_INT((int)c_in.n, 1);
	CHECK_EQ_INT((int)c_in.object[0], (int)c_in.email[0]); /* its own EMAILID */
	CHECK_EQ_INT((int)c_in.thread[0], (int)c_in.email[0]); /* a thread of its own */
	CHECK(strstr(c_in.kw[0], "$flagged") && strstr(c_in.kw[0], "$seen") &&
	      strstr(c_in.kw[0], "$label"));
	CHECK_EQ_INT(store_email_raw(st, carol, c_in.email[0], raw_cb, raw), STORE_OK);
	CHECK(strcmp(raw, text) == 0);
	usage(st, carol, &emails, &used2, &modseq2);
	CHECK(emails == 1 && used2 == strlen(text));
	CHECK(modseq2 > carol_modseq); /* the change is carol's */
	/* The source account did not change. */
	usage(st, bob, &emails, &used2, &modseq2);
	CHECK(emails == 1 && used2 == used && modseq2 == modseq);

	/* Carol's copy into bob's Archive with "lri" only: no flag kept;
	 * with "lris": \Seen alone. The copy is bob's. */
	kw(st, carol, INBOX, 1, "$deleted");
	uint32_t lri = STORE_ACL_L | STORE_ACL_R | STORE_ACL_I;
	CHECK_EQ_INT(copy_into(st, carol, INBOX, 1, bob, ARCHIVE, lri, &uid), STORE_OK);
	CHECK_EQ_INT(copy_into(st, carol, INBOX, 1, bob, ARCHIVE, lri | STORE_ACL_S, &uid),
		     STORE_OK);
	CHECK_EQ_INT(copy_into(st, carol, INBOX, 1, bob, ARCHIVE, lri | STORE_ACL_T, &uid),
		     STORE_OK);
	list(st, bob, ARCHIVE, &c_ar);
	CHECK_EQ_INT((int)c_ar.n, 3);
	CHECK(strcmp(c_ar.kw[0], "") == 0 && !c_ar.deleted[0]);
	CHECK(strcmp(c_ar.kw[1], "$seen") == 0 && !c_ar.deleted[1]);
	CHECK(strcmp(c_ar.kw[2], "") == 0 && c_ar.deleted[2]);
	CHECK_EQ_INT((int)refs(st, blob), 5);
	usage(st, bob, &emails, &used2, &modseq2);
	CHECK(emails == 4 && used2 == 4 * strlen(text));

	/* No such mailbox in the target account. */
	CHECK_EQ_INT(copy_into(st, bob, INBOX, 1, carol, 999, STORE_ACL_ALL, NULL),
		     STORE_ENOTFOUND);

	/* Over the target's quota: refused whole, nothing taken. */
	usage(st, carol, &emails, &used2, &modseq2);
	CHECK_EQ_INT(store_account_set_quota(st, "carol@example.test", used2 + 1, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(copy_into(st, bob, INBOX, 1, carol, ARCHIVE, STORE_ACL_ALL, NULL),
		     STORE_EQUOTA);
	list(st, carol, ARCHIVE, &c_ar);
	CHECK_EQ_INT((int)c_ar.n, 0);
	CHECK_EQ_INT((int)refs(st, blob), 5);

	/* The bytes stay while any account's email has them. */
	list(st, bob, ARCHIVE, &c_ar);
	for (uint32_t i = 0; i < c_ar.n; i++)
		expunge(st, bob, ARCHIVE, c_ar.uid[i]);
	expunge(st, bob, INBOX, b_in.uid[0]);
	CHECK_EQ_INT((int)refs(st, blob), 1);
	raw[0] = '\0';
	CHECK_EQ_INT(store_email_raw(st, carol, c_in.email[0], raw_cb, raw), STORE_OK);
	CHECK(strcmp(raw, text) == 0);
	expunge(st, carol, INBOX, c_in.uid[0]);
	CHECK_EQ_INT((int)refs(st, blob), 0);

	/* MOVE into another account (RFC 6851): in the target, out of the
	 * source in the same commit; the bytes keep their one reference and
	 * the usage moves from one account to the other. */
	CHECK_EQ_INT(store_account_set_quota(st, "carol@example.test", 0, err, sizeof err),
		     STORE_OK);
	unit_deliver(st, bob, text, 1700000100, NULL);
	list(st, bob, INBOX, &b_in);
	CHECK_EQ_INT((int)b_in.n, 1);
	usage(st, bob, &emails, &used, &modseq);
	CHECK(emails == 1 && used == strlen(text));
	CHECK_EQ_INT(copy_or_move(st, bob, INBOX, b_in.uid[0], carol, ARCHIVE, STORE_ACL_ALL, 1,
				  &uid),
		     STORE_OK);
	CHECK_EQ_INT((int)refs(st, blob), 1);
	list(st, bob, INBOX, &b_in);
	list(st, carol, ARCHIVE, &c_ar);
	CHECK(b_in.n == 0 && c_ar.n == 1 && c_ar.uid[0] == uid);
	usage(st, bob, &emails, &used2, &modseq2);
	CHECK(emails == 0 && used2 == 0 && modseq2 > modseq);
	usage(st, carol, &emails, &used2, &modseq2);
	CHECK(emails == 1 && used2 == strlen(text));
	/* A uid gone: nothing moved (all or nothing). */
	CHECK_EQ_INT(copy_or_move(st, carol, ARCHIVE, uid + 1, bob, INBOX, STORE_ACL_ALL, 1, NULL),
		     STORE_EGONE);
	list(st, carol, ARCHIVE, &c_ar);
	CHECK_EQ_INT((int)c_ar.n, 1);
	expunge(st, carol, ARCHIVE, c_ar.uid[0]);
	CHECK_EQ_INT((int)refs(st, blob), 0);

	/* MOVE between two mailboxes of one account shared with the user
	 * (RFC 6851, RFC 4314 §4): the same email in its new mailbox, no new
	 * reference, with only the flags the user may set there ("s": \Seen). */
	unit_deliver(st, bob, text, 1700000200, NULL);
	list(st, bob, INBOX, &b_in);
	CHECK_EQ_INT((int)b_in.n, 1);
	kw(st, bob, INBOX, b_in.uid[0], "$flagged $seen $label $deleted");
	usage(st, bob, &emails, &used, &modseq);
	CHECK_EQ_INT(copy_or_move(st, bob, INBOX, b_in.uid[0], bob, ARCHIVE, lri | STORE_ACL_S, 1,
				  &uid),
		     STORE_OK);
	list(st, bob, INBOX, &c_in);
	list(st, bob, ARCHIVE, &c_ar);
	CHECK(c_in.n == 0 && c_ar.n == 1 && c_ar.uid[0] == uid);
	CHECK_EQ_INT((int)c_ar.email[0], (int)b_in.email[0]); /* its identity kept */
	CHECK_EQ_STR(c_ar.kw[0], "$seen");
	CHECK(!c_ar.deleted[0]);
	CHECK_EQ_INT((int)refs(st, blob), 1);
	usage(st, bob, &emails, &used2, &modseq2);
	CHECK(emails == 1 && used2 == used && modseq2 > modseq);
	/* With every right the move keeps every flag. */
	kw(st, bob, ARCHIVE, uid, "$flagged $deleted");
	CHECK_EQ_INT(copy_or_move(st, bob, ARCHIVE, uid, bob, INBOX, STORE_ACL_ALL, 1, &uid),
		     STORE_OK);
	list(st, bob, INBOX, &b_in);
	CHECK(b_in.n == 1 && strstr(b_in.kw[0], "$flagged") && strstr(b_in.kw[0], "$seen") &&
	      b_in.deleted[0]);

	/* JMAP Email/copy: keywords and received date given replace the
	 * source's; "w" without "s" keeps $answered and $label, not $seen;
	 * \Deleted is not the copy's; last_email is the new email. */
	struct store_copy_result r;
	struct store_copy_into given = {
	    .account = carol,
	    .mailbox = INBOX,
	    .rights = lri | STORE_ACL_W,
	    .keywords_filter = imap_acl_keywords_filter,
	    .keywords = "$answered $seen $label",
	    .keywords_len = strlen("$answered $seen $label"),
	    .received_at = 1600000000,
	};
	CHECK_EQ_INT(store_email_copy_into(st, bob, INBOX, uidvalidity(st, bob, INBOX), &b_in.uid[0],
					   1, &given, &r),
		     STORE_OK);
	list(st, carol, INBOX, &c_in);
	CHECK_EQ_INT((int)c_in.n, 1);
	CHECK_EQ_STR(c_in.kw[0], "$answered $label");
	CHECK(!c_in.deleted[0]);
	CHECK(c_in.received[0] == 1600000000);
	CHECK_EQ_INT((int)r.last_email, (int)c_in.email[0]);
	store_copy_result_free(&r);
	/* "" for keywords: none at all, whatever the rights. */
	given.keywords = "";
	given.keywords_len = 0;
	given.received_at = 0;
	given.keywords_filter = NULL;
	given.rights = STORE_ACL_ALL;
	CHECK_EQ_INT(store_email_copy_into(st, bob, INBOX, uidvalidity(st, bob, INBOX), &b_in.uid[0],
					   1, &given, &r),
		     STORE_OK);
	store_copy_result_free(&r);
	list(st, carol, INBOX, &c_in);
	CHECK_EQ_INT((int)c_in.n, 2);
	CHECK_EQ_STR(c_in.kw[1], "");
	CHECK(!c_in.deleted[1] && c_in.received[1] == b_in.received[0]);
	/* Keywords longer than an email record holds: refused whole, nothing
	 * copied and nothing held (the source's record copy leaked here). */
	size_t longlen = (size_t)UINT16_MAX + 2;
	char *longkw = malloc(longlen + 1);
	CHECK(longkw != NULL);
	memset(longkw, 'k', longlen);
	longkw[longlen] = '\0';
	given.keywords = longkw;
	given.keywords_len = longlen;
	CHECK_EQ_INT(store_email_copy_into(st, bob, INBOX, uidvalidity(st, bob, INBOX), &b_in.uid[0],
					   1, &given, &r),
		     STORE_EINVAL);
	store_copy_result_free(&r);
	free(longkw);
	list(st, carol, INBOX, &c_in);
	CHECK_EQ_INT((int)c_in.n, 2);

	/* Stored as other bytes (the target's sealed form, crypt_copy.h):
	 * the copy reads them, they have one reference and the source's
	 * bytes none more, the target is charged their size; a MOVE so
	 * leaves the source in the same commit and drops its reference. */
	const char *other = "Message-ID: <a@x>\r\nSubject: Shared\r\n\r\nsealed, longer\r\n";
	struct store_copy_blob sb = {.data = other, .len = strlen(other)};
	store_blob_id(other, strlen(other), sb.id);
	uint64_t src_refs = refs(st, blob);
	usage(st, carol, &emails, &used, &modseq);
	struct store_copy_into sealed_into = {.account = carol, .mailbox = ARCHIVE,
					      .rights = STORE_ACL_ALL, .blobs = &sb};
	CHECK_EQ_INT(store_email_copy_into(st, bob, INBOX, uidvalidity(st, bob, INBOX), &b_in.uid[0],
					   1, &sealed_into, &r),
		     STORE_OK);
	store_copy_result_free(&r);
	CHECK_EQ_INT((int)refs(st, sb.id), 1);
	CHECK(refs(st, blob) == src_refs);
	usage(st, carol, &emails, &used2, &modseq2);
	CHECK(used2 == used + strlen(other));
	list(st, carol, ARCHIVE, &c_ar);
	CHECK_EQ_INT((int)c_ar.n, 1);
	raw[0] = '\0';
	CHECK_EQ_INT(store_email_raw(st, carol, c_ar.email[0], raw_cb, raw), STORE_OK);
	CHECK_EQ_STR(raw, other);
	sealed_into.move = 1;
	CHECK_EQ_INT(store_email_copy_into(st, bob, INBOX, uidvalidity(st, bob, INBOX), &b_in.uid[0],
					   1, &sealed_into, &r),
		     STORE_OK);
	store_copy_result_free(&r);
	CHECK_EQ_INT((int)refs(st, sb.id), 2);
	CHECK(refs(st, blob) == src_refs - 1);
	list(st, bob, INBOX, &b_in);
	CHECK_EQ_INT((int)b_in.n, 0);
	/* Its bytes go with the last email holding them. */
	list(st, carol, ARCHIVE, &c_ar);
	for (uint32_t i = 0; i < c_ar.n; i++)
		expunge(st, carol, ARCHIVE, c_ar.uid[i]);
	CHECK_EQ_INT((int)refs(st, sb.id), 0);

	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_copy_into");
}
