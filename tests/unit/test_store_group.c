/*
 * test_store_group.c — keyword changes, expunges and moves joined to the
 * writer's group commit (store_group.c): requests queued together commit
 * in one batch; one that fails (a bad keyword, a missing target mailbox)
 * leaves the others and the batch alone; completions run on the loop
 * with the same outputs as the synchronous forms; subscribers are told.
 * One flush per commit (store_writer.c): a lone request is answered only
 * after a flush of its own, and a failed flush answers STORE_ETEMP; a
 * request that changed nothing needs none. A worker's synchronous copy
 * (store_write_grouped) joins the writer's batch: two queued while the
 * writer waits commit together. A request that asks is told of its
 * commit (applied) before the flush and before done, and not when it
 * failed. Another user's keyword change needs the rights on every mailbox
 * of the email (store_email_keywords_as_async). One email's keywords and
 * mailboxes change in one write (store_email_update_async).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"
#include "imap/imap_acl.h"
#include "store/store.h"
#include "store/store_private.h"
#include "unit.h"
#include "unit_env.h"

static char base[256];

static struct loop *lp;
static pthread_t lt;

static void *loop_main(void *arg)
{
	loop_run(arg);
	return NULL;
}

struct res {
	atomic_int done;
	int result;
	int on_loop;
};

static pthread_t loop_thread_id;

static void note_thread(void *arg)
{
	(void)arg;
	loop_thread_id = pthread_self();
}

static void cb(void *arg, int result)
{
	struct res *r = arg;
	r->result = result;
	r->on_loop = pthread_equal(pthread_self(), loop_thread_id);
	atomic_store(&r->done, 1);
}

static atomic_ullong fed;

static void feed_cb(void *arg, uint32_t account, uint64_t modseq)
{
	(void)arg;
	(void)account;
	atomic_store(&fed, modseq);
}

static int wait_done(struct res *r)
{
	for (int i = 0; i < 5000 && !atomic_load(&r->done); i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&r->done);
}

struct em {
	uint32_t uid[8];
	char kw[8][64];
	int n;
};

static void collect(void *arg, const struct store_email_info *i)
{
	struct em *e = arg;
	if (e->n == 8)
		return;
	e->uid[e->n] = i->uid;
	snprintf(e->kw[e->n++], 64, "%.*s", (int)i->keywords_len, i->keywords);
}

struct uvq {
	uint32_t id, uv;
};

static void uv_cb(void *arg, const struct store_mailbox_info *i)
{
	struct uvq *q = arg;
	if (i->id == q->id)
		q->uv = i->uidvalidity;
}

static uint32_t uidvalidity_of(struct store *st, uint32_t acc, uint32_t mailbox)
{
	struct uvq q = {mailbox, 0};
	store_mailbox_list(st, acc, uv_cb, &q);
	return q.uv;
}

static void unsub_cb(void *arg)
{
	struct store_sub *sub = arg;
	store_unsubscribe(sub->arg, sub);
	atomic_store(&fed, UINT64_MAX);
}

static void run(struct store *st, uint32_t acc)
{
	uint32_t inbox, trash;
	struct em e = {0};
	uint32_t u12[2] = {1, 2}, u3[1] = {3}, u1[1] = {1};
	struct store_kw_result kres[2], bad[2];
	struct store_copy_result cr, cr2;
	uint64_t kms = 0, xms = 0;
	size_t removed = 0;
	struct res r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0}, r6 = {0};
	struct store_sub sub = {.account = acc, .loop = lp, .cb = feed_cb, .arg = st};

	unit_deliver(st, acc, "Subject: a\r\n\r\na\r\n", 1700000000, NULL);
	unit_deliver(st, acc, "Subject: b\r\n\r\nb\r\n", 1700000000, NULL);
	unit_deliver(st, acc, "Subject: c\r\n\r\nc\r\n", 1700000000, NULL);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Trash", &trash), STORE_OK);
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &e), STORE_OK);
	CHECK_EQ_INT(e.n, 3);
	store_subscribe(st, &sub);

	/* Everything queued while the writer waits: one batch, and the two
	 * failures (a bad keyword, a missing target; a wrong UIDVALIDITY)
	 * leave the good request alone. */
	unsigned long long batches0 = atomic_load(&st->batches);
	store_test_pause_writer(st, 1);
	store_email_keywords_async(st, lp, acc, inbox, 0, u12, 2, STORE_KW_ADD, "$seen Work", 0,
				   kres, &kms, cb, &r1);
	store_email_keywords_async(st, lp, acc, inbox, 0, u12, 2, STORE_KW_ADD, "bad(kw", 0, bad,
				   NULL, cb, &r2);
	store_expunge_async(st, lp, acc, inbox, 12345, u3, 1, &removed, &xms, cb, &r3);
	store_email_copy_async(st, lp, acc, inbox, uidvalidity_of(st, acc, inbox), u1, 1, 999, 1,
			       &cr, cb, &r4);
	store_test_pause_writer(st, 0);
	CHECK(wait_done(&r1) && wait_done(&r2) && wait_done(&r3) && wait_done(&r4));
	CHECK_EQ_INT((int)(atomic_load(&st->batches) - batches0), 1);
	CHECK_EQ_INT(r1.result, STORE_OK);
	CHECK(r1.on_loop);
	CHECK_EQ_INT(kres[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kres[1].keywords, "$seen Work"); /* the case given is kept */
	CHECK(kms > 0);
	CHECK_EQ_INT(r2.result, STORE_EINVAL);
	CHECK_EQ_INT(r3.result, STORE_ENOTFOUND);
	CHECK_EQ_INT((int)removed, 0);
	CHECK_EQ_INT(r4.result, STORE_ENOTFOUND); /* no mailbox 999 */
	CHECK_EQ_INT((int)cr.n, 0);
	store_kw_results_free(kres, 2);
	store_copy_result_free(&cr);

	/* With the right UIDVALIDITY: expunge 3, then move 1 to Trash. */
	uint32_t uv = uidvalidity_of(st, acc, inbox);
	store_expunge_async(st, lp, acc, inbox, uv, u3, 1, &removed, &xms, cb, &r5);
	CHECK(wait_done(&r5));
	CHECK_EQ_INT(r5.result, STORE_OK);
	CHECK_EQ_INT((int)removed, 1);
	CHECK(xms > kms);
	store_email_copy_async(st, lp, acc, inbox, uv, u1, 1, trash, 1, &cr2, cb, &r6);
	CHECK(wait_done(&r6));
	CHECK_EQ_INT(r6.result, STORE_OK);
	CHECK_EQ_INT((int)cr2.n, 1);
	CHECK_EQ_INT((int)cr2.src_uids[0], 1);
	CHECK_EQ_INT((int)cr2.dst_uids[0], 1);
	uint64_t last = cr2.modseq;
	store_copy_result_free(&cr2);
	struct em in = {0}, tr = {0};
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &in), STORE_OK);
	CHECK_EQ_INT(store_email_list(st, acc, trash, collect, &tr), STORE_OK);
	CHECK_EQ_INT(in.n, 1);
	CHECK_EQ_INT((int)in.uid[0], 2);
	CHECK_EQ_INT(tr.n, 1);
	CHECK_EQ_STR(tr.kw[0], "$seen Work"); /* keywords are the email's */
	/* STORE_COPY_ALL (IMAP COPY and MOVE): uid 1 has left INBOX, so a
	 * move of 1 and 2 fails whole, STORE_EGONE, and 2 stays where it
	 * is (its nested transaction was dropped). */
	uint32_t gone_and_here[2] = {1, 2};
	struct store_copy_result cr3;
	struct res r7 = {0};
	store_email_copy_async(st, lp, acc, inbox, uv, gone_and_here, 2, trash, 1 | STORE_COPY_ALL,
			       &cr3, cb, &r7);
	CHECK(wait_done(&r7));
	CHECK_EQ_INT(r7.result, STORE_EGONE);
	CHECK_EQ_INT((int)cr3.n, 0);
	store_copy_result_free(&cr3);
	struct em in2 = {0}, tr2 = {0};
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &in2), STORE_OK);
	CHECK_EQ_INT(store_email_list(st, acc, trash, collect, &tr2), STORE_OK);
	CHECK_EQ_INT(in2.n, 1);
	CHECK_EQ_INT((int)in2.uid[0], 2);
	CHECK_EQ_INT(tr2.n, 1);
	/* The feed heard of the last change. */
	for (int i = 0; i < 5000 && atomic_load(&fed) != last; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	CHECK_EQ_INT((int)atomic_load(&fed), (int)last);
	loop_post(lp, unsub_cb, &sub);
	for (int i = 0; i < 5000 && atomic_load(&fed) != UINT64_MAX; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static void count_email(void *arg, const struct store_email_info *info)
{
	(void)info;
	(*(int *)arg)++;
}

static int mark_ran(struct store *st, MDB_txn *txn, void *ctx)
{
	(void)st;
	(void)txn;
	*(int *)ctx = 1;
	return 0;
}

/* A lone request is durable before it is answered (store_writer.c, "One
 * flush per commit"): the writer flushes for it, and its answer is that
 * flush's. */
static void run_flush(struct store *st, uint32_t acc)
{
	uint32_t inbox, u2[1] = {2};
	struct store_kw_result kr[1];
	struct res a = {0}, b = {0}, c = {0};

	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	unsigned long long s0 = store_test_syncs(st);
	store_email_keywords_async(st, lp, acc, inbox, 0, u2, 1, STORE_KW_ADD, "Flush1", 0, kr,
				   NULL, cb, &a);
	CHECK(wait_done(&a));
	CHECK_EQ_INT(a.result, STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT((int)(store_test_syncs(st) - s0), 1);

	/* The flush fails: the change is committed but not known to be on
	 * disk, so the answer is not "done", and the store halts: no write
	 * goes in any more, and no flush is tried for it (store_writer.c,
	 * "A failed flush"). */
	CHECK_EQ_INT(store_halted(st), 0);
	store_test_fail_sync_once(st, 5 /* EIO */);
	store_email_keywords_async(st, lp, acc, inbox, 0, u2, 1, STORE_KW_ADD, "Flush2", 0, kr,
				   NULL, cb, &b);
	CHECK(wait_done(&b));
	CHECK_EQ_INT(b.result, STORE_ETEMP);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT(store_halted(st), 1);
	struct res f = {0};
	s0 = store_test_syncs(st);
	store_email_keywords_async(st, lp, acc, inbox, 0, u2, 1, STORE_KW_ADD, "Flush3", 0, kr,
				   NULL, cb, &f);
	CHECK(wait_done(&f));
	CHECK_EQ_INT(f.result, STORE_ETEMP);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT((int)(store_test_syncs(st) - s0), 0);
	CHECK_EQ_INT(store_sync(st), EIO);
	int ran = 0;
	CHECK_EQ_INT(store_write(st, mark_ran, &ran), STORE_ETEMP);
	CHECK_EQ_INT(ran, 0); /* refused before a transaction */
	store_test_clear_halt(st);

	/* Nothing to change: nothing committed, no flush of its own. */
	s0 = store_test_syncs(st);
	store_email_keywords_async(st, lp, acc, inbox, 0, u2, 1, STORE_KW_ADD, "Flush1", 0, kr,
				   NULL, cb, &c);
	CHECK(wait_done(&c));
	CHECK_EQ_INT(c.result, STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_SAME);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT((int)(store_test_syncs(st) - s0), 0);
}

/* A request that asks for applied (store.h): told when its commit is
 * written, before the flush, once and ahead of done. */
struct ap {
	struct store_delivery d;
	struct store *st;
	uint32_t value;            /* what the hook writes (meta "test_applied") */
	int fail;                  /* the hook fails the batch instead */
	atomic_int applied, done;  /* calls */
	int done_first;            /* done had run when applied ran */
	int on_loop;               /* applied ran on the loop's thread */
	unsigned long long syncs;  /* store_test_syncs() when applied ran */
	uint32_t seen;             /* meta "test_applied" when applied ran */
	int result;
};

static int ap_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct ap *a = d->hook_arg;
	return a->fail ? STORE_EINVAL : meta_put_u32(txn, st, "test_applied", a->value);
}

static void ap_applied(struct store_delivery *d, void *arg)
{
	struct ap *a = arg;
	MDB_txn *txn;
	(void)d;
	a->done_first = atomic_load(&a->done);
	a->on_loop = pthread_equal(pthread_self(), loop_thread_id);
	a->syncs = store_test_syncs(a->st);
	if (store_rd_begin(a->st, &txn) == 0) {
		if (meta_get_u32(txn, a->st, "test_applied", &a->seen) != 0)
			a->seen = 0;
		store_rd_end(a->st, txn);
	}
	atomic_fetch_add(&a->applied, 1);
}

static void ap_done(struct store_delivery *d, void *arg)
{
	struct ap *a = arg;
	a->result = d->result;
	atomic_fetch_add(&a->done, 1);
}

static void ap_submit(struct store *st, struct ap *a, struct loop *loop)
{
	a->d.txn_hook = ap_hook;
	a->d.hook_arg = a;
	a->d.loop = loop;
	a->d.done = ap_done;
	a->d.applied = ap_applied;
	a->d.arg = a;
	a->st = st;
	store_deliver(st, &a->d);
	for (int i = 0; i < 5000 && !atomic_load(&a->done); i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static void run_applied(struct store *st)
{
	/* On the writer's thread (no loop): applied comes right after the
	 * commit, before the flush the lone request needs; done after it. */
	struct ap a = {.value = 7};
	unsigned long long s0 = store_test_syncs(st);
	ap_submit(st, &a, NULL);
	CHECK_EQ_INT(atomic_load(&a.done), 1);
	CHECK_EQ_INT(a.result, STORE_OK);
	CHECK_EQ_INT(atomic_load(&a.applied), 1);
	CHECK_EQ_INT(a.done_first, 0);
	CHECK_EQ_INT((int)a.seen, 7);                   /* committed when told */
	CHECK_EQ_INT((int)(a.syncs - s0), 0);           /* not flushed yet */
	CHECK_EQ_INT((int)(store_test_syncs(st) - s0), 1); /* done: flushed */

	/* On the loop; the flush fails: applied said the commit is written,
	 * done still says it is not known to be on disk. */
	struct ap b = {.value = 8};
	store_test_fail_sync_once(st, 5 /* EIO */);
	ap_submit(st, &b, lp);
	CHECK_EQ_INT(atomic_load(&b.done), 1);
	CHECK_EQ_INT(b.result, STORE_ETEMP);
	CHECK_EQ_INT(atomic_load(&b.applied), 1);
	CHECK_EQ_INT(b.done_first, 0);
	CHECK(b.on_loop);
	CHECK_EQ_INT((int)b.seen, 8);
	CHECK_EQ_INT(store_halted(st), 1);
	store_test_clear_halt(st);

	/* A request that failed is not told. */
	struct ap c = {.value = 9, .fail = 1};
	ap_submit(st, &c, lp);
	CHECK_EQ_INT(atomic_load(&c.done), 1);
	CHECK_EQ_INT(c.result, STORE_ETEMP);
	CHECK_EQ_INT(atomic_load(&c.applied), 0);
}

/* A request with txn_once (store.h): its commit goes in, its flush fails
 * (STORE_ETEMP); sent again (on a store allowed to write again) it is
 * found applied: no second copy, no second run of its hook. */
struct once {
	struct store_delivery d;
	uint32_t token; /* what the hook records, and the check looks for */
	int hooks;      /* txn_hook runs */
	int onces;      /* txn_once said 1 */
	atomic_int done;
	int result;
};

static int once_check(struct store *st, void *txn, struct store_delivery *d)
{
	struct once *o = d->hook_arg;
	uint32_t v = 0;
	int rc = meta_get_u32(txn, st, "test_once", &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (v == o->token)
		o->onces++;
	return v == o->token;
}

static int once_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct once *o = d->hook_arg;
	o->hooks++;
	return meta_put_u32(txn, st, "test_once", o->token);
}

static void once_done(struct store_delivery *d, void *arg)
{
	struct once *o = arg;
	o->result = d->result;
	atomic_store(&o->done, 1);
}

static void once_send(struct store *st, struct once *o)
{
	atomic_store(&o->done, 0);
	o->d.loop = lp;
	o->d.done = once_done;
	o->d.arg = o;
	o->d.txn_hook = once_hook;
	o->d.txn_once = once_check;
	o->d.hook_arg = o;
	store_deliver(st, &o->d);
	for (int i = 0; i < 5000 && !atomic_load(&o->done); i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	CHECK_EQ_INT(atomic_load(&o->done), 1);
}

static int inbox_count(struct store *st, uint32_t acc)
{
	int n = 0;
	CHECK_EQ_INT(store_email_list(st, acc, STORE_INBOX_ID, count_email, &n), STORE_OK);
	return n;
}

static void run_once(struct store *st, uint32_t acc)
{
	static const char msg[] = "Subject: once\r\n\r\nbody\r\n";
	struct once o = {.token = 41};
	int n0 = inbox_count(st, acc);

	o.d.data = msg;
	o.d.len = sizeof msg - 1;
	store_blob_id(msg, o.d.len, o.d.blob_id);
	o.d.accounts = &acc;
	o.d.naccounts = 1;
	store_test_fail_sync_once(st, 5 /* EIO */);
	once_send(st, &o);
	CHECK_EQ_INT(o.result, STORE_ETEMP);
	CHECK_EQ_INT(o.hooks, 1);
	CHECK_EQ_INT(inbox_count(st, acc), n0 + 1); /* committed all the same */
	CHECK_EQ_INT(store_halted(st), 1);
	store_test_clear_halt(st);

	/* Tried again: found applied, nothing written, done. */
	once_send(st, &o);
	CHECK_EQ_INT(o.result, STORE_OK);
	CHECK_EQ_INT(o.onces, 1);
	CHECK_EQ_INT(o.hooks, 1);
	CHECK_EQ_INT(inbox_count(st, acc), n0 + 1);

	/* Another request (another token) goes in. */
	o.token = 42;
	once_send(st, &o);
	CHECK_EQ_INT(o.result, STORE_OK);
	CHECK_EQ_INT(o.hooks, 2);
	CHECK_EQ_INT(inbox_count(st, acc), n0 + 2);
}

struct copy_job {
	struct store *st;
	uint32_t acc, from, uv, uid, to;
	int rc;
	struct store_copy_result r;
};

static void *copy_thread(void *arg)
{
	struct copy_job *j = arg;
	j->rc = store_email_copy(j->st, j->acc, j->from, j->uv, &j->uid, 1, j->to, 0, &j->r);
	return NULL;
}

static size_t queued(struct store *st)
{
	size_t n = 0;
	pthread_mutex_lock(&st->qlock);
	for (struct store_delivery *d = st->qhead; d; d = d->next_)
		n++;
	pthread_mutex_unlock(&st->qlock);
	return n;
}

/* Two workers' copies, queued while the writer waits: one batch. */
static void run_grouped(struct store *st, uint32_t acc)
{
	uint32_t inbox, trash;
	pthread_t t[2];

	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	CHECK_EQ_INT(store_mailbox_find(st, acc, "Trash", &trash), STORE_OK);
	struct copy_job j[2] = {
	    {st, acc, inbox, uidvalidity_of(st, acc, inbox), 2, trash, -1, {0}},
	    {st, acc, trash, uidvalidity_of(st, acc, trash), 1, inbox, -1, {0}},
	};
	unsigned long long batches0 = atomic_load(&st->batches);
	store_test_pause_writer(st, 1);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, copy_thread, &j[i]);
	for (int i = 0; i < 5000 && queued(st) < 2; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	CHECK_EQ_INT((int)queued(st), 2);
	store_test_pause_writer(st, 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ_INT((int)(atomic_load(&st->batches) - batches0), 1);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(j[i].rc, STORE_OK);
		CHECK_EQ_INT((int)j[i].r.n, 1);
		store_copy_result_free(&j[i].r);
	}
	struct em in = {0}, tr = {0};
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &in), STORE_OK);
	CHECK_EQ_INT(store_email_list(st, acc, trash, collect, &tr), STORE_OK);
	CHECK_EQ_INT(in.n, 2);
	CHECK_EQ_INT(tr.n, 2);
}

/* store_expunge_deleted_async() (IMAP EXPUNGE, CLOSE): of the UIDs asked,
 * only those whose membership has $deleted at the commit go; one another
 * session took \Deleted off since stays. */
static void run_deleted(struct store *st, uint32_t acc)
{
	uint32_t inbox;
	struct em e = {0};
	struct store_kw_result kres[1];
	struct res r1 = {0}, r2 = {0};
	size_t removed = 0;
	uint64_t xms = 0;

	CHECK_EQ_INT(store_mailbox_find(st, acc, "INBOX", &inbox), STORE_OK);
	unit_deliver(st, acc, "Subject: d\r\n\r\nd\r\n", 1700000000, NULL);
	unit_deliver(st, acc, "Subject: e\r\n\r\ne\r\n", 1700000000, NULL);
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &e), STORE_OK);
	if (e.n < 2 || e.n == 8)
		return;
	uint32_t uv = uidvalidity_of(st, acc, inbox);
	uint32_t both[2] = {e.uid[e.n - 2], e.uid[e.n - 1]};
	store_email_keywords_async(st, lp, acc, inbox, uv, &both[1], 1, STORE_KW_ADD, "$deleted",
				   0, kres, NULL, cb, &r1);
	CHECK(wait_done(&r1));
	CHECK_EQ_INT(r1.result, STORE_OK);
	store_kw_results_free(kres, 1);
	store_expunge_deleted_async(st, lp, acc, inbox, uv, both, 2, &removed, &xms, cb, &r2);
	CHECK(wait_done(&r2));
	CHECK_EQ_INT(r2.result, STORE_OK);
	CHECK_EQ_INT((int)removed, 1);
	CHECK(xms > 0);
	struct em after = {0};
	CHECK_EQ_INT(store_email_list(st, acc, inbox, collect, &after), STORE_OK);
	CHECK_EQ_INT(after.n, e.n - 1);
	CHECK_EQ_INT((int)after.uid[after.n - 1], (int)both[0]); /* the one without $deleted */
}

/* Delivers text into mailbox of acc; its uid there. */
static uint32_t deliver_into(struct store *st, uint32_t acc, uint32_t mailbox, const char *text)
{
	struct store_delivery d;

	unit_delivery_init(&d, text, &acc, 1700000000);
	d.mailbox = mailbox;
	CHECK_EQ_INT(store_deliver_sync(st, &d), STORE_OK);
	return d.uid_r;
}

/* Adds keywords to the messages at uids (n) of the owner's mailbox for
 * as; the result of the call. */
static int kw_as(struct store *st, const struct store_kw_actor *as, uint32_t owner,
		 uint32_t mailbox, const uint32_t *uids, size_t n, enum store_kw_op op,
		 const char *keywords, struct store_kw_result *kr)
{
	struct res r = {0};

	store_email_keywords_as_async(st, lp, as, owner, mailbox, 0, uids, n, op, keywords, 0, kr,
				      NULL, cb, &r);
	CHECK(wait_done(&r));
	return r.result;
}

/* The email at uid of from joins mailbox to (a membership more); its
 * uid there. */
static uint32_t join_mailbox(struct store *st, uint32_t acc, uint32_t from, uint32_t uid,
			     uint32_t to)
{
	struct store_copy_result cr;

	CHECK_EQ_INT(store_email_copy(st, acc, from, uidvalidity_of(st, acc, from), &uid, 1, to, 0,
				      &cr),
		     STORE_OK);
	CHECK_EQ_INT((int)cr.n, 1);
	uint32_t nuid = cr.n ? cr.dst_uids[0] : 0;
	store_copy_result_free(&cr);
	return nuid;
}

/* A new user (address) and two mailboxes of acc's, shared (given
 * "lrswt") and other (none). */
static void actor_setup(struct store *st, uint32_t acc, const char *address,
			const char *shared_name, const char *other_name, uint32_t *user_r,
			uint32_t *shared_r, uint32_t *other_r)
{
	char err[256];
	uint32_t lrswt = STORE_ACL_L | STORE_ACL_R | STORE_ACL_S | STORE_ACL_W | STORE_ACL_T;

	CHECK_EQ_INT(store_account_add(st, address, "pw", 0, user_r, err, sizeof err), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, shared_name, shared_r), STORE_OK);
	CHECK_EQ_INT(store_mailbox_create(st, acc, other_name, other_r), STORE_OK);
	CHECK_EQ_INT(store_acl_set(st, acc, *shared_r, *user_r, lrswt), STORE_OK);
}

