/*
 * test_store_counts.c — the per-mailbox counters (RFC 8621 §2:
 * totalEmails, unreadEmails, totalThreads, unreadThreads) and the thread
 * index kept by the store writer (store_counts.c): correct after
 * delivery, keyword changes ($seen and $draft), copy, move to the trash
 * (whose unread emails other mailboxes ignore), expunge, and after the
 * 12 -> 13 migration counted them from the email records. And the index
 * of emails by blob id kept with them (store_blob_email): each email
 * found by its bytes, the lowest of those sharing them, none once
 * destroyed (expunge, a deleted mailbox, a deleted account), the same
 * after a close and an open, and filled by the 14 -> 15 migration.
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

enum { INBOX = 1, TRASH = 4, ARCHIVE = 6 };

struct counts {
	uint32_t c[8][4];
	uint32_t uidvalidity[8];
};

static void counts_cb(void *arg, const struct store_mailbox_info *i)
{
	struct counts *k = arg;
	if (i->id < 8) {
		k->c[i->id][0] = i->total_emails;
		k->c[i->id][1] = i->unread_emails;
		k->c[i->id][2] = i->total_threads;
		k->c[i->id][3] = i->unread_threads;
		k->uidvalidity[i->id] = i->uidvalidity;
	}
}

static void get(struct store *st, uint32_t acc, struct counts *k)
{
	memset(k, 0, sizeof *k);
	CHECK_EQ_INT(store_mailbox_list(st, acc, counts_cb, k), STORE_OK);
}

/* Checks mailbox mb's four counters, naming the step on failure. */
static void expect(struct store *st, uint32_t acc, uint32_t mb, uint32_t total, uint32_t unread,
		   uint32_t threads, uint32_t unread_threads, const char *step)
{
	struct counts k;
	get(st, acc, &k);
	const uint32_t *c = k.c[mb];
	if (c[0] != total || c[1] != unread || c[2] != threads || c[3] != unread_threads)
		fprintf(stderr, "step %s mailbox %u: got %u %u %u %u want %u %u %u %u\n", step, mb,
			c[0], c[1], c[2], c[3], total, unread, threads, unread_threads);
	CHECK(c[0] == total && c[1] == unread && c[2] == threads && c[3] == unread_threads);
}

static void kw(struct store *st, uint32_t acc, uint32_t mb, uint32_t uid, enum store_kw_op op,
	       const char *k)
{
	struct store_kw_result r;
	CHECK_EQ_INT(store_email_keywords(st, acc, mb, 0, &uid, 1, op, k, 0, &r, NULL), STORE_OK);
	store_kw_results_free(&r, 1);
}

static uint32_t uidvalidity(struct store *st, uint32_t acc, uint32_t mb)
{
	struct counts k;
	get(st, acc, &k);
	return k.uidvalidity[mb];
}

static void copy(struct store *st, uint32_t acc, uint32_t from, uint32_t uid, uint32_t to,
		 int move)
{
	struct store_copy_result r;
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(store_email_copy(st, acc, from, uidvalidity(st, acc, from), &uid, 1, to, move,
				      &r),
		     STORE_OK);
	CHECK_EQ_INT((int)r.n, 1);
	store_copy_result_free(&r);
}

struct thread_list {
	uint32_t id[8];
	int n;
};

static void thread_cb(void *arg, uint32_t email, int64_t received)
{
	struct thread_list *t = arg;
	(void)received;
	if (t->n < 8)
		t->id[t->n++] = email;
}

static int thread_emails(struct store *st, uint32_t acc, uint32_t thread, struct thread_list *t)
{
	memset(t, 0, sizeof *t);
	CHECK_EQ_INT(store_thread_emails(st, acc, thread, thread_cb, t), STORE_OK);
	return t->n;
}

/* Makes the store look as schema 12 left it: no counters, no indexes. */
static int uncount_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	int rc;
	(void)ctx;
	if ((rc = mdb_drop(txn, st->db[DB_THREAD], 0)) != 0 ||
	    (rc = mdb_drop(txn, st->db[DB_BLOBOWN], 0)) != 0)
		return rc;
	return mdb_drop(txn, st->db[DB_MBCOUNT], 0);
}

static void blob_cb(void *arg, size_t i, const struct store_email_brief *b)
{
	(void)i;
	if (b)
		memcpy(arg, b->blob_id, 32);
}

/* The blob id of email e (all zero when there is none). */
static void blob_of(struct store *st, uint32_t acc, uint32_t e, uint8_t id[32])
{
	memset(id, 0, 32);
	CHECK_EQ_INT(store_emails_get(st, acc, &e, 1, blob_cb, id), STORE_OK);
}

/* The email the blob index gives for id. */
static uint32_t blob_email(struct store *st, uint32_t acc, const uint8_t id[32])
{
	uint32_t e = 99;
	CHECK_EQ_INT(store_blob_email(st, acc, id, &e), STORE_OK);
	return e;
}

