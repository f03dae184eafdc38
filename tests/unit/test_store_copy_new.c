/*
 * test_store_copy_new.c — IMAP COPY's copies (store_email_copy with
 * STORE_COPY_NEW, store_copy.c): each copy is an email of its own on the
 * source's stored bytes. Checked: the copy's keywords start as the
 * source's and then change apart from them (both ways); the copy shows
 * the source's EMAILID (object_id, RFC 8474 §5.1) also when copied
 * again, keeps its thread and received date; the blob gains a reference
 * per copy and loses it per destroyed email, the bytes going only with
 * the last one; the account's emails/used count the copy (as Dovecot
 * counts a copy) and a COPY over the quota is refused whole (nothing
 * copied); the source email's modseq does not move; a MOVE keeps the
 * email's identity (RFC 6851). The plain copy (no flag: JMAP mailboxIds)
 * still shares the email. A delivery's further copy (Sieve fileinto
 * :copy) is made the same way: an email of its own showing the first
 * copy's EMAILID, on one more blob reference. A copy of a message tern
 * received on port 25 keeps what the filter saw of its sender
 * (spamfrom/), so a lesson on the copy (a client without MOVE puts a
 * message in Junk by COPY and EXPUNGE) still corrects the reputation;
 * the record goes with the copy.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

enum { INBOX = 1, ARCHIVE = 6 };

struct seen {
	uint32_t n, email[8], object[8], uid[8], thread[8];
	uint64_t modseq[8];
	int64_t received[8];
	char kw[8][64];
};

static void list_cb(void *arg, const struct store_email_info *i)
{
	struct seen *s = arg;
	if (s->n >= 8)
		return;
	s->email[s->n] = i->email_id;
	s->object[s->n] = i->object_id;
	s->uid[s->n] = i->uid;
	s->thread[s->n] = i->thread_id;
	s->modseq[s->n] = i->modseq;
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

static int copy(struct store *st, uint32_t acc, uint32_t from, uint32_t uid, uint32_t to,
		int flags)
{
	struct store_copy_result r;
	int rc = store_email_copy(st, acc, from, uidvalidity(st, acc, from), &uid, 1, to, flags, &r);
	store_copy_result_free(&r);
	return rc;
}

static void kw(struct store *st, uint32_t acc, uint32_t mb, uint32_t uid, enum store_kw_op op,
	       const char *k)
{
	struct store_kw_result r;
	CHECK_EQ_INT(store_email_keywords(st, acc, mb, 0, &uid, 1, op, k, 0, &r, NULL), STORE_OK);
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

static void usage(struct store *st, uint32_t acc, uint32_t *emails, uint64_t *used)
{
	MDB_txn *txn;
	struct acct_rec a;
	*emails = 0;
	*used = 0;
	CHECK_EQ_INT(store_rd_begin(st, &txn), 0);
	if (acct_get(txn, st, acc, &a) == 0) {
		*emails = a.emails;
		*used = a.used;
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
	char dir[300];
	struct store *st;
	struct seen in, ar;
	uint32_t acc = 0, emails;
	uint64_t used;
	const char *text = "Message-ID: <a@x>\r\nSubject: Hello\r\n\r\n1\r\n";
	uint8_t blob[32];

	if (unit_env_begin(base, sizeof base, "copynew") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "c@example.test", &acc);
	if (!st)
		return unit_done("test_store_copy_new");
	store_blob_id(text, strlen(text), blob);
	unit_deliver(st, acc, text, 1700000000, NULL);
	kw(st, acc, INBOX, 1, STORE_KW_ADD, "$flagged");
	list(st, acc, INBOX, &in);
	uint64_t src_modseq = in.modseq[0];
	CHECK_EQ_INT((int)refs(st, blob), 1);

	CHECK_EQ_INT(copy(st, acc, INBOX, 1, ARCHIVE, STORE_COPY_NEW | STORE_COPY_ALL), STORE_OK);
	list(st, acc, ARCHIVE, &ar);
	list(st, acc, INBOX, &in);
	CHECK_EQ_INT((int)ar.n, 1);
	CHECK(ar.email[0] != in.email[0]);
	CHECK_EQ_INT((int)ar.object[0], (int)in.email[0]);
	CHECK_EQ_INT((int)in.object[0], (int)in.email[0]);
	CHECK(ar.thread[0] == in.thread[0] && ar.received[0] == in.received[0]);
	CHECK(strcmp(ar.kw[0], "$flagged") == 0);
	CHECK(in.modseq[0] == src_modseq); /* the source did not change */
	CHECK_EQ_INT((int)refs(st, blob), 2);
	usage(st, acc, &emails, &used);
	CHECK(emails == 2 && used == 2 * strlen(text));

	/* Keywords apart, both ways. */
	kw(st, acc, ARCHIVE, ar.uid[0], STORE_KW_ADD, "$seen");
	kw(st, acc, INBOX, 1, STORE_KW_REMOVE, "$flagged");
	list(st, acc, ARCHIVE, &ar);
	list(st, acc, INBOX, &in);
	CHECK(strcmp(ar.kw[0], "$flagged $seen") == 0 || strcmp(ar.kw[0], "$seen $flagged") == 0);
	CHECK(strcmp(in.kw[0], "") == 0);

	/* A copy of the copy shows the first EMAILID too. */
	CHECK_EQ_INT(copy(st, acc, ARCHIVE, ar.uid[0], INBOX, STORE_COPY_NEW | STORE_COPY_ALL),
		     STORE_OK);
	list(st, acc, INBOX, &in);
	CHECK_EQ_INT((int)in.n, 2);
	CHECK_EQ_INT((int)in.object[1], (int)in.email[0]);
	CHECK_EQ_INT((int)refs(st, blob), 3);

	/* The bytes stay while one email has them. */
	expunge(st, acc, INBOX, 1);
	CHECK_EQ_INT((int)refs(st, blob), 2);
	list(st, acc, ARCHIVE, &ar);
	char raw[128] = "";
	CHECK_EQ_INT(store_email_raw(st, acc, ar.email[0], raw_cb, raw), STORE_OK);
	CHECK(strcmp(raw, text) == 0);

	/* MOVE keeps the email (RFC 6851): same id, no new reference. */
	uint32_t moved = ar.email[0];
	CHECK_EQ_INT(copy(st, acc, ARCHIVE, ar.uid[0], INBOX, 1 | STORE_COPY_ALL), STORE_OK);
	list(st, acc, INBOX, &in);
	CHECK(in.n == 2 && in.email[1] == moved);
	CHECK_EQ_INT((int)refs(st, blob), 2);

	/* Over the quota: refused, nothing copied. */
	usage(st, acc, &emails, &used);
	char err[256];
	CHECK_EQ_INT(store_account_set_quota(st, "c@example.test", used + 1, err, sizeof err),
		     STORE_OK);
	CHECK_EQ_INT(copy(st, acc, INBOX, in.uid[0], ARCHIVE, STORE_COPY_NEW | STORE_COPY_ALL),
		     STORE_EQUOTA);
	list(st, acc, ARCHIVE, &ar);
	CHECK_EQ_INT((int)ar.n, 0);
	CHECK_EQ_INT((int)refs(st, blob), 2);
	/* A plain copy (JMAP mailboxIds) is one more membership: no bytes. */
	CHECK_EQ_INT(copy(st, acc, INBOX, in.uid[0], ARCHIVE, STORE_COPY_ALL), STORE_OK);
	list(st, acc, ARCHIVE, &ar);
	CHECK(ar.n == 1 && ar.email[0] == in.email[0]);

	expunge(st, acc, ARCHIVE, ar.uid[0]);
	expunge(st, acc, INBOX, in.uid[0]);
	expunge(st, acc, INBOX, in.uid[1]);
	CHECK_EQ_INT((int)refs(st, blob), 0);
	usage(st, acc, &emails, &used);
	CHECK(emails == 0 && used == 0);

	/* A delivery into the INBOX and Archive: two emails, one EMAILID. */
	{
		struct store_delivery d;
		uint32_t accs[2] = { acc, acc }, ids[2] = { 0, 0 };
		struct store_target tg[2] = { { STORE_TARGET_INBOX, NULL, NULL, 0, NULL },
			                      { STORE_TARGET_INBOX, NULL, "Archive", 0, NULL } };
		unit_delivery_init(&d, text, accs, 1700000100);
		d.naccounts = 2;
		d.targets = tg;
		d.email_ids = ids;
		CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
		CHECK(ids[0] != 0 && ids[1] != 0 && ids[0] != ids[1]);
		list(st, acc, ARCHIVE, &ar);
		list(st, acc, INBOX, &in);
		CHECK(ar.n == 1 && in.n == 1 && ar.email[0] == ids[1] && in.email[0] == ids[0]);
		CHECK_EQ_INT((int)ar.object[0], (int)ids[0]);
		CHECK_EQ_INT((int)in.object[0], (int)ids[0]);
		CHECK_EQ_INT((int)refs(st, blob), 2);
		kw(st, acc, INBOX, in.uid[0], STORE_KW_ADD, "$seen");
		list(st, acc, ARCHIVE, &ar);
		CHECK(strcmp(ar.kw[0], "") == 0);
	}

	/* The sender as the filter saw it goes with each copy. */
	{
		struct store_delivery d;
		const char *t2 = "Message-ID: <s@x>\r\nSubject: Spam?\r\n\r\n2\r\n";
		uint32_t id = 0;
		char name[64], val[64];
		size_t vl = 0;
		CHECK_EQ_INT(store_account_set_quota(st, "c@example.test", 0, err, sizeof err),
			     STORE_OK);
		unit_delivery_init(&d, t2, &acc, 1700000200);
		d.spam_from = "192.0.2.0/24\nspam.test";
		d.email_ids = &id;
		CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
		list(st, acc, INBOX, &in);
		CHECK(in.n == 2 && in.email[1] == id);
		CHECK_EQ_INT(copy(st, acc, INBOX, in.uid[1], ARCHIVE, STORE_COPY_NEW | STORE_COPY_ALL),
			     STORE_OK);
		list(st, acc, ARCHIVE, &ar);
		CHECK(ar.n == 2 && ar.email[1] != id);
		snprintf(name, sizeof name, "spamfrom/%u/%u", acc, ar.email[1]);
		CHECK_EQ_INT(store_meta_get(st, name, val, sizeof val, &vl), STORE_OK);
		/* the source's record, and the origin: the email received */
		char want[64];
		snprintf(want, sizeof want, "%s\n%u", d.spam_from, id);
		CHECK(vl == strlen(want) && memcmp(val, want, vl) == 0);
		/* a copy of the copy names the same origin */
		CHECK_EQ_INT(copy(st, acc, ARCHIVE, ar.uid[1], INBOX, STORE_COPY_NEW | STORE_COPY_ALL),
			     STORE_OK);
		list(st, acc, INBOX, &in);
		CHECK(in.n == 3);
		char name2[64], val2[64];
		size_t vl2 = 0;
		snprintf(name2, sizeof name2, "spamfrom/%u/%u", acc, in.email[2]);
		CHECK_EQ_INT(store_meta_get(st, name2, val2, sizeof val2, &vl2), STORE_OK);
		CHECK(vl2 == strlen(want) && memcmp(val2, want, vl2) == 0);
		expunge(st, acc, INBOX, in.uid[2]);
		expunge(st, acc, ARCHIVE, ar.uid[1]);
		CHECK_EQ_INT(store_meta_get(st, name, val, sizeof val, &vl), STORE_ENOTFOUND);
		snprintf(name, sizeof name, "spamfrom/%u/%u", acc, id);
		CHECK_EQ_INT(store_meta_get(st, name, val, sizeof val, &vl), STORE_OK);
	}
	store_close(&st);
	unit_rmrf(base);
	return unit_done("test_store_copy_new");
}