/* Another user's change (store_email_keywords_as_async): an email also in
 * a mailbox where the user lacks the right keeps the keywords that right
 * covers ("w": $flagged; "s": $seen) while its $deleted (the membership's)
 * changes; one in the shared mailbox alone changes; with "s" on the other
 * mailbox too $seen changes there, and the owner's own call is not
 * checked. */
static void run_actor(struct store *st, uint32_t acc)
{
	uint32_t carol, desk, vault;
	struct store_kw_result kr[2];

	actor_setup(st, acc, "carol@example.test", "Desk", "Vault", &carol, &desk, &vault);
	uint32_t uids[2] = {deliver_into(st, acc, desk, "Subject: a\r\n\r\na\r\n"),
			    deliver_into(st, acc, desk, "Subject: b\r\n\r\nb\r\n")};
	join_mailbox(st, acc, desk, uids[0], vault);
	struct store_kw_actor as = imap_acl_kw_actor(carol, 0);

	CHECK_EQ_INT(kw_as(st, &as, acc, desk, uids, 2, STORE_KW_ADD, "$flagged $seen $deleted", kr),
		     STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$deleted");
	CHECK_EQ_INT((int)kr[1].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[1].keywords, "$flagged $seen $deleted");
	store_kw_results_free(kr, 2);
	/* Nothing left to change: as it is. */
	CHECK_EQ_INT(kw_as(st, &as, acc, desk, uids, 1, STORE_KW_SET, "$deleted $answered", kr),
		     STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_SAME);
	CHECK_EQ_STR(kr[0].keywords, "$deleted");
	store_kw_results_free(kr, 1);

	CHECK_EQ_INT(store_acl_set(st, acc, vault, carol, STORE_ACL_L | STORE_ACL_S), STORE_OK);
	CHECK_EQ_INT(kw_as(st, &as, acc, desk, uids, 1, STORE_KW_SET, "$seen $flagged", kr),
		     STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$seen");
	store_kw_results_free(kr, 1);

	struct store_kw_actor own = imap_acl_kw_actor(acc, 0);
	CHECK_EQ_INT(kw_as(st, &own, acc, desk, uids, 1, STORE_KW_ADD, "$flagged", kr), STORE_OK);
	CHECK_EQ_STR(kr[0].keywords, "$seen $flagged");
	store_kw_results_free(kr, 1);
}

/* The same in JMAP's mode (as->refuse): a keyword change the rights on
 * one of the email's mailboxes do not allow fails whole (STORE_EACCES,
 * nothing written) inside the writing transaction, so an email that
 * joined such a mailbox after Email/set read its rights is refused too;
 * the membership's $deleted and what the rights allow still change. */
static void run_actor_refuse(struct store *st, uint32_t acc)
{
	uint32_t dave, open_mb, closed;
	struct store_kw_result kr[1];

	actor_setup(st, acc, "dave@example.test", "Open", "Closed", &dave, &open_mb, &closed);
	uint32_t uid = deliver_into(st, acc, open_mb, "Subject: c\r\n\r\nc\r\n");
	struct store_kw_actor as = imap_acl_kw_actor(dave, 1);
	struct store_kw_actor own = imap_acl_kw_actor(acc, 1);

	/* In the shared mailbox alone: it changes. */
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_ADD, "$flagged", kr), STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$flagged");
	store_kw_results_free(kr, 1);
	/* The email joins a mailbox dave has no right on. */
	join_mailbox(st, acc, open_mb, uid, closed);
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_ADD, "$seen $answered", kr),
		     STORE_EACCES);
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_REMOVE, "$flagged", kr),
		     STORE_EACCES);
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_SET, "$flagged $junk", kr),
		     STORE_EACCES);
	/* Nothing written: the owner adding what is there changes nothing. */
	CHECK_EQ_INT(kw_as(st, &own, acc, open_mb, &uid, 1, STORE_KW_ADD, "$flagged", kr),
		     STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_SAME);
	CHECK_EQ_STR(kr[0].keywords, "$flagged");
	store_kw_results_free(kr, 1);
	/* The membership's $deleted ("t" on the mailbox) and a change that
	 * changes nothing go through. */
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_ADD, "$deleted $flagged", kr),
		     STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$flagged $deleted");
	store_kw_results_free(kr, 1);
	/* With "s" there too, $seen changes. */
	CHECK_EQ_INT(store_acl_set(st, acc, closed, dave, STORE_ACL_L | STORE_ACL_S), STORE_OK);
	CHECK_EQ_INT(kw_as(st, &as, acc, open_mb, &uid, 1, STORE_KW_ADD, "$seen", kr), STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$flagged $deleted $seen");
	store_kw_results_free(kr, 1);
}

