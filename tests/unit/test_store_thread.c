/*
 * test_store_thread.c — thread ids (store_thread.c, mime_threadkeys.c):
 * the hashes a message is threaded by, a reply joining its parent's thread
 * by In-Reply-To or References when the base subjects agree, a reply that
 * arrived before its parent taking the parent in, a changed subject
 * starting a thread of its own, and a schema 9 store (every email its own
 * thread) threaded by the migration without touching UIDVALIDITY.
 */
#include <stdio.h>
#include <string.h>

#include "mime/mime_threadkeys.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static void test_keys(void)
{
	struct mime_threadkeys a, b, c;

	mime_threadkeys_get("Message-ID: <a@x>\r\nSubject: Hello  world\r\n\r\nbody", 47, &a);
	CHECK(a.has_self);
	CHECK_EQ_INT((int)a.nrefs, 0);
	/* Quoting, reply markers, list tags and case do not matter; the
	 * parent comes first, then References nearest first, each once. */
	const char *m = "Subject: Re: [list] hello\r\n  World\r\n"
	                "References: <r1@x> <\"a\"@x>\r\nIn-Reply-To: <a@x>\r\n\r\n";
	mime_threadkeys_get(m, strlen(m), &b);
	CHECK(!b.has_self);
	CHECK_EQ_INT((int)b.nrefs, 2);
	CHECK(b.refs[0] == a.self);
	CHECK(b.subject == a.subject);
	mime_threadkeys_get("Subject: other\r\n\r\n", 18, &c);
	CHECK(c.subject != a.subject);
	CHECK(!c.has_self && c.nrefs == 0);
	/* No header at all, and garbage, are fine. */
	mime_threadkeys_get("", 0, &c);
	CHECK(!c.has_self && c.nrefs == 0);
	mime_threadkeys_get("\x01\xff:\r\n<<>>", 9, &c);
}

struct threads {
	uint32_t id[16], thread[16];
	uint32_t uidvalidity;
	int n;
};

static void collect(void *arg, const struct store_email_info *i)
{
	struct threads *t = arg;
	if (t->n < 16) {
		t->id[t->n] = i->email_id;
		t->thread[t->n++] = i->thread_id;
	}
}

static void collect_mbox(void *arg, const struct store_mailbox_info *i)
{
	struct threads *t = arg;
	if (i->id == 1)
		t->uidvalidity = i->uidvalidity;
}

static void list(struct store *st, uint32_t acc, struct threads *t)
{
	memset(t, 0, sizeof *t);
	CHECK_EQ_INT(store_email_list(st, acc, 1, collect, t), STORE_OK);
	CHECK_EQ_INT(store_mailbox_list(st, acc, collect_mbox, t), STORE_OK);
}

static const char *const msgs[] = {
    /* 1 */ "Message-ID: <a@x>\r\nSubject: Hello\r\n\r\n1\r\n",
    /* 2 */ "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nSubject: Re: Hello\r\n\r\n2\r\n",
    /* 3: replies to 2 by References only */
    "Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\nSubject: RE: hello\r\n\r\n3\r\n",
    /* 4: same parent, another subject: a thread of its own */
    "Message-ID: <d@x>\r\nIn-Reply-To: <a@x>\r\nSubject: Lunch?\r\n\r\n4\r\n",
    /* 5: a reply whose parent (6) arrives after it */
    "Message-ID: <e@x>\r\nIn-Reply-To: <f@x>\r\nSubject: Re: Ping\r\n\r\n5\r\n",
    /* 6 */ "Message-ID: <f@x>\r\nSubject: Ping\r\n\r\n6\r\n",
    /* 7: no ids at all, same subject as 1: not joined by subject alone */
    "Subject: Hello\r\n\r\n7\r\n",
};
static const uint32_t want[] = {1, 1, 1, 4, 5, 5, 7};
#define NMSGS (sizeof msgs / sizeof msgs[0])

static void check_threads(struct store *st, uint32_t acc)
{
	struct threads t;

	list(st, acc, &t);
	CHECK_EQ_INT(t.n, (int)NMSGS);
	for (int i = 0; i < t.n && i < (int)NMSGS; i++) {
		CHECK_EQ_INT((int)t.id[i], i + 1);
		CHECK_EQ_INT((int)t.thread[i], (int)want[i]);
	}
}

/* Makes the store look as schema 9 left it: every email its own thread,
 * no threadref. */
