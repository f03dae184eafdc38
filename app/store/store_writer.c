/*
 * store_writer.c — deliveries: the writer thread with group commit, the
 * synchronous path, and the change feed.
 *
 * Group commit. Sessions queue requests (store_deliver) under qlock and
 * signal qcond. The writer sleeps on qcond; when woken it takes everything
 * queued, up to STORE_BATCH_MAX_REQUESTS requests or STORE_BATCH_MAX_BYTES
 * of message data (at least one request, however big), applies the batch
 * in one write transaction and commits once. While it commits, new
 * requests pile up and form the next batch: under load the batch size
 * grows by itself and the fsync cost is shared; idle, a lone delivery is
 * committed at once (no timer, no added latency). The caps keep one
 * transaction's dirty pages well under LMDB's per-transaction limit and the
 * latency of the first request in a batch bounded.
 *
 * One flush per commit. An LMDB commit flushes twice: the data pages
 * (fdatasync), then the meta page that makes them the new state (a
 * synchronous write), each a device round trip. The store is opened with
 * MDB_NOMETASYNC and the writer commits with STORE_W_DEFER_SYNC: the meta
 * page is written but not flushed, and the batch's requests are not
 * answered yet. The next batch's commit flushes the file before it writes
 * its own meta page, which puts the one before on disk: under load each
 * batch costs one flush. A batch is answered (completions, the change
 * feed) only after a flush that follows its commit: the next commit's, or
 * one of its own (store_sync) when no batch follows at once (the queue is
 * empty, the writer stops or is paused), so a lone request waits
 * for the same two flushes as before. A batch that committed nothing
 * (every request a no-op or refused) needs no flush of its own but is
 * answered after the one before. A failed flush answers STORE_ETEMP and
 * halts the store (see "A failed flush").
 * Other sessions may read a batch's changes one flush before they are
 * durable (LMDB readers see the new meta page at once); only its own
 * requesters are told "done", and only after the flush. Measured on
 * bench-imap's loads against tern alone (10 clients, 300 messages an
 * account, 8 s; the shared 2-CPU machine at load 12-18, a virtio disk
 * whose flush takes ~3.3 ms), 3 interleaved runs each, both with the
 * scheduling below: one flush per commit 2,187-2,756 mixed commands/s
 * and 428-754 APPENDs/s, two flushes 1,498-2,191 and 538-616. A client
 * waiting alone gains nothing (two flushes either way); many writers
 * share each flush. With the writer under SCHED_BATCH throughout, mixed
 * 966-1,374 against 740-1,015 with two flushes.
 *
 * Applied. A request may also ask to hear of its commit itself, before
 * the flush (applied, store.h): the meta page is written then, in the
 * kernel's page cache, so a killed tern loses nothing of it; only a power
 * cut might. Its done still waits for the flush. The outbound queue
 * waits for no more before a kept connection carries the next message
 * (queue_sched.c): that step promises nobody delivery, and it guards
 * against a crash of tern re-sending what the connection carried. Told
 * on the completions' path (loop_post to the same loop, ahead of done).
 *
 * No pause between commits. A loaded writer commits back to back, each
 * batch what arrived during the commit before, and each commit's flush
 * makes the batch before durable. An earlier version paused after a
 * commit of more than one request (as long as the commit had kept the
 * writer on the CPU, at most 2 ms) to let the next batch grow, which
 * saved CPU when the machine was CPU-bound (20 sessions, 10 KiB: batches
 * of 8-12 instead of 3-4). But it made the batch before durable with a
 * flush of its own first (it would have waited for the pause and the
 * next commit otherwise): two flushes for that commit, each a device
 * round trip, on the path of every sender then queued. Measured with
 * scripts/bench-sieve's load (2-3 KiB messages, 10 accounts with a
 * 30-rule script, port 25, the shared 2-CPU machine at load 6-12 whose
 * flushes took 0.5-1.3 ms), in interleaved pairs of runs of 2,000
 * messages, without the pause against with it: 8 senders 1.07-1.85
 * (all 8 pairs above 1, median ~1.26), 16 senders 0.79-1.38 (7 of 8
 * above, ~1.21), 32 senders 0.72-1.87 (3 of 7 above, ~0.98); this code
 * against the one with the pause, 8 senders, at a quieter hour (flushes
 * quicker, 2,400-3,500 messages/s): 0.94-1.38 (3 of 5 above, median
 * 1.04). CPU per message is about 6% higher at 8 senders (more and
 * smaller commits), the same at 16 and 32; the pause's own measurement
 * at 20 sessions had been 1.02. Per batch at 8 senders, with the pause, the
 * flush that answered it was the next commit's for 1/3 to 1/2 of the
 * batches, its own for the rest; without, for 85-90%.
 *
 * Scheduling. The writer thread runs under SCHED_BATCH (writer_main).
 * Under the normal policy the wake-up from a session's store_deliver()
 * preempts the loop thread on that CPU at once: the loop stops in the
 * middle of its ready sessions, the batch holds what had come in by then,
 * and the loop waits for the CPU while the writer commits. A batch thread
 * is never woken onto a busy CPU ahead of what runs there; it runs when a
 * CPU is idle or the running thread's slice ends. The loops finish their
 * turn first, so more requests make each batch. Idle, the writer wakes on
 * an idle CPU as before, so a lone delivery waits no longer. Measured
 * (10 KiB messages, 20 smtp-source sessions, 2 CPUs, 5 interleaved runs
 * of 6,000 messages): flushes per 6,000 messages 2,190-2,328 -> 1,268-1,698,
 * tern's CPU per message 178-210 -> 157-183 us, the mean rate 5,221 ->
 * 5,755 msg/s (+10%). The loop threads under SCHED_BATCH as well were
 * slower than the writer alone (5,611 msg/s); so were the loops alone
 * (4,996).
 *
 * But only while it waits for requests: it
 * commits under SCHED_OTHER (writer_policy). A commit sleeps on the disk
 * (the flush), and a SCHED_BATCH thread woken from that sleep on a busy
 * machine waits for the running thread's slice to end too: on the shared
 * 2-CPU machine at load 12-18 a commit of a few IMAP writes took 13 ms
 * for two flushes of ~3.3 ms, and the sessions waited for that. The
 * wake-up that should not preempt the loops is the one from
 * store_deliver(), and that one still comes to a SCHED_BATCH thread.
 * Measured with one flush per commit, bench-imap's loads on tern alone
 * (10 clients, 300 messages an account, 8 s, 3 interleaved runs each):
 * SCHED_BATCH throughout 966-1,374 mixed commands/s and 341-385
 * APPENDs/s, SCHED_OTHER throughout 1,675-2,426 and 604-731, this 2,187-
 * 2,756 and 428-754 (the code before both changes: 829-1,373 and
 * 375-536).
 *
 * Why no journal in front of LMDB. A log written once per batch (one
 * contiguous write and one flush, then the answer) would replace LMDB's
 * two flushes and scattered page writes per commit, but LMDB must then
 * commit without syncing, which needs a held reader on the last synced
 * snapshot, a copy of its meta page and a replay at open. Throwaway
 * builds measured the most that could buy on the 2-CPU virtual machine
 * above (10 KiB, 20 sessions, A/B pairs on a fresh store): the log
 * flushed by a thread of its own while the writer applies the next batch
 * unsynced, LMDB synced every 100 ms and no recovery at all, 1.036
 * (median of 16 pairs, 12 above 1); the answer after the log with LMDB
 * committed and synced behind it (safe and simple, but mail is visible
 * only later) 0.821 (6 pairs): a flush for every message or two, and the
 * copies, cost more CPU than the shorter wait saves. Not worth a second
 * durability mechanism.
 *
 * Two more tried and left out (throwaway builds, scripts/bench-imap's
 * APPEND load: 10 clients, each waiting for its OK; a batch's clients
 * come back during the next commit and make the one after, so they
 * take turns in three groups, one commit each). A thread of its own
 * flushing a batch's meta page as soon as it is written, beside the
 * writer's next batch: 2.3 -> 3.0 APPENDs per commit, but 0.43 -> 0.61
 * device flushes per APPEND, and the rate stayed (6 interleaved rounds,
 * medians 949 and 968/s). Waiting after a commit for as many new
 * requests as it answered (at most 1 ms, half a commit): 0.49 -> 0.34
 * flushes per APPEND, the APPEND rate the same (8 rounds, medians 1,089
 * and 1,111/s), and bench-imap's mixed load slower (medians ~2,100 and
 * ~1,600 commands/s), likely because a session answered there sends a
 * read next as often as a write, so the wait runs out. Both measured
 * with the shared machine at load 8-16, where the rate follows CPU more
 * than flushes.
 *
 * A failed flush. When the flush after a commit fails (or LMDB's own
 * commit meets an I/O error: its pages' write, or its flush, which also
 * covers the meta page of the batch before), the commit is in LMDB and
 * readers see it, but it is not known to be on disk, and neither is
 * anything written since the last good flush. The batch is answered
 * STORE_ETEMP ("done" is never said for what is not known durable). It
 * cannot be said later either: after a failed fdatasync Linux may have
 * marked the pages that did not reach the disk clean, so a second flush
 * succeeds without writing them (PostgreSQL's "fsyncgate", 2018: it now
 * stops at the first failed fsync, data_sync_retry=off, and recovers
 * from its log at the restart). Going on would be that lie: later
 * commits build on those pages, and the next flush that works would
 * answer their batches "done". So the store halts (store.c, store_halt;
 * store.h, store_halted): every write from then on is refused with
 * STORE_ETEMP before a transaction begins, the batch waiting for a flush
 * included (store_sync flushes no more), while reads go on; the log says
 * so once (event=store_halted) and tern serve stops as on SIGTERM (its
 * drain: sessions get 451 and NO for writes, and goodbye) and exits with
 * STORE_EXIT_HALTED (75) for the supervisor to start it again. LMDB
 * has no log to replay: it writes pages copy-on-write and opens on the
 * newer of its two meta pages, and every batch answered "done" waited
 * for a good flush after its commit, so what a failed flush puts at risk
 * is the unanswered tail, which the senders were told to try again
 * (SMTP: a message stored and answered 451 may come twice; the outbound
 * queue keeps its updates from being applied twice, queue_sched.c,
 * upd_once). A restart does not mend a disk that drops writes: if it
 * still does, the next flush fails the same way and says so again. A
 * retry in place was not chosen: nothing proves the pages reached the
 * disk short of writing them all again. MDB_PANIC (the meta page's
 * write failed) ends the process at once with the same status (store.c,
 * panic_end): reads fail then too.
 *
 * Metrics. Each batch's wall time (from the queue to durable: the
 * transaction and the flushes) and each request's wait, from
 * store_deliver() to its answer, go to the
 * HIST_STORE_COMMIT and HIST_STORE_WAIT histograms of /metrics; the wait
 * is what a sender sees.
 *
 * All or nothing. A batch is one transaction: on MDB_MAP_FULL store_write()
 * grows the map and runs the whole batch again; on ENOSPC a batch that
 * carries new mail runs again without it (that mail gets STORE_EFULL,
 * store_reserve.c); on any other failure (an I/O error, the disk full even
 * for the reserve) nothing of it is committed and every request gets
 * STORE_ETEMP. Completions run only after the flush that covers the
 * commit (see "One flush per commit").
 *
 * Change feed. Subscriptions live in a feed object that is reference
 * counted apart from the store, because a notification posted to a loop
 * may run after store_close(). A notification carries the subscription's
 * generation; when it runs on the subscriber's loop it checks, under the
 * feed lock, that this very subscription (pointer and generation) is still
 * registered. store_unsubscribe() runs on that same loop thread, so once
 * it returned no callback can pass the check.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "core/xalloc.h"
#include "store/store_private.h"

#define FEED_BUCKETS 64

struct store_feed {
	pthread_mutex_t lock;
	atomic_int refs;
	uint64_t gen;
	struct store_sub *bucket[FEED_BUCKETS];
};

struct feed_note {
	struct store_feed *feed;
	struct store_sub *sub; /* compared, never dereferenced unless registered */
	uint64_t gen;
	uint32_t account;
	uint64_t modseq;
};

