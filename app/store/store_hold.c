/*
 * store_hold.c — a stream's hold on an email's bytes, and the deferred
 * freeing of blobs that makes the hold work.
 *
 * Why. IMAP FETCH and POP3 RETR send a big message in chunks, each read in
 * a read transaction of its own: one transaction held for the whole
 * stream would keep the map lock, and a slow client would then block map
 * growth for every other session. Between two chunks another session may
 * expunge the email. Before holds, the next chunk found nothing and the
 * connection had to be cut in the middle of a literal whose size was
 * already promised. Dovecot keeps the message file open for that; here a
 * stream holds the blob's bytes instead, by sequence number, and reads
 * them by that number whether or not an email still refers to them.
 *
 * How. When the last reference to a blob goes (blob_unref), its blobref
 * record is deleted at once, but its bytes in blobdata are not: the
 * sequence number goes into blobgc with the time. The writer thread of
 * `tern serve` sweeps blobgc later (store_blob_sweep): it deletes the
 * bytes of every entry older than STORE_GC_GRACE_MS that no stream of
 * this process holds. A stream takes its hold (store_hold_pin) inside the
 * read transaction that found the sequence number, so a sweep that runs
 * STORE_GC_GRACE_MS after the unref committed sees the hold: a thread
 * would have to stall that long between reading the number and pinning it
 * for a hold to come too late. A hold released while its blob waits in
 * blobgc asks for a sweep at once.
 *
 * Entries made by other processes (the CLI deleting an account) are swept
 * the same way, at the next sweep or when `tern serve` starts (with no
 * grace: nothing is held before the server runs). The server sweeps at
 * least every STORE_GC_POLL_MS, so such entries wait a minute or so. A
 * sweep that deletes nothing aborts its transaction: no commit, no flush.
 * Blobs stored under schema 1 (bytes in blob by id, no sequence number)
 * are freed at once as before; a stream of one of them can still be cut.
 *
 * Holds live in memory (a small array under a mutex: one entry per blob
 * being streamed, a handful at a time); a crash loses them, and the sweep
 * at start-up frees what they held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "store/store_private.h"

/* Entries deleted per sweep transaction (a big account deletion makes many). */
#define SWEEP_MAX 4096

uint64_t store_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the in-memory holds ---- */

static struct store_pin *pin_find(struct store_pins *p, uint64_t seq)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].seq == seq)
			return &p->v[i];
	return NULL;
}

static void pin_add(struct store *st, uint64_t seq)
{
	struct store_pins *p = &st->pins;

	pthread_mutex_lock(&p->mu);
	struct store_pin *e = pin_find(p, seq);
	if (e) {
		e->count++;
	} else {
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 16;
			p->v = xrealloc(p->v, p->cap * sizeof *p->v);
		}
		p->v[p->n++] = (struct store_pin){seq, 1, 0};
	}
	pthread_mutex_unlock(&p->mu);
}

/* 1 when seq is held by some stream of this process; the hold is then
 * marked, so that its release asks for a sweep. */
static int pinned(struct store *st, uint64_t seq)
{
	pthread_mutex_lock(&st->pins.mu);
	struct store_pin *e = pin_find(&st->pins, seq);
	if (e)
		e->freed = 1;
	pthread_mutex_unlock(&st->pins.mu);
	return e != NULL;
}

void store_pins_init(struct store *st)
{
	pthread_mutex_init(&st->pins.mu, NULL);
}

void store_pins_free(struct store *st)
{
	free(st->pins.v);
	pthread_mutex_destroy(&st->pins.mu);
}

/* ---- holding and reading ---- */