static int unthread_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t keys[NMSGS][8];
	size_t n = 0;
	int rc;

	(void)ctx;
	if ((rc = mdb_drop(txn, st->db[DB_THREADREF], 0)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, st->db[DB_EMAIL], &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < NMSGS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		memcpy(keys[n++], k.mv_data, 8);
	mdb_cursor_close(cur);
	for (size_t i = 0; i < n; i++) {
		struct email_rec e;
		uint8_t *copy;
		k = (MDB_val){8, keys[i]};
		if ((rc = email_get_copy(txn, st, &k, &e, &copy)) != 0)
			return rc;
		e.thread_id = be32_get(keys[i] + 4);
		rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0);
		free(copy);
		if (rc)
			return rc;
	}
	return 0;
}

/* A thread whose emails were all expunged is not joined again: the next
 * reply to its message starts a thread (of its own id), and a later
 * reply whose References name that message joins that one. */
static void test_emptied_thread(const char *dir)
{
	uint32_t acc = 0;
	struct threads t;
	struct store *st = unit_store_with_account(dir, 0, "e@example.test", &acc);

	if (!st)
		return;
	unit_deliver(st, acc, "Message-ID: <g@x>\r\nSubject: Gone\r\n\r\n1\r\n", 1700000000, NULL);
	unit_deliver(st, acc, "Message-ID: <h@x>\r\nIn-Reply-To: <g@x>\r\nSubject: Re: Gone\r\n\r\n2\r\n",
		     1700000001, NULL);
	list(st, acc, &t);
	CHECK_EQ_INT((int)t.thread[1], 1);
	CHECK_EQ_INT(store_expunge(st, acc, 1, t.uidvalidity, (uint32_t[]){1, 2}, 2, NULL, NULL),
		     STORE_OK);
	unit_deliver(st, acc, "Message-ID: <i@x>\r\nIn-Reply-To: <g@x>\r\nSubject: Re: Gone\r\n\r\n3\r\n",
		     1700000002, NULL);
	unit_deliver(st, acc, "Message-ID: <j@x>\r\nIn-Reply-To: <h@x>\r\nReferences: <g@x> <h@x>\r\n"
		     "Subject: Re: Gone\r\n\r\n4\r\n",
		     1700000003, NULL);
	list(st, acc, &t);
	CHECK_EQ_INT(t.n, 2);
	CHECK_EQ_INT((int)t.id[0], 3);
	CHECK_EQ_INT((int)t.thread[0], 3);
	CHECK_EQ_INT((int)t.thread[1], 3);
	/* With one email left, a reply joins as before. */
	CHECK_EQ_INT(store_expunge(st, acc, 1, t.uidvalidity, (uint32_t[]){3}, 1, NULL, NULL),
		     STORE_OK);
	unit_deliver(st, acc, "Message-ID: <k@x>\r\nIn-Reply-To: <g@x>\r\nSubject: Re: Gone\r\n\r\n5\r\n",
		     1700000004, NULL);
	list(st, acc, &t);
	CHECK_EQ_INT(t.n, 2);
	CHECK_EQ_INT((int)t.thread[1], 3);
	store_close(&st);
}

int main(void)
{
	char dir[300], err[256];
	struct store *st;
	struct threads before, after;
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "thread") < 0)
		return 1;
	test_keys();
	snprintf(dir, sizeof dir, "%s/d", base);
	st = unit_store_with_account(dir, 0, "t@example.test", &acc);
	if (!st)
		return unit_done("test_store_thread");
	for (size_t i = 0; i < NMSGS; i++)
		unit_deliver(st, acc, msgs[i], 1700000000 + (int64_t)i, NULL);
	check_threads(st, acc);

	/* A store of schema 9: the migration threads it, UIDVALIDITY stays. */
	list(st, acc, &before);
	CHECK_EQ_INT(store_write(st, unthread_fn, NULL), 0);
	list(st, acc, &after);
	CHECK_EQ_INT((int)after.thread[1], 2); /* really unthreaded */
	CHECK_EQ_INT(store_test_set_schema(st, 9), STORE_OK);
	store_close(&st);
	CHECK_EQ_INT(store_open(dir, 0, &st, err, sizeof err), STORE_OK);
	if (st) {
		check_threads(st, acc);
		list(st, acc, &after);
		CHECK_EQ_INT((int)after.uidvalidity, (int)before.uidvalidity);
		/* New mail after the migration still finds the old ids. */
		unit_deliver(st, acc, "In-Reply-To: <f@x>\r\nSubject: Re: Re: ping\r\n\r\n8\r\n",
		             1700000100, NULL);
		list(st, acc, &after);
		CHECK_EQ_INT((int)after.thread[7], 5);
		/* Deleting the account takes its thread index along. */
		CHECK_EQ_INT(store_account_del(st, "t@example.test", err, sizeof err), STORE_OK);
		store_close(&st);
	}
	snprintf(dir, sizeof dir, "%s/e", base);
	test_emptied_thread(dir);
	unit_rmrf(base);
	return unit_done("test_store_thread");
}