/* (account, new highest modseq) pairs touched by one transaction. */
struct changed {
	uint32_t account;
	uint64_t modseq;
};

struct batch {
	struct store_delivery *head;
	struct changed *chg;
	size_t nchg, capchg;
	struct store_space space; /* left for new mail (store_reserve.c) */
	int refuse_mail;          /* the run after an ENOSPC: no new mail */
};

/* ---- feed ---- */

struct store_feed *store_feed_new(void)
{
	struct store_feed *f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->lock, NULL);
	atomic_init(&f->refs, 1);
	return f;
}

void store_feed_unref(struct store_feed **fp)
{
	struct store_feed *f = *fp;

	*fp = NULL;
	if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
		pthread_mutex_destroy(&f->lock);
		free(f);
	}
}

static struct store_sub **feed_bucket(struct store_feed *f, uint32_t account)
{
	return &f->bucket[(account * 2654435761u) >> 26 & (FEED_BUCKETS - 1)];
}

void store_subscribe(struct store *st, struct store_sub *sub)
{
	struct store_feed *f = st->feed;

	if (sub->loop == NULL || sub->cb == NULL)
		fatalx("store_subscribe: loop and cb are required");
	pthread_mutex_lock(&f->lock);
	struct store_sub **b = feed_bucket(f, sub->account);
	sub->gen_ = ++f->gen;
	sub->next_ = *b;
	*b = sub;
	pthread_mutex_unlock(&f->lock);
}

void store_unsubscribe(struct store *st, struct store_sub *sub)
{
	struct store_feed *f = st->feed;

	pthread_mutex_lock(&f->lock);
	for (struct store_sub **pp = feed_bucket(f, sub->account); *pp; pp = &(*pp)->next_) {
		if (*pp == sub) {
			*pp = sub->next_;
			break;
		}
	}
	sub->gen_ = 0;
	sub->next_ = NULL;
	pthread_mutex_unlock(&f->lock);
}