/* Adds add and removes remove (store_email_keywords_patch_async) for
 * as (NULL: the owner); the result of the call. */
static int kw_patch(struct store *st, const struct store_kw_actor *as, uint32_t owner,
		    uint32_t mailbox, uint32_t uid, const char *add, const char *remove,
		    struct store_kw_result *kr)
{
	struct res r = {0};

	store_email_keywords_patch_async(st, lp, as, owner, mailbox, &uid, 1, add, remove, kr, cb,
					 &r);
	CHECK(wait_done(&r));
	return r.result;
}

static uint64_t acct_modseq(struct store *st, uint32_t acc)
{
	uint64_t ms = 0;
	CHECK_EQ_INT(store_account_modseq(st, acc, &ms), STORE_OK);
	return ms;
}

/* A patch that adds and removes (JMAP's "keywords/K": true and null in
 * one update) is one write: one modseq for both halves, and refused
 * on either half (as->refuse) nothing at all; the removals go first, so
 * a patch at the most keywords that drops one to add another fits. */
static void run_patch(struct store *st, uint32_t acc)
{
	uint32_t erin, open_mb, closed;
	struct store_kw_result kr[1];

	actor_setup(st, acc, "erin@example.test", "PatchOpen", "PatchClosed", &erin, &open_mb,
		    &closed);
	uint32_t uid = deliver_into(st, acc, open_mb, "Subject: p\r\n\r\np\r\n");
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "$flagged", NULL, kr), STORE_OK);
	store_kw_results_free(kr, 1);

	/* The owner's patch: both halves at one new modseq. */
	uint64_t m0 = acct_modseq(st, acc);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "$seen Work", "$flagged", kr), STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK_EQ_STR(kr[0].keywords, "$seen Work");
	CHECK_EQ_INT((int)(kr[0].modseq - m0), 1);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 1);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "$flagged", "Work", kr), STORE_OK);
	CHECK_EQ_STR(kr[0].keywords, "$seen $flagged");
	store_kw_results_free(kr, 1);

	/* In a mailbox erin may only set $seen in too: the half it may not
	 * change refuses the whole patch, whichever half that is. */
	join_mailbox(st, acc, open_mb, uid, closed);
	CHECK_EQ_INT(store_acl_set(st, acc, closed, erin, STORE_ACL_L | STORE_ACL_S), STORE_OK);
	struct store_kw_actor as = imap_acl_kw_actor(erin, 1);
	uint64_t m1 = acct_modseq(st, acc);
	CHECK_EQ_INT(kw_patch(st, &as, acc, open_mb, uid, "", "$seen $flagged", kr), STORE_EACCES);
	CHECK_EQ_INT(kw_patch(st, &as, acc, open_mb, uid, "$answered", "$seen", kr), STORE_EACCES);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m1), 0);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "", NULL, kr), STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_SAME);
	CHECK_EQ_STR(kr[0].keywords, "$seen $flagged");
	store_kw_results_free(kr, 1);
	/* With "w" there too, both halves go, at one modseq. */
	CHECK_EQ_INT(store_acl_set(st, acc, closed, erin, STORE_ACL_L | STORE_ACL_S | STORE_ACL_W),
		     STORE_OK);
	m1 = acct_modseq(st, acc);
	CHECK_EQ_INT(kw_patch(st, &as, acc, open_mb, uid, "$answered", "$seen", kr), STORE_OK);
	CHECK_EQ_STR(kr[0].keywords, "$flagged $answered");
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m1), 1);
	store_kw_results_free(kr, 1);

	/* At the most keywords: dropping one makes room for another. */
	char full[STORE_KEYWORDS_MAX * 8] = "", *p = full;
	for (int i = 0; i < STORE_KEYWORDS_MAX; i++)
		p += snprintf(p, sizeof full - (size_t)(p - full), "%sk%d", i ? " " : "", i);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, full, NULL, kr), STORE_OK);
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "extra", "k0", kr), STORE_OK);
	CHECK_EQ_INT((int)kr[0].status, STORE_KW_CHANGED);
	CHECK(strstr(kr[0].keywords, "extra") && !strstr(kr[0].keywords, "k0 "));
	store_kw_results_free(kr, 1);
	CHECK_EQ_INT(kw_patch(st, NULL, acc, open_mb, uid, "more", NULL, kr), STORE_EINVAL);
}