int store_email_hold(struct store *st, uint32_t account, uint32_t email_id,
                     store_content_cb *cb, void *arg, struct store_hold *h)
{
	struct email_rec e;
	MDB_txn *txn;
	MDB_val v;
	uint64_t seq = 0;

	if (h)
		memset(h, 0, sizeof *h);
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	int rc = email_with_blob(st, txn, account, email_id, &e, &v, &seq);
	if (rc == 0 && h) {
		/* Pinned inside the transaction that found seq: see the top. */
		memcpy(h->id, e.blob_id, 32);
		h->seq = seq;
		h->held = 1;
		if (seq)
			pin_add(st, seq);
	}
	if (rc == 0 && cb)
		cb(arg, e.metalen ? e.meta : NULL, e.metalen, (const char *)v.mv_data, v.mv_size);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

int store_hold_read(struct store *st, const struct store_hold *h, store_raw_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t kb[8];
	int rc;

	if (!h->held)
		return STORE_EINVAL;
	if (store_rd_begin(st, &txn) != 0)
		return STORE_ETEMP;
	if (h->seq) {
		be64_put(kb, h->seq);
		k = (MDB_val){8, kb};
		rc = mdb_get(txn, st->db[DB_BLOBDATA], &k, &v);
		if (rc == 0 && (v.mv_size < 1 || ((uint8_t *)v.mv_data)[0] != REC_V1))
			rc = MDB_CORRUPTED;
		if (rc == 0) {
			v.mv_data = (uint8_t *)v.mv_data + 1;
			v.mv_size--;
		}
	} else {
		rc = blob_get(txn, st, h->id, &v, NULL); /* schema 1 blob: not pinned */
	}
	if (rc == 0)
		cb(arg, (const char *)v.mv_data, v.mv_size);
	store_rd_end(st, txn);
	return store_mdb_code(rc);
}

void store_hold_release(struct store *st, struct store_hold *h)
{
	struct store_pins *p = &st->pins;
	int ask = 0;

	if (!h->held)
		return;
	h->held = 0;
	if (h->seq == 0)
		return;
	pthread_mutex_lock(&p->mu);
	struct store_pin *e = pin_find(p, h->seq);
	if (e && --e->count == 0) {
		ask = e->freed;
		*e = p->v[--p->n];
	}
	pthread_mutex_unlock(&p->mu);
	if (ask) /* a sweep left these bytes for us: now they can go */
		store_gc_schedule(st, store_wall_ms());
}

/* ---- deferring and sweeping ---- */

int blob_defer(MDB_txn *txn, struct store *st, uint64_t seq)
{
	uint8_t kb[8], vb[8];
	MDB_val k = {8, kb}, v = {8, vb};

	be64_put(kb, seq);
	be64_put(vb, store_wall_ms());
	atomic_store(&st->gc_note, 1);
	return mdb_put(txn, st->db[DB_BLOBGC], &k, &v, 0);
}

struct sweep_ctx {
	uint64_t now, grace;
	uint64_t next;  /* earliest time an entry left comes due (0: none) */
	size_t freed;
	int more;       /* stopped at SWEEP_MAX: go again */
};

static int sweep_fn(struct store *st, MDB_txn *txn, void *arg)
{
	struct sweep_ctx *c = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, st->db[DB_BLOBGC], &cur);

	c->next = 0;
	c->freed = 0;
	c->more = 0;
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || v.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		uint64_t seq = be64_get(k.mv_data), at = be64_get(v.mv_data);
		/* A time ahead of the clock (it was set back) counts as due. */
		if (at + c->grace > c->now && at <= c->now + 60000) {
			if (c->next == 0 || at + c->grace < c->next)
				c->next = at + c->grace;
			continue;
		}
		if (pinned(st, seq))
			continue; /* its release asks for another sweep */
		if (c->freed == SWEEP_MAX) {
			c->more = 1;
			break;
		}
		uint8_t sk[8]; /* the key, not a pointer into blobgc's page */
		memcpy(sk, k.mv_data, 8);
		MDB_val bk = {8, sk};
		rc = mdb_del(txn, st->db[DB_BLOBDATA], &bk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		c->freed++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	/* Nothing deleted: abort rather than commit (no flush for nothing). */
	return rc == 0 && c->freed == 0 ? STORE_ENOTFOUND : rc;
}

/* 1 when blobgc has entries (a read, so an empty sweep writes nothing). */
static int gc_pending(struct store *st)
{
	MDB_txn *txn;
	MDB_stat ms;

	if (store_rd_begin(st, &txn) != 0)
		return 1;
	int rc = mdb_stat(txn, st->db[DB_BLOBGC], &ms);
	store_rd_end(st, txn);
	return rc != 0 || ms.ms_entries > 0;
}

uint64_t store_blob_sweep(struct store *st, uint64_t grace_ms)
{
	struct sweep_ctx c = {.grace = grace_ms};
	size_t total = 0;

	if (!gc_pending(st))
		return 0;
	do {
		c.now = store_wall_ms();
		int rc = store_write(st, sweep_fn, &c);
		if (rc != STORE_OK && rc != STORE_ENOTFOUND) {
			log_warn("store", NULL, "event=blob_sweep_failed");
			return store_wall_ms() + atomic_load(&st->gc_grace_ms);
		}
		total += c.freed;
	} while (c.more);
	if (total)
		log_debug("store", NULL, "event=blob_sweep freed=%zu", total);
	return c.next;
}