int main(void)
{
	char dir[300], err[256];
	struct store *st;
	struct thread_list t;
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "counts") < 0)
		return 1;
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "c@example.test", &acc);
	if (!st)
		return unit_done("test_store_counts");
	unit_deliver(st, acc, "Message-ID: <a@x>\r\nSubject: Hello\r\n\r\n1\r\n", 1700000000, NULL);
	unit_deliver(st, acc, "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nSubject: Re: Hello\r\n\r\n2\r\n",
		     1700000010, NULL);
	unit_deliver(st, acc, "Message-ID: <c@x>\r\nSubject: Other\r\n\r\n3\r\n", 1700000020, NULL);
	expect(st, acc, INBOX, 3, 3, 2, 2, "delivered");
	expect(st, acc, ARCHIVE, 0, 0, 0, 0, "delivered");
	CHECK_EQ_INT(thread_emails(st, acc, 1, &t), 2);
	CHECK(t.id[0] == 1 && t.id[1] == 2);
	CHECK_EQ_INT(thread_emails(st, acc, 3, &t), 1);
	uint8_t b1[32], b2[32], b3[32];
	blob_of(st, acc, 1, b1);
	blob_of(st, acc, 2, b2);
	blob_of(st, acc, 3, b3);
	CHECK(blob_email(st, acc, b1) == 1 && blob_email(st, acc, b2) == 2 &&
	      blob_email(st, acc, b3) == 3);
	CHECK_EQ_INT((int)blob_email(st, acc + 1, b1), 0);

	kw(st, acc, INBOX, 1, STORE_KW_ADD, "$seen");
	kw(st, acc, INBOX, 2, STORE_KW_ADD, "$seen $flagged");
	expect(st, acc, INBOX, 3, 1, 2, 1, "seen");
	/* A draft is not unread either. */
	kw(st, acc, INBOX, 3, STORE_KW_ADD, "$draft");
	expect(st, acc, INBOX, 3, 0, 2, 0, "draft");
	kw(st, acc, INBOX, 3, STORE_KW_REMOVE, "$draft");
	/* Keywords that are neither change nothing. */
	kw(st, acc, INBOX, 3, STORE_KW_ADD, "$flagged");
	expect(st, acc, INBOX, 3, 1, 2, 1, "undraft");

	/* A copy counts in the target; a thread is unread in every mailbox
	 * it has an email in, whichever email is unread. */
	copy(st, acc, INBOX, 1, ARCHIVE, 0);
	expect(st, acc, ARCHIVE, 1, 0, 1, 0, "copy");
	kw(st, acc, INBOX, 2, STORE_KW_REMOVE, "$seen");
	expect(st, acc, INBOX, 3, 2, 2, 2, "unseen");
	expect(st, acc, ARCHIVE, 1, 0, 1, 1, "unseen");

	/* Moved to the trash, email 2 is ignored by the other mailboxes'
	 * unread threads, and counts in the trash's. */
	copy(st, acc, INBOX, 2, TRASH, 1);
	expect(st, acc, INBOX, 2, 1, 2, 1, "trash");
	expect(st, acc, ARCHIVE, 1, 0, 1, 0, "trash");
	expect(st, acc, TRASH, 1, 1, 1, 1, "trash");

	/* The last membership expunged destroys email 3 and its thread. */
	CHECK_EQ_INT(store_expunge(st, acc, INBOX, uidvalidity(st, acc, INBOX), (uint32_t[]){3}, 1,
				   NULL, NULL),
		     STORE_OK);
	expect(st, acc, INBOX, 1, 0, 1, 0, "expunge");
	CHECK_EQ_INT(thread_emails(st, acc, 3, &t), 0);
	CHECK_EQ_INT(thread_emails(st, acc, 1, &t), 2);
	CHECK_EQ_INT((int)blob_email(st, acc, b3), 0);
	CHECK_EQ_INT((int)blob_email(st, acc, b1), 1);

	/* One delivery's copies in two mailboxes (Sieve fileinto :copy) are
	 * two emails on one blob (their flags are their own, as an IMAP
	 * COPY's), each counted in its mailbox; the blob index gives the
	 * lower one. */
	{
		struct store_delivery d;
		uint32_t accs[2] = { acc, acc }, ids[2] = { 0, 0 };
		struct store_target tg[2] = { { STORE_TARGET_INBOX, NULL, NULL, 0, NULL },
			                      { STORE_TARGET_INBOX, NULL, "Archive", 0, NULL } };
		unit_delivery_init(&d, "Message-ID: <d@x>\r\nSubject: Two\r\n\r\n4\r\n", accs, 1700000030);
		d.naccounts = 2;
		d.targets = tg;
		d.email_ids = ids;
		CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
		CHECK(ids[0] != 0 && ids[1] == ids[0] + 1);
		expect(st, acc, INBOX, 2, 1, 2, 1, "two copies");
		expect(st, acc, ARCHIVE, 2, 1, 2, 1, "two copies");
	}

	/* A schema 12 store: the migration counts everything again. */
	struct counts before, after;
	get(st, acc, &before);
	CHECK_EQ_INT(store_write(st, uncount_fn, NULL), 0);
	expect(st, acc, INBOX, 0, 0, 0, 0, "uncounted");
	CHECK_EQ_INT(store_test_set_schema(st, 12), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		get(st, acc, &after);
		CHECK(memcmp(before.c, after.c, sizeof before.c) == 0);
		CHECK(memcmp(before.uidvalidity, after.uidvalidity, sizeof before.uidvalidity) == 0);
		expect(st, acc, TRASH, 1, 1, 1, 1, "migrated");
		uint8_t b4[32], b4c[32];
		blob_of(st, acc, 4, b4);
		blob_of(st, acc, 5, b4c);
		CHECK(memcmp(b4, b4c, 32) == 0);
		CHECK(blob_email(st, acc, b1) == 1 && blob_email(st, acc, b2) == 2 &&
		      blob_email(st, acc, b4) == 4 && blob_email(st, acc, b3) == 0);
		CHECK_EQ_INT(thread_emails(st, acc, 1, &t), 2);
		/* Deleting the trash mailbox expunges its email with it. */
		CHECK_EQ_INT(store_mailbox_delete(st, acc, "Trash"), STORE_OK);
		expect(st, acc, INBOX, 2, 1, 2, 1, "trash deleted");
		CHECK_EQ_INT(thread_emails(st, acc, 1, &t), 1);
		CHECK_EQ_INT((int)blob_email(st, acc, b2), 0);
		/* Two emails of the same bytes: the lower one, then the other
		 * once it is gone; and so after a close and an open. */
		const char *same = "Message-ID: <e@x>\r\nSubject: Same\r\n\r\n5\r\n";
		unit_deliver(st, acc, same, 1700000040, NULL);
		unit_deliver(st, acc, same, 1700000050, NULL);
		uint8_t b5[32], b6[32];
		blob_of(st, acc, 6, b5);
		blob_of(st, acc, 7, b6);
		CHECK(memcmp(b5, b6, 32) == 0);
		CHECK_EQ_INT((int)blob_email(st, acc, b5), 6);
		CHECK_EQ_INT(store_expunge(st, acc, INBOX, uidvalidity(st, acc, INBOX),
					   (uint32_t[]){5}, 1, NULL, NULL),
			     STORE_OK);
		CHECK_EQ_INT((int)blob_email(st, acc, b5), 7);
		store_close(&st);
		CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
		if (!st)
			return unit_done("test_store_counts");
		CHECK(blob_email(st, acc, b5) == 7 && blob_email(st, acc, b1) == 1);
		/* The account's JMAP identities and submissions (meta) go with
		 * it, and their /changes snapshots (jmap_typestate.c). */
		char key[64], key2[64], key3[64], val[8];
		size_t vl;
		snprintf(key, sizeof key, "jmapident/%u/Ix", acc);
		CHECK_EQ_INT(store_meta_put(st, key, "{}", 2, 0), STORE_OK);
		snprintf(key2, sizeof key2, "jmapsub/%u/S1", acc);
		CHECK_EQ_INT(store_meta_put(st, key2, "{}", 2, 0), STORE_OK);
		snprintf(key3, sizeof key3, "jts/%u/sub/0000000000000001", acc);
		CHECK_EQ_INT(store_meta_put(st, key3, "S1 00\n", 6, 0), STORE_OK);
		char key4[64];
		snprintf(key4, sizeof key4, "qdone/%08x/0000000000000007", acc);
		CHECK_EQ_INT(store_meta_put(st, key4, "1a@b\t250 ok\n", 12, 0), STORE_OK);
		CHECK_EQ_INT(store_account_del(st, "c@example.test", err, sizeof err), STORE_OK);
		CHECK_EQ_INT(store_meta_get(st, key3, val, sizeof val, &vl), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_meta_get(st, key4, val, sizeof val, &vl), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_meta_get(st, key, val, sizeof val, &vl), STORE_ENOTFOUND);
		CHECK_EQ_INT(store_meta_get(st, key2, val, sizeof val, &vl), STORE_ENOTFOUND);
		CHECK(blob_email(st, acc, b5) == 0 && blob_email(st, acc, b1) == 0);
		/* store_meta_put_all: every value or none (ACME's chain and key). */
		struct store_meta_item pair[2] = {{"acme/cert", "C2", 2}, {"acme/cert-key", "K2", 2}};
		CHECK_EQ_INT(store_meta_put_all(st, pair, 2), STORE_OK);
		struct store_meta_item bad[2] = {{"acme/cert", "C3", 2}, {"no-slash", "K3", 2}};
		CHECK_EQ_INT(store_meta_put_all(st, bad, 2), STORE_EINVAL);
		CHECK_EQ_INT(store_meta_get(st, "acme/cert", val, sizeof val, &vl), STORE_OK);
		CHECK(vl == 2 && memcmp(val, "C2", 2) == 0);
		CHECK_EQ_INT(store_meta_get(st, "acme/cert-key", val, sizeof val, &vl), STORE_OK);
		CHECK(vl == 2 && memcmp(val, "K2", 2) == 0);
		store_close(&st);
	}
	unit_rmrf(base);
	return unit_done("test_store_counts");
}