/* store_email_update_async(u); its result. */
static int update(struct store *st, const struct store_email_update *u)
{
	struct res r = {0};

	store_email_update_async(st, lp, u, NULL, cb, &r);
	CHECK(wait_done(&r));
	return r.result;
}

/* The change log above a modseq: its entries and the modseqs they are at. */
struct steps {
	uint64_t last;
	int nsteps, nentries;
};

static int step_count(void *arg, const struct store_change *c)
{
	struct steps *s = arg;
	s->nsteps += c->modseq != s->last;
	s->last = c->modseq;
	s->nentries++;
	return 0;
}

static struct steps steps_since(struct store *st, uint32_t acc, uint64_t since)
{
	struct steps s = {0};
	CHECK_EQ_INT(store_changes_since(st, acc, since, step_count, &s), STORE_OK);
	return s;
}

/* The keywords of the message at the end of mailbox (the newest), and
 * how many it holds. */
static int newest_of(struct store *st, uint32_t acc, uint32_t mailbox, char kw[64])
{
	struct em e = {0};
	CHECK_EQ_INT(store_email_list(st, acc, mailbox, collect, &e), STORE_OK);
	snprintf(kw, 64, "%s", e.n ? e.kw[e.n - 1] : "");
	return e.n;
}

/* One email's keywords and mailboxes in one write
 * (store_email_update_async): keywords and a move at one modseq, one
 * step of the change log; a part refused (another user's missing "i" on
 * the target, "e" on the source) or failing (a membership gone, past
 * max_members) writes nothing of the others; a destroy of an email in
 * three mailboxes is one step. */