/* Runs on the subscriber's loop. */
static void feed_note_run(void *arg)
{
	struct feed_note *n = arg;
	struct store_feed *f = n->feed;
	void (*cb)(void *, uint32_t, uint64_t) = NULL;
	void *cbarg = NULL;

	pthread_mutex_lock(&f->lock);
	for (struct store_sub *s = *feed_bucket(f, n->account); s; s = s->next_) {
		if (s == n->sub && s->gen_ == n->gen) {
			cb = s->cb;
			cbarg = s->arg;
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	/*
	 * Unlocked: the callback may unsubscribe. Only this loop's thread may
	 * unsubscribe this sub, and it is busy here, so it stays valid.
	 */
	if (cb)
		cb(cbarg, n->account, n->modseq);
	store_feed_unref(&n->feed);
	free(n);
}

static void feed_publish(struct store *st, const struct changed *chg, size_t nchg)
{
	struct store_feed *f = st->feed;

	/* A command beside the server: the server's subscribers are told
	 * through the store (store_xchg.c). */
	for (size_t i = 0; i < nchg; i++)
		store_xchg_note(st, chg[i].account);

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < nchg; i++) {
		for (struct store_sub *s = *feed_bucket(f, chg[i].account); s; s = s->next_) {
			if (s->account != chg[i].account)
				continue;
			struct feed_note *n = xmalloc(sizeof *n);
			*n = (struct feed_note){f, s, s->gen_, chg[i].account, chg[i].modseq};
			atomic_fetch_add(&f->refs, 1);
			loop_post(s->loop, feed_note_run, n);
		}
	}
	pthread_mutex_unlock(&f->lock);
}

void store_publish_change(struct store *st, uint32_t account, uint64_t modseq)
{
	struct changed c = {account, modseq};
	if (st->feed)
		feed_publish(st, &c, 1);
}

/* ---- applying deliveries ---- */

static void note_change(struct batch *b, uint32_t account, uint64_t modseq)
{
	for (size_t i = 0; i < b->nchg; i++) {
		if (b->chg[i].account == account) {
			b->chg[i].modseq = modseq;
			return;
		}
	}
	if (b->nchg == b->capchg) {
		b->capchg = b->capchg ? b->capchg * 2 : 16;
		b->chg = xrealloc(b->chg, b->capchg * sizeof *b->chg);
	}
	b->chg[b->nchg++] = (struct changed){account, modseq};
}

static int put_email(struct store *st, MDB_txn *txn, const struct store_delivery *d,
                     uint32_t account, uint32_t mailbox, const char *keywords,
                     unsigned uflags, const char *envelope, uint32_t origin,
                     uint32_t *email_id_r, uint64_t *modseq_r);

/* The copies a delivery made so far, to merge further copies into
 * (struct store_target says when). */
struct placed {
	uint32_t account, email, mailbox;
	const struct store_bytes *bytes;
	char *kw; /* normalized, NULL when none */
};

static int same_kw(const char *a, const char *b)
{
	return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

/*
 * Copy i of d into its account: a new email, or nothing when an earlier
 * copy (pl[0..np)) of the same bytes and keywords went to the same
 * mailbox (*created_r 0, *modseq_r 0). A further copy into another
 * mailbox (Sieve fileinto :copy) is an email of its own on the same
 * blob, as IMAP COPY makes (store_copy.c): its flags are its own, as in
 * Dovecot, where each is a message.
 * MDB_NOTFOUND means the account is gone (deleted since resolution);
 * other errors fail the batch. On success pl[np] describes the copy.
 */
static int deliver_account(struct store *st, MDB_txn *txn, const struct store_delivery *d,
                           size_t i, struct placed *pl, size_t np, int *created_r,
                           uint32_t *email_id_r, uint64_t *modseq_r)
{
	uint32_t account = d->accounts[i], mailbox = STORE_INBOX_ID;
	const char *envelope = d->envelopes ? d->envelopes[i] : NULL;
	const struct store_target *t = d->targets ? &d->targets[i] : NULL;
	const struct store_bytes *bytes = t ? t->bytes : NULL;
	char *kw = NULL;
	int rc;

	*created_r = 0;
	*modseq_r = 0;
	if (t && t->mailbox) {
		const char *why = NULL;
		rc = mbox_for_delivery(st, txn, account, t->mailbox, t->create, &mailbox, &why);
		if (rc == 1) {
			char q[256];
			log_info("store", NULL, "event=fileinto_fallback account=%u mailbox=%s reason=%s",
			         account, log_q(t->mailbox, q, sizeof q), why);
			mailbox = STORE_INBOX_ID;
		} else if (rc == STORE_ENOTFOUND || rc == MDB_NOTFOUND) {
			return MDB_NOTFOUND; /* the account is gone */
		} else if (rc) {
			return rc;
		}
	} else if (t && t->role == STORE_TARGET_JUNK) {
		rc = mbox_find_role(txn, st, account, ROLE_JUNK, &mailbox);
		if (rc == MDB_NOTFOUND)
			mailbox = STORE_INBOX_ID; /* no Junk: the INBOX, with the keyword */
		else if (rc)
			return rc;
	}
	if (t && t->keywords && *t->keywords) {
		size_t kl;
		kw = store_keywords_normalize(t->keywords, strlen(t->keywords));
		if (kw)
			store_keywords_take_deleted(kw, &kl);
	}
	if (kw && !*kw) {
		free(kw);
		kw = NULL;
	}
	pl[np] = (struct placed){account, 0, mailbox, bytes, kw};
	/* The same message for this account into the same mailbox again:
	 * dropped. Into another: shown with the first copy's EMAILID, as an
	 * IMAP COPY is (email_rec.origin, RFC 8474 §5.1). */
	uint32_t origin = 0;
	for (size_t j = 0; j < np; j++) {
		if (pl[j].account != account || pl[j].bytes != bytes || !same_kw(pl[j].kw, kw))
			continue;
		if (pl[j].mailbox == mailbox) {
			*email_id_r = pl[np].email = pl[j].email;
			return 0;
		}
		if (!origin)
			origin = pl[j].email;
	}
	struct store_delivery own;
	const struct store_delivery *src = d;
	if (bytes) {
		/* put_email reads only the message fields and received_at. */
		own = *d;
		own.data = bytes->data;
		own.len = bytes->len;
		memcpy(own.blob_id, bytes->blob_id, 32);
		own.meta = bytes->meta;
		own.metalen = bytes->metalen;
		src = &own;
	}
	rc = put_email(st, txn, src, account, mailbox, kw, 0, envelope, origin, email_id_r,
	               modseq_r);
	if (rc == 0) {
		pl[np].email = *email_id_r;
		*created_r = 1;
	}
	return rc;
}

int mbox_find_role(MDB_txn *txn, struct store *st, uint32_t account, unsigned role,
                   uint32_t *mailbox_r)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t kb[4];
	int rc = mdb_cursor_open(txn, st->db[DB_MAILBOX], &cur);

	if (rc)
		return rc;
	k = key_u32(kb, account);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mbox_rec m;
		if (k.mv_size != 8 || be32_get(k.mv_data) != account) {
			rc = MDB_NOTFOUND;
			break;
		}
		if (mbox_dec(&v, &m) != 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (m.role == role) {
			*mailbox_r = be32_get((const uint8_t *)k.mv_data + 4);
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

/*
 * Stores d as a new email of account in mailbox with keywords (normalized,
 * without $deleted, may be NULL) and the membership flags uflags (an
 * APPEND's \Deleted), shown with origin's EMAILID when not 0 (a
 * delivery's further copy); fills d's uidvalidity_r/uid_r (d is the caller's, so
 * it may be written even though it is const for SMTP deliveries: see below).
 */
static int put_email(struct store *st, MDB_txn *txn, const struct store_delivery *d,
                     uint32_t account, uint32_t mailbox, const char *keywords,
                     unsigned uflags, const char *envelope, uint32_t origin,
                     uint32_t *email_id_r, uint64_t *modseq_r)
{
	struct acct_rec a;
	struct mbox_rec m;
	uint8_t kb[12], member[8], urec[UID_REC_MAX], crec[16];
	int rc;

	if ((rc = acct_get(txn, st, account, &a)) != 0)
		return rc;
	if ((rc = mbox_get(txn, st, account, mailbox, &m)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;

	uint32_t email_id = a.next_email_id++;
	/* A UID kept from the source (append_one checked it is at least
	 * UIDNEXT), else the next one. */
	uint32_t uid = d->mailbox && d->uid ? d->uid : m.uidnext, thread_id;
	m.uidnext = uid + 1;
	if ((rc = thread_assign(txn, st, account, email_id, d->data, d->len, 1, &thread_id)) != 0)
		return rc;
	uint64_t modseq = ++a.modseq;
	m.highest_modseq = modseq;
	m.messages++;
	a.used += d->len;
	a.emails++;

	be32_put(member, mailbox);
	be32_put(member + 4, uid);
	struct email_rec e = {
	    .size = d->len,
	    .modseq = modseq,
	    .received_at = d->received_at,
	    .zone = d->received_zone,
	    .thread_id = thread_id,
	    .nmembers = 1,
	    .members = member,
	    .meta = d->meta,
	    .metalen = (uint32_t)d->metalen,
	    .keywords = keywords,
	    .keywords_len = keywords ? (uint16_t)strlen(keywords) : 0,
	    .origin = origin,
	};
	memcpy(e.blob_id, d->blob_id, 32);
	MDB_val k = key_u32_u32(kb, account, email_id);
	if ((rc = rec_put(txn, st->db[DB_EMAIL], &k, email_size(&e), email_enc, &e, 0)) != 0)
		return rc;
	struct email_shape shape;
	email_shape_of(&shape, &e);
	rc = counts_email(txn, st, account, email_id, NULL, &shape);
	email_shape_free(&shape);
	if (rc)
		return rc;
	if (envelope && *envelope) {
		/* The envelope is kept apart: it is read only by DSN and
		 * delivery reports, never by FETCH. */
		MDB_val ev;
		ev.mv_size = 1 + strlen(envelope);
		if ((rc = mdb_put(txn, st->db[DB_ENVELOPE], &k, &ev, MDB_RESERVE)) != 0)
			return rc;
		((uint8_t *)ev.mv_data)[0] = REC_V1;
		memcpy((uint8_t *)ev.mv_data + 1, envelope, ev.mv_size - 1);
	}
	if (d->spam_from && !d->mailbox) {
		/* Goes with the email (store_expunge.c) and the account. */
		char name[48];
		MDB_val mk = {(size_t)snprintf(name, sizeof name, "spamfrom/%u/%u", account, email_id),
		              name}, mv = {1 + strlen(d->spam_from), NULL};
		if ((rc = mdb_put(txn, st->db[DB_META], &mk, &mv, MDB_RESERVE)) != 0)
			return rc;
		((uint8_t *)mv.mv_data)[0] = REC_V1;
		memcpy((uint8_t *)mv.mv_data + 1, d->spam_from, mv.mv_size - 1);
	}

	urec[0] = REC_V1;
	be32_put(urec + 1, email_id);
	k = key_u32_u32_u32(kb, account, mailbox, uid);
	MDB_val v = {5, urec};
	/* APPEND: the client may date the message in the past; the save date
	 * (IMAP SAVEDATE) is now. A delivery's is its received_at: short form. */
	if (d->mailbox)
		v.mv_size = uid_rec_encode(urec, email_id, (int64_t)time(NULL), uflags);
	if ((rc = mdb_put(txn, st->db[DB_UID], &k, &v, 0)) != 0)
		return rc;

	/* Change record: one entry, "email created in mailbox with uid". */
	crec[0] = REC_V1;
	be16_put(crec + 1, 1);
	crec[3] = CHANGE_EMAIL_CREATED;
	be32_put(crec + 4, email_id);
	be32_put(crec + 8, mailbox);
	be32_put(crec + 12, uid);
	k = key_u32_u64(kb, account, modseq);
	v = (MDB_val){sizeof crec, crec};
	if ((rc = mdb_put(txn, st->db[DB_CHANGE], &k, &v, 0)) != 0)
		return rc;

	if ((rc = mbox_put(txn, st, account, mailbox, &m)) != 0)
		return rc;
	if ((rc = acct_put(txn, st, account, &a)) != 0)
		return rc;
	/* The request is the caller's and only the writer touches it now. */
	((struct store_delivery *)d)->uidvalidity_r = m.uidvalidity;
	((struct store_delivery *)d)->uid_r = uid;
	*email_id_r = email_id;
	*modseq_r = modseq;
	return 0;
}

static int delivery_valid(const struct store_delivery *d)
{
	/* LMDB values are at most 4 GiB - 1; the blob adds its version byte. */
	return (d->data || d->len == 0) && (d->accounts || d->naccounts == 0) &&
	       (d->meta || d->metalen == 0) && d->metalen < UINT32_MAX / 2 &&
	       d->len < UINT32_MAX - 1;
}

/* Adds n references to blob id, storing the bytes when they are new. */
int blob_ref(struct store *st, MDB_txn *txn, const uint8_t id[32], const char *data,
                    size_t len, uint64_t n)
{
	struct blobref_rec br;
	int rc = blobref_get(txn, st, id, &br);

	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == MDB_NOTFOUND)
		return blob_store(txn, st, id, data, len, n);
	br.refs += n;
	return blobref_put(txn, st, id, &br);
}

static int blob_add(struct store *st, MDB_txn *txn, const struct store_delivery *d, uint64_t n)
{
	return blob_ref(st, txn, d->blob_id, d->data, d->len, n);
}

/* 1 when one of d's copies has bytes whose id is stored with another
 * length (the caller's hash is wrong), 0 when not, or an LMDB error. */
static int own_bytes_mismatch(struct store *st, MDB_txn *txn, const struct store_delivery *d)
{
	for (size_t i = 0; d->targets && i < d->naccounts; i++) {
		const struct store_bytes *b = d->targets[i].bytes;
		struct blobref_rec br;
		if (!b)
			continue;
		if (!b->data || b->len >= UINT32_MAX - 1 || (b->metalen && !b->meta))
			return 1;
		int rc = blobref_get(txn, st, b->blob_id, &br);
		if (rc == 0 && br.size != b->len)
			return 1;
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/*
 * IMAP APPEND: d and its chain (d->also) into one mailbox of one account,
 * all or nothing. Everything that can refuse the request (mailbox, quota,
 * keywords, blob ids) is checked before the first write, so a refusal
 * leaves the transaction untouched for the other requests of the batch.
 */
/*
 * REPLACE (RFC 8508): the message to expunge must still be there, under
 * the UIDVALIDITY the client saw, before anything is written. 0 to go on,
 * 1 when d->result says why not, or an LMDB error.
 */
static int replace_check(struct store *st, MDB_txn *txn, uint32_t account,
			 struct store_delivery *d)
{
	struct mbox_rec m;
	uint8_t kb[12];
	MDB_val k, v;
	int rc = mbox_get(txn, st, account, d->replace_mailbox, &m);

	if (rc && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && m.uidvalidity == d->replace_uidvalidity) {
		k = key_u32_u32_u32(kb, account, d->replace_mailbox, d->replace_uid);
		rc = mdb_get(txn, st->db[DB_UID], &k, &v);
		if (rc == 0)
			return 0;
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	d->replace_gone_r = 1;
	d->result = STORE_ENOTFOUND;
	return 1;
}

/*
 * REPLACE: the octets the expunge of the replaced message gives back to
 * account's quota in *freed_r: its email's size when that membership is
 * its last (store_expunge.c drops the email then), else 0. replace_check
 * found the UID entry. 0 or an LMDB error.
 */
static int replace_frees(struct store *st, MDB_txn *txn, uint32_t account,
			 const struct store_delivery *d, uint64_t *freed_r)
{
	uint8_t kb[12], eb[8];
	struct email_rec e;
	MDB_val k = key_u32_u32_u32(kb, account, d->replace_mailbox, d->replace_uid), v;
	int rc = mdb_get(txn, st->db[DB_UID], &k, &v);

	*freed_r = 0;
	if (rc)
		return rc;
	if (v.mv_size < 5)
		return MDB_CORRUPTED;
	k = key_u32_u32(eb, account, be32_get((const uint8_t *)v.mv_data + 1));
	if ((rc = mdb_get(txn, st->db[DB_EMAIL], &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
	if (email_dec(&v, &e) != 0)
		return MDB_CORRUPTED;
	if (e.nmembers == 1)
		*freed_r = e.size;
	return 0;
}

static int append_one(struct store *st, MDB_txn *txn, struct store_delivery *d, struct batch *b)
{
	struct acct_rec a;
	struct mbox_rec m;
	struct blobref_rec br;
	uint64_t total = 0, modseq = 0;
	char *kw = NULL;
	int rc;

	d->replace_gone_r = 0;
	if (d->naccounts != 1 || !d->accounts)
		return d->result = STORE_EINVAL, 0;
	uint32_t account = d->accounts[0];
	if ((rc = acct_get(txn, st, account, &a)) != 0 ||
	    (rc = mbox_get(txn, st, account, d->mailbox, &m)) != 0) {
		if (rc != MDB_NOTFOUND)
			return rc;
		d->result = STORE_ENOTFOUND;
		return 0;
	}
	uint32_t next = m.uidnext;
	for (struct store_delivery *x = d; x; x = x->also) {
		if (!delivery_valid(x))
			return d->result = STORE_EINVAL, 0;
		/* A kept UID (tern import): not below one the mailbox gave. */
		if (x->uid > STORE_UID_KEEP_MAX)
			return d->result = STORE_EINVAL, 0;
		if (x->uid && x->uid < next)
			return d->result = STORE_EEXIST, 0;
		next = x->uid ? x->uid + 1 : next + 1;
		rc = blobref_get(txn, st, x->blob_id, &br);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (rc == 0 && br.size != x->len)
			return d->result = STORE_EINVAL, 0;
		if (x->keywords && *x->keywords) {
			char *k = store_keywords_normalize(x->keywords, strlen(x->keywords));
			if (!k)
				return d->result = STORE_EINVAL, 0;
			free(k);
		}
		total += x->len;
	}
	uint32_t raccount = d->replace_account ? d->replace_account : account;
	if (d->replace_uid && (rc = replace_check(st, txn, raccount, d)) != 0)
		return rc == 1 ? 0 : rc;
	/* A REPLACE in one account is charged what it adds after the old
	 * message goes (RFC 8508: one APPEND and EXPUNGE): a draft saved
	 * again at the same size fits an account at its quota. */
	uint64_t freed = 0;
	if (d->replace_uid && raccount == account && (rc = replace_frees(st, txn, account, d, &freed)) != 0)
		return rc;
	if (a.quota && a.used + total > a.quota + freed)
		return d->result = STORE_EQUOTA, 0;
	for (struct store_delivery *x = d; x; x = x->also) {
		uint32_t email_id;
		kw = x->keywords && *x->keywords
		         ? store_keywords_normalize(x->keywords, strlen(x->keywords))
		         : NULL;
		size_t kl;
		unsigned uflags = kw && store_keywords_take_deleted(kw, &kl) ? UID_F_DELETED : 0;
		rc = put_email(st, txn, x, account, d->mailbox, kw, uflags, NULL, 0, &email_id,
		               &modseq);
		free(kw);
		if (rc)
			return rc;
		if (x->email_ids)
			x->email_ids[0] = email_id;
		if ((rc = blob_add(st, txn, x, 1)) != 0)
			return rc;
	}
	if (d->replace_uid) {
		/* REPLACE: the old message goes in this same transaction. */
		rc = store_expunge_txn(st, txn, raccount, d->replace_mailbox, &d->replace_uid, 1);
		if (rc) /* checked above, so not a refusal: the batch fails, ETEMP */
			return rc;
		if ((rc = acct_get(txn, st, raccount, &a)) != 0)
			return rc;
		if (raccount == account)
			modseq = a.modseq;
		else
			note_change(b, raccount, a.modseq);
	}
	note_change(b, account, modseq);
	d->result = STORE_OK;
	return 0;
}

/*
 * The quota, checked again where it cannot race: RCPT looked at the usage
 * before the message came, and parallel deliveries into one account all
 * saw the same room (20 of 20 KB into a 50 KB quota stored 178 KB). Here,
 * in the one write transaction, each request sees the usage the requests
 * before it in the batch left. The rule (quota_fits_txn, store_read.c)
 * is the one RCPT applies (store_resolve.c, and store_quota_fits() with
 * the size MAIL declared): the message is refused only when none of its
 * accounts can take it, so that
 * an alias whose targets include a full account still reaches the others
 * (the full ones go a little over, soft rather than lost: SMTP gives one
 * reply for all). Refused: STORE_ETOOBIG when it is larger than every
 * such account's whole quota (it never fits: a permanent failure),
 * otherwise STORE_EQUOTA (temporary: the owner may make room). Returns 0
 * to deliver, 1 when d->result says why not, or an LMDB error.
 */
static int quota_fits(struct store *st, MDB_txn *txn, struct store_delivery *d)
{
	int rc = quota_fits_txn(txn, st, d->accounts, d->naccounts, d->targets, d->len);

	if (rc != STORE_EQUOTA && rc != STORE_ETOOBIG)
		return rc;
	d->result = rc;
	return 1;
}

/* Bytes of new mail d would store: its message(s) for accounts or a
 * mailbox, and what its hook adds (a message entering the queue). */
static uint64_t mail_bytes(const struct store_delivery *d)
{
	uint64_t n = d->hook_len;

	if (d->keep_always)
		return 0; /* an update that must not be lost: like a deletion */
	if (d->mailbox) {
		for (const struct store_delivery *x = d; x; x = x->also)
			n += x->len;
	} else if (d->naccounts) {
		n += d->len;
		/* Copies with their own bytes (Sieve editheader) store those too. */
		for (size_t i = 0; d->targets && i < d->naccounts; i++)
			if (d->targets[i].bytes)
				n += d->targets[i].bytes->len;
	}
	return n;
}

/* 1 when d is in the store already (store.h, txn_once): d gets STORE_OK
 * and writes nothing. */
static int applied_before(struct store *st, MDB_txn *txn, struct store_delivery *d)
{
	if (!d->txn_once)
		return 0;
	int rc = d->txn_once(st, txn, d);
	if (rc == 1) {
		d->result = STORE_OK;
		if (d->email_ids)
			memset(d->email_ids, 0, d->naccounts * sizeof *d->email_ids);
	}
	return rc;
}

static int deliver_one(struct store *st, MDB_txn *txn, struct store_delivery *d, struct batch *b)
{
	uint64_t mail = mail_bytes(d);
	int once = applied_before(st, txn, d);

	if (once)
		return once == 1 ? 0 : once;
	/* New mail must leave the floor for deletions (store_reserve.c). It
	 * is refused alone, before anything is written. */
	if (mail && (b->refuse_mail || !store_space_take(st, &b->space, mail))) {
		d->result = STORE_EFULL;
		if (d->email_ids)
			memset(d->email_ids, 0, d->naccounts * sizeof *d->email_ids);
		return 0;
	}
	if (d->mailbox)
		return append_one(st, txn, d, b);

	struct blobref_rec br;
	size_t delivered = 0;
	int rc;

	d->result = STORE_OK;
	if (d->email_ids)
		memset(d->email_ids, 0, d->naccounts * sizeof *d->email_ids);
	if (!delivery_valid(d)) {
		d->result = STORE_EINVAL;
		return 0;
	}
	if (d->txn_hook && d->naccounts == 0)
		return d->txn_hook(st, txn, d);

	rc = blobref_get(txn, st, d->blob_id, &br);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	int exists = rc == 0;
	if (exists && br.size != d->len) {
		/* Same id, other length: the caller's hash is wrong. Refuse it alone. */
		log_error("store", NULL, "event=blob_mismatch stored=%llu given=%zu",
		          (unsigned long long)br.size, d->len);
		d->result = STORE_EINVAL;
		return 0;
	}

	if ((rc = own_bytes_mismatch(st, txn, d)) != 0) {
		if (rc != 1)
			return rc;
		log_error("store", NULL, "event=blob_mismatch what=copy_bytes");
		d->result = STORE_EINVAL;
		return 0;
	}
	if (d->quota_check && (rc = quota_fits(st, txn, d)) != 0)
		return rc == 1 ? 0 : rc; /* refused alone, nothing written */

	struct placed *pl = xcalloc(d->naccounts + 1, sizeof *pl);
	size_t np = 0;
	for (size_t i = 0; i < d->naccounts; i++) {
		uint32_t email_id = 0;
		uint64_t modseq;
		int created;
		rc = deliver_account(st, txn, d, i, pl, np, &created, &email_id, &modseq);
		if (rc == MDB_NOTFOUND) {
			log_warn("store", NULL,
			         "event=deliver_skipped account=%u reason=no_account",
			         d->accounts[i]);
			free(pl[np].kw);
			pl[np].kw = NULL;
			rc = 0;
			continue;
		}
		if (rc)
			break;
		np++;
		if (d->email_ids)
			d->email_ids[i] = email_id;
		if (modseq)
			note_change(b, d->accounts[i], modseq);
		if (!created)
			continue;
		/* One reference per email: the delivery's blob counted below,
		 * a copy's own bytes here. */
		const struct store_bytes *own = pl[np - 1].bytes;
		if (own)
			rc = blob_ref(st, txn, own->blob_id, own->data, own->len, 1);
		else
			delivered++;
		if (rc)
			break;
	}
	for (size_t j = 0; j <= np && j <= d->naccounts; j++)
		free(pl[j].kw);
	free(pl);
	if (rc)
		return rc;
	/* Sieve's memory, with the message it is about (store_delivery.seen). */
	for (size_t i = 0; i < d->nseen; i++)
		if ((rc = store_sieve_seen_put_txn(st, txn, &d->seen[i])) != 0)
			return rc;
	if (delivered == 0)
		return d->txn_hook ? d->txn_hook(st, txn, d) : 0;

	/* One blob whatever the number of copies; the count lives apart. */
	if (exists) {
		br.refs += delivered;
		rc = blobref_put(txn, st, d->blob_id, &br);
	} else {
		rc = blob_store(txn, st, d->blob_id, d->data, d->len, delivered);
	}
	if (rc != 0)
		return rc;
	return d->txn_hook ? d->txn_hook(st, txn, d) : 0;
}

static int batch_fn(struct store *st, MDB_txn *txn, void *ctx)
{
	struct batch *b = ctx;

	b->nchg = 0; /* a retry after map growth starts over */
	memset(&b->space, 0, sizeof b->space);
	atomic_store(&st->reserve.refusing, b->refuse_mail); /* the index waits too */
	if (b->refuse_mail) {
		/*
		 * LMDB reuses the pages a commit freed only once a later commit
		 * has followed it (no reader may still see them): the bytes
		 * the last sweep freed are out of reach until some write
		 * commits. On a full disk the mail that would use them fails
		 * and commits nothing, and a quiet server would stay stuck.
		 * So this run always writes: the schema version, unchanged.
		 */
		int rc = meta_put_u32(txn, st, "schema_version", STORE_SCHEMA_VERSION);
		if (rc)
			return rc;
	}
	for (struct store_delivery *d = b->head; d; d = d->next_) {
		int rc = deliver_one(st, txn, d, b);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Applies a NULL-terminated list in one transaction. On failure every
 * request gets STORE_ETEMP (STORE_EFULL when the disk was full even for
 * the reserve) and nothing is left to publish.
 */
static void batch_fail(struct batch *b, int rc)
{
	for (struct store_delivery *d = b->head; d; d = d->next_) {
		d->result = rc == STORE_EFULL ? STORE_EFULL : STORE_ETEMP;
		if (d->email_ids)
			memset(d->email_ids, 0, d->naccounts * sizeof *d->email_ids);
	}
}

/* wflags: 0, or STORE_W_DEFER_SYNC from the writer thread. */
static int batch_apply(struct store *st, struct batch *b, unsigned wflags)
{
	int mail = 0;

	for (struct store_delivery *d = b->head; d && !mail; d = d->next_)
		mail = mail_bytes(d) > 0;
	/* A batch with new mail that meets a full disk runs again without
	 * it: the deletions and flag changes queued with it must not fail
	 * for it (they may use the reserve; the mail may not). */
	int rc = store_write_ex(st, batch_fn, b,
				wflags | (mail ? STORE_W_NEW_MAIL : STORE_W_FULL_CODE));
	if (rc == STORE_EFULL && mail) {
		log_warn("store", NULL, "event=disk_full action=refuse_new_mail");
		b->refuse_mail = 1;
		rc = store_write_ex(st, batch_fn, b, wflags | STORE_W_FULL_CODE);
		atomic_store(&st->reserve.refusing, 0);
	}

	if (rc != STORE_OK) {
		batch_fail(b, rc);
		b->nchg = 0;
	}
	return rc;
}

static void done_run(void *arg)
{
	struct store_delivery *d = arg;
	struct store *st = d->st_;
	d->done(d, d->arg); /* may free d */
	atomic_fetch_sub(&st->inflight, 1);
}

unsigned store_inflight(struct store *st)
{
	return atomic_load(&st->inflight);
}

static void complete(struct store_delivery *d)
{
	if (d->done == NULL)
		return;
	if (d->loop)
		loop_post(d->loop, done_run, d);
	else
		d->done(d, d->arg);
}

static void applied_run(void *arg)
{
	struct store_delivery *d = arg;
	d->applied(d, d->arg);
}

/*
 * d's transaction is committed, the flush to come: d is told now when it
 * asked (store.h, applied). Posted before its done, to the same loop,
 * which runs posts in order: applied runs first, and is covered by the
 * count store_inflight keeps until done.
 */
static void applied_note(struct store_delivery *d)
{
	if (!d->applied || !d->done || d->result != STORE_OK)
		return;
	if (d->loop)
		loop_post(d->loop, applied_run, d);
	else
		d->applied(d, d->arg);
}

int store_deliver_sync(struct store *st, struct store_delivery *d)
{
	struct batch b = {.head = d};

	d->next_ = NULL;
	batch_apply(st, &b, 0);
	feed_publish(st, b.chg, b.nchg);
	free(b.chg);
	return d->result;
}

/* ---- writer thread ---- */

static uint64_t clock_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/*
 * How many queued requests from head make one batch: up to
 * STORE_BATCH_MAX_REQUESTS or STORE_BATCH_MAX_BYTES of message data, at
 * least one however big. Sets *last to the batch's last request.
 */
static size_t batch_span(struct store_delivery *head, struct store_delivery **last,
                         size_t *bytes)
{
	size_t n = 0;

	*bytes = 0;
	*last = NULL;
	for (struct store_delivery *d = head; d && n < STORE_BATCH_MAX_REQUESTS; d = d->next_) {
		size_t len = 0;
		for (struct store_delivery *x = d; x; x = x->also)
			len += x->len;
		if (n > 0 && *bytes + len > STORE_BATCH_MAX_BYTES)
			break;
		*bytes += len;
		n++;
		*last = d;
	}
	return n;
}

void store_gc_schedule(struct store *st, uint64_t at_ms)
{
	if (!st->writer_started)
		return; /* the next `tern serve` sweeps at start */
	pthread_mutex_lock(&st->qlock);
	if (st->gc_at_ms == 0 || at_ms < st->gc_at_ms) {
		st->gc_at_ms = at_ms;
		pthread_cond_signal(&st->qcond);
	}
	pthread_mutex_unlock(&st->qlock);
}

/*
 * With qlock held: sweeps blobgc when a sweep is due (store_hold.c), with
 * the lock dropped meanwhile. 1 when it ran, 0 when not due; *wait_r gets
 * the time to wait for (0: none).
 */
static int sweep_if_due(struct store *st, uint64_t *wait_r)
{
	*wait_r = 0;
	if (st->gc_at_ms == 0 || st->paused)
		return 0;
	if (store_wall_ms() < st->gc_at_ms) {
		*wait_r = st->gc_at_ms;
		return 0;
	}
	st->gc_at_ms = 0;
	pthread_mutex_unlock(&st->qlock);
	uint64_t next = store_blob_sweep(st, atomic_load(&st->gc_grace_ms));
	store_reserve_tick(st);
	pthread_mutex_lock(&st->qlock);
	if (next == 0) /* nothing waits that this process knows of */
		next = store_wall_ms() + st->gc_poll_ms;
	if (st->gc_at_ms == 0 || next < st->gc_at_ms)
		st->gc_at_ms = next;
	return 1;
}

static void wait_until_ms(struct store *st, uint64_t at_ms)
{
	struct timespec ts = {(time_t)(at_ms / 1000u), (long)(at_ms % 1000u) * 1000000L};
	pthread_cond_timedwait(&st->qcond, &st->qlock, &ts);
}

/* The last committed transaction's id (the newest meta page). */
static uint64_t last_txnid(struct store *st)
{
	MDB_envinfo info;

	if (mdb_env_info(st->env, &info) != 0)
		return 0;
	return info.me_last_txnid;
}

/*
 * A batch committed with STORE_W_DEFER_SYNC whose requests have not been
 * answered: its meta page may not be on disk yet (see "One flush per
 * commit"). At most one at a time.
 */
struct unsynced {
	struct batch b;
	uint64_t txnid; /* its commit; 0: nothing waits */
	uint64_t wall0; /* when it was taken from the queue */
};

/* The batch's requests are done (durable, or failed): answer them. */
static void batch_finish(struct store *st, struct batch *b)
{
	uint64_t done_at = mono_us();

	/* Completions first: they are what sessions wait for. */
	for (struct store_delivery *d = b->head; d;) {
		struct store_delivery *next = d->next_;
		metrics_observe_us(HIST_STORE_WAIT, done_at - d->queued_us_);
		complete(d); /* d may be freed from here on */
		d = next;
	}
	feed_publish(st, b->chg, b->nchg);
	free(b->chg);
	memset(b, 0, sizeof *b);
}

/* Makes the pending batch durable with a flush of its own and answers
 * it; nothing when none waits. On a halted store the flush is not tried
 * (see "A failed flush"): the batch gets STORE_ETEMP. */
static void pending_flush(struct store *st, struct unsynced *p)
{
	if (p->txnid == 0)
		return;
	int rc = store_sync(st);
	if (rc) {
		log_error("store", NULL, "event=sync_failed error=\"%s\"", mdb_strerror(rc));
		batch_fail(&p->b, STORE_ETEMP);
	}
	metrics_observe_us(HIST_STORE_COMMIT, mono_us() - p->wall0);
	p->txnid = 0;
	batch_finish(st, &p->b);
}

/* The writer's scheduling policy (see "Scheduling"): SCHED_BATCH while
 * it waits for requests, SCHED_OTHER while it commits. Remembers the
 * policy set, so a commit after a commit costs no system call. */
static void writer_policy(int *cur, int policy)
{
	struct sched_param sp = {0};

	if (*cur == policy)
		return;
	/* Failing (a sandbox that forbids it) only costs batch size. */
	(void)pthread_setschedparam(pthread_self(), policy, &sp);
	*cur = policy;
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	int room_idle = 0;       /* room may be wanted: a commit since it was made */

	prctl(PR_SET_NAME, "tern-store", 0, 0, 0);
	int policy = -1;
	writer_policy(&policy, SCHED_BATCH);
	/* Nothing is held yet: whatever waits in blobgc (left by a crash, by
	 * the CLI, or by the last run's grace) can go. */
	store_blob_sweep(st, 0);
	pthread_mutex_lock(&st->qlock);
	if (st->gc_at_ms == 0)
		st->gc_at_ms = store_wall_ms() + st->gc_poll_ms;
	struct unsynced pend = {0};
	for (;;) {
		uint64_t gc_wait;
		if (pend.txnid && (st->qhead == NULL || st->paused || st->stopping)) {
			/* No commit follows soon to cover it: flush now. */
			pthread_mutex_unlock(&st->qlock);
			pending_flush(st, &pend);
			pthread_mutex_lock(&st->qlock);
			continue;
		}
		/* Under a steady load the queue is never empty: sweep here too. */
		sweep_if_due(st, &gc_wait);
		while ((st->qhead == NULL || st->paused) && !st->stopping) {
			if (room_idle && !st->paused) { /* not paused: the queue is empty */
				/* Nothing to commit: make room now, a step at a time
				 * (a request that comes meanwhile waits one step at
				 * most), so that no commit has to (store_room.c). */
				pthread_mutex_unlock(&st->qlock);
				room_idle = store_room_between(st);
				pthread_mutex_lock(&st->qlock);
				continue;
			}
			if (sweep_if_due(st, &gc_wait))
				continue;
			if (st->release_due) {
				st->release_due = 0;
				pthread_mutex_unlock(&st->qlock);
				mem_release();
				pthread_mutex_lock(&st->qlock);
				continue;
			}
			writer_policy(&policy, SCHED_BATCH);
			if (gc_wait)
				wait_until_ms(st, gc_wait);
			else
				pthread_cond_wait(&st->qcond, &st->qlock);
		}
		if (st->qhead == NULL)
			break; /* stopping, and everything is drained */
		struct store_delivery *head = st->qhead, *last;
		size_t bytes;
		size_t n = batch_span(head, &last, &bytes);
		st->qhead = last->next_;
		if (st->qhead == NULL)
			st->qtail = NULL;
		last->next_ = NULL;
		pthread_mutex_unlock(&st->qlock);

		writer_policy(&policy, SCHED_OTHER);
		struct batch b = {.head = head};
		atomic_fetch_add(&st->batches, 1);
		uint64_t wall0 = mono_us();
		uint64_t before = last_txnid(st);
		if (batch_apply(st, &b, STORE_W_DEFER_SYNC) != STORE_OK)
			log_error("store", NULL, "event=batch_failed requests=%zu bytes=%zu", n,
			          bytes);
		else /* before any flush: those told wait for none */
			for (struct store_delivery *d = b.head; d; d = d->next_)
				applied_note(d);
		uint64_t after = last_txnid(st);
		if (pend.txnid) {
			if (after > pend.txnid) {
				/* A commit since (this one, or a store_write() of
				 * another thread) flushed the file after pend's meta
				 * page was written: it is on disk. */
				metrics_observe_us(HIST_STORE_COMMIT, mono_us() - pend.wall0);
				pend.txnid = 0;
				batch_finish(st, &pend.b);
			} else {
				pending_flush(st, &pend);
			}
		}
		if (after == before) {
			/* Nothing committed (no change, or the batch failed):
			 * nothing of its own to flush, and what it read is on
			 * disk (pend, just finished). */
			metrics_observe_us(HIST_STORE_COMMIT, mono_us() - wall0);
			batch_finish(st, &b);
		} else {
			pend = (struct unsynced){b, after, wall0};
		}

		store_reserve_tick(st); /* returns at once while the reserve is held */
		/* Room between commits also when the queue never empties (a
		 * step is due once per STORE_ROOM_STEP of growth, about 0.25
		 * ms): else a commit would have to fill it all (store_room.c). */
		store_room_between(st);
		room_idle = 1;
		pthread_mutex_lock(&st->qlock);
	}
	pthread_mutex_unlock(&st->qlock);
	return NULL;
}

int store_writer_start(struct store *st, char *err, size_t errsz)
{
	sigset_t all, old;

	/* The writer takes no signals: they belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&st->writer, NULL, writer_main, st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return store_err(err, errsz, STORE_ETEMP, "cannot start the store writer: %s",
		                 strerror(rc));
	st->writer_started = 1;
	return STORE_OK;
}

void store_writer_stop(struct store *st)
{
	pthread_mutex_lock(&st->qlock);
	st->stopping = 1;
	st->paused = 0;
	pthread_cond_signal(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
	pthread_join(st->writer, NULL);
	st->writer_started = 0;
}

void store_deliver(struct store *st, struct store_delivery *d)
{
	d->next_ = NULL;
	if (d->loop && d->done) {
		/* Counted until its done has run on its loop: shutdown waits
		 * for these before it stops the loops (store_inflight). */
		d->st_ = st;
		atomic_fetch_add(&st->inflight, 1);
	}
	if (!st->writer_started) {
		/* No writer (CLI, tests): same semantics, in this thread. */
		store_deliver_sync(st, d);
		applied_note(d);
		complete(d);
		return;
	}
	d->queued_us_ = mono_us(); /* only the writer observes the wait */
	pthread_mutex_lock(&st->qlock);
	/* LMDB copies a big value into pages it allocates until the commit. */
	if (d->len >= MEM_RELEASE_AFTER)
		st->release_due = 1;
	if (st->qtail)
		st->qtail->next_ = d;
	else
		st->qhead = d;
	st->qtail = d;
	pthread_mutex_unlock(&st->qlock);
	/* After the unlock: a woken writer does not block at once on qlock.
	 * It re-checks the queue under the lock, so no wake-up is lost. */
	pthread_cond_signal(&st->qcond);
}

void store_test_pause_writer(struct store *st, int paused)
{
	pthread_mutex_lock(&st->qlock);
	st->paused = paused;
	pthread_cond_signal(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
}