static void run_update(struct store *st, uint32_t acc)
{
	uint32_t frank, open_mb, closed, third;
	char kw[64];

	actor_setup(st, acc, "frank@example.test", "UpdOpen", "UpdClosed", &frank, &open_mb,
		    &closed);
	CHECK_EQ_INT(store_mailbox_create(st, acc, "UpdThird", &third), STORE_OK);
	uint32_t uv_open = uidvalidity_of(st, acc, open_mb);
	uint32_t uv_closed = uidvalidity_of(st, acc, closed);
	uint32_t uv_third = uidvalidity_of(st, acc, third);

	/* The owner: keywords set and a move, one modseq, one step. */
	uint32_t uid = deliver_into(st, acc, open_mb, "Subject: u1\r\n\r\nu\r\n");
	uint64_t m0 = acct_modseq(st, acc);
	struct store_email_update u = {
	    .account = acc,
	    .kw = {open_mb, uv_open, uid},
	    .kw_set = "$seen work",
	    .from = {open_mb, uv_open, uid},
	    .to = &third,
	    .nto = 1,
	    .move = 1,
	};
	CHECK_EQ_INT(update(st, &u), STORE_OK);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 1);
	struct steps s = steps_since(st, acc, m0);
	CHECK_EQ_INT(s.nsteps, 1);
	CHECK(s.nentries >= 3); /* the keywords, the new and the old membership */
	CHECK_EQ_INT(newest_of(st, acc, open_mb, kw), 0);
	CHECK_EQ_INT(newest_of(st, acc, third, kw), 1);
	CHECK_EQ_STR(kw, "$seen work");

	/* frank ("lrswt" on open_mb, nothing on closed) may set $flagged
	 * but not add to closed: refused whole, the keywords as they were. */
	struct store_kw_actor as = imap_acl_kw_actor(frank, 1);
	uid = deliver_into(st, acc, open_mb, "Subject: u2\r\n\r\nu\r\n");
	m0 = acct_modseq(st, acc);
	u = (struct store_email_update){
	    .as = &as,
	    .account = acc,
	    .kw = {open_mb, uv_open, uid},
	    .kw_add = "$flagged",
	    .from = {open_mb, uv_open, uid},
	    .to = &closed,
	    .nto = 1,
	};
	CHECK_EQ_INT(update(st, &u), STORE_EACCES);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 0);
	CHECK_EQ_INT(newest_of(st, acc, open_mb, kw), 1);
	CHECK_EQ_STR(kw, "");
	/* With "i" there, a move still needs "e" on open_mb. */
	CHECK_EQ_INT(store_acl_set(st, acc, closed, frank, STORE_ACL_L | STORE_ACL_I), STORE_OK);
	m0 = acct_modseq(st, acc); /* the grant is a change of its own */
	u.move = 1;
	CHECK_EQ_INT(update(st, &u), STORE_EACCES);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 0);
	/* A copy it may make: keywords and copy at one modseq. */
	u.move = 0;
	CHECK_EQ_INT(update(st, &u), STORE_OK);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 1);
	CHECK_EQ_INT(newest_of(st, acc, closed, kw), 1);
	CHECK_EQ_STR(kw, "$flagged");

	/* The owner: keywords, then a copy from a membership gone. */
	m0 = acct_modseq(st, acc);
	u = (struct store_email_update){
	    .account = acc,
	    .kw = {open_mb, uv_open, uid},
	    .kw_add = "$answered",
	    .from = {open_mb, uv_open, uid + 100},
	    .to = &third,
	    .nto = 1,
	};
	CHECK_EQ_INT(update(st, &u), STORE_EGONE);
	/* In open_mb and closed, at most two: the copy would make three. */
	u.from.uid = uid;
	u.max_members = 2;
	CHECK_EQ_INT(update(st, &u), STORE_ELIMIT);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 0);
	CHECK_EQ_INT(newest_of(st, acc, open_mb, kw), 1);
	CHECK_EQ_STR(kw, "$flagged");
	CHECK_EQ_INT(newest_of(st, acc, third, kw), 1);

	/* A destroy of an email in three mailboxes: one modseq, one step. */
	uid = deliver_into(st, acc, open_mb, "Subject: u3\r\n\r\nu\r\n");
	struct store_member gone[3] = {{open_mb, uv_open, uid},
				       {closed, uv_closed, join_mailbox(st, acc, open_mb, uid, closed)},
				       {third, uv_third, join_mailbox(st, acc, open_mb, uid, third)}};
	int in_open = newest_of(st, acc, open_mb, kw), in_closed = newest_of(st, acc, closed, kw);
	m0 = acct_modseq(st, acc);
	u = (struct store_email_update){.account = acc, .gone = gone, .ngone = 3};
	CHECK_EQ_INT(update(st, &u), STORE_OK);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 1);
	s = steps_since(st, acc, m0);
	CHECK_EQ_INT(s.nsteps, 1);
	CHECK_EQ_INT(s.nentries, 4); /* three memberships and the thread */
	CHECK_EQ_INT(newest_of(st, acc, open_mb, kw), in_open - 1);
	CHECK_EQ_INT(newest_of(st, acc, closed, kw), in_closed - 1);
	CHECK_EQ_INT(newest_of(st, acc, third, kw), 1);
	/* Again: the memberships are gone, nothing done. */
	CHECK_EQ_INT(update(st, &u), STORE_EGONE);
	CHECK_EQ_INT((int)(acct_modseq(st, acc) - m0), 1);
}

int main(void)
{
	struct store *st = NULL;
	uint32_t acc = 0;

	if (unit_env_begin(base, sizeof base, "group") < 0)
		return 1;
	lp = loop_new();
	pthread_create(&lt, NULL, loop_main, lp);
	loop_post(lp, note_thread, NULL);
	st = unit_store_with_account(base, STORE_SERVER, "bob@example.test", &acc);
	if (st) {
		run(st, acc);
		run_flush(st, acc);
		run_applied(st);
		run_grouped(st, acc);
		run_deleted(st, acc);
		run_actor(st, acc);
		run_actor_refuse(st, acc);
		run_patch(st, acc);
		run_update(st, acc);
		run_once(st, acc); /* last: it adds to the INBOX the others count */
		store_close(&st);
	}
	loop_stop(lp);
	pthread_join(lt, NULL);
	loop_free(&lp);
	unit_rmrf(base);
	return unit_done("test_store_group");
}
